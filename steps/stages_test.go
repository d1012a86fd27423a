package steps_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/pki"
	"github.com/kubetutor/kubetutor/internal/testdns"
	"github.com/kubetutor/kubetutor/steps"
)

// world is a simulated cluster the checks observe: files in a work dir,
// fake etcd and API endpoints over real TCP/TLS, a fake clientset and a fake
// container runtime. Each stage of the talk changes it the way the real
// component would.
type world struct {
	t        *testing.T
	dir      string
	env      *checks.Env
	kube     *fake.Clientset
	apiAddr  string
	etcdAddr string
	// cmAddr, schedAddr and kubeletAddr serve the components' /healthz;
	// kubeletAPIAddr the kubelet's own API (port 10250 on a node).
	cmAddr, schedAddr, kubeletAddr, kubeletAPIAddr string
	// proxyAddr serves kube-proxy's /healthz; routes are where a
	// connection to a ClusterIP address lands (what kube-proxy's rules
	// decide on a node; none: refused).
	proxyAddr string
	routes    map[string]string
	// execOK: the API server has a kubelet client certificate, so exec
	// through it works.
	execOK bool
	// clusterDNS: the kubelet runs with clusterDNS, so the pod's
	// resolv.conf asks kube-dns and names resolve inside it.
	clusterDNS bool
	mu         sync.Mutex // guards servers
	servers    []*httptest.Server
}

// freeAddr is an address where nothing listens yet, for a server the test
// starts later. It is on a loopback address of its own (127.x.y.z, not
// 127.0.0.1): between closing the probe and the later bind, another test
// process (make test runs packages side by side) dialing or listening on
// 127.0.0.1 cannot take the port.
func freeAddr(t *testing.T) string {
	t.Helper()
	return freeAddrOn(t, fmt.Sprintf("127.%d.%d.%d", 1+rand.IntN(250), rand.IntN(256), 1+rand.IntN(250)))
}

// freeAddrOn is a free port on ip: 127.0.0.1 for the API server, whose
// certificate (the certs lesson's) names that address.
func freeAddrOn(t *testing.T, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func newWorld(t *testing.T) *world {
	dir := t.TempDir()
	w := &world{t: t, dir: dir, kube: fake.NewClientset(), apiAddr: freeAddrOn(t, "127.0.0.1"), etcdAddr: freeAddr(t),
		cmAddr: freeAddr(t), schedAddr: freeAddr(t), kubeletAddr: freeAddr(t), kubeletAPIAddr: freeAddr(t), proxyAddr: freeAddr(t),
		routes: map[string]string{}}
	env := checks.NewEnv(dir)
	env.Kubeconfig = filepath.Join(dir, "admin.conf")
	env.APIServerURL = "https://" + w.apiAddr
	env.EtcdURL = "http://" + w.etcdAddr
	env.ContainerdAddress = filepath.Join(dir, "containerd.sock")
	env.CNIConfDir = filepath.Join(dir, "net.d")
	env.CNIBinDirs = []string{filepath.Join(dir, "cni-bin")}
	env.PathEnv = filepath.Join(dir, "empty-path")
	env.Timeout = 2 * time.Second
	env.SetHealthz(course.ControllerManager, "https://"+w.cmAddr+"/healthz")
	env.SetHealthz(course.Scheduler, "https://"+w.schedAddr+"/healthz")
	env.SetHealthz(course.Kubelet, "http://"+w.kubeletAddr+"/healthz")
	env.SetHealthz(course.KubeProxy, "http://"+w.proxyAddr+"/healthz")
	env.KubeletURL = "https://" + w.kubeletAPIAddr
	refused := freeAddr(t)
	env.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		w.mu.Lock()
		to, ok := w.routes[network+"/"+addr]
		if !ok {
			to, ok = w.routes[addr]
		}
		w.mu.Unlock()
		if !ok {
			to, network = refused, "tcp"
		}
		var d net.Dialer
		return d.DialContext(ctx, network, to)
	}
	env.Exec = w.exec
	env.KubeletGet = func(_ context.Context, path string) ([]byte, error) {
		if path != "configz" {
			return nil, &checks.KubeletHTTPError{Code: http.StatusNotFound, Body: "404 page not found"}
		}
		if w.clusterDNS {
			return []byte(`{"kubeletconfig":{"clusterDNS":["10.0.0.10"],"clusterDomain":"cluster.local","failSwapOn":false}}`), nil
		}
		return []byte(`{"kubeletconfig":{"failSwapOn":false}}`), nil
	}
	env.Hostname = "workshop"
	// No component processes but kube-apiserver, whose flags the logs step
	// reads: /healthz decides the others' liveness.
	env.HostRoot = filepath.Join(dir, "host")
	env.SetKube(w.kube)
	w.env = env
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, s := range w.servers {
			s.Close()
		}
	})
	// Until kube-proxy writes its rules, the network's transparent proxy
	// answers the ClusterIPs, over HTTP and with a certificate of its own.
	elsewhere, elsewhereTLS := freeAddr(t), freeAddr(t)
	notFound := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { http.NotFound(rw, r) })
	w.serve(elsewhere, notFound, nil)
	w.serve(elsewhereTLS, notFound, &tls.Config{})
	w.routes["10.0.0.117:80"] = elsewhere
	w.routes[course.KubernetesServiceIP+":443"] = elsewhereTLS
	return w
}

