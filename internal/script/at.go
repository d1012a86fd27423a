package script

import "strings"

// ParseAt is Parse for Markdown that starts on line first of its file (a
// lesson after its front matter): the blocks' lines and the errors name
// the file's lines. The lines before first count as blank, which Parse
// passes over.
func ParseAt(md string, first int) ([]Block, error) {
	if first <= 1 {
		return Parse(md)
	}
	return Parse(strings.Repeat("\n", first-1) + md)
}
