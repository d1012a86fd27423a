package cli

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/kubetutor/kubetutor/internal/iostreams"
	"github.com/kubetutor/kubetutor/steps"
)

// TestEveryCommandHasHelpWithExamples walks the command tree: every command
// a person can see has a short description and examples, and --help works.
func TestEveryCommandHasHelpWithExamples(t *testing.T) {
	ios, _, _ := iostreams.Test("")
	root := NewRootCmd(&Factory{IO: ios})
	var walk func(c *cobra.Command)
	seen := 0
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || strings.HasPrefix(c.CommandPath(), "kubetutor completion") {
			return
		}
		seen++
		if c.Short == "" {
			t.Errorf("%s has no short description", c.CommandPath())
		}
		if c.Runnable() && strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no examples", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if seen < 15 {
		t.Errorf("walked only %d commands", seen)
	}
	for _, args := range [][]string{{"--help"}, {"check", "--help"}, {"demo", "down", "--help"}} {
		ios, out, _ := iostreams.Test("")
		if code := Execute(t.Context(), &Factory{IO: ios}, args); code != 0 || !strings.Contains(out.String(), "Usage:") {
			t.Errorf("kubetutor %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
}

// TestCheckHelpListsTheSteps: `check --help` names every step of the course,
// in order, and nothing else, so that a list written by hand and gone stale
// fails here.
func TestCheckHelpListsTheSteps(t *testing.T) {
	lessons := append(append([]string{"welcome"}, steps.IDs()...), "troubleshooting")
	for _, tc := range []struct {
		cmd, label string
		want       []string
	}{
		{"check", "Steps:", steps.IDs()},
		// Every lesson file, in course order.
		{"show", "Lessons:", lessons},
	} {
		ios, out, _ := iostreams.Test("")
		if code := Execute(t.Context(), &Factory{IO: ios}, []string{tc.cmd, "--help"}); code != 0 {
			t.Fatalf("kubetutor %s --help: exit %d\n%s", tc.cmd, code, out)
		}
		_, after, ok := strings.Cut(out.String(), "\n"+tc.label+" ")
		if !ok {
			t.Fatalf("kubetutor %s --help has no %q paragraph:\n%s", tc.cmd, tc.label, out)
		}
		para, _, _ := strings.Cut(after, "\n\n")
		if !strings.HasSuffix(para, ".") {
			t.Errorf("the %s paragraph %q does not end with a full stop", tc.label, para)
		}
		got := strings.Split(strings.TrimSuffix(strings.Join(strings.Fields(para), " "), "."), ", ")
		if !slices.Equal(got, tc.want) {
			t.Errorf("kubetutor %s --help lists %q, the course has %q", tc.cmd, got, tc.want)
		}
		for _, line := range strings.Split(tc.label+" "+para, "\n") {
			if len(line) > 80 {
				t.Errorf("help line longer than 80 columns: %q", line)
			}
		}
	}
	files, err := os.ReadDir("../../content/lessons")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		if n, ok := strings.CutSuffix(f.Name(), ".md"); ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	if sorted := slices.Sorted(slices.Values(lessons)); !slices.Equal(names, sorted) {
		t.Errorf("content/lessons holds %q; show --help names %q", names, sorted)
	}
}

func TestWrapList(t *testing.T) {
	for _, tc := range []struct {
		items []string
		width int
		want  string
	}{
		{[]string{"a"}, 80, "L: a."},
		{[]string{"a", "b", "c"}, 80, "L: a, b, c."},
		{[]string{"aa", "bb", "cc"}, 9, "L: aa,\nbb, cc."},
		{[]string{"toolong"}, 3, "L:\ntoolong."},
	} {
		if got := wrapList("L:", tc.items, tc.width); got != tc.want {
			t.Errorf("wrapList(L:, %q, %d) = %q, want %q", tc.items, tc.width, got, tc.want)
		}
	}
}
