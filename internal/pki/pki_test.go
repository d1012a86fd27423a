package pki

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/internal/certutil"
	"github.com/kubetutor/kubetutor/steps"
)

// component is one client identity Init makes, as the tests expect it.
type component struct {
	base, cn string
	orgs     []string
	conf     string // kubeconfig file name, "" for none
}

func components(node string, perComponent bool) []component {
	out := []component{{base: "admin", cn: "admin", orgs: []string{"system:masters"}, conf: "admin.conf"}}
	if perComponent {
		out = append(out,
			component{base: "controller-manager", cn: "system:kube-controller-manager", conf: "controller-manager.conf"},
			component{base: "scheduler", cn: "system:kube-scheduler", conf: "scheduler.conf"},
			component{base: "kubelet", cn: "system:node:" + node, orgs: []string{"system:nodes"}, conf: "kubelet.conf"},
			component{base: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}},
		)
	}
	return out
}

func TestInit(t *testing.T) {
	cases := []struct {
		name      string
		opts      Options
		extraSANs []string // as they must appear in server.crt
		keyType   string   // "RSA 2048 bits", "ECDSA P-256"
	}{
		{name: "defaults, as the lesson", keyType: "RSA 2048 bits"},
		{
			name:      "ecdsa with extra SANs",
			opts:      Options{KeyAlgo: "ecdsa", SANs: []string{"cp.example.com", " 192.168.1.10 ", "10.0.0.1", "*.apps.example.com"}},
			extraSANs: []string{"cp.example.com", "192.168.1.10", "*.apps.example.com"},
			keyType:   "ECDSA P-256",
		},
		{
			name:    "rsa 3072, per component",
			opts:    Options{KeyAlgo: "rsa", KeySize: 3072, PerComponent: true, NodeName: "Node-1"},
			keyType: "RSA 3072 bits",
		},
		{
			name:    "ecdsa p384, per component, certs in another dir",
			opts:    Options{KeyAlgo: "ECDSA", KeySize: 384, PerComponent: true, NodeName: "n1", CertsDir: "pki"},
			keyType: "ECDSA P-384",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := tc.opts
			opts.WorkDir = dir
			res, err := Init(opts)
			if err != nil {
				t.Fatalf("Init: %v", err)
			}
			certsDir := filepath.Join(dir, "certs")
			if opts.CertsDir != "" {
				certsDir = filepath.Join(dir, opts.CertsDir)
			}
			c := func(n string) string { return filepath.Join(certsDir, n) }
			node := strings.ToLower(opts.NodeName)
			comps := components(node, opts.PerComponent)

			// Every file, with its mode, and nothing else.
			want := map[string]fs.FileMode{
				c("ca.crt"): 0o644, c("ca.key"): 0o600, c("server.crt"): 0o644, c("server.key"): 0o600,
				c("service-account-key.pem"): 0o600, c("service-account.pem"): 0o644,
			}
			for _, comp := range comps {
				want[c(comp.base+".crt")], want[c(comp.base+".key")] = 0o644, 0o600
				if comp.conf != "" {
					want[filepath.Join(dir, comp.conf)] = 0o600
				}
			}
			if len(res.Files) != len(want) {
				t.Errorf("Init reported %d files, want %d: %+v", len(res.Files), len(want), res.Files)
			}
			for _, f := range res.Files {
				if m, ok := want[f.Path]; !ok || m != f.Mode || f.What == "" {
					t.Errorf("reported %s mode %o (%q); want mode %o (known: %v)", f.Path, f.Mode, f.What, m, ok)
				}
			}
			for p, mode := range want {
				fi, err := os.Stat(p)
				if err != nil {
					t.Errorf("%s: %v", p, err)
					continue
				}
				if fi.Mode().Perm() != mode {
					t.Errorf("%s has mode %o, want %o", p, fi.Mode().Perm(), mode)
				}
			}
			if fi, err := os.Stat(certsDir); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("certs dir %s: %v, mode %v, want 0700", certsDir, err, fi.Mode().Perm())
			}
			entries, _ := os.ReadDir(certsDir)
			for _, e := range entries {
				if _, ok := want[c(e.Name())]; !ok {
					t.Errorf("unexpected file %s in the certs dir", e.Name())
				}
			}

			ca := loadCert(t, c("ca.crt"))
			if !ca.IsCA || ca.Subject.CommonName != CACommonName || ca.CheckSignatureFrom(ca) != nil || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
				t.Errorf("ca.crt: IsCA %v, subject %s, key usage %v: want a self-signed CA %s that signs certificates", ca.IsCA, ca.Subject, ca.KeyUsage, CACommonName)
			}
			if got := ca.NotAfter.Sub(ca.NotBefore); got < DefaultCAValidity {
				t.Errorf("ca.crt is valid for %s, want at least %s", got, DefaultCAValidity)
			}
			roots := x509.NewCertPool()
			roots.AddCert(ca)
			verify := func(cert *x509.Certificate, usage x509.ExtKeyUsage) error {
				_, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}})
				return err
			}

			// The API server's certificate: both usages, every SAN, the lesson's subject.
			server := loadCert(t, c("server.crt"))
			for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
				if err := verify(server, u); err != nil {
					t.Errorf("server.crt does not verify against ca.crt for usage %v: %v", u, err)
				}
			}
			wantSANs := append(slices.Clone(checks.RequiredSANs), tc.extraSANs...)
			if missing := certutil.MissingSANs(server, wantSANs); len(missing) > 0 {
				t.Errorf("server.crt lacks SANs %v (has %v)", missing, certutil.SANs(server))
			}
			if got := certutil.SANs(server); len(got) != len(wantSANs) {
				t.Errorf("server.crt SANs = %v, want exactly %v", got, wantSANs)
			}
			if err := server.VerifyHostname("10.0.0.1"); err != nil {
				t.Errorf("server.crt does not cover 10.0.0.1: %v", err)
			}
			if server.Subject.CommonName != "admin" || !slices.Equal(server.Subject.Organization, []string{"system:masters"}) {
				t.Errorf("server.crt subject = %s, want CN=admin, O=system:masters", server.Subject)
			}
			if server.IsCA {
				t.Error("server.crt is a CA")
			}
			if got := server.NotAfter.Sub(server.NotBefore); got < DefaultValidity || got > DefaultValidity+time.Hour {
				t.Errorf("server.crt is valid for %s, want %s", got, DefaultValidity)
			}
			checkKey(t, server, c("server.key"), tc.keyType)

			// The client identities.
			for _, comp := range comps {
				cert := loadCert(t, c(comp.base+".crt"))
				if cert.Subject.CommonName != comp.cn || !slices.Equal(cert.Subject.Organization, comp.orgs) {
					t.Errorf("%s.crt subject = %s, want CN=%s O=%v", comp.base, cert.Subject, comp.cn, comp.orgs)
				}
				if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
					t.Errorf("%s.crt ext key usages = %v, want clientAuth only", comp.base, cert.ExtKeyUsage)
				}
				if err := verify(cert, x509.ExtKeyUsageClientAuth); err != nil {
					t.Errorf("%s.crt does not verify as a client certificate: %v", comp.base, err)
				}
				if err := verify(cert, x509.ExtKeyUsageServerAuth); err == nil {
					t.Errorf("%s.crt verifies as a serving certificate; it must be client-only", comp.base)
				}
				if len(certutil.SANs(cert)) != 0 {
					t.Errorf("%s.crt has SANs %v", comp.base, certutil.SANs(cert))
				}
				checkKey(t, cert, c(comp.base+".key"), tc.keyType)
				if comp.conf != "" {
					checkKubeconfig(t, filepath.Join(dir, comp.conf), comp.cn, c("ca.crt"), c(comp.base+".crt"), c(comp.base+".key"))
				}
			}

			// The ServiceAccount key pair: RSA, PKCS#1 private and PKIX public.
			saKey := readPEM(t, c("service-account-key.pem"), "RSA PRIVATE KEY")
			priv, err := x509.ParsePKCS1PrivateKey(saKey.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			pubBlock := readPEM(t, c("service-account.pem"), "PUBLIC KEY")
			pub, err := x509.ParsePKIXPublicKey(pubBlock.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if !checks.PublicKeysEqual(pub, priv.Public()) {
				t.Error("service-account.pem is not the public half of service-account-key.pem")
			}

			// The independent judge: openssl.
			opensslChecks(t, c, comps, wantSANs)

			// kubetutor's own certs step passes on what was made.
			s, _, err := steps.Lookup("certs")
			if err != nil {
				t.Fatal(err)
			}
			if opts.CertsDir == "" {
				env := checks.NewEnv(dir)
				env.Kubeconfig = res.Kubeconfig
				r := steps.Evaluate(context.Background(), env, s)
				for _, ch := range r.Checks {
					if ch.Status != checks.Pass {
						t.Errorf("step certs, check %s: %s %s", ch.Name, ch.Status, ch.Message)
					}
				}
				if r.Status != steps.Pass || len(r.Checks) != len(s.Checks) {
					t.Errorf("step certs = %s with %d checks, want pass with %d", r.Status, len(r.Checks), len(s.Checks))
				}
			}
		})
	}
}

