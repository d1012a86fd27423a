package certutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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
	"testing"
	"time"
)

// selfSigned is a self-signed CA certificate with the given SANs.
func selfSigned(t *testing.T, dns []string, ips []string) *x509.Certificate {
	t.Helper()
	c, _ := selfSignedKey(t, dns, ips)
	return c
}

// selfSignedKey is selfSigned with its key.
func selfSignedKey(t *testing.T, dns []string, ips []string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		DNSNames: dns,
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func TestSANs(t *testing.T) {
	c := selfSigned(t, []string{"kubernetes", "*.example.com"}, []string{"127.0.0.1", "::1"})
	if got, want := SANs(c), []string{"kubernetes", "*.example.com", "127.0.0.1", "::1"}; !slices.Equal(got, want) {
		t.Errorf("SANs = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		required, want []string
	}{
		{[]string{"kubernetes", "127.0.0.1"}, nil},
		{[]string{"a.example.com"}, nil},
		{[]string{"a.b.example.com"}, []string{"a.b.example.com"}},
		{[]string{"0:0:0:0:0:0:0:1"}, nil},
		{[]string{"10.0.0.1", "KUBERNETES"}, []string{"10.0.0.1"}},
	} {
		if got := MissingSANs(c, tc.required); !slices.Equal(got, tc.want) {
			t.Errorf("MissingSANs(%q) = %q, want %q", tc.required, got, tc.want)
		}
	}
}

func TestVerifyChain(t *testing.T) {
	c := selfSigned(t, nil, nil)
	if err := VerifyChain(c, c, time.Now()); err != nil {
		t.Errorf("a root against itself: %v", err)
	}
	if err := VerifyChain(c, selfSigned(t, nil, nil), time.Now()); err == nil {
		t.Error("another root: no error")
	}
	if err := VerifyChain(c, c, time.Now().Add(2*time.Hour)); err == nil {
		t.Error("after NotAfter: no error")
	}
}

func TestLoadPEMAndSigner(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.pem")
	if err := os.WriteFile(path, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	parseErr := errors.New("no PEM in it")
	for _, tc := range []struct {
		name, path string
		parse      func([]byte) (string, error)
		want       string
		wantErr    string
	}{
		{"parsed", path, func(b []byte) (string, error) { return string(b), nil }, "data", ""},
		{"a parse error names the file", path, func([]byte) (string, error) { return "", parseErr }, "", path + ": no PEM in it"},
		{"missing", filepath.Join(dir, "none"), func([]byte) (string, error) { return "x", nil }, "", "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadPEM(tc.path, tc.parse)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || got != "" {
					t.Fatalf("LoadPEM = %q, %v; want an error saying %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("LoadPEM = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := Signer(key); err != nil || s == nil {
		t.Errorf("Signer(ecdsa key) = %v, %v", s, err)
	}
	if _, err := Signer("not a key"); err == nil || !strings.Contains(err.Error(), "unsupported private key type string") {
		t.Errorf("Signer(string): %v", err)
	}
}

func TestLoadKeyPair(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSignedKey(t, nil, nil)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	write := func(path, typ string, der []byte) {
		t.Helper()
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(certPath, "CERTIFICATE", cert.Raw)
	write(keyPath, "PRIVATE KEY", keyDER)
	c, err := LoadKeyPair(certPath, keyPath)
	if err != nil || c.Leaf == nil || !c.Leaf.Equal(cert) {
		t.Fatalf("LoadKeyPair = %+v, %v; want the pair with its leaf parsed", c.Leaf, err)
	}
	if _, err := LoadKeyPair(certPath, filepath.Join(dir, "none")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("LoadKeyPair without a key: %v, want no such file", err)
	}
	if _, err := LoadKeyPair(certPath, certPath); err == nil || !strings.Contains(err.Error(), certPath+" and "+certPath+": ") {
		t.Errorf("LoadKeyPair with a certificate for a key: %v, want an error naming both files", err)
	}
}
