package checks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubetutor/kubetutor/course"
)

// The coredns step: CoreDNS runs as a Deployment in kube-system behind the
// kube-dns Service at course.ClusterDNSIP. Its checks ask the running
// CoreDNS itself (its /ready endpoint, a DNS query through the Service), so
// a killed CoreDNS fails them at once, before the kubelet or the API server
// has noticed.

// The names kubeadm's CoreDNS manifests use, which the lesson keeps.
const (
	dnsNamespace   = "kube-system"
	coreDNSName    = "coredns"
	kubeDNSService = "kube-dns"
	kubeDNSLabel   = "k8s-app=kube-dns"
	// coreDNSReadyPort is the ready plugin's port: /ready answers 200 once
	// every plugin that reports readiness (kubernetes) is ready.
	coreDNSReadyPort = 8181
)

// kubernetesServiceName is the name every cluster resolves to the
// kubernetes Service's ClusterIP.
var kubernetesServiceName = "kubernetes.default.svc." + course.ClusterDomain

const applyCoreDNSHint = "kubectl apply -f coredns.yaml (kubetutor show coredns --commands)"

// coreDNSPods are the Deployment's pods, newest first.
func coreDNSPods(ctx context.Context, env *Env) ([]corev1.Pod, *Result) {
	kube, fail := kubeClient(env)
	if fail != nil {
		return nil, fail
	}
	dep, err := kube.AppsV1().Deployments(dnsNamespace).Get(ctx, coreDNSName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		r := failf("There is no Deployment %s/%s: nothing serves the cluster's DNS.", dnsNamespace, coreDNSName).
			saw("no Deployment "+coreDNSName, "Deployment "+dnsNamespace+"/"+coreDNSName).
			hint("%s", applyCoreDNSHint)
		return nil, &r
	}
	if err != nil {
		r := apiFailure(env, err)
		return nil, &r
	}
	if dep.Spec.Replicas != nil && *dep.Spec.Replicas == 0 {
		r := failf("Deployment %s/%s is scaled to 0 replicas: no CoreDNS runs.", dnsNamespace, coreDNSName).
			saw("0 replicas", "1 replica").
			hint("kubectl -n %s scale deployment %s --replicas=1", dnsNamespace, coreDNSName)
		return nil, &r
	}
	list, err := kube.CoreV1().Pods(dnsNamespace).List(ctx, metav1.ListOptions{LabelSelector: kubeDNSLabel})
	if err != nil {
		r := apiFailure(env, err)
		return nil, &r
	}
	pods := list.Items
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return b.CreationTimestamp.Compare(a.CreationTimestamp.Time) })
	if len(pods) == 0 {
		r := failf("Deployment %s/%s has no pods.", dnsNamespace, coreDNSName).
			saw("no pods", "a CoreDNS pod").
			hint("kube-controller-manager creates them: kubetutor check controller-manager; kubectl -n %s describe deployment %s", dnsNamespace, coreDNSName)
		return nil, &r
	}
	return pods, nil
}

// runningCoreDNS is the newest Running CoreDNS pod with an IP, not being
// deleted, or a failing result that says why none runs.
func runningCoreDNS(ctx context.Context, env *Env) (*corev1.Pod, *Result) {
	pods, fail := coreDNSPods(ctx, env)
	if fail != nil {
		return nil, fail
	}
	if p := newestRunning(pods); p != nil {
		return p, nil
	}
	p := pods[0]
	state := string(p.Status.Phase)
	r := failf("CoreDNS pod %s is %s, not Running.", p.Name, state)
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			state = w.Reason
			r = failf("CoreDNS pod %s is not running: its container waits, %s: %s.", p.Name, w.Reason, truncate(w.Message, 200))
			if strings.Contains(w.Reason, "Image") {
				r = r.hint("offline, the image must be in containerd under %s: as root, kubetutor images load --coredns bin/coredns (kubetutor show coredns --commands)", course.CoreDNSImage)
			}
		}
	}
	if p.Spec.NodeName == "" {
		r = r.hint("it is not scheduled yet: kubectl -n %s describe pod %s (its Events say why)", dnsNamespace, p.Name)
	} else if r.Hint == "" {
		r = r.hint("kubectl -n %s describe pod %s", dnsNamespace, p.Name)
	}
	r = r.saw(state, "Running")
	return nil, &r
}

