package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/internal/fetch"
	"github.com/kubetutor/kubetutor/internal/host"
	"github.com/kubetutor/kubetutor/internal/iostreams"
)

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// mirrorOnDisk writes a mirror directory (the layout `fetch --mirror-dir`
// writes and `fetch --serve` serves) with small fake releases for amd64 and
// returns it with the relative path of every file.
func mirrorOnDisk(t *testing.T) (string, map[string][]byte) {
	t.Helper()
	const kv, ev, cv, arch = "v1.37.2", "v3.6.17", "v1.6.2", "amd64"
	files := map[string][]byte{}
	for _, b := range fetch.KubernetesBinaries {
		p := fmt.Sprintf("kubernetes/%s/bin/linux/%s/%s", kv, arch, b)
		body := []byte(fmt.Sprintf("#!/bin/sh\necho '%s version %s'\n", b, kv))
		files[p], files[p+".sha256"] = body, []byte(sha256hex(body))
	}
	etcd := tarGz(t, map[string]string{
		"etcd-v3.6.17-linux-amd64/etcd":    "#!/bin/sh\necho 'etcd Version: 3.6.17'\n",
		"etcd-v3.6.17-linux-amd64/etcdctl": "#!/bin/sh\necho 'etcdctl version: 3.6.17'\n",
	})
	files["etcd/"+ev+"/etcd-v3.6.17-linux-amd64.tar.gz"] = etcd
	files["etcd/"+ev+"/SHA256SUMS"] = []byte(sha256hex(etcd) + "  etcd-v3.6.17-linux-amd64.tar.gz\n")
	plugins := map[string]string{}
	for _, p := range []string{"bridge", "host-local", "loopback", "portmap"} {
		plugins["./"+p] = "#!/bin/sh\necho " + p + "\n"
	}
	cni := tarGz(t, plugins)
	files["cni/"+cv+"/cni-plugins-linux-amd64-v1.6.2.tgz"] = cni
	files["cni/"+cv+"/cni-plugins-linux-amd64-v1.6.2.tgz.sha256"] = []byte(sha256hex(cni) + "  cni-plugins-linux-amd64-v1.6.2.tgz\n")

	dir := t.TempDir()
	for p, body := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, files
}