func opensslChecks(t *testing.T, c func(string) string, comps []component, sans []string) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	certs := []string{c("server.crt")}
	for _, comp := range comps {
		certs = append(certs, c(comp.base+".crt"))
	}
	out := openssl(t, append([]string{"verify", "-CAfile", c("ca.crt")}, certs...)...)
	for _, p := range certs {
		if !strings.Contains(out, p+": OK") {
			t.Errorf("openssl verify: no %q in\n%s", p+": OK", out)
		}
	}
	// The purpose checks of openssl verify, both ways.
	openssl(t, "verify", "-CAfile", c("ca.crt"), "-purpose", "sslserver", c("server.crt"))
	openssl(t, "verify", "-CAfile", c("ca.crt"), "-purpose", "sslclient", c("server.crt"))
	openssl(t, "verify", "-CAfile", c("ca.crt"), "-purpose", "sslclient", c("admin.crt"))
	if out, err := exec.Command("openssl", "verify", "-CAfile", c("ca.crt"), "-purpose", "sslserver", c("admin.crt")).CombinedOutput(); err == nil {
		t.Errorf("openssl verify -purpose sslserver admin.crt succeeded; admin.crt must be client-only:\n%s", out)
	}

	text := openssl(t, "x509", "-in", c("server.crt"), "-noout", "-text")
	want := []string{
		"Issuer: CN = kubernetes-ca",
		"O = system:masters",
		"CN = admin",
		"X509v3 Subject Alternative Name",
		"TLS Web Server Authentication, TLS Web Client Authentication",
		"CA:FALSE",
	}
	for _, s := range sans {
		if strings.Count(s, ".") == 3 && !strings.ContainsAny(s, "abcdefghijklmnopqrstuvwxyz*") {
			want = append(want, "IP Address:"+s)
		} else {
			want = append(want, "DNS:"+s)
		}
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("openssl x509 -text of server.crt lacks %q:\n%s", w, text)
		}
	}
	if ca := openssl(t, "x509", "-in", c("ca.crt"), "-noout", "-text"); !strings.Contains(ca, "CA:TRUE") || !strings.Contains(ca, "Certificate Sign") {
		t.Errorf("openssl x509 -text of ca.crt lacks CA:TRUE or Certificate Sign:\n%s", ca)
	}
	// Each key is the one of its certificate, by openssl's reckoning.
	for _, base := range append([]string{"ca", "server"}, bases(comps)...) {
		fromCert := openssl(t, "x509", "-in", c(base+".crt"), "-noout", "-pubkey")
		fromKey := openssl(t, "pkey", "-in", c(base+".key"), "-pubout")
		if fromCert != fromKey {
			t.Errorf("openssl: the public key of %s.crt is not that of %s.key", base, base)
		}
	}
	fromPriv := openssl(t, "pkey", "-in", c("service-account-key.pem"), "-pubout")
	fromPub := openssl(t, "pkey", "-pubin", "-in", c("service-account.pem"))
	if fromPriv != fromPub {
		t.Error("openssl: service-account.pem is not the public half of service-account-key.pem")
	}
}

