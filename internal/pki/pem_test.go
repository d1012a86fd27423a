package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/certutil"
)

// The PEM helpers pki has of its own (so that it does not import checks)
// agree with checks' on every key encoding the lessons and cfssl write.
func TestPEMHelpersAgreeWithChecks(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pem  []byte
		pub  crypto.PublicKey
	}{
		{"RSA PKCS#1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), rsaKey.Public()},
		{"RSA PKCS#8", pkcs8(rsaKey), rsaKey.Public()},
		{"EC SEC 1 after EC PARAMETERS", append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})...), ecKey.Public()},
		{"EC PKCS#8", pkcs8(ecKey), ecKey.Public()},
		{"Ed25519 PKCS#8", pkcs8(edKey), edKey.Public()},
	}
	others := []crypto.PublicKey{rsaKey.Public(), ecKey.Public(), edKey.Public()}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePrivateKeyPEM(tc.pem)
			if err != nil {
				t.Fatalf("parsePrivateKeyPEM: %v", err)
			}
			want, err := checks.ParsePrivateKeyPEM(tc.pem)
			if err != nil {
				t.Fatalf("checks.ParsePrivateKeyPEM: %v", err)
			}
			for _, pub := range others {
				if g, w := keyMatches(pub, got), checks.PublicKeysEqual(pub, want.Public()); g != w {
					t.Errorf("keyMatches(%T) = %v, checks says %v", pub, g, w)
				}
			}
			if !keyMatches(tc.pub, got) {
				t.Errorf("keyMatches says the key is not its own")
			}
		})
	}

	for _, bad := range [][]byte{nil, []byte("not PEM"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})} {
		if _, err := parsePrivateKeyPEM(bad); err == nil {
			t.Errorf("parsePrivateKeyPEM(%q) succeeded", bad)
		}
		if _, err := parseCertificatePEM(bad); err == nil {
			t.Errorf("parseCertificatePEM(%q) succeeded", bad)
		}
	}
}

// The certificate helpers pki shares with checks (internal/certutil) on
// the certificates pki makes.
func TestCertutilOnPKICertificates(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(Options{WorkDir: dir, SANs: []string{"cp.example.com"}}); err != nil {
		t.Fatal(err)
	}
	ca, err := loadCertificate(filepath.Join(dir, "certs", course.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	server, err := loadCertificate(filepath.Join(dir, "certs", course.ServerCertFile))
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(course.RequiredSANs), "cp.example.com")
	if got := certutil.SANs(server); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("certutil.SANs = %v, want %v in any order", got, want)
	}
	required := append(slices.Clone(course.RequiredSANs), "cp.example.com", "other.example.com", "10.0.0.2")
	if got := certutil.MissingSANs(server, required); !slices.Equal(got, []string{"other.example.com", "10.0.0.2"}) {
		t.Errorf("certutil.MissingSANs = %v, want [other.example.com 10.0.0.2]", got)
	}
	if err := certutil.VerifyChain(server, ca, server.NotBefore.Add(1)); err != nil {
		t.Errorf("certutil.VerifyChain(server, ca): %v", err)
	}
	if err := certutil.VerifyChain(server, ca, server.NotAfter.Add(1)); err == nil {
		t.Error("certutil.VerifyChain after NotAfter succeeded")
	}
	if err := certutil.VerifyChain(ca, server, ca.NotBefore.Add(1)); err == nil {
		t.Error("certutil.VerifyChain(ca, server) succeeded")
	}
}