// noOS makes fetch see an OS without etcd, CNI plugins, containerd or runc,
// and retry quickly.
func noOS(t *testing.T) {
	empty := t.TempDir()
	fetchHook = func(o *fetch.Options) {
		o.OSBinDirs, o.OSCNIDirs = []string{empty}, []string{empty}
		o.HTTP.RetryDelay = 10 * time.Millisecond
	}
	t.Cleanup(func() { fetchHook = nil })
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// execFetch runs `kubetutor --workdir wd fetch ARGS` in-process, not on a terminal.
func execFetch(ctx context.Context, t *testing.T, wd string, out, errOut *lockedBuffer, args ...string) int {
	t.Helper()
	ios, _, _ := iostreams.Test("")
	ios.Out, ios.ErrOut = out, errOut
	f := &Factory{IO: ios}
	return Execute(ctx, f, append([]string{"--workdir", wd, "--state-dir", t.TempDir(), "fetch"}, args...))
}

func TestFetchCommand(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		damage  func(t *testing.T, dir string)
		code    int
		out     []string
		errOut  []string
		present []string
		absent  []string
	}{
		{
			name: "everything from a mirror",
			out: []string{
				"kube-apiserver: 48 B ok\n", "kubectl: 41 B ok\n",
				"etcd: 38 B ok (from etcd-v3.6.17-linux-amd64.tar.gz)\n",
				"CNI plugins: 4 plugins, ", " ok in {wd}/bin/cni (from cni-plugins-linux-amd64-v1.6.2.tgz)\n",
				"containerd: not installed (Debian, as root: apt install containerd); kubetutor does not download it\n",
				"The programs are in {wd}/bin. Put it first on your PATH and check:\n  export PATH={wd}/bin:$PATH\n  kubetutor check tools\n",
				`bin_dir = "{wd}/bin/cni"`,
			},
			present: []string{"bin/kube-apiserver", "bin/kube-controller-manager", "bin/kube-scheduler", "bin/kubelet", "bin/kubectl", "bin/etcd", "bin/etcdctl", "bin/cni/bridge"},
		},
		{
			name:    "one component into another bin dir",
			args:    []string{"etcd", "--bin-dir", "{wd}/elsewhere"},
			out:     []string{"etcdctl: 41 B ok (from etcd-v3.6.17-linux-amd64.tar.gz)\n", "export PATH={wd}/elsewhere:$PATH"},
			present: []string{"elsewhere/etcd", "elsewhere/etcdctl"},
			absent:  []string{"bin", "elsewhere/kubelet", "elsewhere/cni"},
		},
		{
			name:    "CNI plugins into --cni-dir",
			args:    []string{"cni", "--cni-dir", "{wd}/opt-cni-bin"},
			present: []string{"opt-cni-bin/bridge", "opt-cni-bin/portmap"},
		},
		{
			name: "a bad checksum",
			args: []string{"kubernetes"},
			damage: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "kubernetes/v1.37.2/bin/linux/amd64/kubelet.sha256")
				if err := os.WriteFile(p, []byte(strings.Repeat("f", 64)), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			code:    1,
			errOut:  []string{"error: kubelet: sha256 mismatch: got ", ", want " + strings.Repeat("f", 64) + " (from http://127.0.0.1:", "/kubernetes/v1.37.2/bin/linux/amd64/kubelet)\n"},
			present: []string{"bin/kube-scheduler"},
			absent:  []string{"bin/kubelet", "bin/kubectl"},
		},
		{
			name: "a file missing from the mirror",
			args: []string{"etcd"},
			damage: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, "etcd/v3.6.17/etcd-v3.6.17-linux-amd64.tar.gz")); err != nil {
					t.Fatal(err)
				}
			},
			code:   1,
			errOut: []string{"error: etcd: GET http://127.0.0.1:", "/etcd/v3.6.17/etcd-v3.6.17-linux-amd64.tar.gz: 404 Not Found\n"},
			absent: []string{"bin/etcd"},
		},
		{
			name:   "a version the mirror does not have",
			args:   []string{"kubernetes", "--kubernetes-version", "v1.36.0"},
			code:   1,
			errOut: []string{"error: kube-apiserver: get the checksum: GET http://127.0.0.1:", "/kubernetes/v1.36.0/bin/linux/amd64/kube-apiserver.sha256: 404 Not Found"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			noOS(t)
			dir, _ := mirrorOnDisk(t)
			if tc.damage != nil {
				tc.damage(t, dir)
			}
			srv := httptest.NewServer(fetch.Handler(dir, nil))
			defer srv.Close()
			wd := t.TempDir()
			args := []string{"--mirror", srv.URL, "--insecure-mirror", "--arch", "amd64"}
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "{wd}", wd))
			}
			var out, errOut lockedBuffer
			code := execFetch(context.Background(), t, wd, &out, &errOut, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out.String(), errOut.String())
			}
			for _, w := range tc.out {
				if w = strings.ReplaceAll(w, "{wd}", wd); !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.errOut {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
				}
			}
			for _, p := range tc.present {
				fi, err := os.Stat(filepath.Join(wd, p))
				if err != nil || fi.Mode().Perm() != 0o755 {
					t.Errorf("%s: %v, %v; want an executable", p, fi, err)
				}
			}
			for _, p := range tc.absent {
				if _, err := os.Stat(filepath.Join(wd, p)); err == nil {
					t.Errorf("%s exists", p)
				}
			}
			_ = filepath.WalkDir(wd, func(p string, d os.DirEntry, err error) error {
				if err == nil && strings.HasPrefix(d.Name(), ".kubetutor-fetch-") {
					t.Errorf("temporary file left: %s", p)
				}
				return nil
			})
			if code != 0 {
				return
			}
			// A second run finds everything verified.
			out = lockedBuffer{}
			if code := execFetch(context.Background(), t, wd, &out, &errOut, args...); code != 0 {
				t.Fatalf("second run: exit %d: %s", code, errOut.String())
			}
			if strings.Contains(out.String(), " ok\n") || !strings.Contains(out.String(), "up to date") {
				t.Errorf("second run downloaded again:\n%s", out.String())
			}
		})
	}
}

func TestFetchUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"runc"}, `unknown component "runc": use kubernetes, etcd or cni, with --from-source also containerd or crictl`},
		{[]string{"containerd"}, "containerd is never downloaded: install it with your OS, or build it with --from-source"},
		{[]string{"--crictl-version", "v1.37.0"}, "--crictl-version: only --from-source builds containerd and crictl"},
		{[]string{"--from-source", "--containerd-version", "2.4.2", "containerd"}, `containerd version "2.4.2" is not a release version like v1.2.3`},
		{[]string{"--serve", "x", "--use-os"}, "--serve only serves a directory: it takes --addr, not --use-os"},
		{[]string{"--serve", "x", "--mirror-dir", "m"}, "--serve only serves a directory: it takes --addr, not --mirror-dir"},
		{[]string{"--serve", "x", "etcd"}, "--serve only serves a directory: it takes --addr, not etcd"},
		{[]string{"--addr", ":9000"}, "--addr is where --serve listens"},
		{[]string{"--serve", "/nonexistent/kubetutor-mirror"}, "serve /nonexistent/kubetutor-mirror: "},
		{[]string{"--mirror-dir", "m", "--use-os"}, "--mirror-dir fills a mirror with release downloads: --use-os do not apply"},
		{[]string{"--mirror-dir", "m", "--from-source"}, "--mirror-dir fills a mirror with release downloads: --from-source do not apply"},
		{[]string{"--from-source", "--mirror", "http://x"}, "--from-source builds with the local Go toolchain and downloads nothing"},
		{[]string{"--from-source", "--arch", "arm64"}, "--arch do not apply"},
		{[]string{"--kubernetes-version", "1.37.2"}, `Kubernetes version "1.37.2" is not a release version like v1.2.3`},
		{[]string{"--arch", "s390x"}, `no release binaries for architecture "s390x"`},
		{[]string{"--mirror", "ftp://host/x"}, `--mirror: "ftp://host/x" is not an http:// or https:// URL`},
		{[]string{"--stall-timeout", "0s"}, "--stall-timeout must be positive"},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut lockedBuffer
			code := execFetch(context.Background(), t, t.TempDir(), &out, &errOut, tc.args...)
			if code != 2 || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut.String(), tc.want)
			}
		})
	}
}

// TestFetchMirrorAndServe is the instructor's flow: fill a mirror from
// "upstream" with --mirror-dir, serve it with --serve, and have a learner
// fetch from it.
func TestFetchMirrorAndServe(t *testing.T) {
	noOS(t)
	upstream, files := mirrorOnDisk(t)
	up := httptest.NewServer(fetch.Handler(upstream, nil))
	defer up.Close()

	room := filepath.Join(t.TempDir(), "room")
	var out, errOut lockedBuffer
	if code := execFetch(context.Background(), t, t.TempDir(), &out, &errOut, "--mirror", up.URL, "--insecure-mirror", "--arch", "amd64", "--mirror-dir", room); code != 0 {
		t.Fatalf("--mirror-dir: exit %d: %s", code, errOut.String())
	}
	for p, body := range files {
		got, err := os.ReadFile(filepath.Join(room, filepath.FromSlash(p)))
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("mirror %s: %v", p, err)
		}
	}
	if !strings.Contains(out.String(), "The mirror in "+room+" is ready. Serve it to the room with\n  kubetutor fetch --serve "+room+"\n") {
		t.Errorf("stdout:\n%s", out.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sOut, sErr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- execFetch(ctx, t, t.TempDir(), &sOut, &sErr, "--serve", room, "--addr", "127.0.0.1:0") }()
	urlRE := regexp.MustCompile(`kubetutor fetch --mirror (http://127\.0\.0\.1:\d+) --insecure-mirror\n`)
	var url string
	for deadline := time.Now().Add(5 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := urlRE.FindStringSubmatch(sOut.String()); m != nil {
			url = m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("--serve ended with %d: %s", code, sErr.String())
		default:
		}
	}
	if url == "" {
		t.Fatalf("--serve printed no URL:\n%s", sOut.String())
	}
	if !strings.Contains(sOut.String(), "Serving "+room+" (kubernetes v1.37.2, etcd v3.6.17, cni v1.6.2) on 127.0.0.1:") {
		t.Errorf("--serve said:\n%s", sOut.String())
	}

	wd := t.TempDir()
	out, errOut = lockedBuffer{}, lockedBuffer{}
	if code := execFetch(context.Background(), t, wd, &out, &errOut, "--mirror", url, "--insecure-mirror", "--arch", "amd64"); code != 0 {
		t.Fatalf("learner: exit %d: %s", code, errOut.String())
	}
	for _, p := range []string{"bin/kubelet", "bin/etcd", "bin/cni/loopback"} {
		if fi, err := os.Stat(filepath.Join(wd, p)); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v", p, err)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("--serve exit %d: %s", code, sErr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("--serve did not stop")
	}
	if !strings.Contains(sErr.String(), " GET 200 /kubernetes/v1.37.2/bin/linux/amd64/kubelet ") {
		t.Errorf("--serve's request log:\n%s", sErr.String())
	}
}

