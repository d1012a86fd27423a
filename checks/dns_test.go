package checks_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/testdns"
)

// dnsEnv is an Env whose connections to the kube-dns address go to the
// given UDP and TCP servers ("" refuses), and to a CoreDNS pod's /ready to
// ready (nil: refused).
func dnsEnv(t *testing.T, udp, tcp string, ready http.Handler) *checks.Env {
	t.Helper()
	env := checks.NewEnv(t.TempDir())
	env.HostRoot = t.TempDir()
	env.Timeout = 2 * time.Second
	var readyAddr string
	if ready != nil {
		srv := httptest.NewServer(ready)
		t.Cleanup(srv.Close)
		readyAddr = srv.Listener.Addr().String()
	}
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a := ln.Addr().String()
		ln.Close()
		return a
	}()
	env.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		switch {
		case addr == course.ClusterDNSIP+":53" && network == "udp" && udp != "":
			return d.DialContext(ctx, network, udp)
		case addr == course.ClusterDNSIP+":53" && network == "tcp" && tcp != "":
			return d.DialContext(ctx, network, tcp)
		case strings.HasSuffix(addr, ":8181") && readyAddr != "":
			return d.DialContext(ctx, "tcp", readyAddr)
		}
		return d.DialContext(ctx, "tcp", refused)
	}
	return env
}

func TestClusterDNSAnswers(t *testing.T) {
	good := map[string]string{"kubernetes.default.svc.cluster.local.": course.KubernetesServiceIP}
	udp, tcp := testdns.Serve(t, good)
	wrongUDP, wrongTCP := testdns.Serve(t, map[string]string{"kubernetes.default.svc.cluster.local.": "10.0.0.99"})
	emptyUDP, emptyTCP := testdns.Serve(t, nil)
	for _, tc := range []struct {
		name     string
		udp, tcp string
		pass     bool
		want     string
	}{
		{"both answer", udp, tcp, true, "over UDP and TCP"},
		{"tcp refused", udp, "", false, "No DNS answer from 10.0.0.10:53 over TCP"},
		{"nothing listens", "", "", false, "over UDP"},
		{"wrong address", wrongUDP, wrongTCP, false, "to 10.0.0.99, not 10.0.0.1"},
		{"another DNS server", emptyUDP, emptyTCP, false, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := dnsEnv(t, tc.udp, tc.tcp, nil)
			r := checks.Run(context.Background(), env, checks.ClusterDNSAnswers{})
			if r.Passed() != tc.pass || !strings.Contains(r.Message, tc.want) {
				t.Errorf("passed=%v %q; want passed=%v and %q", r.Passed(), r.Message, tc.pass, tc.want)
			}
		})
	}
}

func coreDNSObjects(podPhase corev1.PodPhase, waiting string) *fake.Clientset {
	one := int32(1)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: "kube-system"}, Spec: appsv1.DeploymentSpec{Replicas: &one}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "coredns-abc", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec:   corev1.PodSpec{NodeName: "node1"},
		Status: corev1.PodStatus{Phase: podPhase}}
	if podPhase == corev1.PodRunning {
		pod.Status.PodIP = "10.244.0.7"
	}
	if waiting != "" {
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "coredns", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: waiting, Message: "failed to pull"}}}}
	}
	return fake.NewClientset(dep, pod)
}

func TestCoreDNSReady(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "OK") })
	notReady := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "kubernetes")
	})
	for _, tc := range []struct {
		name    string
		kube    *fake.Clientset
		ready   http.Handler
		pass    bool
		want    string
		hintHas string
	}{
		{"ready", coreDNSObjects(corev1.PodRunning, ""), ok, true, "is ready", ""},
		{"kubernetes plugin not ready", coreDNSObjects(corev1.PodRunning, ""), notReady, false, "plugins not ready: kubernetes", "kube-proxy"},
		{"killed", coreDNSObjects(corev1.PodRunning, ""), nil, false, "CoreDNS is not running in pod coredns-abc", "--previous"},
		{"image missing", coreDNSObjects(corev1.PodPending, "ImagePullBackOff"), nil, false, "ImagePullBackOff", "images load --coredns"},
		{"no deployment", fake.NewClientset(), nil, false, "There is no Deployment kube-system/coredns", "kubectl apply -f coredns.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := dnsEnv(t, "", "", tc.ready)
			env.SetKube(tc.kube)
			r := checks.Run(context.Background(), env, checks.CoreDNSReady{})
			if r.Passed() != tc.pass || !strings.Contains(r.Message, tc.want) || !strings.Contains(r.Hint, tc.hintHas) {
				t.Errorf("passed=%v %q (hint %q); want passed=%v, %q, hint with %q", r.Passed(), r.Message, r.Hint, tc.pass, tc.want, tc.hintHas)
			}
		})
	}
}

// FuzzParseKubeletDNS: a kubelet's /configz answer or its file, whatever
// its bytes, parses or errs; a parse never panics, and a configz answer
// with the settings is read as such.
func FuzzParseKubeletDNS(f *testing.F) {
	f.Add([]byte(`{"kubeletconfig":{"clusterDNS":["10.0.0.10"],"clusterDomain":"cluster.local"}}`))
	f.Add([]byte("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nclusterDNS:\n- 10.0.0.10\nclusterDomain: cluster.local\n"))
	f.Add([]byte("clusterDNS: 10.0.0.10\n"))
	f.Add([]byte(`{"kubeletconfig":null}`))
	f.Add([]byte("clusterDNS:\n- a\nclusterDNS:\n- b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := checks.ParseKubeletDNS(data)
		if err != nil && (len(k.ClusterDNS) > 0 || k.ClusterDomain != "") {
			t.Fatalf("an error (%v) with settings %+v", err, k)
		}
	})
}

// FuzzParseResolvConf: a pod's resolv.conf, whatever its bytes, gives its
// nameserver and search lines and nothing else.
func FuzzParseResolvConf(f *testing.F) {
	f.Add("search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.0.0.10\noptions ndots:5\n")
	f.Add("nameserver\nsearch\n\x00nameserver 1.1.1.1 extra")
	f.Fuzz(func(t *testing.T, s string) {
		rc := checks.ParseResolvConf(s)
		for _, n := range append(rc.Nameservers, rc.Search...) {
			if n == "" || strings.ContainsAny(n, " \t\n") || !strings.Contains(s, n) {
				t.Fatalf("%q is not a word of %q", n, s)
			}
		}
	})
}

func TestParseKubeletDNS(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{`{"kubeletconfig":{"clusterDNS":["10.0.0.10"],"clusterDomain":"cluster.local"}}`, `clusterDNS [10.0.0.10], clusterDomain "cluster.local"`},
		{"kind: KubeletConfiguration\nclusterDNS:\n- 10.0.0.10\nclusterDomain: cluster.local\n", `clusterDNS [10.0.0.10], clusterDomain "cluster.local"`},
		{`{"kubeletconfig":{"failSwapOn":false}}`, `clusterDNS [], clusterDomain ""`},
	} {
		k, err := checks.ParseKubeletDNS([]byte(tc.in))
		if err != nil || k.String() != tc.want {
			t.Errorf("ParseKubeletDNS(%q) = %s, %v; want %s", tc.in, k, err, tc.want)
		}
	}
}
