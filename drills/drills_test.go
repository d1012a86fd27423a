package drills

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/internal/proc"
	"github.com/kubetutor/kubetutor/steps"
)

// TestDrillsContent: every drill file reads and agrees with the course, no
// drill is named like a step, and every fix block is valid bash.
func TestDrillsContent(t *testing.T) {
	if err := Err(); err != nil {
		t.Fatal(err)
	}
	ds := All()
	if len(ds) < 10 {
		t.Fatalf("%d drills, want at least 10", len(ds))
	}
	for _, d := range ds {
		if slices.Contains(steps.IDs(), d.ID) {
			t.Errorf("drill %s has a step's ID: reports could not tell them apart", d.ID)
		}
		for _, b := range d.FixBlocks {
			if out, err := exec.Command("bash", "-n", "-c", b.Text).CombinedOutput(); err != nil {
				t.Errorf("drill %s, line %d: not valid bash: %v\n%s", d.ID, b.Line, err, out)
			}
		}
		if !strings.HasPrefix(d.FixHint(), "the fix: ") || len(d.FixHint()) < 20 {
			t.Errorf("drill %s: fix hint %q", d.ID, d.FixHint())
		}
	}
}

func TestFaultSpecValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec FaultSpec
		err  string
	}{
		{"none", FaultSpec{}, "exactly one"},
		{"two", FaultSpec{Stop: "kubelet", Taint: "a=b:NoExecute"}, "exactly one"},
		{"unknown component", FaultSpec{Stop: "kubelett"}, "unknown component"},
		{"bad taint", FaultSpec{Taint: "a=b"}, "key=value:Effect"},
		{"bad effect", FaultSpec{Taint: "a=b:Never"}, "NoExecute"},
		{"bad file", FaultSpec{Edit: &EditSpec{File: "hosts", Old: "a", New: "b"}}, "cni-config"},
		{"no change", FaultSpec{Edit: &EditSpec{File: "kubeconfig", Old: "a", New: "a"}}, "differ"},
		{"stop", FaultSpec{Stop: "kube-proxy"}, ""},
		{"taint", FaultSpec{Taint: "maintenance=planned:NoExecute"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.validate()
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err %v, want one saying %q", err, tc.err)
			}
		})
	}
}

