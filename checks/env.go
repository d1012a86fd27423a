package checks

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/host"
	"github.com/kubetutor/kubetutor/internal/kubeclient"
	"github.com/kubetutor/kubetutor/internal/textsafe"
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
	// KubeletURL is the kubelet's own HTTPS API on this node.
	KubeletURL string
	// Exec runs a command in a pod through the API server (kubectl exec);
	// nil means the kube client's. Tests replace it.
	Exec PodExecFunc
	// KubeletGet reads a path of this node's kubelet API (KubeletURL) with
	// the kubeconfig's client certificate; nil means over HTTPS. Tests
	// replace it.
	KubeletGet KubeletGetFunc
	// Dial connects to a Service's ClusterIP as a client on this host does
	// (the kube-proxy step's checks); nil means a net.Dialer's. Tests point
	// it at local servers.
	Dial DialFunc
	// Hostname is this machine's name, to recognise its leases and node.
	Hostname string
	// CacheDir is where checks may remember facts that only change with a
	// file (a binary's version); empty means no cache on disk.
	CacheDir string

	mu      sync.Mutex
	kcOnce  sync.Once
	kc      *kubeclient.Client
	runtime Runtime
	// runtimeSocket is the socket the runtime client was dialled at (nil
	// for a client given by SetRuntime): a client outlives no restart.
	runtimeSocket os.FileInfo
	runtimeClose  func() error
	alive         map[string]time.Time
	versions      onceMap[string]
	closers       []func() error
	memo          *runMemo
	cache         *InformerCache
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
	if e.KubeletURL == "" {
		e.KubeletURL = course.KubeletURL
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

// hostProbe reads the host's facts under HostRoot.
func (e *Env) hostProbe() host.Probe { return host.Probe{Root: e.HostRoot} }

// Path joins elements under the work directory.
func (e *Env) Path(elem ...string) string {
	return filepath.Join(append([]string{e.WorkDir}, elem...)...)
}

// CertPath is the path of one of the talk's certificate files.
func (e *Env) CertPath(name string) string { return e.Path("certs", name) }

// client is the Env's way to the API server, made on first use from the
// Env's settings as they are at each call.
func (e *Env) client() *kubeclient.Client {
	e.kcOnce.Do(func() {
		e.kc = kubeclient.New(func() kubeclient.Settings {
			e.SetDefaults()
			return kubeclient.Settings{Kubeconfig: e.Kubeconfig, WorkDir: e.WorkDir, HomeDir: e.HomeDir, Getenv: e.Getenv, Timeout: e.Timeout, Now: e.Now}
		})
	})
	return e.kc
}

// KubeconfigError says why the kubeconfig cannot be used.
type KubeconfigError = kubeclient.KubeconfigError

// KubeconfigResolution says where the kubeconfig comes from.
type KubeconfigResolution = kubeclient.KubeconfigResolution

// PodExecFunc runs cmd in a pod's container, streaming its output.
type PodExecFunc func(ctx context.Context, ns, pod, container string, cmd []string, stdout, stderr io.Writer) error

// KubeletGetFunc reads a path of this node's kubelet API.
type KubeletGetFunc func(ctx context.Context, path string) ([]byte, error)

// kubeletGet reads GET KubeletURL/PATH with the kubeconfig's client
// credentials, as `curl --cert --key https://127.0.0.1:10250/PATH` does: the
// kubelet authenticates the certificate against its clientCAFile and asks
// the API server whether that user may (a SubjectAccessReview). Not
// through the API server's node proxy: that refuses a node whose name
// resolves to a loopback address ("address not allowed"), Debian's
// 127.0.1.1 among them.
func (e *Env) kubeletGet(ctx context.Context, path string) ([]byte, error) {
	return e.ReadKubelet(ctx, path)
}

// ReadKubelet is kubeletGet for callers outside the checks (the demo reads
// the kubelet's /metrics/probes).
func (e *Env) ReadKubelet(ctx context.Context, path string) ([]byte, error) {
	if e.KubeletGet != nil {
		return e.KubeletGet(ctx, path)
	}
	cfg, err := e.RESTConfig()
	if err != nil {
		return nil, err
	}
	tc, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("load the kubeconfig's client certificate: %w", err)
	}
	if tc == nil {
		tc = &tls.Config{}
	}
	code, body, err := e.kubeletHTTP(ctx, tc, path)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, &KubeletHTTPError{Code: code, Body: truncate(textsafe.FirstLine(strings.TrimSpace(string(body))), 200)}
	}
	return body, nil
}

