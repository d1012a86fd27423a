package checks_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubetutor/kubetutor/checks"
)

func TestFlagValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		flag string
		want string
		ok   bool
	}{
		{"equals", []string{"kube-apiserver", "--kubelet-client-certificate=certs/server.crt"}, "kubelet-client-certificate", "certs/server.crt", true},
		{"space", []string{"kube-apiserver", "--kubelet-client-certificate", "certs/server.crt", "--x=1"}, "kubelet-client-certificate", "certs/server.crt", true},
		{"single dash", []string{"kube-apiserver", "-kubelet-client-certificate=a.crt"}, "kubelet-client-certificate", "a.crt", true},
		{"last wins", []string{"p", "--f=a", "--f=b"}, "f", "b", true},
		{"absent", []string{"kube-apiserver", "--tls-cert-file=certs/server.crt"}, "kubelet-client-certificate", "", false},
		{"prefix is not the flag", []string{"p", "--kubelet-client-certificate-x=a"}, "kubelet-client-certificate", "", false},
		{"no value at the end", []string{"p", "--f"}, "f", "", true},
		{"next is a flag", []string{"p", "--f", "--g=1"}, "f", "", true},
		{"after --", []string{"p", "--", "--f=a"}, "f", "", false},
		{"program name not read", []string{"--f=a"}, "f", "", false},
		{"positional", []string{"p", "f=a"}, "f", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := checks.FlagValue(tc.args, tc.flag)
			if got != tc.want || ok != tc.ok {
				t.Errorf("FlagValue(%q, %q) = %q, %v; want %q, %v", tc.args, tc.flag, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzFlagValue(f *testing.F) {
	f.Add("kube-apiserver\x00--kubelet-client-certificate=certs/server.crt\x00--kubelet-client-key\x00k", "kubelet-client-key")
	f.Add("p\x00--\x00-=\x00---x", "")
	f.Fuzz(func(t *testing.T, cmdline, name string) {
		args := strings.Split(cmdline, "\x00")
		v, ok := checks.FlagValue(args, name)
		if !ok && v != "" {
			t.Fatalf("value %q without the flag", v)
		}
		if ok && !strings.Contains(cmdline, name) {
			t.Fatalf("flag %q found in %q", name, cmdline)
		}
	})
}

// fakeKubelet is the kubelet's API as far as authentication goes: 401
// without a client certificate signed by ca, 403 for forbidden CNs.
func fakeKubelet(t *testing.T, ca *keyPair, forbidden string, anonymousOK bool) string {
	t.Helper()
	server := issue(t, certSpec{CN: "vm@1700000000", DNS: []string{"vm"}}, nil)
	srv := startTLSServer(t, server, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/pods" {
			http.NotFound(w, r)
			return
		}
		if len(r.TLS.PeerCertificates) == 0 {
			if anonymousOK {
				w.Write([]byte(`{"kind":"PodList"}`))
				return
			}
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		pool := x509.NewCertPool()
		pool.AddCert(ca.Cert)
		leaf := r.TLS.PeerCertificates[0]
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		if leaf.Subject.CommonName == forbidden {
			http.Error(w, "Forbidden (user="+forbidden+", verb=get, resource=nodes, subresource(s)=[proxy])", http.StatusForbidden)
			return
		}
		w.Write([]byte(`{"kind":"PodList"}`))
	}))
	return srv.URL
}

// fakeAPIServerProcess makes a kube-apiserver process in a fake /proc with
// the given arguments, started in workDir.
func fakeAPIServerProcess(t *testing.T, root, workDir string, args ...string) {
	t.Helper()
	dir := filepath.Join(root, "proc", "4242")
	writeFile(t, filepath.Join(dir, "stat"), []byte("4242 (kube-apiserver) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n"), 0o644)
	writeFile(t, filepath.Join(dir, "cmdline"), []byte(strings.Join(append([]string{"kube-apiserver"}, args...), "\x00")+"\x00"), 0o644)
	if err := os.Symlink(workDir, filepath.Join(dir, "cwd")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "proc", "uptime"), []byte("1000.00 1500.00\n"), 0o644)
}

func TestKubeletAuthentication(t *testing.T) {
	ca := newCA(t, "kubernetes-ca")
	admin := issue(t, certSpec{CN: "admin", Orgs: []string{"system:masters"}}, ca)
	apiClient := issue(t, certSpec{CN: "kube-apiserver-kubelet-client"}, ca)
	stranger := issue(t, certSpec{CN: "admin"}, newCA(t, "another-ca"))
	for _, tc := range []struct {
		name        string
		args        []string
		cert        *keyPair
		anonymousOK bool
		noProcess   bool
		kubeletYAML string // the work dir's kubelet.yaml, when there is one
		wantAnon    checks.Status
		wantAPI     checks.Status
		wantInAPI   string
	}{
		{name: "no flag: 401 to come", args: []string{"--tls-cert-file=certs/server.crt"}, wantAnon: checks.Pass, wantAPI: checks.Fail, wantInAPI: "runs without --kubelet-client-certificate"},
		{name: "accepted", args: []string{"--kubelet-client-certificate=certs/kc.crt", "--kubelet-client-key", "certs/kc.key"}, cert: admin, wantAnon: checks.Pass, wantAPI: checks.Pass, wantInAPI: "CN=admin"},
		{name: "another CA", args: []string{"--kubelet-client-certificate=certs/kc.crt", "--kubelet-client-key=certs/kc.key"}, cert: stranger, wantAnon: checks.Pass, wantAPI: checks.Fail, wantInAPI: "not signed by the kubelet's authentication.x509.clientCAFile"},
		{name: "the course's kubelet.yaml, another CA", args: []string{"--kubelet-client-certificate=certs/kc.crt", "--kubelet-client-key=certs/kc.key"}, cert: stranger,
			kubeletYAML: "kind: KubeletConfiguration\nauthentication:\n  x509:\n    clientCAFile: certs/ca.crt\n", wantAnon: checks.Pass, wantAPI: checks.Fail, wantInAPI: "not signed by the kubelet's authentication.x509.clientCAFile"},
		{name: "the talk's kubelet.yaml: no clientCAFile", args: []string{"--kubelet-client-certificate=certs/kc.crt", "--kubelet-client-key=certs/kc.key"}, cert: stranger,
			kubeletYAML: "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nfailCgroupV1: false\n", wantAnon: checks.Pass, wantAPI: checks.Fail, wantInAPI: "sets no authentication.x509.clientCAFile, so it accepts no client certificate at all"},
		{name: "forbidden", args: []string{"--kubelet-client-certificate=certs/kc.crt", "--kubelet-client-key=certs/kc.key"}, cert: apiClient, wantAnon: checks.Pass, wantAPI: checks.Fail, wantInAPI: "forbids it"},
		{name: "missing file", args: []string{"--kubelet-client-certificate=certs/nope.crt", "--kubelet-client-key=certs/kc.key"}, wantAnon: checks.Pass, wantAPI: checks.Fail, wantInAPI: "cannot be loaded"},
		{name: "anonymous allowed", args: []string{}, anonymousOK: true, wantAnon: checks.Fail, wantAPI: checks.Fail},
		{name: "api server elsewhere", noProcess: true, wantAnon: checks.Pass, wantAPI: checks.Warn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := checks.NewEnv(t.TempDir())
			env.HostRoot = t.TempDir()
			env.KubeletURL = fakeKubelet(t, ca, "kube-apiserver-kubelet-client", tc.anonymousOK)
			work := "/home/learner/k8s"
			if !tc.noProcess {
				fakeAPIServerProcess(t, env.HostRoot, work, tc.args...)
			}
			if tc.cert != nil {
				writeFile(t, filepath.Join(env.HostRoot, work, "certs", "kc.crt"), tc.cert.CertPEM(), 0o644)
				writeFile(t, filepath.Join(env.HostRoot, work, "certs", "kc.key"), pkcs8PEM(t, tc.cert.Key), 0o600)
			}
			if tc.kubeletYAML != "" {
				writeFile(t, filepath.Join(env.WorkDir, "kubelet.yaml"), []byte(tc.kubeletYAML), 0o644)
			}
			anon := checks.Run(context.Background(), env, checks.KubeletRefusesAnonymous{})
			if anon.Status != tc.wantAnon {
				t.Errorf("kubelet-refuses-anonymous = %s (%s), want %s", anon.Status, anon.Message, tc.wantAnon)
			}
			api := checks.Run(context.Background(), env, checks.KubeletAcceptsAPIServer{})
			if api.Status != tc.wantAPI || !strings.Contains(api.Message, tc.wantInAPI) {
				t.Errorf("kubelet-accepts-apiserver = %s (%s), want %s with %q", api.Status, api.Message, tc.wantAPI, tc.wantInAPI)
			}
			if api.Status == checks.Fail && api.Hint == "" {
				t.Errorf("a failure without a hint: %s", api.Message)
			}
		})
	}
}

func TestKubeletRefused(t *testing.T) {
	env := checks.NewEnv(t.TempDir())
	env.KubeletURL = "https://" + closedPort(t)
	r := checks.Run(context.Background(), env, checks.KubeletRefusesAnonymous{})
	if r.Status != checks.Fail || !strings.Contains(r.Message, "Nothing answers") || r.Hint != "kubetutor check kubelet" {
		t.Errorf("got %s: %s (hint %q)", r.Status, r.Message, r.Hint)
	}
}
