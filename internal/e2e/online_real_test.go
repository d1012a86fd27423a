package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/internal/script"
	"github.com/kubetutor/kubetutor/steps"
)

// onlineDownload reports whether a lesson block is one of the `online`
// variant's downloads (curl from dl.k8s.io or a GitHub release), which
// TestRealOnlineBlocks runs verbatim.
func onlineDownload(b script.Block) bool {
	return slices.Contains(b.When, "online") && strings.Contains(b.Text, "curl -f")
}

// verbatimElsewhere names the lesson blocks that the demo does not type on
// any host but another real test runs verbatim, and that test.
func verbatimElsewhere(b script.Block) string {
	switch {
	case onlineDownload(b):
		return "TestRealOnlineBlocks"
	case strings.TrimSpace(b.Text) == talkCreateDeployment:
		return "TestRealTalkReplay"
	}
	return ""
}

// talkCreateDeployment is the talk's own command, which TestRealTalkReplay
// types, and the deployment lesson's online block.
const talkCreateDeployment = "kubectl create deployment nginx --image=nginx"

// mirrorFile is what the local mirror serves for one URL path.
type mirrorFile struct {
	path string // a file on disk, or
	data []byte // its content
}

// TestRealOnlineBlocks runs the lessons' download blocks (the `online`
// variant: the Kubernetes binaries from dl.k8s.io, etcd and the CNI plugins
// from GitHub releases) verbatim, with curl and tar, on this machine without
// internet. They run in a private mount namespace whose /etc/hosts sends
// dl.k8s.io and github.com to a local HTTPS mirror of the same paths (its CA
// given to curl through CURL_CA_BUNDLE) and whose /opt is a tmpfs: the
// host's /etc/hosts and /opt are never touched. The mirror serves the
// Kubernetes v1.37.2 binaries `make test` built, the CNI plugins v1.10.0 and
// the etcd that `make upstream-stack` built (3.6.17, in a tarball laid out
// as etcd's releases are, under the name the lesson asks for).
func TestRealOnlineBlocks(t *testing.T) {
	requireReal(t, "needs root (a mount namespace, port 443)", os.Geteuid() == 0)
	requireReal(t, "needs the Kubernetes binaries in "+kubeBinDir(), fileExists(filepath.Join(kubeBinDir(), "kubectl")))
	up := upstreamDir()
	requireReal(t, "needs the upstream stack in "+up+" (make upstream-stack)", fileExists(filepath.Join(up, "bin", "etcd")) && fileExists(filepath.Join(up, "cni", "bridge")))
	for _, tool := range []string{"curl", "tar", "unshare", "mount"} {
		_, err := exec.LookPath(tool)
		requireReal(t, tool+" not installed (hack/install-deps.sh installs it)", err == nil)
	}
	var blocks []string
	var names []string
	for _, s := range steps.All() {
		for _, b := range s.Commands {
			if onlineDownload(b) {
				blocks = append(blocks, b.Text)
				names = append(names, fmt.Sprintf("%s:%d", s.Lesson, b.Line))
			}
		}
	}
	if len(blocks) != 2 {
		t.Fatalf("want the tools and the CNI lessons' download blocks, found %d: %v", len(blocks), names)
	}

	files, err := mirrorFiles(kubeBinDir(), up)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	caPEM, serverCert := mirrorCerts(t, "dl.k8s.io", "github.com")
	caFile := filepath.Join(work, "mirror-ca.pem")
	hostsFile := filepath.Join(work, "hosts")
	writeTestFile(t, caFile, caPEM)
	writeTestFile(t, hostsFile, []byte("127.0.0.1 localhost\n127.0.0.1 dl.k8s.io github.com\n"))

	var mu sync.Mutex
	var served, missing []string
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := r.Host + r.URL.Path
			f, ok := files[key]
			mu.Lock()
			if ok {
				served = append(served, key)
			} else {
				missing = append(missing, key)
			}
			mu.Unlock()
			switch {
			case !ok:
				http.NotFound(w, r)
			case f.path != "":
				http.ServeFile(w, r, f.path)
			default:
				http.ServeContent(w, r, filepath.Base(key), time.Time{}, bytes.NewReader(f.data))
			}
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{serverCert}},
	}
	l, err := net.Listen("tcp", "127.0.0.1:443")
	requireReal(t, fmt.Sprintf("port 443 is taken (%v)", err), err == nil)
	go srv.ServeTLS(l, "", "")
	t.Cleanup(func() { srv.Close() })

	optBefore := dirState("/opt")
	hostsBefore, _ := os.ReadFile("/etc/hosts")
	dir := filepath.Join(work, "course")
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, text := range blocks {
		writeTestFile(t, filepath.Join(work, fmt.Sprintf("block%d.sh", i)), []byte(text+"\n"))
	}
	// The blocks run as typed in a shell; the listing after them runs in
	// the same namespace, while the tmpfs /opt still holds the plugins.
	inner := fmt.Sprintf(`set -e
mount --bind %[1]q /etc/hosts
mount -t tmpfs kubetutor-test /opt
cd %[2]q
bash -e %[3]q
bash -e %[4]q
ls /opt/cni/bin > %[5]q
/opt/cni/bin/bridge </dev/null > %[6]q 2>&1 || true
`, hostsFile, dir, filepath.Join(work, "block0.sh"), filepath.Join(work, "block1.sh"), filepath.Join(work, "cni-ls.txt"), filepath.Join(work, "bridge.txt"))
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "bash", "-c", inner)
	cmd.Env = append(os.Environ(), "CURL_CA_BUNDLE="+caFile, "CNI_COMMAND=VERSION")
	out, err := cmd.CombinedOutput()
	mu.Lock()
	t.Logf("the mirror served %d files: %s", len(served), strings.Join(served, ", "))
	if len(missing) > 0 {
		t.Errorf("the blocks asked the mirror for what it does not have (a wrong URL in a lesson?): %v", missing)
	}
	mu.Unlock()
	if err != nil {
		t.Fatalf("the online download blocks %v failed: %v\n%s", names, err, out)
	}

	// The host was not touched.
	if after, _ := os.ReadFile("/etc/hosts"); !bytes.Equal(after, hostsBefore) {
		t.Errorf("/etc/hosts changed on the host")
	}
	if after := dirState("/opt"); after != optBefore {
		t.Errorf("/opt changed on the host: %q, was %q", after, optBefore)
	}

	// What the tools block promises: the programs in bin/, executable,
	// the very binaries served.
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl", "etcd", "etcdctl"} {
		fi, err := os.Stat(filepath.Join(dir, "bin", b))
		if err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("bin/%s after the tools block: %v (mode %v)", b, err, fi)
		}
	}
	if a, b := fileSum(t, filepath.Join(dir, "bin", "kubectl")), fileSum(t, filepath.Join(kubeBinDir(), "kubectl")); a != b {
		t.Errorf("bin/kubectl is not the binary served")
	}
	if v, err := exec.Command(filepath.Join(dir, "bin", "kubectl"), "version", "--client").CombinedOutput(); err != nil || !strings.Contains(string(v), "v1.37.2") {
		t.Errorf("bin/kubectl version --client: %v %s", err, v)
	}
	if v, err := exec.Command(filepath.Join(dir, "bin", "etcd"), "--version").CombinedOutput(); err != nil || !strings.Contains(string(v), "etcd Version") {
		t.Errorf("bin/etcd --version: %v %s", err, v)
	}
	// What the CNI block promises: the plugins in /opt/cni/bin, runnable.
	ls, _ := os.ReadFile(filepath.Join(work, "cni-ls.txt"))
	for _, p := range []string{"bridge", "host-local", "loopback", "portmap"} {
		if !slices.Contains(strings.Fields(string(ls)), p) {
			t.Errorf("/opt/cni/bin after the CNI block lacks %s: %q", p, ls)
		}
	}
	if v, _ := os.ReadFile(filepath.Join(work, "bridge.txt")); !strings.Contains(string(v), "cniVersion") {
		t.Errorf("/opt/cni/bin/bridge with CNI_COMMAND=VERSION: %q", v)
	}
}

