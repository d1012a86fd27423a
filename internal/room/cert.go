package room

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/kubetutor/kubetutor/internal/certutil"
	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/pki"
)

// The room's TLS certificate and key in its data directory.
const (
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
)

// ErrCertificate is matched by errors.Is when a kept certificate cannot be
// used.
var ErrCertificate = errors.New("the room's certificate cannot be used")

// Certificate is the room's self-signed certificate for hosts. With a data
// directory it is the one kept there, made (and kept) only when the room
// has none yet or renew asks for a new one: learners pinned its
// fingerprint, so a damaged or missing half of a kept pair is an error,
// never silently replaced. Without a data directory it is made anew.
// The second result says a new certificate was made.
func Certificate(dataDir string, hosts []string, renew bool) (tls.Certificate, bool, error) {
	if dataDir == "" {
		c, err := newCertificate(hosts, "", "")
		return c, true, err
	}
	certPath, keyPath := filepath.Join(dataDir, CertFile), filepath.Join(dataDir, KeyFile)
	if !renew {
		_, cerr := os.Lstat(certPath)
		_, kerr := os.Lstat(keyPath)
		if !errors.Is(cerr, fs.ErrNotExist) || !errors.Is(kerr, fs.ErrNotExist) {
			c, err := certutil.LoadKeyPair(certPath, keyPath)
			if err != nil {
				return tls.Certificate{}, false, fmt.Errorf("%w: %v; learners pinned its fingerprint, so a new certificate would cut every one of them off without a word: "+
					"restore %s and %s from a backup, or pass --new-certificate to make a new pair (learners then run the new join command)",
					ErrCertificate, err, CertFile, KeyFile)
			}
			return c, false, nil
		}
	}
	c, err := newCertificate(hosts, certPath, keyPath)
	return c, true, err
}

// newCertificate makes a certificate and key, kept at certPath and keyPath
// (both or neither written) unless they are "".
func newCertificate(hosts []string, certPath, keyPath string) (tls.Certificate, error) {
	certPEM, keyPEM, err := pki.SelfSigned("kubetutor room", hosts, 365*24*time.Hour)
	if err != nil {
		return tls.Certificate{}, err
	}
	if certPath != "" {
		var b fsutil.Batch
		b.Add(keyPath, keyPEM, 0o600)
		b.Add(certPath, certPEM, 0o644)
		if err := b.Commit(); err != nil {
			return tls.Certificate{}, fmt.Errorf("keep the room's TLS certificate: %w", err)
		}
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load the room's TLS certificate: %w", err)
	}
	return c, nil
}
