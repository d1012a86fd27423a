package demo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"golang.org/x/sys/unix"

	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/images"
	"github.com/kubetutor/kubetutor/internal/iostreams"
	"github.com/kubetutor/kubetutor/internal/proc"
)

// ErrNotDemo means the directory holds no demo (no run/demo.json): Down
// touches nothing there.
var ErrNotDemo = errors.New("no demo state (run/demo.json) in this directory")

// Down stops everything a demo started in l and removes what it left: the
// processes, kube-proxy's rules (kube-proxy --cleanup, once it stopped),
// containers and shims, mounts under the work dir, the pod
// network namespaces, iptables rules and chains of its own sandboxes, the
// cni0 bridge if the demo created it, the CNI configuration it wrote, and its
// state. It acts only on what it can tie to this demo (its pidfiles, shims
// serving its own containerd socket, their sandboxes), so another cluster on
// the machine is left alone. It works after the demo was killed (pidfiles and
// /proc tell what runs) and is safe to run twice.
func Down(ctx context.Context, l Layout, out io.Writer) error {
	data, err := fsutil.ReadFile(l.StatePath(), fsutil.LimitConfig)
	if err != nil {
		return ErrNotDemo
	}
	st, err := ParseState(data)
	if err != nil {
		return fmt.Errorf("read %s: %w", l.StatePath(), err)
	}
	if st.ContainerdAddress != "" {
		l.ContainerdAddress = st.ContainerdAddress
	}
	t := &teardown{l: l, status: iostreams.Status{W: out}}
	// What this demo's node side left running: the shims of its own
	// containerd, their sandboxes, and the network namespaces those use.
	shims := demoShims(l.ContainerdAddress)
	sandboxes, netns := shimSandboxes(shims)
	t.stopComponents(ctx, shims)
	if n, err := unmountUnder(l.WorkDir); err != nil {
		t.warn(err)
	} else if n > 0 {
		t.status.Done("Unmounted %d mounts under %s", n, l.WorkDir)
	}
	cleanNetwork(ctx, st, sandboxes, netns, t.status.Done, t.warn)
	if st.CNIConfCreated && st.CNIConfFile != "" {
		if err := os.Remove(st.CNIConfFile); err == nil {
			t.status.Done("Removed %s", st.CNIConfFile)
		} else if !errors.Is(err, os.ErrNotExist) {
			t.warn(err)
		}
	}
	if len(t.errs) == 0 {
		// Only then: the next down needs the pidfiles and the state.
		t.removeFiles()
	}
	return errors.Join(t.errs...)
}

// teardown is one run of Down: where it reports, and what went wrong.
type teardown struct {
	l      Layout
	status iostreams.Status
	errs   []error
}

func (t *teardown) warn(err error) {
	t.status.Failed("%v", err)
	t.errs = append(t.errs, err)
}

// stop stops a component the demo started, if it still runs; it reports
// whether the component is gone.
func (t *teardown) stop(name string) bool {
	pid, ok := RunningPid(t.l, name)
	if !ok {
		return true
	}
	if err := proc.StopPid(pid, 15*time.Second); err != nil {
		t.warn(fmt.Errorf("stop %s: %w", name, err))
		return false
	}
	t.status.Done("Stopped %s (pid %d)", name, pid)
	return true
}

// runProgram runs a program to its end and returns its output: a
// component's clean-up (kube-proxy --cleanup). Tests replace it.
var runProgram = func(ctx context.Context, path string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return exec.CommandContext(ctx, path, args...).CombinedOutput()
}

// cleanup runs a stopped component's clean-up (its table entry's
// CleanupArgs: kube-proxy --cleanup removes its iptables rules and
// nftables table) with the demo's own binary, when the demo started it:
// its pidfile is there.
func (t *teardown) cleanup(ctx context.Context, c Component) {
	if len(c.CleanupArgs) == 0 {
		return
	}
	if _, err := os.Stat(t.l.PidPath(c.Name)); err != nil {
		return
	}
	if err := runCleanup(ctx, filepath.Join(t.l.Bin(), c.Name), c, t.status.Done); err != nil {
		t.warn(err)
	}
}

