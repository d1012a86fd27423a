package checks_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/checks"
)

func script(body string) []byte { return []byte("#!/bin/sh\n" + body + "\n") }

func TestBinary(t *testing.T) {
	const install = "download it into bin/ (kubetutor show tools)"
	kubectl := checks.Binary{Program: "kubectl", VersionArgs: []string{"version", "--client"}, Install: install}

	type file struct {
		where string // "bin" (the work dir's bin/) or "path" (a PATH dir)
		name  string // default: the program
		data  []byte
		mode  os.FileMode
		dir   bool // make a directory instead
	}
	tests := []struct {
		name    string
		binary  checks.Binary // default: kubectl
		files   []file
		timeout time.Duration // default 2s
		status  checks.Status
		msg     []string
		hint    string
		version string // in the details
		bug     string
	}{
		{
			name:    "in bin/",
			files:   []file{{where: "bin", data: script(`echo "Client Version: v1.37.2"; echo "Kustomize Version: v5.7.1"`), mode: 0o755}},
			status:  checks.Pass,
			msg:     []string{"kubectl v1.37.2 (in the work dir's bin/)."},
			version: "version v1.37.2",
		},
		{
			name:    "kube-apiserver style version",
			binary:  checks.Binary{Program: "kube-apiserver", VersionArgs: []string{"--version"}, Install: install},
			files:   []file{{where: "bin", data: script(`[ "$1" = --version ] || exit 2; echo "Kubernetes v1.37.2"`), mode: 0o755}},
			status:  checks.Pass,
			msg:     []string{"kube-apiserver v1.37.2 (in the work dir's bin/)."},
			version: "version v1.37.2",
		},
		{
			name:   "etcd style version without v",
			binary: checks.Binary{Program: "etcd", VersionArgs: []string{"--version"}, Install: install},
			files:  []file{{where: "bin", data: script("echo 'etcd Version: 3.5.21'; echo 'Git SHA: a17edfd'; echo 'Go Version: go1.24.4'"), mode: 0o755}},
			status: checks.Pass,
			msg:    []string{"etcd 3.5.21 (in the work dir's bin/)."},
		},
		{
			name:    "version on stderr",
			files:   []file{{where: "bin", data: script(`echo "Kubernetes v1.37.2-rc.1+abc" >&2`), mode: 0o755}},
			status:  checks.Pass,
			msg:     []string{"kubectl v1.37.2-rc.1+abc "},
			version: "version v1.37.2-rc.1+abc",
		},
		{
			name:   "no version in the output: first line shown",
			files:  []file{{where: "bin", data: script("echo 'custom build'; echo 'second line'"), mode: 0o755}},
			status: checks.Pass,
			msg:    []string{"kubectl custom build ("},
		},
		{
			name:   "on PATH",
			files:  []file{{where: "path", data: script(`echo "Client Version: v1.36.0"`), mode: 0o755}},
			status: checks.Pass,
			msg:    []string{"kubectl v1.36.0 (on PATH at ", "/kubectl)."},
		},
		{
			name: "bin/ wins over PATH",
			files: []file{
				{where: "bin", data: script(`echo "Client Version: v1.37.2"`), mode: 0o755},
				{where: "path", data: script(`echo "Client Version: v1.30.0"`), mode: 0o755},
			},
			status: checks.Pass,
			msg:    []string{"kubectl v1.37.2 (in the work dir's bin/)."},
		},
		{
			name: "a directory named like the program in bin/ is skipped",
			files: []file{
				{where: "bin", dir: true},
				{where: "path", data: script(`echo "Client Version: v1.36.0"`), mode: 0o755},
			},
			status: checks.Pass,
			msg:    []string{"on PATH at"},
		},
		{
			name:   "missing",
			files:  []file{{where: "bin", name: "kubectl.tar.gz", data: []byte("x"), mode: 0o644}},
			status: checks.Fail,
			msg:    []string{"kubectl is not in ", "nor on PATH"},
			hint:   install,
		},
		{
			name:   "not executable",
			files:  []file{{where: "bin", data: script(`echo "Client Version: v1.37.2"`), mode: 0o644}},
			status: checks.Fail,
			msg:    []string{"exists but is not executable (mode -rw-r--r--)"},
			hint:   "chmod +x ",
		},
		{
			name:   "exits 1 with a message",
			files:  []file{{where: "bin", data: script("echo 'error: unknown flag: --client' >&2; exit 1"), mode: 0o755}},
			status: checks.Fail,
			msg:    []string{"does not run: error: unknown flag: --client"},
			hint:   install,
		},
		{
			name:   "exits 1 silently",
			files:  []file{{where: "bin", data: script("exit 1"), mode: 0o755}},
			status: checks.Fail,
			msg:    []string{"does not run: exit status 1"},
		},
		{
			name:   "not a program (truncated download)",
			files:  []file{{where: "bin", data: []byte("\x7fELF\x02\x01\x01\x00truncated"), mode: 0o755}},
			status: checks.Fail,
			msg:    []string{"does not run: ", "exec format error"},
			hint:   "another architecture",
		},
		{
			name:    "hangs, replaced by sleep (exec)",
			files:   []file{{where: "bin", data: script("exec sleep 10"), mode: 0o755}},
			timeout: 300 * time.Millisecond,
			status:  checks.Fail,
			msg:     []string{"does not run: it did not answer in time"},
		},
		{
			name:    "hangs in a child process",
			files:   []file{{where: "bin", data: script("sleep 10"), mode: 0o755}},
			timeout: 300 * time.Millisecond,
			status:  checks.Fail,
			msg:     []string{"does not run: it did not answer in time"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.bug != "" {
				skipBug(t, tt.bug)
			}
			b := tt.binary
			if b.Program == "" {
				b = kubectl
			}
			work, pathDir := t.TempDir(), t.TempDir()
			if err := os.MkdirAll(filepath.Join(work, "bin"), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range tt.files {
				dir := pathDir
				if f.where == "bin" {
					dir = filepath.Join(work, "bin")
				}
				name := f.name
				if name == "" {
					name = b.Program
				}
				p := filepath.Join(dir, name)
				if f.dir {
					if err := os.Mkdir(p, 0o755); err != nil {
						t.Fatal(err)
					}
					continue
				}
				writeFile(t, p, f.data, f.mode)
			}
			env := checks.NewEnv(work)
			// An empty entry and a missing dir first: both are skipped.
			env.PathEnv = strings.Join([]string{"", filepath.Join(work, "nope"), pathDir}, string(os.PathListSeparator))
			env.Timeout = 2 * time.Second
			if tt.timeout != 0 {
				env.Timeout = tt.timeout
			}

			start := time.Now()
			res := checks.Run(context.Background(), env, b)
			elapsed := time.Since(start)
			t.Logf("%s in %s: %s (hint: %s)", res.Status, elapsed.Round(time.Millisecond), res.Message, res.Hint)

			if res.Name != "binary-"+b.Program {
				t.Errorf("name = %q", res.Name)
			}
			if res.Status != tt.status {
				t.Fatalf("status = %s, want %s: %s", res.Status, tt.status, res.Message)
			}
			for _, m := range tt.msg {
				if !strings.Contains(res.Message, m) {
					t.Errorf("message %q does not contain %q", res.Message, m)
				}
			}
			if tt.status == checks.Fail && res.Hint == "" {
				t.Errorf("fails without a hint")
			}
			if tt.hint != "" && !strings.Contains(res.Hint, tt.hint) {
				t.Errorf("hint %q does not contain %q", res.Hint, tt.hint)
			}
			if tt.version != "" && !strings.Contains(strings.Join(res.Details, "\n"), tt.version) {
				t.Errorf("details %q do not contain %q", res.Details, tt.version)
			}
			if limit := env.Timeout + time.Second; elapsed > limit {
				t.Errorf("took %s, want under %s", elapsed, limit)
			}
		})
	}
}

// The not-executable hint names the file that was found, so the learner can
// paste it.
func TestBinaryChmodHintNamesFile(t *testing.T) {
	work := t.TempDir()
	p := filepath.Join(work, "bin", "kubelet")
	writeFile(t, p, script("echo Kubernetes v1.37.2"), 0o600)
	env := checks.NewEnv(work)
	env.PathEnv = t.TempDir()
	res := runCheck(t, env, checks.Binary{Program: "kubelet", VersionArgs: []string{"--version"}, Install: "x"})
	if res.Status != checks.Fail || res.Hint != "chmod +x "+p {
		t.Fatalf("got %s %q (hint %q), want fail with hint %q", res.Status, res.Message, res.Hint, "chmod +x "+p)
	}
}

// The talk downloads the binaries into the work dir itself and extracts etcd
// into etcd/: they are found there, and bin/ still comes first.
func TestBinaryTalkLayout(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "kube-apiserver"), script(`echo "Kubernetes v1.37.2"`), 0o755)
	writeFile(t, filepath.Join(dir, "etcd", "etcd"), script(`echo "etcd Version: 3.4.29"`), 0o755)
	env := checks.NewEnv(dir)
	env.PathEnv = filepath.Join(dir, "empty")
	for _, tc := range []struct {
		b    checks.Binary
		want string
	}{
		{checks.Binary{Program: "kube-apiserver", VersionArgs: []string{"--version"}}, "kube-apiserver v1.37.2 (in the work dir)."},
		{checks.Binary{Program: "etcd", VersionArgs: []string{"--version"}}, "etcd 3.4.29 (in the work dir's etcd/)."},
	} {
		if r := runCheck(t, env, tc.b); r.Status != checks.Pass || r.Message != tc.want {
			t.Errorf("%s: %s %q, want %q", tc.b.Program, r.Status, r.Message, tc.want)
		}
	}
	writeFile(t, filepath.Join(dir, "bin", "etcd"), script(`echo "etcd Version: 3.5.21"`), 0o755)
	if r := runCheck(t, env, checks.Binary{Program: "etcd", VersionArgs: []string{"--version"}}); !strings.Contains(r.Message, "3.5.21 (in the work dir's bin/)") {
		t.Errorf("bin/ does not come first: %q", r.Message)
	}
}
