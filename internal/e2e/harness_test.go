package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/internal/proc"
	"github.com/kubetutor/kubetutor/internal/script"
	"github.com/kubetutor/kubetutor/steps"
)

// requireReal skips (or, under `make test`, fails) when the real components
// are not available.
func requireReal(t testing.TB, what string, ok bool) {
	t.Helper()
	if os.Getenv("KUBETUTOR_REAL") != "1" {
		// Real tests start components on the machine's shared ports: only
		// `make test` (or a caller holding the cluster lock) runs them.
		t.Skipf("skipping the real cluster test (KUBETUTOR_REAL unset); run it with `make test`")
	}
	if ok {
		return
	}
	if os.Getenv("KUBETUTOR_REAL") == "1" {
		t.Fatalf("real cluster test: %s (make test sets KUBETUTOR_REAL=1 and must provide it)", what)
	}
	t.Skipf("skipping the real cluster test: %s; run it with `make test`, which installs and builds what it needs", what)
}

// kubeBinDir is where `make kube-binaries` (kubetutor fetch --from-source) puts the Kubernetes binaries.
func kubeBinDir() string {
	if d := os.Getenv("KUBETUTOR_KUBE_BIN"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "kubetutor", "bin-v1.37.2")
}

// cluster is a work directory laid out as the lessons say, plus the
// components started in it.
type cluster struct {
	t     *testing.T
	dir   string
	env   *checks.Env
	procs []*proc.Process
	// extraEnv is added to the shell's environment.
	extraEnv []string
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	kb := kubeBinDir()
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"} {
		_, err := os.Stat(filepath.Join(kb, b))
		requireReal(t, fmt.Sprintf("%s not built in %s (make kube-binaries builds it)", b, kb), err == nil)
	}
	etcd, err := exec.LookPath("etcd")
	requireReal(t, "etcd not installed (apt install etcd-server)", err == nil)
	_, err = exec.LookPath("openssl")
	requireReal(t, "openssl not installed", err == nil)
	for _, port := range []string{"2379", "2380", "6443"} {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 200*time.Millisecond)
		if err == nil {
			c.Close()
			t.Fatalf("port %s is in use: stop the cluster running on this machine before the real test", port)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"} {
		if err := os.Symlink(filepath.Join(kb, b), filepath.Join(bin, b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(etcd, filepath.Join(bin, "etcd")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "certs"), 0o700); err != nil {
		t.Fatal(err)
	}
	env := checks.NewEnv(dir)
	env.Kubeconfig = filepath.Join(dir, "admin.conf")
	// Nothing of the node side exists in this test: make sure the machine's
	// own containerd or CNI files cannot leak into the verdicts.
	env.ContainerdAddress = filepath.Join(dir, "containerd", "containerd.sock")
	env.CNIConfDir = filepath.Join(dir, "cni", "net.d")
	env.CNIBinDirs = []string{filepath.Join(dir, "cni", "bin")}
	env.PathEnv = bin + ":/usr/sbin:/usr/bin:/sbin:/bin"
	env.Timeout = 5 * time.Second
	c := &cluster{t: t, dir: dir, env: env}
	t.Cleanup(c.stopAll)
	return c
}

func (c *cluster) shellEnv() []string {
	return append([]string{"PATH=" + c.env.PathEnv, "KUBECONFIG=" + c.env.Kubeconfig, "HOME=" + c.dir}, c.extraEnv...)
}

// sh runs a lesson's commands as a learner would type them.
func (c *cluster) sh(script string) string {
	c.t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), c.shellEnv()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("running\n%s\nfailed: %v\n%s", script, err, out)
	}
	return string(out)
}

// start starts a long-running component with the lesson's command line.
func (c *cluster) start(name, shell string) *proc.Process {
	c.t.Helper()
	p, err := proc.Start(proc.Spec{Name: name, Shell: shell, Dir: c.dir, Env: c.shellEnv(), LogPath: filepath.Join(c.dir, name+".log")})
	if err != nil {
		c.t.Fatal(err)
	}
	c.procs = append(c.procs, p)
	return p
}

func (c *cluster) stopAll() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		if err := c.procs[i].Stop(10 * time.Second); err != nil {
			c.t.Errorf("stop %s: %v", c.procs[i].Name, err)
		}
	}
}

// waitPass waits, event-driven, until a step passes; on failure it shows the
// last verdict and the component's last log lines.
func (c *cluster) waitPass(id string, p *proc.Process, timeout time.Duration) steps.Result {
	c.t.Helper()
	s, _, err := steps.Lookup(id)
	if err != nil {
		c.t.Fatal(err)
	}
	start := time.Now()
	res, err := steps.Watch(context.Background(), c.env, s, steps.WatchOptions{Timeout: timeout, Resync: 200 * time.Millisecond})
	if err != nil {
		logs := ""
		if p != nil {
			logs = "\nlast log lines of " + p.Name + ":\n" + p.Tail(30)
		}
		c.t.Fatalf("step %s: %v%s", id, err, logs)
	}
	c.t.Logf("step %s passed after %s", id, time.Since(start).Round(time.Millisecond))
	return res
}

// courseHost is the variant the control-plane walk types: the online
// commands (its Deployment names nginx; no Pod runs in that walk).
var courseHost = script.Set{"online": true}

// commandOf returns a step's commands for courseHost, verbatim.
func commandOf(t *testing.T, id string) string {
	t.Helper()
	s, _, err := steps.Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	return script.Text(s.CommandsFor(courseHost))
}
