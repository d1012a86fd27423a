package checks_test

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"crypto/tls"

	"github.com/kubetutor/kubetutor/checks"
)

// countingAPIServer is fakeAPIServer that also counts connections and
// requests per path, served over HTTP/2 as kube-apiserver does.
type countingAPIServer struct {
	fakeAPIServer
	conns    atomic.Int32
	mu       sync.Mutex
	requests map[string]int
}

func (a *countingAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.requests[r.URL.Path]++
	a.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/api") {
		// No Deployment: the workload checks fail alike, after one GET.
		writeStatus(w, http.StatusNotFound, "NotFound", `deployments.apps "nginx" not found`)
		return
	}
	a.fakeAPIServer.ServeHTTP(w, r)
}

func (a *countingAPIServer) count(path string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests[path]
}

// TestOneRunAsksOnce: the checks of one run start together and share one
// connection (one TLS handshake, not one per check) and one answer per
// question (five checks read the Deployment: one GET). The next run asks
// again, so a change between runs is seen.
func TestOneRunAsksOnce(t *testing.T) {
	ca := newCA(t, "kubernetes-ca")
	good := issue(t, serverSpec(nil), ca)
	api := &countingAPIServer{fakeAPIServer: fakeAPIServer{clientCA: ca.Cert}, requests: map[string]int{}}
	srv := httptest.NewUnstartedServer(api)
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{good.Cert.Raw}, PrivateKey: good.Key, Leaf: good.Cert}},
		ClientAuth:   tls.RequestClientCert,
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			api.conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	env := checks.NewEnv(dir)
	env.Kubeconfig = filepath.Join(dir, "admin.conf")
	env.Timeout = 5 * time.Second
	withControlPlane(t, env, false)
	writeKubeconfig(t, kubeconfigFor(srv.URL, ca.CertPEM(), good.CertPEM(), pkcs8PEM(t, good.Key)), env.Kubeconfig)

	run := func() []checks.Result {
		defer env.BeginRun()()
		all := []checks.Checker{checks.APIServerReady{}, checks.DeploymentExists{}, checks.ReplicaSetCreated{},
			checks.PodsCreated{}, checks.PodsSchedulingAttempted{}, checks.PodRunning{},
			checks.NodeRegistered{}, checks.ComponentAlive{Component: "kube-scheduler"}, checks.ComponentAlive{Component: "kube-controller-manager"}}
		res := make([]checks.Result, len(all))
		var wg sync.WaitGroup
		for i, c := range all {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i] = checks.Run(context.Background(), env, c)
			}()
		}
		wg.Wait()
		return res
	}
	const deployment = "/apis/apps/v1/namespaces/default/deployments/nginx"
	for i := 1; i <= 2; i++ {
		res := run()
		if res[0].Status != checks.Pass {
			t.Fatalf("run %d: apiserver-ready %s %q", i, res[0].Status, res[0].Message)
		}
		for _, r := range res[1:6] {
			if r.Status != checks.Fail || !strings.Contains(r.Message, "nginx") {
				t.Errorf("run %d: %s %s %q, want the missing Deployment", i, r.Name, r.Status, r.Message)
			}
		}
		if got := api.count(deployment); got != i {
			t.Errorf("after run %d: %d GETs of the Deployment, want %d", i, got, i)
		}
	}
	if got := api.conns.Load(); got != 1 {
		t.Errorf("%d connections to the API server, want 1 for all the checks of both runs", got)
	}
	// Outside a run, each call observes afresh.
	runCheck(t, env, checks.DeploymentExists{})
	runCheck(t, env, checks.DeploymentExists{})
	if got := api.count(deployment); got != 4 {
		t.Errorf("two checks outside a run: %d GETs in all, want 4", got)
	}
}
