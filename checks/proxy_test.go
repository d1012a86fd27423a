package checks_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/course"
)

const (
	testClusterIP = "10.0.0.57"
	nginxPage     = "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head><body><h1>Welcome to nginx!</h1></body></html>\n"
)

// proxyWorld is a host seen by the kube-proxy step's checks: the nginx
// Service in the API, kube-proxy's /healthz, and what answers at each
// ClusterIP address (host:port → a local server's address; "" refuses,
// "silent" never answers).
type proxyWorld struct {
	noService  bool
	proxyAlive bool
	answers    map[string]string
}

func (w proxyWorld) env(t *testing.T) *checks.Env {
	t.Helper()
	env := checks.NewEnv(t.TempDir())
	env.HostRoot = t.TempDir() // no kube-proxy process on this fake host
	env.Timeout = 300 * time.Millisecond
	kube := fake.NewClientset()
	if !w.noService {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default"},
			Spec: corev1.ServiceSpec{ClusterIP: testClusterIP, Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}}}
		if _, err := kube.CoreV1().Services("default").Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	env.SetKube(kube)
	if w.proxyAlive {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"lastUpdated":"2026-12-05T08:00:00Z","currentTime":"2026-12-05T08:00:00Z","nodeEligible":true,"healthy":true}`)
		}))
		t.Cleanup(srv.Close)
		env.SetHealthz(course.KubeProxy, srv.URL+"/healthz")
	} else {
		env.SetHealthz(course.KubeProxy, strings.Replace(healthzRefused(t), "https:", "http:", 1))
	}
	refused := strings.TrimPrefix(healthzRefused(t), "https://")
	refused = strings.TrimSuffix(refused, "/healthz")
	dialled := map[string]int{}
	env.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		to, ok := w.answers[addr]
		switch {
		case !ok:
			t.Errorf("the check dialled %s, which the test does not serve", addr)
			to = refused
		case to == "":
			to = refused
		case to == "silent":
			<-ctx.Done()
			return nil, ctx.Err()
		case strings.HasPrefix(to, "once:"):
			// The first connection reaches the server, later ones are refused.
			if dialled[addr]++; dialled[addr] > 1 {
				to = refused
			} else {
				to = strings.TrimPrefix(to, "once:")
			}
		}
		var d net.Dialer
		return d.DialContext(ctx, network, to)
	}
	return env
}

// serve is a local HTTP server answering code and body.
func serve(t *testing.T, code int, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func TestServiceAnswers(t *testing.T) {
	svcAddr := testClusterIP + ":80"
	for _, tc := range []struct {
		name             string
		world            func(t *testing.T) proxyWorld
		status           checks.Status
		want, wantHint   []string
		wantObservedPart string
	}{
		{name: "nginx answers through kube-proxy",
			world: func(t *testing.T) proxyWorld {
				return proxyWorld{proxyAlive: true, answers: map[string]string{svcAddr: serve(t, 200, nginxPage)}}
			},
			status: checks.Pass, want: []string{"GET http://10.0.0.57:80/ answers HTTP 200 with nginx's welcome page"}},
		{name: "nginx answers, but kube-proxy stopped: its rules are stale",
			world: func(t *testing.T) proxyWorld {
				return proxyWorld{answers: map[string]string{svcAddr: serve(t, 200, nginxPage)}}
			},
			status: checks.Warn, want: []string{"nginx's welcome page", "That is stale, not proof: kube-proxy is not running"}},
		{name: "another server answers the ClusterIP",
			world: func(t *testing.T) proxyWorld {
				return proxyWorld{answers: map[string]string{svcAddr: serve(t, 404, "<html><head><title>404 Not Found</title></head></html>\n")}}
			},
			status: checks.Fail, want: []string{"The answer at http://10.0.0.57:80/ is not nginx's: HTTP 404", `first line "<html><head><title>404 Not Found`, "kube-proxy is not running"},
			wantHint: []string{"start kube-proxy", "kubetutor show kube-proxy --commands"}, wantObservedPart: "HTTP 404"},
		{name: "one connection in three answers: rules still send some to a pod that is gone",
			world: func(t *testing.T) proxyWorld {
				return proxyWorld{proxyAlive: true, answers: map[string]string{svcAddr: "once:" + serve(t, 200, nginxPage)}}
			},
			status: checks.Fail, want: []string{"GET http://10.0.0.57:80/ was refused", "1 connection(s) before it got nginx's page", "after a pod is replaced"}},
		{name: "no answer",
			world:  func(t *testing.T) proxyWorld { return proxyWorld{answers: map[string]string{svcAddr: "silent"}} },
			status: checks.Fail, want: []string{"GET http://10.0.0.57:80/ got no answer"}, wantHint: []string{"start kube-proxy"}, wantObservedPart: "no answer"},
		{name: "refused: kube-proxy rejects a Service without endpoints",
			world: func(t *testing.T) proxyWorld {
				return proxyWorld{proxyAlive: true, answers: map[string]string{svcAddr: ""}}
			},
			status: checks.Fail, want: []string{"was refused", "no ready endpoint"}, wantHint: []string{"kubetutor check service"}},
		{name: "kube-proxy runs, yet another server answers",
			world: func(t *testing.T) proxyWorld {
				return proxyWorld{proxyAlive: true, answers: map[string]string{svcAddr: serve(t, 200, "hello from elsewhere")}}
			},
			status: checks.Fail, want: []string{"is not nginx's: HTTP 200", `"hello from elsewhere"`}, wantHint: []string{"iptables -t nat -S KUBE-SERVICES | grep 10.0.0.57"}},
		{name: "no Service",
			world:  func(t *testing.T) proxyWorld { return proxyWorld{noService: true} },
			status: checks.Fail, want: []string{`There is no Service "nginx"`}, wantHint: []string{"kubectl expose deployment nginx --port 80"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCheck(t, tc.world(t).env(t), checks.ServiceAnswers{})
			if r.Name != "service-answers" {
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
			for _, w := range tc.wantHint {
				if !strings.Contains(r.Hint, w) {
					t.Errorf("hint %q lacks %q", r.Hint, w)
				}
			}
			if r.Status == checks.Fail && r.Hint == "" {
				t.Errorf("a failure without a hint: %q", r.Message)
			}
			if tc.wantObservedPart != "" && !strings.Contains(r.Observed, tc.wantObservedPart) {
				t.Errorf("observed %q lacks %q", r.Observed, tc.wantObservedPart)
			}
		})
	}
}

