package checks

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/shellquote"
)

// allowsUsage reports whether a certificate may be used for an extended key
// usage: with no extended key usage at all (what the lesson's openssl
// commands make), it may be used for anything, as Go's and the API server's
// verification treat it.
func allowsUsage(c *x509.Certificate, u x509.ExtKeyUsage) bool {
	return len(c.ExtKeyUsage) == 0 || slices.Contains(c.ExtKeyUsage, u) || slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny)
}

func usageNames(c *x509.Certificate) string {
	if len(c.ExtKeyUsage) == 0 {
		return "no extended key usage (any use)"
	}
	var out []string
	for _, u := range c.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageServerAuth:
			out = append(out, "serverAuth")
		case x509.ExtKeyUsageClientAuth:
			out = append(out, "clientAuth")
		case x509.ExtKeyUsageAny:
			out = append(out, "any")
		default:
			out = append(out, fmt.Sprintf("usage %d", u))
		}
	}
	return strings.Join(out, ", ")
}

// ServerCertUsage checks that server.crt may serve TLS.
type ServerCertUsage struct{}

// Name implements Checker.
func (ServerCertUsage) Name() string { return "server-cert-usage" }

// Check implements Checker.
func (ServerCertUsage) Check(_ context.Context, env *Env) (Result, error) {
	c, err := LoadCertificate(env.CertPath(ServerCertFile))
	if err != nil {
		return fileFailure(ServerCertFile, err), nil
	}
	if !allowsUsage(c, x509.ExtKeyUsageServerAuth) {
		return failf("server.crt is not allowed to serve TLS (extended key usage: %s): kubectl would refuse it with \"x509: certificate specifies an incompatible key usage\".", usageNames(c)).
			saw(usageNames(c), "serverAuth").
			hint("reissue server.crt without extendedKeyUsage, or with extendedKeyUsage=serverAuth,clientAuth"), nil
	}
	return passf("server.crt may serve TLS (%s).", usageNames(c)), nil
}

// KubeconfigClientCert checks the kubeconfig's client certificate the way
// the API server will: signed by certs/ca.crt (its --client-ca-file), valid
// now, allowed for client authentication, and matched by its key.
type KubeconfigClientCert struct{}

// Name implements Checker.
func (KubeconfigClientCert) Name() string { return "kubeconfig-client-cert" }

