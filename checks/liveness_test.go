package checks_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/course"
)

func lease(ns, name, holder string, renewedAgo time.Duration, durSec int32, now time.Time) *coordinationv1.Lease {
	renew := metav1.NewMicroTime(now.Add(-renewedAgo))
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &durSec, RenewTime: &renew}}
}

// healthzRefused is a /healthz URL where nothing listens: a component
// stopped on this machine.
func healthzRefused(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "https://" + addr + "/healthz"
}

// healthzServing is a /healthz URL that answers code and body, as a
// component's self-signed TLS endpoint does.
func healthzServing(t *testing.T, code int, body string) string {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/healthz"
}

// withControlPlane points env at a kube-controller-manager, a
// kube-scheduler and a kubelet that run (alive) or were stopped, on a fake
// host with no processes, whatever runs on the test machine.
func withControlPlane(t *testing.T, env *checks.Env, alive bool) {
	env.HostRoot = t.TempDir()
	if alive {
		env.SetHealthz(course.ControllerManager, healthzServing(t, 200, "ok"))
		env.SetHealthz(course.Scheduler, healthzServing(t, 200, "ok"))
		kubelet := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
		t.Cleanup(kubelet.Close)
		env.SetHealthz(course.Kubelet, kubelet.URL+"/healthz")
		return
	}
	env.SetHealthz(course.ControllerManager, healthzRefused(t))
	env.SetHealthz(course.Scheduler, healthzRefused(t))
	env.SetHealthz(course.Kubelet, strings.Replace(healthzRefused(t), "https:", "http:", 1))
}

