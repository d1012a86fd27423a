package fetch

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testArch = "amd64"
	kv       = DefaultKubernetesVersion
	ev       = DefaultEtcdVersion
	cv       = DefaultCNIVersion
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// tgz builds a gzip'd tar archive of the given files (name → content);
// names ending in "*" are executable (the star is dropped).
func tgz(t *testing.T, files [][2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		name, mode := f[0], int64(0o644)
		if strings.HasSuffix(name, "*") {
			name, mode = strings.TrimSuffix(name, "*"), 0o755
		}
		if strings.HasSuffix(name, "/") {
			if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(f[1]))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f[1])); err != nil {
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

func kubeScript(name string) string {
	if name == "kubectl" {
		return "#!/bin/sh\necho 'Client Version: " + kv + "'\n"
	}
	return "#!/bin/sh\necho 'Kubernetes " + kv + "' # " + name + "\n"
}

// release is a fake of the three release locations in the mirror layout:
// path → content, and per-path misbehaviour.
type release struct {
	t     *testing.T
	files map[string][]byte
	// behave: "404", "cut" (half the body, then the connection is closed),
	// "cut-once" (cut on the first request only), "stall" (half the body, then nothing).
	behave map[string]string

	mu       sync.Mutex
	requests map[string]int
	release  chan struct{}
}

func etcdTar(t *testing.T) []byte {
	dir := "etcd-" + ev + "-linux-" + testArch + "/"
	return tgz(t, [][2]string{
		{dir, ""},
		{dir + "etcd*", "#!/bin/sh\necho 'etcd Version: 3.6.17'\n"},
		{dir + "etcdctl*", "#!/bin/sh\necho 'etcdctl version: 3.6.17'\n"},
		{dir + "etcdutl*", "#!/bin/sh\necho etcdutl\n"},
		{dir + "README.md", "# etcd\n"},
	})
}

func cniTar(t *testing.T) []byte {
	return tgz(t, [][2]string{
		{"./", ""},
		{"./LICENSE", "Apache-2.0\n"},
		{"./README.md", "# plugins\n"},
		{"./bridge*", "#!/bin/sh\necho 'CNI bridge plugin " + cv + "'\n"},
		{"./host-local*", "#!/bin/sh\necho host-local\n"},
		{"./loopback*", "#!/bin/sh\necho loopback\n"},
		{"./portmap*", "#!/bin/sh\necho portmap\n"},
		{"./tuning*", "#!/bin/sh\necho tuning\n"},
	})
}

func newRelease(t *testing.T) *release {
	r := &release{t: t, files: map[string][]byte{}, behave: map[string]string{}, requests: map[string]int{}, release: make(chan struct{})}
	for _, name := range KubernetesBinaries {
		p := fmt.Sprintf("/kubernetes/%s/bin/linux/%s/%s", kv, testArch, name)
		body := []byte(kubeScript(name))
		r.files[p] = body
		r.files[p+".sha256"] = []byte(sha(body)) // dl.k8s.io: the bare digest
	}
	et := etcdTar(t)
	etcdName := EtcdArchive(ev, testArch)
	r.files["/etcd/"+ev+"/"+etcdName] = et
	r.files["/etcd/"+ev+"/SHA256SUMS"] = fmt.Appendf(nil, "%s  etcd-%s-darwin-arm64.zip\n%s  %s\n%s  etcd-%s-linux-arm64.tar.gz\n",
		strings.Repeat("a", 64), ev, sha(et), etcdName, strings.Repeat("b", 64), ev)
	ct := cniTar(t)
	cniName := CNIArchive(cv, testArch)
	r.files["/cni/"+cv+"/"+cniName] = ct
	r.files["/cni/"+cv+"/"+cniName+".sha256"] = fmt.Appendf(nil, "%s  %s\n", sha(ct), cniName)
	return r
}

func (r *release) kubePath(name string) string {
	return fmt.Sprintf("/kubernetes/%s/bin/linux/%s/%s", kv, testArch, name)
}

func (r *release) count(p string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests[p]
}

func (r *release) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.requests[req.URL.Path]++
	n := r.requests[req.URL.Path]
	r.mu.Unlock()
	body, ok := r.files[req.URL.Path]
	behave := r.behave[req.URL.Path]
	if !ok || behave == "404" {
		http.NotFound(w, req)
		return
	}
	if behave == "cut-once" {
		behave = ""
		if n == 1 {
			behave = "cut"
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	switch behave {
	case "cut":
		_, _ = w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			r.t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	case "stall":
		_, _ = w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		select {
		case <-req.Context().Done():
		case <-r.release:
		}
	default:
		_, _ = w.Write(body)
	}
}

func (r *release) serve(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		close(r.release)
		srv.Close()
	})
	return srv
}

