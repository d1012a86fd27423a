package checks

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/host"
)

// The host checks are doctor's: a preflight in the spirit of kubeadm's, run
// on its own and before demo mode. They read the host through Env.HostRoot
// so tests can give them a fake /proc and /sys.

// RunningAsRoot checks the effective user: containerd and the kubelet need root.
type RunningAsRoot struct{}

// Name implements Checker.
func (RunningAsRoot) Name() string { return "root" }

// Check implements Checker.
func (RunningAsRoot) Check(_ context.Context, env *Env) (Result, error) {
	if uid := env.Euid(); uid != 0 {
		return failf("Running as user %d: etcd and the control plane run as anyone, but containerd and the kubelet need root.", uid).
			saw(fmt.Sprintf("uid %d", uid), "uid 0").
			hint("run the node steps (and kubetutor demo) with sudo"), nil
	}
	return passf("Running as root."), nil
}

// PortFree checks that a component's port is free, or held by that component.
type PortFree struct {
	Port      int
	Component string
	// RequireFree fails even when the expected component holds the port.
	RequireFree bool
}

// Name implements Checker.
func (p PortFree) Name() string { return fmt.Sprintf("port-%d", p.Port) }

// Check implements Checker.
func (p PortFree) Check(_ context.Context, env *Env) (Result, error) {
	holders, err := listeners(env)
	if err != nil {
		return Result{}, fmt.Errorf("read listening sockets: %w", err)
	}
	h, busy := holders[p.Port]
	switch {
	case !busy:
		return passf("Port %d is free for %s.", p.Port, p.Component), nil
	case h.pid != 0 && strings.HasPrefix(p.Component, h.comm) && p.RequireFree:
		return failf("Port %d is held by a %s already running (pid %d): it belongs to another cluster, which the demo must not join.", p.Port, p.Component, h.pid).
			saw(fmt.Sprintf("%s (pid %d) listening", h.comm, h.pid), "port free").
			hint("stop that cluster first (kubetutor demo down --workdir DIR if it is a demo), or continue it with --from"), nil
	case h.pid != 0 && strings.HasPrefix(p.Component, h.comm):
		// comm is truncated to 15 characters (kube-controller).
		return passf("Port %d is held by %s (pid %d), as expected.", p.Port, p.Component, h.pid), nil
	case h.pid == 0:
		return failf("Port %d, which %s needs, is already in use (by a process kubetutor cannot see).", p.Port, p.Component).
			saw("port in use", "port free").
			hint("find it with: ss -ltnp 'sport = :%d'", p.Port), nil
	}
	return failf("Port %d, which %s needs, is held by %s (pid %d).", p.Port, p.Component, h.comm, h.pid).
		saw(fmt.Sprintf("%s (pid %d) listening", h.comm, h.pid), "port free").
		hint("stop %s (pid %d), or it will make %s fail to start", h.comm, h.pid, p.Component), nil
}

type holder struct {
	pid  int
	comm string
}

// listeners maps listening TCP ports to the process holding them, from
// /proc/net/tcp{,6} and the processes' file descriptors.
func listeners(env *Env) (map[int]holder, error) {
	inodes := map[string]int{} // socket inode -> port
	for _, f := range []string{"proc/net/tcp", "proc/net/tcp6"} {
		data, err := fsutil.ReadFile(env.HostPath(f), fsutil.LimitProc)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, err
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, portHex, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			port, err := strconv.ParseInt(portHex, 16, 32)
			if err != nil {
				continue
			}
			inodes[fields[9]] = int(port)
		}
	}
	out := map[int]holder{}
	for _, port := range inodes {
		out[port] = holder{}
	}
	procs, _ := os.ReadDir(env.HostPath("proc"))
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(env.HostPath(filepath.Join("proc", p.Name(), "fd")))
		for _, fd := range fds {
			link, err := os.Readlink(env.HostPath(filepath.Join("proc", p.Name(), "fd", fd.Name())))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			inode := strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")
			if port, ok := inodes[inode]; ok {
				comm, _ := fsutil.ReadFile(env.HostPath(filepath.Join("proc", p.Name(), "comm")), fsutil.LimitProc)
				out[port] = holder{pid: pid, comm: strings.TrimSpace(string(comm))}
			}
		}
	}
	return out, nil
}

