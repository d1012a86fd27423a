package pki

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"time"

	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"

	"github.com/kubetutor/kubetutor/internal/fsutil"
)

// loadCertificate reads the first certificate of a PEM file.
func loadCertificate(path string) (*x509.Certificate, error) {
	data, err := fsutil.ReadFile(path, fsutil.LimitPEM)
	if err != nil {
		return nil, err
	}
	c, err := parseCertificatePEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// parseCertificatePEM parses the CERTIFICATE blocks of data and returns the
// first.
func parseCertificatePEM(data []byte) (*x509.Certificate, error) {
	certs, err := cert.ParseCertsPEM(data)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// parsePrivateKeyPEM parses the first private key of data (PKCS#1, PKCS#8
// or SEC 1).
func parsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	k, err := keyutil.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	return s, nil
}

// keyMatches tells whether key is the private half of pub.
func keyMatches(pub crypto.PublicKey, key crypto.Signer) bool {
	k, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(pub)
}

// verifyChain verifies c against the single root ca at time now, for any
// usage.
func verifyChain(c, ca *x509.Certificate, now time.Time) error {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	_, err := c.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

// certSANs lists a certificate's DNS names and IP addresses.
func certSANs(c *x509.Certificate) []string {
	out := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

// missingSANs lists the entries of required that c does not cover.
func missingSANs(c *x509.Certificate, required []string) []string {
	var missing []string
	for _, name := range required {
		if ip := net.ParseIP(name); ip != nil {
			if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
				missing = append(missing, name)
			}
			continue
		}
		if c.VerifyHostname(name) != nil {
			missing = append(missing, name)
		}
	}
	return missing
}
