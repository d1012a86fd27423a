package checks

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/textsafe"
)

// The kube-proxy step: kube-proxy watches Services and EndpointSlices and
// writes the node's packet filter so that a ClusterIP reaches a pod. Its
// checks ask the ClusterIPs from this host, and prove that the answer is the
// pod's (nginx's page) or the API server's (its certificate, signed by the
// course CA): on some networks an address nothing routes is answered by a
// transparent proxy.

// nginxMark is in nginx's welcome page and in the offline stand-in's.
const nginxMark = "Welcome to nginx"

// serviceTimeout bounds one connection to a ClusterIP: kube-proxy's rules
// answer at once; without them the packets go to the default gateway.
const serviceTimeout = 3 * time.Second

// serviceConnections is how many connections in a row service-answers
// opens to the ClusterIP.
const serviceConnections = 3

// DialFunc connects to an address (a Service's ClusterIP and port).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// dial connects as a client on this host does, or through the Env's Dial.
func (e *Env) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if e.Dial != nil {
		return e.Dial(ctx, network, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func (e *Env) serviceTimeout() time.Duration { return min(e.Timeout, serviceTimeout) }

// directHTTPClient asks an address inside the cluster (a ClusterIP, a pod)
// from this host: through Dial, never a proxy of the environment, and the
// first answer is the verdict (an intercepting proxy may redirect elsewhere).
func (e *Env) directHTTPClient() *http.Client {
	return &http.Client{
		Timeout:       e.serviceTimeout(),
		Transport:     &http.Transport{Proxy: nil, DialContext: e.dial, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// kubeProxyHint is what to do when a ClusterIP does not lead where it should:
// start kube-proxy if it does not run, else look at its rules.
func kubeProxyHint(ctx context.Context, env *Env, kube kubernetes.Interface, r Result, rulesHint string) Result {
	if lv := livenessOf(ctx, env, kube, course.KubeProxy); !lv.Alive {
		r.Message += " " + lv.Message + "."
		return r.hint("start kube-proxy as root, in its own terminal: it writes the rules that send a ClusterIP to the pods behind it (kubetutor show kube-proxy --commands)")
	}
	return r.hint("%s", rulesHint)
}

// ServiceAnswers checks that an HTTP request from this host to the learner's
// Service's ClusterIP reaches nginx.
type ServiceAnswers struct{}

// Name implements Checker.
func (ServiceAnswers) Name() string { return "service-answers" }

// Check implements Checker.
func (ServiceAnswers) Check(ctx context.Context, env *Env) (Result, error) {
	svc, fail := service(ctx, env)
	if fail != nil {
		return *fail, nil
	}
	if r := clusterIPVerdict(svc); !r.Passed() {
		return r, nil
	}
	url := serviceURL(svc)
	client := env.directHTTPClient()
	var r Result
	var err error
	// Each GET is a new connection, which kube-proxy's rules send to one
	// of the Service's endpoints: all must answer. In the second after a
	// pod is replaced, rules not yet rewritten still send some connections
	// to the pod that is gone.
	for i := range serviceConnections {
		var code int
		var body []byte
		code, body, err = httpGet(ctx, client, url)
		if r = serviceAnswerVerdict(url, code, body, err); !r.Passed() {
			if i > 0 {
				r.Message += fmt.Sprintf(" (%d connection(s) before it got nginx's page: the Service sends some connections to an endpoint that does not answer, as in the second after a pod is replaced.)", i)
			}
			break
		}
	}
	kube := env.kubeOrNil()
	if r.Passed() {
		return staleUnlessAlive(ctx, env, kube, course.KubeProxy, r), nil
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return r, nil
	}
	return kubeProxyHint(ctx, env, kube, r, fmt.Sprintf("kube-proxy runs: look for the Service's rule, iptables -t nat -S KUBE-SERVICES | grep %s, and for its endpoints, kubetutor check service", svc.Spec.ClusterIP)), nil
}

// serviceURL is http://CLUSTERIP:PORT/ for the Service's first TCP port
// (80 when it lists none).
func serviceURL(svc *corev1.Service) string {
	port := 80
	for _, p := range svc.Spec.Ports {
		if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
			port = int(p.Port)
			break
		}
	}
	return "http://" + net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(port)) + "/"
}

// serviceAnswerVerdict judges what a GET of the ClusterIP got. Only nginx's
// page is nginx's answer: a timeout is no answer, a refusal is kube-proxy's
// REJECT for a Service without a ready endpoint, anything else came from
// another server.
func serviceAnswerVerdict(url string, code int, body []byte, err error) Result {
	const want = "nginx's welcome page"
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return failf("GET %s was refused: kube-proxy rejects connections to a Service with no ready endpoint.", url).
			saw("connection refused", want).
			hint("kubetutor check service: the EndpointSlice must list the Running pod as ready")
	case err != nil && (errors.Is(err, context.DeadlineExceeded) || isTimeout(err)):
		return failf("GET %s got no answer: nothing on this node sends the ClusterIP to the pod, so the packets went to the default gateway.", url).
			saw("no answer", want)
	case err != nil:
		return failf("GET %s failed: %s.", url, describeNetError(err)).
			saw("no answer", want)
	case bytes.Contains(body, []byte(nginxMark)):
		return passf("GET %s answers HTTP %d with nginx's welcome page: kube-proxy's rules send the ClusterIP to the pod.", url, code).
			saw(fmt.Sprintf("HTTP %d, %q", code, nginxMark), want)
	}
	first := truncate(textsafe.FirstLine(strings.TrimSpace(string(body))), 100)
	return failf("The answer at %s is not nginx's: HTTP %d, first line %q. Some other server answered the ClusterIP (on a network with a transparent proxy, an address nothing routes gets its answer).", url, code, first).
		saw(fmt.Sprintf("HTTP %d, %q", code, first), want)
}

// KubernetesServiceTLS checks that TLS to the kubernetes Service's ClusterIP
// (10.0.0.1:443) reaches the API server and verifies as in-cluster clients
// verify it: against the course CA, for the address 10.0.0.1.
type KubernetesServiceTLS struct{}

// Name implements Checker.
func (KubernetesServiceTLS) Name() string { return "kubernetes-service-tls" }

// Check implements Checker.
func (KubernetesServiceTLS) Check(ctx context.Context, env *Env) (Result, error) {
	ca, err := LoadCertificate(env.CertPath(course.CAFile))
	if err != nil {
		return fileFailure(course.CAFile, err), nil
	}
	addr := net.JoinHostPort(course.KubernetesServiceIP, "443")
	chain, err := tlsChain(ctx, env, addr)
	kube := env.kubeOrNil()
	if err != nil {
		r := tlsDialFailure(addr, err)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return r, nil
		}
		return kubeProxyHint(ctx, env, kube, r, "kube-proxy runs: look for the kubernetes Service's rule, iptables -t nat -S KUBE-SERVICES | grep "+course.KubernetesServiceIP+", and at its endpoint, kubectl get endpointslices -l kubernetes.io/service-name=kubernetes"), nil
	}
	r := kubernetesTLSVerdict(addr, chain, ca, env.Now())
	switch {
	case r.Passed():
		return staleUnlessAlive(ctx, env, kube, course.KubeProxy, r), nil
	case strings.Contains(r.Message, "is not the API server's"):
		return kubeProxyHint(ctx, env, kube, r, "kube-proxy runs, yet another server answers: iptables -t nat -S KUBE-SERVICES | grep "+course.KubernetesServiceIP), nil
	}
	return r, nil
}

// tlsChain connects to addr and returns the certificates the server
// presents, unverified (the verdict verifies them).
func tlsChain(ctx context.Context, env *Env, addr string) ([]*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, env.serviceTimeout())
	defer cancel()
	raw, err := env.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	host, _, _ := net.SplitHostPort(addr)
	conn := tls.Client(raw, &tls.Config{ServerName: host, InsecureSkipVerify: true}) //nolint:gosec // verified by kubernetesTLSVerdict against the course CA
	if err := conn.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	chain := conn.ConnectionState().PeerCertificates
	if len(chain) == 0 {
		return nil, errors.New("TLS handshake: the server presented no certificate")
	}
	return chain, nil
}

