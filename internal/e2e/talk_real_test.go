package e2e

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/internal/demo"
	"github.com/kubetutor/kubetutor/internal/images"
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
	sock  string // containerd's socket (its default: the talk runs plain `containerd`)
	state string
	procs []*proc.Process
	cmds  map[string]string // each component's command as last started
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
	if k.cmds == nil {
		k.cmds = map[string]string{}
	}
	k.cmds[name] = shell
	return p
}

// running is the component's process as last started.
func (k *talkRun) running(name string) *proc.Process {
	for i := len(k.procs) - 1; i >= 0; i-- {
		if k.procs[i].Name == name {
			return k.procs[i]
		}
	}
	k.t.Fatalf("%s was never started", name)
	return nil
}

// restart stops a component as the learner does (Ctrl-C twice in its
// terminal: it exits at once) and starts it with shell.
func (k *talkRun) restart(name, shell string) *proc.Process {
	k.t.Helper()
	if err := k.running(name).Stop(time.Second); err != nil {
		k.t.Fatalf("stop %s: %v", name, err)
	}
	return k.start(name, shell)
}

// restartExited starts again, with the same command, the control-plane
// components that exited while the API server was away (each gives up
// leadership, and exits, when it cannot renew its Lease): the logs lesson
// tells the learner to.
func (k *talkRun) restartExited() {
	k.t.Helper()
	for _, name := range []string{"kube-controller-manager", "kube-scheduler"} {
		if exited, _ := k.running(name).Exited(); exited {
			k.t.Logf("%s exited while the API server restarted; starting it again", name)
			k.start(name, k.cmds[name])
		}
	}
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
// asserts kubetutor's verdict on every step at every stage, through
// containerd, the kubelet and CNI. The node side adds only what this host
// needs (doctor): containerd's restrict_oom_score_adj and CNI bin dir, the
// kubelet's failCgroupV1: false, the offline images; where the talk's own
// command cannot work (its kubelet reads ./kubeconfig, moved to
// ~/.kube/config; its CNI is flannel, from the internet), the verdict must
// say what to do and the replay makes the learner's minimal fix.
func TestRealTalkReplay(t *testing.T) {
	kb := kubeBinDir()
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"} {
		_, err := os.Stat(filepath.Join(kb, b))
		requireReal(t, b+" not built in "+kb, err == nil)
	}
	etcd, err := exec.LookPath("etcd")
	requireReal(t, "etcd not installed (apt install etcd-server)", err == nil)
	_, err = exec.LookPath("openssl")
	requireReal(t, "openssl not installed", err == nil)
	requireReal(t, "the node side (containerd, kubelet) needs root", os.Geteuid() == 0)
	if _, err := os.Stat("/sys/class/net/cni0"); err == nil {
		t.Fatal("a cni0 bridge exists: stop the cluster running on this machine first")
	}
	for _, port := range []string{"2379", "2380", "6443", "10248", "10250", "10257", "10259"} {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 200*time.Millisecond); err == nil {
			c.Close()
			t.Fatalf("port %s is in use: stop the cluster running on this machine first", port)
		}
	}
	root := t.TempDir()
	k := &talkRun{t: t, kt: kubetutorBinary(t), dir: filepath.Join(root, "talk"), home: filepath.Join(root, "home"),
		sock: "/run/containerd/containerd.sock", state: filepath.Join(root, "state")}
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
	// kube-proxy is not the talk's: the learner follows the tools lesson
	// for it, as for the rest of act two.
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"} {
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

	k.nodeSide()
}

