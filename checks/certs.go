package checks

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/certutil"
	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/shellquote"
	"github.com/kubetutor/kubetutor/internal/textsafe"
)

// The talk's certificate files, under certs/ in the work dir.
const (
	CAFile                = course.CAFile
	CAKeyFile             = course.CAKeyFile
	ServerCertFile        = course.ServerCertFile
	ServerKeyFile         = course.ServerKeyFile
	ServiceAccountKeyFile = course.ServiceAccountKeyFile
	ServiceAccountPubFile = course.ServiceAccountPubFile
)

// LaterSANs are SANs the talk's part of the course does not need, each with
// when it will matter: a certificate without them earns a warning at the
// certs step, not a failure (the talk's own certificate lacks 10.0.0.1 and
// its cluster runs a pod); the kube-proxy step's kubernetes-service-tls
// fails on it.
var LaterSANs = map[string]string{
	"10.0.0.1": "the ClusterIP of the kubernetes Service (first address of the default --service-cluster-ip-range 10.0.0.0/24); " +
		"it will matter at the kube-proxy step (kubernetes-service-tls), and for every pod that reaches the API server through that Service (kubernetes.default: CoreDNS, controllers running in pods, any in-cluster client)",
}

// RequiredSANs are the names and addresses the API server's certificate must
// cover: the talk's list plus the first service IP that in-cluster clients use.
var RequiredSANs = course.RequiredSANs

const certsLessonHint = "follow the certs lesson (kubetutor show certs)"

// CertFiles checks that the talk's six files exist and parse.
type CertFiles struct{}

// Name implements Checker.
func (CertFiles) Name() string { return "cert-files" }

// Check implements Checker.
func (CertFiles) Check(_ context.Context, env *Env) (Result, error) {
	var missing, broken []string
	for _, f := range []string{CAFile, ServerCertFile} {
		if _, err := LoadCertificate(env.CertPath(f)); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				missing = append(missing, f)
			} else {
				broken = append(broken, err.Error())
			}
		}
	}
	for _, f := range []string{CAKeyFile, ServerKeyFile, ServiceAccountKeyFile} {
		if _, err := LoadPrivateKey(env.CertPath(f)); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				missing = append(missing, f)
			} else {
				broken = append(broken, err.Error())
			}
		}
	}
	if _, err := LoadPublicKey(env.CertPath(ServiceAccountPubFile)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			missing = append(missing, ServiceAccountPubFile)
		} else {
			broken = append(broken, err.Error())
		}
	}
	switch {
	case len(missing) > 0:
		return failf("Missing in %s: %s.", env.Path("certs"), strings.Join(missing, ", ")).
			saw(fmt.Sprintf("%d of 6 files missing", len(missing)), "ca.crt, ca.key, server.crt, server.key, service-account-key.pem, service-account.pem").
			hint("%s; the files go in %s", certsLessonHint, env.Path("certs")), nil
	case len(broken) > 0:
		return failf("Some files do not parse: %s.", strings.Join(broken, "; ")).
			saw("unparsable PEM", "PEM certificates and keys").
			hint("regenerate the broken files with the commands of the certs lesson"), nil
	}
	return passf("All six files are present and parse."), nil
}

// ServerCertSignedByCA checks that server.crt chains to ca.crt.
type ServerCertSignedByCA struct{}

// Name implements Checker.
func (ServerCertSignedByCA) Name() string { return "server-cert-signed-by-ca" }

