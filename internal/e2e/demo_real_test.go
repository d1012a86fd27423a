package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/internal/host"
	"github.com/kubetutor/kubetutor/internal/script"
	"github.com/kubetutor/kubetutor/steps"
)

// demoRun runs the kubetutor binary against a demo work dir.
type demoRun struct {
	t    testing.TB
	bin  string
	dir  string
	sock string
}

func (d *demoRun) args(a ...string) []string {
	return append(a, "--workdir", d.dir, "--kubeconfig", filepath.Join(d.dir, "admin.conf"), "--containerd-address", d.sock,
		"--state-dir", filepath.Join(d.dir, "state"), "--timeout", "5s")
}

func (d *demoRun) run(a ...string) (string, int) {
	d.t.Helper()
	cmd := exec.Command(d.bin, d.args(a...)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "KUBECONFIG=")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		d.t.Fatalf("run kubetutor %v: %v", a, err)
	}
	return string(out), code
}

// kubectl runs the work dir's bin/kubectl with the demo's kubeconfig, as
// the learner's shell does; a failure fails the test.
func (d *demoRun) kubectl(t testing.TB, a ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(d.dir, "bin", "kubectl"), a...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(d.dir, "admin.conf"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("kubectl %s: %v\n%s", strings.Join(a, " "), err, out)
	}
	return string(out)
}

type jsonReport struct {
	Current string     `json:"current"`
	Steps   []jsonStep `json:"steps"`
}

type jsonStep struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Checks []struct {
		Name, Status, Message, Hint string
	} `json:"checks"`
}

// failing lists the checks that do not pass, one per line, to say why a
// step is not done.
func (r jsonReport) failing() string {
	var b strings.Builder
	for _, s := range r.Steps {
		for _, c := range s.Checks {
			if c.Status != "pass" {
				fmt.Fprintf(&b, "  %s/%s %s: %s\n", s.ID, c.Name, c.Status, c.Message)
			}
		}
	}
	return b.String()
}

func (d *demoRun) checkAll() jsonReport {
	d.t.Helper()
	out, _ := d.run("check", "--all", "-o", "json")
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		d.t.Fatalf("kubetutor check --all -o json: %v\n%s", err, out)
	}
	return rep
}

// The explanation each step's failure must give just before the demo
// performs it: the next step failing "with its expected explanation".
var demoExpectations = map[string]struct{ check, want string }{
	"tools":              {"binary-kube-apiserver", "is not in"},
	"certs":              {"cert-files", "Missing in"},
	"etcd":               {"etcd-healthy", "connection refused"},
	"apiserver":          {"apiserver-ready", "connection refused"},
	"deployment":         {"deployment-exists", `no Deployment "nginx"`},
	"controller-manager": {"replicaset-created", "has no ReplicaSet"},
	"scheduler":          {"pods-scheduled-or-attempted", "no scheduler has looked at it"},
	"containerd":         {"containerd-running", "no socket"},
	"kubelet":            {"node-registered", "No node has registered"},
	"cni":                {"cni-config", "no CNI configuration"},
	"logs":               {"kubelet-accepts-apiserver", "runs without --kubelet-client-certificate"},
	"service":            {"service-cluster-ip", `no Service "nginx"`},
	"kube-proxy":         {"kube-proxy-running", "kube-proxy is not running"},
	"coredns":            {"coredns-ready", "There is no Deployment kube-system/coredns"},
	"cluster-dns":        {"kubelet-cluster-dns", "runs with clusterDNS []"},
}

// demoAlsoBefore are further failures a step's "before" must show: what
// the learner sees when they try what the step fixes.
var demoAlsoBefore = map[string][]struct{ check, want string }{
	"logs": {
		{"pod-logs-readable", "the kubelet answered 401 Unauthorized"},
		{"pod-exec-works", "401 Unauthorized"},
	},
	// Without kube-proxy the ClusterIP gives no nginx page: no answer, or,
	// on a network whose proxy answers what nothing routes, another's.
	"kube-proxy": {
		{"service-answers", "http://"},
	},
	// Before the cluster-dns step the pod has the node's resolver.
	"cluster-dns": {
		{"pod-cluster-dns", "it was given the node's resolver"},
	},
}

