// Package pki makes the course's certificates, keys and kubeconfigs with
// cfssl (the library, not the binary): what the certs lesson does with
// openssl and kubectl config, plus, on request, one client identity per
// component as a real cluster has. It also explains certificates to a human
// (Inspect).
package pki

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/helpers"
	"github.com/cloudflare/cfssl/initca"
	cflog "github.com/cloudflare/cfssl/log"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/fsutil"
)

// Names the lessons use.
const (
	// CACommonName is the CA's subject, as in the lesson's openssl command.
	CACommonName = "kubernetes-ca"
	// ClusterName, ContextName and AdminUser are the kubeconfig's entries.
	ClusterName = "local-apiserver"
	ContextName = "default"
	AdminUser   = "admin"
	// MastersGroup is the group the API server grants everything.
	MastersGroup = "system:masters"
	// NodesGroup is the group of every kubelet.
	NodesGroup = "system:nodes"
	// DefaultCertsDir is where the certificates go, under the work dir.
	DefaultCertsDir = "certs"
	// DefaultKubeconfig is the admin kubeconfig, in the work dir.
	DefaultKubeconfig = "admin.conf"
	// DefaultKeyAlgo is the key algorithm the lesson uses (openssl genrsa).
	DefaultKeyAlgo = "rsa"
)

// Files written besides checks' six.
const (
	AdminCertFile = "admin.crt"
	AdminKeyFile  = "admin.key"
)

// Default lifetimes: the lesson's -days 365 for the leaves, ten years for
// the CA so that reissuing a leaf never means redistributing the CA.
const (
	DefaultValidity   = 365 * 24 * time.Hour
	DefaultCAValidity = 10 * 365 * 24 * time.Hour
)

// ErrInvalidOptions is wrapped by every error about Options themselves.
var ErrInvalidOptions = errors.New("invalid options")

// ExistsError is returned when files would be overwritten without Force.
type ExistsError struct {
	// Paths are the files that exist, in the order they would be written.
	Paths []string
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("refusing to overwrite existing files: %s", strings.Join(e.Paths, ", "))
}

// Options say what Init makes and where.
type Options struct {
	// WorkDir is the work directory; default ".".
	WorkDir string
	// CertsDir holds the certificates and keys; relative paths are under
	// WorkDir. Default "certs".
	CertsDir string
	// Kubeconfig is the admin kubeconfig; default WorkDir/admin.conf. The
	// per-component kubeconfigs go next to it.
	Kubeconfig string
	// SANs are names and addresses added to the API server's certificate,
	// besides course.RequiredSANs.
	SANs []string
	// Force overwrites existing files.
	Force bool
	// PerComponent adds a client certificate and a kubeconfig for the
	// controller-manager, the scheduler and the kubelet, and the API
	// server's kubelet client certificate.
	PerComponent bool
	// NodeName names the kubelet's identity (system:node:NAME); default the
	// host name, in lower case.
	NodeName string
	// KeyAlgo is "rsa" or "ecdsa"; default "rsa".
	KeyAlgo string
	// KeySize is the RSA modulus size (2048-8192, default 2048) or the
	// ECDSA curve size (256, 384 or 521, default 256).
	KeySize int
	// APIServerURL is the server the kubeconfigs name; default
	// course.APIServerURL.
	APIServerURL string
	// Validity and CAValidity are the certificates' lifetimes.
	Validity, CAValidity time.Duration
}

// File is one file Init wrote.
type File struct {
	Path string      `json:"path"`
	Mode fs.FileMode `json:"mode"`
	// What says what the file is, for a human.
	What string `json:"what"`
}

// Result lists what Init wrote, in order.
type Result struct {
	CertsDir   string `json:"certsDir"`
	Kubeconfig string `json:"kubeconfig"`
	Files      []File `json:"files"`
}

// identity is one certificate to issue.
type identity struct {
	base    string   // file base name: base.crt, base.key
	cn      string   // subject CN: the Kubernetes user
	orgs    []string // subject O: the Kubernetes groups
	hosts   []string // SANs (serving certificates only)
	profile string   // cfssl signing profile
	conf    string   // kubeconfig file name, if any
	what    string   // for a human
}

