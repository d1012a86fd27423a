package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDownCommand: kubetutor down refuses a demo's work dir (demo down
// knows that cluster), and without --yes off a terminal it only lists.
func TestDownCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("kubetutor down needs root; make test runs as root")
	}
	wd := t.TempDir()
	if err := os.MkdirAll(filepath.Join(wd, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wd, "run", "demo.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := execute(t, wd, t.TempDir(), "", "down", "--yes")
	if r.code != 2 || !strings.Contains(r.errOut, "holds a demo's cluster (run/demo.json): take it down with kubetutor demo down --workdir "+wd) {
		t.Errorf("down in a demo's work dir: exit %d, stderr %q", r.code, r.errOut)
	}

	// An empty work dir, no terminal, no --yes: it lists, and acts on nothing.
	wd = t.TempDir()
	r = execute(t, wd, t.TempDir(), "", "down", "--cni-conf-dir", t.TempDir())
	if r.code != 0 {
		t.Fatalf("down: exit %d, stderr %q", r.code, r.errOut)
	}
	if !strings.Contains(r.out, "Nothing of a hand-built cluster runs or remains") && !strings.Contains(r.out, "Nothing done yet: run kubetutor down --yes") {
		t.Errorf("down without --yes off a terminal:\n%s", r.out)
	}
}
