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
	body, err := SplitInto(data, &m)
	return m, body, err
}

// SplitInto is Split for any front matter: it fills meta (a pointer to a
// struct with json tags; unknown keys are errors) from the YAML between the
// two "---" lines and returns the Markdown after them. Without front matter
// meta is left alone and the whole of data is the Markdown.
func SplitInto(data string, meta any) (string, error) {
	if !strings.HasPrefix(data, fence) {
		return data, nil
	}
	head, body, ok := strings.Cut(data[len(fence):], "\n"+fence)
	if !ok {
		return data, errors.New("the front matter opened by --- on the first line is never closed")
	}
	if err := yaml.UnmarshalStrict([]byte(head), meta); err != nil {
		return data, fmt.Errorf("front matter: %w", err)
	}
	return body, nil
}

// File is a lesson file split by Split.
type File struct {
	Meta     Meta
	Markdown string
	// Line is the line of the file the Markdown starts on: 1 without
	// front matter. What points at a line of the Markdown adds Line-1 to
	// name the file's line.
	Line int
}

// ReadFile reads lessons/<id>.md and splits it.
func ReadFile(fsys fs.FS, dir, id string) (File, error) {
	data, err := fs.ReadFile(fsys, dir+"/"+id+".md")
	if err != nil {
		return File{}, err
	}
	m, md, err := Split(string(data))
	if err != nil {
		return File{}, fmt.Errorf("lesson %q: %w", id, err)
	}
	// The Markdown is the end of the file: the lines before it are the
	// front matter's.
	return File{Meta: m, Markdown: md, Line: 1 + strings.Count(string(data[:len(data)-len(md)]), "\n")}, nil
}

// Read reads lessons/<id>.md and splits it: ReadFile without the line.
func Read(fsys fs.FS, dir, id string) (Meta, string, error) {
	f, err := ReadFile(fsys, dir, id)
	return f.Meta, f.Markdown, err
}
