package fetch

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/textsafe"
)

// The upstream release locations.
const (
	UpstreamKubernetes = "https://dl.k8s.io"
	UpstreamEtcd       = "https://github.com/etcd-io/etcd/releases/download"
	UpstreamCNI        = "https://github.com/containernetworking/plugins/releases/download"
)

// Default versions: the ones the lessons use.
const (
	DefaultKubernetesVersion = course.KubernetesVersion
	DefaultEtcdVersion       = "v3.6.17"
	DefaultCNIVersion        = "v1.6.2"
)

// KubernetesBinaries are the programs downloaded from dl.k8s.io (or built
// with --from-source), in the order they are fetched.
var KubernetesBinaries = course.Programs(course.FromKubernetes)

// EtcdBinaries are the programs taken from the etcd release tarball.
var EtcdBinaries = course.Programs(course.FromEtcd)

// Sources are the three base URLs releases are fetched from. Under each base
// the layout is the upstream one:
//
//	Kubernetes: <base>/<ver>/bin/linux/<arch>/<name>, checksum <name>.sha256 (hex digest)
//	etcd:       <base>/<ver>/etcd-<ver>-linux-<arch>.tar.gz, checksums <base>/<ver>/SHA256SUMS
//	CNI:        <base>/<ver>/cni-plugins-linux-<arch>-<ver>.tgz, checksum <tgz>.sha256
type Sources struct {
	Kubernetes, Etcd, CNI string
}

// Upstream returns the projects' own release locations.
func Upstream() Sources {
	return Sources{Kubernetes: UpstreamKubernetes, Etcd: UpstreamEtcd, CNI: UpstreamCNI}
}

// Mirror returns the sources of a mirror at base: the upstream layout under
// <base>/kubernetes, <base>/etcd and <base>/cni. That is what Mirror-mode
// downloads write and what Handler serves.
func Mirror(base string) Sources {
	base = strings.TrimRight(base, "/")
	return Sources{Kubernetes: base + "/kubernetes", Etcd: base + "/etcd", CNI: base + "/cni"}
}

// MirrorDirs are the sub-directories of a mirror, one per source.
const (
	mirrorKubernetes = "kubernetes"
	mirrorEtcd       = "etcd"
	mirrorCNI        = "cni"
)

// KubernetesURL is where one Kubernetes binary is; its checksum is at URL+".sha256".
func (s Sources) KubernetesURL(ver, arch, name string) string {
	return fmt.Sprintf("%s/%s/bin/linux/%s/%s", strings.TrimRight(s.Kubernetes, "/"), ver, arch, name)
}

// EtcdArchive is the file name of the etcd release tarball.
func EtcdArchive(ver, arch string) string { return fmt.Sprintf("etcd-%s-linux-%s.tar.gz", ver, arch) }

// EtcdURL is where the etcd tarball is.
func (s Sources) EtcdURL(ver, arch string) string {
	return fmt.Sprintf("%s/%s/%s", strings.TrimRight(s.Etcd, "/"), ver, EtcdArchive(ver, arch))
}

// EtcdSumsURL is where the etcd release's SHA256SUMS is.
func (s Sources) EtcdSumsURL(ver string) string {
	return fmt.Sprintf("%s/%s/SHA256SUMS", strings.TrimRight(s.Etcd, "/"), ver)
}

// CNIArchive is the file name of the CNI plugins tarball.
func CNIArchive(ver, arch string) string {
	return fmt.Sprintf("cni-plugins-linux-%s-%s.tgz", arch, ver)
}

// CNIURL is where the CNI plugins tarball is; its checksum is at URL+".sha256".
func (s Sources) CNIURL(ver, arch string) string {
	return fmt.Sprintf("%s/%s/%s", strings.TrimRight(s.CNI, "/"), ver, CNIArchive(ver, arch))
}

var (
	versionFlagRE = regexp.MustCompile(`^v\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$`)
	hexDigestRE   = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// ErrInvalidOptions marks a problem with the options themselves (a usage error).
var ErrInvalidOptions = errors.New("invalid options")

// optionsError is a usage error: errors.Is(err, ErrInvalidOptions) holds.
type optionsError struct{ msg string }

func (e *optionsError) Error() string        { return e.msg }
func (e *optionsError) Is(target error) bool { return target == ErrInvalidOptions }

func invalidf(format string, a ...any) error {
	return &optionsError{msg: fmt.Sprintf(format, a...)}
}

// CheckVersion validates a release version such as v1.37.2.
func CheckVersion(what, ver string) error {
	if !versionFlagRE.MatchString(ver) {
		return invalidf("%s %q is not a release version like v1.2.3", what, ver)
	}
	return nil
}

// CheckArch validates an architecture: release binaries exist for amd64 and arm64.
func CheckArch(arch string) error {
	if arch != "amd64" && arch != "arm64" {
		return invalidf("no release binaries for architecture %q: use amd64 or arm64 (or --from-source)", arch)
	}
	return nil
}

// CheckBaseURL validates a mirror or source base URL.
func CheckBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// Not err itself: *url.Error repeats the URL, password included.
		return invalidf("the URL is not an http:// or https:// URL: %v", errors.Unwrap(err))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalidf("%q is not an http:// or https:// URL", textsafe.StripUserinfo(raw))
	}
	return nil
}

// credentials are the user and password each source URL held, by host:
// fetch sends them with the requests to that host, as a URL's userinfo
// would be sent, but keeps them out of every URL it prints or records.
type credentials map[string]*url.Userinfo

// withoutUserinfo is s with the userinfo of each base URL taken out into
// creds.
func (s Sources) withoutUserinfo(creds credentials) Sources {
	strip := func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil || u.User == nil {
			return raw
		}
		creds[u.Host] = u.User
		u.User = nil
		return u.String()
	}
	return Sources{Kubernetes: strip(s.Kubernetes), Etcd: strip(s.Etcd), CNI: strip(s.CNI)}
}

// ParseChecksum reads the SHA-256 digest of the file called name from the
// contents of a checksum file: either a bare hex digest (dl.k8s.io's .sha256
// files) or sha256sum's "<hex>  <name>" lines (SHA256SUMS, the CNI .sha256).
func ParseChecksum(data []byte, name string) (string, error) {
	var lines [][]string
	for l := range strings.SplitSeq(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines = append(lines, f)
		}
	}
	for _, f := range lines {
		if len(f) >= 2 && strings.TrimPrefix(f[1], "*") == name {
			if !hexDigestRE.MatchString(f[0]) {
				return "", fmt.Errorf("the line for %s has %q, not a SHA-256 digest", name, f[0])
			}
			return strings.ToLower(f[0]), nil
		}
	}
	switch {
	case len(lines) == 0:
		return "", errors.New("the checksum file is empty")
	case len(lines) == 1 && len(lines[0]) == 1 && hexDigestRE.MatchString(lines[0][0]):
		return strings.ToLower(lines[0][0]), nil
	case len(lines) == 1 && len(lines[0]) == 1:
		return "", fmt.Errorf("%q is not a SHA-256 digest", truncate(lines[0][0], 80))
	default:
		return "", fmt.Errorf("no checksum for %s in it", name)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