// mirrorFiles maps host+path of every URL the online blocks may fetch to
// what the mirror serves. The paths are the real ones: a lesson with a wrong
// URL asks for something the mirror does not have.
func mirrorFiles(kubeBin, up string) (map[string]mirrorFile, error) {
	files := map[string]mirrorFile{}
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"} {
		files["dl.k8s.io/v1.37.2/bin/linux/amd64/"+b] = mirrorFile{path: filepath.Join(kubeBin, b)}
	}
	const etcdDir = "etcd-v3.6.17-linux-amd64"
	etcd, err := tarball(map[string]string{
		etcdDir + "/etcd":    filepath.Join(up, "bin", "etcd"),
		etcdDir + "/etcdctl": filepath.Join(up, "bin", "etcdctl"),
	})
	if err != nil {
		return nil, err
	}
	files["github.com/etcd-io/etcd/releases/download/v3.6.17/"+etcdDir+".tar.gz"] = mirrorFile{data: etcd}
	cni := map[string]string{}
	for _, p := range []string{"bridge", "host-local", "loopback", "portmap"} {
		cni["./"+p] = filepath.Join(up, "cni", p)
	}
	plugins, err := tarball(cni)
	if err != nil {
		return nil, err
	}
	files["github.com/containernetworking/plugins/releases/download/v1.10.0/cni-plugins-linux-amd64-v1.10.0.tgz"] = mirrorFile{data: plugins}
	return files, nil
}

// tarball is a gzipped tar of files (name in the archive → file on disk),
// with a directory entry for each directory, as release tarballs have.
func tarball(files map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	dirs := map[string]bool{}
	for _, n := range names {
		if d := filepath.Dir(n); d != "." && !dirs[d] {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				return nil, err
			}
		}
		data, err := os.ReadFile(files[n])
		if err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// mirrorCerts makes a CA and a serving certificate for the mirror's names.
func mirrorCerts(t *testing.T, names ...string) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubetutor test mirror CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writeTestFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// dirState lists a directory tree's names, to tell whether it changed.
func dirState(root string) string {
	var names []string
	_ = filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err == nil {
			names = append(names, p)
		}
		return nil
	})
	return strings.Join(names, "\n")
}