// TestLiveness: a component runs when its /healthz here answers ok, or when
// it runs elsewhere and renews its Lease; otherwise it is "not running", with
// when it was last seen alive.
func TestLiveness(t *testing.T) {
	now := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	refused := healthzRefused
	serving := func(code int, body string) func(t *testing.T) string {
		return func(t *testing.T) string { return healthzServing(t, code, body) }
	}
	// silent is a /healthz that never answers in time: liveness cannot
	// ask it, so the Lease is the only witness.
	silent := func(t *testing.T) string {
		block := make(chan struct{})
		srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block }))
		t.Cleanup(func() { close(block); srv.Close() })
		return srv.URL + "/healthz"
	}
	const cm = "kube-controller-manager"
	cases := []struct {
		name    string
		healthz func(t *testing.T) string
		lease   *coordinationv1.Lease
		status  checks.Status
		want    []string
		procs   map[string]string // pid → /proc/PID/stat, in the fake host
	}{
		{"healthz ok and fresh lease", serving(200, "ok"), lease("kube-system", cm, "vm_1234", 2*time.Second, 15, now), checks.Pass,
			[]string{"kube-controller-manager is running", "/healthz ok", "renewed 2s ago"}, nil},
		{"healthz ok, no lease yet", serving(200, "ok"), nil, checks.Pass, []string{"is running"}, nil},
		{"killed: refused, lease left behind", refused, lease("kube-system", cm, "vm_1234", 42*time.Second, 15, now), checks.Fail,
			[]string{"kube-controller-manager is not running", "connection refused", "last seen alive 42s ago", "vm_1234", "stale, not proof"}, nil},
		{"just killed: refused, lease still within its duration", refused, lease("kube-system", cm, "vm_1234", 3*time.Second, 15, now), checks.Fail,
			[]string{"is not running", "last seen alive 3s ago"}, nil},
		{"never started", refused, nil, checks.Fail, []string{"is not running", "never ran against this cluster"}, nil},
		{"runs on another machine, /healthz here does not answer", silent, lease("kube-system", cm, "other-host_99", 3*time.Second, 15, now), checks.Pass,
			[]string{"is running on other-host_99"}, nil},
		{"refused here: a fresh Lease held elsewhere does not make it alive", refused, lease("kube-system", cm, "other-host_99", 3*time.Second, 15, now), checks.Fail,
			[]string{"is not running", "connection refused"}, nil},
		{"stopped: it released its Lease (no holder), renewed just now", refused, lease("kube-system", cm, "", 0, 1, now), checks.Fail,
			[]string{"is not running", "released its leader-election Lease"}, nil},
		{"stopped, /healthz silent: a released Lease is no proof it runs", silent, lease("kube-system", cm, "", 0, 1, now), checks.Fail,
			[]string{"is not running", "released"}, nil},
		{"just restarted: its process runs, its port not yet", refused, lease("kube-system", cm, "vm_1234", 42*time.Second, 15, now), checks.Fail,
			[]string{"kube-controller-manager is starting (pid 4242, started 500ms ago)", "connection refused"},
			map[string]string{"4242": "4242 (kube-controller) S 1 4242 4242 0 -1" + strings.Repeat(" 0", 13) + " 100000 0 0", "uptime": "1000.50 1900.00"}},
		{"died on another machine", refused, lease("kube-system", cm, "other-host_99", time.Minute, 15, now), checks.Fail,
			[]string{"is not running", "last seen alive 1m0s ago"}, nil},
		{"unhealthy", serving(500, "[-]leaderElection failed"), nil, checks.Fail, []string{"is not healthy", "HTTP 500"}, nil},
		{"runs here with another --secure-port", refused, lease("kube-system", cm, "vm_1234", 2*time.Second, 15, now), checks.Pass,
			[]string{"kube-controller-manager runs on this machine (pid 4242)", "another port"},
			map[string]string{"4242": "4242 (kube-controller) S 1 4242 4242 0 -1", "77": "77 (bash) S 1 77 77 0 -1"}},
		{"a program this very run started (the tools step's --version) does not count", refused, lease("kube-system", cm, "vm_1234", 42*time.Second, 15, now), checks.Fail,
			[]string{"is not running"}, map[string]string{"4242": "4242 (kube-controller) R " + strconv.Itoa(os.Getpid()) + " 4242 4242 0 -1"}},
		{"a zombie does not count", refused, lease("kube-system", cm, "vm_1234", 42*time.Second, 15, now), checks.Fail,
			[]string{"is not running"}, map[string]string{"4242": "4242 (kube-controller) Z 1 4242 4242 0 -1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kube := fake.NewClientset()
			if tc.lease != nil {
				if _, err := kube.CoordinationV1().Leases(tc.lease.Namespace).Create(context.Background(), tc.lease, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			env := checks.NewEnv(t.TempDir())
			env.HostRoot = t.TempDir()
			env.Timeout = 300 * time.Millisecond
			for pid, stat := range tc.procs {
				if pid == "uptime" {
					writeFile(t, filepath.Join(env.HostRoot, "proc", "uptime"), []byte(stat+"\n"), 0o644)
					continue
				}
				writeFile(t, filepath.Join(env.HostRoot, "proc", pid, "stat"), []byte(stat+"\n"), 0o644)
			}
			env.SetKube(kube)
			env.Now = func() time.Time { return now }
			env.Hostname = "vm"
			env.SetHealthz(course.ControllerManager, tc.healthz(t))
			r := runCheck(t, env, checks.ComponentAlive{Component: cm})
			if r.Name != "kube-controller-manager-running" {
				t.Errorf("name %q", r.Name)
			}
			if r.Status != tc.status {
				t.Fatalf("%s %q, want %s", r.Status, r.Message, tc.status)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Message, w) {
					t.Errorf("message %q lacks %q", r.Message, w)
				}
			}
			if r.Status == checks.Fail && !strings.Contains(r.Hint, "kubetutor show controller-manager --commands") {
				t.Errorf("hint %q", r.Hint)
			}
		})
	}
}

