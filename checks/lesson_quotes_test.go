package checks_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/content"
)

// lessonText is a lesson's Markdown with every run of white space made one
// space, so that a quote wrapped over two lines is found.
func lessonText(t *testing.T, id string) string {
	t.Helper()
	_, md, err := content.Read(content.Lessons, "lessons", id)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(md), " ")
}

// TestLessonsQuoteTheChecks: a lesson sentence that quotes what a kubetutor
// check prints quotes it exactly. Each case runs the check in the state the
// lesson describes and looks for the check's own words in the lesson.
func TestLessonsQuoteTheChecks(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		lesson string
		// run returns what the check prints; quote is the part of it the
		// lesson quotes (all of it when empty).
		run   func(t *testing.T) string
		quote func(msg string) string
	}{
		{
			lesson: "containerd",
			run: func(t *testing.T) string {
				env := checks.NewEnv(t.TempDir())
				env.ContainerdAddress = checks.DefaultContainerdAddress
				env.SetRuntime(&fakeRuntime{version: "1.6.20~ds1"}) // Debian 12's containerd
				return checks.Run(ctx, env, checks.ContainerdRunning{}).Message
			},
		},
		{
			lesson: "containerd",
			run: func(t *testing.T) string {
				env := checks.NewEnv(t.TempDir())
				env.SetRuntime(&fakeRuntime{found: true})
				return checks.Run(ctx, env, checks.CRIPluginLoaded{}).Message
			},
		},
		{
			// The troubleshooting entry for a server certificate signed
			// without -copy_extensions: no SANs at all.
			lesson: "troubleshooting",
			run: func(t *testing.T) string {
				env := checks.NewEnv(t.TempDir())
				writeCertWithoutSANs(t, env.CertPath(checks.ServerCertFile))
				return checks.Run(ctx, env, checks.ServerCertSANs{}).Message
			},
		},
		{
			// The troubleshooting entry for a standalone kubelet.
			lesson: "troubleshooting",
			run: func(t *testing.T) string {
				env := checks.NewEnv(t.TempDir())
				env.SetKube(fake.NewClientset())
				return checks.Run(ctx, env, checks.NodeRegistered{}).Message
			},
		},
		{
			// The troubleshooting entry for CoreDNS's loop on a
			// systemd-resolved host.
			lesson: "troubleshooting",
			run: func(t *testing.T) string {
				env := checks.NewEnv(t.TempDir())
				env.HostRoot = fakeHost(t, map[string]string{"etc/resolv.conf": "nameserver 127.0.0.53\n"})
				return checks.Run(ctx, env, checks.HostResolvConf{}).Message
			},
			quote: func(msg string) string { return msg[:max(0, strings.Index(msg, " ("))] },
		},
		{
			// The troubleshooting entry for a CoreDNS that is not ready.
			lesson: "troubleshooting",
			run: func(t *testing.T) string {
				return checks.CoreDNSReadyVerdictForTest("coredns-abc", "http://POD-IP:8181/ready", 503, "kubernetes", nil).Message
			},
			quote: func(msg string) string {
				i := strings.Index(msg, "GET ")
				j := strings.Index(msg, " Its kubernetes")
				if i < 0 || j < i {
					return ""
				}
				return strings.TrimSuffix(msg[i:j], ".")
			},
		},
	}
	// The kube-proxy lesson and the troubleshooting entry quote the x509
	// line a client of the kubernetes Service prints for the talk's
	// certificate (its csr.conf: IP.1 = IP.2 = 127.0.0.1).
	for _, lesson := range []string{"kube-proxy", "troubleshooting"} {
		cases = append(cases, struct {
			lesson string
			run    func(t *testing.T) string
			quote  func(msg string) string
		}{
			lesson: lesson,
			run: func(t *testing.T) string {
				ca := newCA(t, "test")
				talk := issue(t, certSpec{CN: "127.0.0.1", DNS: goodServerDNS, IPs: []string{"127.0.0.1", "127.0.0.1"}}, ca)
				return checks.KubernetesTLSVerdictForTest("10.0.0.1:443", []*x509.Certificate{talk.Cert}, ca.Cert, time.Now()).Message
			},
			quote: func(msg string) string {
				i := strings.Index(msg, "x509: ")
				j := strings.Index(msg, ". Pods reach")
				if i < 0 || j < i {
					return ""
				}
				return msg[i:j]
			},
		})
	}
	for _, tc := range cases {
		msg := tc.run(t)
		quote := msg
		if tc.quote != nil {
			quote = tc.quote(msg)
		}
		if quote == "" || !strings.Contains(lessonText(t, tc.lesson), strings.Join(strings.Fields(quote), " ")) {
			t.Errorf("the %s lesson does not quote what the check prints:\n%s", tc.lesson, quote)
		}
	}
}

// writeCertWithoutSANs writes a certificate as openssl x509 -req makes it
// without -copy_extensions: a subject, and no subjectAltName.
func writeCertWithoutSANs(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}
