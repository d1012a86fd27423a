package checks_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubetutor/kubetutor/checks"
)

var toolBinaries = []checks.Binary{
	{Program: "kube-apiserver", VersionArgs: []string{"--version"}},
	{Program: "kube-controller-manager", VersionArgs: []string{"--version"}},
	{Program: "kube-scheduler", VersionArgs: []string{"--version"}},
	{Program: "kubelet", VersionArgs: []string{"--version"}},
	{Program: "kubectl", VersionArgs: []string{"version", "--client"}},
}

// TestVersionSkew applies Kubernetes' skew policy to the programs found.
func TestVersionSkew(t *testing.T) {
	cases := []struct {
		name     string
		versions map[string]string // program → version it prints; missing: not installed
		status   checks.Status
		want     []string
	}{
		{"all v1.37", map[string]string{"kube-apiserver": "v1.37.2", "kube-controller-manager": "v1.37.2", "kube-scheduler": "v1.37.2", "kubelet": "v1.37.2", "kubectl": "v1.37.2"},
			checks.Pass, []string{"kubectl v1.37.2"}},
		{"kubectl one minor older is fine", map[string]string{"kube-apiserver": "v1.37.2", "kubectl": "v1.36.1"}, checks.Pass, nil},
		{"kubectl v1.32 for a v1.37 course", map[string]string{"kube-apiserver": "v1.37.2", "kubectl": "v1.32.4"},
			checks.Fail, []string{"kubectl v1.32.4 is 5 minor versions older than kube-apiserver v1.37.2", "within one minor version"}},
		{"kubectl v1.32 with no kube-apiserver yet: against the course", map[string]string{"kubectl": "v1.32.4"},
			checks.Fail, []string{"older than the course's Kubernetes v1.37.2"}},
		{"kubelet newer than the API server", map[string]string{"kube-apiserver": "v1.36.0", "kubelet": "v1.37.2", "kubectl": "v1.36.0"},
			checks.Fail, []string{"kubelet v1.37.2 is one minor version newer than kube-apiserver v1.36.0", "must not be newer"}},
		{"kubelet three minors older is allowed", map[string]string{"kube-apiserver": "v1.37.2", "kubelet": "v1.34.0"}, checks.Pass, nil},
		{"scheduler newer than the API server", map[string]string{"kube-apiserver": "v1.37.2", "kube-scheduler": "v1.38.0"},
			checks.Fail, []string{"kube-scheduler v1.38.0 is one minor version newer"}},
		{"another API server release than the lessons", map[string]string{"kube-apiserver": "v1.36.3", "kubectl": "v1.36.3"},
			checks.Warn, []string{"lessons are written for v1.37.2"}},
		{"nothing installed", map[string]string{}, checks.Pass, []string{"No Kubernetes program found"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for prog, v := range tc.versions {
				writeFile(t, filepath.Join(dir, "bin", prog), script("echo 'Kubernetes "+v+"'"), 0o755)
			}
			env := checks.NewEnv(dir)
			env.PathEnv = filepath.Join(dir, "empty")
			r := runCheck(t, env, checks.VersionSkew{Binaries: toolBinaries})
			if r.Status != tc.status {
				t.Fatalf("%s %q, want %s", r.Status, r.Message, tc.status)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Message, w) {
					t.Errorf("message %q lacks %q", r.Message, w)
				}
			}
			if r.Status == checks.Fail && !strings.Contains(r.Hint, "kubetutor show tools --commands") {
				t.Errorf("hint %q", r.Hint)
			}
		})
	}
}

// A binary's version is remembered on disk by its path, size, mtime and
// inode: the second check does not run it; a replaced binary runs again.
func TestBinaryVersionCache(t *testing.T) {
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	prog := filepath.Join(dir, "bin", "kubectl")
	writeFile(t, prog, script(`echo run >> `+runs+`; echo "Client Version: v1.37.2"`), 0o755)
	b := checks.Binary{Program: "kubectl", VersionArgs: []string{"version", "--client"}}
	count := func() int {
		data, _ := os.ReadFile(runs)
		return strings.Count(string(data), "run")
	}
	for i := 0; i < 3; i++ {
		env := checks.NewEnv(dir) // a new process each time, as `kubetutor check` is
		env.CacheDir = filepath.Join(dir, "cache")
		if r := runCheck(t, env, b); r.Status != checks.Pass || !strings.Contains(r.Message, "v1.37.2") {
			t.Fatalf("run %d: %s %q", i, r.Status, r.Message)
		}
	}
	if n := count(); n != 1 {
		t.Errorf("the binary ran %d times for three checks, want once", n)
	}
	// Replacing the binary (new inode and size) invalidates the cache.
	tmp := prog + ".new"
	writeFile(t, tmp, script(`echo run >> `+runs+`; echo "Client Version: v1.36.9"`), 0o755)
	if err := os.Rename(tmp, prog); err != nil {
		t.Fatal(err)
	}
	env := checks.NewEnv(dir)
	env.CacheDir = filepath.Join(dir, "cache")
	if r := runCheck(t, env, b); !strings.Contains(r.Message, "v1.36.9") {
		t.Errorf("after replacing the binary: %q", r.Message)
	}
	if n := count(); n != 2 {
		t.Errorf("the binary ran %d times, want twice", n)
	}
}
