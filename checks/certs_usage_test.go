package checks_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/checks"
)

// TestSharperCertChecks makes, for each mistake a learner makes with
// openssl, a broken PKI and asserts the diagnosis names it.
func TestSharperCertChecks(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	otherCA := newCA(t, "other-ca")
	usage := []checks.Checker{checks.ServerCertUsage{}, checks.KubeconfigClientCert{}, checks.KeyFilePermissions{}}
	setClient := func(f *pkiFixture, kp *keyPair, keyPEM []byte) {
		f.kube.AuthInfos["admin"].ClientCertificateData = kp.CertPEM()
		f.kube.AuthInfos["admin"].ClientKeyData = keyPEM
	}
	tests := []struct {
		name   string
		mutate func(t *testing.T, f *pkiFixture, dir string)
		check  string // the check that must not pass; "" means all pass
		status checks.Status
		want   string
	}{
		{"good, as certs init makes it", nil, "", checks.Pass, ""},
		{"good, as the lesson's openssl makes it (no extended key usage)", func(t *testing.T, f *pkiFixture, _ string) {
			f.reissueServer(t, func(s *certSpec) { s.NoEKU = true; s.Orgs = []string{"system:masters"} }, nil)
			setClient(f, f.server, f.files[checks.ServerKeyFile])
		}, "", checks.Pass, ""},
		{"server certificate for clients only", func(t *testing.T, f *pkiFixture, _ string) {
			f.reissueServer(t, func(s *certSpec) { s.EKU = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} }, nil)
			setClient(f, f.server, f.files[checks.ServerKeyFile])
		}, "server-cert-usage", checks.Fail, "incompatible key usage"},
		{"client certificate for servers only", func(t *testing.T, f *pkiFixture, _ string) {
			kp := issue(t, certSpec{CN: "admin", EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, f.ca)
			setClient(f, kp, pkcs8PEM(t, kp.Key))
		}, "kubeconfig-client-cert", checks.Fail, "not allowed for client authentication"},
		{"client certificate of another CA", func(t *testing.T, f *pkiFixture, _ string) {
			kp := issue(t, certSpec{CN: "admin"}, otherCA)
			setClient(f, kp, pkcs8PEM(t, kp.Key))
		}, "kubeconfig-client-cert", checks.Fail, "401 Unauthorized"},
		{"expired client certificate", func(t *testing.T, f *pkiFixture, _ string) {
			kp := issue(t, certSpec{CN: "admin", NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)}, f.ca)
			setClient(f, kp, pkcs8PEM(t, kp.Key))
		}, "kubeconfig-client-cert", checks.Fail, "not valid now"},
		{"client key of another certificate", func(t *testing.T, f *pkiFixture, _ string) {
			kp := issue(t, certSpec{CN: "admin"}, f.ca)
			setClient(f, kp, f.files[checks.ServerKeyFile])
		}, "kubeconfig-client-cert", checks.Fail, "does not match"},
		{"client certificate referenced by a missing file", func(t *testing.T, f *pkiFixture, _ string) {
			f.kube.AuthInfos["admin"].ClientCertificateData = nil
			f.kube.AuthInfos["admin"].ClientCertificate = "certs/gone.crt"
		}, "kubeconfig-client-cert", checks.Fail, "cannot be read"},
		{"CA key readable by others", func(t *testing.T, _ *pkiFixture, dir string) {
			if err := os.Chmod(filepath.Join(dir, "certs", checks.CAKeyFile), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "key-file-permissions", checks.Warn, "ca.key (-rw-r--r--)"},
		{"kubeconfig readable by others", func(t *testing.T, _ *pkiFixture, dir string) {
			if err := os.Chmod(filepath.Join(dir, "admin.conf"), 0o640); err != nil {
				t.Fatal(err)
			}
		}, "key-file-permissions", checks.Warn, "admin.conf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := newPKIFixture(t, now)
			var late func(*testing.T, *pkiFixture, string)
			if tc.mutate != nil {
				if strings.Contains(tc.name, "readable") {
					late = tc.mutate
				} else {
					tc.mutate(t, f, dir)
				}
			}
			env := f.write(t, dir)
			if late != nil {
				late(t, f, dir)
			}
			for _, c := range usage {
				r := runCheck(t, env, c)
				if c.Name() != tc.check {
					if r.Status != checks.Pass {
						t.Errorf("%s = %s %q, want pass", c.Name(), r.Status, r.Message)
					}
					continue
				}
				if r.Status != tc.status || !strings.Contains(r.Message, tc.want) || r.Hint == "" {
					t.Errorf("%s = %s %q (hint %q), want %s containing %q with a hint", c.Name(), r.Status, r.Message, r.Hint, tc.status, tc.want)
				}
			}
		})
	}
}
