package checks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/host"
)

// Defaults shared by the checks, the lessons and the demo. They follow the talk.
const (
	DefaultAPIServerURL      = course.APIServerURL
	DefaultEtcdURL           = "http://127.0.0.1:2379"
	DefaultContainerdAddress = "/run/containerd/containerd.sock"
	DefaultCNIConfDir        = "/etc/cni/net.d"
	DefaultNamespace         = "default"
	DefaultDeployment        = "nginx"
	DefaultTimeout           = 5 * time.Second
)

// DefaultCNIBinDirs are where CNI plugins are looked for: upstream's default
// first, then Debian's package location.
var DefaultCNIBinDirs = host.CNIBinDirs

// Env is everything a check may look at. Clients are built lazily, on first
// use, so a check that needs no cluster dials none. An Env is safe for
// concurrent use.
type Env struct {
	// WorkDir holds bin/ and certs/, as in the lessons.
	WorkDir string
	// Kubeconfig is the kubeconfig path given with --kubeconfig; empty means
	// KUBECONFIG, then ~/.kube/config, as for kubectl.
	Kubeconfig string
	// ContainerdAddress is containerd's socket.
	ContainerdAddress string
	// APIServerURL is where the lessons put the API server.
	APIServerURL string
	// EtcdURL is etcd's client URL.
	EtcdURL string
	// CNIConfDir and CNIBinDirs are where CNI configuration and plugins live.
	CNIConfDir string
	CNIBinDirs []string
	// Namespace and Deployment name the learner's workload.
	Namespace  string
	Deployment string
	// Timeout bounds every network call a check makes.
	Timeout time.Duration
	// PathEnv is the PATH searched for binaries after WorkDir/bin; empty
	// means the process's PATH.
	PathEnv string
	// Now is the clock used for certificate validity.
	Now func() time.Time
	// HostRoot is where the host checks find /proc, /sys and the system's
	// directories; "/" but for tests.
	HostRoot string
	// Euid is the effective user ID; os.Geteuid but for tests.
	Euid func() int
	// Getenv reads the environment (KUBECONFIG); os.Getenv but for tests.
	Getenv func(string) string
	// HomeDir holds .kube/config; empty means the user's home directory.
	HomeDir string
	// Healthz overrides, by component name, the /healthz URL on this
	// machine that the course's table gives (tests point it elsewhere).
	Healthz map[string]string
	// Hostname is this machine's name, to recognise its leases and node.
	Hostname string
	// CacheDir is where checks may remember facts that only change with a
	// file (a binary's version); empty means no cache on disk.
	CacheDir string

	mu           sync.Mutex
	kube         kubernetes.Interface
	httpClient   *http.Client
	kubeInjected bool
	restConfig   *rest.Config
	rawConfig    *clientcmdapi.Config
	configErr    error
	configStamp  string
	exec         *clientcmdapi.ExecConfig
	execFetched  bool
	execExpiry   time.Time
	runtime      Runtime
	alive        map[string]time.Time
	versions     map[string]*versionCall
	closers      []func() error
	apiDown      apiDownMemo
	memo         *runMemo
	cache        *InformerCache
}

// NewEnv returns an Env with the talk's defaults filled in.
func NewEnv(workDir string) *Env {
	e := &Env{WorkDir: workDir}
	e.SetDefaults()
	return e
}

