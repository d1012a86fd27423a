package checks

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"

	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/certutil"
	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/textsafe"
)

// The logs step: kubectl logs and exec go from the API server to the
// kubelet's HTTPS API on port 10250, where the API server is a client like
// any other and must present a certificate the kubelet accepts.

// runningPod is the learner's Deployment's newest Running pod with an IP that
// is not being deleted (after a rollout, the new one), or a failing result
// that says why there is none.
// newestRunning is the pod a learner's next command meets: the newest one
// Running with an IP and not being deleted (during a rollout the old pod
// still says Running while it shuts down).
func newestRunning(pods []corev1.Pod) *corev1.Pod {
	var best *corev1.Pod
	for i := range pods {
		p := &pods[i]
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || p.DeletionTimestamp != nil {
			continue
		}
		if best == nil || p.CreationTimestamp.After(best.CreationTimestamp.Time) {
			best = p
		}
	}
	return best
}

func runningPod(ctx context.Context, env *Env) (*corev1.Pod, kubernetes.Interface, *Result) {
	w, kube, fail := deploymentWorkload(ctx, env)
	if fail != nil {
		return nil, nil, fail
	}
	best := newestRunning(w.pods)
	if best == nil {
		r := failf("Deployment %s has no Running pod to ask.", w.deployment.Name).
			saw("no Running pod", "a Running pod of "+w.deployment.Name).
			hint("kubetutor check cni")
		return nil, nil, &r
	}
	return best, kube, nil
}

const restartAPIServerHint = "restart kube-apiserver with --kubelet-client-certificate and --kubelet-client-key (press Ctrl-C twice in its terminal, then start it with the new flags): kubetutor show logs --commands"

// forbiddenUser finds the user a kubelet's Forbidden answer names.
var forbiddenUser = regexp.MustCompile(`user=([^,)\s]+)`)

// kubeletCallFailure explains why a request the API server forwards to the
// kubelet (logs, exec) failed. what is the action ("read pod x's logs").
func kubeletCallFailure(env *Env, what string, err error) Result {
	msg := err.Error()
	var status apierrors.APIStatus
	isStatus := errors.As(err, &status)
	switch {
	case apierrors.IsUnauthorized(err) || strings.Contains(msg, "Unauthorized"):
		return failf("The API server could not %s: the kubelet answered 401 Unauthorized. kube-apiserver presents no client certificate the kubelet accepts when it calls it on port 10250.", what).
			saw("401 Unauthorized from the kubelet", "the kubelet accepts the API server").
			hint("%s", restartAPIServerHint)
	case apierrors.IsForbidden(err) || strings.Contains(msg, "Forbidden"):
		user := "<the user of the API server's kubelet client certificate>"
		if m := forbiddenUser.FindStringSubmatch(msg); m != nil {
			user = m[1]
		}
		return failf("The API server could not %s: the kubelet knows who it is but forbids it (%s). The kubelet asks the API server (a SubjectAccessReview) whether that user may use its API.", what, truncate(textsafe.FirstLine(msg), 300)).
			saw("403 Forbidden from the kubelet", "the kubelet allows the API server").
			hint("bind the ClusterRole system:kubelet-api-admin to that user: kubectl create clusterrolebinding kube-apiserver-kubelet-api-admin --clusterrole=system:kubelet-api-admin --user=%s", user)
	case strings.Contains(msg, "no such host"):
		return failf("The API server could not %s: it cannot resolve the node's host name (%s).", what, truncate(textsafe.FirstLine(msg), 300)).
			saw("the node's name does not resolve", "the API server reaches the kubelet").
			hint("make the API server dial the node's IP: add --kubelet-preferred-address-types=InternalIP,Hostname to kube-apiserver (or add the name to /etc/hosts)")
	case strings.Contains(msg, "connection refused") && strings.Contains(msg, "10250"):
		return failf("The API server could not %s: nothing answers on the kubelet's port 10250 (%s).", what, truncate(textsafe.FirstLine(msg), 300)).
			saw("connection refused on 10250", "the kubelet answers").
			hint("kubetutor check kubelet")
	case strings.Contains(msg, "x509") || strings.Contains(msg, "certificate"):
		return failf("The API server could not %s: TLS to the kubelet failed (%s).", what, truncate(textsafe.FirstLine(msg), 300)).
			saw("a TLS error", "the API server reaches the kubelet").
			hint("with --kubelet-certificate-authority, the kubelet's serving certificate must be signed by that CA and name the address the API server dials; see kubetutor show logs")
	case !isStatus:
		return apiFailure(env, err)
	}
	return failf("The API server could not %s: %s", what, truncate(textsafe.FirstLine(msg), 300)).
		saw(truncate(textsafe.FirstLine(msg), 120), "the kubelet answers").
		hint("kubectl describe pod, and the API server's log")
}