// TestEditFaultRoundTrip: the edit keeps a copy, changes the file libcni
// picks, and restore puts the same bytes and mode back.
func TestEditFaultRoundTrip(t *testing.T) {
	conf := t.TempDir()
	orig := "{\n  \"name\": \"bridge\",\n  \"plugins\": [{\"type\": \"bridge\"}, {\"type\": \"portmap\"}]\n}\n"
	file := filepath.Join(conf, "10-bridge.conflist")
	if err := os.WriteFile(file, []byte(orig), 0o640); err != nil {
		t.Fatal(err)
	}
	// Not the file the runtime uses: later in lexical order.
	other := filepath.Join(conf, "99-other.conflist")
	if err := os.WriteFile(other, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	env := checks.NewEnv(t.TempDir())
	env.CNIConfDir = conf
	f := editFault{File: fileCNIConfig, Old: `"type": "bridge"`, New: `"type": "brigde"`}
	dir := t.TempDir()
	if err := f.Inject(context.Background(), env, dir); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(file)
	if !strings.Contains(string(got), `"type": "brigde"`) || strings.Count(string(got), "brigde") != 1 {
		t.Fatalf("after inject:\n%s", got)
	}
	if o, _ := os.ReadFile(other); string(o) != orig {
		t.Fatalf("the other file changed:\n%s", o)
	}
	if seen := f.Observe(env, dir); seen != "" {
		t.Fatalf("observed right after inject: %q", seen)
	}
	// The learner changes the file, but not back: the hint says so.
	if err := os.WriteFile(file, []byte(strings.Replace(string(got), "brigde", "bridge0", 1)), 0o640); err != nil {
		t.Fatal(err)
	}
	if seen := f.Observe(env, dir); !strings.Contains(seen, "not as it was before") || !strings.Contains(seen, "diff ") {
		t.Fatalf("observed after a wrong edit: %q", seen)
	}
	msg, err := f.Restore(context.Background(), env, dir)
	if err != nil {
		t.Fatal(err)
	}
	if seen := f.Observe(env, dir); seen != "" {
		t.Fatalf("observed after restore: %q", seen)
	}
	got, _ = os.ReadFile(file)
	fi, _ := os.Stat(file)
	if string(got) != orig || fi.Mode().Perm() != 0o640 {
		t.Fatalf("after restore (%s): mode %v\n%s", msg, fi.Mode().Perm(), got)
	}
	if msg, err := f.Restore(context.Background(), env, dir); err != nil || !strings.Contains(msg, "nothing to put back") {
		t.Fatalf("second restore: %q, %v", msg, err)
	}
	// A file without the lesson's text is left alone.
	if err := os.WriteFile(file, []byte(`{"name":"x","plugins":[{"type":"flannel"}]}`), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := f.Inject(context.Background(), env, t.TempDir()); err == nil || !strings.Contains(err.Error(), "cannot break it") {
		t.Fatalf("inject into another file: %v", err)
	}
}

func TestTaintFaultRoundTrip(t *testing.T) {
	ctx := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node1"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "keep", Effect: corev1.TaintEffectNoSchedule}}}}
	kube := fake.NewSimpleClientset(node)
	env := checks.NewEnv(t.TempDir())
	env.SetKube(kube)
	f := FaultSpec{Taint: "maintenance=planned:NoExecute"}.Fault()
	dir := t.TempDir()
	if err := f.Inject(ctx, env, dir); err != nil {
		t.Fatal(err)
	}
	n, _ := kube.CoreV1().Nodes().Get(ctx, "node1", metav1.GetOptions{})
	if len(n.Spec.Taints) != 2 || n.Spec.Taints[1].ToString() != "maintenance=planned:NoExecute" {
		t.Fatalf("taints after inject: %v", n.Spec.Taints)
	}
	if _, err := f.Restore(ctx, env, dir); err != nil {
		t.Fatal(err)
	}
	n, _ = kube.CoreV1().Nodes().Get(ctx, "node1", metav1.GetOptions{})
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != "keep" {
		t.Fatalf("taints after restore: %v", n.Spec.Taints)
	}
	// The wrong fix: the node deleted. Restore says what brings it back.
	if err := kube.CoreV1().Nodes().Delete(ctx, "node1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	msg, err := f.Restore(ctx, env, dir)
	if err != nil || !strings.Contains(msg, "start the kubelet again") {
		t.Fatalf("restore without the node: %q, %v", msg, err)
	}
}

func TestSelectorFaultRoundTrip(t *testing.T) {
	ctx := context.Background()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "nginx"}}}
	kube := fake.NewSimpleClientset(svc)
	env := checks.NewEnv(t.TempDir())
	env.SetKube(kube)
	f := FaultSpec{Selector: &SelectorSpec{Service: "nginx", Key: "app", Value: "ngnix"}}.Fault()
	dir := t.TempDir()
	if err := f.Inject(ctx, env, dir); err != nil {
		t.Fatal(err)
	}
	s, _ := kube.CoreV1().Services("default").Get(ctx, "nginx", metav1.GetOptions{})
	if s.Spec.Selector["app"] != "ngnix" {
		t.Fatalf("selector after inject: %v", s.Spec.Selector)
	}
	if _, err := f.Restore(ctx, env, dir); err != nil {
		t.Fatal(err)
	}
	s, _ = kube.CoreV1().Services("default").Get(ctx, "nginx", metav1.GetOptions{})
	if len(s.Spec.Selector) != 1 || s.Spec.Selector["app"] != "nginx" {
		t.Fatalf("selector after restore: %v", s.Spec.Selector)
	}
}

// startNamed starts sleep under a name of its own, so that no other
// process of the machine is mistaken for it.
func startNamed(t *testing.T, name string, env ...string) (*exec.Cmd, string) {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	bin := filepath.Join(t.TempDir(), name)
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	cmd := exec.Command(bin, "300")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, bin
}

// TestFreezeFaultStopsAndContinues: freeze leaves the process stopped
// (state T), restore lets it go on.
func TestFreezeFaultStopsAndContinues(t *testing.T) {
	cmd, _ := startNamed(t, "kt-drill-frz")
	env := checks.NewEnv(t.TempDir())
	f := freezeFault{name: "kt-drill-frz"}
	dir := t.TempDir()
	if err := f.Inject(context.Background(), env, dir); err != nil {
		t.Fatal(err)
	}
	state := func() string {
		data, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "stat"))
		s := string(data)
		return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
	}
	deadline := time.Now().Add(5 * time.Second)
	for state() != "T" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := state(); st != "T" {
		t.Fatalf("state after freeze: %s", st)
	}
	if _, err := f.Restore(context.Background(), env, dir); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for state() == "T" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := state(); st == "T" {
		t.Fatalf("state after restore: %s", st)
	}
	if seen := f.Observe(env, dir); !strings.Contains(seen, "runs again") {
		t.Fatalf("observed after SIGCONT: %q", seen)
	}
}

