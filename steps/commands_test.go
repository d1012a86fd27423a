package steps

import (
	"os/exec"
	"testing"
)

// TestCommandBlocksAreShell: every variant of every step's commands, also
// those no end-to-end test can run on this machine (downloads, systemd),
// is valid bash (bash -n).
func TestCommandBlocksAreShell(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	for _, s := range All() {
		if len(s.Commands) == 0 {
			t.Errorf("step %s has no commands", s.ID)
		}
		for _, b := range s.Commands {
			out, err := exec.Command(bash, "-n", "-c", b.Text).CombinedOutput()
			if err != nil {
				t.Errorf("step %s, lesson line %d (%s): not valid bash: %v\n%s\n%s", s.ID, b.Line, b.Info, err, out, b.Text)
			}
		}
		if last := s.Hints[len(s.Hints)-1]; last != CommandsHint(s.ID) {
			t.Errorf("step %s: last hint %q, want the derived one", s.ID, last)
		}
	}
}
