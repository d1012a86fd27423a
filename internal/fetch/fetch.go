// Package fetch gets the cluster's parts: it downloads the Kubernetes
// binaries, etcd and the CNI plugins from their upstream release locations
// (or a mirror), verifying every file against its published SHA-256 before
// it is made executable and given its name; builds the Kubernetes binaries
// from the Go module proxy instead (--from-source); finds etcd, containerd,
// runc and the CNI plugins the OS installed; and fills and serves a mirror
// for a room.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/kubetutor/kubetutor/course"
)

// Component is a group of parts fetched together.
type Component string

// The components, in the order they are fetched.
const (
	Kubernetes Component = "kubernetes" // kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl (course.Programs)
	Etcd       Component = "etcd"       // etcd and etcdctl
	CNI        Component = "cni"        // the CNI plugins
	// Only --from-source builds these three.
	Containerd Component = "containerd" // containerd, containerd-shim-runc-v2, ctr
	Crictl     Component = "crictl"     // crictl
	// CoreDNS is built (a main with the course Corefile's plugins only) and
	// packed into an image by `kubetutor images load --coredns`.
	CoreDNS Component = "coredns" // coredns
)

// Components are the components fetched by default, in order.
var Components = []Component{Kubernetes, Etcd, CNI}

// SourceComponents are the components --from-source can build, in order.
var SourceComponents = []Component{Kubernetes, Containerd, Etcd, CNI, Crictl, CoreDNS}

// Options say what to fetch, from where, and where to.
type Options struct {
	// BinDir receives the programs (bin layout). Required unless MirrorDir is set.
	BinDir string
	// CNIDir receives the CNI plugins. Default: BinDir/cni.
	CNIDir string
	// MirrorDir, when set, receives the release files themselves, with their
	// checksum files, in the mirror layout (see Mirror) instead of BinDir.
	MirrorDir string
	// Components to fetch; empty means all.
	Components []Component

	Arch                                       string // default runtime.GOARCH
	KubernetesVersion, EtcdVersion, CNIVersion string // default the lessons' versions
	// Sources are the base URLs; default Upstream(). A release and its
	// checksum come from the same place, so the checksum proves only that
	// the download is whole: trust comes from the connection. An https
	// source must present a certificate that verifies, or the one
	// HTTP.Fingerprint pins; a plain http:// source is refused unless
	// InsecureHTTP.
	Sources Sources
	// InsecureHTTP accepts plain http:// sources (--insecure-mirror):
	// whoever is on the network path can then swap a release and its
	// checksum together.
	InsecureHTTP bool

	// UseOS takes etcd and the CNI plugins from the OS when it has them
	// (etcd and etcdctl are linked into BinDir), downloading only what it lacks.
	UseOS bool
	// FromSource builds with the local Go toolchain and downloads nothing:
	// the Kubernetes binaries, containerd and crictl always; etcd and the CNI
	// plugins when Build.Etcd / Build.CNI say so, else they come from the OS.
	FromSource bool
	// ContainerdVersion and CrictlVersion are the versions --from-source
	// builds; default DefaultSourceContainerdVersion, DefaultSourceCrictlVersion.
	ContainerdVersion, CrictlVersion string
	// CoreDNSVersion is the CoreDNS release --from-source builds; default
	// course.CoreDNSVersion.
	CoreDNSVersion string
	Build          BuildOptions

	HTTP HTTPOptions
	// OSBinDirs and OSCNIDirs are where the OS's programs and CNI plugins
	// are looked for; default DefaultOSBinDirs and DefaultOSCNIDirs.
	OSBinDirs, OSCNIDirs []string

	// Reporter shows progress; default Discard.
	Reporter Reporter
	// TTY says the reporter is a terminal (from-source shows elapsed time).
	TTY bool
	// Verbose names every URL fetched.
	Verbose bool
}

// PlainHTTPError refuses a plain http:// source without InsecureHTTP.
type PlainHTTPError struct{ URL string }

func (e *PlainHTTPError) Error() string {
	return fmt.Sprintf("refusing the plain-HTTP mirror %s: nothing proves who sent its files, and a checksum from the same place proves nothing "+
		"(anyone on the network path can swap a binary and its .sha256 together); use a room's https mirror after room join (its certificate is pinned), "+
		"an https:// mirror whose certificate verifies, or pass --insecure-mirror to take that risk", e.URL)
}