// TestStopFaultRestartsAsStarted: a stopped process is started again with
// its command line, directory and environment, in the background.
func TestStopFaultRestartsAsStarted(t *testing.T) {
	cmd, bin := startNamed(t, "kt-drill-test", "KT_DRILL_MARK=yes")
	work := cmd.Dir
	env := checks.NewEnv(t.TempDir())
	f := stopFault{name: "kt-drill-test"}
	dir := t.TempDir()
	if err := f.Inject(context.Background(), env, dir); err != nil {
		t.Fatal(err)
	}
	tbl := proc.Table{Dir: "/proc"}
	if tbl.Alive(cmd.Process.Pid) {
		t.Fatal("the process still runs after inject")
	}
	if seen := f.Observe(env, dir); seen != "" {
		t.Fatalf("observed while stopped: %q", seen)
	}
	msg, err := f.Restore(context.Background(), env, dir)
	if err != nil {
		t.Fatal(err)
	}
	if seen := f.Observe(env, dir); !strings.Contains(seen, "kt-drill-test runs again") {
		t.Fatalf("observed after restore: %q", seen)
	}
	e, ok := tbl.Live("kt-drill-test", nil)
	if !ok {
		t.Fatalf("not running after restore: %s", msg)
	}
	t.Cleanup(func() { _ = proc.StopPid(e.PID, 5*time.Second) })
	rec, err := readProcess(env, "kt-drill-test", e.PID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rec.Args, " ") != bin+" 300" || rec.Dir != work || !slices.Contains(rec.Env, "KT_DRILL_MARK=yes") {
		t.Fatalf("restarted as %+v", rec)
	}
	if !strings.Contains(msg, "kill ") || !strings.Contains(msg, bin+" 300") {
		t.Fatalf("restore's message does not say how to run it by hand:\n%s", msg)
	}
	if msg, err := f.Restore(context.Background(), env, dir); err != nil || !strings.Contains(msg, "nothing to start") {
		t.Fatalf("second restore: %q, %v", msg, err)
	}
}

// TestTrainerRefusesAnUnreadyCluster: start needs the drill's step to pass,
// and changes nothing when it does not.
func TestTrainerRefusesAnUnreadyCluster(t *testing.T) {
	env := checks.NewEnv(t.TempDir())
	env.PathEnv = t.TempDir() // no programs: not even the tools step passes
	env.Timeout = time.Second
	tr := NewTrainer(env)
	_, err := tr.Start(context.Background(), "scheduler-stopped")
	if err == nil || !strings.Contains(err.Error(), "needs a cluster that passes the scheduler step; no step passes yet") {
		t.Fatalf("start on an empty machine: %v", err)
	}
	if _, err := os.Stat(tr.Dir); !os.IsNotExist(err) {
		t.Fatalf("start left %s behind: %v", tr.Dir, err)
	}
	for _, f := range []func() error{
		func() error { _, err := tr.Status(context.Background(), ""); return err },
		func() error { _, _, _, err := tr.Hint(""); return err },
		func() error { _, err := tr.Restore(context.Background(), ""); return err },
	} {
		if err := f(); err == nil || !strings.Contains(err.Error(), "no drill is on") {
			t.Errorf("without a drill: %v", err)
		}
	}
	if _, err := tr.Status(context.Background(), "kubelet-stopped"); err == nil || !strings.Contains(err.Error(), "never started") {
		t.Errorf("status of a drill never started: %v", err)
	}
}

// TestHintsEndWithTheFix: hints are revealed one by one and the last is the
// fix; asking again keeps showing it.
func TestHintsEndWithTheFix(t *testing.T) {
	env := checks.NewEnv(t.TempDir())
	tr := NewTrainer(env)
	st := &State{Active: "service-selector", Drills: map[string]*Record{"service-selector": {Started: time.Now()}}}
	if err := tr.save(st); err != nil {
		t.Fatal(err)
	}
	d, _ := Lookup("service-selector")
	total := len(d.Hints) + 1
	for i := 1; i <= total+1; i++ {
		h, n, tot, err := tr.Hint("")
		if err != nil {
			t.Fatal(err)
		}
		want := min(i, total)
		if n != want || tot != total {
			t.Fatalf("hint %d: got %d of %d", i, n, tot)
		}
		if n == total && !strings.Contains(h, "kubectl patch service nginx") {
			t.Fatalf("last hint is not the fix: %s", h)
		}
	}
}
