package checks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubetutor/kubetutor/internal/certutil"
	"github.com/kubetutor/kubetutor/internal/textsafe"
)

// APIServerReady checks that kube-apiserver answers, through the
// kubeconfig, and is ready: it must speak TLS with a certificate the
// kubeconfig's CA vouches for, answer /readyz, and say on /version that it is
// Kubernetes. Anything else that answers is named as not kube-apiserver.
type APIServerReady struct{}

// Name implements Checker.
func (APIServerReady) Name() string { return "apiserver-ready" }

// kubeVersionRE is a Kubernetes gitVersion, as /version reports it.
var kubeVersionRE = regexp.MustCompile(`^v1\.\d+\.\d+([-+][0-9A-Za-z.+-]*)?$`)

// Check implements Checker. It speaks HTTP to /readyz and /version with the
// kubeconfig's transport (TLS and credentials), as kubectl get --raw would.
func (APIServerReady) Check(ctx context.Context, env *Env) (Result, error) {
	cfg, err := env.RESTConfig()
	if err != nil {
		return kubeconfigFailure(err), nil
	}
	u, bad, ok := serverURL(cfg, env)
	if !ok {
		return bad, nil
	}
	// The clientset's own client: the checks that use it share one
	// connection (and one TLS handshake) with this one.
	client, err := env.APIHTTPClient()
	if err != nil {
		var kerr *KubeconfigError
		if !errors.As(err, &kerr) {
			err = &KubeconfigError{Path: env.KubeconfigPath(), Err: err}
		}
		return kubeconfigFailure(err), nil
	}
	p := apiProbe{env: env, host: textsafe.URL(cfg.Host), u: u, client: client}
	if r, ok := p.readyz(ctx); !ok {
		return r, nil
	}
	return p.version(ctx), nil
}

// serverURL is the kubeconfig's server, when it is an https URL the
// kubeconfig's CA verifies; else the failure saying why not.
func serverURL(cfg *rest.Config, env *Env) (*url.URL, Result, bool) {
	u, err := url.Parse(cfg.Host)
	// The server as shown: a user and password in it are credentials.
	shown := textsafe.URL(cfg.Host)
	if err != nil || u.Host == "" {
		return nil, failf("The kubeconfig's server %q is not a URL.", shown).
			saw("server "+shown, "server "+env.APIServerURL).
			hint("kubectl config set-cluster local-apiserver --server=%s", env.APIServerURL), false
	}
	if u.Scheme != "https" {
		return nil, failf("The kubeconfig points at %s, plain HTTP: kube-apiserver serves its API over TLS only.", shown).
			saw("server "+shown, "server "+env.APIServerURL).
			hint("kubectl config set-cluster local-apiserver --server=%s", env.APIServerURL), false
	}
	if cfg.Insecure || (len(cfg.CAData) == 0 && cfg.CAFile == "") {
		return nil, failf("The kubeconfig does not verify the API server's certificate (no CA, or insecure-skip-tls-verify): whatever answers at %s would be trusted.", shown).
			saw("no certificate authority", "the cluster's CA embedded").
			hint("kubectl config set-cluster local-apiserver --certificate-authority=certs/ca.crt --embed-certs=true --server=%s", env.APIServerURL), false
	}
	return u, Result{}, true
}

// apiProbe asks the kubeconfig's server, through client, whether it is a
// ready kube-apiserver.
type apiProbe struct {
	env    *Env
	host   string // the kubeconfig's server
	u      *url.URL
	client *http.Client
}

// endpoint is the URL of path on the server, as client-go makes it: the
// server's path prefix, then path; a query string in the kubeconfig's
// server is not sent (client-go replaces it with the request's own).
func (p apiProbe) endpoint(path string) string {
	u := *p.u
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String()
}

// notAPIServer is the failure of something else answering at the server.
func (p apiProbe) notAPIServer(what string) Result {
	return failf("Something answers on %s but it is not kube-apiserver: %s.", p.u.Host, what).
		saw(what, "kube-apiserver (TLS, /readyz, /version)").
		hint("find what listens there (ss -ltnp | grep %s), stop it, and start kube-apiserver (kubetutor show apiserver)", p.u.Port())
}

