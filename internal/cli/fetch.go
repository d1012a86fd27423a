package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/fetch"
	"github.com/kubetutor/kubetutor/internal/host"
	"github.com/kubetutor/kubetutor/internal/room"
	"github.com/kubetutor/kubetutor/internal/shellquote"
	"github.com/kubetutor/kubetutor/internal/textsafe"
)

// FetchOptions are the options of `kubetutor fetch`.
type FetchOptions struct {
	f *Factory

	Components        []string
	BinDir            string
	CNIDir            string
	KubernetesVersion string
	EtcdVersion       string
	CNIVersion        string
	ContainerdVersion string
	CrictlVersion     string
	CoreDNSVersion    string
	Arch              string
	Mirror            string
	InsecureMirror    bool
	MirrorDir         string
	Serve             string
	Addr              string
	UseOS             bool
	FromSource        bool
	StallTimeout      time.Duration
	Verbose           bool
}

const fetchLong = `Get the cluster's parts into the work dir's bin/, where the tools step looks:

  kubernetes   kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kubectl
               from https://dl.k8s.io/<ver>/bin/linux/<arch>/<name>
  etcd         etcd and etcdctl, from the etcd release tarball on GitHub
  cni          the CNI plugins, from the containernetworking/plugins release tarball,
               into --cni-dir (default bin/cni in the work dir)

Give COMPONENTs to fetch only those; the default is all three. Every file is
checked against the SHA-256 its release publishes before it is made executable
and given its name: a mismatch, a truncated or interrupted download leaves
nothing half-written, and files already there whose checksum verifies are
skipped ("up to date"; what came out of a tarball is recorded, with the
tarball's checksum, in .kubetutor-fetch.json next to it). A server that stops
sending for --stall-timeout fails the download; transient failures are retried
twice.

containerd and runc are never downloaded (install them with your OS); fetch
says whether it found them.

The CNI plugins: containerd looks in the bin_dir (bin_dirs in 2.x) that
/etc/containerd/config.toml sets, or in /opt/cni/bin, its default; fetch says
which this machine's file sets. Either set bin_dir to the --cni-dir (kubetutor
show containerd), or, as root, pass --cni-dir /opt/cni/bin.

From the OS (--use-os): etcd and the CNI plugins that the OS installed (Debian:
etcd-server and etcd-client in /usr/bin, containernetworking-plugins in
/usr/lib/cni) are used instead of downloads; bin/etcd and bin/etcdctl become
links to them. Only what the OS lacks is downloaded.

From source (--from-source), for machines that reach only the Go module proxy:
kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kubectl are
built with the local Go toolchain from the k8s.io/kubernetes module, in a
wrapper module in ${XDG_CACHE_HOME:-~/.cache}/kubetutor/build-<ver>
($KUBETUTOR_BUILD_DIR overrides) that pins each staging module to its published
v0.<minor>.<patch>; the binaries are static (CGO_ENABLED=0), stripped, and report
their version. This takes about 6 minutes on a fresh Go cache and seconds when
cached; with -v you see go's output. It is skipped when all the binaries are in
the bin dir and report the wanted version. Nothing is downloaded: etcd and the
CNI plugins must come from the OS (fetch fails when the OS has no etcd).

A mirror for a room with poor Wi-Fi: one machine fills a directory with the
release files and their checksum files (--mirror-dir DIR) and serves it; learners
pass --mirror URL. A mirror's checksums come from the mirror itself, so they only
prove a download whole: trust comes from the connection. The room's mirror
(kubetutor room serve --tls --mirror-dir DIR) is HTTPS with the room's
certificate, which fetch pins once you joined the room (room join); any other
https:// mirror needs a certificate that verifies. A plain http:// mirror (such
as --serve DIR, on --addr) is refused unless you pass --insecure-mirror: then
anyone on the network path can hand you any binary with a matching checksum.
The layout under a mirror is the upstream one under three prefixes:

  <mirror>/kubernetes/<ver>/bin/linux/<arch>/<name>          and <name>.sha256
  <mirror>/etcd/<ver>/etcd-<ver>-linux-<arch>.tar.gz          and SHA256SUMS
  <mirror>/cni/<ver>/cni-plugins-linux-<arch>-<ver>.tgz       and <tgz>.sha256

Any web server can serve such a directory, and such a directory can be filled by
hand with curl from the upstream locations.

Exit status: 0 when everything is in place, 1 when a download, a check or the
build failed, 2 on bad flags.`