// testOptions fetch from srv into a fresh bin dir, with fast retries and no OS.
func testOptions(t *testing.T, srv *httptest.Server) Options {
	empty := t.TempDir()
	return Options{
		BinDir:  filepath.Join(t.TempDir(), "bin"),
		Arch:    testArch,
		Sources: Mirror(srv.URL),
		// The test servers are plain HTTP (issue 18 made that opt-in).
		InsecureHTTP: true,
		HTTP:         HTTPOptions{RetryDelay: 10 * time.Millisecond, StallTimeout: 5 * time.Second},
		OSBinDirs:    []string{empty},
		OSCNIDirs:    []string{empty},
		Reporter:     Discard,
		Components:   []Component{Kubernetes, Etcd, CNI},
	}
}

// leftovers lists the temporary files in dir and its sub-directories.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && (strings.HasPrefix(d.Name(), tempPrefix) || strings.HasPrefix(d.Name(), buildStagePrefix)) {
			found = append(found, p)
		}
		return nil
	})
	return found
}

func assertExecutable(t *testing.T, path string, want []byte) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("%s: mode %v, want 0755", path, fi.Mode().Perm())
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: content %q, want %q", path, got, want)
	}
}

func assertAbsent(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists; want nothing there", p)
		}
	}
}

func TestRun(t *testing.T) {
	badSum := strings.Repeat("0", 64)
	tests := []struct {
		name       string
		components []Component
		setup      func(r *release)
		http       HTTPOptions
		wantErr    []string
		// maxElapsed bounds the run, for the stall case.
		maxElapsed time.Duration
		check      func(t *testing.T, o Options, r *release, res *Result)
	}{
		{
			name: "good files land executable with their content",
			check: func(t *testing.T, o Options, r *release, res *Result) {
				for _, name := range KubernetesBinaries {
					assertExecutable(t, filepath.Join(o.BinDir, name), r.files[r.kubePath(name)])
					if it, _ := res.Item(name); it.Status != Downloaded {
						t.Errorf("%s: status %q, want downloaded", name, it.Status)
					}
				}
				assertExecutable(t, filepath.Join(o.BinDir, "etcd"), []byte("#!/bin/sh\necho 'etcd Version: 3.6.17'\n"))
				assertExecutable(t, filepath.Join(o.BinDir, "etcdctl"), []byte("#!/bin/sh\necho 'etcdctl version: 3.6.17'\n"))
				assertAbsent(t, filepath.Join(o.BinDir, "etcdutl"), filepath.Join(o.BinDir, "README.md"))
				cni := filepath.Join(o.BinDir, "cni")
				for _, p := range []string{"bridge", "host-local", "loopback", "portmap", "tuning"} {
					if fi, err := os.Stat(filepath.Join(cni, p)); err != nil || fi.Mode().Perm() != 0o755 {
						t.Errorf("CNI plugin %s: %v %v", p, fi, err)
					}
				}
				assertAbsent(t, filepath.Join(cni, "LICENSE"), filepath.Join(cni, "README.md"))
				if it, _ := res.Item("CNI plugins"); it.Status != Downloaded || it.Path != cni {
					t.Errorf("CNI plugins: %+v", it)
				}
			},
		},
		{
			name:       "a bad checksum names the file and leaves nothing",
			components: []Component{Kubernetes},
			setup: func(r *release) {
				r.files[r.kubePath("kube-apiserver")+".sha256"] = []byte(badSum + "\n")
			},
			wantErr: []string{"kube-apiserver: sha256 mismatch: got ", ", want " + badSum + " (from http://", "/kubernetes/v1.37.2/bin/linux/amd64/kube-apiserver)"},
			check: func(t *testing.T, o Options, r *release, res *Result) {
				assertAbsent(t, filepath.Join(o.BinDir, "kube-apiserver"))
			},
		},
		{
			name:       "a bad archive checksum leaves no etcd",
			components: []Component{Etcd},
			setup: func(r *release) {
				r.files["/etcd/"+ev+"/SHA256SUMS"] = fmt.Appendf(nil, "%s  %s\n", badSum, EtcdArchive(ev, testArch))
			},
			wantErr: []string{"etcd: sha256 mismatch: got ", "want " + badSum, "etcd-v3.6.17-linux-amd64.tar.gz)"},
			check: func(t *testing.T, o Options, r *release, res *Result) {
				assertAbsent(t, filepath.Join(o.BinDir, "etcd"), filepath.Join(o.BinDir, "etcdctl"))
			},
		},
		{
			name:       "a 404 names the URL and the status",
			components: []Component{Kubernetes},
			setup:      func(r *release) { r.behave[r.kubePath("kube-scheduler")] = "404" },
			wantErr:    []string{"kube-scheduler: GET http://", "/kubernetes/v1.37.2/bin/linux/amd64/kube-scheduler: 404 Not Found"},
			check: func(t *testing.T, o Options, r *release, res *Result) {
				assertAbsent(t, filepath.Join(o.BinDir, "kube-scheduler"))
				if n := r.count(r.kubePath("kube-scheduler")); n != 1 {
					t.Errorf("a 404 was asked %d times, want once (not retried)", n)
				}
				// What came before is complete and stays.
				if it, _ := res.Item("kube-controller-manager"); it.Status != Downloaded {
					t.Errorf("kube-controller-manager: %+v", it)
				}
			},
		},
		{
			name:       "a missing checksum file names its URL",
			components: []Component{CNI},
			setup:      func(r *release) { r.behave["/cni/"+cv+"/"+CNIArchive(cv, testArch)+".sha256"] = "404" },
			wantErr:    []string{"CNI plugins: get the checksum: GET http://", "cni-plugins-linux-amd64-v1.6.2.tgz.sha256: 404 Not Found"},
		},
		{
			name:       "a connection cut mid-file fails after the retries and leaves nothing",
			components: []Component{Kubernetes},
			setup:      func(r *release) { r.behave[r.kubePath("kubelet")] = "cut" },
			wantErr:    []string{"kubelet: GET http://", "/kubelet: the transfer broke off after ", "(after 3 attempts)"},
			check: func(t *testing.T, o Options, r *release, res *Result) {
				assertAbsent(t, filepath.Join(o.BinDir, "kubelet"))
				if n := r.count(r.kubePath("kubelet")); n != 3 {
					t.Errorf("kubelet was asked %d times, want 3 (two retries)", n)
				}
			},
		},
		{
			name:       "a cut archive leaves no etcd",
			components: []Component{Etcd},
			setup:      func(r *release) { r.behave["/etcd/"+ev+"/"+EtcdArchive(ev, testArch)] = "cut" },
			wantErr:    []string{"etcd: GET http://", "etcd-v3.6.17-linux-amd64.tar.gz: the transfer broke off"},
			check: func(t *testing.T, o Options, r *release, res *Result) {
				assertAbsent(t, filepath.Join(o.BinDir, "etcd"), filepath.Join(o.BinDir, "etcdctl"))
			},
		},
		{
			name:       "one cut connection is retried",
			components: []Component{Kubernetes},
			setup:      func(r *release) { r.behave[r.kubePath("kubectl")] = "cut-once" },
			check: func(t *testing.T, o Options, r *release, res *Result) {
				assertExecutable(t, filepath.Join(o.BinDir, "kubectl"), r.files[r.kubePath("kubectl")])
				if n := r.count(r.kubePath("kubectl")); n != 2 {
					t.Errorf("kubectl was asked %d times, want 2", n)
				}
			},
		},
		{
			name:       "a stalled server fails within the stall timeout",
			components: []Component{Kubernetes},
			setup:      func(r *release) { r.behave[r.kubePath("kube-apiserver")] = "stall" },
			http:       HTTPOptions{StallTimeout: 300 * time.Millisecond, Retries: -1},
			maxElapsed: 3 * time.Second,
			wantErr:    []string{"kube-apiserver: GET http://", "no data for 300ms after 26 B: the server stopped sending"},
			check: func(t *testing.T, o Options, r *release, res *Result) {
				assertAbsent(t, filepath.Join(o.BinDir, "kube-apiserver"))
			},
		},
		{
			name:       "a stall is retried too, each attempt bounded",
			components: []Component{Kubernetes},
			setup:      func(r *release) { r.behave[r.kubePath("kube-apiserver")] = "stall" },
			http:       HTTPOptions{StallTimeout: 300 * time.Millisecond, RetryDelay: 10 * time.Millisecond},
			maxElapsed: 4 * time.Second,
			wantErr:    []string{"kube-apiserver: ", "the server stopped sending (after 3 attempts)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRelease(t)
			if tc.setup != nil {
				tc.setup(r)
			}
			srv := r.serve(t)
			o := testOptions(t, srv)
			if tc.components != nil {
				o.Components = tc.components
			}
			if tc.http != (HTTPOptions{}) {
				o.HTTP = tc.http
			}
			start := time.Now()
			res, err := Run(context.Background(), o)
			elapsed := time.Since(start)
			if tc.maxElapsed > 0 && elapsed > tc.maxElapsed {
				t.Errorf("took %s, want at most %s", elapsed, tc.maxElapsed)
			}
			if len(tc.wantErr) == 0 && err != nil {
				t.Fatalf("Run: %v", err)
			}
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Run succeeded; want an error with %q", tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q\ndoes not contain %q", err, w)
					}
				}
			}
			if left := leftovers(t, filepath.Dir(o.BinDir)); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
			if tc.check != nil {
				tc.check(t, o, r, res)
			}
		})
	}
}

