package textsafe

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLineAndText(t *testing.T) {
	tests := []struct {
		name, in, line, text string
	}{
		{"plain text is untouched", "CN=admin, O=system:masters", "CN=admin, O=system:masters", "CN=admin, O=system:masters"},
		{"non-ASCII letters are untouched", "Zoë 名前 ✓", "Zoë 名前 ✓", "Zoë 名前 ✓"},
		{"ESC: a colour, a title, a clear screen", "a\x1b[31mred\x1b]0;pwned\x07\x1b[2J", `a\x1b[31mred\x1b]0;pwned\x07\x1b[2J`, `a\x1b[31mred\x1b]0;pwned\x07\x1b[2J`},
		{"newline and tab: escaped on a line, kept in text", "one\n\ttwo", `one\n\ttwo`, "one\n\ttwo"},
		{"carriage return overwrites a line", "ok\rFAILED", `ok\rFAILED`, `ok\rFAILED`},
		{"NUL, backspace and DEL", "a\x00b\x08c\x7f", `a\x00b\x08c\x7f`, `a\x00b\x08c\x7f`},
		{"C1 controls (CSI, OSC) as runes", "a\u009b31mb\u009d0;x\u009c", `a\u009b31mb\u009d0;x\u009c`, `a\u009b31mb\u009d0;x\u009c`},
		{"bidi overrides and isolates", "user\u202Egnp.exe\u2066x\u2069\u200f", `user\u202egnp.exe\u2066x\u2069\u200f`, `user\u202egnp.exe\u2066x\u2069\u200f`},
		{"bytes that are not UTF-8 (a raw 0x9b CSI)", "a\x9b31mb\xff", `a\x9b31mb\xff`, `a\x9b31mb\xff`},
		{"the escapes themselves print as they are", `\x1b`, `\x1b`, `\x1b`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Line(tc.in); got != tc.line {
				t.Errorf("Line(%q) = %q, want %q", tc.in, got, tc.line)
			}
			if got := Text(tc.in); got != tc.text {
				t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.text)
			}
		})
	}
}

func FuzzLine(f *testing.F) {
	for _, s := range []string{"", "plain", "a\x1b[31mb", "\u202e", "\xff\x9b", "x\n\ty\r", "\u0085\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range []struct {
			name  string
			clean func(string) string
			lines bool
		}{{"Line", Line, false}, {"Text", Text, true}} {
			got := c.clean(s)
			if !utf8.ValidString(got) {
				t.Fatalf("%s(%q) = %q: not UTF-8", c.name, s, got)
			}
			for _, r := range got {
				if Unsafe(r) && !(c.lines && (r == '\n' || r == '\t')) {
					t.Fatalf("%s(%q) = %q: holds %U", c.name, s, got, r)
				}
			}
			if c.clean(got) != got {
				t.Fatalf("%s is not idempotent on %q", c.name, s)
			}
			if !needs(s, c.lines) && got != s {
				t.Fatalf("%s changed %q, which needs nothing", c.name, s)
			}
			// Safe text passes through unchanged.
			if strings.IndexFunc(s, func(r rune) bool { return Unsafe(r) || r == utf8.RuneError }) < 0 && utf8.ValidString(s) && got != s {
				t.Fatalf("%s(%q) = %q, want it unchanged", c.name, s, got)
			}
		}
	})
}

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://127.0.0.1:6443", "https://127.0.0.1:6443"},
		{"https://ada:s3cret@127.0.0.1:6443", "https://127.0.0.1:6443"},
		{"https://token@example.com/mirror?x=1", "https://example.com/mirror?x=1"},
		{"https://a:b@c@host:1/p@q", "https://host:1/p@q"},
		{"http://127.0.0.1/a@b", "http://127.0.0.1/a@b"},
		{"https://ada:s3%zz@host", "https://host"},
		{"https://ada:pw@host\x1b[2J", `https://host\x1b[2J`},
		{"not a url @ all", "not a url @ all"},
		{"", ""},
	} {
		if got := URL(tc.in); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFirstLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "",
		"one":                         "one",
		"\n  kubelet v1.37.2\nmore\n": "kubelet v1.37.2",
		"first \nsecond":              "first ",
	} {
		if got := FirstLine(in); got != want {
			t.Errorf("FirstLine(%q) = %q, want %q", in, got, want)
		}
	}
}
