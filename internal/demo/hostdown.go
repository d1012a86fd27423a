package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/iostreams"
	"github.com/kubetutor/kubetutor/internal/proc"
)

// A cluster built by hand, as the lessons build it: its components run in
// the learner's terminals from the work dir, the node side uses the system's
// default paths (containerd's /run/containerd and /var/lib/containerd, the
// kubelet's /var/lib/kubelet, /etc/cni/net.d). There is no pidfile and no
// state file: FindHost finds it from what runs and what the lessons wrote,
// Describe lists it, TakeDown stops and removes it, leaving the machine as
// Down leaves a demo's.

// HostOptions say where the learner's cluster lives.
type HostOptions struct {
	// WorkDir is the lessons' work dir (etcd-data, bin/, certs/).
	WorkDir string
	// Socket is containerd's socket (the lessons': the default one).
	Socket string
	// CNIConfDir holds the lessons' network configuration.
	CNIConfDir string
}

// cniConfName is the file the CNI lesson writes.
const cniConfName = "10-bridge.conflist"

// HostProcess is one component process found running.
type HostProcess struct {
	Name string
	PID  int
	// Dir is its working directory; Args its command line; Exe its binary.
	Dir  string
	Args []string
	Exe  string
	// Owner says who runs it when the learner's terminal does not (a
	// demo, a systemd unit), and Instead how to stop it then: TakeDown
	// leaves it alone.
	Owner, Instead string
}

// HostCluster is what FindHost found of a hand-built cluster.
type HostCluster struct {
	Opts HostOptions
	// Procs are the processes TakeDown stops, in this order; Foreign the
	// components it leaves to their owner.
	Procs, Foreign []HostProcess
	// ForeignNode: a kubelet or containerd of someone else runs, so the
	// node side (containers, mounts, network, /var/lib/kubelet) is left
	// alone.
	ForeignNode bool
	shims       []shim
	// Sandboxes are the pod sandboxes whose network remains (their IDs),
	// Netns the pod network namespaces, Mounts the mounts of the node side.
	Sandboxes, Netns, Mounts []string
	// OrphanChains are CNI chains in nat no rule jumps to.
	OrphanChains []string
	// Cni0 is the bridge the lessons' network configuration creates, when
	// it exists.
	Cni0 string
	// KubeProxy is the binary whose --cleanup removes kube-proxy's rules,
	// ProxyRules whether they are there; KubeletChains whether the chains
	// every kubelet writes are.
	KubeProxy                 string
	ProxyRules, KubeletChains bool
	// Remove are the files and directories TakeDown removes; Keep what it
	// keeps of the course's (said, so the learner knows).
	Remove, Keep []string
}

// FindHost looks for a hand-built cluster on this machine.
func FindHost(ctx context.Context, o HostOptions) *HostCluster {
	h := &HostCluster{Opts: o}
	h.findProcesses()
	if !h.ForeignNode {
		h.findNode(ctx)
	}
	h.findFiles()
	return h
}

// findProcesses lists the course's components that run, in the order
// TakeDown stops them (the reverse of the course's), and sets aside those
// a demo or a systemd unit runs.
func (h *HostCluster) findProcesses() {
	table := proc.Table{Dir: "/proc"}
	for i := len(Components) - 1; i >= 0; i-- {
		c := Components[i]
		for _, e := range table.LiveAll(c.Name) {
			p := describeProcess(c.Name, e.PID)
			if p.Owner == "" {
				h.Procs = append(h.Procs, p)
				continue
			}
			h.Foreign = append(h.Foreign, p)
			if c.Runtime || c.Name == "kubelet" || len(c.CleanupArgs) > 0 {
				h.ForeignNode = true
			}
		}
	}
}

