package checks_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubetutor/kubetutor/checks"
)

// fakeHost builds a fake filesystem root with the given files; a value that
// starts with "->" makes a symlink (for /proc/PID/fd).
func fakeHost(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const tcpHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

// listening is a /proc/net/tcp line for a socket listening on port (hex) with inode.
func listening(portHex, inode string) string {
	return "   0: 00000000:" + portHex + " 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 " + inode + " 1 0000000000000000 100 0 0 10 0\n"
}

func TestHostChecks(t *testing.T) {
	cases := []struct {
		name   string
		files  map[string]string
		euid   int
		check  checks.Checker
		status checks.Status
		want   string
	}{
		{"root", nil, 0, checks.RunningAsRoot{}, checks.Pass, "Running as root"},
		{"not root", nil, 1000, checks.RunningAsRoot{}, checks.Fail, "user 1000"},
		{"port free", map[string]string{"proc/net/tcp": tcpHeader}, 0, checks.PortFree{Port: 6443, Component: "kube-apiserver"}, checks.Pass, "is free"},
		{"port held by another program", map[string]string{
			"proc/net/tcp": tcpHeader + listening("192B", "12345"), "proc/42/fd/3": "->socket:[12345]", "proc/42/comm": "nginx\n",
		}, 0, checks.PortFree{Port: 6443, Component: "kube-apiserver"}, checks.Fail, "held by nginx (pid 42)"},
		{"port held by its component", map[string]string{
			"proc/net/tcp6": tcpHeader + listening("192B", "777"), "proc/9/fd/7": "->socket:[777]", "proc/9/comm": "kube-apiserver\n",
		}, 0, checks.PortFree{Port: 6443, Component: "kube-apiserver"}, checks.Pass, "as expected"},
		{"port held by its component, but the demo needs it free", map[string]string{
			"proc/net/tcp": tcpHeader + listening("094F", "11"), "proc/7/fd/3": "->socket:[11]", "proc/7/comm": "etcd\n",
		}, 0, checks.PortFree{Port: 2383, Component: "etcd", RequireFree: true}, checks.Fail, "another cluster"},
		{"controller-manager's truncated comm", map[string]string{
			"proc/net/tcp": tcpHeader + listening("2811", "5"), "proc/9/fd/7": "->socket:[5]", "proc/9/comm": "kube-controller\n",
		}, 0, checks.PortFree{Port: 10257, Component: "kube-controller-manager"}, checks.Pass, "as expected"},
		{"port held, owner unknown", map[string]string{"proc/net/tcp": tcpHeader + listening("0951", "99")}, 0, checks.PortFree{Port: 2385, Component: "etcd"}, checks.Fail, "cannot see"},
		{"swap off", map[string]string{"proc/swaps": "Filename Type Size Used Priority\n"}, 0, checks.SwapOff{}, checks.Pass, "off"},
		{"swap on", map[string]string{"proc/swaps": "Filename Type Size Used Priority\n/swapfile file 1024 0 -2\n"}, 0, checks.SwapOff{}, checks.Warn, "failSwapOn: false"},
		{"cgroup v2", map[string]string{"sys/fs/cgroup/cgroup.controllers": "cpu memory\n"}, 0, checks.CgroupVersion{}, checks.Pass, "v2"},
		{"cgroup v1", map[string]string{"sys/fs/cgroup/memory/tasks": ""}, 0, checks.CgroupVersion{}, checks.Warn, "failCgroupV1: false"},
		{"oom_score_adj allowed", nil, 0, checks.OOMScoreAdj{CanLower: func() bool { return true }}, checks.Pass, "may lower"},
		{"oom_score_adj denied", nil, 0, checks.OOMScoreAdj{CanLower: func() bool { return false }}, checks.Warn, "restrict_oom_score_adj"},
		{"overlayfs", map[string]string{"proc/filesystems": "nodev\tsysfs\nnodev\toverlay\n"}, 0, checks.Overlayfs{}, checks.Pass, "overlayfs"},
		{"no overlayfs", map[string]string{"proc/filesystems": "nodev\tsysfs\n\text4\n"}, 0, checks.Overlayfs{}, checks.Fail, "cannot unpack"},
		{"ip_forward on", map[string]string{"proc/sys/net/ipv4/ip_forward": "1\n"}, 0, checks.Sysctl{Key: "net.ipv4.ip_forward", Want: "1", Why: "x", Fix: "sysctl -w net.ipv4.ip_forward=1"}, checks.Pass, "= 1"},
		{"ip_forward off", map[string]string{"proc/sys/net/ipv4/ip_forward": "0\n"}, 0, checks.Sysctl{Key: "net.ipv4.ip_forward", Want: "1", Why: "no way out.", Fix: "sysctl -w net.ipv4.ip_forward=1"}, checks.Warn, "is 0"},
		{"br_netfilter not loaded", nil, 0, checks.Sysctl{Key: "net.bridge.bridge-nf-call-iptables", Want: "1", Why: "x", Fix: "modprobe br_netfilter"}, checks.Warn, "does not exist"},
		{"iptables", map[string]string{"usr/sbin/iptables": "#!/bin/sh\n"}, 0, checks.IptablesInstalled{}, checks.Pass, "/usr/sbin/iptables"},
		{"no iptables", nil, 0, checks.IptablesInstalled{}, checks.Fail, "apt"},
		{"cni plugins upstream", map[string]string{"opt/cni/bin/bridge": ""}, 0, checks.CNIPluginsInstalled{}, checks.Pass, "its default: there."},
		{"cni plugins Debian", map[string]string{"usr/lib/cni/bridge": ""}, 0, checks.CNIPluginsInstalled{}, checks.Pass, `bin_dir = "/usr/lib/cni"`},
		{"no cni plugins", nil, 0, checks.CNIPluginsInstalled{}, checks.Fail, "failed to find plugin"},
		{"resolv.conf with a nameserver", map[string]string{"etc/resolv.conf": "nameserver 10.255.255.53\n"}, 0, checks.HostResolvConf{}, checks.Pass, "nameserver 10.255.255.53"},
		{"resolv.conf of systemd-resolved", map[string]string{"etc/resolv.conf": "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n"}, 0, checks.HostResolvConf{}, checks.Warn, "resolvConf: /run/systemd/resolve/resolv.conf"},
		{"no resolv.conf", nil, 0, checks.HostResolvConf{}, checks.Warn, "no nameserver"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := checks.NewEnv(t.TempDir())
			env.HostRoot = fakeHost(t, tc.files)
			env.Euid = func() int { return tc.euid }
			r := checks.Run(context.Background(), env, tc.check)
			if r.Status != tc.status || !strings.Contains(r.Message+" "+r.Hint, tc.want) {
				t.Errorf("%s = %s %q, want %s containing %q", tc.check.Name(), r.Status, r.Message, tc.status, tc.want)
			}
			if r.Status != checks.Pass && r.Hint == "" {
				t.Errorf("%s is %s without a hint", tc.check.Name(), r.Status)
			}
		})
	}
}