const fetchExample = `  # everything, into ./bin (and ./bin/cni), then check
  kubetutor fetch
  export PATH=$PWD/bin:$PATH
  kubetutor check tools

  # Debian's etcd and CNI plugins, downloading only the Kubernetes binaries
  kubetutor fetch --use-os

  # no internet but the Go module proxy: build Kubernetes, etcd from the OS
  kubetutor fetch --from-source

  # the CNI plugins where containerd looks by default (as root)
  sudo kubetutor fetch cni --cni-dir /opt/cni/bin

  # the upstream stack: containerd 2.x, crictl, etcd 3.6, CNI plugins 1.10
  kubetutor fetch --from-source --etcd-version v3.6.17 --cni-version v1.10.0 containerd crictl etcd cni

  # instructor: fill a mirror (amd64 and arm64), then serve it with the room (HTTPS)
  kubetutor fetch --mirror-dir /srv/kubetutor
  kubetutor fetch --mirror-dir /srv/kubetutor --arch arm64
  kubetutor room serve --tls --data ~/room --mirror-dir /srv/kubetutor

  # learners, after the room join command the room printed (it pins the certificate)
  kubetutor fetch --mirror https://192.168.1.10:7077/mirror

  # a plain-HTTP mirror: nothing authenticates it, so only on a network you trust
  kubetutor fetch --serve /srv/kubetutor --addr :8080
  kubetutor fetch --mirror http://192.168.1.10:8080 --insecure-mirror`

// fetchHook lets tests adjust the options fetch.Run gets (OS directories,
// retry delays).
var fetchHook func(*fetch.Options)

func newFetchCmd(f *Factory) *cobra.Command {
	o := &FetchOptions{f: f}
	cmd := &cobra.Command{
		Use:       "fetch [COMPONENT...]",
		Short:     "Get the cluster's parts: the Kubernetes binaries, etcd and the CNI plugins",
		Long:      fetchLong,
		Example:   fetchExample,
		ValidArgs: []string{"kubernetes", "etcd", "cni", "containerd", "crictl", "coredns"},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Components = args
			return runFetch(cmd, o)
		},
	}
	o.addFlags(cmd)
	return cmd
}