// SetDefaults fills every unset field with the talk's default. NewEnv and the
// runner call it; it is idempotent.
func (e *Env) SetDefaults() {
	if e.WorkDir == "" {
		e.WorkDir = "."
	}
	if e.ContainerdAddress == "" {
		e.ContainerdAddress = DefaultContainerdAddress
	}
	if e.APIServerURL == "" {
		e.APIServerURL = DefaultAPIServerURL
	}
	if e.EtcdURL == "" {
		e.EtcdURL = DefaultEtcdURL
	}
	if e.CNIConfDir == "" {
		e.CNIConfDir = DefaultCNIConfDir
	}
	if len(e.CNIBinDirs) == 0 {
		// Where containerd looks by default, Debian's package, and where
		// `kubetutor fetch` puts them.
		e.CNIBinDirs = append(append([]string{}, DefaultCNIBinDirs...), e.Path("bin", "cni"))
	}
	if e.Namespace == "" {
		e.Namespace = DefaultNamespace
	}
	if e.Deployment == "" {
		e.Deployment = DefaultDeployment
	}
	if e.Timeout <= 0 {
		e.Timeout = DefaultTimeout
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.HostRoot == "" {
		e.HostRoot = "/"
	}
	if e.Euid == nil {
		e.Euid = os.Geteuid
	}
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.Hostname == "" {
		e.Hostname = defaultHostname()
	}
}

// HealthzURL is where the named component answers /healthz on this
// machine: the Env's override, else the course's table.
func (e *Env) HealthzURL(component string) string {
	if u := e.Healthz[component]; u != "" {
		return u
	}
	c, _ := course.Lookup(component)
	return c.Healthz
}

// SetHealthz points the Env at a component's /healthz elsewhere.
func (e *Env) SetHealthz(component, url string) {
	if e.Healthz == nil {
		e.Healthz = map[string]string{}
	}
	e.Healthz[component] = url
}

// HostPath is a path of the host's filesystem, under HostRoot.
func (e *Env) HostPath(p ...string) string {
	return filepath.Join(append([]string{e.HostRoot}, p...)...)
}

// Path joins elements under the work directory.
func (e *Env) Path(elem ...string) string {
	return filepath.Join(append([]string{e.WorkDir}, elem...)...)
}

// CertPath is the path of one of the talk's certificate files.
func (e *Env) CertPath(name string) string { return e.Path("certs", name) }

// KubeconfigPath is the kubeconfig file in use: the first file that was
// loaded, else the first place looked at (--kubeconfig, the first entry of
// KUBECONFIG, ~/.kube/config). Messages and hints name it.
func (e *Env) KubeconfigPath() string {
	r := e.ResolveKubeconfig()
	if len(r.Files) > 0 {
		return r.Files[0]
	}
	if len(r.Searched) > 0 {
		return r.Searched[0]
	}
	return filepath.Join(".kube", "config")
}

// MaxKubeconfigSize bounds what is read as a kubeconfig: real ones are a few
// kilobytes; this keeps a wrong path (a disk image, a log) from eating memory.
const MaxKubeconfigSize = fsutil.LimitKubeconfig

// KubeconfigResolution says where the kubeconfig comes from, as kubectl
// would find it, and with the work directory's files as a fallback.
type KubeconfigResolution struct {
	// Files are the files loaded, merged in this order (first wins).
	Files []string
	// Searched are the places looked at, in order of precedence.
	Searched []string
	// Source says why these files: "--kubeconfig", "KUBECONFIG",
	// "~/.kube/config" or "work dir" (the fallback).
	Source string
	// Err says why no kubeconfig can be loaded (nil when Files is set).
	Err error
	// kubectlPlaces is how many of Searched are kubectl's own places.
	kubectlPlaces int
}

// Describe names the files used, for messages: "admin.conf (found in the
// work dir; neither KUBECONFIG nor ~/.kube/config exists)".
func (r KubeconfigResolution) Describe() string {
	switch {
	case len(r.Files) == 0:
		return "no kubeconfig"
	case r.Source == "work dir":
		return fmt.Sprintf("%s (from the work dir: %s does not exist)", r.Files[0], strings.Join(r.Searched[:r.kubectlPlaces], ", "))
	case len(r.Files) > 1:
		return fmt.Sprintf("%s (%s, merged)", strings.Join(r.Files, " + "), r.Source)
	}
	return fmt.Sprintf("%s (%s)", r.Files[0], r.Source)
}

// workDirKubeconfigs are the fallbacks in the work dir: the certs lesson's
// file and the talk's.
var workDirKubeconfigs = []string{"admin.conf", "kubeconfig"}

// ResolveKubeconfig finds the kubeconfig files the way kubectl does
// (clientcmd's loading rules: --kubeconfig, else every file of the
// KUBECONFIG list that exists, merged, else ~/.kube/config), falling back
// to the work dir's admin.conf, then kubeconfig, when none exists. Every
// file is checked to be a regular file of sane size before anything reads
// it, so a FIFO or /dev/zero cannot hang or exhaust the tutor. It looks at
// the disk on every call: a file created later is found.
func (e *Env) ResolveKubeconfig() KubeconfigResolution {
	e.SetDefaults()
	var r KubeconfigResolution
	if e.Kubeconfig != "" {
		r.Source, r.Searched = "--kubeconfig", []string{e.Kubeconfig}
		if err := checkKubeconfigFile(e.Kubeconfig); errors.Is(err, os.ErrNotExist) {
			r.Err = &KubeconfigError{Path: e.Kubeconfig, Err: err, Missing: true, Searched: r.Searched}
			return r
		} else if err != nil {
			r.Err = err
			return r
		}
		r.Files = []string{e.Kubeconfig}
		return r
	}
	if v := e.Getenv("KUBECONFIG"); v != "" {
		r.Source = "KUBECONFIG"
		seen := map[string]bool{}
		for _, p := range filepath.SplitList(v) {
			if p != "" && !seen[p] {
				seen[p] = true
				r.Searched = append(r.Searched, p)
			}
		}
	}
	if len(r.Searched) == 0 {
		r.Source = "~/.kube/config"
		home := e.HomeDir
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		r.Searched = []string{filepath.Join(home, ".kube", "config")}
	}
	for _, p := range r.Searched {
		err := checkKubeconfigFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // kubectl skips missing entries too
		}
		if err != nil {
			r.Files, r.Err = nil, err
			return r
		}
		r.Files = append(r.Files, p)
	}
	if len(r.Files) > 0 {
		return r
	}
	r.kubectlPlaces = len(r.Searched)
	for _, name := range workDirKubeconfigs {
		p := e.Path(name)
		r.Searched = append(r.Searched, p)
		err := checkKubeconfigFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			r.Err = err
			return r
		}
		r.Source, r.Files = "work dir", []string{p}
		return r
	}
	r.Err = &KubeconfigError{Path: r.Searched[0], Err: os.ErrNotExist, Missing: true, Searched: r.Searched}
	return r
}

