// Package demo is the instructor's mode: kubetutor performs each step of the
// talk itself, as real processes, and shows the effect live. The same code
// runs the whole cluster in the end-to-end test.
package demo

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/internal/host"
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

// ContainerdConfig is containerd's configuration (version 2, containerd
// 1.6/1.7): its own root and state under the work dir, the CRI plugin
// pointed at the CNI plugins and configuration, and what the host needs.
func ContainerdConfig(l Layout, h host.Facts, sandboxImage string) string {
	binDir := h.CNIBinDir
	if binDir == "" {
		binDir = "/opt/cni/bin"
	}
	return fmt.Sprintf(`# Written by kubetutor demo.
version = 2
root = %q
state = %q

[grpc]
  address = %q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  # This host forbids lowering oom_score_adj: %t.
  restrict_oom_score_adj = %t
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
`, l.containerdRoot(), l.containerdState(), l.ContainerdAddress, sandboxImage,
		h.RestrictOOMScoreAdj, h.RestrictOOMScoreAdj, binDir, l.CNIConfDir)
}

// KubeletConfig is the KubeletConfiguration of the kubelet lesson, with
// failCgroupV1: false on a cgroup v1 host.
func KubeletConfig(l Layout, h host.Facts) string {
	var b strings.Builder
	b.WriteString(`# Written by kubetutor demo.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failSwapOn: false
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: ` + l.Path("certs", checks.CAFile) + `
`)
	if h.CgroupV1 {
		b.WriteString("# This host uses cgroup v1; kubelet 1.37 refuses it unless told otherwise.\nfailCgroupV1: false\n")
	}
	return b.String()
}

// BridgeConflist is the CNI lesson's bridge network, with host-local's state
// kept in the work dir.
func BridgeConflist(l Layout) string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "bridge",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "10.244.0.0/24"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": %q
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
`, filepath.Join(l.CNIDataDir(), "networks"))
}
