package host

import (
	"os"
	"path/filepath"
	"testing"
)

// TestProbe reads a made-up host root: cgroup v2 shows as
// /sys/fs/cgroup/cgroup.controllers, and the CNI plugins as a bridge file.
func TestProbe(t *testing.T) {
	root := t.TempDir()
	p := Probe{Root: root}
	if !p.CgroupV1() {
		t.Error("CgroupV1 without cgroup.controllers = false, want true")
	}
	if d := p.CNIBinDir(CNIBinDirs); d != "" {
		t.Errorf("CNIBinDir on an empty root = %q, want none", d)
	}
	write := func(path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, path), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("sys/fs/cgroup/cgroup.controllers")
	write("usr/lib/cni/bridge")
	if err := os.MkdirAll(filepath.Join(root, "opt/cni/bin/bridge"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p.CgroupV1() {
		t.Error("CgroupV1 with cgroup.controllers = true, want false")
	}
	if d := p.CNIBinDir(CNIBinDirs); d != "/usr/lib/cni" {
		t.Errorf("CNIBinDir = %q, want /usr/lib/cni (a directory named bridge is no plugin)", d)
	}
}