// runCleanup runs c's clean-up with the program at bin, saying what it did
// with line.
func runCleanup(ctx context.Context, bin string, c Component, line func(string, ...any)) error {
	cmd := bin + " " + strings.Join(c.CleanupArgs, " ")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s: %w: the rules %s wrote stay until it runs", cmd, err, c.Name)
	}
	out, err := runProgram(ctx, bin, c.CleanupArgs...)
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", cmd, err, lastLines(string(out), 10))
	}
	line("Ran %s %s: its rules are gone", c.Name, strings.Join(c.CleanupArgs, " "))
	return nil
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// CleanupRules runs, for every component of the table that has a clean-up
// (kube-proxy --cleanup), its program from binDir, when binDir holds it:
// for a node side started outside a demo (the talk replay), once those
// components stopped.
func CleanupRules(ctx context.Context, binDir string, out io.Writer) error {
	status := iostreams.Status{W: out}
	var errs []error
	for _, c := range Components {
		if len(c.CleanupArgs) == 0 {
			continue
		}
		bin := filepath.Join(binDir, c.Name)
		if _, err := os.Stat(bin); err != nil {
			continue
		}
		if err := runCleanup(ctx, bin, c, status.Done); err != nil {
			status.Failed("%v", err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// stopComponents stops the components in reverse start order, each
// followed by its clean-up (kube-proxy's rules go once it no longer
// rewrites them). The runtime removes its containers before it stops; its
// shims outlive it.
func (t *teardown) stopComponents(ctx context.Context, shims []shim) {
	for i := len(Components) - 1; i >= 0; i-- {
		c := Components[i]
		if !c.Runtime {
			if t.stop(c.Name) {
				t.cleanup(ctx, c)
			}
			continue
		}
		if _, ok := RunningPid(t.l, c.Name); ok {
			n, err := removeContainers(ctx, t.l.ContainerdAddress)
			if err != nil {
				t.warn(fmt.Errorf("remove containers: %w", err))
			} else if n > 0 {
				t.status.Done("Removed %d containers", n)
			}
		}
		t.stop(c.Name)
		if n := killShims(shims); n > 0 {
			t.status.Done("Killed %d leftover shims and their containers", n)
		}
	}
}

// removeFiles removes the demo's state from its work dir.
func (t *teardown) removeFiles() {
	l := t.l
	var removed []string
	for _, p := range []string{l.EtcdDataDir(), l.ContainerdDir(), l.KubeletRoot(), l.CNIDataDir(), l.KubeletConfig(), l.ImagesTarball(), l.CoreDNSTarball(), l.Path("run")} {
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			t.warn(fmt.Errorf("remove %s: %w", p, err))
			continue
		}
		removed = append(removed, filepath.Base(p))
	}
	if len(removed) > 0 {
		t.status.Done("Removed %s from %s", strings.Join(removed, ", "), l.WorkDir)
	}
}

// cleanNetwork removes what CNI left for this demo's sandboxes: their
// network namespaces, the iptables rules that name them and the chains those
// rules jump to, libcni's cached results, and the cni0 bridge if the demo
// created it.
func cleanNetwork(ctx context.Context, st State, sandboxes []string, netns []string, line func(string, ...any), warn func(error)) {
	n := 0
	for _, ns := range netns {
		_ = unix.Unmount(ns, unix.MNT_DETACH)
		if err := os.Remove(ns); err != nil && !errors.Is(err, os.ErrNotExist) {
			warn(fmt.Errorf("remove %s: %w", ns, err))
			continue
		}
		n++
	}
	if n > 0 {
		line("Removed %d pod network namespaces", n)
	}
	if n, err := removeCNIChains(ctx, sandboxes); err != nil {
		warn(err)
	} else if n > 0 {
		line("Removed %d CNI iptables chains", n)
	}
	if !kubeletRuns() {
		if n, err := removeKubeletChains(ctx); err != nil {
			warn(err)
		} else if n > 0 {
			line("Removed the kubelet's %d iptables chains (KUBE-FIREWALL, KUBE-IPTABLES-HINT, KUBE-KUBELET-CANARY)", n)
		}
	}
	for _, id := range sandboxes {
		m, _ := filepath.Glob("/var/lib/cni/results/*-" + id + "-*")
		for _, f := range m {
			_ = os.Remove(f)
		}
	}
	if st.Cni0Created {
		deleteBridge(ctx, "cni0", line, warn)
	}
}

// deleteBridge deletes a bridge the CNI configuration created, if it is
// there.
func deleteBridge(ctx context.Context, name string, line func(string, ...any), warn func(error)) {
	if _, err := os.Stat(filepath.Join("/sys/class/net", name)); err != nil {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	out, err := exec.CommandContext(cctx, "ip", "link", "delete", name).CombinedOutput()
	cancel()
	if err != nil {
		warn(fmt.Errorf("delete the %s bridge: %v: %s", name, err, strings.TrimSpace(string(out))))
		return
	}
	line("Deleted the %s bridge", name)
}

// interruptTwice is Ctrl-C twice in a component's terminal: SIGINT to its
// process group, and again a moment later; SIGKILL if it still runs after
// grace.
func interruptTwice(pid int, grace time.Duration) error {
	_ = syscall.Kill(-pid, syscall.SIGINT)
	if proc.WaitGone(pid, 300*time.Millisecond) {
		return nil
	}
	_ = syscall.Kill(-pid, syscall.SIGINT)
	if proc.WaitGone(pid, grace) {
		return nil
	}
	return proc.StopPid(pid, 0)
}

// procStat returns the fields of /proc/PID/stat after the command name
// (which may contain spaces): [0] is the state (field 3), [1] the parent
// pid, [19] the start time (field 22).
func procStat(pid int) ([]string, error) {
	stat, err := fsutil.ReadFile(fmt.Sprintf("/proc/%d/stat", pid), fsutil.LimitProc)
	if err != nil {
		return nil, err
	}
	s := string(stat)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:]), nil
}

// removeContainers kills and deletes every container of the CRI namespace.
func removeContainers(ctx context.Context, address string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := containerd.New(address, containerd.WithDefaultNamespace(images.Namespace), containerd.WithTimeout(5*time.Second))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	list, err := c.Containers(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ctr := range list {
		if task, err := ctr.Task(ctx, nil); err == nil {
			_ = task.Kill(ctx, syscall.SIGKILL)
			if ch, err := task.Wait(ctx); err == nil {
				select {
				case <-ch:
				case <-time.After(5 * time.Second):
				}
			}
			_, _ = task.Delete(ctx)
		}
		if err := ctr.Delete(ctx, containerd.WithSnapshotCleanup); err == nil {
			n++
		}
	}
	return n, nil
}

// shim is a containerd shim serving this demo's containerd.
type shim struct {
	pid int
	id  string // the sandbox it groups (-id)
}

// demoShims finds the shims whose -address argument is exactly the demo's
// containerd socket.
func demoShims(address string) []shim { return shimsServing(address, "") }

// shimsServing finds the shims whose -address argument is exactly address
// and, when namespace is set, whose -namespace is namespace (Docker's shims
// serve the same socket in namespace moby).
func shimsServing(address, namespace string) []shim {
	var out []shim
	for pid, p := range processTable() {
		if !strings.Contains(p.args0(), "containerd-shim") {
			continue
		}
		if argAfter(p.args, "-address") != address {
			continue
		}
		if namespace != "" && argAfter(p.args, "-namespace") != namespace {
			continue
		}
		out = append(out, shim{pid: pid, id: argAfter(p.args, "-id")})
	}
	return out
}

func argAfter(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

// shimSandboxes lists the sandbox IDs of the shims and the /run/netns
// entries that their processes' network namespaces are mounted at.
func shimSandboxes(shims []shim) (ids, netns []string) {
	procs := processTable()
	inodes := map[uint64]bool{}
	for _, s := range shims {
		if s.id != "" {
			ids = append(ids, s.id)
		}
		for _, pid := range descendants(procs, s.pid) {
			var st unix.Stat_t
			if unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) == nil {
				inodes[st.Ino] = true
			}
		}
	}
	var hostNet unix.Stat_t
	if unix.Stat("/proc/1/ns/net", &hostNet) == nil {
		delete(inodes, hostNet.Ino)
	}
	entries, _ := filepath.Glob("/run/netns/*")
	for _, e := range entries {
		var st unix.Stat_t
		if unix.Stat(e, &st) == nil && inodes[st.Ino] {
			netns = append(netns, e)
		}
	}
	return ids, netns
}

// killShims kills the demo's shims and every process under them.
func killShims(shims []shim) int {
	procs := processTable()
	n := 0
	for _, s := range shims {
		for _, d := range descendants(procs, s.pid) {
			_ = syscall.Kill(d, syscall.SIGKILL)
		}
		_ = syscall.Kill(s.pid, syscall.SIGKILL)
		proc.WaitGone(s.pid, 5*time.Second)
		n++
	}
	return n
}

type procInfo struct {
	ppid int
	args []string
}

func (p procInfo) args0() string {
	if len(p.args) == 0 {
		return ""
	}
	return p.args[0]
}

func processTable() map[int]procInfo {
	out := map[int]procInfo{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := procStat(pid)
		if err != nil || len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		cmd, _ := fsutil.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"), fsutil.LimitProc)
		out[pid] = procInfo{ppid: ppid, args: strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00")}
	}
	return out
}

func descendants(procs map[int]procInfo, root int) []int {
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for pid, info := range procs {
			if info.ppid == p {
				out = append(out, pid)
				queue = append(queue, pid)
			}
		}
	}
	return out
}

// mountsUnder lists mount points at or below dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, sc.Err()
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// unmountUnder detaches every mount below dir.
func unmountUnder(dir string) (int, error) {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return 0, fmt.Errorf("list mounts: %w", err)
	}
	n := 0
	var errs []error
	for _, m := range mounts {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// removeCNIChains deletes the iptables rules whose comment names one of
// the sandboxes (the bridge plugin's ipMasq rules say `id: "<sandbox>"`),
// then the CNI chains those rules jumped to, in the nat and filter tables.
func removeCNIChains(ctx context.Context, sandboxes []string) (int, error) {
	if len(sandboxes) == 0 {
		return 0, nil
	}
	ipt := iptablesPath("iptables")
	if ipt == "" {
		return 0, nil
	}
	run := iptablesRunner(ctx, ipt)
	ours := func(rule string) bool {
		for _, id := range sandboxes {
			if strings.Contains(rule, id) {
				return true
			}
		}
		return false
	}
	n := 0
	var errs []error
	for _, table := range []string{"nat", "filter"} {
		out, err := run("-t", table, "-S")
		if err != nil {
			continue
		}
		var chains []string
		for _, rule := range strings.Split(string(out), "\n") {
			f := splitRule(rule)
			if len(f) < 2 || f[0] != "-A" || strings.HasPrefix(f[1], "CNI-") || !ours(rule) {
				continue
			}
			if target := argAfter(f, "-j"); strings.HasPrefix(target, "CNI-") {
				chains = append(chains, target)
			}
			args := append([]string{"-t", table, "-D"}, f[1:]...)
			if o, err := run(args...); err != nil {
				errs = append(errs, fmt.Errorf("iptables -t %s -D %s: %v: %s", table, strings.Join(f[1:], " "), err, strings.TrimSpace(string(o))))
			}
		}
		for _, c := range chains {
			_, _ = run("-t", table, "-F", c)
			if o, err := run("-t", table, "-X", c); err != nil {
				errs = append(errs, fmt.Errorf("iptables -t %s -X %s: %v: %s", table, c, err, strings.TrimSpace(string(o))))
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
}

// iptablesPath finds an iptables program (iptables, ip6tables) on PATH or
// in the sbin directories a non-root PATH lacks; "" when there is none.
func iptablesPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name)
		}
	}
	return ""
}

// iptablesRunner runs ipt with the xtables lock waited for, each call
// bounded in time.
func iptablesRunner(ctx context.Context, ipt string) func(args ...string) ([]byte, error) {
	return func(args ...string) ([]byte, error) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return exec.CommandContext(cctx, ipt, append([]string{"-w", "5"}, args...)...).CombinedOutput()
	}
}

// kubeletChains are the iptables chains every kubelet writes when it
// starts, in both address families (pkg/kubelet/kubelet_network_linux.go):
// KUBE-IPTABLES-HINT, which tells other programs which iptables backend is
// in use; the KUBE-KUBELET-CANARY chains, whose loss reveals a flush; and
// KUBE-FIREWALL, jumped to from INPUT and OUTPUT, which drops packets to
// 127.0.0.0/8 from elsewhere. No kubelet removes them when it stops.
var kubeletChains = []struct{ table, chain string }{
	{"filter", "KUBE-FIREWALL"},
	{"filter", "KUBE-KUBELET-CANARY"},
	{"nat", "KUBE-KUBELET-CANARY"},
	{"mangle", "KUBE-KUBELET-CANARY"},
	{"mangle", "KUBE-IPTABLES-HINT"},
}

// removeKubeletChains deletes kubeletChains, and the jumps to
// KUBE-FIREWALL, from iptables and ip6tables. Call it only once no kubelet
// runs on the machine: a running one writes them again within a minute.
func removeKubeletChains(ctx context.Context) (int, error) {
	n := 0
	var errs []error
	for _, name := range []string{"iptables", "ip6tables"} {
		ipt := iptablesPath(name)
		if ipt == "" {
			continue
		}
		run := iptablesRunner(ctx, ipt)
		for _, c := range kubeletChains {
			if _, err := run("-t", c.table, "-S", c.chain); err != nil {
				continue // not there (or no such table in this family)
			}
			if c.chain == "KUBE-FIREWALL" {
				for _, from := range []string{"INPUT", "OUTPUT"} {
					// The kubelet ensures one jump each; a restarted one may
					// have left more.
					for i := 0; i < 10; i++ {
						if _, err := run("-t", c.table, "-D", from, "-j", c.chain); err != nil {
							break
						}
					}
				}
			}
			_, _ = run("-t", c.table, "-F", c.chain)
			if o, err := run("-t", c.table, "-X", c.chain); err != nil {
				errs = append(errs, fmt.Errorf("%s -t %s -X %s: %v: %s", name, c.table, c.chain, err, strings.TrimSpace(string(o))))
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
}

// kubeletRuns says whether a live kubelet runs on this machine.
func kubeletRuns() bool { return liveProcessNamed("kubelet") }

// liveProcessNamed says whether a live process whose command name is name
// runs on this machine. A zombie does not count: a stopped kubelet whose
// parent exited stays one for good where PID 1 reaps no orphans (a
// container's init, this project's VMs), and it writes no chains.
func liveProcessNamed(name string) bool {
	_, ok := proc.Table{Dir: "/proc"}.Live(name, nil)
	return ok
}

// splitRule splits an `iptables -S` line into arguments, honouring double
// quotes and the backslash escapes iptables prints inside them.
func splitRule(rule string) []string {
	var out []string
	var cur strings.Builder
	inQuote, started := false, false
	rs := []rune(rule)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\\' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
			started = true
		case r == '"':
			inQuote = !inQuote
			started = true
		case r == ' ' && !inQuote:
			if started {
				out = append(out, cur.String())
				cur.Reset()
				started = false
			}
		default:
			cur.WriteRune(r)
			started = true
		}
	}
	if started {
		out = append(out, cur.String())
	}
	return out
}

// CleanNode removes what a node side outside a demo's work dir left behind
// (a cluster started by hand, as the talk does, with containerd's and the
// kubelet's default directories): the CRI containers of the containerd at
// address (while it still runs), the shims serving it and their processes,
// the mounts under dirs, the pod network namespaces, the iptables rules and
// chains of its sandboxes, and the cni0 bridge when deleteCni0 is set. Call
// it after the kubelet stopped and before containerd is stopped; it lists
// the shims first, so it also works once containerd is gone.
func CleanNode(ctx context.Context, address string, dirs []string, deleteCni0 bool, out io.Writer) error {
	var errs []error
	status := iostreams.Status{W: out}
	line := status.Done
	warn := func(err error) {
		status.Failed("%v", err)
		errs = append(errs, err)
	}
	shims := demoShims(address)
	sandboxes, netns := shimSandboxes(shims)
	if n, err := removeContainers(ctx, address); err == nil && n > 0 {
		line("Removed %d containers", n)
	}
	if n := killShims(shims); n > 0 {
		line("Killed %d shims and their containers", n)
	}
	for _, d := range dirs {
		if n, err := unmountUnder(d); err != nil {
			warn(err)
		} else if n > 0 {
			line("Unmounted %d mounts under %s", n, d)
		}
	}
	cleanNetwork(ctx, State{Cni0Created: deleteCni0}, sandboxes, netns, line, warn)
	return errors.Join(errs...)
}