// Check implements Checker.
func (KubeconfigClientCert) Check(_ context.Context, env *Env) (Result, error) {
	raw, err := env.RawKubeconfig()
	if err != nil {
		return kubeconfigFailure(err), nil
	}
	path := env.KubeconfigPath()
	user := currentUser(raw)
	if user == nil {
		return failf("%s has no user for its current context: the API server would answer 401 Unauthorized.", path).
			hint("kubectl config set-credentials admin --client-certificate=certs/server.crt --client-key=certs/server.key --embed-certs=true --kubeconfig=%s", shellquote.Quote(path)), nil
	}
	if user.Token != "" || user.TokenFile != "" {
		return passf("%s authenticates with a token; nothing to check on certificates.", path), nil
	}
	certPEM, keyPEM, err := clientData(user, filepath.Dir(path))
	if err != nil {
		return failf("The client certificate of %s cannot be read: %v.", path, err).
			hint("embed it: kubectl config set-credentials admin --client-certificate=certs/server.crt --client-key=certs/server.key --embed-certs=true --kubeconfig=%s", shellquote.Quote(path)), nil
	}
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return failf("The client certificate in %s does not parse: %v.", path, err).hint("set the credentials again with --embed-certs=true"), nil
	}
	who := fmt.Sprintf("user %q", cert.Subject.CommonName)
	if len(cert.Subject.Organization) > 0 {
		who += fmt.Sprintf(" in groups %s", strings.Join(cert.Subject.Organization, ", "))
	}
	if ca, err := LoadCertificate(env.CertPath(CAFile)); err == nil {
		if err := cert.CheckSignatureFrom(ca); err != nil {
			return failf("The client certificate in %s (%s) is not signed by certs/ca.crt, the API server's --client-ca-file: it will answer 401 Unauthorized.", path, who).
				saw("issuer "+cert.Issuer.CommonName, "signed by "+ca.Subject.CommonName).
				hint("kubectl config set-credentials admin --client-certificate=certs/server.crt --client-key=certs/server.key --embed-certs=true --kubeconfig=%s", shellquote.Quote(path)), nil
		}
	}
	if now := env.Now(); now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
		return failf("The client certificate in %s is not valid now (valid %s to %s): the API server will answer 401 Unauthorized.", path,
			cert.NotBefore.UTC().Format("2006-01-02"), cert.NotAfter.UTC().Format("2006-01-02")).
			hint("issue it again and set the credentials with --embed-certs=true"), nil
	}
	if !allowsUsage(cert, x509.ExtKeyUsageClientAuth) {
		return failf("The client certificate in %s is not allowed for client authentication (extended key usage: %s): the API server will answer 401 Unauthorized.", path, usageNames(cert)).
			saw(usageNames(cert), "clientAuth").
			hint("use a certificate without extendedKeyUsage, or with clientAuth"), nil
	}
	if key, err := ParsePrivateKeyPEM(keyPEM); err != nil || !PublicKeysEqual(cert.PublicKey, key.Public()) {
		return failf("The client key in %s does not match its certificate: kubectl will fail with \"private key does not match public key\".", path).
			hint("set the credentials again from a matching pair: kubectl config set-credentials admin --client-certificate=certs/server.crt --client-key=certs/server.key --embed-certs=true --kubeconfig=%s", shellquote.Quote(path)), nil
	}
	return passf("%s authenticates as %s, with a certificate certs/ca.crt signed.", path, who), nil
}

func currentUser(raw *clientcmdapi.Config) *clientcmdapi.AuthInfo {
	kctx := raw.Contexts[raw.CurrentContext]
	if kctx == nil {
		return nil
	}
	return raw.AuthInfos[kctx.AuthInfo]
}

func clientData(u *clientcmdapi.AuthInfo, base string) (certPEM, keyPEM []byte, err error) {
	read := func(data []byte, file string) ([]byte, error) {
		if len(data) > 0 {
			return data, nil
		}
		if file == "" {
			return nil, errors.New("no client certificate or key in it")
		}
		if !filepath.IsAbs(file) {
			file = filepath.Join(base, file)
		}
		return fsutil.ReadFile(file, fsutil.LimitPEM)
	}
	if certPEM, err = read(u.ClientCertificateData, u.ClientCertificate); err != nil {
		return nil, nil, err
	}
	if keyPEM, err = read(u.ClientKeyData, u.ClientKey); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// KeyFilePermissions warns about private keys (and the kubeconfig that
// embeds one) that other users can read.
type KeyFilePermissions struct{}

// Name implements Checker.
func (KeyFilePermissions) Name() string { return "key-file-permissions" }

// Check implements Checker.
func (KeyFilePermissions) Check(_ context.Context, env *Env) (Result, error) {
	var open, checked []string
	files := []string{env.CertPath(CAKeyFile), env.CertPath(ServerKeyFile), env.CertPath(ServiceAccountKeyFile)}
	files = append(files, env.ResolveKubeconfig().Files...)
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			continue
		}
		checked = append(checked, f)
		if fi.Mode().Perm()&0o077 != 0 {
			open = append(open, fmt.Sprintf("%s (%s)", f, fi.Mode().Perm()))
		}
	}
	if len(open) > 0 {
		return warnf("Other users can read %s: anyone on this machine could act as the cluster's CA or admin.", strings.Join(open, ", ")).
			saw("group/other permissions", "-rw------- (0600)").
			hint("chmod 600 %s", shellquote.Join(files...)), nil
	}
	if len(checked) == 0 {
		return passf("No private key or kubeconfig to look at yet."), nil
	}
	return passf("Only their owner can read %s.", strings.Join(checked, ", ")), nil
}
