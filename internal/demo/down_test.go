package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/internal/proc"
)

func TestSplitRule(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{`-A POSTROUTING -s 10.244.0.2/32 -m comment --comment "name: \"bridge\" id: \"d75e\"" -j CNI-5970f403`,
			[]string{"-A", "POSTROUTING", "-s", "10.244.0.2/32", "-m", "comment", "--comment", `name: "bridge" id: "d75e"`, "-j", "CNI-5970f403"}},
		{`-A CNI-x -d 10.244.0.0/24 -j ACCEPT`, []string{"-A", "CNI-x", "-d", "10.244.0.0/24", "-j", "ACCEPT"}},
		{`-A X --comment ""`, []string{"-A", "X", "--comment", ""}},
	}
	for _, tc := range cases {
		if got := splitRule(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitRule(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestDownTouchesNothingWithoutDemoState: pointed at a directory that holds
// no demo (a learner's work dir, say), down removes nothing.
func TestDownTouchesNothingWithoutDemoState(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"etcd-data/member/snap", "kubelet", "containerd/root"} {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "kubelet.yaml"), []byte("kind: KubeletConfiguration\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := Down(context.Background(), Layout{WorkDir: dir, ContainerdAddress: DefaultSocket(dir)}, &out)
	if !errors.Is(err, ErrNotDemo) {
		t.Fatalf("Down = %v, want ErrNotDemo", err)
	}
	for _, p := range []string{"etcd-data/member/snap", "kubelet", "containerd/root", "kubelet.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s was touched: %v", p, err)
		}
	}
	if out.Len() != 0 {
		t.Errorf("down said: %s", out.String())
	}
}

func TestArgAfter(t *testing.T) {
	args := []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "k8s.io", "-id", "abc123", "-address", "/tmp/d/containerd/containerd.sock"}
	if got := argAfter(args, "-address"); got != "/tmp/d/containerd/containerd.sock" {
		t.Errorf("-address = %q", got)
	}
	if got := argAfter(args, "-id"); got != "abc123" {
		t.Errorf("-id = %q", got)
	}
	if got := argAfter([]string{"x", "--address=/run/s.sock"}, "--address"); got != "/run/s.sock" {
		t.Errorf("--address= form: %q", got)
	}
	if got := argAfter(args, "-missing"); got != "" {
		t.Errorf("missing flag: %q", got)
	}
}

func TestDefaultSocketFitsAUnixSocket(t *testing.T) {
	if got := DefaultSocket("/tmp/demo"); got != "/tmp/demo/containerd/containerd.sock" {
		t.Errorf("short work dir: %s", got)
	}
	long := "/" + strings.Repeat("very-long-directory-name/", 6)
	got := DefaultSocket(long)
	if len(got) >= 100 || !strings.HasPrefix(got, "/run/kubetutor/") || got != DefaultSocket(long) {
		t.Errorf("long work dir: %s", got)
	}
}

// TestRunningPidRejectsAnotherProcess: a pidfile whose start time does not
// match the process with that pid (a reused pid) is not the component.
func TestRunningPidRejectsAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	l := Layout{WorkDir: dir}
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	start, err := procStartTime(self)
	if err != nil {
		t.Fatal(err)
	}
	write := func(content string) {
		if err := os.WriteFile(l.PidPath("etcd"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf("%d %s\n", self, start))
	if _, ok := RunningPid(l, "etcd"); !ok {
		t.Errorf("this very process, with its start time, is not recognised")
	}
	write(fmt.Sprintf("%d 1\n", self))
	if _, ok := RunningPid(l, "etcd"); ok {
		t.Errorf("a pidfile with another start time is taken for the component")
	}
	write("999999999 1\n")
	if _, ok := RunningPid(l, "etcd"); ok {
		t.Errorf("a dead pid is taken for running")
	}
}

// TestDownCleansUpKubeProxyAfterStoppingIt: down stops the demo's
// kube-proxy first, then runs `bin/kube-proxy --cleanup` (never while it
// runs: it would write its rules again); a demo that never started it runs
// no clean-up. The clean-up is recorded, not run: iptables stays as it is.
func TestDownCleansUpKubeProxyAfterStoppingIt(t *testing.T) {
	type call struct {
		path       string
		args       []string
		proxyAlive bool
	}
	for _, tc := range []struct {
		name      string
		started   bool // the demo started kube-proxy (its pidfile is there)
		running   bool // and it still runs
		noBinary  bool
		wantCalls int
		wantErr   string
	}{
		{name: "running: stopped, then cleaned up", started: true, running: true, wantCalls: 1},
		{name: "started earlier, gone now: cleaned up", started: true, wantCalls: 1},
		{name: "never started: no clean-up", wantCalls: 0},
		{name: "its binary is gone: down says so", started: true, noBinary: true, wantErr: "the rules kube-proxy wrote stay until it runs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, pid := demoWithKubeProxy(t, tc.started, tc.running, !tc.noBinary)
			var calls []call
			old := runProgram
			runProgram = func(_ context.Context, path string, args ...string) ([]byte, error) {
				calls = append(calls, call{path, args, tc.running && proc.Alive(pid)})
				return nil, nil
			}
			t.Cleanup(func() { runProgram = old })

			var out bytes.Buffer
			err := Down(context.Background(), l, &out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Down = %v, want an error with %q\n%s", err, tc.wantErr, out.String())
				}
				if _, err := os.Stat(l.PidPath("kube-proxy")); err != nil {
					t.Errorf("down failed but removed the pidfile the next down needs: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Down: %v\n%s", err, out.String())
			}
			if len(calls) != tc.wantCalls {
				t.Fatalf("clean-up calls %+v, want %d\n%s", calls, tc.wantCalls, out.String())
			}
			for _, c := range calls {
				if c.path != filepath.Join(l.Bin(), "kube-proxy") || !reflect.DeepEqual(c.args, []string{"--cleanup"}) {
					t.Errorf("ran %s %q, want bin/kube-proxy --cleanup", c.path, c.args)
				}
				if c.proxyAlive {
					t.Errorf("kube-proxy --cleanup ran while kube-proxy (pid %d) still ran", pid)
				}
			}
			if tc.running && !strings.Contains(out.String(), fmt.Sprintf("Stopped kube-proxy (pid %d)", pid)) {
				t.Errorf("down did not say it stopped kube-proxy:\n%s", out.String())
			}
			if tc.wantCalls > 0 && !strings.Contains(out.String(), "Ran kube-proxy --cleanup") {
				t.Errorf("down did not say it cleaned up:\n%s", out.String())
			}
		})
	}
}

