package lessons_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kubetutor/kubetutor/content"
	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/lessons"
	"github.com/kubetutor/kubetutor/steps"
)

// welcomeTable reads the step table of the welcome lesson: its # and ID
// columns, in order.
func welcomeTable(t *testing.T) (nums []int, ids []string) {
	t.Helper()
	c, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Get(lessons.Welcome)
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`^\| (\d+) \| ([a-z-]+) \|`)
	for _, line := range strings.Split(lessons.Section(l.Markdown, "The steps"), "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			nums = append(nums, n)
			ids = append(ids, m[2])
		}
	}
	return nums, ids
}

// readmeStepIDs reads the README's list of step IDs (the public interface).
func readmeStepIDs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "Step IDs, a public interface:")
	if !ok {
		t.Fatal(`README.md has no "Step IDs, a public interface:" list`)
	}
	list, _, _ := strings.Cut(rest, ".\n")
	var ids []string
	for _, m := range regexp.MustCompile("`([a-z-]+)`").FindAllStringSubmatch(list, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// TestCourseAgrees: the course's step list, the welcome lesson's table and
// the README's list of step IDs are the same, in the same order.
func TestCourseAgrees(t *testing.T) {
	want := steps.IDs()
	nums, ids := welcomeTable(t)
	if !slices.Equal(ids, want) {
		t.Errorf("the welcome lesson's table lists %q, the course has %q", ids, want)
	}
	for i, n := range nums {
		if n != i+1 {
			t.Errorf("the welcome lesson's table numbers row %d as %d", i+1, n)
		}
	}
	if got := readmeStepIDs(t); !slices.Equal(got, want) {
		t.Errorf("README.md lists the step IDs %q, the course has %q", got, want)
	}
}

// TestNoStepCountInProse: no prose or code states how many steps there are
// ("the ten steps"): the count changes with the course, and is computed
// where it is shown.
func TestNoStepCountInProse(t *testing.T) {
	count := regexp.MustCompile(`(?i)\b(ten|eleven|twelve|fifteen|\d+) (steps|lessons)\b`)
	var files []string
	for _, glob := range []string{"../README.md", "../content/lessons/*.md", "../*/*.go", "../internal/*/*.go"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d files to read: %q", len(files), files)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if m := count.FindString(line); m != "" {
				t.Errorf("%s:%d: %q states the number of steps: compute it, or say \"the steps\"", f, i+1, m)
			}
		}
	}
}

// TestFrontMatter: every step lesson's front matter has the step's words,
// and a lesson that is not a step has none.
func TestFrontMatter(t *testing.T) {
	stepIDs := steps.IDs()
	for _, id := range lessons.Order() {
		meta, md, err := content.Read(content.Lessons, "lessons", id)
		if err != nil {
			t.Fatalf("lesson %s: %v", id, err)
		}
		if !strings.HasPrefix(md, "# ") {
			t.Errorf("lesson %s: the Markdown after the front matter starts with %q, not a level-1 heading", id, firstLine(md))
		}
		isStep := slices.Contains(stepIDs, id)
		switch {
		case isStep && (meta.Title == "" || meta.Next == "" || meta.Passed == "" || len(meta.Hints) == 0):
			t.Errorf("lesson %s: front matter %+v lacks a title, next, hints or passed", id, meta)
		case !isStep && (meta.Title != "" || len(meta.Hints) > 0):
			t.Errorf("lesson %s is not a step but has front matter %+v", id, meta)
		}
	}
}

// TestComponentsHaveSteps: every step the course's table names exists, and
// every component a step starts is in the table once.
func TestComponentsHaveSteps(t *testing.T) {
	seen := map[string]string{}
	for _, c := range course.Components() {
		if c.Step == "" {
			continue
		}
		if _, _, err := steps.Lookup(c.Step); err != nil {
			t.Errorf("component %s: %v", c.Name, err)
		}
		if other, dup := seen[c.Step]; dup {
			t.Errorf("step %s starts both %s and %s", c.Step, other, c.Name)
		}
		seen[c.Step] = c.Name
	}
	for _, name := range []string{course.Etcd, course.APIServer, course.ControllerManager, course.Scheduler, course.Containerd, course.Kubelet, course.Kubectl} {
		if _, err := course.Lookup(name); err != nil {
			t.Errorf("the table lacks a component the code names: %v", err)
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