// Is makes a *PlainHTTPError a usage error.
func (e *PlainHTTPError) Is(target error) bool { return target == ErrInvalidOptions }

// Status says where a part came from in this run.
type Status string

// The statuses.
const (
	Downloaded Status = "downloaded"
	UpToDate   Status = "up to date"
	Built      Status = "built"
	FromOS     Status = "from the OS"
	Missing    Status = "missing"
)

// Item is one part: a program, the CNI plugins, or a mirrored file.
type Item struct {
	Name    string
	Path    string // where it is now (for FromOS: the link in BinDir, or the OS's CNI directory)
	Status  Status
	Version string
	Size    int64
	// Target is the OS program a link in BinDir points to.
	Target string
}

// Result lists what Run did, in order.
type Result struct {
	Items []Item
}

// Item returns the item called name.
func (r *Result) Item(name string) (Item, bool) {
	for _, it := range r.Items {
		if it.Name == name {
			return it, true
		}
	}
	return Item{}, false
}

// complete fills in the defaults, checks the options and makes the
// directories absolute.
func (o *Options) complete() error {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return err
	}
	return o.resolveDirs()
}

// setDefaults fills in what was not given.
func (o *Options) setDefaults() {
	if o.Arch == "" {
		o.Arch = runtime.GOARCH
	}
	if o.KubernetesVersion == "" {
		o.KubernetesVersion = DefaultKubernetesVersion
	}
	if o.EtcdVersion == "" {
		o.EtcdVersion = DefaultEtcdVersion
	}
	if o.CNIVersion == "" {
		o.CNIVersion = DefaultCNIVersion
	}
	if o.ContainerdVersion == "" {
		o.ContainerdVersion = DefaultSourceContainerdVersion
	}
	if o.CoreDNSVersion == "" {
		o.CoreDNSVersion = course.CoreDNSVersion
	}
	if o.CrictlVersion == "" {
		o.CrictlVersion = DefaultSourceCrictlVersion
	}
	if o.Sources == (Sources{}) {
		o.Sources = Upstream()
	}
	if len(o.Components) == 0 {
		o.Components = Components
	}
	if o.OSBinDirs == nil {
		o.OSBinDirs = DefaultOSBinDirs
	}
	if o.OSCNIDirs == nil {
		o.OSCNIDirs = DefaultOSCNIDirs
	}
	if o.Reporter == nil {
		o.Reporter = Discard
	}
	o.HTTP.setDefaults()
}

// validate refuses components, versions, the architecture and sources
// that cannot be fetched.
func (o *Options) validate() error {
	for _, c := range o.Components {
		if !slices.Contains(SourceComponents, c) {
			return invalidf("unknown component %q: use kubernetes, etcd or cni (with --from-source also containerd, crictl or coredns)", c)
		}
		if !o.FromSource && !slices.Contains(Components, c) {
			return invalidf("%s is never downloaded: install it with your OS, or build it with --from-source", c)
		}
	}
	if (o.Build.Etcd || o.Build.CNI) && !o.FromSource {
		return invalidf("building etcd or the CNI plugins from source needs --from-source")
	}
	for _, v := range []struct{ what, ver string }{
		{"Kubernetes version", o.KubernetesVersion}, {"etcd version", o.EtcdVersion}, {"CNI plugins version", o.CNIVersion},
		{"containerd version", o.ContainerdVersion}, {"crictl version", o.CrictlVersion}, {"CoreDNS version", o.CoreDNSVersion},
	} {
		if err := CheckVersion(v.what, v.ver); err != nil {
			return err
		}
	}
	if !o.FromSource {
		if err := CheckArch(o.Arch); err != nil {
			return err
		}
	}
	for _, base := range []string{o.Sources.Kubernetes, o.Sources.Etcd, o.Sources.CNI} {
		if err := CheckBaseURL(base); err != nil {
			return err
		}
		if !o.FromSource && !o.InsecureHTTP && strings.HasPrefix(base, "http://") {
			return &PlainHTTPError{URL: base}
		}
	}
	return nil
}

