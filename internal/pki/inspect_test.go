package pki

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

func TestInspectFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(Options{WorkDir: dir, PerComponent: true, NodeName: "n1", SANs: []string{"cp.example.com"}}); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if _, err := Init(Options{WorkDir: other, KeyAlgo: "ecdsa"}); err != nil {
		t.Fatal(err)
	}
	c := func(n string) string { return filepath.Join(dir, "certs", n) }
	caFile := c("ca.crt")

	// A certificate next to the wrong key.
	mismatch := filepath.Join(t.TempDir(), "x.crt")
	copyFile(t, c("server.crt"), mismatch)
	copyFile(t, c("admin.key"), strings.TrimSuffix(mismatch, ".crt")+".key")

	// A bundle: two certificates in one file.
	bundle := filepath.Join(t.TempDir(), "bundle.pem")
	writeFile(t, bundle, string(readFile(t, c("server.crt")))+string(readFile(t, caFile)))

	// A kubeconfig that refers to files, relative to itself.
	refDir := t.TempDir()
	copyFile(t, c("scheduler.crt"), filepath.Join(refDir, "s.crt"))
	copyFile(t, c("scheduler.key"), filepath.Join(refDir, "s.key"))
	copyFile(t, caFile, filepath.Join(refDir, "ca.crt"))
	cfg := Kubeconfig("https://127.0.0.1:6443", nil, nil, nil, "system:kube-scheduler")
	cfg.Clusters[ClusterName].CertificateAuthority = "ca.crt"
	cfg.AuthInfos["system:kube-scheduler"].ClientCertificate = "s.crt"
	cfg.AuthInfos["system:kube-scheduler"].ClientKey = "s.key"
	refConf := filepath.Join(refDir, "ref.conf")
	if err := clientcmd.WriteToFile(cfg, refConf); err != nil {
		t.Fatal(err)
	}

	type want struct {
		source, user, chain, key, validity string
		groups                             []string
		isCA                               bool
		sans                               []string // some SANs that must be listed
		note                               string   // a substring of one note
	}
	cases := []struct {
		name string
		file string
		now  time.Time
		want []want
	}{
		{"server certificate", c("server.crt"), time.Time{}, []want{{
			source: c("server.crt"), user: "admin", groups: []string{"system:masters"}, chain: ChainVerified, key: KeyMatches, validity: ValidNow,
			sans: []string{"kubernetes.default.svc.cluster.local", "cp.example.com"}, note: "system:masters is allowed everything",
		}}},
		{"the CA", caFile, time.Time{}, []want{{
			source: caFile, user: CACommonName, groups: []string{}, chain: ChainIsCA, key: KeyMatches, validity: ValidNow, isCA: true, note: "--client-ca-file",
		}}},
		{"kubelet", c("kubelet.crt"), time.Time{}, []want{{
			source: c("kubelet.crt"), user: "system:node:n1", groups: []string{"system:nodes"}, chain: ChainVerified, key: KeyMatches, validity: ValidNow, note: "Node authorizer",
		}}},
		{"scheduler", c("scheduler.crt"), time.Time{}, []want{{
			source: c("scheduler.crt"), user: "system:kube-scheduler", groups: []string{}, chain: ChainVerified, key: KeyMatches, validity: ValidNow, note: "ClusterRole system:kube-scheduler",
		}}},
		{"the wrong key next to it", mismatch, time.Time{}, []want{{
			source: mismatch, user: "admin", groups: []string{"system:masters"}, chain: ChainVerified, key: KeyMismatch, validity: ValidNow, note: "private key does not match",
		}}},
		{"another CA's certificate", filepath.Join(other, "certs", "server.crt"), time.Time{}, []want{{
			source: filepath.Join(other, "certs", "server.crt"), user: "admin", groups: []string{"system:masters"}, chain: ChainNotByCA, key: KeyMatches, validity: ValidNow, note: "401 Unauthorized",
		}}},
		{"another CA", filepath.Join(other, "certs", "ca.crt"), time.Time{}, []want{{
			source: filepath.Join(other, "certs", "ca.crt"), user: CACommonName, groups: []string{}, chain: ChainDifferent, key: KeyMatches, validity: ValidNow, isCA: true,
		}}},
		{"expired", c("admin.crt"), time.Now().Add(2 * DefaultValidity), []want{{
			source: c("admin.crt"), user: "admin", groups: []string{"system:masters"}, chain: ChainInvalid, key: KeyMatches, validity: Expired, note: "Expired on",
		}}},
		{"not yet valid", c("admin.crt"), time.Now().Add(-time.Hour), []want{{
			source: c("admin.crt"), user: "admin", groups: []string{"system:masters"}, chain: ChainInvalid, key: KeyMatches, validity: NotYetValid, note: "is the clock right?",
		}}},
		{"a bundle", bundle, time.Time{}, []want{
			{source: bundle, user: "admin", groups: []string{"system:masters"}, chain: ChainVerified, key: KeyNotFound, validity: ValidNow},
			{source: bundle + " (certificate 2)", user: CACommonName, groups: []string{}, chain: ChainIsCA, key: KeyNotChecked, validity: ValidNow, isCA: true},
		}},
		{"admin.conf", filepath.Join(dir, "admin.conf"), time.Time{}, []want{
			{source: filepath.Join(dir, "admin.conf") + ": cluster local-apiserver", user: CACommonName, groups: []string{}, chain: ChainIsCA, key: KeyNotChecked, validity: ValidNow, isCA: true},
			{source: filepath.Join(dir, "admin.conf") + ": user admin", user: "admin", groups: []string{"system:masters"}, chain: ChainVerified, key: KeyMatches, validity: ValidNow},
		}},
		{"a kubeconfig with file references", refConf, time.Time{}, []want{
			{source: refConf + ": cluster local-apiserver", user: CACommonName, groups: []string{}, chain: ChainIsCA, key: KeyNotChecked, validity: ValidNow, isCA: true},
			{source: refConf + ": user system:kube-scheduler", user: "system:kube-scheduler", groups: []string{}, chain: ChainVerified, key: KeyMatches, validity: ValidNow},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := InspectFile(tc.file, InspectOptions{CAFile: caFile, Now: tc.now})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d inspections, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Source != w.source || g.User != w.user || !slices.Equal(g.Groups, w.groups) || g.IsCA != w.isCA {
					t.Errorf("[%d] source %q user %q groups %v CA %v; want %q %q %v %v", i, g.Source, g.User, g.Groups, g.IsCA, w.source, w.user, w.groups, w.isCA)
				}
				if g.Chain.Status != w.chain {
					t.Errorf("[%d] chain %s (%s), want %s", i, g.Chain.Status, g.Chain.Detail, w.chain)
				}
				if g.Key.Status != w.key {
					t.Errorf("[%d] key %s (%s %s), want %s", i, g.Key.Status, g.Key.Path, g.Key.Detail, w.key)
				}
				if g.Validity != w.validity {
					t.Errorf("[%d] validity %s, want %s", i, g.Validity, w.validity)
				}
				all := append(slices.Clone(g.DNSNames), g.IPAddresses...)
				for _, s := range w.sans {
					if !slices.Contains(all, s) {
						t.Errorf("[%d] SANs %v lack %s", i, all, s)
					}
				}
				if w.note != "" && !slices.ContainsFunc(g.Notes, func(n string) bool { return strings.Contains(n, w.note) }) {
					t.Errorf("[%d] no note contains %q: %q", i, w.note, g.Notes)
				}
				if g.Certificate() == nil || g.Subject == "" || g.Issuer == "" || g.PublicKey == "" || g.NotAfter.IsZero() {
					t.Errorf("[%d] incomplete inspection: %+v", i, g)
				}
			}
		})
	}
}