// checkKubeconfigFile returns nil for a regular file of sane size; an
// error wrapping os.ErrNotExist when there is no file; a *KubeconfigError
// otherwise.
func checkKubeconfigFile(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err != nil {
		return &KubeconfigError{Path: path, Err: err}
	}
	if !fi.Mode().IsRegular() {
		return &KubeconfigError{Path: path, Err: fmt.Errorf("it is %s, not a regular file", fileKind(fi.Mode()))}
	}
	if fi.Size() > MaxKubeconfigSize {
		return &KubeconfigError{Path: path, Err: fmt.Errorf("it is %d bytes, more than any kubeconfig (limit %d)", fi.Size(), MaxKubeconfigSize)}
	}
	return nil
}

func fileKind(m os.FileMode) string { return "a " + fsutil.Kind(m) }

// KubeconfigError says why the kubeconfig cannot be used. It is a learner's
// problem, not an internal error, so checks turn it into a failing result.
type KubeconfigError struct {
	Path string
	Err  error
	// Missing is set when no kubeconfig file exists at all; Searched lists
	// where it was looked for.
	Missing  bool
	Searched []string
}

func (e *KubeconfigError) Error() string {
	if e.Missing {
		if len(e.Searched) > 1 {
			return fmt.Sprintf("no kubeconfig: none of %s exists", strings.Join(e.Searched, ", "))
		}
		return fmt.Sprintf("no kubeconfig at %s", e.Path)
	}
	return fmt.Sprintf("kubeconfig %s: %v", e.Path, e.Err)
}

func (e *KubeconfigError) Unwrap() error { return e.Err }

// RawKubeconfig loads and parses the kubeconfig (merged as kubectl merges
// it), again whenever its files change.
func (e *Env) RawKubeconfig() (*clientcmdapi.Config, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.loadConfigLocked()
	if e.rawConfig != nil {
		// It parsed; what it says is for the caller to judge, even when
		// no client can be built from it (no current context, say).
		return e.rawConfig, nil
	}
	return nil, e.configErr
}

