// Package drills breaks the learner's own cluster on purpose and grades the
// fix with the course's checks. A drill is data: its text in
// content/drills/<id>.md, whose front matter names the step that must pass
// first, the checks the fault makes fail, the hints, and the fault itself
// (one of a few kinds: stop a component, edit a file, taint the node, scale a
// Deployment, change a Service's selector). Adding a drill is adding a file.
package drills

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/content"
	"github.com/kubetutor/kubetutor/internal/script"
	"github.com/kubetutor/kubetutor/steps"
)

// Drill is one exercise: a fault injected into a working cluster, the checks
// that prove it took, and the fix that makes them pass again.
type Drill struct {
	// ID is stable: learners type it and the room reports it.
	ID string `json:"id"`
	// Title says what breaks, for lists.
	Title string `json:"title"`
	// After is the step that must pass before the drill can start.
	After string `json:"after"`
	// Checks are the names of the checks the fault makes fail; the drill
	// is solved when they pass again and the cluster is whole.
	Checks []string `json:"checks"`
	// Symptom is what one of the drill's checks prints once the fault took,
	// in the words of this machine's run (a test asserts it).
	Symptom string `json:"-"`
	// Hints go from a nudge to the fix; the last, the fix itself, is
	// derived.
	Hints []string `json:"-"`
	// Redo names the step whose commands are the fix (a stopped component
	// is started again as its lesson started it); empty when the fix is
	// the drill's own "## Fix" blocks.
	Redo string `json:"-"`
	// Fault is what start does.
	Fault FaultSpec `json:"-"`
	// Situation is what the learner is told at start; Fix is the fix's
	// text; Explained is what happened, shown once solved or restored.
	Situation string `json:"-"`
	Fix       string `json:"-"`
	Explained string `json:"-"`
	// FixBlocks are the runnable blocks of the "## Fix" section.
	FixBlocks []script.Block `json:"-"`
}

// meta is a drill's front matter.
type meta struct {
	Title   string    `json:"title"`
	After   string    `json:"after"`
	Checks  []string  `json:"checks"`
	Symptom string    `json:"symptom"`
	Hints   []string  `json:"hints"`
	Redo    string    `json:"redo"`
	Fault   FaultSpec `json:"fault"`
}

// The sections of a drill's text.
const (
	sectionSituation = "The situation"
	sectionFix       = "Fix"
	sectionExplained = "What happened"
)

var (
	loadOnce sync.Once
	loaded   []Drill
	loadErr  error
)

// load reads every drill of content/drills, in file-name order, once.
func load() ([]Drill, error) {
	loadOnce.Do(func() { loaded, loadErr = readAll(content.Drills, "drills") })
	return loaded, loadErr
}

// readAll reads and validates the drills in dir of fsys.
func readAll(fsys fs.FS, dir string) ([]Drill, error) {
	names, err := fs.Glob(fsys, dir+"/*.md")
	if err != nil {
		return nil, fmt.Errorf("list the drills: %w", err)
	}
	slices.Sort(names)
	var out []Drill
	var errs []error
	for _, name := range names {
		d, err := parse(fsys, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, d)
	}
	return out, errors.Join(errs...)
}

// parse reads one drill file and checks it against the course.
func parse(fsys fs.FS, name string) (Drill, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return Drill{}, fmt.Errorf("read drill %s: %w", name, err)
	}
	id := strings.TrimSuffix(path.Base(name), ".md")
	var m meta
	md, err := content.SplitInto(string(data), &m)
	if err != nil {
		return Drill{}, fmt.Errorf("drill %s: %w", id, err)
	}
	first := 1 + strings.Count(string(data[:len(data)-len(md)]), "\n")
	blocks, err := script.ParseAt(md, first)
	if err != nil {
		return Drill{}, fmt.Errorf("drill %s: %w", id, err)
	}
	d := Drill{ID: id, Title: m.Title, After: m.After, Checks: m.Checks, Symptom: m.Symptom, Hints: m.Hints, Redo: m.Redo, Fault: m.Fault,
		Situation: section(md, sectionSituation), Fix: section(md, sectionFix), Explained: section(md, sectionExplained)}
	for _, b := range blocks {
		if b.Section == sectionFix && b.Runnable() {
			d.FixBlocks = append(d.FixBlocks, b)
		}
	}
	if err := d.validate(); err != nil {
		return Drill{}, fmt.Errorf("drill %s: %w", id, err)
	}
	return d, nil
}