func (w *world) serve(addr string, h http.Handler, tlsCfg *tls.Config) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		w.t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener.Close()
	s.Listener = l
	if tlsCfg != nil {
		s.TLS = tlsCfg
		s.StartTLS()
	} else {
		s.Start()
	}
	w.mu.Lock()
	w.servers = append(w.servers, s)
	w.mu.Unlock()
}

// healthz starts a component's /healthz answering ok, as the component
// does while it runs; it returns the server, to stop it.
func (w *world) healthz(addr string, tlsOn bool) *httptest.Server {
	var cfg *tls.Config
	if tlsOn {
		cfg = &tls.Config{}
	}
	w.serve(addr, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { fmt.Fprint(rw, "ok") }), cfg)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.servers[len(w.servers)-1]
}

func (w *world) write(path, content string, mode os.FileMode) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		w.t.Fatal(err)
	}
}

var ctx = context.Background()

// The stages of the talk, each applied on top of the previous ones.
var stages = []struct {
	step  string
	apply func(w *world)
	// next is the check of the following step that must fail, and a
	// phrase of its explanation.
	nextCheck, nextWant string
	// passWant are phrases the passing step's own messages must contain.
	passWant []string
}{
	{"", func(*world) {}, "binary-kube-apiserver", "is not in", nil},
	{"tools", func(w *world) {
		for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl", "etcd"} {
			w.write(filepath.Join(w.dir, "bin", b), "#!/bin/sh\necho 'Kubernetes v1.37.2'\n", 0o755)
		}
	}, "cert-files", "Missing in", []string{"v1.37.2"}},
	{"certs", func(w *world) {
		if _, err := pki.Init(pki.Options{WorkDir: w.dir, KeyAlgo: "ecdsa", APIServerURL: w.env.APIServerURL}); err != nil {
			w.t.Fatal(err)
		}
	}, "etcd-healthy", "connection refused", []string{"covers all 7 names"}},
	{"etcd", func(w *world) {
		w.serve(w.etcdAddr, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/health":
				fmt.Fprint(rw, `{"health":"true","reason":""}`)
			case "/version":
				fmt.Fprint(rw, `{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}`)
			default:
				http.NotFound(rw, r)
			}
		}), nil)
	}, "apiserver-ready", "connection refused", []string{"etcd 3.4.23 is healthy"}},
	{"apiserver", func(w *world) {
		cert, err := tls.LoadX509KeyPair(filepath.Join(w.dir, "certs", "server.crt"), filepath.Join(w.dir, "certs", "server.key"))
		if err != nil {
			w.t.Fatal(err)
		}
		w.apiServerProcess("--tls-cert-file=certs/server.crt", "--service-cluster-ip-range=10.0.0.0/24")
		w.serve(w.apiAddr, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/readyz":
				fmt.Fprint(rw, "ok")
			case "/version":
				fmt.Fprint(rw, `{"major":"1","minor":"37","gitVersion":"v1.37.2"}`)
			default:
				http.NotFound(rw, r)
			}
		}), &tls.Config{Certificates: []tls.Certificate{cert}})
	}, "deployment-exists", `There is no Deployment "nginx"`, []string{"kube-apiserver v1.37.2"}},
	{"deployment", func(w *world) {
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default", UID: "d-uid", Labels: map[string]string{"app": "nginx"}},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}}},
			},
		}
		if _, err := w.kube.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
			w.t.Fatal(err)
		}
	}, "replicaset-created", "has no ReplicaSet", []string{"has no ReplicaSet yet. That is expected now"}},
	{"controller-manager", func(w *world) {
		w.healthz(w.cmAddr, true)
		yes := true
		rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "nginx-7c5ddbdf54", Namespace: "default", UID: "rs-uid", Labels: map[string]string{"app": "nginx"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "nginx", UID: "d-uid", Controller: &yes}}},
			Status: appsv1.ReplicaSetStatus{Replicas: 1}}
		if _, err := w.kube.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
			w.t.Fatal(err)
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "nginx-7c5ddbdf54-x2x4q", Namespace: "default", Labels: map[string]string{"app": "nginx"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: "rs-uid", Controller: &yes}}},
			Status: corev1.PodStatus{Phase: corev1.PodPending}}
		if _, err := w.kube.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			w.t.Fatal(err)
		}
	}, "pods-scheduled-or-attempted", "no scheduler has looked at it", []string{"created ReplicaSet nginx-7c5ddbdf54", "Pending with no node. That is expected now"}},
	{"scheduler", func(w *world) {
		w.healthz(w.schedAddr, true)
		w.unschedulable("no nodes available to schedule pods")
	}, "containerd-running", "no socket", []string{`FailedScheduling "no nodes available to schedule pods", PodScheduled=False (Unschedulable)`, "no node has registered"}},
	{"containerd", func(w *world) {
		w.env.SetRuntime(fakeRuntime{})
	}, "node-registered", "No node has registered", []string{"containerd 1.6.20", "CRI plugin"}},
	{"kubelet", func(w *world) {
		w.healthz(w.kubeletAddr, false)
		w.kubeletAPI()
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "workshop"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady",
			Message: "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
		}}}}
		if _, err := w.kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			w.t.Fatal(err)
		}
		w.unschedulable("0/1 nodes are available: 1 node(s) had untolerated taint(s).")
	}, "cni-config", "no CNI configuration", []string{"NotReady", "Configuring CNI is the next lesson"}},
	{"cni", func(w *world) {
		w.write(filepath.Join(w.env.CNIConfDir, "10-bridge.conflist"), `{"cniVersion":"1.0.0","name":"bridge","plugins":[{"type":"bridge","bridge":"cni0","ipam":{"type":"host-local"}},{"type":"loopback"}]}`, 0o644)
		for _, p := range []string{"bridge", "host-local", "loopback"} {
			w.write(filepath.Join(w.env.CNIBinDirs[0], p), "#!/bin/sh\n", 0o755)
		}
		node, _ := w.kube.CoreV1().Nodes().Get(ctx, "workshop", metav1.GetOptions{})
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}}
		if _, err := w.kube.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			w.t.Fatal(err)
		}
		pod, _ := w.kube.CoreV1().Pods("default").Get(ctx, "nginx-7c5ddbdf54-x2x4q", metav1.GetOptions{})
		pod.Spec.NodeName = "workshop"
		pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.0.2", Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}}
		if _, err := w.kube.CoreV1().Pods("default").Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
			w.t.Fatal(err)
		}
	}, "kubelet-accepts-apiserver", "runs without --kubelet-client-certificate", []string{"is Ready", "Running on workshop with IP 10.244.0.2"}},
	{"logs", func(w *world) {
		w.apiServerProcess("--tls-cert-file=certs/server.crt", "--kubelet-client-certificate=certs/server.crt", "--kubelet-client-key", "certs/server.key")
		w.execOK = true
	}, "service-cluster-ip", `There is no Service "nginx"`, []string{"refuses a request without credentials", "this kubelet accepts it", "read pod nginx-7c5ddbdf54-x2x4q's logs", "printed the pod's name"}},
	{"service", func(w *world) {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.117", Selector: map[string]string{"app": "nginx"}, Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)}}}}
		if _, err := w.kube.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			w.t.Fatal(err)
		}
		yes := true
		sl := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "nginx-abcde", Namespace: "default",
			Labels: map[string]string{discoveryv1.LabelServiceName: "nginx", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.244.0.2"}, Conditions: discoveryv1.EndpointConditions{Ready: &yes}}}}
		if _, err := w.kube.DiscoveryV1().EndpointSlices("default").Create(ctx, sl, metav1.CreateOptions{}); err != nil {
			w.t.Fatal(err)
		}
	}, "kube-proxy-running", "kube-proxy is not running", []string{"ClusterIP 10.0.0.117", "lists pod nginx-7c5ddbdf54-x2x4q at 10.244.0.2, ready"}},
	{"kube-proxy", func(w *world) {
		w.serve(w.proxyAddr, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(rw, `{"lastUpdated":%[1]q,"currentTime":%[1]q,"nodeEligible":true,"healthy":true}`, time.Now().UTC().Format(time.RFC3339Nano))
		}), nil)
		// The pod, and kube-proxy's rules to it and to the API server.
		nginx := freeAddr(w.t)
		w.serve(nginx, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			fmt.Fprint(rw, "<h1>Welcome to nginx!</h1>\n")
		}), nil)
		w.mu.Lock()
		w.routes["10.0.0.117:80"] = nginx
		w.routes[course.KubernetesServiceIP+":443"] = w.apiAddr
		w.mu.Unlock()
	}, "coredns-ready", "There is no Deployment kube-system/coredns", []string{"kube-proxy is running: /healthz on", "answers 200, healthy", "nginx's welcome page", "signed by certs/ca.crt and naming 10.0.0.1"}},
	{"coredns", func(w *world) { w.coreDNS() }, "kubelet-cluster-dns", "runs with clusterDNS []",
		[]string{"CoreDNS in pod coredns-6d4b75cb6d-qx2lz is ready", "lists pod coredns-6d4b75cb6d-qx2lz at 10.244.0.9, ready", "over UDP and TCP"}},
	{"cluster-dns", func(w *world) { w.clusterDNS = true }, "", "",
		[]string{"runs with clusterDNS [10.0.0.10]", "asks 10.0.0.10 (kube-dns)", "resolves through the cluster DNS: 10.0.0.1 kubernetes.default.svc.cluster.local"}},
}

