package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/kubetutor/kubetutor/internal/iostreams"
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
