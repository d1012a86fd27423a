package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/drills"
	"github.com/kubetutor/kubetutor/internal/demo"
	"github.com/kubetutor/kubetutor/internal/proc"
)

// TestRealDrills runs every drill on the cluster the demo built, twice: once
// fixed as the drill's text says (start: its checks fail as promised; the
// fix typed; drill status exits 0 and check --all passes), once undone by
// drill restore (check --all passes). Then the wrong fix of the taint
// drill, deleting the node, is graded not solved, naming what it broke.
func TestRealDrills(t *testing.T) {
	requireDemo(t)
	d := newDemoRun(t)
	t.Cleanup(func() { d.stopRestored(t) })
	if out, code := d.run("demo", "--auto", "--pause", "0", "--offline", "--bin-dir", kubeBinDir()); code != 0 {
		t.Fatalf("demo: exit %d\n%s", code, out)
	}
	l := demo.Layout{WorkDir: d.dir, ContainerdAddress: d.sock, CNIConfDir: checks.DefaultCNIConfDir}
	for _, dr := range drills.All() {
		t.Run(dr.ID, func(t *testing.T) {
			d := &demoRun{t: t, bin: d.bin, dir: d.dir, sock: d.sock}
			t.Cleanup(func() { d.recover(t, l) })
			start := time.Now()
			d.startDrill(t, dr)
			if out, code := d.run("drill", "status"); code != 1 || !strings.Contains(out, "Not solved yet") {
				t.Fatalf("drill status right after start: exit %d, want 1 and \"Not solved yet\":\n%s", code, out)
			}
			// What else the fault broke, for the drill's text to be checked
			// against.
			t.Logf("check --all right after drill start %s:\n%s", dr.ID, d.checkAll().failing())
			d.fix(t, l, dr)
			out := d.waitSolved(t, l, dr)
			if !strings.Contains(out, "Solved: drill "+dr.ID) || !strings.Contains(out, firstLine(dr.Explained)) {
				t.Fatalf("drill status once solved does not say so, or not what happened:\n%s", out)
			}
			waitComplete(t, d, "after fixing drill "+dr.ID, nil)
			fixed := time.Since(start)

			d.startDrill(t, dr)
			out, code := d.run("drill", "restore")
			if code != 0 {
				t.Fatalf("drill restore: exit %d\n%s", code, out)
			}
			var after func()
			if dr.Fault.Freeze != "" {
				after = func() { d.restartStopped(t, l, "after restoring drill "+dr.ID) }
			}
			waitComplete(t, d, "after drill restore "+dr.ID, after)
			// A component restore started is not the demo's: hand it back.
			if dr.Fault.Stop != "" {
				d.stopRestored(t)
				d.restart(t, l, dr.Fault.Stop)
				waitComplete(t, d, "after the demo took "+dr.Fault.Stop+" back", nil)
			}
			t.Logf("%s: fixed in %s, restored in %s", dr.ID, fixed.Round(time.Second), (time.Since(start) - fixed).Round(time.Second))
		})
	}
	// The instructor's live drill: break, show, fix, graded.
	for _, id := range []string{"service-selector", "scheduler-stopped"} {
		t.Run("demo drill "+id, func(t *testing.T) {
			d := &demoRun{t: t, bin: d.bin, dir: d.dir, sock: d.sock}
			out, code := d.run("demo", "drill", id, "--auto", "--pause", "0", "--offline", "--bin-dir", kubeBinDir())
			if code != 0 || !strings.Contains(out, "Solved: drill "+id) {
				t.Fatalf("demo drill %s: exit %d\n%s", id, code, out)
			}
			waitComplete(t, d, "after demo drill "+id, nil)
		})
	}
	t.Run("interrupted start", func(t *testing.T) {
		d := &demoRun{t: t, bin: d.bin, dir: d.dir, sock: d.sock}
		for _, after := range []time.Duration{200 * time.Millisecond, 700 * time.Millisecond, 1500 * time.Millisecond} {
			d.interruptStart(t, l, "kubelet-stopped", after)
		}
	})
	t.Run("wrong fix", func(t *testing.T) {
		d := &demoRun{t: t, bin: d.bin, dir: d.dir, sock: d.sock}
		dr, err := drills.Lookup("node-tainted")
		if err != nil {
			t.Fatal(err)
		}
		d.startDrill(t, dr)
		d.kubectl(t, "delete", "nodes", "--all")
		deadline := time.Now().Add(60 * time.Second)
		for {
			out, code := d.run("drill", "status")
			if code == 0 {
				t.Fatalf("deleting the node solved the taint drill:\n%s", out)
			}
			if strings.Contains(out, "node-registered") {
				t.Logf("graded:\n%s", out)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("drill status after deleting the node does not name node-registered:\n%s", out)
			}
			time.Sleep(time.Second)
		}
		if out, code := d.run("drill", "restore"); code != 0 || !strings.Contains(out, "start the kubelet again") {
			t.Fatalf("drill restore without the node: exit %d\n%s", code, out)
		}
		// As restore says: the kubelet registers its node when it starts.
		if pid, ok := demo.RunningPid(l, "kubelet"); ok {
			stopGroup(t, pid, syscall.SIGTERM, time.Minute)
		}
		d.restart(t, l, "kubelet")
		waitComplete(t, d, "after the kubelet registered its node again", nil)
	})
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// startDrill starts a drill and asserts that its checks now fail.
func (d *demoRun) startDrill(t *testing.T, dr drills.Drill) {
	t.Helper()
	out, code := d.run("drill", "start", dr.ID)
	if code != 0 {
		t.Fatalf("drill start %s: exit %d\n%s", dr.ID, code, out)
	}
	for _, c := range dr.Checks {
		if !strings.Contains(out, "✗ "+c+"\n") && !strings.Contains(out, "? "+c+"\n") {
			t.Fatalf("drill start %s: its check %s is not shown failing:\n%s", dr.ID, c, out)
		}
	}
	if !strings.Contains(out, dr.Symptom) {
		t.Fatalf("drill start %s: the symptom its text promises, %q, is not shown:\n%s", dr.ID, dr.Symptom, out)
	}
	if !strings.Contains(out, firstLine(dr.Situation)) {
		t.Fatalf("drill start %s does not tell the situation:\n%s", dr.ID, out)
	}
}

// fix applies the drill's documented fix as a learner types it: the step's
// commands again (the demo types them), or the drill's own blocks.
func (d *demoRun) fix(t *testing.T, l demo.Layout, dr drills.Drill) {
	t.Helper()
	if dr.Redo != "" {
		d.restart(t, l, dr.Fault.Stop)
		return
	}
	for _, b := range dr.FixBlocks {
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", demo.Substitute(l, b.Text))
		cmd.Dir = d.dir
		cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(d.dir, "admin.conf"), "PATH="+filepath.Join(d.dir, "bin")+":"+os.Getenv("PATH"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("drill %s's fix (line %d) failed: %v\n%s\n%s", dr.ID, b.Line, err, b.Text, out)
		}
	}
}

// waitSolved polls drill status until it exits 0. After a frozen
// component, the fix says to start what gave up its Lease meanwhile.
func (d *demoRun) waitSolved(t *testing.T, l demo.Layout, dr drills.Drill) string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if dr.Fault.Freeze != "" {
			d.restartStopped(t, l, "after drill "+dr.ID)
		}
		out, code := d.run("drill", "status")
		if code == 0 {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("drill %s not solved 90 s after its fix:\n%s", dr.ID, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// stopRestored stops the components drill restore started (their pids in
// drills/<id>/<name>.pid).
func (d *demoRun) stopRestored(t testing.TB) {
	pids, _ := filepath.Glob(filepath.Join(d.dir, "drills", "*", "*.pid"))
	for _, f := range pids {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && groupAlive(pid) {
			stopGroup(t.(*testing.T), pid, syscall.SIGTERM, time.Minute)
		}
		_ = os.Remove(f)
	}
}

// interruptStart sends SIGTERM to drill start after a delay and asserts
// that it left either the drill on, with what restore needs, or nothing
// changed; then it brings the cluster back.
func (d *demoRun) interruptStart(t *testing.T, l demo.Layout, id string, after time.Duration) {
	t.Helper()
	cmd := exec.Command(d.bin, d.args("drill", "start", id)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "KUBECONFIG=")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(after)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	state, _ := os.ReadFile(filepath.Join(d.dir, "drills", "state.json"))
	on := strings.Contains(string(state), `"active": "`+id+`"`)
	t.Logf("SIGTERM %s after start: drill on %t; it said:\n%s", after, on, out.String())
	if on {
		if _, err := os.Stat(filepath.Join(d.dir, "drills", id, "fault.json")); err != nil {
			t.Fatalf("drill %s is on after SIGTERM, but what restore needs is not saved: %v", id, err)
		}
		if out, code := d.run("drill", "restore", id); code != 0 {
			t.Fatalf("drill restore after SIGTERM: exit %d\n%s", code, out)
		}
	} else if _, ok := (proc.Table{Dir: "/proc"}).Live("kubelet", nil); !ok {
		t.Fatalf("SIGTERM %s after drill start: the drill is not on, yet the kubelet does not run:\n%s", after, out.String())
	}
	// Whatever a restore started is not the demo's: hand it back.
	d.stopRestored(t)
	if _, ok := demo.RunningPid(l, "kubelet"); !ok {
		if e, ok := (proc.Table{Dir: "/proc"}).Live("kubelet", nil); ok {
			stopGroup(t, e.PID, syscall.SIGTERM, time.Minute)
		}
		d.restart(t, l, "kubelet")
	}
	waitComplete(t, d, fmt.Sprintf("after SIGTERM %s into drill start", after), nil)
}

// recover undoes a drill a failed subtest left on and starts what it left
// stopped, so that the next drill starts from a whole cluster.
func (d *demoRun) recover(t *testing.T, l demo.Layout) {
	if !t.Failed() {
		return
	}
	out, code := d.run("drill", "reset")
	t.Logf("after the failure: drill reset: exit %d\n%s", code, out)
	d.stopRestored(t)
	d.restartStopped(t, l, "after a failed drill")
}