// TestRealDemo runs `kubetutor demo --auto` one step at a time on real
// components (containerd, runc, the kubelet and CNI included), asserting
// before and after each step the verdict of `kubetutor check` for every
// step; then that the pod answers HTTP, and that `demo down` leaves nothing.
func TestRealDemo(t *testing.T) {
	requireDemo(t)
	d := newDemoRun(t)
	binDir := kubeBinDir()
	ids := steps.IDs()
	for i, id := range ids {
		exp := demoExpectations[id]
		before := d.checkAll()
		assertVerdicts(t, "before "+id, before, i)
		for _, exp := range append(demoAlsoBefore[id], exp) {
			if c := findCheck(before, id, exp.check); c == nil || c.Status != "fail" || !strings.Contains(c.Message, exp.want) || c.Hint == "" {
				t.Errorf("before %s: check %s = %+v, want a failure with a hint containing %q", id, exp.check, c, exp.want)
			}
		}
		start := time.Now()
		out, code := d.run("demo", "--auto", "--pause", "0", "--offline", "--bin-dir", binDir, "--from", id, "--to", id)
		if code != 0 {
			t.Fatalf("demo --from %s --to %s: exit %d\n%s", id, id, code, out)
		}
		t.Logf("step %s performed in %s", id, time.Since(start).Round(time.Millisecond))
		assertVerdicts(t, "after "+id, d.checkAll(), i+1)
	}
	out, _ := d.run("demo", "status")
	if strings.Contains(out, "not running") {
		t.Errorf("demo status after the demo:\n%s", out)
	}
	// The etcd lesson quotes what Debian's etcd 3.4 logs once it serves.
	if want := lessonQuote(t, "etcd", "3.4: `"); !fileContains(filepath.Join(d.dir, "logs", "etcd.log"), want) {
		t.Errorf("the etcd lesson says etcd 3.4 logs %s; the demo's etcd log does not", want)
	}

	// The pod answers on its IP.
	final := d.checkAll()
	ip := ""
	if c := findCheck(final, "cni", "pod-running"); c != nil {
		if i := strings.Index(c.Message, "with IP "); i >= 0 {
			ip = strings.TrimSuffix(c.Message[i+len("with IP "):], ".")
		}
	}
	if ip == "" {
		t.Fatalf("no pod IP in the verdict: %+v", final)
	}
	client := http.Client{Timeout: 3 * time.Second}
	assertBlocksCovered(t, d)
	resp, err := client.Get("http://" + ip + "/")
	if err != nil {
		t.Fatalf("GET the pod at %s: %v", ip, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("Welcome to nginx")) {
		t.Errorf("pod answered %d %q", resp.StatusCode, body)
	}
	// And through its Service's ClusterIP, which kube-proxy's rules send to
	// the pod; 10.0.0.1 is the API server, with a certificate that names it.
	clusterIP := strings.TrimSpace(d.kubectl(t, "get", "service", "nginx", "-o", "jsonpath={.spec.clusterIP}"))
	direct := http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{Proxy: nil}}
	resp, err = direct.Get("http://" + clusterIP + "/")
	if err != nil {
		t.Fatalf("GET the ClusterIP %s: %v", clusterIP, err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("Welcome to nginx")) {
		t.Errorf("the ClusterIP %s answered %d %q", clusterIP, resp.StatusCode, body)
	}
	if c := findCheck(final, "kube-proxy", "kubernetes-service-tls"); c == nil || c.Status != "pass" {
		t.Errorf("kubernetes-service-tls after the demo: %+v", c)
	}
	// kubectl logs, as the logs lesson types it, shows that request.
	logs := d.kubectl(t, "logs", "deploy/nginx")
	if !strings.Contains(logs, "listening on :80") || !strings.Contains(logs, `"GET / HTTP/1.1" 200`) {
		t.Errorf("kubectl logs deploy/nginx after a GET:\n%s", logs)
	}
	if got := strings.TrimSpace(d.kubectl(t, "exec", "deploy/nginx", "--", "sh", "-c", "echo $((6*7))")); got != "42" {
		t.Errorf("kubectl exec deploy/nginx -- sh -c 'echo $((6*7))' printed %q, want 42", got)
	}
	// The cluster-dns lesson's lookup, inside the pod.
	if got := d.kubectl(t, "exec", "deploy/nginx", "--", "getent", "hosts", "kubernetes.default"); !strings.HasPrefix(got, "10.0.0.1 ") || !strings.Contains(got, "kubernetes.default.svc.cluster.local") {
		t.Errorf("kubectl exec deploy/nginx -- getent hosts kubernetes.default printed %q", got)
	}
	killCoreDNS(t, d)

	down(t, d)

	// A second demo after down works the same as the first, in one go.
	start := time.Now()
	out, code := d.run("demo", "--auto", "--pause", "0", "--offline", "--bin-dir", binDir)
	if code != 0 {
		t.Fatalf("second demo: exit %d\n%s", code, out)
	}
	t.Logf("second demo, whole: %s", time.Since(start).Round(time.Millisecond))
	if rep := d.checkAll(); rep.Current != ids[len(ids)-1] {
		t.Errorf("after the second demo: current %q; not passing:\n%s", rep.Current, rep.failing())
	}
	down(t, d)

	// down works after the demo was killed with SIGKILL mid-way.
	cmd := exec.Command(d.bin, d.args("demo", "--auto", "--pause", "0", "--offline", "--bin-dir", binDir)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "✓ Waiting for the checks of kubelet") {
			break
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	go io.Copy(io.Discard, pipe)
	_ = cmd.Wait()
	down(t, d)
}

// requireDemo skips (or fails under make test) without what the demo needs.
func requireDemo(t testing.TB) {
	t.Helper()
	requireReal(t, "the demo needs root (containerd and the kubelet)", os.Geteuid() == 0)
	for _, tool := range []string{"containerd", "runc", "iptables", "ip"} {
		_, err := exec.LookPath(tool)
		requireReal(t, tool+" not installed (hack/install-deps.sh installs it)", err == nil)
	}
	_, err := os.Stat("/usr/lib/cni/bridge")
	_, err2 := os.Stat("/opt/cni/bin/bridge")
	requireReal(t, "no CNI plugins (apt install containernetworking-plugins)", err == nil || err2 == nil)
	_, err = os.Stat(filepath.Join(kubeBinDir(), "kubelet"))
	requireReal(t, "kubelet not built in "+kubeBinDir(), err == nil)
	if _, err := os.Stat("/etc/cni/net.d/10-bridge.conflist"); err == nil {
		t.Fatal("/etc/cni/net.d/10-bridge.conflist exists: this machine has a CNI network configured; the demo test needs a clean machine")
	}

}

// newDemoRun prepares a demo work dir that is cleaned up after the test.
func newDemoRun(t testing.TB) *demoRun {
	t.Helper()
	dir := t.TempDir()
	d := &demoRun{t: t, bin: kubetutorBinary(t), dir: dir, sock: filepath.Join(dir, "containerd.sock")}
	t.Cleanup(func() {
		if out, code := d.run("demo", "down"); code != 0 {
			t.Errorf("cleanup: demo down: %d\n%s", code, out)
		}
	})
	return d
}

// down runs `demo down` and asserts that nothing is left.
func down(t testing.TB, d *demoRun) {
	t.Helper()
	out, code := d.run("demo", "down")
	if code != 0 {
		t.Fatalf("demo down: exit %d\n%s", code, out)
	}
	t.Logf("demo down:\n%s", out)
	left := leftBehind(d.dir)
	for _, f := range []string{"images.tar", "coredns-image.tar", "etcd-data", "run"} {
		if _, err := os.Stat(filepath.Join(d.dir, f)); err == nil {
			left = append(left, "in the work dir: "+f)
		}
	}
	if len(left) > 0 {
		t.Fatalf("demo down left:\n%s", strings.Join(left, "\n"))
	}
}

// leftBehind lists what a cluster whose work dir is dir left on the
// machine: its processes (by program, or run from dir), mounts under dir
// and under the directories given, pod network namespaces, the cni0
// bridge, CNI and Kubernetes chains in iptables and ip6tables, and the CNI
// lesson's network configuration.
func leftBehind(dir string, under ...string) []string {
	var left []string
	for _, p := range livingProcesses() {
		// "PID argv0 args...": the program, by its name, or anything run
		// from the demo's directory.
		f := strings.Fields(p)
		if len(f) < 2 {
			continue
		}
		prog := filepath.Base(f[1])
		switch {
		case prog == "etcd", strings.HasPrefix(prog, "kube-"), prog == "kubelet", strings.HasPrefix(prog, "containerd"),
			prog == "kubetutor" && len(f) > 2 && (f[2] == "pause" || f[2] == "serve"), prog == "coredns",
			strings.Contains(p, dir) && prog != "go" && !strings.HasSuffix(prog, ".test"):
			left = append(left, "process: "+p)
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mounts), "\n") {
		if strings.Contains(l, dir) || strings.Contains(l, "/run/netns/cni-") || mountUnder(l, under) {
			left = append(left, "mount: "+l)
		}
	}
	if m, _ := filepath.Glob("/run/netns/cni-*"); len(m) > 0 {
		left = append(left, fmt.Sprintf("netns: %v", m))
	}
	if _, err := os.Stat("/sys/class/net/cni0"); err == nil {
		left = append(left, "the cni0 bridge")
	}
	left = append(left, iptablesLeft()...)
	if _, err := os.Stat("/etc/cni/net.d/10-bridge.conflist"); err == nil {
		left = append(left, "/etc/cni/net.d/10-bridge.conflist")
	}
	return left
}

// mountUnder reports whether a mountinfo line's mount point is one of dirs
// or below one.
func mountUnder(line string, dirs []string) bool {
	f := strings.Fields(line)
	if len(f) < 5 {
		return false
	}
	for _, d := range dirs {
		if f[4] == d || strings.HasPrefix(f[4], d+"/") {
			return true
		}
	}
	return false
}

// iptablesLeft lists the chains of CNI and Kubernetes in iptables and
// ip6tables: CNI's (demo down removes those of its sandboxes), kube-proxy's
// (its --cleanup) and the kubelet's (KUBE-FIREWALL, KUBE-IPTABLES-HINT,
// KUBE-KUBELET-CANARY, which demo down removes once no kubelet runs).
func iptablesLeft() []string {
	var left []string
	for _, ipt := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"nat", "filter", "mangle"} {
			rules, _ := exec.Command(ipt, "-w", "-t", table, "-S").Output()
			if bytes.Contains(rules, []byte("CNI-")) || bytes.Contains(rules, []byte("KUBE-")) {
				left = append(left, ipt+" -t "+table+": "+string(rules))
			}
		}
	}
	return left
}

