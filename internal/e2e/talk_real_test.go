package e2e

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/internal/proc"
	"github.com/kubetutor/kubetutor/steps"
)

// talkRun is a learner who follows the talk (its commands, its order, its
// file names) in a directory of their own, with kubetutor checking along.
type talkRun struct {
	t     *testing.T
	kt    string // the kubetutor binary
	dir   string // the talk's working directory
	home  string // the learner's HOME: the talk's /root
	path  string // PATH: kubectl and the shell's tools
	sock  string // containerd's socket (none runs in this test)
	state string
	procs []*proc.Process
}

// talkCommand is the talk's text with /root/ (the talk runs as root) mapped
// to the test's own HOME, so that nothing outside the test's directories is
// touched. It is the only change made to the talk's commands.
func (k *talkRun) talkCommand(s string) string { return strings.ReplaceAll(s, "/root/", k.home+"/") }

func (k *talkRun) env() []string {
	return []string{"PATH=" + k.path, "HOME=" + k.home, "KUBECONFIG="}
}

func (k *talkRun) sh(script string) {
	k.t.Helper()
	cmd := exec.Command("bash", "-c", k.talkCommand(script))
	cmd.Dir = k.dir
	cmd.Env = append(os.Environ(), k.env()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		k.t.Fatalf("running the talk's\n%s\nfailed: %v\n%s", script, err, out)
	}
}

func (k *talkRun) start(name, shell string) *proc.Process {
	k.t.Helper()
	p, err := proc.Start(proc.Spec{Name: name, Shell: k.talkCommand(shell), Dir: k.dir, Env: k.env(), LogPath: filepath.Join(k.state, name+".log")})
	if err != nil {
		k.t.Fatal(err)
	}
	k.procs = append(k.procs, p)
	return p
}

// check runs kubetutor as the learner would, in the talk's directory with no
// --workdir, --kubeconfig or KUBECONFIG: it must find everything itself.
func (k *talkRun) check(args ...string) jsonReport {
	k.t.Helper()
	cmd := exec.Command(k.kt, append(args, "-o", "json", "--containerd-address", k.sock, "--state-dir", k.state)...)
	cmd.Dir = k.dir
	cmd.Env = append(os.Environ(), append(k.env(), "NO_COLOR=1")...)
	out, _ := cmd.Output()
	var rep jsonReport
	if err := json.Unmarshal(out, &rep); err != nil {
		k.t.Fatalf("kubetutor %v: %v\n%s", args, err, out)
	}
	return rep
}

// expect asserts every step's verdict: those up to last pass, the others
// fail; the next step fails on check with a message containing want.
func (k *talkRun) expect(last, check, want string) jsonReport {
	k.t.Helper()
	rep := k.check("check", "--all")
	_, lastIdx, _ := steps.Lookup(last)
	assertVerdicts(k.t, "after the talk's "+last+" commands", rep, lastIdx+1)
	if lastIdx+1 < len(rep.Steps) {
		next := rep.Steps[lastIdx+1].ID
		if c := findCheck(rep, next, check); c == nil || c.Status != "fail" || !strings.Contains(c.Message, want) || c.Hint == "" {
			k.t.Errorf("after the talk's %s commands: step %s check %s = %+v, want a failure with a hint saying %q", last, next, check, c, want)
		}
	}
	return rep
}