// TestFetchUseOS links the OS's etcd into bin/ and reports its CNI plugins.
func TestFetchUseOS(t *testing.T) {
	osBin, osCNI := t.TempDir(), t.TempDir()
	for dir, progs := range map[string]map[string]string{
		osBin: {"etcd": "etcd Version: 3.4.23", "etcdctl": "etcdctl version: 3.4.23"},
		osCNI: {"bridge": "CNI bridge plugin v1.1.1", "host-local": "x", "loopback": "x", "portmap": "x"},
	} {
		for name, out := range progs {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\necho '"+out+"'\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	fetchHook = func(o *fetch.Options) { o.OSBinDirs, o.OSCNIDirs = []string{osBin}, []string{osCNI} }
	t.Cleanup(func() { fetchHook = nil })

	wd := t.TempDir()
	var out, errOut lockedBuffer
	// No mirror is needed: nothing is downloaded.
	if code := execFetch(context.Background(), t, wd, &out, &errOut, "etcd", "cni", "--use-os", "--mirror", "http://127.0.0.1:1", "--insecure-mirror"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, w := range []string{
		"etcd 3.4.23 from the OS at " + osBin + "/etcd (linked as " + wd + "/bin/etcd)\n",
		"etcdctl 3.4.23 from the OS at " + osBin + "/etcdctl (linked as " + wd + "/bin/etcdctl)\n",
		"CNI plugins v1.1.1 from the OS at " + osCNI + "\n",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("stdout lacks %q:\n%s", w, out.String())
		}
	}
	if target, err := os.Readlink(filepath.Join(wd, "bin", "etcd")); err != nil || target != filepath.Join(osBin, "etcd") {
		t.Errorf("bin/etcd → %q, %v", target, err)
	}
}

// TestFetchCNISummary: after fetching the CNI plugins outside containerd's
// default directory, fetch says which directory this machine's
// /etc/containerd/config.toml makes containerd search, not "unless" (issue
// 19), and offers /opt/cni/bin only where containerd would look there.
func TestFetchCNISummary(t *testing.T) {
	const dir, again = "/home/learner/k8s/bin/cni", "kubetutor fetch cni --cni-dir /opt/cni/bin"
	for _, tc := range []struct {
		name, config string
		want         []string
		offer        bool
	}{
		{name: "no configuration yet", want: []string{"There is no /etc/containerd/config.toml yet, so containerd would look in /opt/cni/bin", `set bin_dir = "` + dir + `"`}, offer: true},
		{name: "no bin_dir", config: "version = 2\n", want: []string{"sets no bin_dir, so containerd looks in /opt/cni/bin, its default, not in " + dir}, offer: true},
		{name: "Debian's directory", config: "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".cni]\n  bin_dir = \"/usr/lib/cni\"\n",
			want: []string{"sets the CNI plugin directory to /usr/lib/cni, not " + dir, `unless you set bin_dir = "` + dir + `" and restart containerd`}},
		{name: "this directory", config: "version = 3\n[plugins.'io.containerd.cri.v1.runtime'.cni]\n  bin_dirs = ['" + dir + "']\n",
			want: []string{"sets the CNI plugin directory to " + dir + ": containerd looks there."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			saved := host.Root
			host.Root = root
			t.Cleanup(func() { host.Root = saved })
			if tc.config != "" {
				p := filepath.Join(root, "etc", "containerd", "config.toml")
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(tc.config), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var out strings.Builder
			cniSummary(&out, dir, again)
			got := out.String()
			if !strings.HasPrefix(got, "The CNI plugins are in "+dir+". ") || strings.Contains(got, "unless its CRI config") {
				t.Errorf("summary:\n%s", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("summary lacks %q:\n%s", w, got)
				}
			}
			if offered := strings.Contains(got, again); offered != tc.offer {
				t.Errorf("offers %q: %v, want %v:\n%s", again, offered, tc.offer, got)
			}
		})
	}
}
