package proc

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTableLive reads a made-up proc directory: zombies and dead processes
// do not count, skip passes over a process, names are truncated as the
// kernel truncates them, and a command name with a ") " in it parses.
func TestTableLive(t *testing.T) {
	dir := t.TempDir()
	for pid, stat := range map[string]string{
		"10":   "10 (kubelet) Z 1 10 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 400 0 0",
		"11":   "11 (kubelet) X 1 11 11 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 450 0 0",
		"12":   "12 (kubelet) S 7 12 12 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0",
		"13":   "13 (kube-controller) S 1 13 13 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 600 0 0",
		"14":   "14 (a) b) R 1 14",
		"self": "not a pid",
	} {
		if err := os.MkdirAll(filepath.Join(dir, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, pid, "stat"), []byte(stat), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tab := Table{Dir: dir}
	if p, ok := tab.Live("kubelet", nil); !ok || p != (Entry{PID: 12, PPID: 7, State: "S", StartTicks: 500}) {
		t.Errorf("Live(kubelet) = %+v, %v; want pid 12, the one not a zombie or dead", p, ok)
	}
	if p, ok := tab.Live("kubelet", func(p Entry) bool { return p.PPID == 7 }); ok {
		t.Errorf("Live(kubelet) skipping ppid 7 = %+v; want none", p)
	}
	if p, ok := tab.Live("kube-controller-manager", nil); !ok || p.PID != 13 {
		t.Errorf("Live(kube-controller-manager) = %+v, %v; want pid 13 (its name truncated to 15)", p, ok)
	}
	if p, ok := tab.Live("a) b", nil); !ok || p != (Entry{PID: 14, PPID: 1, State: "R", StartTicks: -1}) {
		t.Errorf("Live(a) b) = %+v, %v; want pid 14 with no start time", p, ok)
	}
	if _, ok := (Table{Dir: filepath.Join(dir, "none")}).Live("kubelet", nil); ok {
		t.Error("Live in a missing directory found a process")
	}
}