// exec runs a command in a pod as the kubelet would: the pod's
// /etc/hostname, its resolv.conf, getent.
func (w *world) exec(_ context.Context, _, pod, _ string, cmd []string, stdout, _ io.Writer) error {
	if !w.execOK {
		return errors.New("Unauthorized")
	}
	var err error
	switch strings.Join(cmd, " ") {
	case "cat /etc/resolv.conf":
		if w.clusterDNS {
			_, err = fmt.Fprint(stdout, "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.0.0.10\noptions ndots:5\n")
		} else {
			_, err = fmt.Fprint(stdout, "nameserver 10.255.255.53\n")
		}
	case "getent hosts kubernetes.default":
		if !w.clusterDNS {
			return utilexec.CodeExitError{Err: errors.New("command terminated with non-zero exit code"), Code: 2}
		}
		_, err = fmt.Fprintln(stdout, "10.0.0.1        kubernetes.default.svc.cluster.local")
	default:
		_, err = fmt.Fprintln(stdout, pod)
	}
	return err
}

// coreDNS runs CoreDNS in the world: its Deployment, pod, the kube-dns
// Service and EndpointSlice, /ready on the pod's address, and the DNS
// server kube-proxy's rules lead 10.0.0.10:53 to.
func (w *world) coreDNS() {
	one := int32(1)
	yes := true
	labels := map[string]string{"k8s-app": "kube-dns"}
	objs := []struct {
		create func() error
	}{
		{func() error {
			_, err := w.kube.AppsV1().Deployments("kube-system").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: "kube-system"},
				Spec: appsv1.DeploymentSpec{Replicas: &one}}, metav1.CreateOptions{})
			return err
		}},
		{func() error {
			_, err := w.kube.CoreV1().Pods("kube-system").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "coredns-6d4b75cb6d-qx2lz", Namespace: "kube-system", Labels: labels},
				Spec: corev1.PodSpec{NodeName: "workshop"}, Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.0.9"}}, metav1.CreateOptions{})
			return err
		}},
		{func() error {
			_, err := w.kube.CoreV1().Services("kube-system").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system", Labels: labels},
				Spec: corev1.ServiceSpec{ClusterIP: course.ClusterDNSIP, Selector: labels, Ports: []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}}}, metav1.CreateOptions{})
			return err
		}},
		{func() error {
			_, err := w.kube.DiscoveryV1().EndpointSlices("kube-system").Create(ctx, &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "kube-dns-xyz12", Namespace: "kube-system",
				Labels: map[string]string{discoveryv1.LabelServiceName: "kube-dns", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}},
				AddressType: discoveryv1.AddressTypeIPv4,
				Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.244.0.9"}, Conditions: discoveryv1.EndpointConditions{Ready: &yes}}}}, metav1.CreateOptions{})
			return err
		}},
	}
	for _, o := range objs {
		if err := o.create(); err != nil {
			w.t.Fatal(err)
		}
	}
	ready := freeAddr(w.t)
	w.serve(ready, http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { fmt.Fprint(rw, "OK") }), nil)
	udp, tcp := testdns.Serve(w.t, map[string]string{"kubernetes.default.svc.cluster.local.": course.KubernetesServiceIP})
	w.mu.Lock()
	w.routes["10.244.0.9:8181"] = ready
	w.routes["udp/"+course.ClusterDNSIP+":53"] = udp
	w.routes["tcp/"+course.ClusterDNSIP+":53"] = tcp
	w.mu.Unlock()
}

