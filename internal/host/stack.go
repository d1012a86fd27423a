package host

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/kubetutor/kubetutor/internal/proc"
)

// Stack is what decides which variant of a lesson's commands fits this
// machine: the node software's versions and how the machine is run.
type Stack struct {
	Facts
	// Systemd is true when systemd is the init system (systemctl works).
	Systemd bool
	// ContainerdMajor is containerd's major version (0 when not found).
	ContainerdMajor int
	// EtcdMinor is etcd's 3.x minor version (0 when not found).
	EtcdMinor int
	// Online is true when dl.k8s.io answers.
	Online bool
}

// DetectStack inspects this machine, with PATH as the learner's shell has
// it (bin/ of the work dir first when given). It dials dl.k8s.io (at most
// a second) to tell online from offline.
func DetectStack(ctx context.Context, binDir string) Stack {
	s := Stack{Facts: Detect(), Systemd: Systemd()}
	s.ContainerdMajor, _ = versionOf(ctx, binDir, "containerd", `containerd \S+ v?(\d+)\.(\d+)`)
	if _, minor := versionOf(ctx, binDir, "etcd", `etcd Version: (\d+)\.(\d+)`); minor > 0 {
		s.EtcdMinor = minor
	}
	d := net.Dialer{Timeout: time.Second}
	if c, err := d.DialContext(ctx, "tcp", "dl.k8s.io:443"); err == nil {
		c.Close()
		s.Online = true
	}
	return s
}

// Systemd reports whether systemd runs this machine (what systemctl
// itself tests: /run/systemd/system exists).
func Systemd() bool {
	fi, err := os.Stat(filepath.Join(Root, "run/systemd/system"))
	return err == nil && fi.IsDir()
}

func versionOf(ctx context.Context, binDir, prog, pattern string) (major, minor int) {
	path := ""
	if binDir != "" {
		if fi, err := os.Stat(filepath.Join(binDir, prog)); err == nil && !fi.IsDir() {
			path = filepath.Join(binDir, prog)
		}
	}
	if path == "" {
		p, err := exec.LookPath(prog)
		if err != nil {
			return 0, 0
		}
		path = p
	}
	out, _ := proc.Command{Path: path, Args: []string{"--version"}, Timeout: 3 * time.Second, StdoutOnly: true}.Output(ctx)
	return ParseVersion(out, pattern)
}

// ParseVersion finds major and minor in a --version output with a pattern
// whose two groups are them.
func ParseVersion(out, pattern string) (major, minor int) {
	m := regexp.MustCompile(pattern).FindStringSubmatch(out)
	if m == nil {
		return 0, 0
	}
	major, err1 := strconv.Atoi(m[1])
	minor, err2 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil {
		// A number out of range is no version we know.
		return 0, 0
	}
	return major, minor
}

// Tags are the stack's facts as the lessons' `when=` tags name them, one
// of each pair. Unknown versions count as the ones Debian 12 packages
// (containerd 1.6, etcd 3.4); no CNI plugins count as /opt/cni/bin, where
// the lesson installs them.
func (s Stack) Tags() []string {
	pick := func(c bool, yes, no string) string {
		if c {
			return yes
		}
		return no
	}
	return []string{
		pick(s.Online, "online", "offline"),
		pick(s.Systemd, "systemd", "no-systemd"),
		pick(s.CgroupV1, "cgroup-v1", "cgroup-v2"),
		pick(s.CNIBinDir == "/usr/lib/cni", "cni-usr-lib", "cni-opt"),
		pick(s.ContainerdMajor >= 2, "containerd-2", "containerd-1"),
		pick(s.EtcdMinor >= 5, "etcd-3.6", "etcd-3.4"),
	}
}
