package fetch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/kubetutor/kubetutor/internal/host"
	"github.com/kubetutor/kubetutor/internal/proc"
	"github.com/kubetutor/kubetutor/internal/textsafe"
)

// DefaultOSBinDirs are where the OS's packages put programs (Debian:
// etcd-server and etcd-client in /usr/bin, runc in /usr/sbin).
var DefaultOSBinDirs = []string{"/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin", "/sbin"}

// DefaultOSCNIDirs are where the OS's CNI plugins may be: upstream's
// /opt/cni/bin and Debian's containernetworking-plugins in /usr/lib/cni.
var DefaultOSCNIDirs = host.CNIBinDirs

// CNIPlugins are the plugins the course's bridge configuration needs.
var CNIPlugins = []string{"bridge", "host-local", "loopback", "portmap"}

// OSPart is a program (or the CNI plugins) found installed by the OS.
type OSPart struct {
	Name    string // etcd, etcdctl, containerd, runc, CNI plugins
	Path    string // the program, or the CNI plugins' directory
	Version string // "" when it could not be told
}

func (p OSPart) String() string {
	v := p.Version
	if v == "" {
		v = "(version unknown)"
	}
	return fmt.Sprintf("%s %s from the OS at %s", p.Name, v, p.Path)
}

// osProbe finds and identifies the OS's programs.
type osProbe struct {
	binDirs []string
	cniDirs []string
	exclude []string // fetch's own directories: never "the OS"
}

// program finds name in the OS's directories and asks it for its version.
func (p osProbe) program(ctx context.Context, name string, versionArgs ...string) (OSPart, bool) {
	for _, dir := range p.binDirs {
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 || p.excluded(path) {
			continue
		}
		return OSPart{Name: name, Path: path, Version: probeVersion(ctx, path, versionArgs...)}, true
	}
	return OSPart{}, false
}

// cni finds the first directory holding every plugin of CNIPlugins.
func (p osProbe) cni(ctx context.Context) (OSPart, bool) {
	for _, dir := range p.cniDirs {
		ok := !p.excluded(dir)
		for _, plugin := range CNIPlugins {
			fi, err := os.Stat(filepath.Join(dir, plugin))
			if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
				ok = false
				break
			}
		}
		if ok {
			return OSPart{Name: "CNI plugins", Path: dir, Version: probeVersion(ctx, filepath.Join(dir, "bridge"))}, true
		}
	}
	return OSPart{}, false
}

// excluded reports whether path is, or resolves into, one of fetch's own directories.
func (p osProbe) excluded(path string) bool {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		real = path
	}
	for _, ex := range p.exclude {
		if ex == "" {
			continue
		}
		exReal, err := filepath.EvalSymlinks(ex)
		if err != nil {
			exReal = ex
		}
		for _, cand := range []string{path, real} {
			if cand == ex || cand == exReal || strings.HasPrefix(cand, exReal+string(filepath.Separator)) || strings.HasPrefix(cand, ex+string(filepath.Separator)) {
				return true
			}
		}
	}
	return false
}

var osVersionRE = regexp.MustCompile(`v?\d+\.\d+\.\d+[0-9A-Za-z.+-]*`)

// probeVersion runs path with args and picks the version in the first line
// it prints; failing that, it asks dpkg which package installed path
// (Debian's CNI plugins say "CNI bridge plugin version unknown").
func probeVersion(ctx context.Context, path string, args ...string) string {
	out, _ := runQuiet(ctx, path, args...)
	if v := osVersionRE.FindString(textsafe.FirstLine(out)); v != "" {
		return v
	}
	return dpkgVersion(ctx, path)
}

func dpkgVersion(ctx context.Context, path string) string {
	dpkg, err := exec.LookPath("dpkg-query")
	if err != nil {
		return ""
	}
	out, err := runQuiet(ctx, dpkg, "-S", path)
	if err != nil {
		return ""
	}
	pkg, _, ok := strings.Cut(strings.TrimSpace(textsafe.FirstLine(out)), ":")
	if !ok || pkg == "" {
		return ""
	}
	ver, err := runQuiet(ctx, dpkg, "-W", "-f=${Version}", pkg)
	if err != nil {
		return ""
	}
	return upstreamVersion(strings.TrimSpace(ver))
}

// upstreamVersion turns a Debian version (1:1.1.1+ds1-3+b5) into the
// upstream one (1.1.1).
func upstreamVersion(v string) string {
	if _, after, ok := strings.Cut(v, ":"); ok {
		v = after
	}
	if i := strings.IndexAny(v, "+~-"); i >= 0 {
		v = v[:i]
	}
	return v
}

// runQuiet runs a short command with a 10 s limit and returns its output.
func runQuiet(ctx context.Context, path string, args ...string) (string, error) {
	return proc.Command{Path: path, Args: args, Timeout: 10 * time.Second}.Output(ctx)
}

// link makes dir/name a symbolic link to target, replacing what is there in
// one rename. It reports whether the link was already right.
func link(dir, name, target string) (bool, error) {
	dest := filepath.Join(dir, name)
	if cur, err := os.Readlink(dest); err == nil && cur == target {
		return true, nil
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, tempPrefix+name+"-"+hex.EncodeToString(rnd[:])+".tmp")
	if err := os.Symlink(target, tmp); err != nil {
		return false, fmt.Errorf("link %s to %s: %w", dest, target, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		os.Remove(tmp)
		return false, fmt.Errorf("link %s to %s: %w", dest, target, err)
	}
	syncDir(dir)
	return false, nil
}