// nodeSide replays the talk's `containerd` and `./kubelet
// --kubeconfig=kubeconfig`, then CNI. Everything it adds to the host is
// removed when the test ends, also when it fails: the kubelet stopped, the
// CRI containers, shims, mounts, pod network namespaces, CNI iptables chains
// and cni0 removed (demo.CleanNode, the demo's own teardown), containerd
// stopped, and the files and directories it created in /etc and /var gone.
func (k *talkRun) nodeSide() {
	t := k.t
	dirs := []string{"/var/lib/kubelet", "/var/lib/containerd", "/run/containerd", "/var/lib/cni", "/run/netns",
		"/etc/cni/net.d", "/etc/containerd", "/var/log/pods", "/var/log/containers", "/etc/kubernetes"}
	restore := snapshotDirs(t, dirs)
	const containerdConf = "/etc/containerd/config.toml"
	oldConf, confErr := os.ReadFile(containerdConf)
	nProcs := len(k.procs)
	t.Cleanup(func() {
		// Before the procs' own cleanup (Cleanup runs last-in first-out):
		// the kubelet, then the containers while containerd still runs.
		for i := len(k.procs) - 1; i >= nProcs; i-- {
			if k.procs[i].Name == "containerd" {
				continue
			}
			if err := k.procs[i].Stop(10 * time.Second); err != nil {
				t.Errorf("stop %s: %v", k.procs[i].Name, err)
			}
		}
		var out strings.Builder
		if err := demo.CleanNode(context.Background(), k.sock, []string{"/var/lib/kubelet", "/run/containerd", "/var/lib/containerd"}, true, &out); err != nil {
			t.Errorf("clean the node side: %v\n%s", err, out.String())
		}
		for i := len(k.procs) - 1; i >= nProcs; i-- {
			if err := k.procs[i].Stop(10 * time.Second); err != nil {
				t.Errorf("stop %s: %v", k.procs[i].Name, err)
			}
		}
		// Once more without containerd: shims it left, their mounts.
		if err := demo.CleanNode(context.Background(), k.sock, []string{"/var/lib/kubelet", "/run/containerd", "/var/lib/containerd"}, true, &out); err != nil {
			t.Errorf("clean the node side: %v\n%s", err, out.String())
		}
		if left := iptablesLeft(); len(left) > 0 {
			t.Errorf("the node side's clean-up left iptables chains:\n%s", strings.Join(left, "\n"))
		}
		restore()
		if confErr == nil {
			if err := os.WriteFile(containerdConf, oldConf, 0o644); err != nil {
				t.Errorf("restore %s: %v", containerdConf, err)
			}
		}
		t.Logf("node side cleaned:\n%s", out.String())
	})

	// What this host needs for containerd (doctor): it drops
	// CAP_SYS_RESOURCE, and Debian's CNI plugins are in /usr/lib/cni.
	conf := "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  restrict_oom_score_adj = true\n"
	if _, err := os.Stat("/opt/cni/bin/bridge"); err != nil {
		conf += "  [plugins.\"io.containerd.grpc.v1.cri\".cni]\n    bin_dir = \"/usr/lib/cni\"\n"
	}
	if err := os.MkdirAll("/etc/containerd", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(containerdConf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := k.start("containerd", "containerd")
	k.waitPass("containerd", p)
	// No registry here: the course's offline images (what its containerd
	// lesson runs on such a machine).
	if out, err := exec.Command(k.kt, "images", "load").CombinedOutput(); err != nil {
		t.Fatalf("kubetutor images load: %v\n%s", err, out)
	}
	rep := k.expect("containerd", "node-registered", "No node has registered")
	wantMessage(t, rep, "kubelet", "kubelet-running", "fail", "kubelet is not running")

	// The talk's kubelet command: its kubeconfig is no longer in the
	// working directory (the talk moved it to ~/.kube/config), so the
	// kubelet exits. The verdict must say so and what to pass instead.
	p = k.start("kubelet", "./kubelet --kubeconfig=kubeconfig")
	deadline := time.Now().Add(30 * time.Second)
	for exited, _ := p.Exited(); !exited; exited, _ = p.Exited() {
		if time.Now().After(deadline) {
			t.Fatalf("the talk's ./kubelet --kubeconfig=kubeconfig still runs after 30s with no ./kubeconfig:\n%s", p.Tail(20))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("the talk's kubelet exited:\n%s", p.Tail(5))
	rep = k.expect("containerd", "node-registered", "No node has registered")
	kc := filepath.Join(k.home, ".kube", "config")
	if c := findCheck(rep, "kubelet", "kubelet-running"); c == nil || c.Status != "fail" || !strings.Contains(c.Message, "kubelet is not running") || !strings.Contains(c.Hint, "--kubeconfig="+kc) {
		t.Errorf("after the talk's kubelet exited: kubelet-running = %+v, want a failure saying it is not running, hinting --kubeconfig=%s", c, kc)
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		// On this host the kubelet stops on cgroup v1 before it reads its
		// kubeconfig; the hint must name that too.
		if c := findCheck(rep, "kubelet", "kubelet-running"); c == nil || !strings.Contains(c.Hint, "failCgroupV1: false") {
			t.Errorf("cgroup v1 host: kubelet-running hint %+v, want it to name failCgroupV1: false", c)
		}
	}

	// The learner's minimal fix: the kubeconfig they moved, and (this
	// host, doctor) a config allowing cgroup v1.
	k.sh("cat > kubelet.yaml <<EOF\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nfailCgroupV1: false\nEOF")
	p = k.start("kubelet", "./kubelet --kubeconfig=/root/.kube/config --config=kubelet.yaml")
	k.waitPass("kubelet", p)
	rep = k.expect("kubelet", "cni-config", "There is no CNI configuration in /etc/cni/net.d")
	wantMessage(t, rep, "kubelet", "kubelet-running", "pass", "kubelet is running")
	wantMessage(t, rep, "cni", "node-ready", "fail", "")
	wantMessage(t, rep, "cni", "pod-running", "fail", "")

	// The talk's CNI is flannel, applied from the internet: not here. The
	// course's bridge configuration, byte for byte as `show` prints it.
	cmd := exec.Command(k.kt, "show", "cni", "--commands")
	cmd.Env = append(os.Environ(), append(k.env(), "NO_COLOR=1")...)
	cmd.Dir = k.dir
	cni, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubetutor show cni --commands: %v", err)
	}
	k.sh(string(cni))
	// The talk's --image=nginx is :latest, pulled always: offline, the
	// node is Ready but the pod cannot start, and the verdict says why and
	// what to do.
	rep = k.waitCheck("cni", "pod-running", "fail", "ImagePull", p)
	if c := findCheck(rep, "cni", "pod-running"); !strings.Contains(c.Hint, "cannot be pulled") {
		t.Errorf("the talk's nginx:latest offline: pod-running hint %q, want it to say the image cannot be pulled", c.Hint)
	}
	wantMessage(t, rep, "cni", "node-ready", "pass", "")
	wantMessage(t, rep, "cni", "cni-config", "pass", "/etc/cni/net.d/10-bridge.conflist")
	_, cniIdx, _ := steps.Lookup("cni")
	assertVerdicts(t, "after CNI, with the talk's image", rep, cniIdx)
	// The learner's fix, as the hint says (and the course's offline
	// deployment lesson): the image `kubetutor images load` imported, with
	// its tag. `kubectl set image` would keep the pull policy Always.
	if c := findCheck(rep, "cni", "pod-running"); !strings.Contains(c.Hint, "kubectl create deployment nginx --image="+images.WorkloadImage) {
		t.Errorf("pod-running hint %q, want it to recreate the Deployment with %s", c.Hint, images.WorkloadImage)
	}
	k.sh("kubectl delete deployment nginx && kubectl create deployment nginx --image=" + images.WorkloadImage)
	k.waitPass("cni", p)
	// The talk ends here; act two starts from the API server the talk
	// started, which has no kubelet client certificate.
	rep = k.expect("cni", "kubelet-accepts-apiserver", "runs without --kubelet-client-certificate")
	wantMessage(t, rep, "logs", "pod-logs-readable", "fail", "the kubelet answered 401 Unauthorized")
	k.actTwo()
}

// actTwo: the learner who followed the talk goes on with the course's act
// two, adapting its commands to the talk's files (the certificate
// certs/server.crt, the kubeconfig ~/.kube/config, the minimal
// kubelet.yaml) as the verdicts' hints say, up to the talk's certificate
// failing at kube-proxy for lack of 10.0.0.1, and its fix: csr.conf's
// second IP and the talk's openssl lines again; the running API server
// serves the new file without a restart.
func (k *talkRun) actTwo() {
	t := k.t
	// logs: the API server's only certificate is the talk's one; the
	// learner adds the lesson's two flags to the talk's command.
	apiserver := k.cmds["kube-apiserver"] + ` \
--kubelet-client-certificate=certs/server.crt \
--kubelet-client-key=certs/server.key`
	p := k.restart("kube-apiserver", apiserver)
	k.waitPass("apiserver", p)
	k.restartExited()
	// The talk's kubelet.yaml has no x509 section: the kubelet trusts no
	// client certificate, and the verdict says where to add what.
	rep := k.waitCheck("logs", "kubelet-accepts-apiserver", "fail", "sets no authentication.x509.clientCAFile", p)
	if c := findCheck(rep, "logs", "kubelet-accepts-apiserver"); !strings.Contains(c.Hint, "clientCAFile: certs/ca.crt") || !strings.Contains(c.Hint, filepath.Join(k.dir, "kubelet.yaml")) {
		t.Errorf("kubelet-accepts-apiserver hint %q, want it to name %s and clientCAFile: certs/ca.crt", c.Hint, filepath.Join(k.dir, "kubelet.yaml"))
	}
	k.sh("cat >> kubelet.yaml <<EOF\nauthentication:\n  x509:\n    clientCAFile: certs/ca.crt\nEOF")
	p = k.restart("kubelet", k.cmds["kubelet"])
	k.waitPass("logs", p)
	rep = k.expect("logs", "service-cluster-ip", `no Service "nginx"`)
	wantMessage(t, rep, "logs", "pod-exec-works", "pass", "")

	// service: the lesson's command as it is.
	k.sh("kubectl expose deployment nginx --port 80")
	k.waitPass("service", p)
	k.expect("service", "kube-proxy-running", "kube-proxy is not running")

	// kube-proxy: the lesson's command with the talk's kubeconfig. Its
	// rules are removed when the test ends (kube-proxy --cleanup, as demo
	// down does), before the node side is cleaned.
	p = k.start("kube-proxy", `./kube-proxy \
  --kubeconfig=/root/.kube/config \
  --proxy-mode=iptables \
  --cluster-cidr=10.244.0.0/16 \
  --hostname-override=$(hostname) \
  --iptables-localhost-nodeports=false \
  --conntrack-max-per-core=0 \
  --conntrack-tcp-timeout-established=0 \
  --conntrack-tcp-timeout-close-wait=0`)
	t.Cleanup(func() {
		if err := k.running("kube-proxy").Stop(10 * time.Second); err != nil {
			t.Errorf("stop kube-proxy: %v", err)
		}
		if out, err := exec.Command(filepath.Join(k.dir, "kube-proxy"), "--cleanup").CombinedOutput(); err != nil {
			t.Errorf("kube-proxy --cleanup: %v\n%s", err, out)
		}
	})
	// The talk's certificate names 127.0.0.1 twice and not 10.0.0.1: the
	// kubernetes Service now reaches the API server, and a pod's client
	// refuses its certificate.
	rep = k.waitCheck("kube-proxy", "kubernetes-service-tls", "fail", "x509: certificate is valid for 127.0.0.1, 127.0.0.1, not 10.0.0.1", p)
	wantMessage(t, rep, "kube-proxy", "kube-proxy-running", "pass", "kube-proxy is running")
	wantMessage(t, rep, "kube-proxy", "service-answers", "pass", "")
	if c := findCheck(rep, "kube-proxy", "kubernetes-service-tls"); !strings.Contains(c.Hint, "IP:10.0.0.1") {
		t.Errorf("kubernetes-service-tls hint %q, want it to say to reissue the certificate with IP:10.0.0.1", c.Hint)
	}
	// The fix: the second IP of the talk's csr.conf becomes 10.0.0.1, the
	// talk's two openssl commands again.
	k.sh(`cd certs
sed -i 's/^IP.2 = 127.0.0.1$/IP.2 = 10.0.0.1/' csr.conf
openssl req -new -key server.key -out server.csr -config csr.conf
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key \
    -CAcreateserial -out server.crt -days 10000 \
    -extensions v3_ext -extfile csr.conf`)
	// kube-apiserver watches its --tls-cert-file: no restart, as the
	// hint and the troubleshooting entry say.
	k.waitPass("kube-proxy", p)
	rep = k.expect("kube-proxy", "coredns-ready", "There is no Deployment kube-system/coredns")
	wantMessage(t, rep, "certs", "server-cert-sans", "pass", "covers all 7 names")
}

// waitCheck polls `kubetutor check --all` until a check of a step has the
// status and a message containing want, and returns that report.
func (k *talkRun) waitCheck(step, check, status, want string, p *proc.Process) jsonReport {
	k.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		rep := k.check("check", "--all")
		c := findCheck(rep, step, check)
		if c != nil && c.Status == status && strings.Contains(c.Message, want) {
			return rep
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("step %s check %s = %+v after 90s, want %s saying %q\nlast log lines of %s:\n%s", step, check, c, status, want, p.Name, p.Tail(20))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// snapshotDirs records which of dirs exist and what they hold; the
// returned func removes whatever was added since (entries, or the whole
// directory when it did not exist).
func snapshotDirs(t *testing.T, dirs []string) func() {
	t.Helper()
	restore := snapshotEntries(dirs)
	return func() {
		for _, err := range restore() {
			t.Errorf("put back %v: %v", dirs, err)
		}
	}
}
