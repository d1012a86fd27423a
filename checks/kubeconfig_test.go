package checks_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubetutor/kubetutor/checks"
)

// namedKubeconfig is a small kubeconfig whose cluster, user and context
// carry name, so a merge shows which file won what.
func namedKubeconfig(name, server string, current bool) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	c := clientcmdapi.NewCluster()
	c.Server = server
	cfg.Clusters["c-"+name] = c
	u := clientcmdapi.NewAuthInfo()
	u.Token = "token-" + name
	cfg.AuthInfos["u-"+name] = u
	k := clientcmdapi.NewContext()
	k.Cluster, k.AuthInfo = "c-"+name, "u-"+name
	cfg.Contexts["ctx-"+name] = k
	if current {
		cfg.CurrentContext = "ctx-" + name
	}
	return cfg
}

// TestKubeconfigResolution is kubectl's precedence (--kubeconfig, the
// KUBECONFIG list merged, ~/.kube/config) with the work dir's admin.conf and
// kubeconfig as fallbacks.
func TestKubeconfigResolution(t *testing.T) {
	type files map[string]*clientcmdapi.Config // relative to the test's root
	cases := []struct {
		name       string
		files      files
		flag       string // --kubeconfig, relative to root
		kubeconfig string // KUBECONFIG, entries relative to root
		wantFiles  []string
		wantSource string
		wantServer string // of the merged current context
		wantErr    string
	}{
		{
			name:  "flag wins over everything",
			files: files{"flag.conf": namedKubeconfig("flag", "https://flag:6443", true), "a": namedKubeconfig("a", "https://a:6443", true), "home/.kube/config": namedKubeconfig("home", "https://home:6443", true)},
			flag:  "flag.conf", kubeconfig: "a",
			wantFiles: []string{"flag.conf"}, wantSource: "--kubeconfig", wantServer: "https://flag:6443",
		},
		{
			name:    "flag naming a missing file is an error, no fallback",
			files:   files{"work/admin.conf": namedKubeconfig("work", "https://work:6443", true)},
			flag:    "missing.conf",
			wantErr: "no kubeconfig at",
		},
		{
			name:       "KUBECONFIG list is merged, first file wins",
			files:      files{"a": namedKubeconfig("a", "https://a:6443", true), "b": namedKubeconfig("b", "https://b:6443", true)},
			kubeconfig: "a:b",
			wantFiles:  []string{"a", "b"}, wantSource: "KUBECONFIG", wantServer: "https://a:6443",
		},
		{
			name:       "current-context from the second file when the first has none",
			files:      files{"a": namedKubeconfig("a", "https://a:6443", false), "b": namedKubeconfig("b", "https://b:6443", true)},
			kubeconfig: "a:b",
			wantFiles:  []string{"a", "b"}, wantSource: "KUBECONFIG", wantServer: "https://b:6443",
		},
		{
			name:       "missing entries of KUBECONFIG are skipped",
			files:      files{"b": namedKubeconfig("b", "https://b:6443", true)},
			kubeconfig: "missing:b:b",
			wantFiles:  []string{"b"}, wantSource: "KUBECONFIG", wantServer: "https://b:6443",
		},
		{
			name:       "KUBECONFIG set hides ~/.kube/config, as for kubectl",
			files:      files{"home/.kube/config": namedKubeconfig("home", "https://home:6443", true), "work/kubeconfig": namedKubeconfig("talk", "https://talk:6443", true)},
			kubeconfig: "missing",
			wantFiles:  []string{"work/kubeconfig"}, wantSource: "work dir", wantServer: "https://talk:6443",
		},
		{
			name:      "~/.kube/config when KUBECONFIG is unset",
			files:     files{"home/.kube/config": namedKubeconfig("home", "https://home:6443", true), "work/admin.conf": namedKubeconfig("work", "https://work:6443", true)},
			wantFiles: []string{"home/.kube/config"}, wantSource: "~/.kube/config", wantServer: "https://home:6443",
		},
		{
			name:      "work dir admin.conf before the talk's kubeconfig",
			files:     files{"work/admin.conf": namedKubeconfig("work", "https://work:6443", true), "work/kubeconfig": namedKubeconfig("talk", "https://talk:6443", true)},
			wantFiles: []string{"work/admin.conf"}, wantSource: "work dir", wantServer: "https://work:6443",
		},
		{
			name:      "the talk's kubeconfig in the work dir",
			files:     files{"work/kubeconfig": namedKubeconfig("talk", "https://talk:6443", true)},
			wantFiles: []string{"work/kubeconfig"}, wantSource: "work dir", wantServer: "https://talk:6443",
		},
		{
			name:    "nothing anywhere names every place looked at",
			wantErr: "none of",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for rel, cfg := range tc.files {
				p := filepath.Join(root, rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				writeKubeconfig(t, cfg, p)
			}
			env := checks.NewEnv(filepath.Join(root, "work"))
			env.HomeDir = filepath.Join(root, "home")
			var kc []string
			for _, e := range filepath.SplitList(tc.kubeconfig) {
				kc = append(kc, filepath.Join(root, e))
			}
			env.Getenv = func(k string) string {
				if k == "KUBECONFIG" {
					return strings.Join(kc, string(filepath.ListSeparator))
				}
				return ""
			}
			if tc.flag != "" {
				env.Kubeconfig = filepath.Join(root, tc.flag)
			}
			res := env.ResolveKubeconfig()
			if tc.wantErr != "" {
				if res.Err == nil || !strings.Contains(res.Err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", res.Err, tc.wantErr)
				}
				r := runCheck(t, env, checks.KubeconfigMatches{})
				if r.Status != checks.Fail || r.Hint == "" {
					t.Errorf("kubeconfig check: %s %q (hint %q), want a failure with a hint", r.Status, r.Message, r.Hint)
				}
				if tc.flag == "" {
					for _, want := range []string{"admin.conf", "kubeconfig", ".kube/config"} {
						if !strings.Contains(r.Message, want) {
							t.Errorf("message %q does not name %s", r.Message, want)
						}
					}
				}
				return
			}
			if res.Err != nil {
				t.Fatalf("unexpected error: %v", res.Err)
			}
			var want []string
			for _, f := range tc.wantFiles {
				want = append(want, filepath.Join(root, f))
			}
			if strings.Join(res.Files, ",") != strings.Join(want, ",") || res.Source != tc.wantSource {
				t.Errorf("files %v (%s), want %v (%s)", res.Files, res.Source, want, tc.wantSource)
			}
			if !strings.Contains(res.Describe(), want[0]) {
				t.Errorf("Describe() = %q does not name %s", res.Describe(), want[0])
			}
			if res.Source == "work dir" && !strings.Contains(res.Describe(), "from the work dir: "+res.Searched[0]+" does not exist") {
				t.Errorf("Describe() = %q does not say which of kubectl's places were empty", res.Describe())
			}
			cfg, err := env.RESTConfig()
			if err != nil {
				t.Fatalf("RESTConfig: %v", err)
			}
			if cfg.Host != tc.wantServer {
				t.Errorf("server %s, want %s", cfg.Host, tc.wantServer)
			}
		})
	}
}