// PodLogsReadable checks that `kubectl logs` works: the API server fetches
// a Running pod's log from the kubelet.
type PodLogsReadable struct{}

// Name implements Checker.
func (PodLogsReadable) Name() string { return "pod-logs-readable" }

// Check implements Checker.
func (PodLogsReadable) Check(ctx context.Context, env *Env) (Result, error) {
	p, kube, fail := runningPod(ctx, env)
	if fail != nil {
		return *fail, nil
	}
	tail, limit := int64(3), int64(4096)
	data, err := kube.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{TailLines: &tail, LimitBytes: &limit}).DoRaw(ctx)
	if err != nil {
		return kubeletCallFailure(env, "read pod "+p.Name+"'s logs", err), nil
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	r := passf("The API server read pod %s's logs from the kubelet on %s.", p.Name, p.Spec.NodeName).
		saw("logs", "logs")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
		r = r.detail("its last line: %s", truncate(last, 160))
	} else {
		r.Message += " They are empty so far: every request to the pod adds a line."
	}
	return r, nil
}

// ExecCommand is what PodExecWorks runs in the pod: the pod's host name,
// which the kubelet writes into every container as /etc/hostname.
var ExecCommand = []string{"cat", "/etc/hostname"}

// PodExecWorks checks that `kubectl exec` works: the API server opens a
// stream to the kubelet, which runs a command in the pod's container.
type PodExecWorks struct{}

// Name implements Checker.
func (PodExecWorks) Name() string { return "pod-exec-works" }

// Check implements Checker.
func (PodExecWorks) Check(ctx context.Context, env *Env) (Result, error) {
	p, _, fail := runningPod(ctx, env)
	if fail != nil {
		return *fail, nil
	}
	stdout, stderr, err := execIn(ctx, env, p, ExecCommand...)
	cmd := strings.Join(ExecCommand, " ")
	if err != nil {
		if notInImage(stderr, err) {
			return failf("The API server reached the kubelet, but %q does not exist in pod %s's image (%s).", ExecCommand[0], p.Name, truncate(textsafe.FirstLine(stderr+err.Error()), 200)).
				saw("no "+ExecCommand[0]+" in the image", "kubectl exec runs "+cmd).
				hint("the offline stand-in image carries busybox only when the host has a static one: apt install busybox-static, then kubetutor images load (or the demo) and kubectl rollout restart deployment %s", env.Deployment), nil
		}
		return kubeletCallFailure(env, "run "+cmd+" in pod "+p.Name, err), nil
	}
	got := strings.TrimSpace(stdout)
	if got != p.Name {
		return failf("kubectl exec ran %q in pod %s, but it printed %q, not the pod's name.", cmd, p.Name, truncate(got, 80)).
			saw(truncate(got, 80), p.Name).
			hint("kubectl exec %s -- %s", p.Name, cmd), nil
	}
	return passf("The API server ran %q in pod %s through the kubelet: it printed the pod's name.", cmd, p.Name).
		saw(got, p.Name), nil
}

// kubeletAPI asks the kubelet's own API (GET /pods) with an optional client
// certificate. The kubelet serves a self-signed certificate unless it was
// given one, so the server is not verified: the question is whether the
// kubelet accepts the client.
func kubeletAPI(ctx context.Context, env *Env, cert *tls.Certificate) (code int, body string, err error) {
	tc := &tls.Config{}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	c, b, err := env.kubeletHTTP(ctx, tc, "pods")
	return c, truncate(textsafe.FirstLine(string(b)), 200), err
}

