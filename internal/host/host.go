// Package host inspects the machine for what the cluster's components need:
// the facts doctor reports and demo mode adapts to.
package host

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Facts are what the components' configuration depends on.
type Facts struct {
	// CgroupV1 is true on a cgroup v1 (or hybrid) host: kubelet 1.37 then
	// needs failCgroupV1: false.
	CgroupV1 bool
	// RestrictOOMScoreAdj is true when processes may not lower their
	// oom_score_adj (no CAP_SYS_RESOURCE): containerd's CRI plugin then
	// needs restrict_oom_score_adj = true.
	RestrictOOMScoreAdj bool
	// CNIBinDir is where the CNI plugins are ("" when none were found).
	CNIBinDir string
}

// CNIBinDirs are where CNI plugins are installed: upstream's default (where
// containerd looks unless told otherwise), then Debian's package location.
var CNIBinDirs = []string{"/opt/cni/bin", "/usr/lib/cni"}

// Root is the filesystem root the probes read; tests point it elsewhere.
var Root = "/"

// Detect inspects this machine.
func Detect() Facts {
	return Facts{
		CgroupV1:            CgroupV1(),
		RestrictOOMScoreAdj: !CanLowerOOMScoreAdj(),
		CNIBinDir:           CNIBinDir(CNIBinDirs),
	}
}

// Probe reads the machine's files under Root: "/", or the host root tests
// and the checks' Env give. Doctor, the demo and the checks share its
// probes, so that each fact is probed one way.
type Probe struct {
	Root string
}

// CgroupV1 reports whether /sys/fs/cgroup is not a pure cgroup v2 hierarchy.
func (p Probe) CgroupV1() bool {
	_, err := os.Stat(filepath.Join(p.Root, "sys/fs/cgroup/cgroup.controllers"))
	return err != nil
}

// CNIBinDir returns the first of dirs holding the bridge plugin ("" when
// none does).
func (p Probe) CNIBinDir(dirs []string) string {
	for _, d := range dirs {
		if fi, err := os.Stat(filepath.Join(p.Root, d, "bridge")); err == nil && !fi.IsDir() {
			return d
		}
	}
	return ""
}

// CgroupV1 probes this machine (under Root): see Probe.CgroupV1.
func CgroupV1() bool { return Probe{Root: Root}.CgroupV1() }

// CanLowerOOMScoreAdj tries to lower this process's oom_score_adj below its
// current value, what runc does for every container unless containerd
// restricts it, and puts it back (raising it is always allowed).
func CanLowerOOMScoreAdj() bool {
	data, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return false
	}
	cur, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || cur <= -1000 {
		return false
	}
	f, err := os.OpenFile("/proc/self/oom_score_adj", os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if _, err := f.WriteString(strconv.Itoa(cur - 1)); err != nil {
		return false
	}
	_, _ = f.WriteString(strconv.Itoa(cur))
	return true
}

// CNIBinDir probes this machine (under Root): see Probe.CNIBinDir.
func CNIBinDir(dirs []string) string { return Probe{Root: Root}.CNIBinDir(dirs) }
