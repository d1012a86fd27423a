// Package script reads the command blocks of the lessons: the fenced code
// blocks of a lesson's Markdown with their annotations. The lessons are the
// only source of the commands a learner types; the steps, hints, `show
// --commands` and the demo all take them from here.
//
// A fenced block's info string is its language followed by annotations:
//
//	```sh run                  a command the learner runs (it ends by itself)
//	```sh run=daemon           starts a long-running component (its own terminal)
//	```sh run when=offline     ... only on hosts with all the listed tags
//	```sh run when=no-systemd,cgroup-v1
//	```sh run demo=NAME        what the demo does in its place (internal/demo's action NAME)
//	```sh run=daemon restarts=kube-apiserver   starts a running component again, with new flags
//	```sh                      an illustration: not part of the step's commands
//
// Tags name facts of the learner's machine (see Tags); a block without
// `when` fits every host.
package script

import (
	"fmt"
	"slices"
	"strings"
)

// Kind says whether and how a block runs.
type Kind string

// The kinds of blocks.
const (
	// Show is an illustration: "See it yourself", expected output, examples.
	Show Kind = ""
	// Run is a block of commands that end by themselves.
	Run Kind = "run"
	// Daemon starts a long-running component in the foreground.
	Daemon Kind = "daemon"
)

// Block is one fenced code block of a lesson.
type Block struct {
	// Lang is the first word of the info string ("sh").
	Lang string
	// Kind says whether it runs.
	Kind Kind
	// When are the host tags the block needs, all of them.
	When []string
	// Text is the block's content, each line ending in "\n".
	Text string
	// Section is the level-2 heading the block is under.
	Section string
	// Line is the 1-based line of the opening fence.
	Line int
	// Info is the raw info string.
	Info string
	// Demo names what demo mode does instead of typing the block (one of
	// internal/demo's actions); empty: it types it.
	Demo string
	// Restarts names the component (package course) a run=daemon block
	// starts again with other flags: the learner stops the running one
	// first (Ctrl-C in its terminal), then types the block.
	Restarts string
}

// Runnable reports whether the block is part of the step's commands.
func (b Block) Runnable() bool { return b.Kind == Run || b.Kind == Daemon }

// Fits reports whether the block applies to a host with these tags.
func (b Block) Fits(tags Set) bool {
	for _, w := range b.When {
		if !tags[w] {
			return false
		}
	}
	return true
}

// Lines are the block's lines without their newlines.
func (b Block) Lines() []string {
	return strings.Split(strings.TrimSuffix(b.Text, "\n"), "\n")
}

// Set is a set of host tags.
type Set map[string]bool

// Tags are the host facts a block may name in `when=`, in pairs of
// alternatives: every host has exactly one tag of each pair.
var Tags = [][2]string{
	{"online", "offline"},
	{"systemd", "no-systemd"},
	{"cgroup-v2", "cgroup-v1"},
	{"cni-opt", "cni-usr-lib"},
	{"containerd-2", "containerd-1"},
	{"etcd-3.6", "etcd-3.4"},
}

// KnownTag reports whether t is one of Tags.
func KnownTag(t string) bool {
	for _, p := range Tags {
		if t == p[0] || t == p[1] {
			return true
		}
	}
	return false
}

// Opposite returns the other tag of t's pair ("" if t is unknown).
func Opposite(t string) string {
	for _, p := range Tags {
		switch t {
		case p[0]:
			return p[1]
		case p[1]:
			return p[0]
		}
	}
	return ""
}

// ParseInfo reads a fence's info string.
func ParseInfo(info string) (lang string, kind Kind, when []string, err error) {
	b, err := parseInfo(info)
	return b.Lang, b.Kind, b.When, err
}

// parseInfo reads a fence's info string into a block's annotations.
func parseInfo(info string) (Block, error) {
	b := Block{Info: info}
	f := strings.Fields(info)
	if len(f) == 0 {
		return b, nil
	}
	b.Lang = f[0]
	for _, a := range f[1:] {
		if err := b.annotate(a); err != nil {
			return Block{}, fmt.Errorf("info %q: %w", info, err)
		}
	}
	if b.Kind == Show {
		for name, set := range map[string]bool{"when=": b.When != nil, "demo=": b.Demo != "", "restarts=": b.Restarts != ""} {
			if set {
				return Block{}, fmt.Errorf("info %q: %s needs run or run=daemon", info, name)
			}
		}
	}
	if b.Restarts != "" && b.Kind != Daemon {
		return Block{}, fmt.Errorf("info %q: restarts= needs run=daemon", info)
	}
	return b, nil
}