// TestKubeProxyLiveness: kube-proxy has no Lease; its /healthz answers
// JSON (200 when healthy, 503 otherwise), and a refusal is final unless its
// process runs here.
func TestKubeProxyLiveness(t *testing.T) {
	const healthy = `{"lastUpdated":"2026-12-05T08:00:00.1Z","currentTime":"2026-12-05T08:00:00.1Z","nodeEligible":true,"healthy":true,"status":{"IPv4":{"lastUpdated":"2026-12-05T08:00:00.1Z","healthy":true}}}`
	plain := func(code int, body string) func(t *testing.T) string {
		return func(t *testing.T) string {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(code)
				fmt.Fprint(w, body)
			}))
			t.Cleanup(srv.Close)
			return srv.URL + "/healthz"
		}
	}
	refused := func(t *testing.T) string { return strings.Replace(healthzRefused(t), "https:", "http:", 1) }
	// resetOnExit is a component exiting as it is asked: the listener
	// closes, then the connection is reset (SO_LINGER 0).
	resetOnExit := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			ln.Close()
			if err != nil {
				return
			}
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}()
		t.Cleanup(func() { ln.Close() })
		return "http://" + ln.Addr().String() + "/healthz"
	}
	for _, tc := range []struct {
		name    string
		healthz func(t *testing.T) string
		procs   map[string]string
		status  checks.Status
		want    []string
	}{
		{"healthy: 200 and JSON", plain(200, healthy), nil, checks.Pass, []string{"kube-proxy is running", "answers 200, healthy"}},
		{"node not eligible: 503", plain(503, `{"lastUpdated":"0001-01-01T00:00:00Z","currentTime":"2026-12-05T08:00:00Z","nodeEligible":false,"healthy":true}`), nil, checks.Fail,
			[]string{"kube-proxy is not healthy", "HTTP 503", "its node is not eligible", "--hostname-override"}},
		{"rules late: 503", plain(503, `{"lastUpdated":"2026-12-05T07:00:00Z","currentTime":"2026-12-05T08:00:00Z","nodeEligible":true,"healthy":false}`), nil, checks.Fail,
			[]string{"is not healthy", "its rules are late"}},
		{"the text ok is not kube-proxy's answer", plain(200, "ok"), nil, checks.Fail, []string{"is not healthy", "not kube-proxy's JSON status: ok"}},
		{"stopped", refused, nil, checks.Fail, []string{"kube-proxy is not running", "connection refused"}},
		{"reset as it exits", resetOnExit, nil, checks.Fail, []string{"kube-proxy is not running", "connection reset, and nothing listens there now"}},
		{"starting: its process runs, its port not yet", refused,
			map[string]string{"4242": "4242 (kube-proxy) S 1 4242 4242 0 -1" + strings.Repeat(" 0", 13) + " 100000 0 0", "uptime": "1000.50 1900.00"},
			checks.Fail, []string{"kube-proxy is starting (pid 4242"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := checks.NewEnv(t.TempDir())
			env.HostRoot = t.TempDir()
			env.Timeout = 300 * time.Millisecond
			for pid, stat := range tc.procs {
				if pid == "uptime" {
					writeFile(t, filepath.Join(env.HostRoot, "proc", "uptime"), []byte(stat+"\n"), 0o644)
					continue
				}
				writeFile(t, filepath.Join(env.HostRoot, "proc", pid, "stat"), []byte(stat+"\n"), 0o644)
			}
			env.SetKube(fake.NewClientset())
			env.SetHealthz(course.KubeProxy, tc.healthz(t))
			r := runCheck(t, env, checks.ComponentAlive{Component: course.KubeProxy})
			if r.Name != "kube-proxy-running" {
				t.Errorf("name %q", r.Name)
			}
			if r.Status != tc.status {
				t.Fatalf("%s %q, want %s", r.Status, r.Message, tc.status)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Message, w) {
					t.Errorf("message %q lacks %q", r.Message, w)
				}
			}
			if strings.Contains(r.Message, "never ran against this cluster") {
				t.Errorf("kube-proxy has no Lease to miss: %q", r.Message)
			}
			if r.Status == checks.Fail && !strings.Contains(r.Hint, "kubetutor show kube-proxy --commands") {
				t.Errorf("hint %q", r.Hint)
			}
		})
	}
}