// tlsDialFailure explains why no certificate came from addr.
func tlsDialFailure(addr string, err error) Result {
	const want = "the API server's certificate"
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return failf("The connection to %s was refused: kube-proxy rejects connections to a Service with no endpoint, and the kubernetes Service's endpoint is the API server's own address.", addr).
			saw("connection refused", want).
			hint("kubectl get endpointslices -l kubernetes.io/service-name=kubernetes: the API server writes it while it runs (kubetutor check apiserver)")
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return failf("No answer from %s: nothing on this node sends the kubernetes Service's ClusterIP to the API server.", addr).
			saw("no answer", want)
	}
	return failf("No TLS answer from %s: %s.", addr, describeNetError(err)).saw("no TLS answer", want)
}

// kubernetesTLSVerdict judges the certificates that answered at addr
// (10.0.0.1:443) against the course CA, as a Go client in a pod does: the
// chain must lead to the CA, and the certificate must name the address.
func kubernetesTLSVerdict(addr string, chain []*x509.Certificate, ca *x509.Certificate, now time.Time) Result {
	leaf := chain[0]
	const want = "a certificate signed by certs/ca.crt that names " + course.KubernetesServiceIP
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return failf("The answer at %s is not the API server's: its certificate (subject %q, issued by %q) is not signed by certs/ca.crt (%q). Some other server answered the ClusterIP (on a network with a transparent proxy, an address nothing routes gets its answer).", addr, leaf.Subject.String(), leaf.Issuer.String(), ca.Subject.String()).
			saw("issued by "+quoteOrNone(leaf.Issuer.String()), want)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return failf("The API server answers at %s, but its certificate is not valid now (valid %s to %s).", addr, leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339)).
			saw("expired or not yet valid", want).
			hint("reissue certs/server.crt (kubetutor show certs): kube-apiserver watches the file and serves the new certificate within seconds, no restart needed")
	case err != nil:
		return failf("The certificate at %s does not verify against certs/ca.crt: %v.", addr, err).
			saw(err.Error(), want)
	}
	if err := leaf.VerifyHostname(course.KubernetesServiceIP); err != nil {
		return failf("The API server answers at %s with a certificate signed by certs/ca.crt, but a client of the kubernetes Service refuses it: %v. Pods reach the API server at %s, so its certificate must name that address.", addr, err, course.KubernetesServiceIP).
			saw(err.Error(), want).
			hint("reissue certs/server.crt with IP:%s among its subjectAltNames, as the certs lesson does (kubetutor show certs): kube-apiserver watches the file and serves the new certificate within seconds, no restart needed", course.KubernetesServiceIP)
	}
	return passf("The API server answers at %s with its certificate (subject %q), signed by certs/ca.crt and naming %s: kube-proxy sends the kubernetes Service to the API server.", addr, leaf.Subject.String(), course.KubernetesServiceIP).
		saw("signed by certs/ca.crt, names "+course.KubernetesServiceIP, want)
}
