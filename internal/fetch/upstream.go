package fetch

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kubetutor/kubetutor/internal/fsutil"
)

// The upstream node stack --from-source builds from the Go module proxy
// (what Kubernetes the Hard Way and most internet-connected learners run),
// as the recipe in ../shared/real-cluster.md measured it.
const (
	DefaultSourceContainerdVersion = "v2.4.2"
	DefaultSourceCrictlVersion     = "v1.37.0"
	DefaultSourceEtcdVersion       = "v3.6.17"
	DefaultSourceCNIVersion        = "v1.10.0"
)

// sourceBuildTimeout bounds the build of one part (containerd takes about
// 3 minutes on a fresh Go cache on 2 cores).
var sourceBuildTimeout = 30 * time.Minute

// sourceBinary is one program of a from-source part: the package go builds
// and the module whose version the binary must report in its build info.
type sourceBinary struct {
	Name, Package, Module string
}

// sourcePart is a part --from-source builds with go install (or, for etcd,
// go build in a wrapper module).
type sourcePart struct {
	Component Component
	Binaries  []sourceBinary
	// Tags are go's -tags.
	Tags []string
	// Wrapper builds through a wrapper module (etcd's own module has replace
	// directives, so go install module@version refuses it).
	Wrapper bool
	// CNI installs into the CNI directory instead of the bin dir.
	CNI bool
	// Main is the wrapper module's main.go, when the wrapper builds a main
	// of its own (CoreDNS with only the plugins the course's Corefile
	// uses) instead of the module's packages; its binaries' Package is ".".
	Main string
	// LDFlags are go build's -ldflags.
	LDFlags string
}

// sourceParts are the from-source parts other than Kubernetes, in build order.
var sourceParts = []sourcePart{
	{Component: Containerd, Tags: []string{"no_btrfs"}, Binaries: []sourceBinary{
		{"containerd", "github.com/containerd/containerd/v2/cmd/containerd", "github.com/containerd/containerd/v2"},
		{"containerd-shim-runc-v2", "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2", "github.com/containerd/containerd/v2"},
		{"ctr", "github.com/containerd/containerd/v2/cmd/ctr", "github.com/containerd/containerd/v2"},
	}},
	{Component: CNI, CNI: true, Binaries: []sourceBinary{
		{"bridge", "github.com/containernetworking/plugins/plugins/main/bridge", "github.com/containernetworking/plugins"},
		{"host-local", "github.com/containernetworking/plugins/plugins/ipam/host-local", "github.com/containernetworking/plugins"},
		{"loopback", "github.com/containernetworking/plugins/plugins/main/loopback", "github.com/containernetworking/plugins"},
		{"portmap", "github.com/containernetworking/plugins/plugins/meta/portmap", "github.com/containernetworking/plugins"},
	}},
	{Component: Crictl, Binaries: []sourceBinary{
		{"crictl", "sigs.k8s.io/cri-tools/cmd/crictl", "sigs.k8s.io/cri-tools"},
	}},
	{Component: Etcd, Wrapper: true, Binaries: []sourceBinary{
		{"etcd", "go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/server/v3"},
		{"etcdctl", "go.etcd.io/etcd/etcdctl/v3", "go.etcd.io/etcd/etcdctl/v3"},
	}},
	// CoreDNS's own main links every plugin of its plugin.cfg (the cloud
	// providers' SDKs among them); this one links the eleven the course's
	// Corefile (kubeadm's) uses, in plugin.cfg's order, and is stripped:
	// it goes into an image.
	{Component: CoreDNS, Wrapper: true, Main: coreDNSMain, LDFlags: "-s -w", Binaries: []sourceBinary{
		{"coredns", ".", "github.com/coredns/coredns"},
	}},
}