// addFlags declares fetch's flags and what each mode excludes.
func (o *FetchOptions) addFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&o.BinDir, "bin-dir", "", "where the programs go (default: bin/ in the work dir)")
	fl.StringVar(&o.CNIDir, "cni-dir", "", "where the CNI plugins go (default: cni/ in the bin dir; containerd's default is /opt/cni/bin)")
	fl.StringVar(&o.KubernetesVersion, "kubernetes-version", fetch.DefaultKubernetesVersion, "the Kubernetes release")
	fl.StringVar(&o.EtcdVersion, "etcd-version", fetch.DefaultEtcdVersion, "the etcd release")
	fl.StringVar(&o.CNIVersion, "cni-version", fetch.DefaultCNIVersion, "the CNI plugins release")
	fl.StringVar(&o.ContainerdVersion, "containerd-version", fetch.DefaultSourceContainerdVersion, "with --from-source, the containerd release to build")
	fl.StringVar(&o.CrictlVersion, "crictl-version", fetch.DefaultSourceCrictlVersion, "with --from-source, the crictl release to build")
	fl.StringVar(&o.CoreDNSVersion, "coredns-version", course.CoreDNSVersion, "with --from-source, the CoreDNS release to build")
	fl.StringVar(&o.Arch, "arch", runtime.GOARCH, "the architecture of the downloads: amd64 or arm64")
	fl.StringVar(&o.Mirror, "mirror", "", "download from this mirror (https://HOST:PORT/..., a joined room's is pinned) instead of the upstream locations")
	fl.BoolVar(&o.InsecureMirror, "insecure-mirror", false, "accept a plain http:// --mirror, which nothing authenticates: anyone on the network path can swap a binary and its checksum")
	fl.StringVar(&o.MirrorDir, "mirror-dir", "", "fill this directory with the release files and checksums in the mirror layout, instead of bin/")
	fl.StringVar(&o.Serve, "serve", "", "serve this mirror directory over HTTP until interrupted")
	fl.StringVar(&o.Addr, "addr", ":8080", "with --serve, the address to listen on")
	fl.BoolVar(&o.UseOS, "use-os", false, "use the etcd and CNI plugins the OS installed; download only what it lacks")
	fl.BoolVar(&o.FromSource, "from-source", false, "build the Kubernetes binaries with the local Go toolchain through the Go module proxy; download nothing")
	fl.DurationVar(&o.StallTimeout, "stall-timeout", 30*time.Second, "fail a download when the server sends nothing for this long")
	fl.BoolVarP(&o.Verbose, "verbose", "v", false, "name every URL; with --from-source, show go's output")
	// What a mode excludes, cobra refuses (a usage error saying why:
	// root.go) and completion stops offering.
	excludes(cmd, "serve", "--serve only serves a directory: it takes --addr, not %s",
		"bin-dir", "cni-dir", "kubernetes-version", "etcd-version", "cni-version", "arch", "mirror", "insecure-mirror", "mirror-dir", "use-os", "from-source", "stall-timeout", "containerd-version", "crictl-version")
	excludes(cmd, "mirror-dir", "--mirror-dir fills a mirror with release downloads: %s do not apply", "bin-dir", "cni-dir", "use-os", "from-source")
	excludes(cmd, "from-source", "--from-source builds with the local Go toolchain and downloads nothing: %s do not apply", "mirror", "insecure-mirror", "arch", "stall-timeout")
	_ = cmd.MarkFlagDirname("bin-dir")
	_ = cmd.MarkFlagDirname("cni-dir")
	_ = cmd.MarkFlagDirname("mirror-dir")
	_ = cmd.MarkFlagDirname("serve")
	_ = cmd.RegisterFlagCompletionFunc("arch", cobra.FixedCompletions([]string{"amd64", "arm64"}, cobra.ShellCompDirectiveNoFileComp))
}

func runFetch(cmd *cobra.Command, o *FetchOptions) error {
	if o.Serve != "" {
		if len(o.Components) > 0 {
			return usageErrorf("--serve only serves a directory: it takes --addr, not %s", strings.Join(o.Components, " "))
		}
		return runFetchServe(cmd.Context(), o)
	}
	if err := o.validate(cmd); err != nil {
		return err
	}
	opts, err := o.options(cmd)
	if err != nil {
		return err
	}
	res, err := fetch.Run(cmd.Context(), opts)
	if err != nil {
		return o.explain(err, opts)
	}
	fetchSummary(o, opts, res)
	return nil
}

// validate refuses what the flags and components given cannot mean.
func (o *FetchOptions) validate(cmd *cobra.Command) error {
	changed := func(names ...string) []string {
		var out []string
		for _, n := range names {
			if cmd.Flags().Changed(n) {
				out = append(out, "--"+n)
			}
		}
		return out
	}
	if changed("addr") != nil {
		return usageErrorf("--addr is where --serve listens: give --serve DIR too")
	}
	for _, c := range o.Components {
		if !slices.Contains(fetch.SourceComponents, fetch.Component(c)) {
			return usageErrorf("unknown component %q: use kubernetes, etcd or cni, with --from-source also containerd or crictl (see kubetutor fetch --help)", c)
		}
		if !o.FromSource && !slices.Contains(fetch.Components, fetch.Component(c)) {
			return usageErrorf("%s is never downloaded: install it with your OS, or build it with --from-source (see kubetutor fetch --help)", c)
		}
	}
	if !o.FromSource {
		if c := changed("containerd-version", "crictl-version"); len(c) > 0 {
			return usageErrorf("%s: only --from-source builds containerd and crictl", strings.Join(c, ", "))
		}
	}
	if o.StallTimeout <= 0 {
		return usageErrorf("--stall-timeout must be positive")
	}
	if o.InsecureMirror && o.Mirror == "" {
		return usageErrorf("--insecure-mirror accepts a plain http:// --mirror: give --mirror URL too")
	}
	if o.Mirror != "" {
		if err := fetch.CheckBaseURL(o.Mirror); err != nil {
			return usageErrorf("--mirror: %v", err)
		}
	}
	return nil
}