// kubeletHTTP asks GET KubeletURL/PATH over TLS with tc's client
// certificate; the kubelet's serving certificate is self-signed unless it
// was given one, so it is not verified.
func (e *Env) kubeletHTTP(ctx context.Context, tc *tls.Config, path string) (int, []byte, error) {
	tc.InsecureSkipVerify, tc.RootCAs, tc.ServerName = true, nil, "" //nolint:gosec // the kubelet's self-signed serving certificate
	client := &http.Client{Timeout: e.Timeout, Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true, Proxy: nil}}
	return httpGet(ctx, client, strings.TrimSuffix(e.KubeletURL, "/")+"/"+path)
}

func kubeletUnreachable(env *Env, err error) Result {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return failf("Nothing answers on %s: the kubelet's API is not there.", hostOf(env.KubeletURL)).
			saw("connection refused", "the kubelet answers").hint("kubetutor check kubelet")
	}
	return failf("The kubelet's API at %s does not answer: %s.", hostOf(env.KubeletURL), describeNetError(err)).
		saw("no answer", "the kubelet answers").hint("kubetutor check kubelet")
}

// KubeletRefusesAnonymous checks that the kubelet's API on port 10250
// refuses a request without credentials: whoever reaches the port could
// otherwise read every pod's logs and run commands in them.
type KubeletRefusesAnonymous struct{}

// Name implements Checker.
func (KubeletRefusesAnonymous) Name() string { return "kubelet-refuses-anonymous" }

// Check implements Checker.
func (KubeletRefusesAnonymous) Check(ctx context.Context, env *Env) (Result, error) {
	code, body, err := kubeletAPI(ctx, env, nil)
	switch {
	case err != nil:
		return kubeletUnreachable(env, err), nil
	case code == http.StatusUnauthorized:
		return passf("The kubelet's API at %s refuses a request without credentials (401 Unauthorized).", hostOf(env.KubeletURL)).
			saw("401", "401"), nil
	case code == http.StatusOK:
		return failf("The kubelet's API at %s answers a request without credentials: anyone who reaches the port may read logs and run commands in every pod.", hostOf(env.KubeletURL)).
			saw("200 OK to an anonymous request", "401 Unauthorized").
			hint("set authentication.anonymous.enabled: false in kubelet.yaml and restart the kubelet (kubetutor show kubelet)"), nil
	}
	return failf("The kubelet's API at %s answers an anonymous request with HTTP %d: %s", hostOf(env.KubeletURL), code, body).
		saw("HTTP "+strconv.Itoa(code), "401 Unauthorized").
		hint("kubetutor show kubelet"), nil
}

// KubeletAcceptsAPIServer checks the running kube-apiserver's own kubelet
// client certificate (from its command line) against the kubelet's API.
type KubeletAcceptsAPIServer struct{}

// Name implements Checker.
func (KubeletAcceptsAPIServer) Name() string { return "kubelet-accepts-apiserver" }

