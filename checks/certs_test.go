package checks_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/internal/certutil"
)

// ---------------------------------------------------------------------------
// PKI helpers shared by the tests of this package (certs, apiserver).

// keyPair is a certificate and its private key.
type keyPair struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// CertPEM is the certificate as a PEM block.
func (k *keyPair) CertPEM() []byte { return certPEM(k.Cert) }

// certSpec describes a certificate to issue.
type certSpec struct {
	CN        string
	DNS       []string
	IPs       []string
	NotBefore time.Time
	NotAfter  time.Time
	IsCA      bool
	// Key is the subject's key; nil means a fresh P-256 key.
	Key crypto.Signer
	// EKU replaces the default serverAuth+clientAuth; NoEKU leaves none
	// (what the lesson's openssl commands make).
	EKU   []x509.ExtKeyUsage
	NoEKU bool
	// Orgs are the subject's organizations (Kubernetes groups).
	Orgs []string
}

// goodServerSANs is the talk's list of SANs, split into names and addresses.
var (
	goodServerDNS = []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster", "kubernetes.default.svc.cluster.local"}
	goodServerIPs = []string{"127.0.0.1", "10.0.0.1"}
)

var serialCounter = struct {
	sync.Mutex
	n int64
}{n: 1000}

func nextSerial() *big.Int {
	serialCounter.Lock()
	defer serialCounter.Unlock()
	serialCounter.n++
	return big.NewInt(serialCounter.n)
}

func newECKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// RSA keys are slow to generate; the tests share two.
var (
	rsaKeyA = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
	rsaKeyB = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
)

func mustRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// issue makes a certificate from spec, signed by parent or self-signed when
// parent is nil.
func issue(t testing.TB, spec certSpec, parent *keyPair) *keyPair {
	t.Helper()
	key := spec.Key
	if key == nil {
		key = newECKey(t)
	}
	now := time.Now()
	if spec.NotBefore.IsZero() {
		spec.NotBefore = now.Add(-time.Hour)
	}
	if spec.NotAfter.IsZero() {
		spec.NotAfter = now.Add(365 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: spec.CN},
		NotBefore:    spec.NotBefore,
		NotAfter:     spec.NotAfter,
		DNSNames:     spec.DNS,
	}
	for _, ip := range spec.IPs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	if spec.IsCA {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		if spec.EKU != nil {
			tmpl.ExtKeyUsage = spec.EKU
		}
		if spec.NoEKU {
			tmpl.ExtKeyUsage = nil
		}
	}
	tmpl.Subject.Organization = spec.Orgs
	signerCert, signerKey := tmpl, key
	if parent != nil {
		signerCert, signerKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &keyPair{Cert: c, Key: key}
}

func newCA(t testing.TB, cn string) *keyPair {
	t.Helper()
	return issue(t, certSpec{CN: cn, IsCA: true}, nil)
}

func serverSpec(key crypto.Signer) certSpec {
	return certSpec{CN: "admin", DNS: slices.Clone(goodServerDNS), IPs: slices.Clone(goodServerIPs), Key: key}
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// pkcs8PEM is what openssl genrsa/genpkey write today.
func pkcs8PEM(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func pkcs1PEM(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func sec1PEM(t testing.TB, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

func pkixPubPEM(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// kubeconfigFor is the kubeconfig of the certs lesson: cluster
// local-apiserver with the CA embedded, user admin with a client
// certificate, context default.
func kubeconfigFor(server string, caPEM, clientCertPEM, clientKeyPEM []byte) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cluster := clientcmdapi.NewCluster()
	cluster.Server = server
	cluster.CertificateAuthorityData = caPEM
	cfg.Clusters["local-apiserver"] = cluster
	user := clientcmdapi.NewAuthInfo()
	user.ClientCertificateData = clientCertPEM
	user.ClientKeyData = clientKeyPEM
	cfg.AuthInfos["admin"] = user
	kctx := clientcmdapi.NewContext()
	kctx.Cluster, kctx.AuthInfo = "local-apiserver", "admin"
	cfg.Contexts["default"] = kctx
	cfg.CurrentContext = "default"
	return cfg
}

func writeKubeconfig(t testing.TB, cfg *clientcmdapi.Config, path string) {
	t.Helper()
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	// WriteFile keeps the mode of an existing file; make it exact.
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// skipBug skips a case that documents a known bug in a check, so the suite
// stays green; KUBETUTOR_TEST_BUGS=1 runs it anyway, to see it fail (or to
// see that the bug was fixed).
func skipBug(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("KUBETUTOR_TEST_BUGS") == "" {
		t.Skip("BUG: " + reason)
	}
}

// runCheck runs c through checks.Run with a fresh context.
func runCheck(t testing.TB, env *checks.Env, c checks.Checker) checks.Result {
	t.Helper()
	return checks.Run(context.Background(), env, c)
}

// ---------------------------------------------------------------------------
// The certs lesson.

// pkiFixture is the certs lesson done right; cases break one thing in it.
type pkiFixture struct {
	now    time.Time
	ca     *keyPair
	server *keyPair
	saKey  crypto.Signer
	// files are written to <dir>/certs/<name>; a nil value is not written.
	files map[string][]byte
	// kube is written to <dir>/admin.conf unless kubeRaw or noKubeconfig.
	kube         *clientcmdapi.Config
	kubeRaw      []byte
	noKubeconfig bool
}

func newPKIFixture(t testing.TB, now time.Time) *pkiFixture {
	t.Helper()
	f := &pkiFixture{now: now}
	f.ca = newCA(t, "kubernetes-ca")
	f.server = issue(t, serverSpec(nil), f.ca)
	f.saKey = rsaKeyA()
	f.files = map[string][]byte{
		checks.CAFile:                f.ca.CertPEM(),
		checks.CAKeyFile:             pkcs8PEM(t, f.ca.Key),
		checks.ServerCertFile:        f.server.CertPEM(),
		checks.ServerKeyFile:         pkcs8PEM(t, f.server.Key),
		checks.ServiceAccountKeyFile: pkcs8PEM(t, f.saKey),
		checks.ServiceAccountPubFile: pkixPubPEM(t, f.saKey.Public()),
	}
	f.kube = kubeconfigFor(checks.DefaultAPIServerURL, f.ca.CertPEM(), f.server.CertPEM(), f.files[checks.ServerKeyFile])
	return f
}

// reissueServer replaces server.crt with one from spec (the server key by
// default), signed by parent (the CA by default).
func (f *pkiFixture) reissueServer(t testing.TB, edit func(*certSpec), parent *keyPair) {
	t.Helper()
	spec := serverSpec(f.server.Key)
	if edit != nil {
		edit(&spec)
	}
	if parent == nil {
		parent = f.ca
	}
	f.server = issue(t, spec, parent)
	f.files[checks.ServerCertFile] = f.server.CertPEM()
}

// write lays the fixture out in dir and returns an Env for it.
func (f *pkiFixture) write(t testing.TB, dir string) *checks.Env {
	t.Helper()
	for name, data := range f.files {
		if data != nil {
			writeFile(t, filepath.Join(dir, "certs", name), data, 0o600)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "certs"), 0o755); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "admin.conf")
	switch {
	case f.noKubeconfig:
	case f.kubeRaw != nil:
		writeFile(t, kubeconfig, f.kubeRaw, 0o600)
	default:
		writeKubeconfig(t, f.kube, kubeconfig)
	}
	env := checks.NewEnv(dir)
	env.Kubeconfig = kubeconfig
	now := f.now
	env.Now = func() time.Time { return now }
	return env
}

// certChecks are the checks of the certs step, plus ca.crt's validity.
func certChecks() []checks.Checker {
	return []checks.Checker{
		checks.CertFiles{},
		checks.ServerCertSignedByCA{},
		checks.ServerCertSANs{},
		checks.CertValidity{File: checks.ServerCertFile},
		checks.CertValidity{File: checks.CAFile},
		checks.KeyMatchesCert{Cert: checks.ServerCertFile, Key: checks.ServerKeyFile},
		checks.ServiceAccountKeyPair{},
		checks.KubeconfigMatches{},
	}
}

func TestCertCheckNames(t *testing.T) {
	want := []string{
		"cert-files", "server-cert-signed-by-ca", "server-cert-sans", "server-cert-validity",
		"ca-cert-validity", "server-key-matches", "service-account-keypair", "kubeconfig",
	}
	var got []string
	for _, c := range certChecks() {
		got = append(got, c.Name())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("names = %q, want %q", got, want)
	}
}

func TestCertChecks(t *testing.T) {
	otherCA := newCA(t, "other-ca")
	day := 24 * time.Hour
	now := time.Now().Truncate(time.Second)

	tests := []struct {
		name   string
		mutate func(t *testing.T, f *pkiFixture, dir string)
		// want maps each check expected to fail to a substring of its
		// message; every other check must pass.
		want map[string]string
		// hint, when set, must be in the named check's hint.
		hint map[string]string
		// warn maps each check expected to warn to a substring of its message.
		warn map[string]string
		// bug, when set, skips the case: it documents a known bug.
		bug string
	}{
		{
			name: "good",
		},
		{
			name: "good with PKCS#1 RSA and SEC 1 EC keys and a PKCS#1 public key",
			mutate: func(t *testing.T, f *pkiFixture, _ string) {
				rk := rsaKeyB()
				f.ca = issue(t, certSpec{CN: "kubernetes-ca", IsCA: true, Key: rk}, nil)
				f.files[checks.CAFile] = f.ca.CertPEM()
				f.files[checks.CAKeyFile] = pkcs1PEM(rk)
				f.reissueServer(t, nil, f.ca)
				// openssl ecparam -genkey writes EC PARAMETERS before the key.
				params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}})
				f.files[checks.ServerKeyFile] = append(params, sec1PEM(t, f.server.Key.(*ecdsa.PrivateKey))...)
				f.files[checks.ServiceAccountPubFile] = pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKeyA().PublicKey)})
				f.kube.Clusters["local-apiserver"].CertificateAuthorityData = f.ca.CertPEM()
			},
		},
		{
			name: "good with a trailing slash on the server URL",
			mutate: func(_ *testing.T, f *pkiFixture, _ string) {
				f.kube.Clusters["local-apiserver"].Server = checks.DefaultAPIServerURL + "/"
			},
		},
		{
			name:   "ca.key missing",
			mutate: func(_ *testing.T, f *pkiFixture, _ string) { f.files[checks.CAKeyFile] = nil },
			want:   map[string]string{"cert-files": "ca.key"},
		},
		{
			name:   "server.crt missing",
			mutate: func(_ *testing.T, f *pkiFixture, _ string) { f.files[checks.ServerCertFile] = nil },
			want: map[string]string{
				"cert-files":               "Missing in",
				"server-cert-signed-by-ca": "certs/server.crt does not exist",
				"server-cert-sans":         "certs/server.crt does not exist",
				"server-cert-validity":     "certs/server.crt does not exist",
				"server-key-matches":       "certs/server.crt does not exist",
			},
		},
		{
			name:   "service-account.pem missing",
			mutate: func(_ *testing.T, f *pkiFixture, _ string) { f.files[checks.ServiceAccountPubFile] = nil },
			want: map[string]string{
				"cert-files":              "service-account.pem",
				"service-account-keypair": "certs/service-account.pem does not exist",
			},
		},
		{
			name: "server.key is garbage",
			mutate: func(_ *testing.T, f *pkiFixture, _ string) {
				f.files[checks.ServerKeyFile] = []byte("-----BEGIN NONSENSE-----\nnot base64 at all\n")
			},
			want: map[string]string{
				"cert-files":         "do not parse",
				"server-key-matches": "certs/server.key is unusable",
			},
		},
		{
			name: "ca.crt is garbage",
			mutate: func(_ *testing.T, f *pkiFixture, _ string) {
				f.files[checks.CAFile] = []byte("hello\n")
			},
			want: map[string]string{
				"cert-files":               "do not parse",
				"server-cert-signed-by-ca": "certs/ca.crt is unusable",
				"ca-cert-validity":         "certs/ca.crt is unusable",
			},
		},
		{
			name: "server.crt and server.key swapped",
			mutate: func(_ *testing.T, f *pkiFixture, _ string) {
				f.files[checks.ServerCertFile], f.files[checks.ServerKeyFile] = f.files[checks.ServerKeyFile], f.files[checks.ServerCertFile]
			},
			want: map[string]string{
				"cert-files":               "no PEM certificate",
				"server-cert-signed-by-ca": "certs/server.crt is unusable",
				"server-cert-sans":         "certs/server.crt is unusable",
				"server-cert-validity":     "certs/server.crt is unusable",
				"server-key-matches":       "certs/server.crt is unusable",
			},
		},
		{
			name: "server.crt signed by another CA",
			mutate: func(t *testing.T, f *pkiFixture, _ string) {
				f.reissueServer(t, nil, otherCA)
			},
			want: map[string]string{"server-cert-signed-by-ca": "is not signed by ca.crt"},
			hint: map[string]string{"server-cert-signed-by-ca": "-CA certs/ca.crt"},
		},
		{
			name: "SAN kubernetes.default.svc missing",
			mutate: func(t *testing.T, f *pkiFixture, _ string) {
				f.reissueServer(t, func(s *certSpec) {
					s.DNS = slices.DeleteFunc(s.DNS, func(n string) bool { return n == "kubernetes.default.svc" })
				}, nil)
			},
			want: map[string]string{"server-cert-sans": "does not cover kubernetes.default.svc:"},
			hint: map[string]string{"server-cert-sans": "DNS:kubernetes.default.svc"},
		},
		{
			name: "SAN 10.0.0.1 missing",
			mutate: func(t *testing.T, f *pkiFixture, _ string) {
				f.reissueServer(t, func(s *certSpec) { s.IPs = []string{"127.0.0.1"} }, nil)
			},
			warn: map[string]string{"server-cert-sans": "but not 10.0.0.1. Nothing needs it yet: 10.0.0.1 is the ClusterIP of the kubernetes Service"},
			hint: map[string]string{"server-cert-sans": "IP:10.0.0.1"},
		},
		{
			name: "SAN 127.0.0.1 given as DNS name, not IP",
			mutate: func(t *testing.T, f *pkiFixture, _ string) {
				f.reissueServer(t, func(s *certSpec) {
					s.IPs = []string{"10.0.0.1"}
					s.DNS = append(s.DNS, "127.0.0.1")
				}, nil)
			},
			want: map[string]string{"server-cert-sans": "does not cover 127.0.0.1:"},
			hint: map[string]string{"server-cert-sans": "IP:127.0.0.1"},
		},
		{
			name: "no SANs at all (openssl x509 without -copy_extensions)",
			mutate: func(t *testing.T, f *pkiFixture, _ string) {
				f.reissueServer(t, func(s *certSpec) { s.IPs, s.DNS = nil, nil }, nil)
			},
			// Go's crypto/x509 HostnameError, as kubectl prints it.
			want: map[string]string{"server-cert-sans": `will get "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs".`},
		},
		{
			name: "several SANs missing",
			mutate: func(t *testing.T, f *pkiFixture, _ string) {
				f.reissueServer(t, func(s *certSpec) { s.DNS = []string{"kubernetes"} }, nil)
			},
			want: map[string]string{"server-cert-sans": "does not cover kubernetes.default, kubernetes.default.svc, kubernetes.default.svc.cluster, kubernetes.default.svc.cluster.local:"},
		},
		{
			name: "server.crt expired",
			mutate: func(t *testing.T, f *pkiFixture, _ string) {
				f.reissueServer(t, func(s *certSpec) {
					s.NotBefore, s.NotAfter = f.now.Add(-400*day), f.now.Add(-35*day)
				}, nil)
			},
			// The signature is still good: only validity fails.
			want: map[string]string{"server-cert-validity": "server.crt expired on " + now.Add(-35*day).UTC().Format("2006-01-02")},
			hint: map[string]string{"server-cert-validity": "issue server.crt again"},
		},
		{
			name: "server.crt not yet valid",
			mutate: func(t *testing.T, f *pkiFixture, _ string) {
				f.reissueServer(t, func(s *certSpec) {
					s.NotBefore, s.NotAfter = f.now.Add(2*day), f.now.Add(400*day)
				}, nil)
			},
			want: map[string]string{"server-cert-validity": "server.crt is not valid yet"},
			hint: map[string]string{"server-cert-validity": "clock"},
		},
		{
			name:   "clock two years ahead",
			mutate: func(_ *testing.T, f *pkiFixture, _ string) { f.now = f.now.Add(2 * 365 * day) },
			want: map[string]string{
				"server-cert-validity": "server.crt expired on",
				"ca-cert-validity":     "ca.crt expired on",
			},
		},
		{
			name: "server.key does not match server.crt",
			mutate: func(t *testing.T, f *pkiFixture, _ string) {
				f.files[checks.ServerKeyFile] = pkcs8PEM(t, newECKey(t))
			},
			want: map[string]string{"server-key-matches": "server.key is not the key of server.crt"},
		},
		{
			name: "server.key is an RSA key, server.crt an EC one",
			mutate: func(t *testing.T, f *pkiFixture, _ string) {
				f.files[checks.ServerKeyFile] = pkcs1PEM(rsaKeyB())
			},
			want: map[string]string{"server-key-matches": "server.key is not the key of server.crt"},
		},
		{
			name: "service-account.pem does not match the key",
			mutate: func(t *testing.T, f *pkiFixture, _ string) {
				f.files[checks.ServiceAccountPubFile] = pkixPubPEM(t, rsaKeyB().Public())
			},
			want: map[string]string{"service-account-keypair": "is not the public half"},
			hint: map[string]string{"service-account-keypair": "-pubout"},
		},
		{
			name: "kubeconfig points at another server",
			mutate: func(_ *testing.T, f *pkiFixture, _ string) {
				f.kube.Clusters["local-apiserver"].Server = "https://192.168.1.10:6443"
			},
			want: map[string]string{"kubeconfig": "points at https://192.168.1.10:6443, not at the API server of the lessons (https://127.0.0.1:6443)"},
			hint: map[string]string{"kubeconfig": "--server=https://127.0.0.1:6443"},
		},
		{
			name: "kubeconfig embeds another CA",
			mutate: func(_ *testing.T, f *pkiFixture, _ string) {
				f.kube.Clusters["local-apiserver"].CertificateAuthorityData = otherCA.CertPEM()
			},
			want: map[string]string{"kubeconfig": `the CA embedded in`},
			hint: map[string]string{"kubeconfig": "--embed-certs=true"},
		},
		{
			name: "kubeconfig refers to the CA by file",
			mutate: func(_ *testing.T, f *pkiFixture, dir string) {
				c := f.kube.Clusters["local-apiserver"]
				c.CertificateAuthorityData = nil
				c.CertificateAuthority = filepath.Join(dir, "certs", checks.CAFile)
			},
			want: map[string]string{"kubeconfig": "refers to the CA file"},
			hint: map[string]string{"kubeconfig": "--embed-certs=true"},
		},
		{
			name: "kubeconfig has no CA at all",
			mutate: func(_ *testing.T, f *pkiFixture, _ string) {
				f.kube.Clusters["local-apiserver"].CertificateAuthorityData = nil
			},
			want: map[string]string{"kubeconfig": "has no CA for cluster"},
		},
		{
			name: "kubeconfig embeds garbage as CA",
			mutate: func(_ *testing.T, f *pkiFixture, _ string) {
				f.kube.Clusters["local-apiserver"].CertificateAuthorityData = []byte("not a certificate")
			},
			want: map[string]string{"kubeconfig": "does not parse"},
		},
		{
			name:   "kubeconfig without current context",
			mutate: func(_ *testing.T, f *pkiFixture, _ string) { f.kube.CurrentContext = "" },
			want:   map[string]string{"kubeconfig": "has no current context"},
			hint:   map[string]string{"kubeconfig": "use-context default"},
		},
		{
			name:   "kubeconfig current context does not exist",
			mutate: func(_ *testing.T, f *pkiFixture, _ string) { f.kube.CurrentContext = "prod" },
			want:   map[string]string{"kubeconfig": `has no current context (current-context "prod")`},
			hint:   map[string]string{"kubeconfig": "use-context default"},
		},
		{
			name: "kubeconfig context names an undefined cluster",
			mutate: func(_ *testing.T, f *pkiFixture, _ string) {
				f.kube.Contexts["default"].Cluster = "kubernetes"
			},
			want: map[string]string{"kubeconfig": `names cluster "kubernetes", which`},
			hint: map[string]string{"kubeconfig": "set-cluster local-apiserver"},
		},
		{
			name: "kubeconfig user has no credentials",
			mutate: func(_ *testing.T, f *pkiFixture, _ string) {
				f.kube.AuthInfos["admin"] = clientcmdapi.NewAuthInfo()
			},
			want: map[string]string{"kubeconfig": `has no credentials (user "admin")`},
		},
		{
			name:   "kubeconfig missing",
			mutate: func(_ *testing.T, f *pkiFixture, _ string) { f.noKubeconfig = true },
			want:   map[string]string{"kubeconfig": "No kubeconfig at"},
			hint:   map[string]string{"kubeconfig": "KUBECONFIG"},
		},
		{
			name: "kubeconfig is garbage YAML",
			mutate: func(_ *testing.T, f *pkiFixture, _ string) {
				f.kubeRaw = []byte("apiVersion: v1\nclusters: [ {name: local-apiserver\n\tserver: ::\n")
			},
			want: map[string]string{"kubeconfig": "cannot parse it"},
			hint: map[string]string{"kubeconfig": "fix or recreate"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.bug != "" {
				skipBug(t, tt.bug)
			}
			dir := t.TempDir()
			f := newPKIFixture(t, now)
			if tt.mutate != nil {
				tt.mutate(t, f, dir)
			}
			env := f.write(t, dir)
			seen := map[string]bool{}
			for _, c := range certChecks() {
				res := runCheck(t, env, c)
				if res.Name != c.Name() {
					t.Errorf("%s: result name %q", c.Name(), res.Name)
				}
				if w, ok := tt.warn[c.Name()]; ok {
					if res.Status != checks.Warn || !strings.Contains(res.Message, w) || res.Hint == "" {
						t.Errorf("%s: %s %q (hint %q), want a warning saying %q", c.Name(), res.Status, res.Message, res.Hint, w)
					}
					if h := tt.hint[c.Name()]; h != "" && !strings.Contains(res.Hint, h) {
						t.Errorf("%s: hint %q does not contain %q", c.Name(), res.Hint, h)
					}
					continue
				}
				want, shouldFail := tt.want[c.Name()]
				if !shouldFail {
					if res.Status != checks.Pass {
						t.Errorf("%s: %s, want pass: %s (hint %q)", c.Name(), res.Status, res.Message, res.Hint)
					}
					if res.Message == "" {
						t.Errorf("%s: passes with an empty message", c.Name())
					}
					continue
				}
				seen[c.Name()] = true
				if res.Status != checks.Fail {
					t.Errorf("%s: %s, want fail: %s", c.Name(), res.Status, res.Message)
					continue
				}
				if !strings.Contains(res.Message, want) {
					t.Errorf("%s: message %q does not contain %q", c.Name(), res.Message, want)
				}
				if res.Hint == "" {
					t.Errorf("%s: fails without a hint: %s", c.Name(), res.Message)
				}
				if h := tt.hint[c.Name()]; h != "" && !strings.Contains(res.Hint, h) {
					t.Errorf("%s: hint %q does not contain %q", c.Name(), res.Hint, h)
				}
			}
			for name := range tt.want {
				if !seen[name] {
					t.Errorf("case expects check %q, which is not run", name)
				}
			}
		})
	}
}

