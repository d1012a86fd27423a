package lessons

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"charm.land/glamour/v2"

	"github.com/kubetutor/kubetutor/internal/script"
)

// Renderer turns lesson Markdown into terminal text. Prose goes through
// glamour (wrapped, styled); every fenced code block is printed as it is,
// each line starting at column 0, never wrapped, indented or padded, so
// what a learner copies from the screen is what the lesson holds.
type Renderer struct {
	tr *glamour.TermRenderer
	// Host, when set, marks each variant block as fitting this machine or
	// not; nil labels variant blocks with their tags only.
	Host script.Set
}

// NewRenderer builds a renderer for a glamour style ("notty" when not on a
// terminal) whose prose wraps at width columns (at most 120).
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

// segment is a run of prose, or one code block.
type segment struct {
	prose string
	code  *script.Block
}

// split cuts Markdown into prose and code blocks (fences at column 0).
func split(md string) ([]segment, error) {
	blocks, err := script.Parse(md)
	if err != nil {
		return nil, err
	}
	var out []segment
	lines := strings.Split(md, "\n")
	prev := 0 // first line (0-based) of the current prose run
	for i := range blocks {
		b := &blocks[i]
		open := b.Line - 1
		if prose := strings.Join(lines[prev:open], "\n"); strings.TrimSpace(prose) != "" {
			out = append(out, segment{prose: prose})
		}
		out = append(out, segment{code: b})
		prev = open + len(b.Lines()) + 2
		if b.Text == "" {
			prev = open + 2
		}
	}
	if prev < len(lines) {
		out = append(out, segment{prose: strings.Join(lines[prev:], "\n")})
	}
	return out, nil
}

// Render renders Markdown.
func (r *Renderer) Render(md string) (string, error) {
	segs, err := split(md)
	if err != nil {
		return "", fmt.Errorf("render lesson: %w", err)
	}
	if r.Host != nil {
		fitsFirst(segs, r.Host)
	}
	var parts []string
	for _, s := range segs {
		if s.code != nil {
			if label := r.label(*s.code); label != "" {
				parts = append(parts, label)
			}
			parts = append(parts, strings.TrimSuffix(s.code.Text, "\n"))
			continue
		}
		if strings.TrimSpace(s.prose) == "" {
			continue
		}
		out, err := r.tr.Render(joinListLines(s.prose))
		if err != nil {
			return "", fmt.Errorf("render lesson: %w", err)
		}
		// glamour pads every line to the wrap width; trailing blanks only add noise.
		lines := strings.Split(out, "\n")
		for i, l := range lines {
			lines[i] = strings.TrimRight(l, " ")
		}
		if p := strings.Trim(strings.Join(lines, "\n"), "\n"); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "\n\n") + "\n", nil
}

// listItem is a list marker at the start of a (trimmed) line.
var listItem = regexp.MustCompile(`^([-*+]|\d+\.)\s`)

// joinListLines joins the continuation lines of list items (indented, not
// a new item) to the line before: glamour keeps a list item's soft line
// breaks, so a source line break would show as a short line in the middle
// of the wrapped text.
func joinListLines(md string) string {
	lines := strings.Split(md, "\n")
	out := lines[:0:0]
	for _, l := range lines {
		t := strings.TrimLeft(l, " ")
		if len(out) > 0 && strings.TrimSpace(out[len(out)-1]) != "" && len(l)-len(t) >= 2 && t != "" && !listItem.MatchString(t) {
			out[len(out)-1] += " " + t
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// fitsFirst reorders each run of adjacent variant blocks (no prose
// between them) so that the blocks for this host come first.
func fitsFirst(segs []segment, host script.Set) {
	isVariant := func(s segment) bool { return s.code != nil && len(s.code.When) > 0 }
	for i := 0; i < len(segs); {
		j := i
		for j < len(segs) && isVariant(segs[j]) {
			j++
		}
		if j-i > 1 {
			run := segs[i:j]
			sort.SliceStable(run, func(a, b int) bool { return run[a].code.Fits(host) && !run[b].code.Fits(host) })
		}
		i = max(j, i+1)
	}
}

// label says which machines a variant block is for.
func (r *Renderer) label(b script.Block) string {
	if len(b.When) == 0 {
		return ""
	}
	l := "  (only on a host with: " + strings.Join(b.When, ", ") + ")"
	if r.Host != nil {
		if b.Fits(r.Host) {
			l = "  (for this machine: " + strings.Join(b.When, ", ") + ")"
		} else {
			l = "  (not for this machine: it needs " + strings.Join(b.When, ", ") + ")"
		}
	}
	return l
}
