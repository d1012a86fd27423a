package steps_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/internal/script"
	"github.com/kubetutor/kubetutor/steps"
)

// TestCertsCommandsStandOnTheirOwn: the certs step's commands run from the
// state the tools step's checks accept without its commands (the binaries
// already on PATH: no bin/, no certs/ in the work dir) and make the step
// pass. Issue 19: `mkdir -p bin certs` lived only in the tools lesson, and
// the certs lesson's first openssl line failed (Can't open "certs/ca.key").
// Its checks read only files, so this runs without a cluster; the other
// steps' need one (the lead's real-cluster tests).
func TestCertsCommandsStandOnTheirOwn(t *testing.T) {
	for _, prog := range []string{"bash", "openssl", "kubectl"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("%s is not installed", prog)
		}
	}
	s, _, err := steps.Lookup("certs")
	if err != nil {
		t.Fatal(err)
	}
	wd := t.TempDir()
	blocks := s.CommandsFor(script.Set{})
	if len(blocks) == 0 {
		t.Fatal("the certs step has no commands for this machine")
	}
	for _, b := range blocks {
		if b.Kind != script.Run {
			t.Fatalf("lesson line %d: a %s block in the certs step", b.Line, b.Kind)
		}
		cmd := exec.Command("bash", "-e", "-c", b.Text)
		cmd.Dir = wd
		cmd.Env = append(os.Environ(), "KUBECONFIG=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("lesson line %d, in an empty work dir: %v\n%s", b.Line, err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(wd, "bin")); err == nil {
		t.Errorf("the certs step made bin/: the test no longer starts where the tools step's checks leave a learner")
	}
	env := checks.NewEnv(wd)
	env.Kubeconfig = filepath.Join(wd, "admin.conf")
	env.Getenv = func(string) string { return "" }
	res := steps.Evaluate(context.Background(), env, s)
	if res.Status != steps.Pass {
		var failed []string
		for _, c := range res.Checks {
			if c.Status != checks.Pass {
				failed = append(failed, c.Name+": "+c.Message)
			}
		}
		t.Errorf("after its own commands the certs step is %s:\n%s", res.Status, strings.Join(failed, "\n"))
	}
}