// usableConfigLocked (re)loads the kubeconfig and refreshes the exec
// plugin's credentials when they are due: what every client is built from.
func (e *Env) usableConfigLocked() error {
	e.loadConfigLocked()
	if e.configErr != nil {
		return e.configErr
	}
	return e.refreshExecLocked()
}

// RESTConfig is the client configuration from the kubeconfig, with the check
// timeout applied.
func (e *Env) RESTConfig() (*rest.Config, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.usableConfigLocked(); err != nil {
		return nil, err
	}
	return rest.CopyConfig(e.restConfig), nil
}

// loadConfigLocked (re)loads the kubeconfig when it is new or has changed
// on disk, so a long-lived Env (the walkthrough, --watch) sees the learner's
// fixes and a kubeconfig created after it started. Errors are not cached:
// the next call tries again.
func (e *Env) loadConfigLocked() {
	res := e.ResolveKubeconfig()
	if res.Err != nil {
		e.configErr = res.Err
		e.dropConfigLocked()
		return
	}
	var stamp strings.Builder
	for _, p := range res.Files {
		fi, err := os.Stat(p)
		if err != nil {
			e.configErr = &KubeconfigError{Path: p, Err: err}
			e.dropConfigLocked()
			return
		}
		fmt.Fprintf(&stamp, "%s|%d|%d;", p, fi.Size(), fi.ModTime().UnixNano())
	}
	if e.restConfig != nil && stamp.String() == e.configStamp {
		return
	}
	e.dropConfigLocked()
	rules := &clientcmd.ClientConfigLoadingRules{Precedence: res.Files}
	if res.Source == "--kubeconfig" {
		rules = &clientcmd.ClientConfigLoadingRules{ExplicitPath: res.Files[0]}
	}
	raw, err := rules.Load()
	if err != nil {
		e.configErr = &KubeconfigError{Path: res.Files[0], Err: fmt.Errorf("cannot parse it: %w", unwrapLoadError(err))}
		return
	}
	e.rawConfig, e.configStamp = raw, stamp.String()
	cfg, err := clientConfig(raw)
	if err != nil {
		e.configErr = &KubeconfigError{Path: res.Files[0], Err: err}
		return
	}
	cfg.Timeout = e.Timeout
	cfg.UserAgent = "kubetutor"
	// Checks must answer quickly; client-side throttling only slows them.
	cfg.QPS, cfg.Burst = 50, 100
	// client-go runs an exec credential plugin with no deadline; the tutor
	// runs it itself, bounded by the timeout (see refreshExecLocked).
	e.exec, cfg.ExecProvider = cfg.ExecProvider, nil
	e.execFetched, e.execExpiry = false, time.Time{}
	e.restConfig, e.configErr = cfg, nil
}

// unwrapLoadError drops clientcmd's aggregate wrapping of a single error.
func unwrapLoadError(err error) error {
	var agg interface{ Errors() []error }
	if errors.As(err, &agg) && len(agg.Errors()) == 1 {
		return agg.Errors()[0]
	}
	return err
}

