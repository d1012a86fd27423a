package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/content"
	"github.com/kubetutor/kubetutor/internal/demo"
	"github.com/kubetutor/kubetutor/internal/host"
	"github.com/kubetutor/kubetutor/internal/proc"
	"github.com/kubetutor/kubetutor/internal/script"
	"github.com/kubetutor/kubetutor/steps"
)

// handBuilt is a cluster built from the lessons' blocks as a learner types
// them, verbatim: no demo, no substitution, the node side in the system's
// default paths (/run/containerd, /var/lib/kubelet, /etc/cni/net.d).
type handBuilt struct {
	*cluster
	tags    script.Set
	running map[string]*proc.Process
	cmds    map[string]string
}

// nodeDirs are the host directories the node side writes in; the test puts
// them back as it found them, also when it fails.
var nodeDirs = []string{"/var/lib/kubelet", "/var/lib/containerd", "/run/containerd", "/var/lib/cni", "/run/netns",
	"/etc/cni/net.d", "/etc/containerd", "/var/log/pods", "/var/log/containers"}

// newHandBuilt lays out the machine of a learner about to start the
// course: the binaries in the work dir's bin/, or, with onPath, already
// installed elsewhere on PATH (a learner who had them, or the upstream
// stack) and the work dir empty.
func newHandBuilt(t *testing.T, onPath bool) *handBuilt {
	c := newCluster(t)
	kt := kubetutorBinary(t)
	for name, target := range map[string]string{"kubetutor": kt, "coredns": filepath.Join(kubeBinDir(), "coredns")} {
		_, err := os.Stat(target)
		requireReal(t, target+" not built (make kube-binaries builds coredns)", err == nil)
		if err := os.Symlink(target, filepath.Join(c.dir, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	binDir := filepath.Join(c.dir, "bin")
	if onPath {
		binDir = filepath.Join(t.TempDir(), "bin")
		if err := os.Rename(filepath.Join(c.dir, "bin"), binDir); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(c.dir, "certs")); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{checks.DefaultContainerdAddress, filepath.Join(checks.DefaultCNIConfDir, "10-bridge.conflist")} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("%s exists: another cluster's node side is on this machine", p)
		}
	}
	for _, name := range []string{"kubelet", "containerd", "etcd"} {
		if e, ok := (proc.Table{Dir: "/proc"}).Live(name, nil); ok {
			t.Fatalf("%s runs (pid %d): another cluster is on this machine", name, e.PID)
		}
	}
	// The checks see what a learner's `kubetutor check` sees: the defaults.
	c.env = checks.NewEnv(c.dir)
	c.env.Kubeconfig = filepath.Join(c.dir, "admin.conf")
	c.env.PathEnv = binDir + ":/usr/sbin:/usr/bin:/sbin:/bin"
	if onPath {
		// The lessons' `export PATH=$PWD/bin:$PATH` puts the work dir's
		// bin/ first, where `fetch --from-source coredns` builds, with
		// the machine's Go caches (HOME is the work dir here), as a
		// learner's would be after make kube-binaries.
		c.env.PathEnv = filepath.Join(c.dir, "bin") + ":" + c.env.PathEnv
		out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE").Output()
		if f := strings.Fields(string(out)); err == nil && len(f) == 2 {
			c.extraEnv = append(c.extraEnv, "GOCACHE="+f[0], "GOMODCACHE="+f[1])
		}
	}
	c.env.Timeout = 5 * time.Second
	c.env.SetDefaults()
	stack := host.DetectStack(context.Background(), binDir)
	tags := script.Set{}
	for _, tag := range stack.Tags() {
		tags[tag] = true
	}
	// No registry here: the offline variants, as on a workshop network.
	delete(tags, "online")
	tags["offline"] = true
	h := &handBuilt{cluster: c, tags: tags, running: map[string]*proc.Process{}, cmds: map[string]string{}}
	restore := snapshotDirs(t, nodeDirs)
	const conf = "/etc/containerd/config.toml"
	oldConf, confErr := os.ReadFile(conf)
	t.Cleanup(func() {
		// Only if the test failed before kubetutor down did its work: what
		// it does, then the demo's node clean-up once more.
		var out strings.Builder
		if left := demo.FindHost(context.Background(), demo.HostOptions{WorkDir: c.dir, Socket: checks.DefaultContainerdAddress,
			CNIConfDir: checks.DefaultCNIConfDir}); !left.Empty() {
			if err := left.TakeDown(context.Background(), &out); err != nil {
				t.Errorf("clean up after the test: %v\n%s", err, out.String())
			}
		}
		h.stopRunning()
		if err := demo.CleanNode(context.Background(), checks.DefaultContainerdAddress, []string{"/var/lib/kubelet", "/run/containerd", "/var/lib/containerd"}, true, &out); err != nil {
			t.Errorf("clean the node side: %v\n%s", err, out.String())
		}
		_ = demo.CleanupRules(context.Background(), filepath.Join(c.dir, "bin"), &out)
		restore()
		if confErr == nil {
			if err := os.WriteFile(conf, oldConf, 0o644); err != nil {
				t.Errorf("restore %s: %v", conf, err)
			}
		}
	})
	return h
}

// stopRunning stops what still runs, node side first.
func (h *handBuilt) stopRunning() {
	for i := len(h.procs) - 1; i >= 0; i-- {
		if err := h.procs[i].Stop(15 * time.Second); err != nil {
			h.t.Errorf("stop %s: %v", h.procs[i].Name, err)
		}
	}
}

// typeStep types a step's blocks for this host as the lesson gives them:
// commands in a shell, a daemon in a terminal of its own (Ctrl-C twice in
// the running one's terminal first, for a restart). It skips only what a
// learner with this machine would: downloads and package installs of
// software already there (the demo=link-binaries and skip-* blocks: bin/
// holds the binaries, the packages are installed).
func (h *handBuilt) typeStep(s steps.Step) {
	t := h.t
	t.Helper()
	// Consecutive command blocks run in one shell, as in the learner's
	// terminal: a variable one sets is there for the next.
	var shell strings.Builder
	flush := func() {
		if shell.Len() > 0 {
			t.Logf("step %s:\n%s", s.ID, h.sh(shell.String()))
			shell.Reset()
		}
	}
	defer flush()
	for _, b := range s.CommandsFor(h.tags) {
		if b.Demo == "link-binaries" || strings.HasPrefix(b.Demo, "skip-") {
			continue
		}
		if b.Kind != script.Daemon {
			shell.WriteString(b.Text)
			continue
		}
		flush()
		name := b.Restarts
		if name == "" {
			c, ok := componentOf(s.ID)
			if !ok {
				t.Fatalf("step %s: a daemon block (line %d) and no component of the step", s.ID, b.Line)
			}
			name = c
		}
		if p := h.running[name]; p != nil {
			interrupt(t, p)
		}
		h.running[name] = h.start(name, b.Text)
		h.cmds[name] = b.Text
		// The learner goes on once it is up: its own step's checks pass
		// (for a restart, those of the step that started it first).
		up := s.ID
		if b.Restarts != "" {
			up = h.stepOf(name)
		}
		h.waitPass(up, h.running[name], 3*time.Minute)
	}
}

// stepOf is the step whose commands start the named component.
func (h *handBuilt) stepOf(name string) string {
	for _, c := range demo.Components {
		if c.Name == name {
			return c.Step
		}
	}
	h.t.Fatalf("no step starts %s", name)
	return ""
}

func componentOf(step string) (string, bool) {
	for _, c := range demo.Components {
		if c.Step == step {
			return c.Name, true
		}
	}
	return "", false
}

// interrupt is Ctrl-C twice in a component's terminal.
func interrupt(t *testing.T, p *proc.Process) {
	t.Helper()
	for i := 0; i < 2; i++ {
		_ = syscall.Kill(-p.Pid(), syscall.SIGINT)
		select {
		case <-p.Done():
			return
		case <-time.After(300 * time.Millisecond):
		}
	}
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("%s still runs 30s after Ctrl-C twice:\n%s", p.Name, p.Tail(20))
	}
}

