package kubeclient

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// settings for a client over dir, with env as the environment.
func settings(dir, explicit string, env map[string]string) func() Settings {
	return func() Settings {
		return Settings{
			Kubeconfig: explicit, WorkDir: filepath.Join(dir, "work"), HomeDir: filepath.Join(dir, "home"),
			Getenv: func(k string) string { return env[k] }, Timeout: time.Second, Now: time.Now,
		}
	}
}

func touch(t *testing.T, path string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestResolveKubeconfig: kubectl's precedence, then the work dir's files.
func TestResolveKubeconfig(t *testing.T) {
	dir := t.TempDir()
	admin := touch(t, filepath.Join(dir, "work", "admin.conf"))
	touch(t, filepath.Join(dir, "work", "kubeconfig")) // the talk's: admin.conf comes first
	home := filepath.Join(dir, "home", ".kube", "config")
	a := touch(t, filepath.Join(dir, "a"))
	b := touch(t, filepath.Join(dir, "b"))
	missing := filepath.Join(dir, "missing")
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		explicit string
		env      map[string]string
		home     bool
		files    []string
		source   string
		err      string
	}{
		{"--kubeconfig wins", a, map[string]string{"KUBECONFIG": b}, true, []string{a}, "--kubeconfig", ""},
		{"--kubeconfig missing: no fallback", missing, nil, true, nil, "--kubeconfig", "no kubeconfig at " + missing},
		{"KUBECONFIG list, merged, missing entries skipped", "", map[string]string{"KUBECONFIG": a + ":" + missing + ":" + b + ":" + a}, true, []string{a, b}, "KUBECONFIG", ""},
		{"~/.kube/config", "", nil, true, []string{home}, "~/.kube/config", ""},
		{"the work dir's admin.conf when kubectl finds none", "", map[string]string{"KUBECONFIG": missing}, false, []string{admin}, "work dir", ""},
		{"a FIFO is refused, not read", fifo, nil, false, nil, "--kubeconfig", "not a regular file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(home)
			if tc.home {
				touch(t, home)
			}
			r := New(settings(dir, tc.explicit, tc.env)).ResolveKubeconfig()
			if tc.err != "" {
				if r.Err == nil || !strings.Contains(r.Err.Error(), tc.err) {
					t.Fatalf("err %v, want one saying %q", r.Err, tc.err)
				}
				var kerr *KubeconfigError
				if !errors.As(r.Err, &kerr) {
					t.Errorf("err %T is not a *KubeconfigError", r.Err)
				}
				return
			}
			if r.Err != nil || strings.Join(r.Files, ",") != strings.Join(tc.files, ",") || r.Source != tc.source {
				t.Errorf("got files %q from %q (err %v), want %q from %q", r.Files, r.Source, r.Err, tc.files, tc.source)
			}
		})
	}
}

// TestAPIDown: an API server noted down stays down for the rest of the run
// (within one timeout), until forgotten.
func TestAPIDown(t *testing.T) {
	c := New(settings(t.TempDir(), "", nil))
	if err := c.APIDownErr(); err != nil {
		t.Fatalf("a new client remembers %v", err)
	}
	down := errors.New("no answer in 1s")
	c.NoteAPIDown(down)
	if err := c.APIDownErr(); !errors.Is(err, down) {
		t.Fatalf("after NoteAPIDown: %v", err)
	}
	c.ForgetAPIDown()
	if err := c.APIDownErr(); err != nil {
		t.Fatalf("after ForgetAPIDown: %v", err)
	}
}
