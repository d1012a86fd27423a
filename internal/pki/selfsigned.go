package pki

import (
	"fmt"
	"time"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/initca"
)

// SelfSigned makes a self-signed certificate and its ECDSA P-256 key for a
// server known by hosts (DNS names and IP addresses), valid for validity:
// what `kubetutor room serve --tls` serves, trusted by its fingerprint.
func SelfSigned(cn string, hosts []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	silenceCFSSL()
	certPEM, _, keyPEM, err = initca.New(&csr.CertificateRequest{
		CN:         cn,
		Hosts:      hosts,
		KeyRequest: &csr.KeyRequest{A: "ecdsa", S: 256},
		CA:         &csr.CAConfig{Expiry: validity.String()},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("create a self-signed certificate for %v: %w", hosts, err)
	}
	return certPEM, keyPEM, nil
}
