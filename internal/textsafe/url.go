package textsafe

import "strings"

// URL returns the URL s fit to print: without the user and password it may
// hold (https://user:password@host/...), which are credentials, and made
// safe as Line makes a value.
func URL(s string) string { return Line(StripUserinfo(s)) }

// StripUserinfo returns s without the userinfo of its authority (what
// comes before an @ between :// and the path): https://ada:secret@host/p
// is https://host/p. It does not need s to parse as a URL, so that a
// malformed URL loses its password too; s without :// or @ is returned as
// it is.
func StripUserinfo(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		return s[:i+3] + rest[at+1:]
	}
	return s
}