// Check implements Checker.
func (ServerCertSignedByCA) Check(_ context.Context, env *Env) (Result, error) {
	ca, server, res, ok := loadCAAndServer(env)
	if !ok {
		return res, nil
	}
	if err := certutil.VerifyChain(server, ca, env.Now()); err != nil {
		var unknown x509.UnknownAuthorityError
		if errors.As(err, &unknown) {
			return failf("server.crt (issuer %q) is not signed by ca.crt (%q).", server.Issuer.String(), ca.Subject.String()).
				saw("issuer "+server.Issuer.String(), "signed by "+ca.Subject.String()).
				hint("sign the server certificate with this CA: openssl x509 -req -in certs/server.csr -CA certs/ca.crt -CAkey certs/ca.key -CAcreateserial -days 365 -copy_extensions copyall -out certs/server.crt"), nil
		}
		var invalid x509.CertificateInvalidError
		if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
			// Validity has its own check; the signature is what this one proves.
			if server.CheckSignatureFrom(ca) == nil {
				return passf("server.crt is signed by ca.crt (%s).", ca.Subject.CommonName), nil
			}
		}
		return failf("server.crt does not verify against ca.crt: %v.", err).
			saw(err.Error(), "a chain server.crt → ca.crt").
			hint("regenerate the CA and the server certificate with the certs lesson's commands"), nil
	}
	return passf("server.crt is signed by ca.crt (%s).", ca.Subject.CommonName), nil
}

// ServerCertSANs checks that server.crt covers every required name and IP.
type ServerCertSANs struct {
	// Required defaults to RequiredSANs.
	Required []string
}

// Name implements Checker.
func (ServerCertSANs) Name() string { return "server-cert-sans" }

// Check implements Checker.
func (s ServerCertSANs) Check(_ context.Context, env *Env) (Result, error) {
	server, err := LoadCertificate(env.CertPath(ServerCertFile))
	if err != nil {
		return fileFailure(ServerCertFile, err), nil
	}
	required := s.Required
	if len(required) == 0 {
		required = RequiredSANs
	}
	missing := certutil.MissingSANs(server, required)
	have := certutil.SANs(server)
	var now, later []string
	for _, m := range missing {
		if _, ok := LaterSANs[m]; ok {
			later = append(later, m)
		} else {
			now = append(now, m)
		}
	}
	if len(now) > 0 {
		// Quote the error of the address every client of this course dials,
		// if it is missing: kubectl and the components dial 127.0.0.1.
		dialled := now[0]
		if slices.Contains(now, "127.0.0.1") {
			dialled = "127.0.0.1"
		}
		return failf("server.crt does not cover %s: clients that use %s will get %q.",
			strings.Join(now, ", "), plural(now, "that name", "those names"), hostnameError(server, dialled)).
			saw("SANs: "+strings.Join(have, ", "), "SANs include: "+strings.Join(required, ", ")).
			hint("reissue server.crt with every SAN: add %s to the -addext \"subjectAltName=...\" of the certs lesson's openssl req command", sanSpec(missing)), nil
	}
	if len(later) > 0 {
		var why []string
		for _, m := range later {
			why = append(why, m+" is "+LaterSANs[m])
		}
		return warnf("server.crt covers every name this course uses, but not %s. Nothing needs it yet: %s.", strings.Join(later, ", "), strings.Join(why, "; ")).
			saw("SANs: "+strings.Join(have, ", "), "SANs include: "+strings.Join(required, ", ")).
			hint("when you go further, reissue server.crt with %s in its subjectAltName (kube-apiserver watches the file and serves the new certificate within seconds, no restart needed)", sanSpec(later)), nil
	}
	return passf("server.crt covers all %d names and addresses clients use.", len(required)).detail("SANs: %s", strings.Join(have, ", ")), nil
}

// hostnameError is what a Go client (kubectl, the components) says when it
// dials name and c is the certificate it gets: crypto/x509's HostnameError,
// "x509: certificate is valid for ..., not NAME", or for an IP address when
// c has no IP SANs at all, "x509: cannot validate certificate for IP because
// it doesn't contain any IP SANs".
func hostnameError(c *x509.Certificate, name string) string {
	if err := c.VerifyHostname(name); err != nil {
		return err.Error()
	}
	return "x509: certificate is valid for ..., not " + name
}

// CertValidity checks that a certificate is valid now.
type CertValidity struct {
	File string
}