const (
	profileServer = "server"
	profileClient = "client"
)

// planned is one file to write.
type planned struct {
	path string
	mode fs.FileMode
	what string
	data []byte
}

// Init generates the CA, the API server's certificate, the service-account
// key pair, admin's client certificate and the kubeconfig (and, with
// PerComponent, the components' identities), then writes them. Nothing is
// written when generation fails or, without Force, when any file exists.
func Init(opts Options) (*Result, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	silenceCFSSL()

	ids := o.identities()
	kubeconfigDir := filepath.Dir(o.Kubeconfig)
	files := o.fileNames(ids, kubeconfigDir)
	if !o.Force {
		var exist []string
		for _, p := range files {
			if _, err := os.Lstat(p); err == nil {
				exist = append(exist, p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("check whether %s exists: %w", p, err)
			}
		}
		if len(exist) > 0 {
			return nil, &ExistsError{Paths: exist}
		}
	}

	plan, err := o.generate(ids, kubeconfigDir)
	if err != nil {
		return nil, err
	}

	if err := ensurePrivateDir(o.CertsDir, o.WorkDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(kubeconfigDir, 0o755); err != nil {
		return nil, fmt.Errorf("create the kubeconfig directory %s: %w", kubeconfigDir, err)
	}
	// All or nothing: the CA, its key and what it signed belong together.
	// Should one file fail (read-only, immutable, a directory in its place)
	// every file keeps its old content.
	res := &Result{CertsDir: o.CertsDir, Kubeconfig: o.Kubeconfig}
	var batch fsutil.Batch
	for _, p := range plan {
		batch.Add(p.path, p.data, p.mode)
	}
	if err := batch.Commit(); err != nil {
		return res, fmt.Errorf("%w; no file was changed", err)
	}
	for _, p := range plan {
		res.Files = append(res.Files, File{Path: p.path, Mode: p.mode, What: p.what})
	}
	return res, nil
}

func (opts Options) withDefaults() (Options, error) {
	o := opts
	if o.WorkDir == "" {
		o.WorkDir = "."
	}
	if o.CertsDir == "" {
		o.CertsDir = DefaultCertsDir
	}
	if !filepath.IsAbs(o.CertsDir) {
		o.CertsDir = filepath.Join(o.WorkDir, o.CertsDir)
	}
	if o.Kubeconfig == "" {
		o.Kubeconfig = filepath.Join(o.WorkDir, DefaultKubeconfig)
	}
	if o.APIServerURL == "" {
		o.APIServerURL = course.APIServerURL
	}
	if o.Validity <= 0 {
		o.Validity = DefaultValidity
	}
	if o.CAValidity <= 0 {
		o.CAValidity = DefaultCAValidity
	}
	o.KeyAlgo = strings.ToLower(o.KeyAlgo)
	if o.KeyAlgo == "" {
		o.KeyAlgo = DefaultKeyAlgo
	}
	switch o.KeyAlgo {
	case "rsa":
		if o.KeySize == 0 {
			o.KeySize = 2048
		}
		if o.KeySize < 2048 || o.KeySize > 8192 {
			return o, fmt.Errorf("%w: RSA key size %d: use 2048 to 8192 bits", ErrInvalidOptions, o.KeySize)
		}
	case "ecdsa":
		if o.KeySize == 0 {
			o.KeySize = 256
		}
		if o.KeySize != 256 && o.KeySize != 384 && o.KeySize != 521 {
			return o, fmt.Errorf("%w: ECDSA key size %d: use 256, 384 or 521 (the curves P-256, P-384, P-521)", ErrInvalidOptions, o.KeySize)
		}
	default:
		return o, fmt.Errorf("%w: key algorithm %q: use rsa or ecdsa", ErrInvalidOptions, opts.KeyAlgo)
	}
	sans, err := normalizeSANs(o.SANs)
	if err != nil {
		return o, err
	}
	o.SANs = sans
	if o.PerComponent && o.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return o, fmt.Errorf("find the host name for the kubelet's identity (give a node name instead): %w", err)
		}
		o.NodeName = h
	}
	o.NodeName = strings.ToLower(o.NodeName)
	if o.PerComponent {
		if errs := validation.IsDNS1123Subdomain(o.NodeName); len(errs) > 0 {
			return o, fmt.Errorf("%w: node name %q: %s", ErrInvalidOptions, o.NodeName, strings.Join(errs, "; "))
		}
	}
	return o, nil
}