func bases(comps []component) []string {
	var out []string
	for _, c := range comps {
		out = append(out, c.base)
	}
	return out
}

func openssl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func loadCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	block := readPEM(t, path, "CERTIFICATE")
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

func readPEM(t *testing.T, path, typ string) *pem.Block {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != typ || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("%s: want one PEM block %q", path, typ)
	}
	return block
}

func checkKey(t *testing.T, cert *x509.Certificate, keyPath, keyType string) {
	t.Helper()
	key, err := checks.LoadPrivateKey(keyPath)
	if err != nil {
		t.Fatalf("%s: %v", keyPath, err)
	}
	if !checks.PublicKeysEqual(cert.PublicKey, key.Public()) {
		t.Errorf("%s does not match its certificate %s", keyPath, cert.Subject)
	}
	if got := PublicKeyString(cert.PublicKey); got != keyType {
		t.Errorf("%s: key %s, want %s", keyPath, got, keyType)
	}
	switch key.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey:
	default:
		t.Errorf("%s: unexpected key type %T", keyPath, key)
	}
}

func checkKubeconfig(t *testing.T, path, user, caFile, certFile, keyFile string) {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if cfg.CurrentContext != "default" {
		t.Errorf("%s: current-context %q, want default", path, cfg.CurrentContext)
	}
	kctx := cfg.Contexts["default"]
	if kctx == nil || kctx.Cluster != "local-apiserver" || kctx.AuthInfo != user {
		t.Fatalf("%s: context default = %+v, want cluster local-apiserver, user %s", path, kctx, user)
	}
	cl := cfg.Clusters["local-apiserver"]
	if cl == nil || cl.Server != "https://127.0.0.1:6443" || !bytes.Equal(cl.CertificateAuthorityData, read(caFile)) {
		t.Errorf("%s: cluster local-apiserver = %+v, want server https://127.0.0.1:6443 with ca.crt embedded", path, cl)
	}
	u := cfg.AuthInfos[user]
	if u == nil || !bytes.Equal(u.ClientCertificateData, read(certFile)) || !bytes.Equal(u.ClientKeyData, read(keyFile)) {
		t.Errorf("%s: user %s does not embed %s and %s", path, user, certFile, keyFile)
	}
	if len(cfg.Clusters) != 1 || len(cfg.AuthInfos) != 1 || len(cfg.Contexts) != 1 {
		t.Errorf("%s: %d clusters, %d users, %d contexts; want one of each", path, len(cfg.Clusters), len(cfg.AuthInfos), len(cfg.Contexts))
	}
}