// CoreDNSReady checks that CoreDNS runs in its pod and is ready: its
// /ready endpoint, asked on the pod's address from this host, answers 200
// (the kubernetes plugin has listed Services and EndpointSlices through
// https://10.0.0.1).
type CoreDNSReady struct{}

// Name implements Checker.
func (CoreDNSReady) Name() string { return "coredns-ready" }

// Check implements Checker.
func (CoreDNSReady) Check(ctx context.Context, env *Env) (Result, error) {
	pod, fail := runningCoreDNS(ctx, env)
	if fail != nil {
		return *fail, nil
	}
	url := "http://" + net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(coreDNSReadyPort)) + "/ready"
	code, body, err := httpGet(ctx, env.directHTTPClient(), url)
	return coreDNSReadyVerdict(pod.Name, url, code, strings.TrimSpace(string(body)), err), nil
}

// coreDNSReadyVerdict judges what GET /ready on the pod got.
func coreDNSReadyVerdict(pod, url string, code int, body string, err error) Result {
	const want = "HTTP 200 OK"
	switch {
	case err != nil:
		return failf("CoreDNS is not running in pod %s: GET %s failed, %s.", pod, url, describeNetError(err)).
			saw("no answer", want).
			hint("the kubelet starts its container again; kubectl -n %s get pods -l %s; kubectl -n %s logs %s --previous", dnsNamespace, kubeDNSLabel, dnsNamespace, pod)
	case code == http.StatusOK:
		return passf("CoreDNS in pod %s is ready: GET %s answers %d %s (its kubernetes plugin has synced with the API server).", pod, url, code, truncate(body, 40)).
			saw(fmt.Sprintf("HTTP %d", code), want)
	case code == http.StatusServiceUnavailable && strings.Contains(body, "kubernetes"):
		return failf("CoreDNS runs in pod %s but is not ready: GET %s answers 503, plugins not ready: %s. Its kubernetes plugin has not listed Services and EndpointSlices through https://%s.", pod, url, truncate(body, 80), course.KubernetesServiceIP).
			saw("HTTP 503 "+truncate(body, 80), want).
			hint("CoreDNS reaches the API server at %s (the kubernetes Service): kubetutor check kube-proxy; its log says what fails: kubectl -n %s logs deploy/%s", course.KubernetesServiceIP, dnsNamespace, coreDNSName)
	}
	return failf("CoreDNS in pod %s is not ready: GET %s answers %d %q.", pod, url, code, truncate(body, 80)).
		saw(fmt.Sprintf("HTTP %d", code), want).
		hint("kubectl -n %s logs deploy/%s", dnsNamespace, coreDNSName)
}

// KubeDNSEndpoints checks the kube-dns Service: its ClusterIP is
// course.ClusterDNSIP (the address the kubelet will give every pod), and its
// EndpointSlice lists the running CoreDNS pod as ready.
type KubeDNSEndpoints struct{}

// Name implements Checker.
func (KubeDNSEndpoints) Name() string { return "kube-dns-endpoints" }

// Check implements Checker.
func (KubeDNSEndpoints) Check(ctx context.Context, env *Env) (Result, error) {
	kube, fail := kubeClient(env)
	if fail != nil {
		return *fail, nil
	}
	svc, err := kube.CoreV1().Services(dnsNamespace).Get(ctx, kubeDNSService, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return failf("There is no Service %s/%s: nothing gives CoreDNS the address %s.", dnsNamespace, kubeDNSService, course.ClusterDNSIP).
			saw("no Service "+kubeDNSService, "Service "+dnsNamespace+"/"+kubeDNSService+" at "+course.ClusterDNSIP).
			hint("%s", applyCoreDNSHint), nil
	}
	if err != nil {
		return apiFailure(env, err), nil
	}
	if svc.Spec.ClusterIP != course.ClusterDNSIP {
		return failf("Service %s/%s has ClusterIP %s, not %s: the kubelet's clusterDNS (next step) names %s.", dnsNamespace, kubeDNSService, orNone(svc.Spec.ClusterIP), course.ClusterDNSIP, course.ClusterDNSIP).
			saw(orNone(svc.Spec.ClusterIP), course.ClusterDNSIP).
			hint("a ClusterIP cannot change: kubectl -n %s delete service %s, then apply coredns.yaml again (its Service sets clusterIP: %s)", dnsNamespace, kubeDNSService, course.ClusterDNSIP), nil
	}
	pod, fail := runningCoreDNS(ctx, env)
	if fail != nil {
		return *fail, nil
	}
	list, err := kube.DiscoveryV1().EndpointSlices(dnsNamespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + kubeDNSService})
	if err != nil {
		return apiFailure(env, err), nil
	}
	r := endpointsVerdict(svc, pod, list.Items)
	if !r.Passed() && strings.Contains(r.Message, "not ready") {
		r = r.hint("kubetutor check coredns: the pod turns ready when its /ready answers 200")
	}
	return r, nil
}

