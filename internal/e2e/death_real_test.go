package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubetutor/kubetutor/internal/demo"
)

// nodeLeaseWait bounds the wait for the kubelet's node Lease. The kubelet's
// lease controller tries first before its node is registered, fails to set
// the Lease's owner (the node), and tries again one renew interval later
// (a quarter of nodeLeaseDurationSeconds, 40 s: 10 s), so the Lease appears
// about 10 s after the kubelet starts.
const nodeLeaseWait = 45 * time.Second

// waitNodeLease waits until the kubelet's Lease exists in kube-node-lease
// and returns its name.
func (d *demoRun) waitNodeLease() string {
	d.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(d.dir, "admin.conf"))
	if err != nil {
		d.t.Fatalf("admin.conf: %v", err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		d.t.Fatalf("client: %v", err)
	}
	ctx := context.Background()
	var name string
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, nodeLeaseWait, true, func(ctx context.Context) (bool, error) {
		nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil || len(nodes.Items) == 0 {
			return false, nil
		}
		name = nodes.Items[0].Name
		_, err = kube.CoordinationV1().Leases("kube-node-lease").Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, nil
	})
	if err != nil {
		d.t.Fatalf("no Lease kube-node-lease/%s within %s: %v", name, nodeLeaseWait, err)
	}
	return name
}

// livenessBound is how soon a stopped component's step must fail (issue 8).
const livenessBound = 20 * time.Second

// checkStep runs `kubetutor check STEP -o json` and returns the step's
// status and the messages of its checks that did not pass.
func (d *demoRun) checkStep(id string) (string, []string) {
	d.t.Helper()
	s := d.stepReport(id)
	var msgs []string
	for _, c := range s.Checks {
		if c.Status != "pass" && c.Status != "warn" {
			msgs = append(msgs, c.Name+": "+c.Message)
		}
	}
	return s.Status, msgs
}

// stepReport is `check STEP -o json`'s verdict on the step.
func (d *demoRun) stepReport(id string) jsonStep {
	d.t.Helper()
	out, _ := d.run("check", id, "-o", "json")
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		d.t.Fatalf("kubetutor check %s -o json: %v\n%s", id, err, out)
	}
	for _, s := range rep.Steps {
		if s.ID == id {
			return s
		}
	}
	d.t.Fatalf("no step %s in %s", id, out)
	return jsonStep{}
}

// checkResult is the status and message of one check of a step.
func (d *demoRun) checkResult(id, name string) (string, string) {
	d.t.Helper()
	for _, c := range d.stepReport(id).Checks {
		if c.Name == name {
			return c.Status, c.Message
		}
	}
	d.t.Fatalf("no check %s in step %s", name, id)
	return "", ""
}

// TestRealComponentDeath builds the whole cluster with the demo, then stops
// each component in turn: its step must fail within the bound, naming the
// component as not running, and pass again once the demo restarts it.
func TestRealComponentDeath(t *testing.T) {
	requireDemo(t)
	d := newDemoRun(t)
	binDir := kubeBinDir()
	if out, code := d.run("demo", "--auto", "--pause", "0", "--offline", "--bin-dir", binDir); code != 0 {
		t.Fatalf("demo: exit %d\n%s", code, out)
	}
	if rep := d.checkAll(); rep.Current != lastStep() {
		t.Fatalf("after the demo: current %q", rep.Current)
	}
	l := demo.Layout{WorkDir: d.dir, ContainerdAddress: d.sock}
	// Stale effects: what stays true in the API after the component is gone.
	stale := map[string]string{"kubelet": "cni"}
	// The effect checks of a component's own step: once it is
	// stopped they warn that what they see is stale, rather than pass.
	staleEffect := map[string]string{"kube-scheduler": "pods-scheduled-or-attempted", "kube-controller-manager": "replicaset-created", "kubelet": "node-registered"}
	for _, c := range []demo.Component{
		{Name: "kube-scheduler", Step: "scheduler"},
		{Name: "kube-controller-manager", Step: "controller-manager"},
		{Name: "kubelet", Step: "kubelet"},
		{Name: "containerd", Step: "containerd"},
		{Name: "kube-apiserver", Step: "apiserver"},
		{Name: "etcd", Step: "etcd"},
	} {
		t.Run(c.Name, func(t *testing.T) {
			// The kubelet's verdict must rest on its node Lease ("last
			// seen alive … its node Lease"), not only on /healthz.
			lease := ""
			if c.Name == "kubelet" {
				lease = "node Lease kube-node-lease/" + d.waitNodeLease()
			}
			pid, ok := demo.RunningPid(l, c.Name)
			if !ok {
				t.Fatalf("%s does not run before the test", c.Name)
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatalf("kill %s (pid %d): %v", c.Name, pid, err)
			}
			stopped := time.Now()
			var msgs []string
			status := ""
			for time.Since(stopped) < livenessBound {
				if status, msgs = d.checkStep(c.Step); status == "fail" && strings.Contains(strings.Join(msgs, "\n"), "not running") {
					break
				}
				time.Sleep(250 * time.Millisecond)
			}
			if status != "fail" || !strings.Contains(strings.Join(msgs, "\n"), c.Name+" is not running") {
				t.Errorf("%s killed: step %s is %s within %s, want a failure saying %q:\n  %s", c.Name, c.Step, status, livenessBound, c.Name+" is not running", strings.Join(msgs, "\n  "))
			} else if m := strings.Join(msgs, "\n"); lease != "" && (!strings.Contains(m, "last seen alive") || !strings.Contains(m, lease)) {
				t.Errorf("%s killed: step %s does not say when its %s was last renewed:\n  %s", c.Name, c.Step, lease, strings.Join(msgs, "\n  "))
			} else {
				t.Logf("%s killed: step %s failed after %s: %s", c.Name, c.Step, time.Since(stopped).Round(time.Millisecond), msgs[0])
			}
			if name := staleEffect[c.Name]; name != "" {
				if st, m := d.checkResult(c.Step, name); st != "warn" || !strings.Contains(m, "That is stale, not proof: "+c.Name+" is not running") {
					t.Errorf("%s killed: check %s is %s %q, want a warning that it is stale", c.Name, name, st, m)
				}
			}
			if s := stale[c.Name]; s != "" {
				if st, m := d.checkStep(s); st != "fail" || !strings.Contains(strings.Join(m, "\n"), "stale") {
					t.Errorf("%s killed: step %s is %s, want a failure calling its facts stale: %v", c.Name, s, st, m)
				}
			}
			d.restart(t, l, c.Name)
			rep := waitComplete(t, d, "after restarting "+c.Name, func() { d.restartStopped(t, l, "after "+c.Name+" was down") })
			assertVerdicts(t, "after restarting "+c.Name, rep, len(rep.Steps))
		})
	}
}
