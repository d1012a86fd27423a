package checks_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/checks"
)

// fakeAPIServer answers like kube-apiserver for what APIServerReady asks:
// it authenticates client certificates against clientCA (as --client-ca-file
// does, after the handshake, so a bad certificate is a 401) and serves
// /readyz and /version.
type fakeAPIServer struct {
	clientCA *x509.Certificate
	// readyz, when set, replaces the healthy /readyz.
	readyz http.HandlerFunc
	// noVersion makes /version a 404.
	noVersion bool
	// version, when set, replaces /version's body.
	version string
}

func writeStatus(w http.ResponseWriter, code int, reason, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":%q,"reason":%q,"code":%d}`, message, reason, code)
}

func (a *fakeAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !a.authenticated(r) {
		writeStatus(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
		return
	}
	switch r.URL.Path {
	case "/readyz":
		if a.readyz != nil {
			a.readyz(w, r)
			return
		}
		fmt.Fprint(w, "ok")
	case "/version":
		if a.noVersion {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if a.version != "" {
			fmt.Fprint(w, a.version)
			return
		}
		fmt.Fprint(w, `{"major":"1","minor":"37","gitVersion":"v1.37.2","gitCommit":"0123456789abcdef","gitTreeState":"clean","goVersion":"go1.26.8","compiler":"gc","platform":"linux/amd64"}`)
	default:
		http.NotFound(w, r)
	}
}

func (a *fakeAPIServer) authenticated(r *http.Request) bool {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return false
	}
	pool := x509.NewCertPool()
	pool.AddCert(a.clientCA)
	_, err := r.TLS.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err == nil
}

// startTLSServer serves h over TLS with the given server certificate.
func startTLSServer(t *testing.T, serverCert *keyPair, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{serverCert.Cert.Raw}, PrivateKey: serverCert.Key, Leaf: serverCert.Cert}},
		// Like kube-apiserver: ask for a client certificate, verify it later.
		ClientAuth: tls.RequestClientCert,
	}
	// Handshake failures are the point of some cases; keep them quiet.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// closedPort is a local address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestAPIServerReady(t *testing.T) {
	ca := newCA(t, "kubernetes-ca")
	otherCA := newCA(t, "impostor-ca")
	good := issue(t, serverSpec(nil), ca)
	goodKeyPEM := pkcs8PEM(t, good.Key)
	// A client certificate from a CA the API server does not trust.
	strangerClient := issue(t, certSpec{CN: "admin"}, otherCA)
	now := time.Now()

	// listening is the address of a TCP listener that accepts and closes.
	listening := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		return ln.Addr().String()
	}
	type setup struct {
		serverCert *keyPair // default: good
		api        *fakeAPIServer
		server     string // kubeconfig server; default: the test server's URL
		caPEM      []byte // default: ca
		certPEM    []byte // client certificate; default: good
		keyPEM     []byte
		noCreds    bool
		noKube     bool
		kubeRaw    []byte
		timeout    time.Duration // default 1s
		plain      bool          // serve plain HTTP (kubeconfig still says https)
		httpURL    bool          // with plain: the kubeconfig says http://
		// lessons is where the lessons start kube-apiserver (Env.APIServerURL);
		// default: the lessons' own.
		lessons string
	}
	tests := []struct {
		name   string
		setup  setup
		status checks.Status
		msg    []string // substrings of the message
		hint   string   // substring of the hint
		detail string   // substring of some detail
		notMsg string   // must not be in the message
		bug    string   // set: the case documents a known bug and is skipped
	}{
		{
			name:   "ready with version",
			status: checks.Pass,
			msg:    []string{"kube-apiserver v1.37.2 at https://127.0.0.1:", "is ready"},
			detail: "server version v1.37.2",
		},
		{
			name:   "ready without /version is not kube-apiserver",
			setup:  setup{api: &fakeAPIServer{noVersion: true}},
			status: checks.Fail,
			msg:    []string{"but it is not kube-apiserver: /version answers HTTP 404"},
		},
		{
			name:   "/version that is not Kubernetes'",
			setup:  setup{api: &fakeAPIServer{version: `{"version":"2.4.1","name":"some-proxy"}`}},
			status: checks.Fail,
			msg:    []string{"but it is not kube-apiserver: /version answers", "not a Kubernetes version"},
		},
		{
			name:   "plain HTTP answering 200 on /readyz",
			setup:  setup{plain: true},
			status: checks.Fail,
			msg:    []string{"Something answers on 127.0.0.1:", "but it is not kube-apiserver: plain HTTP"},
			hint:   "ss -ltnp",
		},
		{
			name:   "kubeconfig pointing at http://",
			setup:  setup{plain: true, httpURL: true},
			status: checks.Fail,
			msg:    []string{"plain HTTP: kube-apiserver serves its API over TLS only"},
			hint:   "--server=https://127.0.0.1:6443",
		},
		{
			name:   "kubeconfig without a CA",
			setup:  setup{caPEM: []byte{}},
			status: checks.Fail,
			msg:    []string{"does not verify the API server's certificate"},
			hint:   "--embed-certs=true",
		},
		{
			name: "not ready: etcd failing",
			setup: setup{api: &fakeAPIServer{readyz: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, "[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n[+]informer-sync ok\n[-]poststarthook/start-apiextensions-controllers failed: reason withheld\nreadyz check failed\n")
			}}},
			status: checks.Fail,
			msg:    []string{"answers but is not ready yet", "failing etcd, poststarthook/start-apiextensions-controllers"},
			hint:   "kubetutor check etcd",
		},
		{
			name: "not ready: 503 without details",
			setup: setup{api: &fakeAPIServer{readyz: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(w, "shutting down")
			}}},
			status: checks.Fail,
			msg:    []string{"is not ready yet: not ok"},
		},
		{
			name:   "401: no client certificate",
			setup:  setup{noCreds: true},
			status: checks.Fail,
			msg:    []string{"401 Unauthorized"},
			hint:   "--client-ca-file",
		},
		{
			name:   "401: client certificate from another CA",
			setup:  setup{certPEM: strangerClient.CertPEM(), keyPEM: pkcs8PEM(t, strangerClient.Key)},
			status: checks.Fail,
			msg:    []string{"401 Unauthorized"},
		},
		{
			name: "403 Forbidden",
			setup: setup{api: &fakeAPIServer{readyz: func(w http.ResponseWriter, _ *http.Request) {
				writeStatus(w, http.StatusForbidden, "Forbidden", `forbidden: User "admin" cannot get path "/readyz"`)
			}}},
			status: checks.Fail,
			msg:    []string{"403 Forbidden"},
			hint:   "system:masters",
		},
		{
			name: "403 Forbidden names the reason, not the raw Status JSON",
			setup: setup{api: &fakeAPIServer{readyz: func(w http.ResponseWriter, _ *http.Request) {
				writeStatus(w, http.StatusForbidden, "Forbidden", `forbidden: User "admin" cannot get path "/readyz"`)
			}}},
			status: checks.Fail,
			msg:    []string{"403 Forbidden", `User "admin" cannot get path "/readyz"`},
			notMsg: `"kind":"Status"`,
		},
		{
			name:   "kubeconfig trusts another CA",
			setup:  setup{caPEM: otherCA.CertPEM()},
			status: checks.Fail,
			msg:    []string{"unknown authority", `signed by "kubernetes-ca"`},
			hint:   "--certificate-authority=certs/ca.crt --embed-certs=true",
		},
		{
			name:   "server certificate without 127.0.0.1",
			setup:  setup{serverCert: issue(t, certSpec{CN: "kube-apiserver", DNS: []string{"kubernetes", "localhost"}, IPs: []string{"10.0.0.1"}}, ca)},
			status: checks.Fail,
			msg:    []string{`not valid for "127.0.0.1"`},
			hint:   "IP:127.0.0.1",
		},
		{
			name: "server certificate expired",
			setup: setup{serverCert: issue(t, certSpec{CN: "kube-apiserver", DNS: goodServerDNS, IPs: goodServerIPs,
				NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)}, ca)},
			status: checks.Fail,
			msg:    []string{"has expired or is not yet valid"},
			hint:   "issue certs/server.crt again",
		},
		{
			name: "server certificate not yet valid",
			setup: setup{serverCert: issue(t, certSpec{CN: "kube-apiserver", DNS: goodServerDNS, IPs: goodServerIPs,
				NotBefore: now.Add(24 * time.Hour), NotAfter: now.Add(48 * time.Hour)}, ca)},
			status: checks.Fail,
			msg:    []string{"has expired or is not yet valid"},
		},
		{
			name:   "connection refused",
			setup:  setup{server: "https://" + closedPort(t), lessons: "https://" + closedPort(t)},
			status: checks.Fail,
			msg:    []string{"connection refused", "kube-apiserver is not running"},
			hint:   "start kube-apiserver",
		},
		{
			// The kubeconfig drill: kube-apiserver runs where the lessons
			// put it, the kubeconfig names another port.
			name:   "kubeconfig names the wrong port",
			setup:  setup{server: "https://" + closedPort(t), lessons: "https://" + listening(t)},
			status: checks.Fail,
			msg:    []string{"connection refused", "the kubeconfig points at the wrong address"},
			hint:   "kubectl config set-cluster local-apiserver --server=https://127.0.0.1:",
		},
		{
			name: "timeout",
			setup: setup{timeout: 300 * time.Millisecond, api: &fakeAPIServer{readyz: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
				fmt.Fprint(w, "ok")
			}}},
			status: checks.Fail,
			msg:    []string{"did not answer within 300ms"},
			hint:   "--timeout",
		},
		{
			name:   "no kubeconfig",
			setup:  setup{noKube: true},
			status: checks.Fail,
			msg:    []string{"No kubeconfig at"},
			hint:   "KUBECONFIG",
		},
		{
			name:   "malformed kubeconfig",
			setup:  setup{kubeRaw: []byte("apiVersion: v1\nclusters:\n- cluster: {server: [\n")},
			status: checks.Fail,
			msg:    []string{"cannot parse it"},
			hint:   "fix or recreate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.bug != "" {
				skipBug(t, tt.bug)
			}
			s := tt.setup
			if s.serverCert == nil {
				s.serverCert = good
			}
			if s.api == nil {
				s.api = &fakeAPIServer{}
			}
			s.api.clientCA = ca.Cert
			var srv *httptest.Server
			if s.plain {
				srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
				t.Cleanup(srv.Close)
				if !s.httpURL {
					srv.URL = strings.Replace(srv.URL, "http://", "https://", 1)
				}
			} else {
				srv = startTLSServer(t, s.serverCert, s.api)
			}
			if s.server == "" {
				s.server = srv.URL
			}
			if s.caPEM == nil {
				s.caPEM = ca.CertPEM()
			}
			if s.certPEM == nil {
				s.certPEM, s.keyPEM = good.CertPEM(), goodKeyPEM
			}
			if s.noCreds {
				s.certPEM, s.keyPEM = nil, nil
			}
			if s.timeout == 0 {
				s.timeout = time.Second
			}

			dir := t.TempDir()
			kubeconfig := filepath.Join(dir, "admin.conf")
			switch {
			case s.noKube:
			case s.kubeRaw != nil:
				writeFile(t, kubeconfig, s.kubeRaw, 0o600)
			default:
				writeKubeconfig(t, kubeconfigFor(s.server, s.caPEM, s.certPEM, s.keyPEM), kubeconfig)
			}
			env := checks.NewEnv(dir)
			env.Kubeconfig = kubeconfig
			env.Timeout = s.timeout
			if s.lessons != "" {
				env.APIServerURL = s.lessons
			}

			start := time.Now()
			res := runCheck(t, env, checks.APIServerReady{})
			elapsed := time.Since(start)
			t.Logf("%s in %s: %s (hint: %s)", res.Status, elapsed.Round(time.Millisecond), res.Message, res.Hint)

			if res.Name != "apiserver-ready" {
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
			if tt.notMsg != "" && strings.Contains(res.Message, tt.notMsg) {
				t.Errorf("message %q contains %q", res.Message, tt.notMsg)
			}
			if tt.status == checks.Fail && res.Hint == "" {
				t.Errorf("fails without a hint: %s", res.Message)
			}
			if tt.hint != "" && !strings.Contains(res.Hint, tt.hint) {
				t.Errorf("hint %q does not contain %q", res.Hint, tt.hint)
			}
			if tt.detail != "" && !strings.Contains(strings.Join(res.Details, "\n"), tt.detail) {
				t.Errorf("details %q do not contain %q", res.Details, tt.detail)
			}
			if limit := s.timeout + 700*time.Millisecond; elapsed > limit {
				t.Errorf("took %s, want under %s", elapsed, limit)
			}
		})
	}
}