// tlsServe is a local TLS server presenting kp.
func tlsServe(t *testing.T, kp *keyPair) string {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "{}") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key, Leaf: kp.Cert}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func TestKubernetesServiceTLS(t *testing.T) {
	const addr = "10.0.0.1:443"
	ca := newCA(t, "kubernetes-ca")
	good := issue(t, serverSpec(nil), ca)
	talk := issue(t, certSpec{CN: "admin", DNS: goodServerDNS, IPs: []string{"127.0.0.1", "127.0.0.1"}}, ca) // its csr.conf: IP.1 = IP.2 = 127.0.0.1
	other := issue(t, certSpec{CN: "*.proxy.example", DNS: []string{"proxy.example"}}, newCA(t, "Intercepting Proxy CA"))
	expired := issue(t, certSpec{CN: "admin", IPs: goodServerIPs, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}, ca)
	for _, tc := range []struct {
		name           string
		alive          bool
		answer         func(t *testing.T) string
		noCA           bool
		status         checks.Status
		want, wantHint []string
	}{
		{name: "the API server, its certificate names 10.0.0.1", alive: true, answer: func(t *testing.T) string { return tlsServe(t, good) },
			status: checks.Pass, want: []string{"The API server answers at 10.0.0.1:443", "signed by certs/ca.crt and naming 10.0.0.1"}},
		{name: "the API server, but kube-proxy stopped: stale", answer: func(t *testing.T) string { return tlsServe(t, good) },
			status: checks.Warn, want: []string{"That is stale, not proof: kube-proxy is not running"}},
		{name: "the talk's certificate without 10.0.0.1", alive: true, answer: func(t *testing.T) string { return tlsServe(t, talk) },
			status: checks.Fail, want: []string{"signed by certs/ca.crt", "x509: certificate is valid for 127.0.0.1, 127.0.0.1, not 10.0.0.1"},
			wantHint: []string{"IP:10.0.0.1", "kubetutor show certs", "no restart needed"}},
		{name: "another CA answered", answer: func(t *testing.T) string { return tlsServe(t, other) },
			status: checks.Fail, want: []string{"The answer at 10.0.0.1:443 is not the API server's", `issued by "CN=Intercepting Proxy CA"`, "kube-proxy is not running"},
			wantHint: []string{"start kube-proxy"}},
		{name: "expired", alive: true, answer: func(t *testing.T) string { return tlsServe(t, expired) },
			status: checks.Fail, want: []string{"its certificate is not valid now"}, wantHint: []string{"reissue certs/server.crt"}},
		{name: "no answer", answer: func(*testing.T) string { return "silent" },
			status: checks.Fail, want: []string{"No answer from 10.0.0.1:443"}, wantHint: []string{"start kube-proxy"}},
		{name: "refused", alive: true, answer: func(*testing.T) string { return "" },
			status: checks.Fail, want: []string{"was refused"}, wantHint: []string{"service-name=kubernetes"}},
		{name: "a plain HTTP server answers", alive: true, answer: func(t *testing.T) string { return serve(t, 404, "nope") },
			status: checks.Fail, want: []string{"No TLS answer from 10.0.0.1:443"}, wantHint: []string{"iptables -t nat -S KUBE-SERVICES"}},
		{name: "no CA file", noCA: true, alive: true, answer: func(t *testing.T) string { return tlsServe(t, good) },
			status: checks.Fail, want: []string{"certs/ca.crt does not exist"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := proxyWorld{proxyAlive: tc.alive, answers: map[string]string{addr: tc.answer(t)}}.env(t)
			if !tc.noCA {
				writeFile(t, filepath.Join(env.WorkDir, "certs", course.CAFile), ca.CertPEM(), 0o644)
			}
			r := runCheck(t, env, checks.KubernetesServiceTLS{})
			if r.Name != "kubernetes-service-tls" {
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
			for _, w := range tc.wantHint {
				if !strings.Contains(r.Hint, w) {
					t.Errorf("hint %q lacks %q", r.Hint, w)
				}
			}
			if r.Status == checks.Fail && r.Hint == "" {
				t.Errorf("a failure without a hint: %q", r.Message)
			}
		})
	}
}