// resolveDirs makes the mirror directory, or the bin and CNI directories,
// absolute.
func (o *Options) resolveDirs() error {
	if o.MirrorDir != "" {
		if o.UseOS || o.FromSource {
			return invalidf("a mirror holds release downloads: it cannot be filled from the OS or from source")
		}
		abs, err := filepath.Abs(o.MirrorDir)
		if err != nil {
			return fmt.Errorf("resolve the mirror directory: %w", err)
		}
		o.MirrorDir = abs
		return nil
	}
	if o.BinDir == "" {
		return invalidf("no bin directory given")
	}
	var err error
	if o.BinDir, err = filepath.Abs(o.BinDir); err != nil {
		return fmt.Errorf("resolve the bin directory: %w", err)
	}
	if o.CNIDir == "" {
		o.CNIDir = filepath.Join(o.BinDir, "cni")
	}
	if o.CNIDir, err = filepath.Abs(o.CNIDir); err != nil {
		return fmt.Errorf("resolve the CNI directory: %w", err)
	}
	return nil
}

func (o *Options) has(c Component) bool { return slices.Contains(o.Components, c) }

type runner struct {
	o   Options
	d   *downloader
	rep Reporter
	os  osProbe
	res *Result
}

// Run fetches what o asks for. On error the result lists what was done
// before; no file is ever left half-written.
func Run(ctx context.Context, o Options) (*Result, error) {
	creds := credentials{}
	o.Sources = o.Sources.withoutUserinfo(creds)
	if err := o.complete(); err != nil {
		return nil, err
	}
	r := &runner{
		o:   o,
		d:   &downloader{client: newHTTPClient(o.HTTP), o: o.HTTP, rep: o.Reporter, verbose: o.Verbose, creds: creds},
		rep: o.Reporter,
		os:  osProbe{binDirs: o.OSBinDirs, cniDirs: o.OSCNIDirs, exclude: []string{o.BinDir, o.CNIDir}},
		res: &Result{},
	}
	if o.MirrorDir != "" {
		return r.res, r.mirror(ctx)
	}
	if err := os.MkdirAll(o.BinDir, 0o755); err != nil {
		return r.res, fmt.Errorf("create the bin directory: %w", err)
	}
	sweepTemps(o.BinDir)
	for _, p := range r.parts() {
		if !o.has(p.c) {
			continue
		}
		get := p.download
		if p.fromSource {
			get = p.build
		}
		if err := get(ctx); err != nil {
			return r.res, err
		}
	}
	if len(o.Components) == len(Components) && !o.has(Containerd) && !o.has(Crictl) && !o.has(CoreDNS) {
		r.runtimes(ctx)
	}
	return r.res, nil
}

// part is one component Run fetches: downloaded prebuilt, or built from
// source when fromSource says so (always, for a part with no download).
type part struct {
	c               Component
	fromSource      bool
	download, build func(context.Context) error
}

// parts lists the components in the order Run fetches them.
func (r *runner) parts() []part {
	o := r.o
	source := func(c Component, version string) func(context.Context) error {
		return func(ctx context.Context) error { return r.fromSourcePart(ctx, c, version) }
	}
	return []part{
		{Kubernetes, o.FromSource, r.kubernetes, r.fromSource},
		{Containerd, true, nil, source(Containerd, o.ContainerdVersion)},
		{Etcd, o.FromSource && o.Build.Etcd, r.etcd, source(Etcd, o.EtcdVersion)},
		{CNI, o.FromSource && o.Build.CNI, r.cni, source(CNI, o.CNIVersion)},
		{Crictl, true, nil, source(Crictl, o.CrictlVersion)},
		{CoreDNS, true, nil, source(CoreDNS, o.CoreDNSVersion)},
	}
}

func (r *runner) add(it Item) { r.res.Items = append(r.res.Items, it) }

