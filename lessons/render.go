package lessons

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"charm.land/glamour/v2"
	"charm.land/glamour/v2/styles"

	"github.com/kubetutor/kubetutor/internal/fsutil"
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
// terminal) whose prose wraps at width columns (at most 120). A style that is
// not one of glamour's names is a JSON style file, read here through the
// bounded reader (a FIFO or /dev/zero is refused, not waited on or read
// without end), never opened by glamour itself.
func NewRenderer(style string, width int) (*Renderer, error) {
	if width <= 0 || width > 120 {
		width = min(max(width, 0), 120)
		if width == 0 {
			width = 80
		}
	}
	opt, err := styleOption(style)
	if err != nil {
		return nil, fmt.Errorf("create the lesson renderer: %w", err)
	}
	tr, err := glamour.NewTermRenderer(opt, glamour.WithWordWrap(width-2))
	if err != nil {
		return nil, fmt.Errorf("create the lesson renderer (style %q): %w", style, err)
	}
	return &Renderer{tr: tr}, nil
}

// LimitStyle bounds a glamour JSON style file.
const LimitStyle = fsutil.LimitConfig

// styleOption is glamour's option for style: one of its standard names, or
// the content of the JSON style file style names.
func styleOption(style string) (glamour.TermRendererOption, error) {
	if _, ok := styles.DefaultStyles[style]; ok {
		return glamour.WithStandardStyle(style), nil
	}
	data, err := fsutil.ReadFile(style, LimitStyle)
	if err != nil {
		return nil, fmt.Errorf("read the style file %q (GLAMOUR_STYLE is a style name or a JSON style file): %w", style, err)
	}
	return glamour.WithStylesFromJSONBytes(data), nil
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

// RenderContext renders Markdown, returning as soon as ctx ends: glamour
// cannot be interrupted, and a long lesson on a loaded machine takes seconds
// that Ctrl-C or SIGTERM should not wait for (the render's goroutine ends
// with the process).
func (r *Renderer) RenderContext(ctx context.Context, md string) (string, error) {
	type rendered struct {
		s   string
		err error
	}
	ch := make(chan rendered, 1)
	go func() {
		s, err := r.Render(md)
		ch <- rendered{s, err}
	}()
	select {
	case res := <-ch:
		return res.s, res.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Render renders Markdown.
func (r *Renderer) Render(md string) (string, error) {
	segs, err := split(md)
	if err != nil {
		return "", fmt.Errorf("render lesson: %w", err)
	}
	if r.Host != nil {
		segs = fitsFirst(segs, r.Host)
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

// fitsFirst puts, within each group of alternative blocks, the blocks that
// fit this host first, each with the prose that explains it; the others
// follow in lesson order.
func fitsFirst(segs []segment, host script.Set) []segment {
	var out []segment
	for _, g := range variantGroups(segs) {
		if len(g) == 1 {
			out = append(out, g[0]...)
			continue
		}
		slices.SortStableFunc(g, func(a, b []segment) int {
			fa, fb := unitFits(a, host), unitFits(b, host)
			switch {
			case fa && !fb:
				return -1
			case fb && !fa:
				return 1
			}
			return 0
		})
		for _, u := range g {
			out = append(out, u...)
		}
	}
	return mergeProse(out)
}

// unitFits reports whether a unit's code block fits the host.
func unitFits(u []segment, host script.Set) bool {
	for _, s := range u {
		if s.code != nil {
			return s.code.Fits(host)
		}
	}
	return true
}

// alternatives reports whether two variant blocks exclude each other: one
// needs a tag whose opposite the other needs (online and offline; systemd
// and no-systemd, ...).
func alternatives(a, b *script.Block) bool {
	for _, t := range a.When {
		if slices.Contains(b.When, script.Opposite(t)) {
			return true
		}
	}
	return false
}

// variantGroups cuts segs into groups of units. A group of alternatives is
// a run of variant blocks, each an alternative of the one before, with only
// prose between them (no other block, no heading); each of its units is one
// block with the prose that belongs to it: the paragraphs that lead into it
// (after the previous block's list of notes) and the list of notes right
// after it. Everything else is a group of one unit.
func variantGroups(segs []segment) [][][]segment {
	var groups [][][]segment
	var loose []segment // segments not in a group yet
	flush := func() {
		if len(loose) > 0 {
			groups = append(groups, [][]segment{loose})
			loose = nil
		}
	}
	isVariant := func(i int) bool { return i < len(segs) && segs[i].code != nil && len(segs[i].code.When) > 0 }
	for i := 0; i < len(segs); {
		// Collect the blocks of a group starting at block i: j indexes the
		// next block, k steps over the prose between.
		if !isVariant(i) {
			loose = append(loose, segs[i])
			i++
			continue
		}
		members := []int{i}
		for {
			last := members[len(members)-1]
			k := last + 1
			if k < len(segs) && segs[k].code == nil {
				if hasHeading(segs[k].prose) {
					break
				}
				k++
			}
			if !isVariant(k) || !alternatives(segs[last].code, segs[k].code) {
				break
			}
			members = append(members, k)
		}
		if len(members) == 1 {
			loose = append(loose, segs[i])
			i++
			continue
		}
		// The first block's lead-in: the last paragraph of the prose before it.
		var lead []segment
		if n := len(loose); n > 0 && loose[n-1].code == nil {
			paras := paragraphs(loose[n-1].prose)
			if l := paras[len(paras)-1]; !isList(l) && !hasHeading(l) {
				loose[n-1].prose = strings.Join(paras[:len(paras)-1], "\n\n")
				if strings.TrimSpace(loose[n-1].prose) == "" {
					loose = loose[:n-1]
				}
				lead = []segment{{prose: l}}
			}
		}
		flush()
		var units [][]segment
		for m, bi := range members {
			u := append(lead, segs[bi])
			lead = nil
			next := bi + 1
			if next < len(segs) && segs[next].code == nil {
				notes, rest := splitNotes(segs[next].prose)
				if notes != "" {
					u = append(u, segment{prose: notes})
				}
				if m < len(members)-1 {
					if rest != "" {
						lead = []segment{{prose: rest}}
					}
				} else if rest != "" {
					loose = append(loose, segment{prose: rest})
				}
			}
			units = append(units, u)
		}
		groups = append(groups, units)
		i = members[len(members)-1] + 1
		if i < len(segs) && segs[i].code == nil {
			i++
		}
	}
	flush()
	return groups
}

// paragraphs splits prose at blank lines.
func paragraphs(prose string) []string {
	var out []string
	for p := range strings.SplitSeq(strings.Trim(prose, "\n"), "\n\n") {
		if strings.TrimSpace(p) != "" {
			out = append(out, strings.Trim(p, "\n"))
		}
	}
	if out == nil {
		out = []string{""}
	}
	return out
}

// isList reports whether a paragraph is a list (or a list's continuation).
func isList(p string) bool {
	return listItem.MatchString(strings.TrimLeft(p, " ")) || strings.HasPrefix(p, "  ")
}

// hasHeading reports whether prose holds a heading line.
func hasHeading(prose string) bool {
	for l := range strings.SplitSeq(prose, "\n") {
		if strings.HasPrefix(l, "#") {
			return true
		}
	}
	return false
}

// splitNotes cuts the prose after a block into the list of notes on it
// (its leading list paragraphs) and the rest.
func splitNotes(prose string) (notes, rest string) {
	paras := paragraphs(prose)
	n := 0
	for n < len(paras) && paras[n] != "" && isList(paras[n]) {
		n++
	}
	return strings.Join(paras[:n], "\n\n"), strings.Join(paras[n:], "\n\n")
}

// mergeProse joins adjacent prose segments, so that glamour renders them as
// the one Markdown run they are.
func mergeProse(segs []segment) []segment {
	var out []segment
	for _, s := range segs {
		if n := len(out); n > 0 && s.code == nil && out[n-1].code == nil {
			out[n-1].prose += "\n\n" + s.prose
			continue
		}
		out = append(out, s)
	}
	return out
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