// normalizeSANs validates extra SANs and returns RequiredSANs plus them,
// without duplicates.
func normalizeSANs(extra []string) ([]string, error) {
	out := slices.Clone(course.RequiredSANs)
	for _, s := range extra {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if ip := net.ParseIP(s); ip != nil {
			s = ip.String()
		} else if allNumericLabels(s) {
			return nil, fmt.Errorf("%w: SAN %q looks like an IPv4 address but is not one (each part must be 0 to 255)", ErrInvalidOptions, s)
		} else {
			s = strings.ToLower(strings.TrimSuffix(s, "."))
			if len(validation.IsDNS1123Subdomain(s)) > 0 && len(validation.IsWildcardDNS1123Subdomain(s)) > 0 {
				return nil, fmt.Errorf("%w: SAN %q is neither an IP address nor a DNS name", ErrInvalidOptions, s)
			}
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// allNumericLabels tells whether every dot-separated part of s is digits:
// a mistyped IPv4 address, never a DNS name (a top-level domain is not
// all-numeric).
func allNumericLabels(s string) bool {
	for _, l := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if l == "" || strings.Trim(l, "0123456789") != "" {
			return false
		}
	}
	return true
}

func (o Options) identities() []identity {
	ids := []identity{
		{
			base: strings.TrimSuffix(course.ServerCertFile, ".crt"), cn: AdminUser, orgs: []string{MastersGroup},
			hosts: o.SANs, profile: profileServer,
			what: "kube-apiserver's serving certificate (CN=admin, O=system:masters, as in the lesson, so it also works as admin's client certificate)",
		},
		{
			base: "admin", cn: AdminUser, orgs: []string{MastersGroup}, profile: profileClient, conf: filepath.Base(o.Kubeconfig),
			what: "admin's client certificate: user admin, group system:masters",
		},
	}
	if !o.PerComponent {
		return ids
	}
	for _, c := range course.Components() {
		if c.Identity != nil {
			ids = append(ids, componentIdentity(c.Name, *c.Identity, o.NodeName))
		}
	}
	return ids
}

// componentIdentity is a component's own client certificate, from the
// course's table.
func componentIdentity(name string, id course.Identity, node string) identity {
	user := id.User(node)
	what := fmt.Sprintf("%s's client certificate: user %s", name, user)
	if len(id.Orgs) > 0 {
		what += ", group " + strings.Join(id.Orgs, ", ")
	}
	if id.For != "" {
		what = fmt.Sprintf("%s's client certificate for %s", name, id.For)
	}
	return identity{base: id.Base, cn: user, orgs: id.Orgs, profile: profileClient, conf: id.Kubeconfig, what: what}
}

// fileNames lists every path Init writes, in order.
func (o Options) fileNames(ids []identity, kubeconfigDir string) []string {
	c := func(n string) string { return filepath.Join(o.CertsDir, n) }
	out := []string{c(course.CAFile), c(course.CAKeyFile)}
	for _, id := range ids {
		out = append(out, c(id.base+".crt"), c(id.base+".key"))
		if id.base == "server" {
			out = append(out, c(course.ServiceAccountKeyFile), c(course.ServiceAccountPubFile))
		}
	}
	for _, id := range ids {
		if id.conf != "" {
			out = append(out, o.kubeconfigPath(id, kubeconfigDir))
		}
	}
	return out
}

func (o Options) kubeconfigPath(id identity, kubeconfigDir string) string {
	if id.base == "admin" {
		return o.Kubeconfig
	}
	return filepath.Join(kubeconfigDir, id.conf)
}

func (o Options) keyRequest() *csr.KeyRequest {
	return &csr.KeyRequest{A: o.KeyAlgo, S: o.KeySize}
}

// issued is one identity's certificate and key, PEM.
type issued struct {
	cert, key []byte
}

// generate makes every file's content, in memory.
func (o Options) generate(ids []identity, kubeconfigDir string) ([]planned, error) {
	caCert, caKeyPEM, sign, err := o.newCA()
	if err != nil {
		return nil, err
	}
	keys, saKey, err := o.newKeys(ids)
	if err != nil {
		return nil, err
	}
	certs, err := signAll(sign, ids, keys)
	if err != nil {
		return nil, err
	}
	saPub, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return nil, fmt.Errorf("encode the service-account public key: %w", err)
	}

	c := func(n string) string { return filepath.Join(o.CertsDir, n) }
	plan := []planned{
		{c(course.CAFile), 0o644, "CA certificate (CN=" + CACommonName + ")", caCert},
		{c(course.CAKeyFile), 0o600, "CA private key: whoever has it can issue any identity", caKeyPEM},
	}
	for _, id := range ids {
		is := certs[id.base]
		plan = append(plan,
			planned{c(id.base + ".crt"), 0o644, id.what, is.cert},
			planned{c(id.base + ".key"), 0o600, "private key of " + id.base + ".crt", is.key},
		)
		if id.base == "server" {
			plan = append(plan,
				planned{c(course.ServiceAccountKeyFile), 0o600, "ServiceAccount token signing key (RSA)",
					pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)})},
				planned{c(course.ServiceAccountPubFile), 0o644, "ServiceAccount token verification key (public half)",
					pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub})},
			)
		}
	}
	return o.planKubeconfigs(plan, ids, kubeconfigDir, caCert, certs)
}