// restartExited starts again, with the same command, a component that
// exited: what the logs lesson says to do when kube-controller-manager or
// kube-scheduler gave up their Lease while the API server restarted.
func (h *handBuilt) restartExited() {
	for name, p := range h.running {
		if exited, _ := p.Exited(); exited {
			h.t.Logf("%s exited; starting it again:\n%s", name, p.Tail(5))
			h.running[name] = h.start(name, h.cmds[name])
		}
	}
}

// TestRealHandBuiltTakeDown builds the whole course from the lessons'
// blocks, typed verbatim with the node side in the system's default paths,
// then types the troubleshooting lesson's take-down commands (kubetutor down,
// then kubetutor down --yes), and asserts that nothing of the cluster is
// left: what demo down leaves of a demo, plus the default paths' mounts.
func TestRealHandBuiltTakeDown(t *testing.T) {
	for _, tc := range []struct {
		name   string
		onPath bool
	}{{"binaries in bin", false}, {"binaries already on PATH", true}} {
		t.Run(tc.name, func(t *testing.T) { testHandBuilt(t, tc.onPath) })
	}
}

// testHandBuilt: with onPath, the tools step passes before its commands,
// and the learner goes on without them: every later step's blocks must
// create what they use (the certs lesson its certs/ directory).
func testHandBuilt(t *testing.T, onPath bool) {
	h := newHandBuilt(t, onPath)
	for _, s := range steps.All() {
		if onPath && s.ID == "tools" {
			h.waitPass("tools", nil, 10*time.Second)
			continue
		}
		h.typeStep(s)
		h.restartExited()
		h.waitPass(s.ID, h.running[componentOrEmpty(s.ID)], 3*time.Minute)
		// What the lessons say the learner sees between the steps.
		switch s.ID {
		case "scheduler":
			h.observeRetries()
			h.bindByHand()
		case "kubelet":
			h.observeTaintVerdict()
		}
	}
	h.waitWhole(time.Minute)

	blocks := takeDownBlocks(t)
	listing := h.sh(blocks[0])
	t.Logf("%s\n%s", blocks[0], listing)
	for _, want := range []string{"Stop, in this order", "Nothing done yet: run kubetutor down --yes",
		filepath.Join(h.dir, "etcd-data"), "/etc/cni/net.d/10-bridge.conflist", "the cni0 bridge", "kube-proxy --cleanup"} {
		if !strings.Contains(listing, want) {
			t.Errorf("kubetutor down: no %q in its listing", want)
		}
	}
	for name, p := range h.running {
		if !strings.Contains(listing, fmt.Sprintf("pid %-7d in %s", p.Pid(), h.dir)) {
			t.Errorf("kubetutor down: %s (pid %d) not listed", name, p.Pid())
		}
	}
	if exited, _ := h.running["etcd"].Exited(); exited {
		t.Fatal("kubetutor down without --yes stopped etcd")
	}
	out := h.sh(blocks[1])
	t.Logf("%s\n%s", blocks[1], out)
	for name, p := range h.running {
		select {
		case <-p.Done():
		case <-time.After(10 * time.Second):
			t.Errorf("%s (pid %d) still runs after kubetutor down --yes", name, p.Pid())
		}
	}
	if left := leftBehind(h.dir, "/var/lib/kubelet", "/run/containerd", "/var/lib/containerd"); len(left) > 0 {
		t.Fatalf("kubetutor down --yes left:\n%s", strings.Join(left, "\n"))
	}
	for _, p := range []string{filepath.Join(h.dir, "etcd-data"), "/var/lib/kubelet"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("kubetutor down --yes left %s", p)
		}
	}
	for _, p := range []string{filepath.Join(h.dir, "certs", "ca.crt"), filepath.Join(h.dir, "admin.conf"), filepath.Join(h.dir, "kubelet.yaml")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("kubetutor down --yes removed %s, which it keeps", p)
		}
	}
	if again := h.sh(blocks[0]); !strings.Contains(again, "Nothing of a hand-built cluster runs or remains") {
		t.Errorf("kubetutor down after the take-down:\n%s", again)
	}
}