// kubernetes downloads the Kubernetes binaries (KubernetesBinaries) from dl.k8s.io's layout.
func (r *runner) kubernetes(ctx context.Context) error {
	o := r.o
	for _, name := range KubernetesBinaries {
		url := o.Sources.KubernetesURL(o.KubernetesVersion, o.Arch, name)
		sum, _, err := r.d.checksum(ctx, url+".sha256", name)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		dest := filepath.Join(o.BinDir, name)
		if fi, err := os.Lstat(dest); err == nil && fi.Mode().IsRegular() && fileDigest(dest) == sum {
			if fi.Mode()&0o111 == 0 {
				if err := os.Chmod(dest, 0o755); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			r.rep.Line("%s: up to date", name)
			r.add(Item{Name: name, Path: dest, Status: UpToDate, Version: o.KubernetesVersion, Size: fi.Size()})
			continue
		}
		n, err := r.d.install(ctx, name, url, sum, o.BinDir, name, 0o755)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		r.rep.Line("%s: %s ok", name, FormatSize(n))
		r.add(Item{Name: name, Path: dest, Status: Downloaded, Version: o.KubernetesVersion, Size: n})
	}
	return nil
}

// fromSource builds the Kubernetes binaries (KubernetesBinaries), unless they are there and
// report the wanted version.
func (r *runner) fromSource(ctx context.Context) error {
	o := r.o
	goCmd, err := findGo(o.Build.Go)
	if err != nil {
		return err
	}
	dir := o.Build.Dir
	if dir == "" {
		if dir, err = DefaultBuildDir(o.KubernetesVersion); err != nil {
			return err
		}
	}
	b := &builder{goCmd: goCmd, dir: dir, ver: o.KubernetesVersion, out: o.BinDir, rep: r.rep, tty: o.TTY, goOutput: o.Build.GoOutput, every: o.Build.ProgressEvery}
	if b.upToDate(ctx) {
		for _, name := range KubernetesBinaries {
			r.rep.Line("%s: up to date (reports %s)", name, o.KubernetesVersion)
			r.add(Item{Name: name, Path: filepath.Join(o.BinDir, name), Status: UpToDate, Version: o.KubernetesVersion})
		}
		return nil
	}
	r.rep.Line("Building %s %s from source with %s: about 6 minutes on a fresh Go cache, seconds when cached.",
		strings.Join(KubernetesBinaries, ", "), o.KubernetesVersion, goCmd)
	start := time.Now()
	if err := b.prepare(ctx); err != nil {
		return fmt.Errorf("build from source: %w", err)
	}
	if err := b.build(ctx); err != nil {
		return fmt.Errorf("build from source: %w", err)
	}
	for _, name := range KubernetesBinaries {
		path := filepath.Join(o.BinDir, name)
		v, err := binaryVersion(ctx, path)
		if err != nil {
			return fmt.Errorf("%s: built, but it does not run: %w", name, err)
		}
		if v != o.KubernetesVersion {
			return fmt.Errorf("%s: built, but it reports version %q, not %s", name, v, o.KubernetesVersion)
		}
		var size int64
		if fi, err := os.Stat(path); err == nil {
			size = fi.Size()
		}
		r.rep.Line("%s: built, %s, reports %s", name, FormatSize(size), v)
		r.add(Item{Name: name, Path: path, Status: Built, Version: v, Size: size})
	}
	r.rep.Line("Built in %s.", time.Since(start).Round(time.Second))
	return nil
}

// etcd downloads etcd and etcdctl from the release tarball, or links the OS's.
func (r *runner) etcd(ctx context.Context) error {
	o := r.o
	bin := filepath.Join(o.BinDir, "etcd")
	if o.FromSource && !o.UseOS {
		// Nothing is downloaded: keep an etcd fetched earlier.
		if fi, err := os.Lstat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			v := probeVersion(ctx, bin, "--version")
			r.rep.Line("etcd: %s is already there (%s), kept", bin, v)
			r.add(Item{Name: "etcd", Path: bin, Status: UpToDate, Version: v})
			return nil
		}
	}
	if o.UseOS || o.FromSource {
		if etcd, ok := r.os.program(ctx, "etcd", "--version"); ok {
			return r.linkOS(etcd, r.etcdctlFromOS(ctx))
		}
		if o.FromSource {
			return fmt.Errorf("etcd: not installed by the OS (looked in %s), and --from-source downloads nothing: install it (Debian: apt install etcd-server etcd-client) or fetch without --from-source",
				strings.Join(o.OSBinDirs, ", "))
		}
		r.rep.Line("etcd: not installed by the OS; downloading it")
	}

	archive := EtcdArchive(o.EtcdVersion, o.Arch)
	url := o.Sources.EtcdURL(o.EtcdVersion, o.Arch)
	sum, _, err := r.d.checksum(ctx, o.Sources.EtcdSumsURL(o.EtcdVersion), archive)
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	m := loadManifest(o.BinDir)
	if names := m.fromArchive(o.BinDir, archive, sum, EtcdBinaries); names != nil {
		for _, name := range EtcdBinaries {
			r.rep.Line("%s: up to date (from %s)", name, archive)
			r.add(Item{Name: name, Path: filepath.Join(o.BinDir, name), Status: UpToDate, Version: o.EtcdVersion})
		}
		return nil
	}
	got, err := r.extractArchive(ctx, url, archive, sum, o.BinDir, pickNames(EtcdBinaries...), EtcdBinaries)
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	for _, name := range EtcdBinaries {
		e, ok := got[name]
		if !ok {
			return fmt.Errorf("etcd: %s has no %s", archive, name)
		}
		r.rep.Line("%s: %s ok (from %s)", name, FormatSize(e.Size), archive)
		r.add(Item{Name: name, Path: filepath.Join(o.BinDir, name), Status: Downloaded, Version: o.EtcdVersion, Size: e.Size})
	}
	return nil
}