// readyz asks /readyz: ok when it answers 200, else the failure.
func (p apiProbe) readyz(ctx context.Context) (Result, bool) {
	code, body, err := httpGet(ctx, p.client, p.endpoint("/readyz"))
	var rhe tls.RecordHeaderError
	switch {
	case errors.Is(err, http.ErrSchemeMismatch):
		return p.notAPIServer("plain HTTP"), false
	case errors.As(err, &rhe):
		return p.notAPIServer("it does not speak TLS"), false
	case err != nil:
		return apiFailure(p.env, err), false
	}
	switch {
	case code == http.StatusUnauthorized:
		return apiFailure(p.env, apierrors.NewUnauthorized(statusMessage(body))), false
	case code == http.StatusForbidden:
		return apiFailure(p.env, &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden, Message: statusMessage(body)}}), false
	case code == http.StatusServiceUnavailable || code >= 500 && strings.Contains(string(body), "readyz check failed"):
		return failf("The API server answers but is not ready yet: %s.", summarizeReadyz(body)).
			saw("/readyz failing", "/readyz ok").
			hint("wait a few seconds; if it stays so, read kube-apiserver's log (is etcd healthy? kubetutor check etcd)"), false
	case code != http.StatusOK:
		answer := fmt.Sprintf("/readyz answers HTTP %d", code)
		if line := textsafe.FirstLine(string(body)); line != "" {
			answer += " (" + truncate(line, 80) + ")"
		}
		return p.notAPIServer(answer), false
	}
	return Result{}, true
}

// version asks /version, which must name a Kubernetes version: the
// check's verdict.
func (p apiProbe) version(ctx context.Context) Result {
	env := p.env
	vcode, vbody, err := httpGet(ctx, p.client, p.endpoint("/version"))
	if err != nil {
		return apiFailure(env, err)
	}
	var v struct {
		Major      string `json:"major"`
		Minor      string `json:"minor"`
		GitVersion string `json:"gitVersion"`
		Platform   string `json:"platform"`
	}
	switch {
	case vcode == http.StatusUnauthorized || vcode == http.StatusForbidden:
		return apiFailure(env, &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: int32(vcode), Reason: metav1.StatusReason(http.StatusText(vcode)), Message: statusMessage(vbody)}})
	case vcode != http.StatusOK:
		return p.notAPIServer(fmt.Sprintf("/version answers HTTP %d", vcode))
	case json.Unmarshal(vbody, &v) != nil || !kubeVersionRE.MatchString(v.GitVersion) || v.Major == "":
		return p.notAPIServer(fmt.Sprintf("/version answers %q, not a Kubernetes version", truncate(textsafe.FirstLine(string(vbody)), 80)))
	}
	env.markAlive("kube-apiserver")
	return passf("kube-apiserver %s at %s is ready.", v.GitVersion, p.host).
		saw("TLS verified with the kubeconfig's CA, /readyz ok, /version "+v.GitVersion, "kube-apiserver").
		detail("server version %s (%s)", v.GitVersion, v.Platform).
		detail("kubeconfig: %s", env.ResolveKubeconfig().Describe())
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func httpGet(ctx context.Context, client *http.Client, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}

// statusMessage is the message of a Kubernetes Status body, or the body.
func statusMessage(body []byte) string {
	var st metav1.Status
	if json.Unmarshal(body, &st) == nil && st.Message != "" {
		return st.Message
	}
	return strings.TrimSpace(string(body))
}

func summarizeReadyz(body []byte) string {
	var failing []string
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "[-]") {
			failing = append(failing, strings.TrimPrefix(strings.Fields(line)[0], "[-]"))
		}
	}
	if len(failing) == 0 {
		return "not ok"
	}
	return "failing " + strings.Join(failing, ", ")
}

// refusedFailure is apiFailure's verdict when nothing listens at host, the
// kubeconfig's server; why is what the connection got.
func refusedFailure(env *Env, host, why string) Result {
	if host != env.APIServerURL && listens(env, env.APIServerURL) {
		// The kubeconfig names another address than the one the lessons
		// start kube-apiserver on, and something listens there.
		return failf("Nothing listens at %s, the server the kubeconfig names (%s), but something does at %s, where the lessons start kube-apiserver: the kubeconfig points at the wrong address.", host, why, env.APIServerURL).
			saw(why+" at "+host, "the kubeconfig's server: "+env.APIServerURL).
			hint("point the kubeconfig at the API server: kubectl config set-cluster local-apiserver --server=%s (kubectl config view names the cluster)", env.APIServerURL)
	}
	return failf("kube-apiserver is not running: nothing listens at %s (%s)%s.", host, why, env.lastAliveNote("kube-apiserver")).
		saw(why, "kube-apiserver answering at "+host).
		hint("start kube-apiserver (kubetutor show apiserver); if it exits at once, read its last lines")
}