// KubeletHTTPError is an answer of the kubelet's API other than 200.
type KubeletHTTPError struct {
	Code int
	Body string
}

func (e *KubeletHTTPError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Code, http.StatusText(e.Code), e.Body)
}

// PodExec runs cmd in a pod's container through the API server.
func (e *Env) PodExec(ctx context.Context, ns, pod, container string, cmd []string, stdout, stderr io.Writer) error {
	if e.Exec != nil {
		return e.Exec(ctx, ns, pod, container, cmd, stdout, stderr)
	}
	return e.client().PodExec(ctx, ns, pod, container, cmd, stdout, stderr)
}

// KubeconfigPath is the kubeconfig file in use (see kubeclient).
func (e *Env) KubeconfigPath() string { return e.client().KubeconfigPath() }

// ResolveKubeconfig finds the kubeconfig files the way kubectl does, with
// the work dir's as a fallback (see kubeclient).
func (e *Env) ResolveKubeconfig() KubeconfigResolution { return e.client().ResolveKubeconfig() }

// RawKubeconfig loads and parses the kubeconfig, again whenever its files
// change.
func (e *Env) RawKubeconfig() (*clientcmdapi.Config, error) { return e.client().RawKubeconfig() }

// RESTConfig is the client configuration from the kubeconfig, with the check
// timeout applied.
func (e *Env) RESTConfig() (*rest.Config, error) { return e.client().RESTConfig() }

// SetKube installs a clientset, for tests and for callers that already have one.
func (e *Env) SetKube(k kubernetes.Interface) { e.client().SetKube(k) }

// Kube returns the Kubernetes clientset, building it on first use; an API
// server that did not answer earlier in this run is not asked again.
func (e *Env) Kube() (kubernetes.Interface, error) { return e.client().Kube() }

// APIHTTPClient is the clientset's own HTTP client, for requests the
// clientset has no method for (/readyz).
func (e *Env) APIHTTPClient() (*http.Client, error) { return e.client().APIHTTPClient() }

// WatchKube returns a clientset for long-lived watches (no per-request
// timeout).
func (e *Env) WatchKube() (kubernetes.Interface, error) { return e.client().WatchKube() }

// KubeStamp identifies the kubeconfig the checks use now: a change means
// clients built from the old one must be rebuilt.
func (e *Env) KubeStamp() (string, error) { return e.client().KubeStamp() }

// ForgetAPIDown forgets an API server found unreachable (a run begins).
func (e *Env) ForgetAPIDown() { e.client().ForgetAPIDown() }

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
	if e.runtime != nil && e.runtimeSocket != nil {
		// containerd stopped (its socket removed) or started again (a new
		// socket): the client would wait on a connection that is gone.
		if fi, err := os.Stat(e.ContainerdAddress); err != nil || !os.SameFile(fi, e.runtimeSocket) {
			_ = e.runtimeClose()
			e.runtime, e.runtimeSocket = nil, nil
		}
	}
	if e.runtime != nil {
		return e.runtime, nil
	}
	e.SetDefaults()
	fi, _ := os.Stat(e.ContainerdAddress)
	r, err := dialContainerd(e.ContainerdAddress, e.Timeout)
	if err != nil {
		return nil, err
	}
	e.runtime, e.runtimeSocket, e.runtimeClose = r, fi, sync.OnceValue(r.Close)
	e.closers = append(e.closers, e.runtimeClose)
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
