// Package kubeclient is how kubetutor reaches the API server: the
// kubeconfig found as kubectl finds it (clientcmd's loading rules, with the
// work dir's admin.conf or kubeconfig as a fallback), every file checked
// before it is read, exec credential plugins run with a deadline, clients
// built once per kubeconfig and rebuilt when its files change, a gate that
// makes a new client's requests share one connection, and the memory of an
// API server that did not answer in this run. Package checks builds its
// proofs on it.
package kubeclient

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Settings are what a Client is built from. The Client reads them on every
// call, so the caller may change them until its first use.
type Settings struct {
	// Kubeconfig is the path given with --kubeconfig; empty means
	// KUBECONFIG, then ~/.kube/config, as for kubectl.
	Kubeconfig string
	// WorkDir holds the fallbacks admin.conf and kubeconfig.
	WorkDir string
	// HomeDir holds .kube/config; empty means the user's home directory.
	HomeDir string
	// Getenv reads the environment (KUBECONFIG).
	Getenv func(string) string
	// Timeout bounds every request and the exec credential plugin.
	Timeout time.Duration
	// Now is the clock (credential expiry).
	Now func() time.Time
}

// Client builds Kubernetes clients from the kubeconfig, lazily. It is safe
// for concurrent use.
type Client struct {
	settings func() Settings

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
	apiDown      apiDownMemo
}

// New returns a Client that reads its settings from settings on every call.
func New(settings func() Settings) *Client {
	return &Client{settings: settings}
}

// Injected reports whether the clientset was installed with SetKube.
func (c *Client) Injected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kubeInjected
}

// RawKubeconfig loads and parses the kubeconfig (merged as kubectl merges
// it), again whenever its files change.
func (c *Client) RawKubeconfig() (*clientcmdapi.Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loadConfigLocked()
	if c.rawConfig != nil {
		// It parsed; what it says is for the caller to judge, even when
		// no client can be built from it (no current context, say).
		return c.rawConfig, nil
	}
	return nil, c.configErr
}

// usableConfigLocked (re)loads the kubeconfig and refreshes the exec
// plugin's credentials when they are due: what every client is built from.
func (c *Client) usableConfigLocked() error {
	c.loadConfigLocked()
	if c.configErr != nil {
		return c.configErr
	}
	return c.refreshExecLocked()
}

// RESTConfig is the client configuration from the kubeconfig, with the check
// timeout applied.
func (c *Client) RESTConfig() (*rest.Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usableConfigLocked(); err != nil {
		return nil, err
	}
	return rest.CopyConfig(c.restConfig), nil
}

// loadConfigLocked (re)loads the kubeconfig when it is new or has changed
// on disk, so a long-lived Env (the walkthrough, --watch) sees the learner's
// fixes and a kubeconfig created after it started. Errors are not cached:
// the next call tries again.
func (c *Client) loadConfigLocked() {
	res := c.ResolveKubeconfig()
	if res.Err != nil {
		c.configErr = res.Err
		c.dropConfigLocked()
		return
	}
	var stamp strings.Builder
	for _, p := range res.Files {
		fi, err := os.Stat(p)
		if err != nil {
			c.configErr = &KubeconfigError{Path: p, Err: err}
			c.dropConfigLocked()
			return
		}
		fmt.Fprintf(&stamp, "%s|%d|%d;", p, fi.Size(), fi.ModTime().UnixNano())
	}
	if c.restConfig != nil && stamp.String() == c.configStamp {
		return
	}
	c.dropConfigLocked()
	rules := &clientcmd.ClientConfigLoadingRules{Precedence: res.Files}
	if res.Source == "--kubeconfig" {
		rules = &clientcmd.ClientConfigLoadingRules{ExplicitPath: res.Files[0]}
	}
	raw, err := rules.Load()
	if err != nil {
		c.configErr = &KubeconfigError{Path: res.Files[0], Err: fmt.Errorf("cannot parse it: %w", unwrapLoadError(err))}
		return
	}
	c.rawConfig, c.configStamp = raw, stamp.String()
	cfg, err := clientConfig(raw)
	if err != nil {
		c.configErr = &KubeconfigError{Path: res.Files[0], Err: err}
		return
	}
	cfg.Timeout = c.settings().Timeout
	cfg.UserAgent = "kubetutor"
	// Checks must answer quickly; client-side throttling only slows them.
	cfg.QPS, cfg.Burst = 50, 100
	// client-go runs an exec credential plugin with no deadline; the tutor
	// runs it itself, bounded by the timeout (see refreshExecLocked).
	c.exec, cfg.ExecProvider = cfg.ExecProvider, nil
	c.execFetched, c.execExpiry = false, time.Time{}
	c.restConfig, c.configErr = cfg, nil
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
func (c *Client) dropConfigLocked() {
	c.rawConfig, c.restConfig, c.configStamp = nil, nil, ""
	if !c.kubeInjected {
		c.kube = nil
	}
	c.httpClient = nil
}

// SetKube installs a clientset, for tests and for callers that already have one.
func (c *Client) SetKube(k kubernetes.Interface) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kube, c.kubeInjected = k, true
}

// Kube returns the Kubernetes clientset, building it on first use.
func (c *Client) Kube() (kubernetes.Interface, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kubeInjected {
		return c.kube, nil
	}
	c.loadConfigLocked()
	if c.configErr != nil {
		return nil, c.configErr
	}
	// An API server that did not answer earlier in this run is not asked
	// again (see apiDownMemo).
	if err := c.apiDownLocked(); err != nil {
		return nil, err
	}
	if err := c.refreshExecLocked(); err != nil {
		return nil, err
	}
	if err := c.buildClientLocked(); err != nil {
		return nil, err
	}
	return c.kube, nil
}

// buildClientLocked builds the clientset and its HTTP client once per
// loaded kubeconfig.
func (c *Client) buildClientLocked() error {
	if c.kube != nil && c.httpClient != nil {
		return nil
	}
	cfg := rest.CopyConfig(c.restConfig)
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
	c.kube, c.httpClient = k, hc
	return nil
}

// APIHTTPClient is the clientset's own HTTP client (the kubeconfig's TLS
// and credentials, the check timeout), for requests the clientset has no
// method for (/readyz): they share its connection. With an injected
// clientset it is built from the kubeconfig alone.
func (c *Client) APIHTTPClient() (*http.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usableConfigLocked(); err != nil {
		return nil, err
	}
	if c.kubeInjected {
		return rest.HTTPClientFor(c.restConfig)
	}
	if err := c.buildClientLocked(); err != nil {
		return nil, err
	}
	return c.httpClient, nil
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

func (c *Client) newClientLocked(cfg *rest.Config) (kubernetes.Interface, error) {
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build a Kubernetes client from the kubeconfig: %w", err)
	}
	return k, nil
}

// WatchKube returns a clientset for long-lived watches: the same
// configuration without the per-request timeout, which would cut every watch
// after a few seconds. A clientset installed with SetKube serves both.
func (c *Client) WatchKube() (kubernetes.Interface, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kubeInjected {
		return c.kube, nil
	}
	if err := c.usableConfigLocked(); err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(c.restConfig)
	cfg.Timeout = 0
	return c.newClientLocked(cfg)
}

// KubeStamp identifies the kubeconfig the checks use now (its files, sizes
// and modification times), re-resolved like every check does: a change
// means clients built from the old one must be rebuilt.
func (c *Client) KubeStamp() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kubeInjected {
		return "injected", nil
	}
	c.loadConfigLocked()
	if c.configErr != nil {
		return "", c.configErr
	}
	return c.configStamp, nil
}
