package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/cert"

	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/certutil"
	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/textsafe"
)

// Chain statuses.
const (
	ChainVerified  = "verified"    // signed by the CA and valid
	ChainIsCA      = "is-the-ca"   // the certificate is the CA itself
	ChainNotByCA   = "not-signed"  // another issuer, or a bad signature
	ChainInvalid   = "invalid"     // signed by the CA, but not valid now or not usable
	ChainNoCA      = "no-ca"       // the CA file is missing or unreadable
	ChainDifferent = "different"   // a CA that is not the CA file
	KeyMatches     = "matches"     // the private key belongs to the certificate
	KeyMismatch    = "mismatch"    // it does not
	KeyNotFound    = "not-found"   // no key file next to the certificate
	KeyUnreadable  = "unreadable"  // the key does not parse
	KeyNotChecked  = "not-checked" // a CA in a kubeconfig: its key is not there
)

// Validity states.
const (
	ValidNow     = "valid"
	Expired      = "expired"
	NotYetValid  = "not-yet-valid"
	dateTimeForm = "2006-01-02 15:04 MST"
)

// Inspection explains one certificate.
type Inspection struct {
	// Source is the file, and for a kubeconfig which entry.
	Source string `json:"source"`
	// Role is what the certificate is for where it was found ("client
	// certificate of user admin", "CA of cluster local-apiserver"); empty
	// for a plain file.
	Role string `json:"role,omitempty"`

	Subject      string   `json:"subject"`
	CommonName   string   `json:"commonName"`
	Organization []string `json:"organization,omitempty"`
	// User and Groups are what the API server makes of the certificate
	// when a client presents it: user = CN, groups = O.
	User   string   `json:"user"`
	Groups []string `json:"groups"`

	Issuer       string `json:"issuer"`
	SelfSigned   bool   `json:"selfSigned"`
	IsCA         bool   `json:"isCA"`
	SerialNumber string `json:"serialNumber"`

	DNSNames    []string `json:"dnsNames,omitempty"`
	IPAddresses []string `json:"ipAddresses,omitempty"`

	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	// Validity is valid, expired or not-yet-valid, at the time of inspection.
	Validity string `json:"validity"`

	PublicKey          string   `json:"publicKey"`
	SignatureAlgorithm string   `json:"signatureAlgorithm"`
	KeyUsages          []string `json:"keyUsages,omitempty"`
	ExtKeyUsages       []string `json:"extKeyUsages,omitempty"`

	Chain Chain    `json:"chain"`
	Key   KeyCheck `json:"key"`
	// Notes explain, in sentences, what Kubernetes does with the certificate.
	Notes []string `json:"notes,omitempty"`

	cert *x509.Certificate
}

