package demo

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubetutor/kubetutor/checks"
)

// The demo finds the binaries bin/ lacks as `check tools` does, in the
// order it is given (--bin-dir, ./bin, the cache, PATH), and says which it uses.
func TestEnsureBinariesSearchOrder(t *testing.T) {
	root := t.TempDir()
	fetched, path := filepath.Join(root, "fetched"), filepath.Join(root, "path")
	write := func(dir, name string) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"} {
		write(fetched, b)
	}
	write(path, "kubectl")
	write(path, "etcd")
	var out bytes.Buffer
	d := &Demo{L: Layout{WorkDir: filepath.Join(root, "demo")}, Out: &out, Opts: Options{SearchDirs: []string{fetched, path}}}
	if err := d.ensureBinaries(); err != nil {
		t.Fatal(err)
	}
	for b, want := range map[string]string{"kubectl": fetched, "kube-apiserver": fetched, "etcd": path} {
		got, err := os.Readlink(filepath.Join(d.L.Bin(), b))
		if err != nil || got != filepath.Join(want, b) {
			t.Errorf("bin/%s -> %q (%v), want %s", b, got, err, filepath.Join(want, b))
		}
		if !strings.Contains(out.String(), b+": "+filepath.Join(want, b)) {
			t.Errorf("output does not say where %s comes from:\n%s", b, out.String())
		}
	}
	// Missing: the error names every place looked at.
	d2 := &Demo{L: Layout{WorkDir: filepath.Join(root, "demo2")}, Out: &out, Opts: Options{SearchDirs: []string{path}}}
	err := d2.ensureBinaries()
	if err == nil || !strings.Contains(err.Error(), "kube-apiserver is not in") || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v, want one naming where it looked", err)
	}
}

// A kubectl outside the skew policy (v1.32 for a v1.37 API server) is refused.
func TestEnsureBinariesRefusesSkew(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "fetched")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for b, v := range map[string]string{"kube-apiserver": "v1.37.2", "kube-controller-manager": "v1.37.2", "kube-scheduler": "v1.37.2", "kubelet": "v1.37.2", "kube-proxy": "v1.37.2", "kubectl": "v1.32.4", "etcd": "3.5.21"} {
		if err := os.WriteFile(filepath.Join(dir, b), []byte("#!/bin/sh\necho 'Version: "+v+"'\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l := Layout{WorkDir: filepath.Join(root, "demo")}
	env := checks.NewEnv(l.WorkDir)
	env.PathEnv = filepath.Join(root, "empty")
	var out bytes.Buffer
	d := &Demo{L: l, Env: env, Out: &out, Opts: Options{BinDir: dir}}
	err := d.ensureBinaries()
	if err == nil || !strings.Contains(err.Error(), "kubectl v1.32.4 is 5 minor versions older than kube-apiserver v1.37.2") {
		t.Errorf("error %v, want the skew named", err)
	}
}