// keyed is one identity's new key and its certificate request, PEM.
type keyed struct {
	csr, key []byte
	err      error
}

// newKeys makes every identity's key and CSR, and the service-account
// key. Keys are the slow part: they are made in parallel. An identity's
// error is in its keyed, for the caller to return in order.
func (o Options) newKeys(ids []identity) ([]keyed, *rsa.PrivateKey, error) {
	keys := make([]keyed, len(ids))
	var saKey *rsa.PrivateKey
	var saErr error
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			req := &csr.CertificateRequest{CN: id.cn, Hosts: id.hosts, KeyRequest: o.keyRequest()}
			for _, org := range id.orgs {
				req.Names = append(req.Names, csr.Name{O: org})
			}
			c, k, err := csr.ParseRequest(req)
			if err != nil {
				err = fmt.Errorf("generate the key and CSR for %s (%s %d): %w", id.base, o.KeyAlgo, o.KeySize, err)
			}
			keys[i] = keyed{csr: c, key: k, err: err}
		})
	}
	wg.Go(func() {
		// ServiceAccount tokens are signed with RSA, as the lesson does.
		size := 2048
		if o.KeyAlgo == "rsa" {
			size = o.KeySize
		}
		k, err := (&csr.KeyRequest{A: "rsa", S: size}).Generate()
		if err != nil {
			saErr = fmt.Errorf("generate the service-account key: %w", err)
			return
		}
		saKey = k.(*rsa.PrivateKey)
	})
	wg.Wait()
	return keys, saKey, saErr
}

// signAll signs every identity's CSR with the CA, in order.
func signAll(sign *local.Signer, ids []identity, keys []keyed) (map[string]issued, error) {
	certs := map[string]issued{}
	for i, id := range ids {
		if keys[i].err != nil {
			return nil, keys[i].err
		}
		req := signer.SignRequest{Request: string(keys[i].csr), Profile: id.profile, Hosts: id.hosts}
		if req.Hosts == nil {
			req.Hosts = []string{} // a client certificate has no SANs
		}
		cert, err := sign.Sign(req)
		if err != nil {
			return nil, fmt.Errorf("sign the certificate for %s with the CA: %w", id.base, err)
		}
		certs[id.base] = issued{cert: cert, key: keys[i].key}
	}
	return certs, nil
}

