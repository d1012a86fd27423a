package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/internal/cli"
	"github.com/kubetutor/kubetutor/internal/iostreams"
	"github.com/kubetutor/kubetutor/steps"
)

// expectVerdicts runs every step's checks and asserts that exactly the steps
// up to and including last pass, and that the step after it fails on the
// named check with an explanation containing want.
func (c *cluster) expectVerdicts(last, nextCheck, want string) steps.Report {
	c.t.Helper()
	rep, err := steps.Run(context.Background(), c.env, steps.RunOptions{Mode: steps.Every})
	if err != nil {
		c.t.Fatal(err)
	}
	_, lastIdx, err := steps.Lookup(last)
	if err != nil {
		c.t.Fatal(err)
	}
	for i, r := range rep.Steps {
		wantStatus := steps.Fail
		if i <= lastIdx {
			wantStatus = steps.Pass
		}
		if r.Status != wantStatus {
			c.t.Errorf("after step %s: step %s is %s, want %s; checks: %s", last, r.ID, r.Status, wantStatus, describe(r))
		}
	}
	if rep.Current != last {
		c.t.Errorf("after step %s: current = %q", last, rep.Current)
	}
	if lastIdx+1 < len(rep.Steps) {
		next := rep.Steps[lastIdx+1]
		found := false
		for _, ch := range next.Checks {
			if ch.Name == nextCheck {
				found = true
				if ch.Status != checks.Fail || !strings.Contains(ch.Message, want) {
					c.t.Errorf("after step %s: next step %s check %s = %s %q, want fail containing %q", last, next.ID, nextCheck, ch.Status, ch.Message, want)
				}
				if ch.Hint == "" {
					c.t.Errorf("after step %s: check %s fails without a hint", last, nextCheck)
				}
			}
		}
		if !found {
			c.t.Errorf("after step %s: next step %s has no check %s: %s", last, next.ID, nextCheck, describe(next))
		}
	}
	return rep
}

func describe(r steps.Result) string {
	var b strings.Builder
	for _, ch := range r.Checks {
		b.WriteString("\n  " + string(ch.Status) + " " + ch.Name + ": " + ch.Message)
	}
	return b.String()
}

func checkMessage(t *testing.T, r steps.Result, name, want string) {
	t.Helper()
	for _, ch := range r.Checks {
		if ch.Name == name {
			if !strings.Contains(ch.Message, want) {
				t.Errorf("step %s check %s: message %q does not contain %q", r.ID, name, ch.Message, want)
			}
			return
		}
	}
	t.Errorf("step %s has no check %s", r.ID, name)
}