// annotate applies one annotation of an info string.
func (b *Block) annotate(a string) error {
	k, v, hasV := strings.Cut(a, "=")
	switch {
	case k == "run" && (!hasV || v == "daemon"):
		if b.Kind != Show {
			return fmt.Errorf("run given twice")
		}
		b.Kind = Run
		if hasV {
			b.Kind = Daemon
		}
	case k == "when" && hasV && v != "":
		if b.When != nil {
			return fmt.Errorf("when given twice")
		}
		for _, t := range strings.Split(v, ",") {
			if !KnownTag(t) {
				return fmt.Errorf("unknown host tag %q", t)
			}
			if slices.Contains(b.When, t) {
				return fmt.Errorf("tag %q given twice", t)
			}
			if slices.Contains(b.When, Opposite(t)) {
				return fmt.Errorf("tags %q and %q exclude each other", t, Opposite(t))
			}
			b.When = append(b.When, t)
		}
	case k == "demo" && hasV && v != "":
		if b.Demo != "" {
			return fmt.Errorf("demo given twice")
		}
		b.Demo = v
	case k == "restarts" && hasV && v != "":
		if b.Restarts != "" {
			return fmt.Errorf("restarts given twice")
		}
		b.Restarts = v
	default:
		return fmt.Errorf("unknown annotation %q (want run, run=daemon, when=TAG,..., demo=ACTION or restarts=COMPONENT)", a)
	}
	return nil
}

// Fence reports whether line opens or closes a fenced code block: three
// backquotes at column 0. It returns the info string after them.
func Fence(line string) (info string, ok bool) {
	if !strings.HasPrefix(line, "```") {
		return "", false
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "```")), true
}

// Parse returns every fenced code block of a lesson, in order. Fences must
// start at column 0; an unclosed fence, a bad annotation, a tab or trailing
// blanks in a block (a learner copies them) are errors.
func Parse(md string) ([]Block, error) {
	var out []Block
	var cur *Block
	var text strings.Builder
	section := ""
	lines := strings.Split(md, "\n")
	for i, line := range lines {
		if info, ok := Fence(line); ok {
			if cur == nil {
				b, err := parseInfo(info)
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", i+1, err)
				}
				b.Section, b.Line = section, i+1
				cur = &b
				text.Reset()
				continue
			}
			if info != "" {
				return nil, fmt.Errorf("line %d: a closing fence has an info string %q (is a block left open above?)", i+1, info)
			}
			cur.Text = text.String()
			out = append(out, *cur)
			cur = nil
			continue
		}
		if cur != nil {
			if strings.TrimRight(line, " \t") != line {
				return nil, fmt.Errorf("line %d: trailing blanks in a code block", i+1)
			}
			if strings.Contains(line, "\t") {
				return nil, fmt.Errorf("line %d: a tab in a code block", i+1)
			}
			text.WriteString(line)
			text.WriteByte('\n')
			continue
		}
		if strings.HasPrefix(strings.TrimLeft(line, " "), "```") {
			return nil, fmt.Errorf("line %d: an indented fence; code blocks start at column 0", i+1)
		}
		if strings.HasPrefix(line, "## ") {
			section = strings.TrimSpace(strings.TrimPrefix(line, "## "))
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: the code block is never closed", cur.Line)
	}
	return out, nil
}

// Commands are the runnable blocks of a lesson, in order.
func Commands(blocks []Block) []Block {
	var out []Block
	for _, b := range blocks {
		if b.Runnable() {
			out = append(out, b)
		}
	}
	return out
}

// For keeps the blocks that fit a host.
func For(blocks []Block, tags Set) []Block {
	var out []Block
	for _, b := range blocks {
		if b.Fits(tags) {
			out = append(out, b)
		}
	}
	return out
}

// Text joins blocks as a learner types them: each block's lines, blocks
// separated by a blank line.
func Text(blocks []Block) string {
	parts := make([]string, len(blocks))
	for i, b := range blocks {
		parts[i] = b.Text
	}
	return strings.Join(parts, "\n")
}
