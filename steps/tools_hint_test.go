package steps

import (
	"strings"
	"testing"

	"github.com/kubetutor/kubetutor/course"
)

// TestToolsHintNamesWhatTheStepChecks: the tools step's first hint counts and
// names exactly the programs its check looks for (course.Tools), so a
// component that gets its own step (kube-proxy) does not leave the hint
// promising a program the check never asks for, or the other way round.
func TestToolsHintNamesWhatTheStepChecks(t *testing.T) {
	var hint string
	for _, s := range All() {
		if s.ID == "tools" {
			hint = s.Hints[0]
		}
	}
	if hint == "" {
		t.Fatal("no tools step with a hint")
	}
	words := []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"}
	tools := course.Tools()
	if want := "You need " + words[len(tools)] + " programs:"; !strings.HasPrefix(hint, want) {
		t.Errorf("the hint says %q; the step checks %d programs, so it should start %q", hint, len(tools), want)
	}
	listed := hint[:strings.Index(hint, ", in bin/")]
	for _, c := range course.Binaries() {
		in := strings.Contains(listed, c.Name)
		if in != !c.OwnStep {
			t.Errorf("the hint's list %q: mentions %s = %v, but the tools step checks it = %v", listed, c.Name, in, !c.OwnStep)
		}
	}
}
