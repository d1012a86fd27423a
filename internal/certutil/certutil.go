// Package certutil holds the certificate helpers that both the checks and
// internal/pki use: reading a PEM file, verifying a chain, and a
// certificate's subject alternative names. It is a leaf: it imports
// neither of them.
package certutil

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/kubetutor/kubetutor/internal/fsutil"
)

// LoadPEM reads the PEM file at path (at most fsutil.LimitPEM bytes) and
// parses it with parse; a parse error names the file.
func LoadPEM[T any](path string, parse func([]byte) (T, error)) (T, error) {
	var zero T
	data, err := fsutil.ReadFile(path, fsutil.LimitPEM)
	if err != nil {
		return zero, err
	}
	v, err := parse(data)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// LoadKeyPair reads a certificate and its key (each at most fsutil.LimitPEM
// bytes) as a TLS key pair, with the leaf parsed; a parse error names both
// files.
func LoadKeyPair(certPath, keyPath string) (tls.Certificate, error) {
	certPEM, err := fsutil.ReadFile(certPath, fsutil.LimitPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := fsutil.ReadFile(keyPath, fsutil.LimitPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s and %s: %w", certPath, keyPath, err)
	}
	return c, nil
}

// Signer is a parsed private key as a crypto.Signer: every key type Go
// parses is one, but the parsers return any.
func Signer(k any) (crypto.Signer, error) {
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	return s, nil
}

// VerifyChain verifies c against the single root ca at time now, for any
// usage.
func VerifyChain(c, ca *x509.Certificate, now time.Time) error {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	_, err := c.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

// SANs lists a certificate's DNS names and IP addresses.
func SANs(c *x509.Certificate) []string {
	out := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

// MissingSANs lists the entries of required that c does not cover.
func MissingSANs(c *x509.Certificate, required []string) []string {
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