// Name implements Checker.
func (c CertValidity) Name() string { return strings.TrimSuffix(c.File, ".crt") + "-cert-validity" }

// Check implements Checker.
func (c CertValidity) Check(_ context.Context, env *Env) (Result, error) {
	cert, err := LoadCertificate(env.CertPath(c.File))
	if err != nil {
		return fileFailure(c.File, err), nil
	}
	now := env.Now()
	window := fmt.Sprintf("valid %s to %s", cert.NotBefore.UTC().Format("2006-01-02 15:04 MST"), cert.NotAfter.UTC().Format("2006-01-02 15:04 MST"))
	switch {
	case now.After(cert.NotAfter):
		return failf("%s expired on %s.", c.File, cert.NotAfter.UTC().Format("2006-01-02")).
			saw(window, "valid now ("+now.UTC().Format("2006-01-02 15:04 MST")+")").
			hint("issue %s again (the certs lesson's commands use -days 365)", c.File), nil
	case now.Before(cert.NotBefore):
		return failf("%s is not valid yet: it starts on %s (is the clock right?).", c.File, cert.NotBefore.UTC().Format("2006-01-02 15:04 MST")).
			saw(window, "valid now ("+now.UTC().Format("2006-01-02 15:04 MST")+")").
			hint("check the clock (date -u), then issue %s again", c.File), nil
	}
	return passf("%s is %s.", c.File, window), nil
}

// KeyMatchesCert checks that a private key belongs to a certificate.
type KeyMatchesCert struct {
	Cert, Key string
}

// Name implements Checker.
func (k KeyMatchesCert) Name() string { return strings.TrimSuffix(k.Key, ".key") + "-key-matches" }

// Check implements Checker.
func (k KeyMatchesCert) Check(_ context.Context, env *Env) (Result, error) {
	cert, err := LoadCertificate(env.CertPath(k.Cert))
	if err != nil {
		return fileFailure(k.Cert, err), nil
	}
	key, err := LoadPrivateKey(env.CertPath(k.Key))
	if err != nil {
		return fileFailure(k.Key, err), nil
	}
	if !PublicKeysEqual(cert.PublicKey, key.Public()) {
		return failf("%s is not the key of %s: the API server would refuse to start (\"private key does not match public key\").", k.Key, k.Cert).
			saw("different key pairs", k.Key+" matches "+k.Cert).
			hint("make the CSR from this key again and sign it: the certs lesson's openssl req and openssl x509 -req commands for %s", k.Cert), nil
	}
	return passf("%s matches %s.", k.Key, k.Cert), nil
}

// ServiceAccountKeyPair checks that the two service-account files are one pair.
type ServiceAccountKeyPair struct{}

// Name implements Checker.
func (ServiceAccountKeyPair) Name() string { return "service-account-keypair" }

// Check implements Checker.
func (ServiceAccountKeyPair) Check(_ context.Context, env *Env) (Result, error) {
	key, err := LoadPrivateKey(env.CertPath(ServiceAccountKeyFile))
	if err != nil {
		return fileFailure(ServiceAccountKeyFile, err), nil
	}
	pub, err := LoadPublicKey(env.CertPath(ServiceAccountPubFile))
	if err != nil {
		return fileFailure(ServiceAccountPubFile, err), nil
	}
	if !PublicKeysEqual(pub, key.Public()) {
		return failf("service-account.pem is not the public half of service-account-key.pem: tokens signed by the controller-manager would not verify.").
			saw("different key pairs", "one key pair").
			hint("openssl rsa -in certs/service-account-key.pem -pubout -out certs/service-account.pem"), nil
	}
	return passf("service-account.pem is the public half of service-account-key.pem."), nil
}

// KubeconfigMatches checks that the kubeconfig parses, points at the API
// server of the lessons and embeds the CA on disk.
type KubeconfigMatches struct{}

// Name implements Checker.
func (KubeconfigMatches) Name() string { return "kubeconfig" }

