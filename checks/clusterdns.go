package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	utilexec "k8s.io/client-go/util/exec"
	"sigs.k8s.io/yaml"

	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/textsafe"
)

// The cluster-dns step: the kubelet's clusterDNS and clusterDomain settings
// make it write every new pod's /etc/resolv.conf to ask the kube-dns
// Service. Its checks read the running kubelet's configuration (its
// /configz, not the file), the newest nginx pod's resolv.conf and a name
// lookup inside that pod.

// KubeletDNS is the part of a KubeletConfiguration this step is about.
type KubeletDNS struct {
	ClusterDNS    []string `json:"clusterDNS"`
	ClusterDomain string   `json:"clusterDomain"`
}

// ok says the kubelet gives pods the course's cluster DNS.
func (k KubeletDNS) ok() bool {
	return slices.Contains(k.ClusterDNS, course.ClusterDNSIP) && strings.TrimSuffix(k.ClusterDomain, ".") == course.ClusterDomain
}

func (k KubeletDNS) String() string {
	return fmt.Sprintf("clusterDNS [%s], clusterDomain %q", strings.Join(k.ClusterDNS, ", "), k.ClusterDomain)
}

// ParseKubeletDNS reads clusterDNS and clusterDomain from a kubelet's
// /configz answer ({"kubeletconfig": {...}}, JSON) or from a
// KubeletConfiguration file (YAML).
func ParseKubeletDNS(data []byte) (KubeletDNS, error) {
	var wrapped struct {
		KubeletConfig *KubeletDNS `json:"kubeletconfig"`
	}
	if json.Unmarshal(data, &wrapped) == nil && wrapped.KubeletConfig != nil {
		return *wrapped.KubeletConfig, nil
	}
	var k KubeletDNS
	if err := yaml.Unmarshal(data, &k); err != nil {
		return KubeletDNS{}, fmt.Errorf("parse the kubelet configuration: %w", err)
	}
	return k, nil
}

const clusterDNSHint = "add clusterDNS: [" + course.ClusterDNSIP + "] and clusterDomain: " + course.ClusterDomain + " to kubelet.yaml and restart the kubelet (kubetutor show cluster-dns --commands)"

// KubeletClusterDNS checks that the running kubelet gives pods the
// cluster DNS: its /configz, read from its API with the kubeconfig's
// client certificate, names course.ClusterDNSIP and course.ClusterDomain.
type KubeletClusterDNS struct{}

// Name implements Checker.
func (KubeletClusterDNS) Name() string { return "kubelet-cluster-dns" }

// Check implements Checker.
func (KubeletClusterDNS) Check(ctx context.Context, env *Env) (Result, error) {
	where := hostOf(env.KubeletURL)
	data, err := env.kubeletGet(ctx, "configz")
	var he *KubeletHTTPError
	switch {
	case errors.As(err, &he) && (he.Code == http.StatusUnauthorized || he.Code == http.StatusForbidden):
		return failf("The kubelet at %s refuses the kubeconfig's client certificate for /configz: %v.", where, he).
			saw(fmt.Sprintf("HTTP %d", he.Code), "200 and its configuration").
			hint("the kubeconfig's certificate must be signed by kubelet.yaml's clientCAFile (certs/ca.crt), its user allowed nodes/proxy (admin is in system:masters)"), nil
	case errors.As(err, &he):
		return failf("The kubelet at %s answers /configz with %v.", where, he).
			saw(fmt.Sprintf("HTTP %d", he.Code), "200 and its configuration").hint("kubetutor check kubelet"), nil
	case err != nil:
		return kubeletUnreachable(env, err), nil
	}
	running, err := ParseKubeletDNS(data)
	if err != nil {
		return Result{}, fmt.Errorf("read the kubelet's /configz at %s: %w", where, err)
	}
	want := "clusterDNS [" + course.ClusterDNSIP + "], clusterDomain " + course.ClusterDomain
	if running.ok() {
		return passf("The kubelet at %s runs with %s: it writes nameserver %s into each new pod's /etc/resolv.conf.", where, running, course.ClusterDNSIP).
			saw(running.String(), want), nil
	}
	r := failf("The kubelet at %s runs with %s: pods with dnsPolicy ClusterFirst get no cluster DNS (the kubelet records a MissingClusterDNS event and gives them the node's resolv.conf).", where, running).
		saw(running.String(), want).
		hint("%s", clusterDNSHint)
	if file, onDisk, ok := readKubeletFile(env); ok && onDisk.ok() {
		r.Message += fmt.Sprintf(" Its file %s already says %s: the kubelet reads it only when it starts.", file, onDisk.KubeletDNS)
		r = r.hint("restart the kubelet (Ctrl-C twice in its terminal, then its command again: kubetutor show cluster-dns --commands)")
	}
	return r, nil
}