// describeProcess reads what /proc says of a component's process, and who
// owns it.
func describeProcess(name string, pid int) HostProcess {
	p := HostProcess{Name: name, PID: pid}
	base := fmt.Sprintf("/proc/%d", pid)
	p.Dir, _ = os.Readlink(base + "/cwd")
	p.Exe, _ = os.Readlink(base + "/exe")
	if cmd, err := fsutil.ReadFile(base+"/cmdline", fsutil.LimitProc); err == nil {
		p.Args = strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00")
	}
	if p.Dir != "" {
		if got, ok := RunningPid(Layout{WorkDir: p.Dir}, name); ok && got == pid {
			p.Owner = "the demo in " + p.Dir
			p.Instead = "kubetutor demo down --workdir " + p.Dir
			return p
		}
	}
	if cg, err := fsutil.ReadFile(base+"/cgroup", fsutil.LimitProc); err == nil {
		if unit := systemdService(string(cg)); unit != "" {
			p.Owner = "systemd unit " + unit
			p.Instead = "systemctl stop " + strings.TrimSuffix(unit, ".service")
		}
	}
	return p
}

// systemdService is the system service a process's cgroup file places it
// in ("containerd.service" for 0::/system.slice/containerd.service), or "".
// A learner's terminal is a session scope, not a service.
func systemdService(cgroup string) string {
	for _, line := range strings.Split(cgroup, "\n") {
		path := line[strings.LastIndexByte(line, ':')+1:]
		if !strings.HasPrefix(path, "/system.slice/") {
			continue
		}
		unit := strings.TrimPrefix(path, "/system.slice/")
		if i := strings.IndexByte(unit, '/'); i >= 0 {
			unit = unit[:i]
		}
		if strings.HasSuffix(unit, ".service") {
			return unit
		}
	}
	return ""
}

// nodeMountDirs are where the node side mounts: the kubelet's pod volumes,
// and the sandboxes and container root filesystems of containerd's
// Kubernetes namespace (not other namespaces: Docker's containers share
// /run/containerd).
var nodeMountDirs = []string{
	"/var/lib/kubelet",
	"/run/containerd/io.containerd.grpc.v1.cri",
	"/run/containerd/io.containerd.runtime.v2.task/k8s.io",
	"/var/lib/containerd/io.containerd.grpc.v1.cri",
}

// findNode lists what the node side left: shims, sandboxes and their
// network, mounts, the bridge, the packet filter's chains.
func (h *HostCluster) findNode(ctx context.Context) {
	h.shims = shimsServing(h.Opts.Socket, "k8s.io")
	h.Sandboxes, h.Netns = shimSandboxes(h.shims)
	conf := readBridgeConf(filepath.Join(h.Opts.CNIConfDir, cniConfName))
	h.Sandboxes = appendNew(h.Sandboxes, cachedSandboxes(conf.Name)...)
	// Every pod network namespace containerd's CRI made ("cni-<uuid>"):
	// also those of sandboxes gone before.
	ns, _ := filepath.Glob("/run/netns/cni-*")
	h.Netns = appendNew(h.Netns, ns...)
	for _, d := range append(nodeMountDirs, h.Opts.WorkDir) {
		m, _ := mountsUnder(d)
		h.Mounts = appendNew(h.Mounts, m...)
	}
	if _, err := os.Stat(filepath.Join("/sys/class/net", conf.Bridge)); err == nil {
		h.Cni0 = conf.Bridge
	}
	h.OrphanChains = orphanCNIChains(ctx)
	h.KubeProxy = h.kubeProxyBinary()
	h.ProxyRules = chainExists(ctx, "nat", "KUBE-SERVICES")
	h.KubeletChains = chainExists(ctx, "filter", "KUBE-FIREWALL") || chainExists(ctx, "mangle", "KUBE-KUBELET-CANARY")
}

// bridgeConf is what the network configuration says of the bridge network.
type bridgeConf struct{ Name, Bridge string }

// readBridgeConf reads the network's name and bridge from the lessons'
// conflist; the lessons' values when it is gone or unreadable.
func readBridgeConf(path string) bridgeConf {
	data, err := fsutil.ReadFile(path, fsutil.LimitConfig)
	if err != nil {
		return bridgeConf{Name: "bridge", Bridge: "cni0"}
	}
	return parseBridgeConf(data)
}

// parseBridgeConf reads a conflist's network name and bridge; the lessons'
// values for what it does not say, or says in a form unfit for a path or
// an interface name.
func parseBridgeConf(data []byte) bridgeConf {
	c := bridgeConf{Name: "bridge", Bridge: "cni0"}
	var list struct {
		Name    string `json:"name"`
		Plugins []struct {
			Type   string `json:"type"`
			Bridge string `json:"bridge"`
		} `json:"plugins"`
	}
	if json.Unmarshal(data, &list) != nil {
		return c
	}
	if safeName(list.Name) {
		c.Name = list.Name
	}
	for _, p := range list.Plugins {
		if p.Type == "bridge" && safeName(p.Bridge) {
			c.Bridge = p.Bridge
		}
	}
	return c
}

var safeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$`)

// safeName: a name fit for a path element or an interface name.
func safeName(s string) bool { return safeNameRE.MatchString(s) }

// sandboxInResult finds the sandbox ID in a libcni cache file's name
// (NETWORK-ID-IFNAME).
var sandboxInResult = regexp.MustCompile(`-([0-9a-f]{64})-[^-]+$`)

// cachedSandboxes are the sandboxes libcni keeps results of for network
// name: their rules outlive a shim killed earlier.
func cachedSandboxes(network string) []string {
	files, _ := filepath.Glob(filepath.Join("/var/lib/cni/results", network+"-*"))
	var ids []string
	for _, f := range files {
		if m := sandboxInResult.FindStringSubmatch(filepath.Base(f)); m != nil {
			ids = append(ids, m[1])
		}
	}
	return ids
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		dup := false
		for _, l := range list {
			dup = dup || l == it
		}
		if !dup {
			list = append(list, it)
		}
	}
	return list
}

// kubeProxyBinary is the binary to run kube-proxy --cleanup with: the one
// that runs, else the work dir's, else the one on PATH.
func (h *HostCluster) kubeProxyBinary() string {
	for _, p := range h.Procs {
		if p.Name == "kube-proxy" && p.Exe != "" {
			return p.Exe
		}
	}
	if p := filepath.Join(h.Opts.WorkDir, "bin", "kube-proxy"); isFile(p) {
		return p
	}
	p, _ := exec.LookPath("kube-proxy")
	return p
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// chainExists reports whether iptables has chain in table.
func chainExists(ctx context.Context, table, chain string) bool {
	ipt := iptablesPath("iptables")
	if ipt == "" {
		return false
	}
	_, err := iptablesRunner(ctx, ipt)("-t", table, "-S", chain)
	return err == nil
}

// findFiles lists what the lessons wrote that a re-run needs gone, and what
// TakeDown keeps.
func (h *HostCluster) findFiles() {
	o := h.Opts
	var remove []string
	if !h.ForeignNode {
		conf := filepath.Join(o.CNIConfDir, cniConfName)
		remove = append(remove, conf, filepath.Join("/var/lib/cni/networks", readBridgeConf(conf).Name),
			"/var/lib/kubelet", "/var/log/pods", "/var/log/containers")
	}
	remove = append(remove, filepath.Join(o.WorkDir, "etcd-data"))
	for _, p := range remove {
		if _, err := os.Lstat(p); err == nil {
			h.Remove = append(h.Remove, p)
		}
	}
	for _, p := range []string{filepath.Join(o.WorkDir, "certs"), filepath.Join(o.WorkDir, "admin.conf"),
		filepath.Join(o.WorkDir, "bin"), filepath.Join(o.WorkDir, "kubelet.yaml"), filepath.Join(o.WorkDir, "coredns.yaml"),
		"/etc/containerd/config.toml", "/var/lib/containerd"} {
		if _, err := os.Lstat(p); err == nil {
			h.Keep = append(h.Keep, p)
		}
	}
}

// Empty reports whether nothing of a hand-built cluster runs or remains.
func (h *HostCluster) Empty() bool {
	return len(h.Procs) == 0 && len(h.shims) == 0 && len(h.Netns) == 0 && len(h.Mounts) == 0 &&
		len(h.Sandboxes) == 0 && len(h.OrphanChains) == 0 && h.Cni0 == "" && !h.ProxyRules && !h.KubeletChains && len(h.Remove) == 0
}

// Describe writes what TakeDown will stop and remove, and what it leaves.
func (h *HostCluster) Describe(w io.Writer) {
	if len(h.Procs) > 0 {
		fmt.Fprintln(w, "Stop, in this order (as Ctrl-C twice in its terminal):")
		for _, p := range h.Procs {
			fmt.Fprintf(w, "  %-24s pid %-7d in %s: %s\n", p.Name, p.PID, p.Dir, shortCommand(p.Args))
		}
	}
	var rm []string
	if h.KubeProxy != "" && (h.ProxyRules || h.runs("kube-proxy")) {
		rm = append(rm, "kube-proxy's rules ("+h.KubeProxy+" --cleanup, once it stopped)")
	}
	if h.runs("containerd") {
		rm = append(rm, "the containers of containerd's k8s.io namespace (before containerd stops)")
	}
	rm = appendCount(rm, len(h.shims), "containerd shim", "and the containers under them")
	rm = appendCount(rm, len(h.Mounts), "mount", "under "+strings.Join(nodeMountDirs[:2], ", ")+" ...")
	rm = appendCount(rm, len(h.Netns), "pod network namespace", "(/run/netns/cni-*)")
	rm = appendCount(rm, len(h.Sandboxes), "pod sandbox's iptables rules and chains", "")
	rm = appendCount(rm, len(h.OrphanChains), "CNI chain", "no rule uses any more")
	if h.KubeletChains || h.runs("kubelet") {
		rm = append(rm, "the kubelet's iptables chains (KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT)")
	}
	if h.Cni0 != "" {
		rm = append(rm, "the "+h.Cni0+" bridge")
	}
	rm = append(rm, h.Remove...)
	if len(rm) > 0 {
		fmt.Fprintln(w, "Remove:")
		for _, r := range rm {
			fmt.Fprintln(w, "  "+r)
		}
	}
	if len(h.Keep) > 0 {
		fmt.Fprintln(w, "Keep:")
		for _, k := range h.Keep {
			fmt.Fprintln(w, "  "+k)
		}
	}
	if len(h.Foreign) > 0 {
		fmt.Fprintln(w, "Leave alone (not started from a terminal):")
		for _, p := range h.Foreign {
			fmt.Fprintf(w, "  %s pid %d: %s (%s)\n", p.Name, p.PID, p.Owner, p.Instead)
		}
	}
	if h.ForeignNode {
		fmt.Fprintln(w, "The node side (containers, mounts, pod network, /var/lib/kubelet) is left alone too: its kubelet or containerd is not yours to stop.")
	}
}

func appendCount(list []string, n int, what, more string) []string {
	if n == 0 {
		return list
	}
	s := fmt.Sprintf("%d %s", n, what)
	if n > 1 {
		s = fmt.Sprintf("%d %ss", n, what)
		if strings.HasSuffix(what, "'s iptables rules and chains") {
			s = fmt.Sprintf("%d pod sandboxes' iptables rules and chains", n)
		}
	}
	if more != "" {
		s += " " + more
	}
	return append(list, s)
}

// shortCommand is a command line to show on one line.
func shortCommand(args []string) string {
	s := strings.Join(args, " ")
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}

func (h *HostCluster) runs(name string) bool {
	for _, p := range h.Procs {
		if p.Name == name {
			return true
		}
	}
	return false
}

// TakeDown stops what FindHost found and removes what it left, as Down does
// for a demo: the components in reverse course order (kube-proxy's rules
// once it stopped; the containers while containerd runs; the shims after
// it), the node side's mounts, pod network and bridge, then the files.
func (h *HostCluster) TakeDown(ctx context.Context, out io.Writer) error {
	t := &teardown{status: iostreams.Status{W: out}}
	for _, p := range h.Procs {
		if p.Name == "containerd" {
			if n, err := removeContainers(ctx, h.Opts.Socket); err != nil {
				t.warn(fmt.Errorf("remove the containers of %s: %w", h.Opts.Socket, err))
			} else if n > 0 {
				t.status.Done("Removed %d containers", n)
			}
		}
		t.stopHostProcess(p)
		if p.Name == "containerd" && len(h.shims) > 0 {
			t.status.Done("Killed %d shims and their containers", killShims(h.shims))
			h.shims = nil
		}
	}
	if h.KubeProxy != "" && (h.ProxyRules || h.runs("kube-proxy")) {
		c, err := LookupComponent("kube-proxy")
		if err == nil {
			err = runCleanup(ctx, h.KubeProxy, c, t.status.Done)
		}
		if err != nil {
			t.warn(err)
		}
	}
	if !h.ForeignNode {
		h.cleanNode(ctx, t)
	}
	for _, p := range h.Remove {
		if err := os.RemoveAll(p); err != nil {
			t.warn(fmt.Errorf("remove %s: %w", p, err))
			continue
		}
		t.status.Done("Removed %s", p)
	}
	return errors.Join(t.errs...)
}

// cleanNode removes the node side's leftovers once its processes stopped.
func (h *HostCluster) cleanNode(ctx context.Context, t *teardown) {
	if n := killShims(h.shims); n > 0 {
		t.status.Done("Killed %d shims and their containers", n)
	}
	for _, d := range append(nodeMountDirs, h.Opts.WorkDir) {
		if n, err := unmountUnder(d); err != nil {
			t.warn(err)
		} else if n > 0 {
			t.status.Done("Unmounted %d mounts under %s", n, d)
		}
	}
	cleanNetwork(ctx, State{}, h.Sandboxes, h.Netns, t.status.Done, t.warn)
	// Chains whose jumps went with the sandboxes above are orphans now too.
	removeOrphanChains(ctx, orphanCNIChains(ctx), t)
	if h.Cni0 != "" {
		deleteBridge(ctx, h.Cni0, t.status.Done, t.warn)
	}
}

// stopHostProcess stops a component as Ctrl-C twice in its terminal does
// (kube-apiserver exits without draining on the second), then SIGKILL after
// 20 s; it acts only if pid still runs the program it was found running.
func (t *teardown) stopHostProcess(p HostProcess) {
	table := proc.Table{Dir: "/proc"}
	if !table.Named(p.PID, p.Name) {
		return
	}
	for i := 0; i < 2; i++ {
		// The group, when the component leads one (a terminal's job),
		// and the process itself (one started in a script's group).
		_ = syscall.Kill(-p.PID, syscall.SIGINT)
		_ = syscall.Kill(p.PID, syscall.SIGINT)
		if proc.WaitGone(p.PID, 300*time.Millisecond) {
			t.status.Done("Stopped %s (pid %d)", p.Name, p.PID)
			return
		}
	}
	if !proc.WaitGone(p.PID, 20*time.Second) {
		if err := proc.StopPid(p.PID, 0); err != nil {
			t.warn(fmt.Errorf("stop %s: %w", p.Name, err))
			return
		}
	}
	t.status.Done("Stopped %s (pid %d)", p.Name, p.PID)
}

// cniChainName is a chain the bridge plugin's ipMasq writes for one sandbox.
var cniChainName = regexp.MustCompile(`^CNI-[0-9a-f]{24}$`)

// orphanCNIChains are the sandbox chains in iptables' nat table that no
// rule jumps to any more: a sandbox torn down halfway (its shim killed
// before CNI's DEL ran) leaves them behind.
func orphanCNIChains(ctx context.Context) []string {
	ipt := iptablesPath("iptables")
	if ipt == "" {
		return nil
	}
	out, err := iptablesRunner(ctx, ipt)("-t", "nat", "-S")
	if err != nil {
		return nil
	}
	declared, jumped := []string{}, map[string]bool{}
	for _, rule := range strings.Split(string(out), "\n") {
		f := splitRule(rule)
		switch {
		case len(f) == 2 && f[0] == "-N" && cniChainName.MatchString(f[1]):
			declared = append(declared, f[1])
		case len(f) > 2 && f[0] == "-A":
			jumped[argAfter(f, "-j")] = true
		}
	}
	var orphans []string
	for _, c := range declared {
		if !jumped[c] {
			orphans = append(orphans, c)
		}
	}
	return orphans
}

// removeOrphanChains flushes and deletes the chains orphanCNIChains found.
func removeOrphanChains(ctx context.Context, chains []string, t *teardown) {
	ipt := iptablesPath("iptables")
	if ipt == "" || len(chains) == 0 {
		return
	}
	run := iptablesRunner(ctx, ipt)
	n := 0
	for _, c := range chains {
		_, _ = run("-t", "nat", "-F", c)
		if o, err := run("-t", "nat", "-X", c); err != nil {
			t.warn(fmt.Errorf("iptables -t nat -X %s: %v: %s", c, err, strings.TrimSpace(string(o))))
			continue
		}
		n++
	}
	if n > 0 {
		t.status.Done("Removed %d CNI chains no rule used any more", n)
	}
}
