package checks

import (
	"strings"
	"testing"
)

// Version strings come from whatever binary a learner put in bin/.
func FuzzKubeMinor(f *testing.F) {
	for _, s := range []string{"Kubernetes v1.37.2", "Client Version: v1.32.4-dispatcher", "etcd Version: 3.4.23", "", "v99999999999999999999.1.2", "1.2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		major, minor, ok := kubeMinor(s)
		if ok && (major < 0 || minor < 0) {
			t.Errorf("kubeMinor(%q) = %d.%d", s, major, minor)
		}
		_ = skewWords(minor-37, major != 1)
	})
}

// Lease holders come from the API server: any string.
func FuzzHolderIsHost(f *testing.F) {
	for _, s := range []string{"vm_3f2a", "vm", "VM.example.org", "", "_", "vm_"} {
		f.Add(s, "vm")
	}
	f.Fuzz(func(t *testing.T, holder, host string) {
		if holderIsHost(holder, host) && (holder == "" || host == "") {
			t.Errorf("holderIsHost(%q, %q) with an empty side", holder, host)
		}
		if host != "" && !strings.Contains(host, ".") && holderIsHost(host, host) == false && !strings.HasPrefix(host, ".") {
			t.Errorf("a host is not its own holder: %q", host)
		}
	})
}

// kube-proxy's /healthz body comes from whatever answers on its port.
func FuzzProxyHealthVerdict(f *testing.F) {
	for _, s := range []string{
		`{"lastUpdated":"2026-12-05T08:00:00Z","currentTime":"2026-12-05T08:00:00Z","nodeEligible":true,"healthy":true,"status":{"IPv4":{"lastUpdated":"2026-12-05T08:00:00Z","healthy":true}}}`,
		`{"lastUpdated":"0001-01-01T00:00:00Z","currentTime":"2026-12-05T08:00:00Z","nodeEligible":false,"healthy":true}`,
		`{"healthy":false}`, `ok`, ``, `null`, `{"healthy":"yes"}`, `[1,2]`,
	} {
		f.Add(200, []byte(s))
		f.Add(503, []byte(s))
	}
	f.Fuzz(func(t *testing.T, code int, body []byte) {
		ok, what := proxyHealthVerdict(code, body)
		if ok && code != 200 {
			t.Errorf("HTTP %d judged healthy: %q", code, body)
		}
		if what == "" {
			t.Errorf("no words for HTTP %d %q", code, body)
		}
	})
}

// Whatever answers a ClusterIP writes the body: only nginx's page passes.
func FuzzServiceAnswerVerdict(f *testing.F) {
	for _, s := range []string{"<h1>Welcome to nginx!</h1>", "<html><title>404 Not Found</title>", "", "\x00\xff\n\n", strings.Repeat("x", 300)} {
		f.Add(200, []byte(s))
	}
	f.Fuzz(func(t *testing.T, code int, body []byte) {
		r := serviceAnswerVerdict("http://10.0.0.57:80/", code, body, nil)
		if r.Passed() != strings.Contains(string(body), nginxMark) {
			t.Errorf("HTTP %d %q: %s %q", code, body, r.Status, r.Message)
		}
	})
}
