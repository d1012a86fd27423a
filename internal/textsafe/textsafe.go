// Package textsafe makes text from outside (a server's answer, a
// certificate's names, a file's content) safe to print on a terminal: every
// character that could drive the terminal or reorder what the reader sees
// is shown as a visible escape instead of being sent raw.
package textsafe

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Line returns s with every control character made visible, newlines and
// tabs included: for a value that belongs on one line (a reason phrase, a
// certificate's subject, a name).
func Line(s string) string { return clean(s, false) }

// Text returns s with every control character made visible except newline
// and tab: for a message that may span lines (an error body).
func Text(s string) string { return clean(s, true) }

// FirstLine is the first line of s once s is trimmed of surrounding white
// space: the gist of a program's or a server's answer. It makes nothing
// safe; pass it through Line before it reaches a terminal.
func FirstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// Unsafe reports whether r must not reach a terminal raw: a C0 control
// (ESC among them), DEL, a C1 control (0x80–0x9F: CSI and OSC among them)
// or a bidirectional formatting character (U+061C, U+200E, U+200F,
// U+202A–U+202E, U+2066–U+2069), which reorders the text around it.
func Unsafe(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

func clean(s string, lines bool) string {
	if !needs(s, lines) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			// A byte that is not UTF-8: shown as the byte it is.
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case lines && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80 && Unsafe(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case Unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// needs reports whether s holds anything clean would change.
func needs(s string, lines bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 || c == 0x7f) && !(lines && (c == '\n' || c == '\t')) {
				return true
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n <= 1) || Unsafe(r) {
			return true
		}
		i += n
	}
	return false
}