// waitPass polls `kubetutor check STEP` until it passes.
func (k *talkRun) waitPass(id string, p *proc.Process) {
	k.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		rep := k.check("check", id)
		for _, s := range rep.Steps {
			if s.ID == id && s.Status == "pass" {
				return
			}
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("step %s did not pass in 90s: %+v\nlast log lines of %s:\n%s", id, rep, p.Name, p.Tail(20))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// wantMessage asserts one check's status and a phrase of its message.
func wantMessage(t *testing.T, rep jsonReport, step, check, status, want string) {
	t.Helper()
	c := findCheck(rep, step, check)
	if c == nil || c.Status != status || !strings.Contains(c.Message, want) {
		t.Errorf("step %s check %s = %+v, want %s saying %q", step, check, c, status, want)
	}
}

// TestRealTalkReplay types the talk's own commands, in its order and with its
// file names (binaries in the working directory, etcd in etcd/, the
// certificates of its csr.conf, the kubeconfig moved to ~/.kube/config), and
// asserts kubetutor's verdict on every step at every stage, up to the
// scheduler (the node side needs root and this host's adjustments; the demo
// tests cover it).
func TestRealTalkReplay(t *testing.T) {
	kb := kubeBinDir()
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kubectl"} {
		_, err := os.Stat(filepath.Join(kb, b))
		requireReal(t, b+" not built in "+kb, err == nil)
	}
	etcd, err := exec.LookPath("etcd")
	requireReal(t, "etcd not installed (apt install etcd-server)", err == nil)
	_, err = exec.LookPath("openssl")
	requireReal(t, "openssl not installed", err == nil)
	for _, port := range []string{"2379", "2380", "6443", "10257", "10259"} {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 200*time.Millisecond); err == nil {
			c.Close()
			t.Fatalf("port %s is in use: stop the cluster running on this machine first", port)
		}
	}
	root := t.TempDir()
	k := &talkRun{t: t, kt: kubetutorBinary(t), dir: filepath.Join(root, "talk"), home: filepath.Join(root, "home"),
		sock: filepath.Join(root, "containerd.sock"), state: filepath.Join(root, "state")}
	bin := filepath.Join(root, "bin") // where the learner's kubectl is
	for _, d := range []string{k.dir, k.home, bin, k.state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	k.path = bin + ":/usr/sbin:/usr/bin:/sbin:/bin"
	t.Cleanup(func() {
		for i := len(k.procs) - 1; i >= 0; i-- {
			if err := k.procs[i].Stop(10 * time.Second); err != nil {
				t.Errorf("stop %s: %v", k.procs[i].Name, err)
			}
		}
	})

	// Nothing yet.
	rep := k.check("check", "--all")
	assertVerdicts(t, "before anything", rep, 0)

	// The talk downloads the binaries into its directory (curl -LO) and
	// extracts etcd into etcd/; kubectl is the learner's own, on PATH.
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet"} {
		if err := os.Symlink(filepath.Join(kb, b), filepath.Join(k.dir, b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(k.dir, "etcd"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(etcd, filepath.Join(k.dir, "etcd", "etcd")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(kb, "kubectl"), filepath.Join(bin, "kubectl")); err != nil {
		t.Fatal(err)
	}
	rep = k.expect("tools", "cert-files", "Missing in")
	wantMessage(t, rep, "tools", "binary-kube-apiserver", "pass", "(in the work dir)")
	wantMessage(t, rep, "tools", "binary-etcd", "pass", "(in the work dir's etcd/)")

	// The talk's certificates and kubeconfig, verbatim (checks/testdata/talk-certs.sh),
	// then its `mkdir /root/.kube; mv kubeconfig /root/.kube/config`.
	script, err := os.ReadFile(filepath.Join("..", "..", "checks", "testdata", "talk-certs.sh"))
	if err != nil {
		t.Fatal(err)
	}
	k.sh(string(script))
	k.sh("mkdir /root/.kube\nmv kubeconfig /root/.kube/config")
	rep = k.expect("certs", "etcd-healthy", "etcd is not running")
	wantMessage(t, rep, "certs", "server-cert-sans", "warn", "but not 10.0.0.1. Nothing needs it yet")
	wantMessage(t, rep, "certs", "kubeconfig", "pass", filepath.Join(k.home, ".kube", "config"))
	wantMessage(t, rep, "certs", "kubeconfig-client-cert", "pass", `user "127.0.0.1" in groups BB`)

	p := k.start("etcd", "./etcd/etcd")
	k.waitPass("etcd", p)
	k.expect("etcd", "apiserver-ready", "kube-apiserver is not running")

	p = k.start("kube-apiserver", `./kube-apiserver --etcd-servers http://localhost:2379 \
--service-account-key-file=certs/service-account-key.pem \
--service-account-signing-key-file=certs/service-account-key.pem \
--service-account-issuer=api \
--tls-cert-file=certs/server.crt \
--tls-private-key-file=certs/server.key \
--client-ca-file=certs/ca.crt`)
	k.waitPass("apiserver", p)
	rep = k.expect("apiserver", "deployment-exists", `no Deployment "nginx"`)
	wantMessage(t, rep, "apiserver", "apiserver-ready", "pass", "kube-apiserver v1.37.2 at https://127.0.0.1:6443 is ready")

	k.sh("kubectl create deployment nginx --image=nginx")
	k.expect("deployment", "replicaset-created", "has no ReplicaSet")

	p = k.start("kube-controller-manager", "./kube-controller-manager --kubeconfig=/root/.kube/config  ")
	k.waitPass("controller-manager", p)
	k.expect("controller-manager", "pods-scheduled-or-attempted", "no scheduler has looked at it")

	p = k.start("kube-scheduler", "./kube-scheduler --kubeconfig=/root/.kube/config ")
	k.waitPass("scheduler", p)
	rep = k.expect("scheduler", "containerd-running", "containerd is not running")
	wantMessage(t, rep, "scheduler", "pods-scheduled-or-attempted", "pass", "no nodes available to schedule pods")
	wantMessage(t, rep, "scheduler", "kube-scheduler-running", "pass", "kube-scheduler is running")
}
