package shellquote

import (
	"os/exec"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/home/ada/cluster/bin", "/home/ada/cluster/bin"},
		{"", "''"},
		{"/tmp/my work/bin", "'/tmp/my work/bin'"},
		{"/tmp/a;rm -rf ~", "'/tmp/a;rm -rf ~'"},
		{"/tmp/it's", `'/tmp/it'\''s'`},
		{"/tmp/$(id)`id`", "'/tmp/$(id)`id`'"},
		{"https://10.0.0.1:8443/mirror", "https://10.0.0.1:8443/mirror"},
		{"http://h/?token=a&b", "'http://h/?token=a&b'"},
		{"~/x", "'~/x'"},
	}
	for _, tc := range tests {
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// FuzzQuote: sh reads back each quoted word as the one word it was.
func FuzzQuote(f *testing.F) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		f.Skip("no sh to read the words back")
	}
	for _, s := range []string{"plain", "my work", "a'b", `a\b"c`, "$HOME", "x;y|z&", "*?[", "\t\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsRune(s, 0) {
			t.Skip("a shell word cannot hold NUL")
		}
		out, err := exec.Command(sh, "-c", "printf %s "+Quote(s)).Output()
		if err != nil {
			t.Fatalf("sh -c 'printf %%s %s': %v", Quote(s), err)
		}
		if string(out) != s {
			t.Fatalf("Quote(%q) = %s reads back as %q", s, Quote(s), out)
		}
	})
}
