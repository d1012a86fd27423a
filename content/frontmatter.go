package content

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"sigs.k8s.io/yaml"
)

// Meta is a step lesson's front matter: the step's words that are shown
// outside the lesson (in lists, reports, hints and the demo).
type Meta struct {
	// Title is the step's short imperative, for lists and reports.
	Title string `json:"title"`
	// Next says what the learner does to pass the step, for "next: ...".
	Next string `json:"next"`
	// Hints go from gentle to precise; the last hint, the step's exact
	// commands, is derived and not written here.
	Hints []string `json:"hints"`
	// Passed says, in one sentence, what just happened when the step passes.
	Passed string `json:"passed"`
}

const fence = "---\n"

// Split separates a lesson's front matter (between two "---" lines at the
// very top, YAML) from its Markdown. A lesson without front matter has a
// zero Meta.
func Split(data string) (Meta, string, error) {
	var m Meta
	if !strings.HasPrefix(data, fence) {
		return m, data, nil
	}
	head, body, ok := strings.Cut(data[len(fence):], "\n"+fence)
	if !ok {
		return m, data, errors.New("the front matter opened by --- on the first line is never closed")
	}
	if err := yaml.UnmarshalStrict([]byte(head), &m); err != nil {
		return m, data, fmt.Errorf("front matter: %w", err)
	}
	return m, body, nil
}

// Read reads lessons/<id>.md and splits it.
func Read(fsys fs.FS, dir, id string) (Meta, string, error) {
	data, err := fs.ReadFile(fsys, dir+"/"+id+".md")
	if err != nil {
		return Meta{}, "", err
	}
	m, md, err := Split(string(data))
	if err != nil {
		return Meta{}, "", fmt.Errorf("lesson %q: %w", id, err)
	}
	return m, md, nil
}