// ClusterDNSAnswers checks that a DNS query from this host to the kube-dns
// Service (course.ClusterDNSIP:53), over UDP and over TCP, resolves
// kubernetes.default.svc.cluster.local to the kubernetes Service's ClusterIP.
type ClusterDNSAnswers struct{}

// Name implements Checker.
func (ClusterDNSAnswers) Name() string { return "cluster-dns-answers" }

// Check implements Checker.
func (ClusterDNSAnswers) Check(ctx context.Context, env *Env) (Result, error) {
	server := net.JoinHostPort(course.ClusterDNSIP, "53")
	var seen []string
	for _, network := range []string{"udp", "tcp"} {
		addrs, err := lookupVia(ctx, env, network, server, kubernetesServiceName)
		r := clusterDNSVerdict(network, server, addrs, err)
		if !r.Passed() {
			if !dnsRefused(err) {
				r = kubeProxyHint(ctx, env, env.kubeOrNil(), r, "kube-proxy runs: is CoreDNS ready (kubetutor check coredns), and does the kube-dns Service list it (kubectl -n kube-system get endpointslices)?")
			} else {
				r = r.hint("nothing listens behind %s: kubetutor check coredns", server)
			}
			return r, nil
		}
		seen = append(seen, network+": "+strings.Join(addrs, ","))
	}
	return passf("%s resolves %s to %s over UDP and TCP: CoreDNS answers through the kube-dns Service.", server, kubernetesServiceName, course.KubernetesServiceIP).
		saw(strings.Join(seen, "; "), course.KubernetesServiceIP+" over udp and tcp"), nil
}

// lookupVia resolves name (fully qualified: no search list) by asking only
// server, over network ("udp" or "tcp"; Go's resolver speaks DNS over
// whatever connection Dial returns).
func lookupVia(ctx context.Context, env *Env, network, server, name string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, env.serviceTimeout())
	defer cancel()
	r := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return env.dial(ctx, network, server)
		},
	}
	return r.LookupHost(ctx, name+".")
}

// clusterDNSVerdict judges one lookup of the kubernetes Service's name.
func clusterDNSVerdict(network, server string, addrs []string, err error) Result {
	want := kubernetesServiceName + " → " + course.KubernetesServiceIP
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return failf("%s over %s answers that %s does not exist: it is a DNS server, but not one that knows the cluster (is the kube-dns Service's selector CoreDNS's, and is its Corefile's kubernetes plugin for %s?).", server, strings.ToUpper(network), kubernetesServiceName, course.ClusterDomain).
			saw("NXDOMAIN", want)
	case err != nil:
		return failf("No DNS answer from %s over %s for %s: %s.", server, strings.ToUpper(network), kubernetesServiceName, describeDNSError(err)).
			saw("no answer", want)
	case !slices.Contains(addrs, course.KubernetesServiceIP):
		return failf("%s over %s resolves %s to %s, not %s.", server, strings.ToUpper(network), kubernetesServiceName, strings.Join(addrs, ", "), course.KubernetesServiceIP).
			saw(strings.Join(addrs, ", "), want)
	}
	return passf("%s over %s resolves %s to %s.", server, strings.ToUpper(network), kubernetesServiceName, strings.Join(addrs, ", ")).
		saw(strings.Join(addrs, ", "), want)
}

// describeDNSError is a resolver error in words: the resolver wraps the
// connection's error in a DNSError whose text is "read udp ...: connection
// refused" or "i/o timeout".
func describeDNSError(err error) string {
	var dnsErr *net.DNSError
	switch {
	case dnsRefused(err):
		return "connection refused, nothing listens there"
	case errors.As(err, &dnsErr) && dnsErr.IsTimeout, errors.Is(err, context.DeadlineExceeded):
		return "no answer in time"
	}
	return describeNetError(err)
}

// dnsRefused says the DNS server's address refused the query (an ICMP port
// unreachable for UDP, a reset for TCP): nothing listens there.
func dnsRefused(err error) bool {
	var dnsErr *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dnsErr) && strings.Contains(dnsErr.Err, "connection refused")
}