// Check implements Checker.
func (KubeconfigMatches) Check(_ context.Context, env *Env) (Result, error) {
	path := env.KubeconfigPath()
	raw, err := env.RawKubeconfig()
	if err != nil {
		return kubeconfigFailure(err), nil
	}
	ctxName := raw.CurrentContext
	kctx, ok := raw.Contexts[ctxName]
	if !ok || kctx == nil {
		return failf("%s has no current context (current-context %q).", path, ctxName).
			saw("current-context "+quoteOrNone(ctxName), "a current context").
			hint("kubectl config use-context default --kubeconfig=%s", shellquote.Quote(path)), nil
	}
	cluster := raw.Clusters[kctx.Cluster]
	if cluster == nil {
		return failf("context %q names cluster %q, which %s does not define.", ctxName, kctx.Cluster, path).
			hint("kubectl config set-cluster local-apiserver --certificate-authority=certs/ca.crt --embed-certs=true --server=%s --kubeconfig=%s", shellquote.Quote(env.APIServerURL), shellquote.Quote(path)), nil
	}
	if strings.TrimSuffix(cluster.Server, "/") != strings.TrimSuffix(env.APIServerURL, "/") {
		return failf("%s points at %s, not at the API server of the lessons (%s).", path, textsafe.URL(cluster.Server), env.APIServerURL).
			saw("server "+textsafe.URL(cluster.Server), "server "+env.APIServerURL).
			hint("kubectl config set-cluster %s --server=%s --kubeconfig=%s", shellquote.Quote(kctx.Cluster), shellquote.Quote(env.APIServerURL), shellquote.Quote(path)), nil
	}
	caPEM := cluster.CertificateAuthorityData
	if len(caPEM) == 0 && cluster.CertificateAuthority != "" {
		return failf("%s refers to the CA file %s instead of embedding it.", path, cluster.CertificateAuthority).
			saw("certificate-authority: "+cluster.CertificateAuthority, "certificate-authority-data").
			hint("kubectl config set-cluster %s --certificate-authority=certs/ca.crt --embed-certs=true --server=%s --kubeconfig=%s", shellquote.Quote(kctx.Cluster), shellquote.Quote(env.APIServerURL), shellquote.Quote(path)), nil
	}
	if len(caPEM) == 0 {
		return failf("%s has no CA for cluster %q: kubectl could not verify the API server.", path, kctx.Cluster).
			saw("no certificate-authority-data", "the CA embedded").
			hint("kubectl config set-cluster %s --certificate-authority=certs/ca.crt --embed-certs=true --server=%s --kubeconfig=%s", shellquote.Quote(kctx.Cluster), shellquote.Quote(env.APIServerURL), shellquote.Quote(path)), nil
	}
	embedded, err := ParseCertificatePEM(caPEM)
	if err != nil {
		return failf("the CA embedded in %s does not parse: %v.", path, err).
			hint("kubectl config set-cluster %s --certificate-authority=certs/ca.crt --embed-certs=true --server=%s --kubeconfig=%s", shellquote.Quote(kctx.Cluster), shellquote.Quote(env.APIServerURL), shellquote.Quote(path)), nil
	}
	if ca, err := LoadCertificate(env.CertPath(CAFile)); err == nil && !bytes.Equal(ca.Raw, embedded.Raw) {
		return failf("the CA embedded in %s (%q) is not certs/ca.crt (%q): kubectl will say \"x509: certificate signed by unknown authority\".", path, embedded.Subject.CommonName, ca.Subject.CommonName).
			saw("another CA", "certs/ca.crt embedded").
			hint("kubectl config set-cluster %s --certificate-authority=certs/ca.crt --embed-certs=true --server=%s --kubeconfig=%s", shellquote.Quote(kctx.Cluster), shellquote.Quote(env.APIServerURL), shellquote.Quote(path)), nil
	}
	user := raw.AuthInfos[kctx.AuthInfo]
	if user == nil || (len(user.ClientCertificateData) == 0 && user.ClientCertificate == "" && user.Token == "" && user.TokenFile == "") {
		return failf("context %q has no credentials (user %q): the API server would answer 401 Unauthorized.", ctxName, kctx.AuthInfo).
			hint("kubectl config set-credentials admin --client-certificate=certs/server.crt --client-key=certs/server.key --embed-certs=true --kubeconfig=%s", shellquote.Quote(path)), nil
	}
	return passf("%s points at %s, embeds certs/ca.crt and has credentials for user %q.", path, textsafe.URL(cluster.Server), kctx.AuthInfo).
		detail("kubeconfig: %s", env.ResolveKubeconfig().Describe()), nil
}