// listens reports whether something accepts TCP connections at a URL's
// host and port, within a second.
func listens(env *Env, rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := env.dial(ctx, "tcp", u.Host)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func apiServerHost(env *Env) string {
	if cfg, err := env.RESTConfig(); err == nil {
		return textsafe.URL(cfg.Host)
	}
	return env.APIServerURL
}

// apiFailure turns an error from the API server into a result that says
// what went wrong and what to do. Every check that talks to the API server
// uses it, so a learner gets the same diagnosis wherever it shows up.
func apiFailure(env *Env, err error) Result {
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		env.client().NoteAPIDown(err)
	}
	host := apiServerHost(env)
	var kerr *KubeconfigError
	if errors.As(err, &kerr) {
		return kubeconfigFailure(err)
	}
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var proxyErr *net.OpError
	switch {
	case errors.As(err, &proxyErr) && proxyErr.Op == "proxyconnect":
		return proxyFailure(env, host, proxyErr)
	case errors.Is(err, syscall.ECONNREFUSED):
		return refusedFailure(env, host, "connection refused")
	case errors.Is(err, syscall.ECONNRESET) && !listens(env, host):
		// A connection reset as kube-apiserver exits (the kernel resets
		// what was queued on its socket), and nothing listens any more.
		return refusedFailure(env, host, "connection reset, and nothing listens there now")
	case errors.As(err, &hostErr) && tlsServerName(env) != "":
		// The name checked is the kubeconfig's tls-server-name, not the
		// server's address: the kubeconfig is what to fix.
		name := tlsServerName(env)
		return failf("The API server's certificate is not valid for %q, the kubeconfig's tls-server-name (the name its certificate is checked against instead of the server's address): %v.", name, hostErr).
			saw("SANs: "+strings.Join(certutil.SANs(hostErr.Certificate), ", "), "a SAN for "+name).
			hint("set tls-server-name to one of the certificate's names, or remove it so that the server's address is checked: kubectl config unset clusters.CLUSTER.tls-server-name (kubectl config view names the cluster)")
	case errors.As(err, &hostErr):
		name := hostErr.Host
		return failf("The API server's certificate is not valid for %q, the address the kubeconfig uses: %v.", name, hostErr).
			saw("SANs: "+strings.Join(certutil.SANs(hostErr.Certificate), ", "), "a SAN for "+name).
			hint("reissue certs/server.crt with %s in its subjectAltName (kubetutor check certs): kube-apiserver watches the file and serves the new certificate within seconds, no restart needed", sanSpec([]string{name}))
	case errors.As(err, &unknown):
		issuer := "an unknown issuer"
		if unknown.Cert != nil {
			issuer = fmt.Sprintf("%q", unknown.Cert.Issuer.CommonName)
		}
		return failf("The API server's certificate is signed by %s, which is not the CA in the kubeconfig (x509: certificate signed by unknown authority).", issuer).
			saw("certificate signed by unknown authority", "server certificate signed by the kubeconfig's CA").
			hint("embed the CA that signed server.crt: kubectl config set-cluster local-apiserver --certificate-authority=certs/ca.crt --embed-certs=true --server=%s", env.APIServerURL)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return failf("The API server's certificate has expired or is not yet valid: %v.", invalid).
			saw("expired certificate", "a valid certificate").
			hint("issue certs/server.crt again (kubetutor check certs): kube-apiserver watches the file and serves the new certificate within seconds, no restart needed")
	case errors.As(err, &invalid):
		return failf("The API server's certificate is rejected: %v.", invalid).
			saw(invalid.Error(), "a certificate the kubeconfig's CA vouches for").
			hint("kubetutor check certs")
	case apierrors.IsUnauthorized(err):
		return failf("The API server at %s answers 401 Unauthorized: it does not accept the kubeconfig's client certificate (not signed by the CA given to --client-ca-file, or expired).", host).
			saw("401 Unauthorized", "the admin client authenticated").
			hint("use a client certificate signed by certs/ca.crt and start kube-apiserver with --client-ca-file=certs/ca.crt")
	case apierrors.IsForbidden(err):
		return failf("The API server refuses the request (403 Forbidden): %v.", err).
			saw("403 Forbidden", "the admin user allowed").
			hint("the lessons rely on the default authorization mode; drop --authorization-mode or use an identity in group system:masters")
	case errors.Is(err, context.DeadlineExceeded):
		return failf("The API server at %s did not answer within %s.", host, env.Timeout).
			saw("no answer in "+env.Timeout.String(), "an answer").
			hint("is something else listening on that address, or is kube-apiserver stuck waiting for etcd? kubetutor check etcd; --timeout gives it longer")
	case isTimeout(err):
		// A timeout of the transport (the TLS handshake's 10 s), not of
		// --timeout: say which.
		return failf("The API server at %s did not answer in time: %v.", host, err).
			saw(err.Error(), "an answer").
			hint("is something else listening on that address (one that accepts connections but does not speak TLS), or is kube-apiserver stuck? kubetutor check etcd")
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return failf("Cannot resolve %q, the API server host in the kubeconfig.", dnsErr.Name).
			saw(dnsErr.Error(), env.APIServerURL).
			hint("point the kubeconfig at %s: kubectl config set-cluster local-apiserver --server=%s", env.APIServerURL, env.APIServerURL)
	}
	return failf("Cannot talk to the API server at %s: %v.", host, err).
		saw(err.Error(), "an answer from kube-apiserver").
		hint("is kube-apiserver running and listening at %s (the kubeconfig's server)? read its log; the lesson: kubetutor show apiserver", host)
}

