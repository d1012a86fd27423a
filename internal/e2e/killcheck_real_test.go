package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/internal/demo"
	"github.com/kubetutor/kubetutor/steps"
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

// groupAlive reports whether a live (not zombie) process of process group
// pgid remains.
func groupAlive(pgid int) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		stat, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(stat)
		end := strings.LastIndexByte(s, ')')
		if end < 0 {
			continue
		}
		// After the command: state, ppid, pgrp.
		if f := strings.Fields(s[end+1:]); len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}

// stopGroup signals a component the demo started (the leader of its own
// process group: the shell that typed the lesson's block and the program)
// and waits until every process of the group has exited, as Ctrl-C in the
// learner's terminal and the prompt coming back would.
func stopGroup(t *testing.T, pid int, sig syscall.Signal, within time.Duration) {
	t.Helper()
	if err := syscall.Kill(-pid, sig); err != nil {
		t.Fatalf("kill -%d -%d: %v", sig, pid, err)
	}
	deadline := time.Now().Add(within)
	for groupAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process group %d did not exit within %s of signal %d", pid, within, sig)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// killSignal is how each component is stopped: SIGTERM for those whose
// liveness rests on a Lease, which they release as they stop (the case a
// verdict got wrong), SIGKILL for the others, whose verdict is a direct
// probe (kube-apiserver takes a minute to drain on SIGTERM).
func killSignal(c demo.Component) syscall.Signal {
	if c.Lease != nil {
		return syscall.SIGTERM
	}
	return syscall.SIGKILL
}

// TestRealKillThenCheckAtOnce: a verdict is right the instant after `kill`.
// Each component is stopped (killSignal: the leader-elected ones and the
// kubelet with SIGTERM, so they release their Lease as on Ctrl-C) and, as
// soon as its processes are gone, `kubetutor check --all` must fail its step, naming it as not
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
	rounds := killRounds(t)
	for i := len(demo.Components) - 1; i >= 0; i-- {
		c := demo.Components[i]
		t.Run(c.Name, func(t *testing.T) {
			d := &demoRun{t: t, bin: d.bin, dir: d.dir, sock: d.sock}
			start := time.Now()
			for round := 1; round <= rounds; round++ {
				pid, ok := demo.RunningPid(l, c.Name)
				if !ok {
					t.Fatalf("round %d: %s does not run", round, c.Name)
				}
				stopGroup(t, pid, killSignal(c), 2*time.Minute)
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
				d.restart(t, l, c.Name)
				// Leader-elected components give up when they cannot renew
				// their Lease while the API server or etcd is down, and they
				// may do so seconds after the restart above (CI saw the
				// scheduler exit during the wait): start whatever has
				// stopped again on every poll, as a learner would.
				restartStopped := func() { d.restartStopped(t, l, fmt.Sprintf("round %d, after %s was down", round, c.Name)) }
				waitComplete(t, d, fmt.Sprintf("round %d after restarting %s", round, c.Name), restartStopped)
			}
			t.Logf("%s: %d rounds of signal %d, check at once, restart in %s", c.Name, rounds, killSignal(c), time.Since(start).Round(time.Second))
		})
	}
}

// lastStep is the course's last step: `check --all` names it current once
// the cluster is complete.
func lastStep() string {
	ids := steps.IDs()
	return ids[len(ids)-1]
}

// restart starts a stopped component again as the course left it: the demo
// performs every step that starts it, in course order.
func (d *demoRun) restart(t *testing.T, l demo.Layout, name string) {
	t.Helper()
	// In course order: the demo starts a step only once the steps before it
	// pass, so the component's own step comes first, then each step that
	// starts it again (kube-apiserver: apiserver, logs; the kubelet:
	// kubelet, cluster-dns).
	for _, step := range demo.StartingSteps(name) {
		args := []string{"demo", "--auto", "--pause", "0", "--offline", "--bin-dir", kubeBinDir(), "--from", step, "--to", step}
		out, code := d.run(args...)
		if code != 0 {
			// kube-controller-manager exits when the API server it has just
			// won its Lease from goes away while it builds its controllers
			// (the logs step restarts kube-apiserver a second after the
			// apiserver step started it: CI saw "Error building
			// controllers"). Start what stopped, as a learner would, and
			// the step once more.
			t.Logf("restart %s: demo --from %s exited %d; starting what stopped and trying once more", name, step, code)
			d.restartStopped(t, l, "restart of "+name)
			out, code = d.run(args...)
		}
		if code != 0 {
			t.Fatalf("restart %s: demo --from %s --to %s: exit %d\n%s", name, step, step, code, out)
		}
	}
}

// restartStopped starts again, in course order, every component of the
// demo that no longer runs.
func (d *demoRun) restartStopped(t *testing.T, l demo.Layout, when string) {
	t.Helper()
	for _, c := range demo.Components {
		if _, ok := demo.RunningPid(l, c.Name); !ok {
			t.Logf("%s: %s stopped; starting it again", when, c.Name)
			d.restart(t, l, c.Name)
		}
	}
}

// waitComplete waits until every step passes again, calling each (if
// given) before every poll, and returns the last report.
func waitComplete(t *testing.T, d *demoRun, when string, each func()) jsonReport {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if each != nil {
			each()
		}
		rep := d.checkAll()
		if rep.Current == lastStep() {
			return rep
		}
		if time.Now().After(deadline) {
			assertVerdicts(t, when, rep, len(rep.Steps))
			t.FailNow()
			return rep
		}
		time.Sleep(200 * time.Millisecond)
	}
}
