// Package lessons loads and validates the course's Markdown (package content),
// renders it for the terminal, and keeps the learner's progress by step ID.
package lessons

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/kubetutor/kubetutor/content"
	"github.com/kubetutor/kubetutor/internal/script"
	"github.com/kubetutor/kubetutor/steps"
)

// The lessons that are not steps.
const (
	Welcome         = "welcome"
	Troubleshooting = "troubleshooting"
)

// StepSections are the sections every step lesson has, in this order.
var StepSections = []string{
	"What it does",
	"Commands",
	"What to expect",
	"See it yourself",
	"What just happened inside",
}

// Lesson is one Markdown lesson.
type Lesson struct {
	ID       string
	Title    string
	Markdown string
	// Line is the line of the lesson's file that Markdown starts on (after
	// the front matter): errors about its blocks name the file's lines.
	Line int
	// Step is true for the lessons of the course's steps.
	Step bool
}

// Order is the course order of lesson IDs: the welcome, one per step, then
// troubleshooting.
func Order() []string {
	return append(append([]string{Welcome}, steps.IDs()...), Troubleshooting)
}

// Course is the loaded set of lessons.
type Course struct {
	byID  map[string]Lesson
	order []string
}

// Load reads every lesson from the embedded content.
func Load() (*Course, error) {
	return LoadFS(content.Lessons, "lessons")
}

// LoadFS reads lessons from dir in fsys; used by Load and by tests.
func LoadFS(fsys fs.FS, dir string) (*Course, error) {
	c := &Course{byID: map[string]Lesson{}, order: Order()}
	stepIDs := map[string]bool{}
	for _, id := range steps.IDs() {
		stepIDs[id] = true
	}
	for _, id := range c.order {
		f, err := content.ReadFile(fsys, dir, id)
		if err != nil {
			return nil, fmt.Errorf("load lesson %q: %w", id, err)
		}
		title, err := titleOf(f.Markdown)
		if err != nil {
			return nil, fmt.Errorf("load lesson %q: %w", id, err)
		}
		c.byID[id] = Lesson{ID: id, Title: title, Markdown: f.Markdown, Line: f.Line, Step: stepIDs[id]}
	}
	return c, nil
}

func titleOf(md string) (string, error) {
	first, _, _ := strings.Cut(md, "\n")
	if !strings.HasPrefix(first, "# ") {
		return "", errors.New("the first line is not a level-1 heading")
	}
	return strings.TrimSpace(strings.TrimPrefix(first, "# ")), nil
}

// Get returns a lesson by ID.
func (c *Course) Get(id string) (Lesson, error) {
	l, ok := c.byID[id]
	if !ok {
		return Lesson{}, fmt.Errorf("unknown lesson %q (lessons: %s)", id, strings.Join(c.order, ", "))
	}
	return l, nil
}

// All returns the lessons in course order.
func (c *Course) All() []Lesson {
	out := make([]Lesson, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.byID[id])
	}
	return out
}

// Sections lists a lesson's level-2 headings in order.
func Sections(md string) []string {
	var out []string
	inFence := false
	sc := bufio.NewScanner(strings.NewReader(md))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if !inFence && strings.HasPrefix(line, "## ") {
			out = append(out, strings.TrimSpace(strings.TrimPrefix(line, "## ")))
		}
	}
	return out
}

// Validate checks the course's content against the steps: every step has a
// lesson with the required sections, its commands appear in the lesson's
// code blocks, and it has hints and checks.
func Validate(c *Course) error {
	var errs []error
	if err := steps.ContentError(); err != nil {
		errs = append(errs, err)
	}
	seen := map[string]bool{}
	for _, s := range steps.All() {
		if seen[s.ID] {
			errs = append(errs, fmt.Errorf("step %q: duplicate ID", s.ID))
		}
		seen[s.ID] = true
		l, err := c.Get(s.Lesson)
		if err != nil {
			errs = append(errs, fmt.Errorf("step %q: %w", s.ID, err))
			continue
		}
		if s.Title == "" || s.Next == "" || s.Passed == "" {
			errs = append(errs, fmt.Errorf("lesson %q: its front matter needs a title, next and passed for step %q", l.ID, s.ID))
		}
		if len(s.Hints) < 2 {
			errs = append(errs, fmt.Errorf("step %q: needs at least two hints, has %d", s.ID, len(s.Hints)))
		}
		if len(s.Checks) == 0 {
			errs = append(errs, fmt.Errorf("step %q: has no checks", s.ID))
		}
		names := map[string]bool{}
		for _, ch := range s.Checks {
			if names[ch.Name()] {
				errs = append(errs, fmt.Errorf("step %q: duplicate check name %q", s.ID, ch.Name()))
			}
			names[ch.Name()] = true
		}
		if got := Sections(l.Markdown); !hasInOrder(got, StepSections) {
			errs = append(errs, fmt.Errorf("lesson %q: sections %q must include, in order, %q", l.ID, got, StepSections))
		}
		errs = append(errs, validateCommands(s, l)...)
	}
	for _, l := range c.All() {
		if l.Step {
			continue
		}
		blocks, err := script.ParseAt(l.Markdown, l.Line)
		if err != nil {
			errs = append(errs, fmt.Errorf("lesson %q: %w", l.ID, err))
			continue
		}
		if cmds := script.Commands(blocks); len(cmds) > 0 {
			errs = append(errs, fmt.Errorf("lesson %q: line %d: only step lessons have runnable blocks", l.ID, cmds[0].Line))
		}
	}
	return errors.Join(errs...)
}