// clientConfig builds a client configuration from a merged kubeconfig,
// saying in the tutor's words what stands in the way (client-go's own
// message for an empty kubeconfig talks of KUBERNETES_MASTER).
func clientConfig(raw *clientcmdapi.Config) (*rest.Config, error) {
	if len(raw.Contexts) == 0 && len(raw.Clusters) == 0 && len(raw.AuthInfos) == 0 {
		return nil, errors.New("it is empty: no cluster, user or context (kubectl config set-cluster, set-credentials and set-context write them)")
	}
	if raw.CurrentContext == "" {
		return nil, errors.New("it has no current-context (kubectl config use-context NAME sets it)")
	}
	kctx, ok := raw.Contexts[raw.CurrentContext]
	if !ok {
		return nil, fmt.Errorf("its current-context %q is not one of its contexts", raw.CurrentContext)
	}
	if _, ok := raw.Clusters[kctx.Cluster]; !ok {
		return nil, fmt.Errorf("context %q names cluster %q, which it does not define", raw.CurrentContext, kctx.Cluster)
	}
	if u := raw.AuthInfos[kctx.AuthInfo]; u != nil {
		for _, f := range []struct{ what, path string }{{"client certificate", u.ClientCertificate}, {"client key", u.ClientKey}, {"token file", u.TokenFile}} {
			if f.path == "" {
				continue
			}
			if err := checkCredentialFile(f.path); err != nil {
				return nil, fmt.Errorf("its %s %s: %w", f.what, f.path, err)
			}
		}
	}
	if c := raw.Clusters[kctx.Cluster]; c.CertificateAuthority != "" && len(c.CertificateAuthorityData) == 0 {
		if err := checkCredentialFile(c.CertificateAuthority); err != nil {
			return nil, fmt.Errorf("its certificate authority %s: %w", c.CertificateAuthority, err)
		}
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*raw, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, errors.New("it defines no usable context")
		}
		return nil, unwrapLoadError(err)
	}
	return cfg, nil
}

// checkCredentialFile says what is wrong with a file a kubeconfig refers to.
func checkCredentialFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errors.New("does not exist")
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("is %s, not a regular file", fileKind(fi.Mode()))
	case fi.Size() > MaxKubeconfigSize:
		return fmt.Errorf("is %d bytes, too large for a credential", fi.Size())
	}
	return nil
}

// dropConfigLocked forgets the kubeconfig and the clients built from it,
// unless the clientset was installed with SetKube.
func (e *Env) dropConfigLocked() {
	e.rawConfig, e.restConfig, e.configStamp = nil, nil, ""
	if !e.kubeInjected {
		e.kube = nil
	}
	e.httpClient = nil
}

// SetKube installs a clientset, for tests and for callers that already have one.
func (e *Env) SetKube(k kubernetes.Interface) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.kube, e.kubeInjected = k, true
}

// Kube returns the Kubernetes clientset, building it on first use.
func (e *Env) Kube() (kubernetes.Interface, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.kubeInjected {
		return e.kube, nil
	}
	e.loadConfigLocked()
	if e.configErr != nil {
		return nil, e.configErr
	}
	// An API server that did not answer earlier in this run is not asked
	// again (see apiDownMemo).
	if err := e.apiDownLocked(); err != nil {
		return nil, err
	}
	if err := e.refreshExecLocked(); err != nil {
		return nil, err
	}
	if err := e.buildClientLocked(); err != nil {
		return nil, err
	}
	return e.kube, nil
}

// buildClientLocked builds the clientset and its HTTP client once per
// loaded kubeconfig.
func (e *Env) buildClientLocked() error {
	if e.kube != nil && e.httpClient != nil {
		return nil
	}
	cfg := rest.CopyConfig(e.restConfig)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &firstRequestGate{rt: rt, done: make(chan struct{})}
	})
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return fmt.Errorf("build a Kubernetes client from the kubeconfig: %w", err)
	}
	k, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return fmt.Errorf("build a Kubernetes client from the kubeconfig: %w", err)
	}
	e.kube, e.httpClient = k, hc
	return nil
}

// APIHTTPClient is the clientset's own HTTP client (the kubeconfig's TLS
// and credentials, the check timeout), for requests the clientset has no
// method for (/readyz): they share its connection. With an injected
// clientset it is built from the kubeconfig alone.
func (e *Env) APIHTTPClient() (*http.Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.usableConfigLocked(); err != nil {
		return nil, err
	}
	if e.kubeInjected {
		return rest.HTTPClientFor(e.restConfig)
	}
	if err := e.buildClientLocked(); err != nil {
		return nil, err
	}
	return e.httpClient, nil
}

// firstRequestGate holds a new client's requests until its first one has
// an answer. The checks of a run start at once: without it, requests that
// start while the first connection is still in its TLS handshake each dial
// (and pay for a handshake) of their own; after it they all share one
// HTTP/2 connection. A first request that fails or times out releases the
// others, which then fail alike or within their own deadline.
type firstRequestGate struct {
	rt   http.RoundTripper
	once sync.Once
	done chan struct{}
}