// A running walkthrough keeps one Env: a kubeconfig written after it
// started, in the work dir, is found by the next check.
func TestKubeconfigCreatedLater(t *testing.T) {
	root := t.TempDir()
	env := checks.NewEnv(root)
	env.HomeDir = filepath.Join(root, "home")
	env.Getenv = func(string) string { return "" }
	if _, err := env.RESTConfig(); err == nil {
		t.Fatal("no kubeconfig yet, but RESTConfig succeeded")
	}
	writeKubeconfig(t, namedKubeconfig("late", "https://127.0.0.1:6443", true), filepath.Join(root, "admin.conf"))
	cfg, err := env.RESTConfig()
	if err != nil || cfg.Host != "https://127.0.0.1:6443" {
		t.Fatalf("after writing admin.conf: %v, %v", cfg, err)
	}
}

// What is wrong with a kubeconfig is said in the tutor's words, and files
// that are not kubeconfigs are refused before anything reads them.
func TestKubeconfigProblems(t *testing.T) {
	noCurrent := namedKubeconfig("x", "https://127.0.0.1:6443", false)
	missingCert := kubeconfigFor("https://127.0.0.1:6443", nil, nil, nil)
	missingCert.AuthInfos["admin"].ClientCertificate = "/nonexistent/admin.crt"
	missingCert.AuthInfos["admin"].ClientKey = "/nonexistent/admin.key"
	cases := []struct {
		name    string
		setup   func(t *testing.T, path string)
		want    string
		notWant string
	}{
		{"empty file", func(t *testing.T, p string) { writeFile(t, p, nil, 0o600) }, "is empty", "KUBERNETES_MASTER"},
		{"no current context", func(t *testing.T, p string) { writeKubeconfig(t, noCurrent, p) }, "no current-context", "KUBERNETES_MASTER"},
		{"client certificate file missing", func(t *testing.T, p string) { writeKubeconfig(t, missingCert, p) }, "client certificate /nonexistent/admin.crt: does not exist", "No kubeconfig"},
		{"not YAML", func(t *testing.T, p string) { writeFile(t, p, []byte("\x00\x01{{{"), 0o600) }, "cannot parse it", ""},
		{"a FIFO", func(t *testing.T, p string) {
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}, "is a named pipe (FIFO), not a regular file", ""},
		{"a symlink to /dev/zero", func(t *testing.T, p string) {
			if err := os.Symlink("/dev/zero", p); err != nil {
				t.Fatal(err)
			}
		}, "is a character device, not a regular file", ""},
		{"a directory", func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "is a directory, not a regular file", ""},
		{"a huge file", func(t *testing.T, p string) {
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(1 << 30); err != nil {
				t.Fatal(err)
			}
		}, "more than any kubeconfig", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "admin.conf")
			tc.setup(t, p)
			env := checks.NewEnv(dir)
			env.Kubeconfig = p
			done := make(chan checks.Result, 1)
			go func() { done <- runCheck(t, env, checks.APIServerReady{}) }()
			var r checks.Result
			select {
			case r = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the check hangs")
			}
			if r.Status != checks.Fail || !strings.Contains(r.Message, tc.want) {
				t.Errorf("%s %q, want a failure saying %q", r.Status, r.Message, tc.want)
			}
			if tc.notWant != "" && strings.Contains(r.Message, tc.notWant) {
				t.Errorf("message %q says %q", r.Message, tc.notWant)
			}
		})
	}
}