// TestRerunSkipsVerifiedFiles runs fetch three times: the second run
// downloads nothing, the third only what was damaged in between.
func TestRerunSkipsVerifiedFiles(t *testing.T) {
	r := newRelease(t)
	srv := r.serve(t)
	o := testOptions(t, srv)
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	bodies := func() map[string]int {
		m := map[string]int{}
		for p := range r.files {
			if !strings.HasSuffix(p, ".sha256") && !strings.HasSuffix(p, "SHA256SUMS") {
				m[p] = r.count(p)
			}
		}
		return m
	}
	before := bodies()

	var out bytes.Buffer
	o.Reporter = NewReporter(&out, false, 80)
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range res.Items {
		if it.Name != "containerd" && it.Name != "runc" && it.Status != UpToDate {
			t.Errorf("second run: %s is %q, want up to date", it.Name, it.Status)
		}
	}
	for p, n := range bodies() {
		if n != before[p] {
			t.Errorf("second run downloaded %s again", p)
		}
	}
	for _, want := range []string{"kube-apiserver: up to date\n", "etcd: up to date (from etcd-v3.6.17-linux-amd64.tar.gz)\n", "CNI plugins: up to date in "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("second run's output lacks %q:\n%s", want, out.String())
		}
	}

	// Damage one binary and one extracted file: only they come again.
	if err := os.WriteFile(filepath.Join(o.BinDir, "kubelet"), []byte("truncated"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(o.BinDir, "etcdctl"), []byte("truncated"), 0o755); err != nil {
		t.Fatal(err)
	}
	before = bodies()
	res, err = Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	assertExecutable(t, filepath.Join(o.BinDir, "kubelet"), r.files[r.kubePath("kubelet")])
	assertExecutable(t, filepath.Join(o.BinDir, "etcdctl"), []byte("#!/bin/sh\necho 'etcdctl version: 3.6.17'\n"))
	after := bodies()
	for p, n := range after {
		want := before[p]
		if p == r.kubePath("kubelet") || p == "/etcd/"+ev+"/"+EtcdArchive(ev, testArch) {
			want++
		}
		if n != want {
			t.Errorf("third run: %s asked %d times, want %d", p, n-before[p], want-before[p])
		}
	}
	if it, _ := res.Item("kube-apiserver"); it.Status != UpToDate {
		t.Errorf("third run: kube-apiserver %q", it.Status)
	}
}