// WrappedRoundTripper lets client-go reach the transport underneath, to
// cancel a request that timed out (without it, client-go logs "unable to
// cancel request" to the learner's terminal).
func (g *firstRequestGate) WrappedRoundTripper() http.RoundTripper { return g.rt }

var _ utilnet.RoundTripperWrapper = (*firstRequestGate)(nil)

func (g *firstRequestGate) RoundTrip(r *http.Request) (*http.Response, error) {
	first := false
	g.once.Do(func() { first = true })
	if first {
		defer close(g.done)
		return g.rt.RoundTrip(r)
	}
	select {
	case <-g.done:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return g.rt.RoundTrip(r)
}

func (e *Env) newClientLocked(cfg *rest.Config) (kubernetes.Interface, error) {
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build a Kubernetes client from the kubeconfig: %w", err)
	}
	return k, nil
}

// WatchKube returns a clientset for long-lived watches: the same
// configuration without the per-request timeout, which would cut every watch
// after a few seconds. A clientset installed with SetKube serves both.
func (e *Env) WatchKube() (kubernetes.Interface, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.kubeInjected {
		return e.kube, nil
	}
	if err := e.usableConfigLocked(); err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(e.restConfig)
	cfg.Timeout = 0
	return e.newClientLocked(cfg)
}

// SetRuntime installs a container runtime client, for tests.
func (e *Env) SetRuntime(r Runtime) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.runtime = r
}

// Runtime returns the containerd client, connecting on first use.
func (e *Env) Runtime() (Runtime, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.runtime != nil {
		return e.runtime, nil
	}
	e.SetDefaults()
	r, err := dialContainerd(e.ContainerdAddress, e.Timeout)
	if err != nil {
		return nil, err
	}
	e.runtime = r
	e.closers = append(e.closers, r.Close)
	return r, nil
}

// Close releases the clients the Env built.
func (e *Env) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, c := range e.closers {
		errs = append(errs, c())
	}
	e.closers = nil
	e.runtime = nil
	return errors.Join(errs...)
}

// withTimeout bounds ctx by the Env's timeout.
func (e *Env) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.Timeout)
}

// markAlive records that a component was seen running now, so that a later
// check in the same session (the walkthrough, --watch) can say when it was
// last seen alive once it is gone.
func (e *Env) markAlive(component string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.alive == nil {
		e.alive = map[string]time.Time{}
	}
	e.alive[component] = e.Now()
}

// lastAliveNote is "; last seen alive 12s ago, at 03:04:05" when this
// session saw the component running, else "".
func (e *Env) lastAliveNote(component string) string {
	e.mu.Lock()
	t, ok := e.alive[component]
	e.mu.Unlock()
	if !ok {
		return ""
	}
	return fmt.Sprintf("; last seen alive %s ago, at %s", e.Now().Sub(t).Round(time.Second), t.Local().Format("15:04:05"))
}

// KubeStamp identifies the kubeconfig the checks use now (its files, sizes
// and modification times), re-resolved like every check does: a change
// means clients built from the old one must be rebuilt.
func (e *Env) KubeStamp() (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.kubeInjected {
		return "injected", nil
	}
	e.loadConfigLocked()
	if e.configErr != nil {
		return "", e.configErr
	}
	return e.configStamp, nil
}

// PingAPI asks the API server for its version, bounded by the check
// timeout: a cheap GET that says whether it answers now.
func (e *Env) PingAPI(ctx context.Context) error {
	e.ForgetAPIDown()
	kube, err := e.Kube()
	if err != nil {
		return err
	}
	ctx, cancel := e.withTimeout(ctx)
	defer cancel()
	if rc := kube.Discovery().RESTClient(); rc != nil && !reflect.ValueOf(rc).IsNil() {
		return rc.Get().AbsPath("/version").Do(ctx).Error()
	}
	_, err = kube.Discovery().ServerVersion()
	return err
}