// The Env rereads a kubeconfig that changed on disk: a learner who fixes it
// while the tutor runs sees the fix.
func TestAPIServerReadyRereadsKubeconfig(t *testing.T) {
	ca := newCA(t, "kubernetes-ca")
	good := issue(t, serverSpec(nil), ca)
	srv := startTLSServer(t, good, &fakeAPIServer{clientCA: ca.Cert})
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "admin.conf")
	env := checks.NewEnv(dir)
	env.Kubeconfig = kubeconfig
	env.Timeout = time.Second

	if res := runCheck(t, env, checks.APIServerReady{}); res.Status != checks.Fail || !strings.Contains(res.Message, "No kubeconfig") {
		t.Fatalf("before: %s %s", res.Status, res.Message)
	}
	writeKubeconfig(t, kubeconfigFor(srv.URL, newCA(t, "wrong").CertPEM(), good.CertPEM(), pkcs8PEM(t, good.Key)), kubeconfig)
	if res := runCheck(t, env, checks.APIServerReady{}); res.Status != checks.Fail || !strings.Contains(res.Message, "unknown authority") {
		t.Fatalf("wrong CA: %s %s", res.Status, res.Message)
	}
	// Bump the modification time too: the Env keys its cache on size and mtime.
	writeKubeconfig(t, kubeconfigFor(srv.URL, ca.CertPEM(), good.CertPEM(), pkcs8PEM(t, good.Key)), kubeconfig)
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(kubeconfig, future, future); err != nil {
		t.Fatal(err)
	}
	if res := runCheck(t, env, checks.APIServerReady{}); res.Status != checks.Pass {
		t.Fatalf("fixed: %s %s", res.Status, res.Message)
	}
}