// planKubeconfigs adds the kubeconfig of every identity that has one.
func (o Options) planKubeconfigs(plan []planned, ids []identity, kubeconfigDir string, caCert []byte, certs map[string]issued) ([]planned, error) {
	for _, id := range ids {
		if id.conf == "" {
			continue
		}
		is := certs[id.base]
		data, err := clientcmd.Write(Kubeconfig(o.APIServerURL, caCert, is.cert, is.key, id.cn))
		if err != nil {
			return nil, fmt.Errorf("encode the kubeconfig for %s: %w", id.cn, err)
		}
		plan = append(plan, planned{o.kubeconfigPath(id, kubeconfigDir), 0o600,
			fmt.Sprintf("kubeconfig: cluster %s at %s, user %s, context %s", ClusterName, o.APIServerURL, id.cn, ContextName), data})
	}
	return plan, nil
}

// newCA makes the self-signed CA with cfssl's initca and a local signer
// with the course's two profiles.
func (o Options) newCA() (certPEM, keyPEM []byte, s *local.Signer, err error) {
	certPEM, _, keyPEM, err = initca.New(&csr.CertificateRequest{
		CN:         CACommonName,
		KeyRequest: o.keyRequest(),
		CA:         &csr.CAConfig{Expiry: o.CAValidity.String()},
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create the CA (%s %d): %w", o.KeyAlgo, o.KeySize, err)
	}
	cert, err := helpers.ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parse the new CA certificate: %w", err)
	}
	priv, err := helpers.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parse the new CA key: %w", err)
	}
	s, err = local.NewSigner(priv, cert, signer.DefaultSigAlgo(priv), o.policy(priv))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create a signer for the CA: %w", err)
	}
	return certPEM, keyPEM, s, nil
}

// policy is the signing policy: a serving profile (server and client auth,
// as the lesson's certificate serves both sides) and a client profile.
func (o Options) policy(priv crypto.Signer) *config.Signing {
	keyUsages := []string{"digital signature"}
	if _, ok := priv.Public().(*rsa.PublicKey); ok {
		// RSA key exchange encrypts with the certificate's key.
		keyUsages = append(keyUsages, "key encipherment")
	}
	profile := func(ext ...string) *config.SigningProfile {
		return &config.SigningProfile{
			Usage:        append(slices.Clone(keyUsages), ext...),
			Expiry:       o.Validity,
			ExpiryString: o.Validity.String(),
		}
	}
	return &config.Signing{
		Default: profile("client auth"),
		Profiles: map[string]*config.SigningProfile{
			profileServer: profile("server auth", "client auth"),
			profileClient: profile("client auth"),
		},
	}
}

// Kubeconfig is the kubeconfig the lesson builds with kubectl config: one
// cluster (local-apiserver, CA embedded), one user with its certificate and
// key embedded, and the context default.
func Kubeconfig(server string, caPEM, certPEM, keyPEM []byte, user string) clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[ClusterName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	cfg.Contexts[ContextName] = &clientcmdapi.Context{Cluster: ClusterName, AuthInfo: user}
	cfg.CurrentContext = ContextName
	return *cfg
}

// ensurePrivateDir creates dir with mode 0700, or tightens an existing one:
// it holds private keys. The work dir itself is left as it is.
func ensurePrivateDir(dir, workDir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create the certificates directory %s: %w", dir, err)
		}
	case err != nil:
		return fmt.Errorf("check the certificates directory %s: %w", dir, err)
	case !fi.IsDir():
		return fmt.Errorf("create the certificates directory %s: it exists and is not a directory", dir)
	}
	if same(dir, workDir) {
		return nil
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("make the certificates directory %s private (0700): %w", dir, err)
	}
	return nil
}

func same(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

var silenceOnce sync.Once

// silenceCFSSL stops cfssl's library logging ("[INFO] generating key"):
// kubetutor reports what happened itself and cfssl's errors are returned.
func silenceCFSSL() {
	silenceOnce.Do(func() { cflog.Level = cflog.LevelFatal + 1 })
}