// apiServerProcess puts a kube-apiserver with these flags, started in the
// work dir long ago, in the fake host's /proc.
func (w *world) apiServerProcess(flags ...string) {
	dir := filepath.Join(w.env.HostRoot, "proc", "4242")
	w.write(filepath.Join(w.env.HostRoot, "proc", "uptime"), "100000.00 100000.00\n", 0o644)
	w.write(filepath.Join(dir, "stat"), "4242 (kube-apiserver) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n", 0o644)
	w.write(filepath.Join(dir, "cmdline"), strings.Join(append([]string{"kube-apiserver"}, flags...), "\x00")+"\x00", 0o644)
	// It runs in /work on the fake host, which is the work dir.
	_ = os.Remove(filepath.Join(dir, "cwd"))
	if err := os.Symlink("/work", filepath.Join(dir, "cwd")); err != nil {
		w.t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(w.env.HostRoot, "work")); err != nil {
		if err := os.Symlink(w.dir, filepath.Join(w.env.HostRoot, "work")); err != nil {
			w.t.Fatal(err)
		}
	}
}

// kubeletAPI serves the kubelet's own API: 401 without a client
// certificate signed by the course CA, the pod list with one.
func (w *world) kubeletAPI() {
	caPEM, err := os.ReadFile(filepath.Join(w.dir, "certs", "ca.crt"))
	if err != nil {
		w.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	serving, err := tls.LoadX509KeyPair(filepath.Join(w.dir, "certs", "server.crt"), filepath.Join(w.dir, "certs", "server.key"))
	if err != nil {
		w.t.Fatal(err)
	}
	w.serve(w.kubeletAPIAddr, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 {
			http.Error(rw, "Unauthorized", http.StatusUnauthorized)
			return
		}
		if _, err := r.TLS.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			http.Error(rw, "Unauthorized", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(rw, `{"kind":"PodList","items":[]}`)
	}), &tls.Config{Certificates: []tls.Certificate{serving}, ClientAuth: tls.RequestClientCert})
}

