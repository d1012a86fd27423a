package steps

import (
	"io/fs"
	"os/exec"
	"strings"
	"testing"

	"github.com/kubetutor/kubetutor/content"
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

// TestCommandLinesAreTheFilesLines: a step command's Line is the line of
// its opening fence in the lesson's .md file, front matter included, as
// the errors and the demo's record name it.
func TestCommandLinesAreTheFilesLines(t *testing.T) {
	for _, s := range All() {
		data, err := fs.ReadFile(content.Lessons, "lessons/"+s.Lesson+".md")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), "---\n") {
			t.Errorf("lesson %s has no front matter: the test proves nothing for it", s.Lesson)
		}
		lines := strings.Split(string(data), "\n")
		for _, b := range s.Commands {
			if b.Line < 1 || b.Line > len(lines) || lines[b.Line-1] != "```"+b.Info {
				t.Errorf("step %s: a command's Line is %d, but the fence ```%s is not on that line of lessons/%s.md", s.ID, b.Line, b.Info, s.Lesson)
			}
		}
	}
}