// coreDNSMain is the wrapper's main: coremain.Run with dnsserver.Directives
// cut to the Corefile's plugins (a directive the Corefile names but the
// binary lacks is refused at start: "Unknown directive").
const coreDNSMain = `// Command coredns is CoreDNS with the plugins of the kubetutor course's
// Corefile only.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

func init() {
	dnsserver.Directives = []string{"reload", "ready", "health", "prometheus", "errors", "log", "loadbalance", "cache", "kubernetes", "loop", "forward"}
}

func main() { coremain.Run() }
`

func findSourcePart(c Component) sourcePart {
	for _, p := range sourceParts {
		if p.Component == c {
			return p
		}
	}
	panic("fetch: no from-source recipe for " + string(c))
}

// partWrapperGoMod is the go.mod of a part's wrapper module (etcd's, CoreDNS's);
// etcdWrapperTools is etcd's tools.go.
const partWrapperGoMod = "module kubetutor.local/wrapper-build\n\ngo 1.26\n"

func etcdWrapperTools(p sourcePart) string {
	var sb strings.Builder
	sb.WriteString("//go:build tools\n\npackage tools\n\nimport (\n")
	for _, b := range p.Binaries {
		fmt.Fprintf(&sb, "\t_ %q\n", b.Package)
	}
	sb.WriteString(")\n")
	return sb.String()
}

// sourceCommands are the go commands (arguments after "go") that build part
// at ver into stage, in order. The environment is sourceEnv.
func sourceCommands(p sourcePart, ver, stage string) [][]string {
	var tags []string
	if len(p.Tags) > 0 {
		tags = []string{"-tags", strings.Join(p.Tags, ",")}
	}
	if !p.Wrapper {
		args := append([]string{"install"}, tags...)
		for _, b := range p.Binaries {
			args = append(args, b.Package+"@"+ver)
		}
		return [][]string{args}
	}
	get := []string{"get"}
	for _, b := range p.Binaries {
		get = append(get, b.Module+"@"+ver)
	}
	cmds := [][]string{get, {"mod", "tidy"}}
	if p.LDFlags != "" {
		tags = append(tags, "-ldflags="+p.LDFlags)
	}
	for _, b := range p.Binaries {
		cmds = append(cmds, append(append([]string{"build"}, tags...), "-o", filepath.Join(stage, b.Name), b.Package))
	}
	return cmds
}

// sourceEnv is the environment of the build commands: static binaries, and
// go install puts them into the staging directory.
func sourceEnv(stage string) []string {
	return []string{"CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOBIN=" + stage}
}

// readBuildInfo reads a Go binary's build info: the module of its main
// package and its version, or, when module is a dependency of a wrapper
// module's main (CoreDNS's trimmed main), that module and the version the
// wrapper required. Tests replace it.
var readBuildInfo = func(path, module string) (mod, ver string, err error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	if bi.Main.Path != module {
		for _, d := range bi.Deps {
			if d.Path == module && d.Replace == nil {
				return d.Path, d.Version, nil
			}
		}
	}
	return bi.Main.Path, bi.Main.Version, nil
}

// builtVersion is the version of b's module that the binary at path was
// built from, or "" when it is missing, not a Go binary or built from
// another module.
func builtVersion(path string, b sourceBinary) string {
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	mod, ver, err := readBuildInfo(path, b.Module)
	if err != nil || mod != b.Module {
		return ""
	}
	return ver
}