// validateCommands compares a step lesson's blocks with the course model:
// the step's commands are exactly the runnable blocks of the lesson, all in
// its Commands section, and every host gets at least one command and at
// most one long-running component.
func validateCommands(s steps.Step, l Lesson) []error {
	var errs []error
	blocks, err := script.ParseAt(l.Markdown, l.Line)
	if err != nil {
		return []error{fmt.Errorf("lesson %q: %w", l.ID, err)}
	}
	cmds := script.Commands(blocks)
	for _, b := range cmds {
		if b.Section != "Commands" {
			errs = append(errs, fmt.Errorf("lesson %q: line %d: a runnable block outside the Commands section (in %q)", l.ID, b.Line, b.Section))
		}
		if b.Lang != "sh" {
			errs = append(errs, fmt.Errorf("lesson %q: line %d: a runnable block must be sh, not %q", l.ID, b.Line, b.Lang))
		}
	}
	if len(cmds) != len(s.Commands) {
		errs = append(errs, fmt.Errorf("lesson %q: %d runnable blocks, but step %q has %d commands", l.ID, len(cmds), s.ID, len(s.Commands)))
	} else {
		for i := range cmds {
			a, b := cmds[i], s.Commands[i]
			if a.Text != b.Text || a.Kind != b.Kind || strings.Join(a.When, ",") != strings.Join(b.When, ",") {
				errs = append(errs, fmt.Errorf("lesson %q: line %d: block differs from step %q's command %d", l.ID, a.Line, s.ID, i+1))
			}
		}
	}
	for _, tags := range AllHosts() {
		got := script.For(cmds, tags)
		if len(got) == 0 {
			errs = append(errs, fmt.Errorf("lesson %q: no command for a host with %s", l.ID, tagList(tags)))
			continue
		}
		daemons := 0
		for _, b := range got {
			if b.Kind == script.Daemon {
				daemons++
			}
		}
		if daemons > 1 {
			errs = append(errs, fmt.Errorf("lesson %q: %d long-running blocks for a host with %s, want at most one", l.ID, daemons, tagList(tags)))
		}
	}
	return errs
}

// AllHosts lists every combination of host tags, one of each pair.
func AllHosts() []script.Set {
	out := []script.Set{{}}
	for _, pair := range script.Tags {
		var next []script.Set
		for _, h := range out {
			for _, t := range pair {
				n := script.Set{t: true}
				for k := range h {
					n[k] = true
				}
				next = append(next, n)
			}
		}
		out = next
	}
	return out
}

func tagList(tags script.Set) string {
	var out []string
	for _, pair := range script.Tags {
		for _, t := range pair {
			if tags[t] {
				out = append(out, t)
			}
		}
	}
	return strings.Join(out, ",")
}

func hasInOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// Section returns the body of a lesson's level-2 section, without its
// heading; empty when there is no such section.
func Section(md, heading string) string {
	var b strings.Builder
	in, inFence := false, false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
		}
		if !inFence && strings.HasPrefix(line, "## ") {
			if in {
				break
			}
			in = strings.TrimSpace(strings.TrimPrefix(line, "## ")) == heading
			continue
		}
		if in {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return strings.TrimSpace(b.String())
}

// FirstParagraph is the first paragraph of a Markdown text.
func FirstParagraph(md string) string {
	md = strings.TrimSpace(md)
	if i := strings.Index(md, "\n\n"); i >= 0 {
		return md[:i]
	}
	return md
}