func TestInitKubeconfigElsewhere(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(t.TempDir(), "sub", "my.conf")
	res, err := Init(Options{WorkDir: dir, Kubeconfig: kc, PerComponent: true, NodeName: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Kubeconfig != kc {
		t.Errorf("Result.Kubeconfig = %s, want %s", res.Kubeconfig, kc)
	}
	checkKubeconfig(t, kc, "admin", filepath.Join(dir, "certs", "ca.crt"), filepath.Join(dir, "certs", "admin.crt"), filepath.Join(dir, "certs", "admin.key"))
	// The components' kubeconfigs go next to it; none lands in the work dir.
	for _, name := range []string{"scheduler.conf", "controller-manager.conf", "kubelet.conf"} {
		if _, err := os.Stat(filepath.Join(filepath.Dir(kc), name)); err != nil {
			t.Errorf("%s not next to the kubeconfig: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "admin.conf")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("admin.conf written to the work dir although the kubeconfig is %s", kc)
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	cases := []struct {
		name     string
		existing []string // files made beforehand, relative to the work dir; "*" for a whole Init
		force    bool
		want     []string // the files the error names
	}{
		{name: "everything exists", existing: []string{"*"}, want: []string{
			"certs/ca.crt", "certs/ca.key", "certs/server.crt", "certs/server.key", "certs/service-account-key.pem",
			"certs/service-account.pem", "certs/admin.crt", "certs/admin.key", "admin.conf"}},
		{name: "only the kubeconfig exists", existing: []string{"admin.conf"}, want: []string{"admin.conf"}},
		{name: "a hand-made CA exists", existing: []string{"certs/ca.crt", "certs/ca.key"}, want: []string{"certs/ca.crt", "certs/ca.key"}},
		{name: "force replaces everything", existing: []string{"*"}, force: true},
		{name: "force replaces a loose key", existing: []string{"certs/server.key"}, force: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, e := range tc.existing {
				if e == "*" {
					if _, err := Init(Options{WorkDir: dir}); err != nil {
						t.Fatal(err)
					}
					continue
				}
				p := filepath.Join(dir, e)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("mine\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			before := snapshot(t, dir)
			_, err := Init(Options{WorkDir: dir, Force: tc.force})
			after := snapshot(t, dir)
			if tc.force {
				if err != nil {
					t.Fatalf("Init with Force: %v", err)
				}
				for p, data := range before {
					if bytes.Equal(after[p], data) {
						t.Errorf("Force left %s as it was", p)
					}
				}
				if fi, err := os.Stat(filepath.Join(dir, "certs", "server.key")); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("server.key after Force: %v, mode %v, want 0600", err, fi.Mode().Perm())
				}
				return
			}
			var exists *ExistsError
			if !errors.As(err, &exists) {
				t.Fatalf("Init over existing files: %v, want an ExistsError", err)
			}
			var want []string
			for _, w := range tc.want {
				want = append(want, filepath.Join(dir, w))
			}
			if !slices.Equal(exists.Paths, want) {
				t.Errorf("ExistsError.Paths = %v, want %v", exists.Paths, want)
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
			if !maps.EqualFunc(before, after, bytes.Equal) {
				t.Errorf("a refused Init changed the work dir: before %v, after %v", keys(before), keys(after))
			}
		})
	}
}

func TestInitInvalidOptions(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"unknown algorithm", Options{KeyAlgo: "dsa"}, `key algorithm "dsa"`},
		{"weak RSA", Options{KeyAlgo: "rsa", KeySize: 1024}, "RSA key size 1024"},
		{"huge RSA", Options{KeySize: 16384}, "RSA key size 16384"},
		{"no such curve", Options{KeyAlgo: "ecdsa", KeySize: 2048}, "ECDSA key size 2048"},
		{"SAN with a scheme", Options{SANs: []string{"https://cp.example.com"}}, `SAN "https://cp.example.com"`},
		{"SAN with an underscore", Options{SANs: []string{"bad_name"}}, `SAN "bad_name"`},
		{"node name with a space", Options{PerComponent: true, NodeName: "my node"}, `node name "my node"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.opts.WorkDir = dir
			_, err := Init(tc.opts)
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Init = %v, want ErrInvalidOptions mentioning %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("invalid options wrote %d entries into the work dir", len(entries))
			}
		})
	}
}

// snapshot reads every regular file under dir.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func keys(m map[string][]byte) []string {
	return slices.Sorted(maps.Keys(m))
}