// validate checks a drill against the course: its step and checks exist,
// its fault is one kind, its fix is somewhere.
func (d Drill) validate() error {
	var errs []error
	if d.Title == "" {
		errs = append(errs, errors.New("no title"))
	}
	if _, _, err := steps.Lookup(d.After); err != nil {
		errs = append(errs, fmt.Errorf("after: %w", err))
	}
	if d.Symptom == "" {
		errs = append(errs, errors.New("no symptom: what a check of the drill prints once the fault took"))
	}
	if len(d.Checks) == 0 {
		errs = append(errs, errors.New("no checks: the drill could not tell that its fault took"))
	}
	for _, c := range d.Checks {
		if _, _, ok := steps.CheckNamed(c); !ok {
			errs = append(errs, fmt.Errorf("check %q is no check of the course", c))
		}
	}
	if err := d.Fault.validate(); err != nil {
		errs = append(errs, fmt.Errorf("fault: %w", err))
	}
	if d.Redo != "" {
		if _, _, err := steps.Lookup(d.Redo); err != nil {
			errs = append(errs, fmt.Errorf("redo: %w", err))
		}
	}
	if (d.Redo == "") == (len(d.FixBlocks) == 0) {
		errs = append(errs, errors.New(`give the fix either as "redo: STEP" or as runnable blocks under "## Fix", not both`))
	}
	for _, s := range []struct{ name, text string }{{sectionSituation, d.Situation}, {sectionFix, d.Fix}, {sectionExplained, d.Explained}} {
		if strings.TrimSpace(s.text) == "" {
			errs = append(errs, fmt.Errorf("no %q section", "## "+s.name))
		}
	}
	return errors.Join(errs...)
}

// section is the text under a level-2 heading, up to the next one.
func section(md, heading string) string {
	var b strings.Builder
	in, fenced := false, false
	for _, line := range strings.SplitAfter(md, "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
		}
		if !fenced && strings.HasPrefix(line, "## ") {
			in = strings.TrimSpace(line[3:]) == heading
			continue
		}
		if in {
			b.WriteString(line)
		}
	}
	return strings.TrimSpace(b.String()) + "\n"
}

// All returns the drills in ID order. A drill whose file is broken is left
// out; Err says why.
func All() []Drill {
	ds, _ := load()
	return slices.Clone(ds)
}

// Err is what was wrong with the drills' files, if anything (the content
// test fails on it).
func Err() error {
	_, err := load()
	return err
}

// IDs returns the drills' IDs in order.
func IDs() []string {
	var ids []string
	for _, d := range All() {
		ids = append(ids, d.ID)
	}
	return ids
}

// Lookup finds a drill by ID.
func Lookup(id string) (Drill, error) {
	for _, d := range All() {
		if d.ID == id {
			return d, nil
		}
	}
	return Drill{}, fmt.Errorf("unknown drill %q (drills: %s)", id, strings.Join(IDs(), ", "))
}

// checkers are the drill's checks, as the course's steps hold them.
func (d Drill) checkers() []checks.Checker {
	var out []checks.Checker
	for _, name := range d.Checks {
		if c, _, ok := steps.CheckNamed(name); ok {
			out = append(out, c)
		}
	}
	return out
}

// FixHint is a drill's last hint: the fix, as its text gives it.
func (d Drill) FixHint() string {
	return "the fix: " + strings.TrimSpace(d.Fix)
}