// An exec credential plugin runs with the check timeout: one that hangs
// fails the check instead of hanging it; one that answers provides the token.
func TestKubeconfigExecPlugin(t *testing.T) {
	dir := t.TempDir()
	plugin := filepath.Join(dir, "plugin")
	writeFile(t, plugin, script(`case "$1" in
hang) exec sleep 1000 ;;
fail) echo "login expired" >&2; exit 1 ;;
*) echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-plugin"}}' ;;
esac`), 0o755)
	for _, tc := range []struct {
		arg, want string
	}{
		{"hang", "did not answer within"},
		{"fail", "login expired"},
		{"ok", ""},
	} {
		t.Run(tc.arg, func(t *testing.T) {
			cfg := namedKubeconfig("x", "https://127.0.0.1:6443", true)
			cfg.AuthInfos["u-x"].Token = ""
			cfg.AuthInfos["u-x"].Exec = &clientcmdapi.ExecConfig{Command: plugin, Args: []string{tc.arg}, APIVersion: "client.authentication.k8s.io/v1", InteractiveMode: clientcmdapi.NeverExecInteractiveMode}
			p := filepath.Join(dir, tc.arg+".conf")
			writeKubeconfig(t, cfg, p)
			env := checks.NewEnv(dir)
			env.Kubeconfig = p
			env.Timeout = 300 * time.Millisecond
			rc, err := env.RESTConfig()
			if tc.want == "" {
				if err != nil || rc.BearerToken != "from-plugin" || rc.ExecProvider != nil {
					t.Fatalf("RESTConfig: %v, token %q", err, rc.BearerToken)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