// TestHostChecksOnThisMachine compares the host checks' verdicts on the real
// machine with independent probes: stat(1) for the cgroup filesystem, a
// shell that tries to lower its oom_score_adj, /proc/swaps read by awk.
func TestHostChecksOnThisMachine(t *testing.T) {
	env := checks.NewEnv(t.TempDir())
	ctx := context.Background()
	probe := func(script string) string {
		out, err := exec.Command("sh", "-c", script).Output()
		if err != nil {
			t.Fatalf("%s: %v", script, err)
		}
		return strings.TrimSpace(string(out))
	}

	v2 := probe("stat -fc %T /sys/fs/cgroup") == "cgroup2fs"
	if r := checks.Run(ctx, env, checks.CgroupVersion{}); (r.Status == checks.Pass) != v2 {
		t.Errorf("cgroup check %s (%s), but stat says cgroup2fs=%t", r.Status, r.Message, v2)
	}
	canLower := probe("cur=$(cat /proc/self/oom_score_adj); if echo $((cur-1)) > /proc/self/oom_score_adj 2>/dev/null; then echo yes; else echo no; fi") == "yes"
	if r := checks.Run(ctx, env, checks.OOMScoreAdj{}); (r.Status == checks.Pass) != canLower {
		t.Errorf("oom_score_adj check %s, but a shell could lower it: %t", r.Status, canLower)
	}
	swapOn := probe("awk 'NR>1' /proc/swaps | wc -l") != "0"
	if r := checks.Run(ctx, env, checks.SwapOff{}); (r.Status == checks.Warn) != swapOn {
		t.Errorf("swap check %s, but /proc/swaps lists devices: %t", r.Status, swapOn)
	}
	overlay := probe("grep -qw overlay /proc/filesystems && echo yes || echo no") == "yes"
	if r := checks.Run(ctx, env, checks.Overlayfs{}); (r.Status == checks.Pass) != overlay {
		t.Errorf("overlayfs check %s, but /proc/filesystems lists overlay: %t", r.Status, overlay)
	}
}