func kubeconfigFailure(err error) Result {
	var kerr *KubeconfigError
	if errors.As(err, &kerr) {
		r := failf("%s.", capitalize(kerr.Error())).saw(kerr.Error(), "a kubeconfig for the cluster")
		if kerr.Missing {
			return r.hint("create admin.conf with the certs lesson's kubectl config commands (kubetutor show certs); kubetutor finds it in the work dir, or export KUBECONFIG=\"$PWD/admin.conf\", or pass --kubeconfig")
		}
		return r.hint("fix or recreate %s with the certs lesson's kubectl config commands (kubetutor show certs)", kerr.Path)
	}
	return failf("Cannot use the kubeconfig: %v.", err)
}

func loadCAAndServer(env *Env) (ca, server *x509.Certificate, res Result, ok bool) {
	ca, err := LoadCertificate(env.CertPath(CAFile))
	if err != nil {
		return nil, nil, fileFailure(CAFile, err), false
	}
	server, err = LoadCertificate(env.CertPath(ServerCertFile))
	if err != nil {
		return nil, nil, fileFailure(ServerCertFile, err), false
	}
	return ca, server, Result{}, true
}

func fileFailure(name string, err error) Result {
	if errors.Is(err, os.ErrNotExist) {
		return failf("certs/%s does not exist.", name).saw("no file", "certs/"+name).hint("%s", certsLessonHint)
	}
	return failf("certs/%s is unusable: %v.", name, err).saw("unparsable file", "a PEM file").hint("regenerate certs/%s with the certs lesson's commands", name)
}

func sanSpec(names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		if net.ParseIP(n) != nil {
			parts[i] = "IP:" + n
		} else {
			parts[i] = "DNS:" + n
		}
	}
	return strings.Join(parts, ",")
}

// LoadCertificate reads the first certificate of a PEM file.
func LoadCertificate(path string) (*x509.Certificate, error) {
	return certutil.LoadPEM(path, ParseCertificatePEM)
}

// ParseCertificatePEM parses the first CERTIFICATE block of data.
func ParseCertificatePEM(data []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM certificate in it")
		}
		if block.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse certificate: %w", err)
			}
			return c, nil
		}
	}
}

// LoadPrivateKey reads a PEM private key (PKCS#1, PKCS#8 or SEC 1).
func LoadPrivateKey(path string) (crypto.Signer, error) {
	return certutil.LoadPEM(path, ParsePrivateKeyPEM)
}

// ParsePrivateKeyPEM parses the first private key block of data.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key in it")
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(block.Bytes)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, err
			}
			return certutil.Signer(k)
		}
	}
}

// LoadPublicKey reads a PEM public key (PKIX or PKCS#1) or certificate.
func LoadPublicKey(path string) (crypto.PublicKey, error) {
	data, err := fsutil.ReadFile(path, fsutil.LimitPEM)
	if err != nil {
		return nil, err
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM public key in it", path)
		}
		switch block.Type {
		case "PUBLIC KEY":
			return x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			return x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, err
			}
			return c.PublicKey, nil
		}
	}
}

// PublicKeysEqual compares two public keys.
func PublicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	switch k := a.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return k.(equaler).Equal(b)
	}
	return false
}

func plural(items []string, one, many string) string {
	if len(items) == 1 {
		return one
	}
	return many
}

func quoteOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