// TestMirrorRoundTrip fills a mirror directory from the "upstream", serves
// it with Handler, and fetches from that.
func TestMirrorRoundTrip(t *testing.T) {
	r := newRelease(t)
	up := r.serve(t)
	mirrorDir := filepath.Join(t.TempDir(), "mirror")
	o := testOptions(t, up)
	o.BinDir, o.MirrorDir = "", mirrorDir
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != len(KubernetesBinaries)+2 {
		t.Errorf("items: %+v", res.Items)
	}
	// The mirror holds the release files and checksum files, as published.
	for p, body := range r.files {
		got, err := os.ReadFile(filepath.Join(mirrorDir, filepath.FromSlash(p)))
		if err != nil {
			t.Errorf("mirror: %v", err)
			continue
		}
		if !bytes.Equal(got, body) {
			t.Errorf("mirror %s differs from the release", p)
		}
	}
	if left := leftovers(t, mirrorDir); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	// A second fill downloads nothing.
	res, err = Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range res.Items {
		if it.Status != UpToDate {
			t.Errorf("second fill: %s %q", it.Name, it.Status)
		}
	}
	held, err := CheckMirrorDir(mirrorDir)
	if err != nil || strings.Join(held, ",") != "kubernetes v1.37.2,etcd v3.6.17,cni v1.6.2" {
		t.Errorf("CheckMirrorDir = %v, %v", held, err)
	}

	var log syncBuffer
	mirror := httptest.NewServer(Handler(mirrorDir, &log))
	defer mirror.Close()
	o2 := testOptions(t, mirror)
	if _, err := Run(context.Background(), o2); err != nil {
		t.Fatal(err)
	}
	for _, name := range KubernetesBinaries {
		assertExecutable(t, filepath.Join(o2.BinDir, name), r.files[r.kubePath(name)])
	}
	assertExecutable(t, filepath.Join(o2.BinDir, "etcd"), []byte("#!/bin/sh\necho 'etcd Version: 3.6.17'\n"))
	if !strings.Contains(log.String(), "GET 200 /kubernetes/v1.37.2/bin/linux/amd64/kubelet ") {
		t.Errorf("request log:\n%s", log.String())
	}
}