// options are fetch.Run's options for the validated flags; it warns of
// an insecure mirror.
func (o *FetchOptions) options(cmd *cobra.Command) (fetch.Options, error) {
	f := o.f
	opts := fetch.Options{
		MirrorDir:         o.MirrorDir,
		Arch:              o.Arch,
		KubernetesVersion: o.KubernetesVersion,
		EtcdVersion:       o.EtcdVersion,
		CNIVersion:        o.CNIVersion,
		UseOS:             o.UseOS,
		FromSource:        o.FromSource,
		ContainerdVersion: o.ContainerdVersion,
		CrictlVersion:     o.CrictlVersion,
		CoreDNSVersion:    o.CoreDNSVersion,
		HTTP:              fetch.HTTPOptions{StallTimeout: o.StallTimeout},
		Reporter:          fetch.NewReporter(f.IO.Out, f.IO.OutTTY, f.IO.Width),
		TTY:               f.IO.OutTTY,
		Verbose:           o.Verbose,
	}
	for _, c := range o.Components {
		opts.Components = append(opts.Components, fetch.Component(c))
	}
	if o.Mirror != "" {
		opts.Sources = fetch.Mirror(o.Mirror)
		opts.InsecureHTTP = o.InsecureMirror
		if strings.HasPrefix(o.Mirror, "http://") && o.InsecureMirror {
			fmt.Fprintf(f.IO.ErrOut, "warning: --insecure-mirror: %s is plain HTTP and nothing authenticates it: anyone on the network path, "+
				"or whoever runs it, can hand you any binary with a matching checksum, and it is installed for you to run (the kubelet as root)\n", textsafe.StripUserinfo(o.Mirror))
		}
		opts.HTTP.Fingerprint = f.roomPin(o.Mirror)
	}
	if o.Verbose {
		opts.Build.GoOutput = f.IO.ErrOut
	}
	if o.FromSource {
		// etcd and the CNI plugins come from the OS unless a version to
		// build is given.
		opts.Build.Etcd = cmd.Flags().Changed("etcd-version")
		opts.Build.CNI = cmd.Flags().Changed("cni-version")
	}
	if o.MirrorDir == "" {
		wd, err := workDir(f)
		if err != nil {
			return opts, err
		}
		opts.BinDir = o.BinDir
		if opts.BinDir == "" {
			opts.BinDir = filepath.Join(wd, "bin")
		}
		opts.CNIDir = o.CNIDir
	}
	if fetchHook != nil {
		fetchHook(&opts)
	}
	return opts, nil
}

// explain is fetch.Run's error, a usage error or with a hint where one
// helps.
func (o *FetchOptions) explain(err error, opts fetch.Options) error {
	if fetch.IsUsage(err) {
		return usageErrorf("%v", err)
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) && o.Mirror != "" && opts.HTTP.Fingerprint == "" {
		return fmt.Errorf("%w\nhint: a room's mirror has the room's own certificate: run the room join command the instructor gave first, then fetch pins the certificate join pinned", err)
	}
	var netErr net.Error
	if errors.As(err, &netErr) && o.FromSource {
		// Not the hint below: it suggests --from-source.
		return fmt.Errorf("%w\nhint: --from-source downloads modules from the Go module proxy (go env GOPROXY) and compiles for minutes: run it again to go on from the Go cache, "+
			"or download the release binaries instead (kubetutor fetch, without --from-source) or from a mirror (--mirror URL)", err)
	}
	if errors.As(err, &netErr) && o.Mirror == "" {
		return fmt.Errorf("%w\nhint: without a way to the release servers, build from the Go module proxy (kubetutor fetch --from-source) or use a mirror (--mirror URL)", err)
	}
	return err
}