// Chain says whether the certificate chains to the CA file.
type Chain struct {
	CAFile string `json:"caFile"`
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// KeyCheck says whether the private key found with the certificate matches.
type KeyCheck struct {
	Path   string `json:"path,omitempty"`
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Certificate returns the parsed certificate.
func (in *Inspection) Certificate() *x509.Certificate { return in.cert }

// InspectOptions say what to compare certificates with.
type InspectOptions struct {
	// CAFile is the CA certificates are verified against (the work dir's
	// certs/ca.crt).
	CAFile string
	// Now is the time of inspection; zero means time.Now().
	Now time.Time
}

// InspectFile explains every certificate in a PEM file, or every
// certificate embedded in (or referred to by) a kubeconfig.
func InspectFile(path string, opts InspectOptions) ([]Inspection, error) {
	data, err := fsutil.ReadFile(path, fsutil.LimitKubeconfig)
	if err != nil {
		return nil, fmt.Errorf("read the file to inspect: %w", err)
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	// A CA file may be a bundle: every certificate in it is trusted, as
	// kube-apiserver's --client-ca-file and openssl verify -CAfile do.
	ca, caErr := certutil.LoadPEM(opts.CAFile, cert.ParseCertsPEM)
	if bytes.Contains(data, []byte("-----BEGIN ")) {
		return inspectPEM(path, data, ca, caErr, opts)
	}
	return inspectKubeconfig(path, data, ca, caErr, opts)
}

func inspectPEM(path string, data []byte, ca []*x509.Certificate, caErr error, opts InspectOptions) ([]Inspection, error) {
	var out []Inspection
	var types []string
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			types = append(types, block.Type)
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return out, fmt.Errorf("parse certificate %d of %s: %w", len(out)+1, path, err)
		}
		source := path
		if len(out) > 0 {
			source = fmt.Sprintf("%s (certificate %d)", path, len(out)+1)
		}
		in := describe(c, source, "", ca, caErr, opts)
		if len(out) == 0 {
			in.Key = keyFileCheck(path, c)
		} else {
			in.Key = KeyCheck{Status: KeyNotChecked, Detail: "only the first certificate of a file is compared with a key file"}
		}
		in.Notes = append(in.Notes, keyNotes(in.Key)...)
		out = append(out, in)
	}
	if len(out) == 0 {
		if len(types) > 0 {
			return nil, fmt.Errorf("inspect %s: no certificate in it, only %s", path, strings.Join(types, ", "))
		}
		return nil, fmt.Errorf("inspect %s: no PEM data in it", path)
	}
	return out, nil
}

func inspectKubeconfig(path string, data []byte, ca []*x509.Certificate, caErr error, opts InspectOptions) ([]Inspection, error) {
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: neither PEM nor a kubeconfig: %w", path, err)
	}
	if len(cfg.Clusters) == 0 && len(cfg.AuthInfos) == 0 {
		return nil, fmt.Errorf("inspect %s: neither PEM nor a kubeconfig with clusters or users", path)
	}
	base := filepath.Dir(path)
	resolve := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	var out []Inspection
	for _, name := range sortedKeys(cfg.Clusters) {
		cl := cfg.Clusters[name]
		caPEM, from, err := embeddedOrFile(cl.CertificateAuthorityData, resolve(cl.CertificateAuthority))
		if err != nil {
			return out, fmt.Errorf("inspect the CA of cluster %q in %s: %w", name, path, err)
		}
		if caPEM == nil {
			continue
		}
		c, err := parseCertificatePEM(caPEM)
		if err != nil {
			return out, fmt.Errorf("inspect the CA of cluster %q in %s (%s): %w", name, path, from, err)
		}
		in := describe(c, fmt.Sprintf("%s: cluster %s", path, name), fmt.Sprintf("CA of cluster %s (%s): what clients trust to sign %s's serving certificate", name, from, textsafe.URL(cl.Server)), ca, caErr, opts)
		in.Key = KeyCheck{Status: KeyNotChecked, Detail: "a kubeconfig holds no CA key"}
		out = append(out, in)
	}
	for _, name := range sortedKeys(cfg.AuthInfos) {
		u := cfg.AuthInfos[name]
		certPEM, from, err := embeddedOrFile(u.ClientCertificateData, resolve(u.ClientCertificate))
		if err != nil {
			return out, fmt.Errorf("inspect the client certificate of user %q in %s: %w", name, path, err)
		}
		if certPEM == nil {
			continue
		}
		c, err := parseCertificatePEM(certPEM)
		if err != nil {
			return out, fmt.Errorf("inspect the client certificate of user %q in %s (%s): %w", name, path, from, err)
		}
		in := describe(c, fmt.Sprintf("%s: user %s", path, name), fmt.Sprintf("client certificate of user %s (%s)", name, from), ca, caErr, opts)
		keyPEM, keyFrom, err := embeddedOrFile(u.ClientKeyData, resolve(u.ClientKey))
		switch {
		case err != nil:
			in.Key = KeyCheck{Path: resolve(u.ClientKey), Status: KeyUnreadable, Detail: err.Error()}
		case keyPEM == nil:
			in.Key = KeyCheck{Status: KeyNotFound, Detail: "the user has no client key"}
		default:
			in.Key = matchKey(keyFrom, keyPEM, c)
		}
		in.Notes = append(in.Notes, keyNotes(in.Key)...)
		out = append(out, in)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("inspect %s: the kubeconfig has no certificates (no certificate-authority or client-certificate)", path)
	}
	return out, nil
}

