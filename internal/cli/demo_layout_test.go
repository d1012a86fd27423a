package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// demo status, logs and down find the demo from its parent directory (the
// default ./kubetutor-demo) and from inside it.
func TestDemoLayoutFromInside(t *testing.T) {
	parent := t.TempDir()
	if real, err := filepath.EvalSymlinks(parent); err == nil {
		parent = real
	}
	demoDir := filepath.Join(parent, defaultDemoDir)
	if err := os.MkdirAll(filepath.Join(demoDir, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(demoDir, "run", "demo.json"), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{parent, demoDir} {
		t.Chdir(dir)
		l, err := demoLayout(&Factory{})
		if err != nil {
			t.Fatal(err)
		}
		if l.WorkDir != demoDir {
			t.Errorf("from %s: demo dir %s, want %s", dir, l.WorkDir, demoDir)
		}
	}
}
