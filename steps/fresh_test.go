package steps

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/checks"
)

// TestRunInAFreshProcess: the steps' words and commands are loaded on first
// use, so the first thing a process does (kubetutor check --all) must see
// every step. Other tests of this package load them earlier, so it runs in a
// process of its own: this test binary again, running only the child part.
func TestRunInAFreshProcess(t *testing.T) {
	if os.Getenv("KUBETUTOR_FRESH_CHILD") == "1" {
		env := checks.NewEnv(t.TempDir())
		env.Timeout = time.Second
		for _, mode := range []Mode{Locate, Every} {
			rep, err := Run(context.Background(), env, RunOptions{Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Steps) != len(table) || rep.Steps[0].ID != table[0].ID || rep.Steps[0].Title == "" {
				t.Fatalf("mode %v: the first run reports %d steps (first %+v), the course has %d", mode, len(rep.Steps), rep.Steps, len(table))
			}
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunInAFreshProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "KUBETUTOR_FRESH_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("in a fresh process: %v\n%s", err, out)
	}
}