// livingProcesses lists the command lines of every process that is not a zombie.
func livingProcesses() []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		if f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]); len(f) > 0 && f[0] == "Z" {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if len(cmd) > 0 {
			out = append(out, e.Name()+" "+strings.ReplaceAll(strings.TrimRight(string(cmd), "\x00"), "\x00", " "))
		}
	}
	return out
}

func assertVerdicts(t testing.TB, when string, rep jsonReport, passing int) {
	t.Helper()
	for i, s := range rep.Steps {
		want := "fail"
		if i < passing {
			want = "pass"
		}
		if s.Status != want {
			var msgs []string
			for _, c := range s.Checks {
				msgs = append(msgs, c.Status+" "+c.Name+": "+c.Message)
			}
			t.Errorf("%s: step %s is %s, want %s\n  %s", when, s.ID, s.Status, want, strings.Join(msgs, "\n  "))
		}
	}
}

func findCheck(rep jsonReport, step, name string) *struct{ Name, Status, Message, Hint string } {
	for _, s := range rep.Steps {
		if s.ID != step {
			continue
		}
		for i := range s.Checks {
			if s.Checks[i].Name == name {
				return &s.Checks[i]
			}
		}
	}
	return nil
}

// TestRealDemoPresenterKeys runs the demo in presenter mode: Enter performs
// a step, q stops before the next; no root needed for the first steps.
func TestRealDemoPresenterKeys(t *testing.T) {
	_, err := os.Stat(filepath.Join(kubeBinDir(), "kube-apiserver"))
	requireReal(t, "the Kubernetes binaries are not built in "+kubeBinDir(), err == nil)
	d := newDemoRun(t)
	cmd := exec.Command(d.bin, d.args("demo", "--to", "certs", "--skip-preflight", "--bin-dir", kubeBinDir())...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	cmd.Stdin = strings.NewReader("\nq\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{"━━ Step 1/" + nSteps + " · Get the tools and binaries", "Press Enter to run it", "✓ Step 1/" + nSteps + " tools", "━━ Step 2/" + nSteps + " · Make the TLS certificates", "Stopped."} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "Issuing certificates") {
		t.Errorf("q did not stop the demo before the certs step:\n%s", s)
	}
	if _, err := os.Stat(filepath.Join(d.dir, "certs", "ca.crt")); err == nil {
		t.Errorf("certificates were issued after q")
	}
}

// TestRealDemoFailures: with etcd's port taken, the preflight names the
// holder; without the preflight, the etcd step stops the demo with the
// diagnosis and etcd's last log lines.
func TestRealDemoFailures(t *testing.T) {
	_, err := os.Stat(filepath.Join(kubeBinDir(), "kube-apiserver"))
	requireReal(t, "the Kubernetes binaries are not built in "+kubeBinDir(), err == nil)
	_, err = exec.LookPath("etcd")
	requireReal(t, "etcd not installed", err == nil)
	l, err := net.Listen("tcp", "127.0.0.1:2379")
	if err != nil {
		t.Fatalf("take port 2379: %v", err)
	}
	defer l.Close()
	d := newDemoRun(t)

	if os.Geteuid() == 0 {
		out, code := d.run("demo", "--auto", "--pause", "0", "--to", "etcd", "--bin-dir", kubeBinDir())
		if code != 1 || !strings.Contains(out, "port-2379") || !strings.Contains(out, fmt.Sprintf("(pid %d)", os.Getpid())) || !strings.Contains(out, "the preflight found problems") {
			t.Errorf("preflight with port 2379 taken: exit %d\n%s", code, out)
		}
	}

	out, code := d.run("demo", "--auto", "--pause", "0", "--to", "etcd", "--skip-preflight", "--bin-dir", kubeBinDir())
	if code == 0 {
		t.Fatalf("the demo passed the etcd step with its port taken:\n%s", out)
	}
	for _, want := range []string{"step etcd did not pass", "etcd exited", "last lines of " + filepath.Join(d.dir, "logs", "etcd.log"), "address already in use"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// assertBlocksCovered fails for every lesson block that fits the demo's
// host (this machine, offline) and that the demo neither typed nor
// replaced with its declared action; it lists the blocks of the other
// variants: those another real test runs verbatim (verbatimElsewhere), and
// those no test on this machine can run (systemctl without systemd).
func assertBlocksCovered(t *testing.T, d *demoRun) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(d.dir, "logs", "blocks.log"))
	if err != nil {
		t.Fatalf("the demo's record of the blocks it ran: %v", err)
	}
	ran := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if f := strings.Fields(line); len(f) == 3 {
			ran[f[0]+":"+f[1]] = f[2]
		}
	}
	st := host.DetectStack(context.Background(), filepath.Join(d.dir, "bin"))
	st.Online = false
	tags := script.Set{}
	for _, tag := range st.Tags() {
		tags[tag] = true
	}
	typed, instead := 0, 0
	var other, elsewhere []string
	for _, s := range steps.All() {
		for _, b := range s.Commands {
			key := fmt.Sprintf("%s:%d", s.Lesson, b.Line)
			switch {
			case !b.Fits(tags) && verbatimElsewhere(b) != "":
				elsewhere = append(elsewhere, fmt.Sprintf("%s (%s) by %s", key, strings.Join(b.When, ","), verbatimElsewhere(b)))
			case !b.Fits(tags):
				other = append(other, fmt.Sprintf("%s (%s)", key, strings.Join(b.When, ",")))
			case ran[key] == "typed":
				typed++
			case ran[key] == "instead":
				instead++
			default:
				t.Errorf("lesson block %s (%s) fits this host (%v) but the demo did not run it:\n%s", key, b.Info, st.Tags(), b.Text)
			}
		}
	}
	t.Logf("lesson blocks for this host %v: %d typed verbatim (with the declared substitutions), %d replaced by the demo's declared action; other variants run verbatim by another test: %s; not run by this demo (another stack's variant, or systemctl, which no test here can run: PID 1 is not systemd): %s",
		st.Tags(), typed, instead, strings.Join(elsewhere, ", "), strings.Join(other, ", "))
}