// unschedulable records what kube-scheduler records for a pod it cannot place.
func (w *world) unschedulable(msg string) {
	pod, err := w.kube.CoreV1().Pods("default").Get(ctx, "nginx-7c5ddbdf54-x2x4q", metav1.GetOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: msg}}
	if _, err := w.kube.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		w.t.Fatal(err)
	}
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("nginx.%d", time.Now().UnixNano()), Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: pod.Name, Namespace: "default"},
		Reason:         "FailedScheduling", Message: msg, Type: corev1.EventTypeWarning,
		LastTimestamp: metav1.NewTime(time.Now())}
	if _, err := w.kube.CoreV1().Events("default").Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		w.t.Fatal(err)
	}
}

type fakeRuntime struct{}

func (fakeRuntime) Version(context.Context) (string, string, error) { return "1.6.20", "abc", nil }
func (fakeRuntime) Plugin(_ context.Context, typ, id string) (bool, string, error) {
	return typ == "io.containerd.grpc.v1" && id == "cri", "", nil
}
func (fakeRuntime) Close() error { return nil }

// TestStages walks the talk on a simulated cluster and asserts, at every
// stage, the verdict of every step, where `check` locates the cluster, and
// the explanation of the next step's failure.
// TestStages walks the simulated cluster through every stage, reading it
// both ways the checks can: straight from the API server (one-shot checks)
// and through the informer cache a watch attaches. The verdicts must be the
// same.
func TestStages(t *testing.T) {
	for _, through := range []string{"api", "informers"} {
		t.Run(through, func(t *testing.T) { testStages(t, through == "informers") })
	}
}

