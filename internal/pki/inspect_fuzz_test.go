package pki

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzInspectFile explains a fuzzed file as `certs inspect` does: PEM
// (certificates, keys) or a kubeconfig with embedded or referred-to
// certificates.
func FuzzInspectFile(f *testing.F) {
	for _, s := range []string{
		"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
		"-----BEGIN EC PRIVATE KEY-----\n-----END EC PRIVATE KEY-----\n",
		"apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    client-certificate-data: bm90IGEgY2VydA==\n    client-certificate: nope.crt\n",
		"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    certificate-authority: ca.crt\n",
		"", "{", "\x00",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "input")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, _ = InspectFile(p, InspectOptions{CAFile: filepath.Join(dir, "no-ca.crt"), Now: time.Unix(1e9, 0)})
	})
}
