package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
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