func TestCertValidityReportsWindow(t *testing.T) {
	dir := t.TempDir()
	f := newPKIFixture(t, time.Now())
	env := f.write(t, dir)
	res := runCheck(t, env, checks.CertValidity{File: checks.ServerCertFile})
	if !res.Passed() {
		t.Fatalf("want pass, got %s: %s", res.Status, res.Message)
	}
	wantTo := f.server.Cert.NotAfter.UTC().Format("2006-01-02 15:04 MST")
	if !strings.Contains(res.Message, "to "+wantTo) {
		t.Errorf("message %q does not name the end of validity %s", res.Message, wantTo)
	}
}

func TestServerCertSANsCustomList(t *testing.T) {
	dir := t.TempDir()
	f := newPKIFixture(t, time.Now())
	env := f.write(t, dir)
	res := runCheck(t, env, checks.ServerCertSANs{Required: []string{"kubernetes", "apiserver.example.com", "192.168.0.1"}})
	if res.Status != checks.Fail {
		t.Fatalf("want fail, got %s: %s", res.Status, res.Message)
	}
	for _, s := range []string{"apiserver.example.com, 192.168.0.1", "those names"} {
		if !strings.Contains(res.Message, s) {
			t.Errorf("message %q does not contain %q", res.Message, s)
		}
	}
	if want := "DNS:apiserver.example.com,IP:192.168.0.1"; !strings.Contains(res.Hint, want) {
		t.Errorf("hint %q does not contain %q", res.Hint, want)
	}
}