// TestRealCourse walks the talk on real components, from the tools to
// FailedScheduling, and asserts at every stage the verdict of every step.
func TestRealCourse(t *testing.T) {
	c := newCluster(t)

	// tools: the binaries are in bin/; nothing else exists.
	c.expectVerdicts("tools", "cert-files", "Missing in")

	// certs: the lesson's own openssl and kubectl commands, unchanged.
	c.sh(commandOf(t, "certs"))
	c.expectVerdicts("certs", "etcd-healthy", "connection refused")

	etcd := c.start("etcd", commandOf(t, "etcd"))
	c.waitPass("etcd", etcd, 30*time.Second)
	c.expectVerdicts("etcd", "apiserver-ready", "connection refused")

	apiserver := c.start("kube-apiserver", commandOf(t, "apiserver"))
	c.waitPass("apiserver", apiserver, 90*time.Second)
	rep := c.expectVerdicts("apiserver", "deployment-exists", `no Deployment "nginx"`)
	checkMessage(t, rep.Steps[3], "apiserver-ready", "v1.37.2")

	t.Run("bad kubeconfigs against the real apiserver", func(t *testing.T) {
		testBadKubeconfigs(t, c)
	})

	c.sh(commandOf(t, "deployment"))
	rep = c.expectVerdicts("deployment", "replicaset-created", "has no ReplicaSet")
	checkMessage(t, rep.Steps[4], "deployment-exists", "no ReplicaSet yet. That is expected now")

	cm := c.start("kube-controller-manager", commandOf(t, "controller-manager"))
	res := c.waitPass("controller-manager", cm, 90*time.Second)
	checkMessage(t, res, "pods-created", "with no node. That is expected now")
	c.expectVerdicts("controller-manager", "pods-scheduled-or-attempted", "no scheduler has looked at it")

	sched := c.start("kube-scheduler", commandOf(t, "scheduler"))
	res = c.waitPass("scheduler", sched, 90*time.Second)
	checkMessage(t, res, "pods-scheduled-or-attempted", "no nodes available to schedule pods")
	checkMessage(t, res, "pods-scheduled-or-attempted", "PodScheduled=False")
	c.expectVerdicts("scheduler", "containerd-running", "no socket")

	// The same verdict through the command line, as JSON.
	stdio, out, errOut := iostreams.Test("")
	f := &cli.Factory{IO: stdio}
	code := cli.Execute(context.Background(), f, []string{"check", "-o", "json",
		"--workdir", c.dir, "--kubeconfig", c.env.Kubeconfig,
		"--containerd-address", c.env.ContainerdAddress, "--state-dir", t.TempDir()})
	if code != 1 {
		t.Errorf("kubetutor check: exit %d, want 1 (the containerd step fails); stderr: %s", code, errOut)
	}
	var got struct {
		Current string `json:"current"`
		Steps   []struct {
			ID, Status string
		} `json:"steps"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("kubetutor check -o json: %v\n%s", err, out)
	}
	if got.Current != "scheduler" || got.Steps[7].ID != "containerd" || got.Steps[7].Status != "fail" || got.Steps[8].Status != "skip" {
		t.Errorf("kubetutor check -o json: current %q, steps %+v", got.Current, got.Steps)
	}

	// kubectl agrees with what the checks said.
	kubectl := exec.Command(filepath.Join(c.dir, "bin", "kubectl"), "--kubeconfig", c.env.Kubeconfig, "get", "events", "--field-selector", "reason=FailedScheduling", "-o", "name")
	if out, err := kubectl.CombinedOutput(); err != nil || !bytes.Contains(out, []byte("event/nginx-")) {
		t.Errorf("kubectl get events: %v: %s", err, out)
	}
}

// testBadKubeconfigs points the checks at the real API server through
// broken kubeconfigs and asserts each diagnosis.
func testBadKubeconfigs(t *testing.T, c *cluster) {
	dir := t.TempDir()
	c.sh(`cd ` + dir + ` &&
openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.crt -subj /CN=other-ca -days 1 2>/dev/null &&
openssl req -newkey rsa:2048 -nodes -keyout other.key -out other.csr -subj /CN=intruder 2>/dev/null &&
openssl x509 -req -in other.csr -CA other-ca.crt -CAkey other-ca.key -CAcreateserial -days 1 -out other.crt 2>/dev/null`)
	good, err := clientcmd.LoadFromFile(c.env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := readFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name   string
		mutate func(cfg *clientcmdConfig)
		want   string
	}{
		{"name not in the SANs", func(cfg *clientcmdConfig) { cfg.Clusters["local-apiserver"].Server = "https://localhost:6443" }, `not valid for "localhost"`},
		{"another CA", func(cfg *clientcmdConfig) {
			cfg.Clusters["local-apiserver"].CertificateAuthorityData = read("other-ca.crt")
		}, "unknown authority"},
		{"client certificate of another CA", func(cfg *clientcmdConfig) {
			cfg.AuthInfos["admin"].ClientCertificateData = read("other.crt")
			cfg.AuthInfos["admin"].ClientKeyData = read("other.key")
		}, "401 Unauthorized"},
		{"nothing listening", func(cfg *clientcmdConfig) { cfg.Clusters["local-apiserver"].Server = "https://127.0.0.1:6444" }, "connection refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good.DeepCopy()
			tc.mutate(cfg)
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".conf")
			if err := clientcmd.WriteToFile(*cfg, path); err != nil {
				t.Fatal(err)
			}
			env := checks.NewEnv(c.dir)
			env.Kubeconfig = path
			r := checks.Run(context.Background(), env, checks.APIServerReady{})
			if r.Status != checks.Fail || !strings.Contains(r.Message, tc.want) || r.Hint == "" {
				t.Errorf("apiserver-ready = %s %q (hint %q), want a failure containing %q", r.Status, r.Message, r.Hint, tc.want)
			}
		})
	}
}