func (r *runner) etcdctlFromOS(ctx context.Context) *OSPart {
	if p, ok := r.os.program(ctx, "etcdctl", "version"); ok {
		return &p
	}
	return nil
}

// linkOS links the OS's etcd (and etcdctl) into the bin dir.
func (r *runner) linkOS(etcd OSPart, etcdctl *OSPart) error {
	for _, p := range []*OSPart{&etcd, etcdctl} {
		if p == nil {
			r.rep.Line("etcdctl: not installed by the OS (Debian: apt install etcd-client)")
			r.add(Item{Name: "etcdctl", Status: Missing})
			continue
		}
		same, err := link(r.o.BinDir, p.Name, p.Path)
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		note := "linked as"
		if same {
			note = "already linked as"
		}
		r.rep.Line("%s (%s %s)", p, note, filepath.Join(r.o.BinDir, p.Name))
		r.add(Item{Name: p.Name, Path: filepath.Join(r.o.BinDir, p.Name), Status: FromOS, Version: p.Version, Target: p.Path})
	}
	return nil
}

// cni downloads the CNI plugins into the CNI directory, or reports the OS's.
func (r *runner) cni(ctx context.Context) error {
	o := r.o
	if o.UseOS || o.FromSource {
		if p, ok := r.os.cni(ctx); ok {
			r.rep.Line("%s", p)
			r.add(Item{Name: "CNI plugins", Path: p.Path, Status: FromOS, Version: p.Version})
			return nil
		}
		if o.FromSource {
			r.rep.Line("CNI plugins: not installed by the OS (looked in %s; Debian: apt install containernetworking-plugins), and --from-source downloads nothing",
				strings.Join(o.OSCNIDirs, ", "))
			r.add(Item{Name: "CNI plugins", Status: Missing})
			return nil
		}
		r.rep.Line("CNI plugins: not installed by the OS; downloading them")
	}
	if err := os.MkdirAll(o.CNIDir, 0o755); err != nil {
		return fmt.Errorf("CNI plugins: create %s: %w", o.CNIDir, err)
	}
	sweepTemps(o.CNIDir)
	archive := CNIArchive(o.CNIVersion, o.Arch)
	url := o.Sources.CNIURL(o.CNIVersion, o.Arch)
	sum, _, err := r.d.checksum(ctx, url+".sha256", archive)
	if err != nil {
		return fmt.Errorf("CNI plugins: %w", err)
	}
	if names := loadManifest(o.CNIDir).fromArchive(o.CNIDir, archive, sum, CNIPlugins); names != nil {
		r.rep.Line("CNI plugins: up to date in %s (%d plugins from %s)", o.CNIDir, len(names), archive)
		r.add(Item{Name: "CNI plugins", Path: o.CNIDir, Status: UpToDate, Version: o.CNIVersion})
		return nil
	}
	got, err := r.extractArchive(ctx, url, archive, sum, o.CNIDir, pickExecutables, CNIPlugins)
	if err != nil {
		return fmt.Errorf("CNI plugins: %w", err)
	}
	var total int64
	for _, p := range CNIPlugins {
		if _, ok := got[p]; !ok {
			return fmt.Errorf("CNI plugins: %s has no %s plugin", archive, p)
		}
	}
	for _, e := range got {
		total += e.Size
	}
	r.rep.Line("CNI plugins: %d plugins, %s ok in %s (from %s)", len(got), FormatSize(total), o.CNIDir, archive)
	r.add(Item{Name: "CNI plugins", Path: o.CNIDir, Status: Downloaded, Version: o.CNIVersion, Size: total})
	return nil
}