func TestMissingSANs(t *testing.T) {
	c := issue(t, certSpec{CN: "x", DNS: []string{"kubernetes", "*.example.com"}, IPs: []string{"127.0.0.1", "::1"}}, nil).Cert
	tests := []struct {
		required []string
		want     []string
	}{
		{[]string{"kubernetes", "127.0.0.1"}, nil},
		{[]string{"a.example.com"}, nil}, // wildcard covers one label
		{[]string{"a.b.example.com"}, []string{"a.b.example.com"}},
		{[]string{"::1", "0:0:0:0:0:0:0:1"}, nil},
		{[]string{"10.0.0.1", "kubernetes.default"}, []string{"10.0.0.1", "kubernetes.default"}},
		{[]string{"KUBERNETES"}, nil}, // DNS names are case-insensitive
	}
	for _, tt := range tests {
		got := certutil.MissingSANs(c, tt.required)
		if !slices.Equal(got, tt.want) {
			t.Errorf("MissingSANs(%q) = %q, want %q", tt.required, got, tt.want)
		}
	}
	if got, want := certutil.SANs(c), []string{"kubernetes", "*.example.com", "127.0.0.1", "::1"}; !slices.Equal(got, want) {
		t.Errorf("CertSANs = %q, want %q", got, want)
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	ec := newECKey(t).(*ecdsa.PrivateKey)
	rk := rsaKeyA()
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecParams := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}})
	cert := issue(t, certSpec{CN: "x"}, nil)

	tests := []struct {
		name    string
		data    []byte
		want    crypto.PublicKey // nil: an error is expected
		wantErr string
	}{
		{"PKCS#1 RSA", pkcs1PEM(rk), rk.Public(), ""},
		{"PKCS#8 RSA", pkcs8PEM(t, rk), rk.Public(), ""},
		{"SEC 1 EC", sec1PEM(t, ec), ec.Public(), ""},
		{"PKCS#8 EC", pkcs8PEM(t, ec), ec.Public(), ""},
		{"PKCS#8 Ed25519", pkcs8PEM(t, edKey), edKey.Public(), ""},
		{"EC PARAMETERS then SEC 1 key", append(slices.Clone(ecParams), sec1PEM(t, ec)...), ec.Public(), ""},
		{"certificate then key", append(cert.CertPEM(), pkcs8PEM(t, ec)...), ec.Public(), ""},
		{"certificate only", cert.CertPEM(), nil, "no PEM private key"},
		{"empty", nil, nil, "no PEM private key"},
		{"garbage", []byte("not a key"), nil, "no PEM private key"},
		{"encrypted PKCS#8", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}}), nil, "no PEM private key"},
		{"corrupt PKCS#1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1, 2, 3}}), nil, ""},
		{"PKCS#1 under PKCS#8 header", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := checks.ParsePrivateKeyPEM(tt.data)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("want an error, got a %T", k)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !checks.PublicKeysEqual(tt.want, k.Public()) {
				t.Errorf("parsed key's public half differs from the original")
			}
		})
	}
}