func testStages(t *testing.T, informers bool) {
	w := newWorld(t)
	var cache *checks.InformerCache
	if informers {
		cache = checks.NewInformerCache(w.kube, w.env.Namespace, w.env.Deployment)
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := cache.Start(sctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cache.Stop)
	}
	ids := steps.IDs()
	for si, st := range stages {
		name := st.step
		if name == "" {
			name = "nothing"
		}
		t.Run(fmt.Sprintf("%02d-%s", si, name), func(t *testing.T) {
			st.apply(w)
			rep, err := steps.Run(ctx, w.env, steps.RunOptions{Mode: steps.Every})
			if err != nil {
				t.Fatal(err)
			}
			if informers {
				// The informers learn of the stage's objects a moment after
				// the API (the fake clientset's tracker) has them: read
				// through them until they caught up with the direct reading,
				// then judge the informers' report.
				direct := verdictTable(rep)
				var got string
				poll := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
					w.env.SetCache(cache)
					defer w.env.SetCache(nil)
					rep, err = steps.Run(ctx, w.env, steps.RunOptions{Mode: steps.Every})
					if err != nil {
						return false, err
					}
					got = verdictTable(rep)
					return got == direct, nil
				})
				if poll != nil {
					t.Fatalf("through the informers:\n%s\nthrough the API:\n%s", got, direct)
				}
				w.env.SetCache(cache)
				defer w.env.SetCache(nil)
			}
			var verdicts []string
			for i, r := range rep.Steps {
				verdicts = append(verdicts, r.ID+"="+string(r.Status))
				want := steps.Fail
				if i < si {
					want = steps.Pass
				}
				if r.Status != want {
					t.Errorf("step %s: %s, want %s%s", r.ID, r.Status, want, describe(r))
				}
			}
			t.Log(strings.Join(verdicts, " "))
			if rep.Current != st.step {
				t.Errorf("current %q, want %q", rep.Current, st.step)
			}
			if si > 0 {
				msgs := describe(rep.Steps[si-1])
				for _, want := range st.passWant {
					if !strings.Contains(msgs, want) {
						t.Errorf("step %s passes, but its messages lack %q:%s", st.step, want, msgs)
					}
				}
			}
			if si < len(ids) {
				next := rep.Steps[si]
				c := find(next, st.nextCheck)
				if c == nil || c.Status != checks.Fail || !strings.Contains(c.Message, st.nextWant) || c.Hint == "" {
					t.Errorf("next step %s, check %s: want a failure with a hint containing %q, got %+v", next.ID, st.nextCheck, st.nextWant, c)
				}
			}
			// Locating stops at the first failing step and skips the rest.
			loc, err := steps.Run(ctx, w.env, steps.RunOptions{Mode: steps.Locate})
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range loc.Steps {
				want := steps.Skip
				switch {
				case i < si:
					want = steps.Pass
				case i == si:
					want = steps.Fail
				}
				if r.Status != want {
					t.Errorf("locate: step %s %s, want %s", r.ID, r.Status, want)
				}
			}
			wantCode := 1
			if si == len(ids) {
				wantCode = 0
			}
			if loc.ExitCode() != wantCode {
				t.Errorf("exit code %d, want %d", loc.ExitCode(), wantCode)
			}
		})
	}
}