// extractArchive downloads and verifies an archive next to dir's files,
// extracts what pick selects into dir and records it in dir's manifest.
func (r *runner) extractArchive(ctx context.Context, url, archive, sum, dir string, pick pickFunc, required []string) (map[string]extracted, error) {
	tmp, n, err := r.d.verified(ctx, archive, url, sum, dir)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	if r.o.Verbose {
		r.rep.Line("%s: %s, sha256 %s ok", archive, FormatSize(n), sum)
	}
	files, err := extract(tmp, dir, pick, required)
	got := map[string]extracted{}
	m := loadManifest(dir)
	for _, e := range files {
		got[e.Name] = e
		m.Files[e.Name] = manifestEntry{SHA256: e.SHA256, Archive: archive, ArchiveSHA256: sum, URL: url}
	}
	if len(files) > 0 {
		if serr := m.save(dir); serr != nil && err == nil {
			err = serr
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", archive, err)
	}
	return got, nil
}

// runtimes reports containerd and runc: fetch never downloads them.
func (r *runner) runtimes(ctx context.Context) {
	for _, rt := range []struct{ name, pkg string }{{"containerd", "containerd"}, {"runc", "runc"}} {
		if p, ok := r.os.program(ctx, rt.name, "--version"); ok {
			r.rep.Line("%s", p)
			r.add(Item{Name: rt.name, Path: p.Path, Status: FromOS, Version: p.Version})
			continue
		}
		r.rep.Line("%s: not installed (Debian, as root: apt install %s); kubetutor does not download it", rt.name, rt.pkg)
		r.add(Item{Name: rt.name, Status: Missing})
	}
}

// mirror downloads the release files themselves, with their checksum files,
// into the mirror layout.
func (r *runner) mirror(ctx context.Context) error {
	o := r.o
	if o.has(Kubernetes) {
		dir := filepath.Join(o.MirrorDir, mirrorKubernetes, o.KubernetesVersion, "bin", "linux", o.Arch)
		for _, name := range KubernetesBinaries {
			url := o.Sources.KubernetesURL(o.KubernetesVersion, o.Arch, name)
			if err := r.mirrorFile(ctx, name, url, url+".sha256", name+".sha256", dir, name); err != nil {
				return err
			}
		}
	}
	if o.has(Etcd) {
		dir := filepath.Join(o.MirrorDir, mirrorEtcd, o.EtcdVersion)
		archive := EtcdArchive(o.EtcdVersion, o.Arch)
		if err := r.mirrorFile(ctx, archive, o.Sources.EtcdURL(o.EtcdVersion, o.Arch), o.Sources.EtcdSumsURL(o.EtcdVersion), "SHA256SUMS", dir, archive); err != nil {
			return err
		}
	}
	if o.has(CNI) {
		dir := filepath.Join(o.MirrorDir, mirrorCNI, o.CNIVersion)
		archive := CNIArchive(o.CNIVersion, o.Arch)
		url := o.Sources.CNIURL(o.CNIVersion, o.Arch)
		if err := r.mirrorFile(ctx, archive, url, url+".sha256", archive+".sha256", dir, archive); err != nil {
			return err
		}
	}
	return nil
}

// mirrorFile puts one release file and its checksum file, as published, into dir.
func (r *runner) mirrorFile(ctx context.Context, name, url, sumURL, sumName, dir, file string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: create %s: %w", name, dir, err)
	}
	sweepTemps(dir)
	sum, raw, err := r.d.checksum(ctx, sumURL, file)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	dest := filepath.Join(dir, file)
	if fileDigest(dest) == sum {
		r.rep.Line("%s: up to date", name)
		r.add(Item{Name: name, Path: dest, Status: UpToDate})
	} else {
		n, err := r.d.install(ctx, name, url, sum, dir, file, 0o644)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		r.rep.Line("%s: %s ok", name, FormatSize(n))
		r.add(Item{Name: name, Path: dest, Status: Downloaded, Size: n})
	}
	if err := writeFileAtomic(filepath.Join(dir, sumName), raw, 0o644); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// IsUsage reports whether err is a problem with the options themselves.
func IsUsage(err error) bool { return errors.Is(err, ErrInvalidOptions) }