func embeddedOrFile(data []byte, file string) ([]byte, string, error) {
	if len(data) > 0 {
		return data, "embedded", nil
	}
	if file == "" {
		return nil, "", nil
	}
	b, err := fsutil.ReadFile(file, fsutil.LimitPEM)
	if err != nil {
		return nil, file, fmt.Errorf("read %s: %w", file, err)
	}
	return b, file, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// describe fills everything but the key check.
func describe(c *x509.Certificate, source, role string, ca []*x509.Certificate, caErr error, opts InspectOptions) Inspection {
	in := Inspection{
		Source:             source,
		Role:               role,
		Subject:            c.Subject.String(),
		CommonName:         c.Subject.CommonName,
		Organization:       c.Subject.Organization,
		User:               c.Subject.CommonName,
		Groups:             slices.Clone(c.Subject.Organization),
		Issuer:             c.Issuer.String(),
		SelfSigned:         bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil,
		IsCA:               c.IsCA,
		SerialNumber:       fmt.Sprintf("%X", c.SerialNumber),
		DNSNames:           c.DNSNames,
		NotBefore:          c.NotBefore,
		NotAfter:           c.NotAfter,
		PublicKey:          PublicKeyString(c.PublicKey),
		SignatureAlgorithm: c.SignatureAlgorithm.String(),
		KeyUsages:          KeyUsageNames(c.KeyUsage),
		ExtKeyUsages:       ExtKeyUsageNames(c.ExtKeyUsage, c.UnknownExtKeyUsage),
		cert:               c,
	}
	if in.Groups == nil {
		in.Groups = []string{}
	}
	for _, ip := range c.IPAddresses {
		in.IPAddresses = append(in.IPAddresses, ip.String())
	}
	switch {
	case opts.Now.Before(c.NotBefore):
		in.Validity = NotYetValid
	case opts.Now.After(c.NotAfter):
		in.Validity = Expired
	default:
		in.Validity = ValidNow
	}
	in.Chain = chainCheck(c, ca, caErr, opts)
	in.Notes = notes(in, c, opts)
	return in
}

func chainCheck(c *x509.Certificate, cas []*x509.Certificate, caErr error, opts InspectOptions) Chain {
	ch := Chain{CAFile: opts.CAFile}
	if caErr != nil {
		ch.Status, ch.Detail = ChainNoCA, caErr.Error()
		if errors.Is(caErr, fs.ErrNotExist) {
			ch.Detail = "no CA at " + opts.CAFile
		}
		return ch
	}
	names := caNames(cas)
	var signer *x509.Certificate
	for i, ca := range cas {
		if bytes.Equal(c.Raw, ca.Raw) {
			ch.Status, ch.Detail = ChainIsCA, "this is "+opts.CAFile+" itself"
			if len(cas) > 1 {
				ch.Detail = fmt.Sprintf("this is certificate %d of %s itself", i+1, opts.CAFile)
			}
			return ch
		}
		if signer == nil && c.CheckSignatureFrom(ca) == nil {
			signer = ca
		}
	}
	switch {
	case signer == nil && c.IsCA && c.CheckSignatureFrom(c) == nil:
		ch.Status, ch.Detail = ChainDifferent, fmt.Sprintf("another self-signed CA (%s), not %s (%s)", c.Subject, opts.CAFile, names)
	case signer == nil:
		ch.Status, ch.Detail = ChainNotByCA, fmt.Sprintf("issued by %s, not signed by %s (%s)", c.Issuer, opts.CAFile, names)
	default:
		if err := certutil.VerifyChain(c, signer, opts.Now); err != nil {
			ch.Status, ch.Detail = ChainInvalid, fmt.Sprintf("signed by %s (%s), but does not verify: %v", opts.CAFile, signer.Subject, err)
		} else {
			ch.Status, ch.Detail = ChainVerified, fmt.Sprintf("signed by %s (%s)", opts.CAFile, signer.Subject)
		}
	}
	return ch
}

// caNames names the CA file's certificates by subject: "CN=a" for one,
// "a bundle of 2: CN=a; CN=b" for more.
func caNames(cas []*x509.Certificate) string {
	subjects := make([]string, len(cas))
	for i, ca := range cas {
		subjects[i] = ca.Subject.String()
	}
	if len(cas) == 1 {
		return subjects[0]
	}
	return fmt.Sprintf("a bundle of %d: %s", len(cas), strings.Join(subjects, "; "))
}

// keyFileCheck compares the certificate with the key next to it: x.key for
// x.crt (the lessons' names), x-key.pem for x.pem (cfssl's).
func keyFileCheck(certPath string, c *x509.Certificate) KeyCheck {
	ext := filepath.Ext(certPath)
	stem := strings.TrimSuffix(certPath, ext)
	candidates := []string{stem + ".key"}
	if ext == ".pem" {
		candidates = append(candidates, stem+"-key.pem")
	}
	for _, k := range candidates {
		if k == certPath {
			continue
		}
		data, err := fsutil.ReadFile(k, fsutil.LimitPEM)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return KeyCheck{Path: k, Status: KeyUnreadable, Detail: err.Error()}
		}
		return matchKey(k, data, c)
	}
	return KeyCheck{Path: candidates[0], Status: KeyNotFound, Detail: "no " + strings.Join(candidates, " or ")}
}

