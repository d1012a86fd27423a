package checks_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/checks"
)

// fakeEtcd answers /health and /version like etcd's client port.
func fakeEtcd(healthCode int, health, version string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(healthCode)
			fmt.Fprint(w, health)
		case "/version":
			if version == "" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, version)
		default:
			http.NotFound(w, r)
		}
	})
}

func TestEtcdHealthy(t *testing.T) {
	const version = `{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}`
	tests := []struct {
		name    string
		handler http.Handler // nil: nothing listens
		url     func(base string) string
		timeout time.Duration
		status  checks.Status
		msg     []string
		hint    string
		detail  string
	}{
		{
			name:    "healthy",
			handler: fakeEtcd(http.StatusOK, `{"health":"true","reason":""}`, version),
			status:  checks.Pass,
			msg:     []string{"etcd 3.4.23 is healthy at http://127.0.0.1:"},
			detail:  "etcd version 3.4.23 (cluster 3.4.0)",
		},
		{
			name:    "healthy, URL with a trailing slash",
			handler: fakeEtcd(http.StatusOK, `{"health":"true"}`, version),
			url:     func(base string) string { return base + "/" },
			status:  checks.Pass,
			msg:     []string{"etcd 3.4.23 is healthy"},
		},
		{
			name:    "healthy, /version missing",
			handler: fakeEtcd(http.StatusOK, `{"health":"true"}`, ""),
			status:  checks.Pass,
			msg:     []string{"is healthy at", "version unknown"},
		},
		{
			name:    "no leader (etcd answers 503)",
			handler: fakeEtcd(http.StatusServiceUnavailable, `{"health":"false","reason":"RAFT NO LEADER"}`, version),
			status:  checks.Fail,
			msg:     []string{"reports itself unhealthy (RAFT NO LEADER)"},
			hint:    "etcd-data",
		},
		{
			name:    "unhealthy without reason",
			handler: fakeEtcd(http.StatusOK, `{"health":"false"}`, version),
			status:  checks.Fail,
			msg:     []string{"unhealthy (no reason given)"},
		},
		{
			name:   "connection refused",
			url:    func(string) string { return "http://" + closedPort(t) },
			status: checks.Fail,
			msg:    []string{"etcd is not running: nothing answers at http://127.0.0.1:", "connection refused"},
			hint:   "kubetutor show etcd --commands",
		},
		{
			name:    "not etcd: HTML on the port",
			handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "<html>hello</html>") }),
			status:  checks.Fail,
			msg:     []string{"etcd does not answer at", "unexpected answer"},
		},
		{
			name:    "not etcd: 404",
			handler: http.NotFoundHandler(),
			status:  checks.Fail,
			msg:     []string{"HTTP 404"},
		},
		{
			name: "hangs",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			}),
			timeout: 300 * time.Millisecond,
			status:  checks.Fail,
			msg:     []string{"no answer in time"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := ""
			if tt.handler != nil {
				srv := httptest.NewServer(tt.handler)
				t.Cleanup(srv.Close)
				base = srv.URL
			}
			env := checks.NewEnv(t.TempDir())
			env.EtcdURL = base
			if tt.url != nil {
				env.EtcdURL = tt.url(base)
			}
			env.Timeout = time.Second
			if tt.timeout != 0 {
				env.Timeout = tt.timeout
			}
			res := runCheck(t, env, checks.EtcdHealthy{})
			t.Logf("%s in %s: %s (hint: %s)", res.Status, res.Duration.Round(time.Millisecond), res.Message, res.Hint)
			if res.Name != "etcd-healthy" {
				t.Errorf("name = %q", res.Name)
			}
			if res.Status != tt.status {
				t.Fatalf("status = %s, want %s: %s", res.Status, tt.status, res.Message)
			}
			for _, m := range tt.msg {
				if !strings.Contains(res.Message, m) {
					t.Errorf("message %q does not contain %q", res.Message, m)
				}
			}
			if tt.status == checks.Fail && res.Hint == "" {
				t.Errorf("fails without a hint")
			}
			if tt.hint != "" && !strings.Contains(res.Hint, tt.hint) {
				t.Errorf("hint %q does not contain %q", res.Hint, tt.hint)
			}
			if tt.detail != "" && !strings.Contains(strings.Join(res.Details, "\n"), tt.detail) {
				t.Errorf("details %q do not contain %q", res.Details, tt.detail)
			}
			if limit := env.Timeout + 500*time.Millisecond; res.Duration > limit {
				t.Errorf("took %s, want under %s", res.Duration, limit)
			}
		})
	}
}