// demoWithKubeProxy lays out a demo's work dir whose kube-proxy was started
// (its pidfile), still runs (a stand-in process of its own group), and has
// its binary in bin/, as asked; it returns the layout and the pid.
func demoWithKubeProxy(t *testing.T, started, running, binary bool) (Layout, int) {
	t.Helper()
	dir := t.TempDir()
	l := Layout{WorkDir: dir, ContainerdAddress: filepath.Join(dir, "containerd", "containerd.sock")}
	for _, d := range []string{"run", "bin"} {
		if err := os.MkdirAll(l.Path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(l.StatePath(), []byte(fmt.Sprintf(`{"containerdAddress":%q,"offline":true,"image":"x"}`, l.ContainerdAddress)), 0o644); err != nil {
		t.Fatal(err)
	}
	if binary {
		if err := os.WriteFile(filepath.Join(l.Bin(), "kube-proxy"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pid, start := 999999999, "1"
	if running {
		cmd := exec.Command("sleep", "60")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid = cmd.Process.Pid
		t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
		var err error
		if start, err = procStartTime(pid); err != nil {
			t.Fatal(err)
		}
	}
	if started {
		if err := os.WriteFile(l.PidPath("kube-proxy"), []byte(fmt.Sprintf("%d %s\n", pid, start)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return l, pid
}

// A process that has exited but was never reaped (a zombie) is not a live
// one: where PID 1 reaps no orphans, every kubelet stopped after its demo
// exited stays one, and demo down must still remove the kubelet's chains.
func TestLiveProcessNamedSkipsZombies(t *testing.T) {
	dir := t.TempDir()
	prog := func(name, src string) string {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Skipf("no %s to copy: %v", src, err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Names of our own, so that nothing else on the machine matches.
	zombie := fmt.Sprintf("ktz%d", os.Getpid()%1000000)
	live := fmt.Sprintf("ktl%d", os.Getpid()%1000000)

	z := exec.Command(prog(zombie, "/bin/true"))
	if err := z.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = z.Wait() }()
	// Not waited for: it stays a zombie until the deferred Wait.
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := procStat(z.Process.Pid)
		if err == nil && len(f) > 0 && f[0] == "Z" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) did not become a zombie: %v %v", zombie, z.Process.Pid, f, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if liveProcessNamed(zombie) {
		t.Errorf("liveProcessNamed(%q) = true for a zombie", zombie)
	}

	l := exec.Command(prog(live, "/bin/sleep"), "30")
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Process.Kill(); _ = l.Wait() }()
	if !liveProcessNamed(live) {
		t.Errorf("liveProcessNamed(%q) = false for a running process", live)
	}
}

// probedReady reads the kubelet's /metrics/probes: only a successful
// readiness probe of that very pod counts.
func TestProbedReady(t *testing.T) {
	const metrics = `# HELP prober_probe_total [ALPHA] Cumulative number of a liveness, readiness or startup probe for a container by result.
# TYPE prober_probe_total counter
prober_probe_total{container="coredns",namespace="kube-system",pod="coredns-1",pod_uid="u1",probe_type="Liveness",result="successful"} 1
prober_probe_total{container="coredns",namespace="kube-system",pod="coredns-1",pod_uid="u1",probe_type="Readiness",result="failed"} 2
prober_probe_total{container="coredns",namespace="kube-system",pod="coredns-2",pod_uid="u2",probe_type="Readiness",result="successful"} 7
prober_probe_total{container="web",namespace="default",pod="web",pod_uid="u3",probe_type="Readiness",result="successful"} 0
`
	for _, tc := range []struct {
		pod  string
		want bool
	}{
		{"kube-system/coredns-2", true},
		{"kube-system/coredns-1", false}, // failed and liveness only
		{"default/web", false},           // counted 0 times
		{"default/coredns-2", false},     // another namespace
		{"kube-system/coredns", false},   // a prefix of a name
	} {
		if got := probedReady(metrics, tc.pod); got != tc.want {
			t.Errorf("probedReady(%s) = %t, want %t", tc.pod, got, tc.want)
		}
	}
}