func TestLoadPublicKey(t *testing.T) {
	rk := rsaKeyA()
	ec := newECKey(t)
	cert := issue(t, certSpec{CN: "x", Key: ec}, nil)
	dir := t.TempDir()
	tests := []struct {
		name string
		data []byte
		want crypto.PublicKey
	}{
		{"PKIX RSA", pkixPubPEM(t, rk.Public()), rk.Public()},
		{"PKCS#1 RSA", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rk.PublicKey)}), rk.Public()},
		{"PKIX EC", pkixPubPEM(t, ec.Public()), ec.Public()},
		{"certificate", cert.CertPEM(), ec.Public()},
		{"private key only", pkcs8PEM(t, ec), nil},
		{"garbage", []byte("nope"), nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "k"+string(rune('a'+i))+".pem")
			writeFile(t, p, tt.data, 0o600)
			got, err := checks.LoadPublicKey(p)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("want an error, got %T", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !checks.PublicKeysEqual(got, tt.want) {
				t.Errorf("loaded key differs")
			}
		})
	}
	if _, err := checks.LoadPublicKey(filepath.Join(dir, "absent.pem")); !os.IsNotExist(err) {
		t.Errorf("missing file: err = %v, want not-exist", err)
	}
}

func TestPublicKeysEqual(t *testing.T) {
	a, b := newECKey(t), newECKey(t)
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		x, y crypto.PublicKey
		want bool
	}{
		{"same EC", a.Public(), a.Public(), true},
		{"different EC", a.Public(), b.Public(), false},
		{"same RSA", rsaKeyA().Public(), rsaKeyA().Public(), true},
		{"different RSA", rsaKeyA().Public(), rsaKeyB().Public(), false},
		{"RSA vs EC", rsaKeyA().Public(), a.Public(), false},
		{"same Ed25519", edPub, edPub, true},
		{"nil", nil, a.Public(), false},
		{"unknown type", "a string", "a string", false},
	}
	for _, tt := range tests {
		if got := checks.PublicKeysEqual(tt.x, tt.y); got != tt.want {
			t.Errorf("%s: PublicKeysEqual = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestVerifyChain(t *testing.T) {
	ca := newCA(t, "ca")
	now := time.Now()
	leaf := issue(t, certSpec{CN: "leaf"}, ca)
	if err := certutil.VerifyChain(leaf.Cert, ca.Cert, now); err != nil {
		t.Errorf("good chain: %v", err)
	}
	var unknown x509.UnknownAuthorityError
	if err := certutil.VerifyChain(leaf.Cert, newCA(t, "other").Cert, now); !errors.As(err, &unknown) {
		t.Errorf("other CA: err = %v, want UnknownAuthorityError", err)
	}
	if err := certutil.VerifyChain(leaf.Cert, ca.Cert, now.Add(3*365*24*time.Hour)); err == nil {
		t.Errorf("far future: want an error")
	}
}
