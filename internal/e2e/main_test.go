package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// kubeletDirs are host directories every kubelet writes in, whatever its
// --root-dir: the pod logs and their symlinks (/var/log/pods,
// /var/log/containers are fixed paths) and /var/lib/kubelet/device-plugins.
// The real tests' kubelets (the demo's too) add to them; the package puts
// them back as it found them.
var kubeletDirs = []string{"/var/log/pods", "/var/log/containers", "/var/lib/kubelet"}

func TestMain(m *testing.M) {
	var restore func() []error
	if os.Getenv("KUBETUTOR_REAL") == "1" {
		restore = snapshotEntries(kubeletDirs)
	}
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	if restore != nil {
		for _, err := range restore() {
			fmt.Fprintln(os.Stderr, "e2e: put the machine back:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// snapshotEntries records which of dirs exist and their entries; the
// function it returns removes what was added since (a directory that did
// not exist, as a whole).
func snapshotEntries(dirs []string) func() []error {
	before := map[string]map[string]bool{}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		before[d] = map[string]bool{}
		for _, e := range entries {
			before[d][e.Name()] = true
		}
	}
	return func() []error {
		var errs []error
		for _, d := range dirs {
			had, existed := before[d]
			if !existed {
				if err := os.RemoveAll(d); err != nil {
					errs = append(errs, err)
				}
				continue
			}
			entries, _ := os.ReadDir(d)
			for _, e := range entries {
				if !had[e.Name()] {
					if err := os.RemoveAll(filepath.Join(d, e.Name())); err != nil {
						errs = append(errs, err)
					}
				}
			}
		}
		return errs
	}
}