func TestInspectFileUsages(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(Options{WorkDir: dir}); err != nil {
		t.Fatal(err)
	}
	got, err := InspectFile(filepath.Join(dir, "certs", "server.crt"), InspectOptions{CAFile: filepath.Join(dir, "certs", "ca.crt")})
	if err != nil {
		t.Fatal(err)
	}
	if g := got[0]; !slices.Equal(g.ExtKeyUsages, []string{"server auth", "client auth"}) || !slices.Equal(g.KeyUsages, []string{"digital signature", "key encipherment"}) {
		t.Errorf("usages %v / %v, want digital signature, key encipherment / server auth, client auth", g.KeyUsages, g.ExtKeyUsages)
	}
	if !slices.Contains(got[0].IPAddresses, "10.0.0.1") {
		t.Errorf("IP SANs %v lack 10.0.0.1", got[0].IPAddresses)
	}
}

func TestInspectFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(Options{WorkDir: dir}); err != nil {
		t.Fatal(err)
	}
	emptyConf := filepath.Join(t.TempDir(), "empty.conf")
	writeFile(t, emptyConf, "apiVersion: v1\nkind: Config\n")
	garbage := filepath.Join(t.TempDir(), "garbage")
	writeFile(t, garbage, "\x00\x01 not: [a kubeconfig")
	cases := []struct {
		name, file, want string
	}{
		{"missing file", filepath.Join(dir, "nope.crt"), "no such file"},
		{"a public key", filepath.Join(dir, "certs", "service-account.pem"), "no certificate in it, only PUBLIC KEY"},
		{"a private key", filepath.Join(dir, "certs", "ca.key"), "no certificate in it"},
		{"an empty kubeconfig", emptyConf, "neither PEM nor a kubeconfig with clusters or users"},
		{"garbage", garbage, "neither PEM nor a kubeconfig"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := InspectFile(tc.file, InspectOptions{CAFile: filepath.Join(dir, "certs", "ca.crt")})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("InspectFile = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// Without the CA the chain is not checked; the rest still is.
	got, err := InspectFile(filepath.Join(dir, "certs", "server.crt"), InspectOptions{CAFile: filepath.Join(dir, "none.crt")})
	if err != nil || got[0].Chain.Status != ChainNoCA || got[0].Key.Status != KeyMatches {
		t.Errorf("InspectFile without a CA = %v, %+v; want chain %s and the key checked", err, got, ChainNoCA)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	writeFile(t, to, string(readFile(t, from)))
}
