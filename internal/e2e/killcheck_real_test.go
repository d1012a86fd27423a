package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/internal/demo"
)

// killRounds is how many times TestRealKillThenCheckAtOnce stops and
// restarts each component (KUBETUTOR_KILL_ROUNDS overrides, for a quick run
// by hand).
func killRounds(t *testing.T) int {
	if v := os.Getenv("KUBETUTOR_KILL_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("KUBETUTOR_KILL_ROUNDS=%q is not a positive number", v)
		}
		return n
	}
	return 20
}

// waitExit waits until pid has exited (or is a zombie), as `kill PID; wait`
// would in the learner's shell.
func waitExit(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if s := string(stat); strings.Contains(s, ") Z ") || strings.Contains(s, ") X ") {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("pid %d did not exit within %s of SIGTERM", pid, within)
}

// TestRealKillThenCheckAtOnce: a verdict is right the instant after `kill`.
// Each component is stopped with SIGTERM (so the leader-elected ones
// release their Lease, as they do on Ctrl-C) and, as soon as its process is
// gone, `kubetutor check --all` must fail its step, naming it as not
// running, and must not say the cluster is complete. Then the demo starts it
// again and the whole course passes. Each round repeats this.
func TestRealKillThenCheckAtOnce(t *testing.T) {
	requireDemo(t)
	d := newDemoRun(t)
	binDir := kubeBinDir()
	if out, code := d.run("demo", "--auto", "--pause", "0", "--offline", "--bin-dir", binDir); code != 0 {
		t.Fatalf("demo: exit %d\n%s", code, out)
	}
	l := demo.Layout{WorkDir: d.dir, ContainerdAddress: d.sock}
	restart := func(step string) {
		t.Helper()
		if out, code := d.run("demo", "--auto", "--pause", "0", "--offline", "--bin-dir", binDir, "--from", step, "--to", step); code != 0 {
			t.Fatalf("restart %s: exit %d\n%s", step, code, out)
		}
	}
	rounds := killRounds(t)
	for i := len(demo.Components) - 1; i >= 0; i-- {
		c := demo.Components[i]
		t.Run(c.Name, func(t *testing.T) {
			start := time.Now()
			for round := 1; round <= rounds; round++ {
				pid, ok := demo.RunningPid(l, c.Name)
				if !ok {
					t.Fatalf("round %d: %s does not run", round, c.Name)
				}
				if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
					t.Fatalf("kill %s (pid %d): %v", c.Name, pid, err)
				}
				waitExit(t, pid, 2*time.Minute)
				rep := d.checkAll()
				var step jsonStep
				for _, s := range rep.Steps {
					if s.ID == c.Step {
						step = s
					}
				}
				var msgs []string
				for _, ch := range step.Checks {
					msgs = append(msgs, ch.Name+" "+ch.Status+": "+ch.Message)
				}
				if step.Status != "fail" || !strings.Contains(strings.Join(msgs, "\n"), c.Name+" is not running") {
					t.Fatalf("round %d: at once after %s exited, step %s is %q, want a failure saying %q:\n  %s", round, c.Name, c.Step, step.Status, c.Name+" is not running", strings.Join(msgs, "\n  "))
				}
				if rep.Current == rep.Steps[len(rep.Steps)-1].ID {
					t.Fatalf("round %d: at once after %s exited, check says the cluster is complete", round, c.Name)
				}
				restart(c.Step)
				// Leader-elected components may give up while the API server
				// or etcd is down: start them again, as a learner would.
				for _, dep := range demo.Components {
					if _, ok := demo.RunningPid(l, dep.Name); !ok {
						restart(dep.Step)
					}
				}
				waitComplete(t, d, fmt.Sprintf("round %d after restarting %s", round, c.Name))
			}
			t.Logf("%s: %d rounds of SIGTERM, check at once, restart in %s", c.Name, rounds, time.Since(start).Round(time.Second))
		})
	}
}

// waitComplete waits until every step passes again.
func waitComplete(t *testing.T, d *demoRun, when string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		rep := d.checkAll()
		if rep.Current == rep.Steps[len(rep.Steps)-1].ID {
			return
		}
		if time.Now().After(deadline) {
			assertVerdicts(t, when, rep, len(rep.Steps))
			t.FailNow()
		}
		time.Sleep(200 * time.Millisecond)
	}
}