// Check implements Checker.
func (KubeletAcceptsAPIServer) Check(ctx context.Context, env *Env) (Result, error) {
	pid, _, ok := localProcess(env, course.APIServer)
	if !ok {
		return warnf("kube-apiserver does not run on this machine as far as /proc shows, so its flags cannot be read; pod-logs-readable says whether the kubelet accepts it.").
			saw("no local kube-apiserver", "its --kubelet-client-certificate"), nil
	}
	args, cwd, err := processArgs(env, pid)
	if err != nil {
		return Result{}, fmt.Errorf("read kube-apiserver's command line: %w", err)
	}
	certFile, hasCert := FlagValue(args, "kubelet-client-certificate")
	keyFile, hasKey := FlagValue(args, "kubelet-client-key")
	if !hasCert || !hasKey || certFile == "" || keyFile == "" {
		return failf("kube-apiserver (pid %d) runs without --kubelet-client-certificate and --kubelet-client-key: when it calls a kubelet for logs, exec or port-forward it presents no certificate, and the kubelet answers 401 Unauthorized.", pid).
			saw("no kubelet client certificate", "--kubelet-client-certificate and --kubelet-client-key").
			hint("%s", restartAPIServerHint), nil
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return env.HostPath(p)
		}
		return env.HostPath(cwd, p)
	}
	cert, err := certutil.LoadKeyPair(abs(certFile), abs(keyFile))
	if err != nil {
		return failf("kube-apiserver (pid %d) was started with --kubelet-client-certificate=%s, but it cannot be loaded: %v.", pid, certFile, err).
			saw("an unreadable certificate", "a certificate and its key").
			hint("%s", restartAPIServerHint), nil
	}
	who := "CN=" + cert.Leaf.Subject.CommonName
	code, body, err := kubeletAPI(ctx, env, &cert)
	switch {
	case err != nil:
		return kubeletUnreachable(env, err), nil
	case code == http.StatusOK:
		return passf("kube-apiserver (pid %d) presents %s (%s) to kubelets, and this kubelet accepts it: GET /pods answers 200.", pid, certFile, who).
			saw("200 with "+who, "200"), nil
	case code == http.StatusUnauthorized:
		if file, cfg, ok := readKubeletFile(env); ok && cfg.Authentication.X509.ClientCAFile == "" {
			// The talk's kubelet runs with no x509 section: it trusts no
			// client certificate, whoever signed it.
			return failf("kube-apiserver (pid %d) presents %s (%s) to kubelets, but this kubelet does not accept it (401): its file %s sets no authentication.x509.clientCAFile, so it accepts no client certificate at all.", pid, certFile, who, file).
				saw("401 with "+who+", no clientCAFile", "200").
				hint("set authentication.x509.clientCAFile in %s to the CA that signed %s, as the course's kubelet.yaml does (clientCAFile: certs/ca.crt, a path relative to the file; kubetutor show kubelet), then restart the kubelet (Ctrl-C, then its command again)", file, certFile), nil
		}
		return failf("kube-apiserver (pid %d) presents %s (%s) to kubelets, but this kubelet does not accept it (401): it is not signed by the kubelet's authentication.x509.clientCAFile.", pid, certFile, who).
			saw("401 with "+who, "200").
			hint("give the API server a certificate signed by the CA in kubelet.yaml's clientCAFile (certs/ca.crt)"), nil
	case code == http.StatusForbidden:
		return failf("kube-apiserver (pid %d) presents %s (%s); the kubelet knows it but forbids it: %s", pid, certFile, who, body).
			saw("403 with "+who, "200").
			hint("bind the ClusterRole system:kubelet-api-admin to it: kubectl create clusterrolebinding kube-apiserver-kubelet-api-admin --clusterrole=system:kubelet-api-admin --user=%s", cert.Leaf.Subject.CommonName), nil
	}
	return failf("The kubelet answers kube-apiserver's certificate (%s) with HTTP %d: %s", who, code, body).
		saw("HTTP "+strconv.Itoa(code), "200").hint("kubetutor show logs"), nil
}

// processArgs reads a process's command line and working directory.
func processArgs(env *Env, pid int) (args []string, cwd string, err error) {
	p := strconv.Itoa(pid)
	data, err := fsutil.ReadFile(env.HostPath("proc", p, "cmdline"), fsutil.LimitConfig)
	if err != nil {
		return nil, "", err
	}
	args = strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
	cwd, err = os.Readlink(env.HostPath("proc", p, "cwd"))
	if err != nil {
		return nil, "", err
	}
	return args, cwd, nil
}

// FlagValue finds a flag's value in a Go program's command line, as the
// pflag package reads it: --name=value, --name value, -name=value. The last
// one wins. A flag given without a value reports ok with "".
func FlagValue(args []string, name string) (value string, ok bool) {
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		trimmed := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if trimmed == a {
			continue
		}
		k, v, hasV := strings.Cut(trimmed, "=")
		if k != name {
			continue
		}
		ok = true
		switch {
		case hasV:
			value = v
		case i+1 < len(args) && !strings.HasPrefix(args[i+1], "-"):
			value = args[i+1]
			i++
		default:
			value = ""
		}
	}
	return value, ok
}