// kubeletFile is what the checks read of a KubeletConfiguration file.
type kubeletFile struct {
	KubeletDNS
	Authentication struct {
		X509 struct {
			ClientCAFile string `json:"clientCAFile"`
		} `json:"x509"`
	} `json:"authentication"`
}

// readKubeletFile reads the file the local kubelet was started with (its
// --config), or kubelet.yaml in the work dir.
func readKubeletFile(env *Env) (string, kubeletFile, bool) {
	file := filepath.Join(env.WorkDir, "kubelet.yaml")
	if pid, _, ok := localProcess(env, course.Kubelet); ok {
		if args, cwd, err := processArgs(env, pid); err == nil {
			if c, ok := FlagValue(args, "config"); ok && c != "" {
				if filepath.IsAbs(c) {
					file = env.HostPath(c)
				} else {
					file = env.HostPath(cwd, c)
				}
			}
		}
	}
	data, err := fsutil.ReadFile(file, fsutil.LimitConfig)
	if err != nil {
		return file, kubeletFile{}, false
	}
	var k kubeletFile
	if err := yaml.Unmarshal(data, &k); err != nil {
		return file, kubeletFile{}, false
	}
	return file, k, true
}

// execIn runs cmd in the pod's first container (the API server's default)
// and returns its output, each stream capped.
func execIn(ctx context.Context, env *Env, p *corev1.Pod, cmd ...string) (string, string, error) {
	container := ""
	if len(p.Spec.Containers) > 0 {
		container = p.Spec.Containers[0].Name
	}
	var stdout, stderr bytes.Buffer
	err := env.PodExec(ctx, p.Namespace, p.Name, container, cmd, &fsutil.CappedBuffer{B: &stdout, N: 4096}, &fsutil.CappedBuffer{B: &stderr, N: 4096})
	return stdout.String(), stderr.String(), err
}

// notInImage says a command run by PodExec failed because the image lacks
// the program.
func notInImage(stderr string, err error) bool {
	s := stderr + err.Error()
	return strings.Contains(s, "executable file not found") || strings.Contains(s, "no such file")
}

// ResolvConf is what a resolv.conf says.
type ResolvConf struct {
	Nameservers, Search []string
}

// ParseResolvConf reads the nameserver and search lines of a resolv.conf.
func ParseResolvConf(s string) ResolvConf {
	var rc ResolvConf
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			rc.Nameservers = append(rc.Nameservers, f[1])
		case "search":
			rc.Search = f[1:]
		}
	}
	return rc
}

// PodUsesClusterDNS checks that the newest nginx pod was given the cluster
// DNS: its /etc/resolv.conf asks course.ClusterDNSIP with the cluster's
// search domains, and the kubelet recorded no MissingClusterDNS event for
// it.
type PodUsesClusterDNS struct{}

// Name implements Checker.
func (PodUsesClusterDNS) Name() string { return "pod-cluster-dns" }

// Check implements Checker.
func (PodUsesClusterDNS) Check(ctx context.Context, env *Env) (Result, error) {
	p, _, fail := runningPod(ctx, env)
	if fail != nil {
		return *fail, nil
	}
	out, stderr, err := execIn(ctx, env, p, "cat", "/etc/resolv.conf")
	if err != nil {
		return kubeletCallFailure(env, "read /etc/resolv.conf in pod "+p.Name, fmt.Errorf("%w %s", err, strings.TrimSpace(stderr))), nil
	}
	rc := ParseResolvConf(out)
	search := p.Namespace + ".svc." + course.ClusterDomain
	want := "nameserver " + course.ClusterDNSIP + ", search " + search
	seen := fmt.Sprintf("nameserver %s, search %s", orNone(strings.Join(rc.Nameservers, " ")), orNone(strings.Join(rc.Search, " ")))
	if !slices.Contains(rc.Nameservers, course.ClusterDNSIP) || !slices.Contains(rc.Search, search) {
		r := failf("Pod %s's /etc/resolv.conf has %s: it was given the node's resolver, not the cluster's.", p.Name, seen).
			saw(seen, want).
			hint("the kubelet writes a pod's resolv.conf when it makes the pod: once the kubelet runs with clusterDNS (kubetutor check cluster-dns), kubectl rollout restart deployment %s", env.Deployment)
		if missing := missingClusterDNSEvent(ctx, env, p); missing != "" {
			r.Message += " The kubelet said so: " + missing
		}
		return r, nil
	}
	if missing := missingClusterDNSEvent(ctx, env, p); missing != "" {
		return failf("Pod %s's resolv.conf names %s, but the kubelet recorded MissingClusterDNS for it: %s", p.Name, course.ClusterDNSIP, missing).
			saw("a MissingClusterDNS event", "none").
			hint("kubectl rollout restart deployment %s", env.Deployment), nil
	}
	return passf("Pod %s's /etc/resolv.conf asks %s (kube-dns) with search %s, and it has no MissingClusterDNS event.", p.Name, course.ClusterDNSIP, strings.Join(rc.Search, " ")).
		saw(seen, want), nil
}

