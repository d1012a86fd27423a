package pki

import (
	"crypto"
	"crypto/x509"

	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"

	"github.com/kubetutor/kubetutor/internal/certutil"
)

// loadCertificate reads the first certificate of a PEM file.
func loadCertificate(path string) (*x509.Certificate, error) {
	return certutil.LoadPEM(path, parseCertificatePEM)
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
	return certutil.Signer(k)
}

// keyMatches tells whether key is the private half of pub.
func keyMatches(pub crypto.PublicKey, key crypto.Signer) bool {
	k, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(pub)
}