func matchKey(from string, keyPEM []byte, c *x509.Certificate) KeyCheck {
	k, err := parsePrivateKeyPEM(keyPEM)
	if err != nil {
		return KeyCheck{Path: from, Status: KeyUnreadable, Detail: err.Error()}
	}
	if !keyMatches(c.PublicKey, k) {
		return KeyCheck{Path: from, Status: KeyMismatch, Detail: "the key belongs to another certificate"}
	}
	return KeyCheck{Path: from, Status: KeyMatches}
}

func keyNotes(k KeyCheck) []string {
	if k.Status == KeyMismatch {
		return []string{"The private key " + k.Path + " is not this certificate's: a TLS handshake with the pair fails (\"private key does not match public key\")."}
	}
	return nil
}

// notes says, in sentences, what Kubernetes does with the certificate.
func notes(in Inspection, c *x509.Certificate, opts InspectOptions) []string {
	var n []string
	if c.IsCA {
		n = append(n, "A certificate authority: given to kube-apiserver as --client-ca-file, it makes the API server accept every client certificate it signed; in a kubeconfig it is what clients trust the API server's certificate with.")
	}
	client := hasEKU(c, x509.ExtKeyUsageClientAuth)
	server := hasEKU(c, x509.ExtKeyUsageServerAuth)
	if !c.IsCA {
		switch {
		case client:
			n = append(n, identityNote(in.User, in.Groups))
		case len(c.ExtKeyUsage) > 0:
			n = append(n, "No clientAuth usage: the API server refuses it as a client certificate.")
		}
	}
	if server && !c.IsCA {
		names := certutil.SANs(c)
		if len(names) == 0 {
			n = append(n, "A serving certificate without SANs: TLS clients check the name they dialled against the SANs and will refuse it.")
		} else {
			n = append(n, "As a serving certificate, clients may reach it as: "+strings.Join(names, ", ")+".")
		}
		if slices.ContainsFunc(course.RequiredSANs, func(s string) bool { return slices.Contains(names, s) }) {
			if missing := certutil.MissingSANs(c, course.RequiredSANs); len(missing) > 0 {
				n = append(n, "For the API server it lacks "+strings.Join(missing, ", ")+": clients using those names get \"x509: certificate is valid for ..., not ...\".")
			}
		}
	}
	switch in.Validity {
	case Expired:
		n = append(n, fmt.Sprintf("Expired on %s: TLS peers reject it (\"x509: certificate has expired or is not yet valid\").", c.NotAfter.UTC().Format(dateTimeForm)))
	case NotYetValid:
		n = append(n, fmt.Sprintf("Not valid before %s: is the clock right?", c.NotBefore.UTC().Format(dateTimeForm)))
	default:
		left := c.NotAfter.Sub(opts.Now)
		if left < 30*24*time.Hour {
			n = append(n, fmt.Sprintf("Expires in %s, on %s: reissue it soon.", inTime(left), c.NotAfter.UTC().Format(dateTimeForm)))
		}
	}
	switch in.Chain.Status {
	case ChainNotByCA, ChainDifferent:
		if client && !c.IsCA {
			n = append(n, "Not signed by "+in.Chain.CAFile+": an API server started with --client-ca-file="+in.Chain.CAFile+" answers 401 Unauthorized to it.")
		}
		if c.IsCA && in.Role != "" {
			n = append(n, "Not "+in.Chain.CAFile+": clients of this kubeconfig will say \"x509: certificate signed by unknown authority\" to an API server whose certificate "+in.Chain.CAFile+" signed.")
		}
	}
	return n
}

