package lessons

import (
	"fmt"
	"strings"

	"charm.land/glamour/v2"
)

// Renderer turns lesson Markdown into terminal text.
type Renderer struct {
	tr *glamour.TermRenderer
}

// NewRenderer builds a renderer for a glamour style ("notty" when not on a
// terminal) wrapped at width columns.
func NewRenderer(style string, width int) (*Renderer, error) {
	if width <= 0 || width > 120 {
		width = min(max(width, 0), 120)
		if width == 0 {
			width = 80
		}
	}
	tr, err := glamour.NewTermRenderer(glamour.WithStylePath(style), glamour.WithWordWrap(width-2))
	if err != nil {
		return nil, fmt.Errorf("create the lesson renderer (style %q): %w", style, err)
	}
	return &Renderer{tr: tr}, nil
}

// Render renders Markdown.
func (r *Renderer) Render(md string) (string, error) {
	out, err := r.tr.Render(md)
	if err != nil {
		return "", fmt.Errorf("render lesson: %w", err)
	}
	// glamour pads every line to the wrap width; trailing blanks only add noise.
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n") + "\n", nil
}