// SwapOff checks for swap: the kubelet refuses it unless told otherwise.
type SwapOff struct{}

// Name implements Checker.
func (SwapOff) Name() string { return "swap" }

// Check implements Checker.
func (SwapOff) Check(_ context.Context, env *Env) (Result, error) {
	data, err := fsutil.ReadFile(env.HostPath("proc/swaps"), fsutil.LimitProc)
	if err != nil {
		return Result{}, fmt.Errorf("read /proc/swaps: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 1 {
		return warnf("Swap is on (%d device(s)): the kubelet refuses to start with swap unless its configuration says failSwapOn: false.", len(lines)-1).
			saw("swap on", "swap off, or failSwapOn: false").
			hint("keep failSwapOn: false in kubelet.yaml: the kubelet lesson's commands write it (kubetutor show kubelet --commands); or swapoff -a"), nil
	}
	return passf("Swap is off."), nil
}

// CgroupVersion reports the cgroup hierarchy: kubelet 1.37 needs
// failCgroupV1: false on cgroup v1.
type CgroupVersion struct{}

// Name implements Checker.
func (CgroupVersion) Name() string { return "cgroup-version" }

// Check implements Checker.
func (CgroupVersion) Check(_ context.Context, env *Env) (Result, error) {
	if !env.hostProbe().CgroupV1() {
		return passf("cgroup v2 (unified hierarchy)."), nil
	}
	return warnf("This host uses cgroup v1: kubelet 1.37 refuses to run on it (\"kubelet is configured to not run on a host using cgroup v1\") unless its configuration says failCgroupV1: false.").
		saw("cgroup v1", "cgroup v2, or failCgroupV1: false").
		hint("add failCgroupV1: false to kubelet.yaml: the kubelet lesson's commands write it (kubetutor show kubelet --commands)"), nil
}

// OOMScoreAdj checks whether processes may lower oom_score_adj, as runc does
// for every container unless containerd restricts it.
type OOMScoreAdj struct {
	// CanLower probes the host; nil means trying it in a child process.
	CanLower func() bool
}

// Name implements Checker.
func (OOMScoreAdj) Name() string { return "oom-score-adj" }

// Check implements Checker.
func (o OOMScoreAdj) Check(_ context.Context, _ *Env) (Result, error) {
	probe := o.CanLower
	if probe == nil {
		probe = host.CanLowerOOMScoreAdj
	}
	if probe() {
		return passf("Processes may lower oom_score_adj."), nil
	}
	return warnf("Processes may not lower oom_score_adj here (no CAP_SYS_RESOURCE: a container or an unprivileged VM). Every pod sandbox would fail with \"can't get final child's PID from pipe: EOF\".").
		saw("lowering oom_score_adj denied", "allowed, or restrict_oom_score_adj = true").
		hint("set restrict_oom_score_adj = true in containerd's CRI configuration: the containerd lesson's commands write it (kubetutor show containerd --commands)"), nil
}

// Overlayfs checks that the kernel offers overlayfs, containerd's default snapshotter.
type Overlayfs struct{}

// Name implements Checker.
func (Overlayfs) Name() string { return "overlayfs" }

// Check implements Checker.
func (Overlayfs) Check(_ context.Context, env *Env) (Result, error) {
	data, err := fsutil.ReadFile(env.HostPath("proc/filesystems"), fsutil.LimitProc)
	if err != nil {
		return Result{}, fmt.Errorf("read /proc/filesystems: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == "overlay" {
			return passf("The kernel supports overlayfs."), nil
		}
	}
	return failf("The kernel does not list overlayfs: containerd's overlayfs snapshotter cannot unpack images.").
		saw("no overlay in /proc/filesystems", "overlay").
		hint("modprobe overlay"), nil
}

// Sysctl checks a kernel setting.
type Sysctl struct {
	Key, Want, Why, Fix string
}

// Name implements Checker.
func (s Sysctl) Name() string { return "sysctl-" + s.Key }

// Check implements Checker.
func (s Sysctl) Check(_ context.Context, env *Env) (Result, error) {
	data, err := fsutil.ReadFile(env.HostPath(filepath.Join("proc/sys", strings.ReplaceAll(s.Key, ".", "/"))), fsutil.LimitProc)
	if os.IsNotExist(err) {
		return warnf("%s does not exist: %s", s.Key, s.Why).saw("missing", s.Key+" = "+s.Want).hint("%s", s.Fix), nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("read %s: %w", s.Key, err)
	}
	if got := strings.TrimSpace(string(data)); got != s.Want {
		return warnf("%s is %s: %s", s.Key, got, s.Why).saw(s.Key+" = "+got, s.Key+" = "+s.Want).hint("%s", s.Fix), nil
	}
	return passf("%s = %s.", s.Key, s.Want), nil
}

// IptablesInstalled checks for iptables, which the bridge plugin's ipMasq
// and portmap need (one of the talk's common errors).
type IptablesInstalled struct{}

// Name implements Checker.
func (IptablesInstalled) Name() string { return "iptables" }

// Check implements Checker.
func (IptablesInstalled) Check(_ context.Context, env *Env) (Result, error) {
	if p := iptablesPath(env); p != "" {
		return passf("iptables is installed (%s).", p), nil
	}
	return failf("iptables is not installed: the bridge plugin's ipMasq and portmap fail, and every pod sandbox with them (exec: \"iptables\": executable file not found in $PATH).").
		saw("no iptables", "iptables").
		hint("apt install iptables"), nil
}

// iptablesPath is where iptables is installed on the host (under
// Env.HostRoot), as the host names it: /usr/sbin/iptables, say; "" when it
// is in none of the directories distributions put it in.
func iptablesPath(env *Env) string {
	for _, d := range []string{"usr/sbin", "sbin", "usr/bin", "bin"} {
		if fi, err := os.Stat(env.HostPath(d, "iptables")); err == nil && !fi.IsDir() {
			return "/" + d + "/iptables"
		}
	}
	return ""
}

// lookupHost resolves a name as the API server's dialer does (a variable
// for tests).
var lookupHost = net.DefaultResolver.LookupHost

// HostnameResolves checks that this machine's name resolves: the kubelet
// registers the node under it, and the API server dials that name (the
// first of its --kubelet-preferred-address-types) for logs, exec and
// port-forward.
type HostnameResolves struct{}

// Name implements Checker.
func (HostnameResolves) Name() string { return "hostname-resolves" }

// Check implements Checker.
func (HostnameResolves) Check(ctx context.Context, env *Env) (Result, error) {
	name := env.Hostname
	if name == "" {
		return warnf("This machine has no hostname to check.").saw("no hostname", "a hostname that resolves"), nil
	}
	addrs, err := lookupHost(ctx, name)
	if err != nil || len(addrs) == 0 {
		return warnf("The hostname %s does not resolve: the node will register under that name, and kubectl logs and exec will fail with \"dial tcp: lookup %s ...: no such host\" when the API server dials it.", name, name).
			saw("no address for "+name, "an address for "+name).
			hint("add the name to /etc/hosts (echo \"127.0.1.1 %s\" >> /etc/hosts), or start kube-apiserver with --kubelet-preferred-address-types=InternalIP,Hostname", name), nil
	}
	return passf("The hostname %s resolves (%s): the API server can dial the node by name.", name, strings.Join(addrs, ", ")), nil
}

// HostResolvConf checks the node's /etc/resolv.conf, which the kubelet
// gives to pods with dnsPolicy Default, CoreDNS's among them: CoreDNS
// forwards every name outside the cluster to its nameservers.
type HostResolvConf struct{}

// Name implements Checker.
func (HostResolvConf) Name() string { return "host-resolv-conf" }

// Check implements Checker.
func (HostResolvConf) Check(_ context.Context, env *Env) (Result, error) {
	data, err := fsutil.ReadFile(env.HostPath("etc/resolv.conf"), fsutil.LimitConfig)
	if err != nil && !os.IsNotExist(err) {
		return Result{}, fmt.Errorf("read /etc/resolv.conf: %w", err)
	}
	rc := ParseResolvConf(string(data))
	const want = "a nameserver other than this machine's loopback"
	if len(rc.Nameservers) == 0 {
		return warnf("/etc/resolv.conf names no nameserver: CoreDNS (act two) forwards names outside the cluster to the node's resolv.conf and would have nothing to ask.").
			saw("no nameserver", want).
			hint("give the machine a nameserver in /etc/resolv.conf"), nil
	}
	for _, n := range rc.Nameservers {
		if ip, err := netip.ParseAddr(n); err == nil && !ip.IsLoopback() {
			return passf("/etc/resolv.conf names nameserver %s: CoreDNS can forward names outside the cluster there.", n).
				saw(strings.Join(rc.Nameservers, ", "), want), nil
		}
	}
	return warnf("/etc/resolv.conf names only loopback nameservers (%s): inside CoreDNS's pod that address is the pod itself, so CoreDNS forwards to itself, its loop plugin stops it (\"Loop ... detected\") and the pod crashes.", strings.Join(rc.Nameservers, ", ")).
		saw(strings.Join(rc.Nameservers, ", "), want).
		hint("with systemd-resolved, give the kubelet the real list: resolvConf: /run/systemd/resolve/resolv.conf in kubelet.yaml"), nil
}

// CNIPluginsInstalled checks that the CNI plugins are somewhere containerd can use.
type CNIPluginsInstalled struct{}

// Name implements Checker.
func (CNIPluginsInstalled) Name() string { return "cni-plugins-installed" }

// Check implements Checker.
func (CNIPluginsInstalled) Check(_ context.Context, env *Env) (Result, error) {
	if d := env.hostProbe().CNIBinDir(env.CNIBinDirs); d != "" {
		return passf("The CNI plugins are in %s. %s", d, CNIBinDirNote(env, d)), nil
	}
	return failf("No CNI plugins in %s: pods will fail with \"failed to find plugin\".", strings.Join(env.CNIBinDirs, " or ")).
		saw("no bridge plugin", "the CNI plugins").
		hint("apt install containernetworking-plugins, or unpack the CNI release into /opt/cni/bin: the CNI lesson's commands do (kubetutor show cni --commands), as does kubetutor fetch cni --cni-dir /opt/cni/bin"), nil
}

// ContainerdSocket reports containerd's socket: absent is fine before the
// containerd step; present but silent is a stale socket.
type ContainerdSocket struct{}

// Name implements Checker.
func (ContainerdSocket) Name() string { return "containerd-socket" }

// Check implements Checker.
func (ContainerdSocket) Check(ctx context.Context, env *Env) (Result, error) {
	if _, err := os.Stat(env.ContainerdAddress); err != nil {
		return warnf("containerd is not running yet (no socket at %s); the containerd step starts it.", env.ContainerdAddress).
			saw("no socket", "a socket once containerd runs").
			hint("nothing to do before the containerd step"), nil
	}
	r, err := ContainerdRunning{}.Check(ctx, env)
	if err != nil || r.Status != Pass {
		return r, err
	}
	r.Message = strings.Replace(r.Message, "answers", "already answers", 1)
	return r, nil
}
