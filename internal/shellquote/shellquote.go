// Package shellquote quotes words for the commands kubetutor prints for a
// learner to copy into a POSIX shell (sh, bash, zsh), so that a path with a
// space, a semicolon or a quote in it stays one word and runs nothing.
package shellquote

import "strings"

// Quote returns s as one shell word: as it is when it holds only characters
// no shell treats specially, else in single quotes (a single quote inside
// written as '\”).
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if strings.IndexFunc(s, special) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each word and joins them with spaces.
func Join(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}

// special reports whether r needs quoting: anything but letters, digits and
// _ @ % + = : , . / - (a leading ~ or = is no concern in the middle of a
// path, and kubetutor's paths are absolute).
func special(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	case strings.ContainsRune("_@%+=:,./-", r):
		return false
	}
	return true
}