func TestHandler(t *testing.T) {
	dir := t.TempDir()
	// Only the files of the mirror layout are served (issue 18).
	kubelet := "kubernetes/v1.37.2/bin/linux/amd64/kubelet"
	if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(kubelet)), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{kubelet: "k", tempPrefix + "x.tmp": "partial", manifestName: "{}"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(Handler(dir, nil))
	defer srv.Close()
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/" + kubelet, 200},
		{"HEAD", "/" + kubelet, 200},
		{"GET", "/kubernetes/nothing", 404},
		{"GET", "/" + tempPrefix + "x.tmp", 404},
		{"GET", "/" + manifestName, 404},
		{"PUT", "/" + kubelet, 405},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestUpstreamLayout(t *testing.T) {
	up := Upstream()
	mi := Mirror("http://10.0.0.1:8080/")
	tests := []struct{ got, want string }{
		{up.KubernetesURL("v1.37.2", "amd64", "kube-apiserver"), "https://dl.k8s.io/v1.37.2/bin/linux/amd64/kube-apiserver"},
		{up.EtcdURL("v3.6.17", "arm64"), "https://github.com/etcd-io/etcd/releases/download/v3.6.17/etcd-v3.6.17-linux-arm64.tar.gz"},
		{up.EtcdSumsURL("v3.6.17"), "https://github.com/etcd-io/etcd/releases/download/v3.6.17/SHA256SUMS"},
		{up.CNIURL("v1.6.2", "amd64"), "https://github.com/containernetworking/plugins/releases/download/v1.6.2/cni-plugins-linux-amd64-v1.6.2.tgz"},
		{mi.KubernetesURL("v1.37.2", "amd64", "kubectl"), "http://10.0.0.1:8080/kubernetes/v1.37.2/bin/linux/amd64/kubectl"},
		{mi.EtcdURL("v3.6.17", "amd64"), "http://10.0.0.1:8080/etcd/v3.6.17/etcd-v3.6.17-linux-amd64.tar.gz"},
		{mi.EtcdSumsURL("v3.6.17"), "http://10.0.0.1:8080/etcd/v3.6.17/SHA256SUMS"},
		{mi.CNIURL("v1.6.2", "arm64"), "http://10.0.0.1:8080/cni/v1.6.2/cni-plugins-linux-arm64-v1.6.2.tgz"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

func TestParseChecksum(t *testing.T) {
	d := strings.Repeat("ab", 32)
	tests := []struct {
		name, data, file, want, wantErr string
	}{
		{name: "bare digest (dl.k8s.io)", data: d, file: "kubelet", want: d},
		{name: "bare digest and newline", data: d + "\n", file: "kubelet", want: d},
		{name: "upper case", data: strings.ToUpper(d), file: "kubelet", want: d},
		{name: "sha256sum line (CNI)", data: d + "  cni.tgz\n", file: "cni.tgz", want: d},
		{name: "binary-mode line", data: d + " *cni.tgz\n", file: "cni.tgz", want: d},
		{name: "SHA256SUMS", data: strings.Repeat("1", 64) + "  a.zip\n" + d + "  etcd.tar.gz\n", file: "etcd.tar.gz", want: d},
		{name: "another file's line", data: d + "  other.tgz\n", file: "cni.tgz", wantErr: "no checksum for cni.tgz in it"},
		{name: "not in SHA256SUMS", data: d + "  a\n" + d + "  b\n", file: "c", wantErr: "no checksum for c"},
		{name: "empty", data: "\n", file: "x", wantErr: "empty"},
		{name: "an HTML page", data: "<html>", file: "x", wantErr: `"<html>" is not a SHA-256 digest`},
		{name: "short digest on the file's line", data: "abc  x\n", file: "x", wantErr: "not a SHA-256 digest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseChecksum([]byte(tc.data), tc.file)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestOptionsValidation(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	tests := []struct {
		name string
		mod  func(o *Options)
		want string
	}{
		{"version without v", func(o *Options) { o.KubernetesVersion = "1.37.2" }, `Kubernetes version "1.37.2" is not a release version`},
		{"path in a version", func(o *Options) { o.EtcdVersion = "v3.6.17/../x" }, "etcd version"},
		{"arch", func(o *Options) { o.Arch = "s390x" }, `no release binaries for architecture "s390x"`},
		{"component", func(o *Options) { o.Components = []Component{"runc"} }, `unknown component "runc"`},
		{"source URL", func(o *Options) { o.Sources = Mirror("ftp://x") }, "not an http:// or https:// URL"},
		{"mirror from the OS", func(o *Options) { o.MirrorDir, o.UseOS = t.TempDir(), true }, "cannot be filled from the OS"},
		{"no bin dir", func(o *Options) { o.BinDir = "" }, "no bin directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(t, srv)
			tc.mod(&o)
			_, err := Run(context.Background(), o)
			if !IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a usage error with %q", err, tc.want)
			}
		})
	}
}

func TestReporter(t *testing.T) {
	var plain bytes.Buffer
	r := NewReporter(&plain, false, 80)
	r.Start("kubelet", 1000)
	r.Progress(500)
	r.Status("transient")
	r.Line("kubelet: %s ok", FormatSize(92_000_000))
	if plain.String() != "kubelet: 92.0 MB ok\n" {
		t.Errorf("plain output %q", plain.String())
	}

	var tty bytes.Buffer
	r = NewReporter(&tty, true, 60)
	r.Start("kube-apiserver", 119_200_000)
	r.Progress(119_200_000)
	r.Line("kube-apiserver: 119.2 MB ok")
	out := tty.String()
	for _, want := range []string{"\r\x1b[Kkube-apiserver [", "100%  119.2/119.2 MB", "\r\x1b[Kkube-apiserver: 119.2 MB ok\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output %q lacks %q", out, want)
		}
	}
	for l := range strings.SplitSeq(out, "\r\x1b[K") {
		if len(l) > 60 {
			t.Errorf("line %q is wider than the terminal", l)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1500: "1.5 kB", 119_201_954: "119.2 MB", 2_500_000_000: "2.5 GB"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
