package demo

import (
	"strings"
	"testing"

	"github.com/kubetutor/kubetutor/internal/script"
	"github.com/kubetutor/kubetutor/lessons"
	"github.com/kubetutor/kubetutor/steps"
)

// TestComponentsMatchLessons: the step that starts a component has, for
// every host, exactly one long-running block, and it runs that component;
// the other steps start none.
func TestComponentsMatchLessons(t *testing.T) {
	for _, s := range steps.All() {
		name := componentOfStep(s.ID)
		for _, tags := range lessons.AllHosts() {
			var daemons []script.Block
			for _, b := range s.CommandsFor(tags) {
				if b.Kind == script.Daemon {
					daemons = append(daemons, b)
				}
			}
			switch {
			case name == "" && len(daemons) > 0:
				t.Errorf("step %s starts no component in the demo, but its lesson has a long-running block at line %d", s.ID, daemons[0].Line)
			case name != "" && len(daemons) != 1:
				t.Errorf("step %s: %d long-running blocks for %v, want one running %s", s.ID, len(daemons), tags, name)
			case name != "":
				if first := strings.Fields(daemons[0].Text); len(first) == 0 || first[0] != name {
					t.Errorf("step %s: the long-running block runs %q, the demo's component is %s", s.ID, daemons[0].Text, name)
				}
			}
		}
	}
}
