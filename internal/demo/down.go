package demo

import (
	"bufio"
	"context"
	"encoding/json"
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

	"github.com/kubetutor/kubetutor/internal/images"
)

// Down stops everything a demo started in l and removes what it left: the
// processes, containers and shims, mounts under the work dir and of the CNI
// network namespaces, the cni0 bridge, the CNI iptables chains, the CNI
// configuration it wrote, and its state. It works after the demo was killed
// (pidfiles and /proc tell what runs) and is safe to run twice.
func Down(ctx context.Context, l Layout, out io.Writer) error {
	var errs []error
	line := func(format string, a ...any) { fmt.Fprintf(out, " ✓ "+format+"\n", a...) }
	warn := func(err error) {
		fmt.Fprintf(out, " ✗ %v\n", err)
		errs = append(errs, err)
	}
	var st State
	if data, err := os.ReadFile(l.StatePath()); err == nil {
		_ = json.Unmarshal(data, &st)
	}
	if st.ContainerdAddress != "" {
		l.ContainerdAddress = st.ContainerdAddress
	}

	stop := func(name string) {
		pid, ok := RunningPid(l, name)
		if !ok {
			return
		}
		if err := stopPid(pid, 15*time.Second); err != nil {
			warn(fmt.Errorf("stop %s: %w", name, err))
			return
		}
		line("Stopped %s (pid %d)", name, pid)
	}

	stop("kubelet")
	if _, ok := RunningPid(l, "containerd"); ok {
		n, err := removeContainers(ctx, l.ContainerdAddress)
		if err != nil {
			warn(fmt.Errorf("remove containers: %w", err))
		} else if n > 0 {
			line("Removed %d containers", n)
		}
	}
	stop("containerd")
	if n := killShims(l); n > 0 {
		line("Killed %d leftover shims and their containers", n)
	}
	for i := len(Components) - 1; i >= 0; i-- {
		if c := Components[i].Name; c != "kubelet" && c != "containerd" {
			stop(c)
		}
	}

	if n, err := unmountUnder(l.WorkDir); err != nil {
		warn(err)
	} else if n > 0 {
		line("Unmounted %d mounts under %s", n, l.WorkDir)
	}
	// The pod network is the host's, not the work dir's: clean it only when
	// this demo ran the node side (containerd), so a demo stopped early
	// never touches another cluster's network.
	ranNode := false
	if _, err := os.Stat(l.ContainerdDir()); err == nil {
		ranNode = true
	}
	if ranNode {
		cleanNetwork(line, warn)
	}
	if st.CNIConfCreated && st.CNIConfFile != "" {
		if err := os.Remove(st.CNIConfFile); err == nil {
			line("Removed %s", st.CNIConfFile)
		} else if !errors.Is(err, os.ErrNotExist) {
			warn(err)
		}
	}
	var removed []string
	for _, p := range []string{l.EtcdDataDir(), l.ContainerdDir(), l.KubeletRoot(), l.CNIDataDir(), l.KubeletConfig(), l.ImagesTarball(), l.Path("run")} {
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			warn(fmt.Errorf("remove %s: %w", p, err))
			continue
		}
		removed = append(removed, filepath.Base(p))
	}
	if len(removed) > 0 {
		line("Removed %s from %s", strings.Join(removed, ", "), l.WorkDir)
	}
	return errors.Join(errs...)
}

// cleanNetwork removes what CNI leaves on the host: the cni-* network
// namespaces, the cni0 bridge and the CNI iptables chains.
func cleanNetwork(line func(string, ...any), warn func(error)) {
	if n, err := removeNetns(); err != nil {
		warn(err)
	} else if n > 0 {
		line("Removed %d CNI network namespaces", n)
	}
	if _, err := os.Stat("/sys/class/net/cni0"); err == nil {
		if out, err := exec.Command("ip", "link", "delete", "cni0").CombinedOutput(); err != nil {
			warn(fmt.Errorf("delete the cni0 bridge: %v: %s", err, strings.TrimSpace(string(out))))
		} else {
			line("Deleted the cni0 bridge")
		}
	}
	if n, err := removeCNIChains(); err != nil {
		warn(err)
	} else if n > 0 {
		line("Removed %d CNI iptables chains", n)
	}
}

// stopPid sends SIGTERM to a component's process group, then SIGKILL.
func stopPid(pid int, grace time.Duration) error {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if waitGone(pid, grace) {
		return nil
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if waitGone(pid, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("pid %d did not exit", pid)
}

func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !alive(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive is true while pid exists and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) > 0 && f[0] == "Z" {
		// Reap it if it is our child; either way it has exited.
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		return false
	}
	return true
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

// killShims kills containerd shims that belong to this demo's containerd
// (their command line names its socket), and every process under them.
func killShims(l Layout) int {
	procs := processTable()
	n := 0
	for pid, p := range procs {
		if strings.Contains(p.cmdline, "containerd-shim") && (strings.Contains(p.cmdline, l.ContainerdAddress) || strings.Contains(p.cmdline, l.WorkDir)) {
			for _, d := range descendants(procs, pid) {
				_ = syscall.Kill(d, syscall.SIGKILL)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
			waitGone(pid, 5*time.Second)
			n++
		}
	}
	return n
}

type procInfo struct {
	ppid    int
	cmdline string
}

func processTable() map[int]procInfo {
	out := map[int]procInfo{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		out[pid] = procInfo{ppid: ppid, cmdline: strings.ReplaceAll(string(cmd), "\x00", " ")}
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

// removeNetns unmounts and removes the CNI network namespaces (cni-*).
func removeNetns() (int, error) {
	matches, _ := filepath.Glob("/run/netns/cni-*")
	n := 0
	var errs []error
	for _, m := range matches {
		_ = unix.Unmount(m, unix.MNT_DETACH)
		if err := os.Remove(m); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove %s: %w", m, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// removeCNIChains deletes the iptables rules that jump to CNI chains and
// then the chains themselves, in the nat and filter tables.
func removeCNIChains() (int, error) {
	ipt, err := exec.LookPath("iptables")
	if err != nil {
		for _, p := range []string{"/usr/sbin/iptables", "/sbin/iptables"} {
			if _, err := os.Stat(p); err == nil {
				ipt = p
			}
		}
	}
	if ipt == "" {
		return 0, nil
	}
	n := 0
	var errs []error
	for _, table := range []string{"nat", "filter"} {
		out, err := exec.Command(ipt, "-w", "-t", table, "-S").Output()
		if err != nil {
			continue
		}
		var chains []string
		for _, rule := range strings.Split(string(out), "\n") {
			f := strings.Fields(rule)
			if len(f) >= 2 && f[0] == "-N" && strings.HasPrefix(f[1], "CNI-") {
				chains = append(chains, f[1])
			}
			if len(f) >= 2 && f[0] == "-A" && !strings.HasPrefix(f[1], "CNI-") && strings.Contains(rule, "-j CNI-") {
				args := append([]string{"-w", "-t", table, "-D"}, splitRule(rule)[1:]...)
				if o, err := exec.Command(ipt, args...).CombinedOutput(); err != nil {
					errs = append(errs, fmt.Errorf("iptables -t %s %s: %v: %s", table, strings.Join(args[3:], " "), err, strings.TrimSpace(string(o))))
				}
			}
		}
		for _, c := range chains {
			_ = exec.Command(ipt, "-w", "-t", table, "-F", c).Run()
		}
		for _, c := range chains {
			if o, err := exec.Command(ipt, "-w", "-t", table, "-X", c).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("iptables -t %s -X %s: %v: %s", table, c, err, strings.TrimSpace(string(o))))
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
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