func identityNote(user string, groups []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Presented to the API server, it authenticates user %q", user)
	if len(groups) > 0 {
		fmt.Fprintf(&b, " in group(s) %s", strings.Join(groups, ", "))
	}
	b.WriteString(" (plus system:authenticated).")
	switch {
	case slices.Contains(groups, MastersGroup):
		b.WriteString(" system:masters is allowed everything: authorization, RBAC included, is bypassed.")
	case strings.HasPrefix(user, "system:node:") && slices.Contains(groups, NodesGroup):
		fmt.Fprintf(&b, " That is the kubelet of node %q: the Node authorizer lets it reach only its own node and pods.", strings.TrimPrefix(user, "system:node:"))
	case strings.HasPrefix(user, "system:node:"):
		b.WriteString(" A kubelet's user name, but without group system:nodes the Node authorizer will not recognize it.")
	case user == "system:kube-controller-manager" || user == "system:kube-scheduler" || user == "system:kube-proxy":
		fmt.Fprintf(&b, " RBAC's default ClusterRole %s is bound to that user.", user)
	case user == "kube-apiserver-kubelet-client":
		b.WriteString(" kube-apiserver presents it to kubelets (--kubelet-client-certificate) for logs, exec and port-forward.")
	case len(groups) == 0:
		b.WriteString(" With no groups, RBAC grants it only what is bound to this user by name.")
	}
	return b.String()
}

func hasEKU(c *x509.Certificate, want x509.ExtKeyUsage) bool {
	return slices.Contains(c.ExtKeyUsage, want) || slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny)
}

// PublicKeyString names a public key: "RSA 2048 bits", "ECDSA P-256".
func PublicKeyString(pub any) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d bits", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	default:
		return fmt.Sprintf("%T", pub)
	}
}

var keyUsageNames = []struct {
	u    x509.KeyUsage
	name string
}{
	{x509.KeyUsageDigitalSignature, "digital signature"},
	{x509.KeyUsageContentCommitment, "content commitment"},
	{x509.KeyUsageKeyEncipherment, "key encipherment"},
	{x509.KeyUsageDataEncipherment, "data encipherment"},
	{x509.KeyUsageKeyAgreement, "key agreement"},
	{x509.KeyUsageCertSign, "certificate sign"},
	{x509.KeyUsageCRLSign, "CRL sign"},
	{x509.KeyUsageEncipherOnly, "encipher only"},
	{x509.KeyUsageDecipherOnly, "decipher only"},
}

// KeyUsageNames lists key usages by name.
func KeyUsageNames(ku x509.KeyUsage) []string {
	var out []string
	for _, k := range keyUsageNames {
		if ku&k.u != 0 {
			out = append(out, k.name)
		}
	}
	return out
}

var extKeyUsageNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny:             "any",
	x509.ExtKeyUsageServerAuth:      "server auth",
	x509.ExtKeyUsageClientAuth:      "client auth",
	x509.ExtKeyUsageCodeSigning:     "code signing",
	x509.ExtKeyUsageEmailProtection: "email protection",
	x509.ExtKeyUsageTimeStamping:    "time stamping",
	x509.ExtKeyUsageOCSPSigning:     "OCSP signing",
}

// ExtKeyUsageNames lists extended key usages by name.
func ExtKeyUsageNames(ekus []x509.ExtKeyUsage, unknown []asn1.ObjectIdentifier) []string {
	var out []string
	for _, e := range ekus {
		if n, ok := extKeyUsageNames[e]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("extended key usage %d", e))
		}
	}
	for _, oid := range unknown {
		out = append(out, oid.String())
	}
	return out
}

// inTime says a time left as a person would: "27 days", "5 hours",
// "40 minutes".
func inTime(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= 48*time.Hour:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= 2*time.Hour:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute:
		return plural(int64(d/time.Minute), "minute")
	}
	return "less than a minute"
}