// tlsServerName is the kubeconfig's tls-server-name, "" when it has none.
func tlsServerName(env *Env) string {
	if cfg, err := env.RESTConfig(); err == nil {
		return cfg.TLSClientConfig.ServerName
	}
	return ""
}

// proxyFailure is the failure to reach the proxy the requests to the API
// server go through: it says nothing of kube-apiserver, which may well run.
func proxyFailure(env *Env, host string, err *net.OpError) Result {
	proxy, from := "", "the environment (HTTPS_PROXY, https_proxy)"
	fix := "unset HTTPS_PROXY and https_proxy, or add the API server's address to NO_PROXY"
	if cfg, cerr := env.RESTConfig(); cerr == nil {
		if u, uerr := url.Parse(cfg.Host); uerr == nil {
			req := &http.Request{URL: u}
			if cfg.Proxy != nil {
				from, fix = "the kubeconfig's proxy-url", "start that proxy, or take proxy-url out of the cluster in the kubeconfig (kubectl config unset clusters.CLUSTER.proxy-url; kubectl config view names the cluster)"
				if pu, perr := cfg.Proxy(req); perr == nil && pu != nil {
					proxy = textsafe.URL(pu.String())
				}
			} else if pu, perr := http.ProxyFromEnvironment(req); perr == nil && pu != nil {
				proxy = textsafe.URL(pu.String())
			}
		}
	}
	if proxy == "" {
		proxy = "the proxy"
	} else {
		proxy = "the proxy " + proxy
	}
	why := describeNetError(err.Err)
	return failf("The API server at %s was not asked: %s, set by %s, cannot be reached (%s), so this says nothing of kube-apiserver.", host, proxy, from, why).
		saw("proxy: "+why, "a connection through the proxy").
		hint("%s; then kubetutor check apiserver", fix)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

// describeNetError is a short, human description of a failed connection.
func describeNetError(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused, nothing listens there"
	case errors.Is(err, syscall.ECONNRESET):
		return "the connection was reset"
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return "no answer in time"
	case errors.Is(err, os.ErrNotExist):
		return "no such file"
	}
	return err.Error()
}

// kubeClient returns the clientset or a failing result explaining why there is none.
func kubeClient(env *Env) (kubernetes.Interface, *Result) {
	if err := env.client().APIDownErr(); err != nil {
		r := apiFailure(env, err)
		r.Message += " (found by an earlier check of this run; not asked again)"
		return nil, &r
	}
	kube, err := env.Kube()
	if err != nil {
		r := apiFailure(env, err)
		return nil, &r
	}
	return kube, nil
}
