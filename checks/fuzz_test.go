package checks_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/internal/certutil"
)

// pemSeeds are valid and broken PEM inputs: a certificate, keys in the three
// encodings, truncations, wrong block types.
func pemSeeds(t testing.TB) [][]byte {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 1024)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "seed"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ec.PublicKey, ec)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	p8, _ := x509.MarshalPKCS8PrivateKey(rk)
	pub, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	return [][]byte{
		cert,
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rk.PublicKey)}),
		cert[:len(cert)/2],
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		append(append([]byte("junk before\n"), cert...), "junk after"...),
		{},
		[]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"),
	}
}

func FuzzParseCertificatePEM(f *testing.F) {
	for _, s := range pemSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := checks.ParseCertificatePEM(data)
		if err == nil && c == nil {
			t.Fatal("no certificate and no error")
		}
		if err == nil {
			_ = certutil.SANs(c)
		}
	})
}

func FuzzParsePrivateKeyPEM(f *testing.F) {
	for _, s := range pemSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := checks.ParsePrivateKeyPEM(data)
		if err == nil && k == nil {
			t.Fatal("no key and no error")
		}
		if err == nil {
			_ = k.Public()
		}
	})
}

func FuzzLoadPublicKey(f *testing.F) {
	for _, s := range pemSeeds(f) {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "sa.pub")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, _ = checks.LoadPublicKey(p)
	})
}

// FuzzKubeconfig loads a fuzzed kubeconfig as every check does (client-go's
// loading rules and the tutor's own validation in Env). It goes through
// RawKubeconfig, which parses and builds the client configuration but never
// runs an exec credential plugin the input might name.
func FuzzKubeconfig(f *testing.F) {
	seeds := []string{
		"",
		"apiVersion: v1\nkind: Config\n",
		"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: bm90IGEgY2VydA==\nusers:\n- name: u\n  user:\n    client-certificate: missing.crt\n    client-key: missing.key\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
		"apiVersion: v1\nkind: Config\ncurrent-context: nowhere\ncontexts: []\n",
		"{\"apiVersion\":\"v1\",\"kind\":\"Config\",\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"::bad::\"}}]}",
		"apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /nonexistent/plugin\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\ncurrent-context: x\n",
		"- [\n",
		"\x00\xff\xfe",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "kubeconfig")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		env := checks.NewEnv(dir)
		env.Kubeconfig = p
		_, _ = env.RawKubeconfig()
		_ = env.ResolveKubeconfig().Describe()
	})
}