func componentOrEmpty(step string) string {
	name, _ := componentOf(step)
	return name
}

// takeDownBlocks are the commands of the troubleshooting lesson's
// take-down section, verbatim.
func takeDownBlocks(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, b := range lessonBlocks(t, "troubleshooting") {
		if b.Section == "Starting over: take the cluster down" && b.Lang == "sh" {
			out = append(out, b.Text)
		}
	}
	if len(out) != 2 || out[0] != "kubetutor down\n" || out[1] != "kubetutor down --yes\n" {
		t.Fatalf("the troubleshooting lesson's take-down section has blocks %q, want kubetutor down, then kubetutor down --yes", out)
	}
	return out
}

// schedulingEvent is an events.k8s.io/v1 FailedScheduling event, as much of
// it as the lessons describe.
type schedulingEvent struct {
	Name      string
	PodRV     string
	Series    int
	Note      string
	Regarding string
}

// schedulingEvents lists the FailedScheduling events of the nginx pods, in
// the order they were created.
func (h *handBuilt) schedulingEvents() []schedulingEvent {
	out := h.sh(`kubectl get events.events.k8s.io --field-selector reason=FailedScheduling --sort-by=.metadata.creationTimestamp -o json`)
	var list struct {
		Items []struct {
			Metadata  struct{ Name string }
			Regarding struct{ Name, ResourceVersion string }
			Series    *struct{ Count int }
			Note      string
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		h.t.Fatalf("kubectl get events: %v\n%s", err, out)
	}
	var evs []schedulingEvent
	for _, it := range list.Items {
		if !strings.HasPrefix(it.Regarding.Name, "nginx-") {
			continue
		}
		e := schedulingEvent{Name: it.Metadata.Name, PodRV: it.Regarding.ResourceVersion, Note: it.Note, Regarding: it.Regarding.Name}
		if it.Series != nil {
			e.Series = it.Series.Count
		}
		evs = append(evs, e)
	}
	return evs
}

// podCondition is the nginx pod's PodScheduled condition: status, reason,
// message.
func (h *handBuilt) podCondition() string {
	return h.sh(`kubectl get pod -l app=nginx -o jsonpath='{.items[0].status.conditions[?(@.type=="PodScheduled")].status}/{.items[0].status.conditions[?(@.type=="PodScheduled")].reason}/{.items[0].status.conditions[?(@.type=="PodScheduled")].message}'`)
}

// retryTimeout bounds each wait for what the scheduler lesson says happens
// within seconds.
const retryTimeout = 20 * time.Second

// observeRetries asserts what the scheduler lesson says of a Pod refused for
// want of nodes: the first attempt writes an event; the first retry, about
// a second later, writes a second one (the Pod has changed since: the first
// attempt wrote its condition, and an event names the object's version);
// the second retry turns that one into a series of two; the retries after
// it (at about 4, 8 and then every 10 s) write nothing.
func (h *handBuilt) observeRetries() {
	t := h.t
	var evs []schedulingEvent
	deadline := time.Now().Add(retryTimeout)
	for {
		evs = h.schedulingEvents()
		if len(evs) >= 2 && evs[len(evs)-1].Series >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no series of FailedScheduling events after %s: %+v", retryTimeout, evs)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("FailedScheduling events: %+v", evs)
	if len(evs) != 2 || evs[0].Series != 0 || evs[1].Series != 2 || evs[0].PodRV == evs[1].PodRV {
		t.Errorf("FailedScheduling events %+v, want two: one alone, then one for a newer version of the Pod, a series of two", evs)
	}
	for _, e := range evs {
		if e.Note != "no nodes available to schedule pods" {
			t.Errorf("FailedScheduling event %s says %q", e.Name, e.Note)
		}
	}
	if got := h.podCondition(); got != "False/Unschedulable/no nodes available to schedule pods" {
		t.Errorf("the Pod's PodScheduled condition is %q", got)
	}
	// Two more retries fall in the next 12 s (about 4 and 8 s after the
	// previous): counted in the scheduler's memory, not written.
	time.Sleep(12 * time.Second)
	if later := h.schedulingEvents(); len(later) != 2 || later[1].Series != 2 {
		t.Errorf("12s later the FailedScheduling events are %+v, want the same two, the series still at 2", later)
	}
}

// taintVerdict is what kube-scheduler 1.37.2 says of the Pod once the node
// registered, NotReady and so tainted (the kubelet lesson quotes it).
const taintVerdict = "0/1 nodes are available: 1 node(s) had untolerated taint(s). preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."

// observeTaintVerdict asserts what the kubelet lesson says once the node
// registered: within 10 s (the scheduler's longest backoff) the Pod's
// condition carries the taint verdict, while its events still end with
// "no nodes available": the new attempt counts as a repeat of the last
// event.
func (h *handBuilt) observeTaintVerdict() {
	t := h.t
	if !strings.Contains(lessonText(t, "kubelet"), taintVerdict) {
		t.Errorf("the kubelet lesson does not quote the verdict kube-scheduler gives: %s", taintVerdict)
	}
	want := "False/Unschedulable/" + taintVerdict
	deadline := time.Now().Add(retryTimeout)
	for got := h.podCondition(); got != want; got = h.podCondition() {
		if time.Now().After(deadline) {
			t.Fatalf("%s after the node registered the Pod's PodScheduled condition is %q, want %q", retryTimeout, got, want)
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, e := range h.schedulingEvents() {
		if e.Note != "no nodes available to schedule pods" {
			t.Errorf("after the node registered: FailedScheduling event %s says %q, want the old verdict", e.Name, e.Note)
		}
	}
}

// bindByHand types the scheduler lesson's "Bind a Pod by hand" block and
// asserts what the lesson says each command shows.
func (h *handBuilt) bindByHand() {
	t := h.t
	var text string
	for _, b := range lessonBlocks(t, "scheduler") {
		if strings.HasPrefix(b.Text, "kubectl run byhand ") {
			text = b.Text
		}
	}
	if text == "" {
		t.Fatal("the scheduler lesson has no Bind a Pod by hand block")
	}
	out := h.sh(text)
	t.Logf("bind a Pod by hand:\n%s", out)
	lesson := lessonText(t, "scheduler")
	for _, want := range []string{"pod/byhand created", "status/<unknown> created", `pod "byhand" force deleted`} {
		if !strings.Contains(out, want) {
			t.Errorf("bind a Pod by hand: no %q in the output", want)
		}
	}
	if !strings.Contains(lesson, "`status/<unknown> created`") {
		t.Error("the scheduler lesson no longer quotes what kubectl prints for the Binding")
	}
	lines := strings.Split(out, "\n")
	var nodes []string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) >= 7 && f[0] == "byhand" {
			nodes = append(nodes, f[6])
		}
	}
	if len(nodes) != 2 || nodes[0] != "<none>" || nodes[1] != "imaginary-node" {
		t.Errorf("bind a Pod by hand: the two gets show NODE %q, want <none>, then imaginary-node", nodes)
	}
	if ev := h.sh("kubectl get events --field-selector involvedObject.name=byhand -o name"); strings.TrimSpace(ev) != "" {
		t.Errorf("the Pod no scheduler takes got events: %s", ev)
	}
}

// waitWhole waits until every step passes: the last step's rollout may
// still be replacing the nginx Pod when its own checks pass.
func (h *handBuilt) waitWhole(timeout time.Duration) {
	var rep steps.Report
	deadline := time.Now().Add(timeout)
	for {
		var err error
		rep, err = steps.Run(context.Background(), h.env, steps.RunOptions{Mode: steps.Every})
		if err != nil {
			h.t.Fatal(err)
		}
		failing := ""
		for _, r := range rep.Steps {
			if r.Status != steps.Pass {
				failing += fmt.Sprintf("\nstep %s is %s:%s", r.ID, r.Status, describe(r))
			}
		}
		if failing == "" {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("the hand-built course after %s:%s", timeout, failing)
		}
		time.Sleep(time.Second)
	}
}

// lessonMarkdown is a lesson's Markdown, as embedded.
func lessonMarkdown(t *testing.T, id string) string {
	t.Helper()
	md, err := content.Lessons.ReadFile("lessons/" + id + ".md")
	if err != nil {
		t.Fatal(err)
	}
	return string(md)
}

// lessonText is a lesson's words with every run of white space one space:
// what a quote must be found in, however the lesson wraps it.
func lessonText(t *testing.T, id string) string {
	return strings.Join(strings.Fields(lessonMarkdown(t, id)), " ")
}

// lessonBlocks are all of a lesson's code blocks, illustrations included.
func lessonBlocks(t *testing.T, id string) []script.Block {
	t.Helper()
	blocks, err := script.Parse(lessonMarkdown(t, id))
	if err != nil {
		t.Fatal(err)
	}
	return blocks
}