// killCoreDNS kills the CoreDNS process in its pod (SIGKILL, as an OOM
// kill would) and runs `kubetutor check --all` as soon as it is gone: the
// coredns step must fail, saying CoreDNS is not running, before the kubelet
// has started the container again; then the whole course passes again.
func killCoreDNS(t *testing.T, d *demoRun) {
	t.Helper()
	out, err := exec.Command("pgrep", "-x", "coredns").Output()
	pids := strings.Fields(string(out))
	if err != nil || len(pids) != 1 {
		t.Fatalf("pgrep -x coredns: %v %q, want one process", err, out)
	}
	pid, _ := strconv.Atoi(pids[0])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill coredns %d: %v", pid, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("coredns %d did not exit within 10s of SIGKILL", pid)
		}
	}
	rep := d.checkAll()
	c := findCheck(rep, "coredns", "coredns-ready")
	if c == nil || c.Status != "fail" || !strings.Contains(c.Message, "CoreDNS is not running in pod") {
		t.Errorf("at once after CoreDNS was killed: coredns-ready = %+v, want a failure saying CoreDNS is not running", c)
	}
	if rep.Current == lastStep() {
		t.Errorf("at once after CoreDNS was killed, check says the cluster is complete")
	}
	waitComplete(t, d, "after the kubelet started CoreDNS again", nil)
}