// fromSourcePart builds one part (containerd, the CNI plugins, crictl or
// etcd) at ver, unless every binary of it is there and was built from ver.
func (r *runner) fromSourcePart(ctx context.Context, c Component, ver string) error {
	o := r.o
	p := findSourcePart(c)
	dir := o.BinDir
	if p.CNI {
		dir = o.CNIDir
	}
	if r.partUpToDate(p, dir, ver) {
		return nil
	}
	goCmd, err := findGo(o.Build.Go)
	if err != nil {
		return err
	}
	timeout := o.Build.Timeout
	if timeout <= 0 {
		timeout = sourceBuildTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stage, work, err := sourceDirs(c, p, dir)
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	defer os.RemoveAll(work)
	names := make([]string, len(p.Binaries))
	for i, b := range p.Binaries {
		names[i] = b.Name
	}
	r.rep.Line("Building %s %s from source with %s (a few minutes on a fresh Go cache, seconds when cached).", strings.Join(names, ", "), ver, goCmd)
	start := time.Now()
	b := &builder{goCmd: goCmd, dir: work, ver: ver, out: dir, rep: r.rep, tty: o.TTY, goOutput: o.Build.GoOutput, every: o.Build.ProgressEvery}
	for _, args := range sourceCommands(p, ver, stage) {
		phase := "go " + strings.Join(args, " ")
		if _, err := b.goRun(ctx, phase, sourceEnv(stage), args...); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("build %s from source: %s did not finish within %s: %w", c, phase, timeout, err)
			}
			return fmt.Errorf("build %s from source: %w", c, err)
		}
	}
	if err := r.installBuilt(p, stage, dir, ver); err != nil {
		return err
	}
	r.rep.Line("Built in %s.", time.Since(start).Round(time.Second))
	return nil
}

// partUpToDate says every binary of p in dir was built from ver, and
// reports them up to date when so.
func (r *runner) partUpToDate(p sourcePart, dir, ver string) bool {
	for _, b := range p.Binaries {
		if builtVersion(filepath.Join(dir, b.Name), b) != ver {
			return false
		}
	}
	for _, b := range p.Binaries {
		r.rep.Line("%s: up to date (built from %s %s)", b.Name, b.Module, ver)
		r.add(Item{Name: b.Name, Path: filepath.Join(dir, b.Name), Status: UpToDate, Version: ver})
	}
	return true
}

// sourceDirs makes dir, a staging directory in it for the built binaries,
// and the directory go runs in: for go install pkg@version an empty one,
// for etcd and CoreDNS the wrapper module. The caller removes both; on an error
// nothing is left.
func sourceDirs(c Component, p sourcePart, dir string) (stage, work string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("%s: create %s: %w", c, dir, err)
	}
	sweepTemps(dir)
	stage, err = os.MkdirTemp(dir, buildStagePrefix)
	if err != nil {
		return "", "", fmt.Errorf("%s: create a staging directory: %w", c, err)
	}
	work, err = os.MkdirTemp("", "kubetutor-build-"+string(c)+"-")
	if err != nil {
		os.RemoveAll(stage)
		return "", "", fmt.Errorf("%s: create a build directory: %w", c, err)
	}
	if p.Wrapper {
		err = fsutil.WriteFile(filepath.Join(work, "go.mod"), []byte(partWrapperGoMod), 0o644)
		if err == nil && p.Main != "" {
			err = fsutil.WriteFile(filepath.Join(work, "main.go"), []byte(p.Main), 0o644)
		} else if err == nil {
			err = fsutil.WriteFile(filepath.Join(work, "tools.go"), []byte(etcdWrapperTools(p)), 0o644)
		}
		if err != nil {
			os.RemoveAll(work)
			os.RemoveAll(stage)
			return "", "", fmt.Errorf("%s: write the wrapper module: %w", c, err)
		}
	}
	return stage, work, nil
}

// installBuilt checks the build info of every binary staged and moves it
// into dir.
func (r *runner) installBuilt(p sourcePart, stage, dir, ver string) error {
	for _, bin := range p.Binaries {
		staged := filepath.Join(stage, bin.Name)
		if v := builtVersion(staged, bin); v != ver {
			return fmt.Errorf("%s: built, but its build info names %s version %q, not %s", bin.Name, bin.Module, v, ver)
		}
		var size int64
		if fi, err := os.Stat(staged); err == nil {
			size = fi.Size()
		}
		dest := filepath.Join(dir, bin.Name)
		if err := commit(staged, dest, 0o755); err != nil {
			return fmt.Errorf("%s: %w", bin.Name, err)
		}
		r.rep.Line("%s: built, %s, from %s %s", bin.Name, FormatSize(size), bin.Module, ver)
		r.add(Item{Name: bin.Name, Path: dest, Status: Built, Version: ver, Size: size})
	}
	return nil
}
