package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubetutor/kubetutor/internal/cli"
	"github.com/kubetutor/kubetutor/internal/iostreams"
)

// run runs kubetutor with args and returns the exit status and both outputs.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ios, out, errOut := iostreams.Test("")
	code := cli.Execute(context.Background(), &cli.Factory{IO: ios}, args)
	return code, out.String(), errOut.String()
}

var lessonFiles = []string{
	"certs/ca.crt", "certs/ca.key", "certs/server.crt", "certs/server.key",
	"certs/service-account-key.pem", "certs/service-account.pem", "certs/admin.crt", "certs/admin.key", "admin.conf",
}

func TestCertsInit(t *testing.T) {
	cases := []struct {
		name    string
		args    []string // after "certs init --workdir DIR"
		prepare func(t *testing.T, dir string)
		code    int
		files   []string // relative to the work dir, each on its own "wrote" line
		stderr  []string // substrings of stderr
		check   func(t *testing.T, dir string)
	}{
		{
			name:   "the lesson's files",
			code:   0,
			files:  lessonFiles,
			stderr: []string{"export KUBECONFIG="},
		},
		{
			name:  "per component, named node",
			args:  []string{"--per-component", "--node", "worker-1"},
			files: append(clone(lessonFiles), "certs/kubelet.crt", "certs/scheduler.key", "certs/apiserver-kubelet-client.crt", "kubelet.conf", "scheduler.conf", "controller-manager.conf"),
			check: func(t *testing.T, dir string) {
				cfg, err := clientcmd.LoadFromFile(filepath.Join(dir, "kubelet.conf"))
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Contexts["default"].AuthInfo != "system:node:worker-1" {
					t.Errorf("kubelet.conf user = %q, want system:node:worker-1", cfg.Contexts["default"].AuthInfo)
				}
			},
		},
		{
			name:  "other certs dir, ecdsa",
			args:  []string{"--dir", "pki", "--key-algo", "ecdsa", "--sans", "cp.example.com,192.168.1.10"},
			files: []string{"pki/ca.crt", "pki/server.crt", "pki/server.key", "admin.conf"},
			check: func(t *testing.T, dir string) {
				code, out, errOut := run(t, "certs", "inspect", "--ca", filepath.Join(dir, "pki", "ca.crt"), filepath.Join(dir, "pki", "server.crt"))
				if code != 0 || !strings.Contains(out, "ECDSA P-256") || !strings.Contains(out, "IP:192.168.1.10") || !strings.Contains(out, "DNS:cp.example.com") {
					t.Errorf("inspect the ecdsa server.crt: exit %d\n%s%s", code, out, errOut)
				}
			},
		},
		{
			name: "existing files without --force",
			prepare: func(t *testing.T, dir string) {
				if code, _, errOut := run(t, "certs", "init", "--workdir", dir); code != 0 {
					t.Fatalf("first init: exit %d: %s", code, errOut)
				}
			},
			code:   2,
			stderr: append(clone(lessonFiles), "already exist: pass --force to overwrite them"),
		},
		{
			name: "an existing kubeconfig alone blocks",
			prepare: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, "admin.conf"), []byte("mine"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			code:   2,
			stderr: []string{"admin.conf already exists: pass --force"},
			check: func(t *testing.T, dir string) {
				if _, err := os.Stat(filepath.Join(dir, "certs")); err == nil {
					t.Error("a refused init created certs/")
				}
			},
		},
		{
			name: "existing files with --force",
			prepare: func(t *testing.T, dir string) {
				if code, _, errOut := run(t, "certs", "init", "--workdir", dir); code != 0 {
					t.Fatalf("first init: exit %d: %s", code, errOut)
				}
			},
			args:  []string{"--force"},
			files: lessonFiles,
		},
		{name: "unknown key algorithm", args: []string{"--key-algo", "dsa"}, code: 2, stderr: []string{`key algorithm "dsa"`}},
		{name: "weak RSA key", args: []string{"--key-size", "1024"}, code: 2, stderr: []string{"RSA key size 1024"}},
		{name: "bad SAN", args: []string{"--sans", "not a name"}, code: 2, stderr: []string{`SAN "not a name"`}},
		{name: "--node without --per-component", args: []string{"--node", "n1"}, code: 2, stderr: []string{"--node", "--per-component"}},
		{name: "an argument", args: []string{"extra"}, code: 2, stderr: []string{`unknown command "extra"`}},
		{name: "unknown flag", args: []string{"--bogus"}, code: 2, stderr: []string{"unknown flag: --bogus"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.prepare != nil {
				tc.prepare(t, dir)
			}
			code, out, errOut := run(t, append([]string{"certs", "init", "--workdir", dir}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			for _, f := range tc.files {
				want := "wrote " + filepath.Join(dir, f) + " "
				found := 0
				for _, l := range lines {
					if strings.HasPrefix(l, want) {
						found++
					}
				}
				if found != 1 {
					t.Errorf("stdout has %d lines starting %q, want 1:\n%s", found, want, out)
				}
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Error(err)
				}
			}
			if tc.code == 0 {
				for _, l := range lines {
					if !strings.HasPrefix(l, "wrote ") {
						t.Errorf("stdout line %q is not a written file", l)
					}
				}
			} else if out != "" {
				t.Errorf("a failed init printed to stdout:\n%s", out)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
			if tc.check != nil {
				tc.check(t, dir)
			}
		})
	}
}

// TestCertsInitThenCheck: what `certs init` writes passes `check certs`.
func TestCertsInitThenCheck(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(t.TempDir(), "kube", "config")
	if code, out, errOut := run(t, "certs", "init", "--workdir", dir, "--kubeconfig", kc); code != 0 {
		t.Fatalf("certs init: exit %d\n%s%s", code, out, errOut)
	} else if !strings.Contains(out, "wrote "+kc+" ") || strings.Contains(out, "admin.conf") {
		t.Errorf("certs init --kubeconfig %s wrote elsewhere:\n%s", kc, out)
	}
	if fi, err := os.Stat(kc); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig %s: %v, mode %v", kc, err, fi.Mode().Perm())
	}
	code, out, errOut := run(t, "check", "certs", "-o", "json", "--workdir", dir, "--kubeconfig", kc, "--state-dir", t.TempDir())
	if code != 0 {
		t.Fatalf("check certs: exit %d\n%s%s", code, out, errOut)
	}
	var rep struct {
		Steps []struct {
			ID, Status string
			Checks     []struct{ Name, Status string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Steps) == 0 {
		t.Fatalf("no steps in %s", out)
	}
	for _, s := range rep.Steps {
		if s.ID == "certs" && (s.Status != "pass" || len(s.Checks) < 7) {
			t.Errorf("step certs: %+v", s)
		}
	}
}

func TestCertsInspect(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := run(t, "certs", "init", "--workdir", dir, "--per-component", "--node", "n1"); code != 0 {
		t.Fatalf("certs init: exit %d: %s", code, errOut)
	}
	c := func(n string) string { return filepath.Join(dir, "certs", n) }
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{
			name: "the server certificate",
			args: []string{c("server.crt")},
			stdout: []string{`user "admin" (CN), groups system:masters (O)`, "issuer         CN=kubernetes-ca", "IP:10.0.0.1",
				"DNS:kubernetes.default.svc.cluster.local", "valid now", "server auth, client auth", "OK, signed by " + c("ca.crt"),
				c("server.key") + " matches", "system:masters is allowed everything"},
		},
		{
			name:   "a kubeconfig",
			args:   []string{filepath.Join(dir, "scheduler.conf")},
			stdout: []string{"scheduler.conf: cluster local-apiserver", "it is the CA", "scheduler.conf: user system:kube-scheduler", `user "system:kube-scheduler"`, "embedded matches"},
		},
		{
			name:   "several files",
			args:   []string{c("kubelet.crt"), c("ca.crt")},
			stdout: []string{`user "system:node:n1" (CN), groups system:nodes (O)`, "Node authorizer", "CA             yes", "(self-signed)"},
		},
		{
			name:   "another CA with --ca",
			args:   []string{"--ca", c("admin.crt"), c("server.crt")},
			stdout: []string{"chain          NO, issued by CN=kubernetes-ca, not signed by " + c("admin.crt")},
		},
		{
			name:   "a file without a certificate, then a good one",
			args:   []string{c("service-account.pem"), c("admin.crt")},
			code:   1,
			stdout: []string{c("admin.crt")},
			stderr: []string{"no certificate in it, only PUBLIC KEY"},
		},
		{name: "a missing file", args: []string{filepath.Join(dir, "nope.crt")}, code: 1, stderr: []string{"nope.crt", "no such file"}},
		{name: "no file", args: nil, code: 2, stderr: []string{"needs at least one FILE"}},
		{name: "unknown output", args: []string{"-o", "yaml", c("ca.crt")}, code: 2, stderr: []string{`unknown output format "yaml"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, append([]string{"certs", "inspect", "--workdir", dir}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		code, out, errOut := run(t, "certs", "inspect", "--workdir", dir, "-o", "json", c("server.crt"), filepath.Join(dir, "admin.conf"))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var got struct {
			Certificates []struct {
				Source, User, Validity string
				Groups                 []string
				IPAddresses            []string
				ExtKeyUsages           []string
				Chain                  struct{ Status string }
				Key                    struct{ Status string }
			}
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if len(got.Certificates) != 3 {
			t.Fatalf("%d certificates, want 3 (server.crt, admin.conf's CA and user):\n%s", len(got.Certificates), out)
		}
		s := got.Certificates[0]
		if s.User != "admin" || len(s.Groups) != 1 || s.Groups[0] != "system:masters" || s.Validity != "valid" ||
			s.Chain.Status != "verified" || s.Key.Status != "matches" || len(s.ExtKeyUsages) != 2 || s.IPAddresses[len(s.IPAddresses)-1] != "10.0.0.1" {
			t.Errorf("server.crt as JSON: %+v", s)
		}
		if u := got.Certificates[2]; !strings.HasSuffix(u.Source, "admin.conf: user admin") || u.Key.Status != "matches" {
			t.Errorf("admin.conf's user as JSON: %+v", u)
		}
	})
}

func TestCertsHelp(t *testing.T) {
	for _, args := range [][]string{{"certs"}, {"certs", "init", "--help"}, {"certs", "inspect", "--help"}} {
		code, out, errOut := run(t, args...)
		if code != 0 || !strings.Contains(out, "Examples:") {
			t.Errorf("kubetutor %s: exit %d, no examples:\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	if code, _, errOut := run(t, "certs", "bogus"); code != 2 || !strings.Contains(errOut, `unknown command "bogus"`) {
		t.Errorf("kubetutor certs bogus: exit %d: %s", code, errOut)
	}
}

func clone(s []string) []string { return append([]string(nil), s...) }
