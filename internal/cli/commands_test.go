package cli

import (
	"strings"
	"testing"
)

// TestWalkthroughShowsCommands: "Show the commands again" and the last hint
// print the step's commands raw, every line from column 0, as the lesson
// has them.
func TestWalkthroughShowsCommands(t *testing.T) {
	wd, state := t.TempDir(), t.TempDir()
	r := execute(t, wd, state, "4\n3\n3\n3\n7\n", "start")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.errOut)
	}
	for _, want := range []string{
		"The commands of tools for this machine (kubetutor show tools --commands):\n\nmkdir -p bin certs\n",
		"\nexport PATH=$PWD/bin:$PATH\n",
		"Hint 3 of 3: run the step's commands, as its lesson shows them for this machine: kubetutor show tools --commands\n\nmkdir -p bin certs\n",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.out, "```") {
		t.Errorf("Markdown fences in the output:\n%s", r.out)
	}
}