// The kubelet is found through its node: a killed kubelet fails, and the
// Ready=True it left in the node's status is called stale.
func TestKubeletLiveness(t *testing.T) {
	now := time.Now()
	kube := fake.NewClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "vm"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}},
		lease("kube-node-lease", "vm", "vm", 25*time.Second, 40, now),
	)
	env := checks.NewEnv(t.TempDir())
	env.HostRoot = t.TempDir() // no kubelet process in this fake host
	env.SetKube(kube)
	env.Hostname = "vm"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	env.SetHealthz(course.Kubelet, srv.URL+"/healthz")
	if r := runCheck(t, env, checks.KubeletAlive{}); r.Status != checks.Pass {
		t.Fatalf("alive: %s %q", r.Status, r.Message)
	}
	if r := runCheck(t, env, checks.NodeReady{}); r.Status != checks.Pass {
		t.Fatalf("ready: %s %q", r.Status, r.Message)
	}
	srv.Close()
	r := runCheck(t, env, checks.KubeletAlive{})
	if r.Status != checks.Fail || !strings.Contains(r.Message, "kubelet is not running") || !strings.Contains(r.Message, "last seen alive 25s ago") {
		t.Errorf("killed: %s %q", r.Status, r.Message)
	}
	r = runCheck(t, env, checks.NodeReady{})
	if r.Status != checks.Fail || !strings.Contains(r.Message, "Ready=True, but that is stale") {
		t.Errorf("node ready after the kill: %s %q", r.Status, r.Message)
	}
	// Started again: its process runs (for 500 ms), its port not yet. It is
	// starting, which is not running yet, whatever its Lease says.
	writeFile(t, filepath.Join(env.HostRoot, "proc", "4242", "stat"), []byte("4242 (kubelet) S 1 4242 4242 0 -1"+strings.Repeat(" 0", 13)+" 100000 0 0\n"), 0o644)
	writeFile(t, filepath.Join(env.HostRoot, "proc", "uptime"), []byte("1000.50 1900.00\n"), 0o644)
	r = runCheck(t, env, checks.KubeletAlive{})
	if r.Status != checks.Fail || !strings.Contains(r.Message, "kubelet is starting (pid 4242, started 500ms ago)") || !strings.Contains(r.Message, "connection refused") {
		t.Errorf("restarted, port not yet open: %s %q", r.Status, r.Message)
	}
}

// A kubelet that never registered (it exited at once) and one whose Lease
// does not exist yet: each message says what is true, and the first hint
// names the kubeconfig the checks use, to pass to the kubelet.
func TestKubeletLivenessWithoutLease(t *testing.T) {
	for _, tc := range []struct {
		name              string
		nodes             []*corev1.Node
		wantMsg, wantHint string
	}{
		{name: "never registered", wantMsg: "no node has registered", wantHint: "--kubeconfig="},
		{name: "registered, no Lease yet", nodes: []*corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "vm"}}},
			wantMsg: "node vm has no Lease in kube-node-lease yet", wantHint: "kubetutor show kubelet --commands"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kube := fake.NewClientset()
			for _, n := range tc.nodes {
				if _, err := kube.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			env := checks.NewEnv(t.TempDir())
			env.HostRoot = t.TempDir()
			env.SetKube(kube)
			env.Hostname = "vm"
			srv := httptest.NewServer(http.NotFoundHandler())
			env.SetHealthz(course.Kubelet, "http://"+srv.Listener.Addr().String()+"/healthz")
			srv.Close() // refused
			r := runCheck(t, env, checks.KubeletAlive{})
			if r.Status != checks.Fail || !strings.Contains(r.Message, "kubelet is not running") || !strings.Contains(r.Message, tc.wantMsg) {
				t.Errorf("message: %s %q, want %q", r.Status, r.Message, tc.wantMsg)
			}
			if !strings.Contains(r.Hint, tc.wantHint) {
				t.Errorf("hint %q, want %q", r.Hint, tc.wantHint)
			}
		})
	}
}