func find(r steps.Result, name string) *checks.Result {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

func describe(r steps.Result) string {
	var b strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "\n  %s %s: %s", c.Status, c.Name, c.Message)
	}
	return b.String()
}

var digits = regexp.MustCompile(`[0-9]+`)

// verdictTable is a report's every check with its status, message and hint,
// numbers (ages, durations) masked.
func verdictTable(rep steps.Report) string {
	var b strings.Builder
	for _, r := range rep.Steps {
		fmt.Fprintf(&b, "%s %s\n", r.ID, r.Status)
		for _, c := range r.Checks {
			fmt.Fprintf(&b, "  %s %s: %s | %s\n", c.Status, c.Name, digits.ReplaceAllString(c.Message, "#"), digits.ReplaceAllString(c.Hint, "#"))
		}
	}
	return b.String()
}

// TestLocateCancelsTheStepsAfterAFailure: locating starts every step at
// once; once a step fails, the steps after it are cancelled, not waited for.
// Here the tools step fails at once while the API server accepts
// connections and never answers: the run ends long before the check
// timeout that apiserver-ready would otherwise wait out.
func TestLocateCancelsTheStepsAfterAFailure(t *testing.T) {
	w := newWorld(t)
	w.env.Timeout = 20 * time.Second
	if _, err := pki.Init(pki.Options{WorkDir: w.dir, KeyAlgo: "ecdsa", APIServerURL: w.env.APIServerURL}); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", w.apiAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() }) // silent: never a byte back
		}
	}()
	start := time.Now()
	rep, err := steps.Run(context.Background(), w.env, steps.RunOptions{Mode: steps.Locate})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rep.Steps {
		want := steps.Skip
		if i == 0 {
			want = steps.Fail
		}
		if r.Status != want {
			t.Errorf("step %s: %s, want %s%s", r.ID, r.Status, want, describe(r))
		}
	}
	if took > w.env.Timeout/2 {
		t.Errorf("locating took %s: the steps after the failing one were waited for (check timeout %s)", took, w.env.Timeout)
	}
}