// fetchSummary says what to do with what was fetched.
func fetchSummary(o *FetchOptions, opts fetch.Options, res *fetch.Result) {
	out := o.f.IO.Out
	if o.MirrorDir != "" {
		abs, _ := filepath.Abs(o.MirrorDir)
		fmt.Fprintf(out, "\nThe mirror in %s is ready. Serve it to the room with\n  kubetutor fetch --serve %s\n", abs, shellquote.Quote(abs))
		return
	}
	bin, _ := filepath.Abs(opts.BinDir)
	fmt.Fprintf(out, "\nThe programs are in %s. Put it first on your PATH and check:\n  export PATH=%s:$PATH\n  kubetutor check tools\n", bin, shellquote.Quote(bin))
	it, ok := res.Item("CNI plugins")
	again := "kubetutor fetch cni --cni-dir /opt/cni/bin"
	if b, built := res.Item("bridge"); built {
		// Built from source: one item per plugin.
		it, ok = fetch.Item{Path: filepath.Dir(b.Path), Status: b.Status}, true
		again = "kubetutor fetch --from-source --cni-version " + shellquote.Quote(b.Version) + " cni --cni-dir /opt/cni/bin"
	}
	if ok && (it.Status == fetch.Downloaded || it.Status == fetch.UpToDate || it.Status == fetch.Built) && !slices.Contains(checks.DefaultCNIBinDirs, it.Path) {
		cniSummary(out, it.Path, again)
	}
}

// cniSummary says where this machine's containerd looks for the CNI
// plugins, which fetch put in dir, as its configuration file sets it; when
// not in dir but in /opt/cni/bin, fetching there (again) is the other way.
func cniSummary(out io.Writer, dir, again string) {
	env := checks.NewEnv(".")
	env.HostRoot = host.Root
	fmt.Fprintf(out, "The CNI plugins are in %s. %s\n", dir, checks.CNIBinDirNote(env, dir))
	if !checks.ContainerdLooksIn(env, dir) && checks.ContainerdLooksIn(env, checks.DefaultCNIBinDir) {
		fmt.Fprintf(out, "Or fetch them where containerd looks, as root: %s\n", again)
	}
}

// roomPin is the certificate fingerprint the joined room pinned, when the
// mirror is that room's (https, same host and port); "" otherwise.
func (f *Factory) roomPin(mirror string) string {
	sd, err := f.stateDir()
	if err != nil {
		return ""
	}
	st, err := room.LoadState(sd)
	if err != nil || st == nil || st.Fingerprint == "" {
		return ""
	}
	m, err1 := url.Parse(mirror)
	r, err2 := url.Parse(st.URL)
	if err1 != nil || err2 != nil || m.Scheme != "https" || r.Scheme != "https" || !strings.EqualFold(m.Host, r.Host) {
		return ""
	}
	return st.Fingerprint
}

func runFetchServe(ctx context.Context, o *FetchOptions) error {
	f := o.f
	dir, err := filepath.Abs(o.Serve)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", o.Serve, err)
	}
	held, err := fetch.CheckMirrorDir(dir)
	if err != nil {
		return usageErrorf("%v", err)
	}
	if len(held) == 0 {
		fmt.Fprintf(f.IO.ErrOut, "warning: %s holds no kubernetes/, etcd/ or cni/ release directory; fill it with kubetutor fetch --mirror-dir %s\n", dir, shellquote.Quote(dir))
	}
	return fetch.Serve(ctx, dir, o.Addr, f.IO.ErrOut, func(a net.Addr) {
		what := ""
		if len(held) > 0 {
			what = " (" + strings.Join(held, ", ") + ")"
		}
		fmt.Fprintf(f.IO.Out, "Serving %s%s on %s over plain HTTP; Ctrl-C to stop. Nothing authenticates it (kubetutor room serve --tls --mirror-dir serves it pinned). Learners run:\n", dir, what, a)
		for _, u := range fetch.MirrorURLs(a) {
			fmt.Fprintf(f.IO.Out, "  kubetutor fetch --mirror %s --insecure-mirror\n", shellquote.Quote(u))
		}
	})
}
