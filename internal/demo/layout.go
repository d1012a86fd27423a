// Package demo is the instructor's mode: kubetutor performs each step of the
// talk itself, as real processes, and shows the effect live. The same code
// runs the whole cluster in the end-to-end test.
package demo

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
)

// Layout is where the demo keeps everything in its work directory, so that
// `demo down` can remove a run whole.
type Layout struct {
	WorkDir string
	// ContainerdAddress is containerd's socket (the checks' default unless
	// --containerd-address says otherwise).
	ContainerdAddress string
	// CNIConfDir is where the CNI configuration goes (containerd's conf_dir).
	CNIConfDir string
	// SlowHost (demo --slow-host) gives kube-controller-manager and
	// kube-scheduler leader-election deadlines that outlast a restart of
	// kube-apiserver on a machine ten times slower than usual (see
	// SlowHostLeaderElection).
	SlowHost bool
}

// Path joins elements under the work directory.
func (l Layout) Path(elem ...string) string {
	return filepath.Join(append([]string{l.WorkDir}, elem...)...)
}

// Paths of the demo's files.
// Bin is the binaries directory.
func (l Layout) Bin() string              { return l.Path("bin") }
func (l Layout) Kubeconfig() string       { return l.Path("admin.conf") }
func (l Layout) LogPath(c string) string  { return l.Path("logs", c+".log") }
func (l Layout) PidPath(c string) string  { return l.Path("run", c+".pid") }
func (l Layout) StatePath() string        { return l.Path("run", "demo.json") }
func (l Layout) ContainerdDir() string    { return l.Path("containerd") }
func (l Layout) ContainerdConfig() string { return l.Path("containerd", "config.toml") }
func (l Layout) KubeletRoot() string      { return l.Path("kubelet") }
func (l Layout) KubeletConfig() string    { return l.Path("kubelet.yaml") }
func (l Layout) CNIDataDir() string       { return l.Path("cni") }
func (l Layout) CNIConfFile() string      { return filepath.Join(l.CNIConfDir, "10-bridge.conflist") }
func (l Layout) ImagesTarball() string    { return l.Path("images.tar") }
func (l Layout) CoreDNSTarball() string   { return l.Path("coredns-image.tar") }
func (l Layout) EtcdDataDir() string      { return l.Path("etcd-data") }
func (l Layout) containerdState() string  { return l.Path("containerd", "state") }
func (l Layout) containerdRoot() string   { return l.Path("containerd", "root") }

// DefaultSocket is the demo's own containerd socket: in its work dir, or,
// when that path is too long for a Unix socket, under /run/kubetutor.
func DefaultSocket(workDir string) string {
	p := filepath.Join(workDir, "containerd", "containerd.sock")
	if len(p) < 100 {
		return p
	}
	sum := sha256.Sum256([]byte(workDir))
	return filepath.Join("/run/kubetutor", hex.EncodeToString(sum[:6])+".sock")
}