// missingClusterDNSEvent is the message of the kubelet's MissingClusterDNS
// event on the pod, or "".
func missingClusterDNSEvent(ctx context.Context, env *Env, p *corev1.Pod) string {
	kube := env.kubeOrNil()
	if kube == nil {
		return ""
	}
	sel := fields.Set{"involvedObject.name": p.Name, "reason": "MissingClusterDNS"}.AsSelector().String()
	evs, err := kube.CoreV1().Events(p.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return ""
	}
	for _, e := range evs.Items {
		if e.Reason == "MissingClusterDNS" && e.InvolvedObject.UID == p.UID {
			return truncate(e.Message, 200)
		}
	}
	return ""
}

// LookupCommand is what PodResolvesNames runs in the pod: glibc's getent in
// nginx's image, kubetutor's in the offline stand-in.
var LookupCommand = []string{"getent", "hosts", "kubernetes.default"}

// PodResolvesNames checks that a name lookup inside the newest nginx pod
// (through its resolv.conf's search list) resolves kubernetes.default to
// the kubernetes Service's ClusterIP.
type PodResolvesNames struct{}

// Name implements Checker.
func (PodResolvesNames) Name() string { return "pod-resolves-names" }

// Check implements Checker.
func (PodResolvesNames) Check(ctx context.Context, env *Env) (Result, error) {
	p, _, fail := runningPod(ctx, env)
	if fail != nil {
		return *fail, nil
	}
	cmd := strings.Join(LookupCommand, " ")
	out, stderr, err := execIn(ctx, env, p, LookupCommand...)
	want := course.KubernetesServiceIP + " kubernetes.default.svc." + course.ClusterDomain
	fields := strings.Fields(out)
	switch {
	case err != nil && notInImage(stderr, err):
		return failf("There is no getent in pod %s's image, so kubetutor cannot ask it for a name (%s).", p.Name, truncate(textsafe.FirstLine(stderr+err.Error()), 200)).
			saw("no getent", want).
			hint("offline, kubetutor images load (as root) gives the stand-in image its getent; then kubectl rollout restart deployment %s", env.Deployment), nil
	case exitStatus(err) == 2: // getent: not found
		return failf("In pod %s, %q found nothing: the pod's resolver does not know the cluster's names.", p.Name, cmd).
			saw("not found", want).
			hint("kubetutor check cluster-dns pod-cluster-dns, and kubetutor check coredns; a pod asking CoreDNS on the same bridge also needs net.bridge.bridge-nf-call-iptables=1 (kubetutor doctor)"), nil
	case err != nil:
		return kubeletCallFailure(env, "run "+cmd+" in pod "+p.Name, err), nil
	case len(fields) == 0 || fields[0] != course.KubernetesServiceIP:
		return failf("In pod %s, %q printed %q, not %s.", p.Name, cmd, truncate(strings.TrimSpace(out), 100), course.KubernetesServiceIP).
			saw(truncate(strings.TrimSpace(out), 100), want), nil
	}
	return passf("In pod %s, %q resolves through the cluster DNS: %s.", p.Name, cmd, strings.Join(fields, " ")).
		saw(strings.Join(fields, " "), want), nil
}

// exitStatus is the exit status of a command run by PodExec, or -1.
func exitStatus(err error) int {
	var ee utilexec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitStatus()
	}
	return -1
}
