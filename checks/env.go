package checks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubetutor/kubetutor/internal/host"
)

// Defaults shared by the checks, the lessons and the demo. They follow the talk.
const (
	DefaultAPIServerURL      = "https://127.0.0.1:6443"
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

	mu           sync.Mutex
	kube         kubernetes.Interface
	kubeInjected bool
	restConfig   *rest.Config
	rawConfig    *clientcmdapi.Config
	configErr    error
	configStamp  string
	runtime      Runtime
	closers      []func() error
	apiDown      apiDownMemo
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
}

// HostPath is a path of the host's filesystem, under HostRoot.
func (e *Env) HostPath(p string) string { return filepath.Join(e.HostRoot, p) }

// Path joins elements under the work directory.
func (e *Env) Path(elem ...string) string {
	return filepath.Join(append([]string{e.WorkDir}, elem...)...)
}

// CertPath is the path of one of the talk's certificate files.
func (e *Env) CertPath(name string) string { return e.Path("certs", name) }

// KubeconfigPath is the kubeconfig file that is used: --kubeconfig, else the
// first entry of KUBECONFIG, else ~/.kube/config.
func (e *Env) KubeconfigPath() string {
	if e.Kubeconfig != "" {
		return e.Kubeconfig
	}
	if v := os.Getenv("KUBECONFIG"); v != "" {
		for _, p := range filepath.SplitList(v) {
			if p != "" {
				return p
			}
		}
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".kube", "config")
	}
	return filepath.Join(home, ".kube", "config")
}

// KubeconfigError says why the kubeconfig cannot be used. It is a learner's
// problem, not an internal error, so checks turn it into a failing result.
type KubeconfigError struct {
	Path string
	Err  error
}

func (e *KubeconfigError) Error() string {
	if errors.Is(e.Err, os.ErrNotExist) {
		return fmt.Sprintf("no kubeconfig at %s", e.Path)
	}
	return fmt.Sprintf("kubeconfig %s: %v", e.Path, e.Err)
}

func (e *KubeconfigError) Unwrap() error { return e.Err }

// RawKubeconfig loads and parses the kubeconfig once.
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

// RESTConfig is the client configuration from the kubeconfig, with the check
// timeout applied.
func (e *Env) RESTConfig() (*rest.Config, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.loadConfigLocked()
	if e.configErr != nil {
		return nil, e.configErr
	}
	return rest.CopyConfig(e.restConfig), nil
}

// loadConfigLocked (re)loads the kubeconfig when it is new or has changed
// on disk, so a long-lived Env (the walkthrough, --watch) sees the learner's
// fixes. Errors are not cached: the next call tries again.
func (e *Env) loadConfigLocked() {
	e.SetDefaults()
	path := e.KubeconfigPath()
	fi, err := os.Stat(path)
	if err != nil {
		e.configErr = &KubeconfigError{Path: path, Err: err}
		e.dropConfigLocked()
		return
	}
	stamp := fmt.Sprintf("%s|%d|%d", path, fi.Size(), fi.ModTime().UnixNano())
	if e.restConfig != nil && stamp == e.configStamp {
		return
	}
	e.dropConfigLocked()
	raw, err := clientcmd.LoadFromFile(path)
	if err != nil {
		e.configErr = &KubeconfigError{Path: path, Err: fmt.Errorf("cannot parse it: %w", err)}
		return
	}
	e.rawConfig = raw
	cfg, err := clientcmd.NewDefaultClientConfig(*raw, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		e.configErr = &KubeconfigError{Path: path, Err: err}
		return
	}
	cfg.Timeout = e.Timeout
	cfg.UserAgent = "kubetutor"
	// Checks must answer quickly; client-side throttling only slows them.
	cfg.QPS, cfg.Burst = 50, 100
	e.rawConfig, e.restConfig, e.configErr, e.configStamp = raw, cfg, nil, stamp
}

// dropConfigLocked forgets the kubeconfig and the clients built from it,
// unless the clientset was installed with SetKube.
func (e *Env) dropConfigLocked() {
	e.rawConfig, e.restConfig, e.configStamp = nil, nil, ""
	if !e.kubeInjected {
		e.kube = nil
	}
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
	if e.kube != nil {
		return e.kube, nil
	}
	k, err := e.newClientLocked(e.restConfig)
	if err != nil {
		return nil, err
	}
	e.kube = k
	return k, nil
}

func (e *Env) newClientLocked(cfg *rest.Config) (kubernetes.Interface, error) {
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build a Kubernetes client from %s: %w", e.KubeconfigPath(), err)
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
	e.loadConfigLocked()
	if e.configErr != nil {
		return nil, e.configErr
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
