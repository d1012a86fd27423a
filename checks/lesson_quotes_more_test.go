package checks_test

import (
	"context"
	"crypto/x509"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/checks"
)

// lessonQuote is one sentence of a lesson that quotes a check: run returns
// what the check prints, quote the part of it the lesson has ("" when the
// check does not print it).
type lessonQuote struct {
	name, lesson string
	run          func(t *testing.T) string
	quote        func(msg string) string
}

// phrase quotes p when the check's output has it.
func phrase(p string) func(string) string {
	return func(msg string) string {
		if strings.Contains(msg, p) {
			return p
		}
		return ""
	}
}

// from quotes the output from the first p on.
func from(p string) func(string) string {
	return func(msg string) string {
		if i := strings.Index(msg, p); i >= 0 {
			return msg[i:]
		}
		return ""
	}
}

// TestTroubleshootingQuotesTheChecks: each "Confirm" of the troubleshooting
// lesson that says what a check prints quotes it as the check prints it
// (issue 19: a lesson sentence that quotes a check is checked against it).
func TestTroubleshootingQuotesTheChecks(t *testing.T) {
	ctx := context.Background()
	svc := testClusterIP + ":80"
	serviceAnswers := func(w func(t *testing.T) proxyWorld) func(t *testing.T) string {
		return func(t *testing.T) string { return runCheck(t, w(t).env(t), checks.ServiceAnswers{}).Message }
	}
	cases := []lessonQuote{
		{name: "logs: the API server without a kubelet client certificate", run: func(t *testing.T) string {
			env := checks.NewEnv(t.TempDir())
			env.HostRoot = t.TempDir()
			fakeAPIServerProcess(t, env.HostRoot, "/home/learner/k8s", "--tls-cert-file=certs/server.crt")
			return checks.Run(ctx, env, checks.KubeletAcceptsAPIServer{}).Message
		}, quote: phrase("runs without --kubelet-client-certificate")},
		{name: "logs: the kubelet's 401", run: func(t *testing.T) string {
			err := errors.New(`the server has asked for the client to provide credentials ( pods/log nginx-1): Unauthorized`)
			return checks.KubeletCallFailureForTest(nil, "read the logs", err).Message
		}, quote: phrase("the kubelet answered 401 Unauthorized")},
		{name: "RBAC: the binding pod-logs-readable gives", run: func(t *testing.T) string {
			err := errors.New(`Forbidden (user=NAME, verb=get, resource=nodes, subresource(s)=[proxy])`)
			return checks.KubeletCallFailureForTest(nil, "read the logs", err).Hint
		}, quote: from("kubectl create clusterrolebinding")},
		{name: "kubernetes Service: another CA answers", run: func(t *testing.T) string {
			other := issue(t, certSpec{CN: "*.proxy.example", DNS: []string{"proxy.example"}}, newCA(t, "Intercepting Proxy CA"))
			return checks.KubernetesTLSVerdictForTest("10.0.0.1:443", []*x509.Certificate{other.Cert}, newCA(t, "kubernetes-ca").Cert, time.Now()).Message
		}, quote: phrase("is not the API server's")},
		{name: "ClusterIP: no answer", run: serviceAnswers(func(t *testing.T) proxyWorld {
			return proxyWorld{answers: map[string]string{svc: "silent"}}
		}), quote: phrase("got no answer")},
		{name: "ClusterIP: another server's page", run: serviceAnswers(func(t *testing.T) proxyWorld {
			return proxyWorld{answers: map[string]string{svc: serve(t, 404, "<html><head><title>404 Not Found</title></head></html>\n")}}
		}), quote: phrase("is not nginx's")},
		{name: "ClusterIP: refused", run: serviceAnswers(func(t *testing.T) proxyWorld {
			return proxyWorld{proxyAlive: true, answers: map[string]string{svc: ""}}
		}), quote: phrase("was refused")},
		{name: "iptables missing", run: func(t *testing.T) string {
			env := checks.NewEnv(t.TempDir())
			env.HostRoot = t.TempDir()
			return checks.Run(ctx, env, checks.IptablesInstalled{}).Message
		}, quote: phrase(`exec: "iptables": executable file not found in $PATH`)},
		{name: "oom_score_adj", run: func(t *testing.T) string {
			return checks.Run(ctx, checks.NewEnv(t.TempDir()), checks.OOMScoreAdj{CanLower: func() bool { return false }}).Message
		}, quote: phrase("can't get final child's PID from pipe: EOF")},
		{name: "cgroup v1", run: func(t *testing.T) string {
			env := checks.NewEnv(t.TempDir())
			env.HostRoot = fakeHost(t, map[string]string{"sys/fs/cgroup/memory/tasks": ""})
			return checks.Run(ctx, env, checks.CgroupVersion{}).Message
		}, quote: phrase("kubelet is configured to not run on a host using cgroup v1")},
		{name: "CNI plugins missing", run: func(t *testing.T) string {
			env := checks.NewEnv(t.TempDir())
			env.HostRoot = t.TempDir()
			return checks.Run(ctx, env, checks.CNIPluginsInstalled{}).Message
		}, quote: phrase("failed to find plugin")},
		{name: "a new terminal: kubeconfig from the work dir", run: workDirKubeconfigDetail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.lesson == "" {
				tc.lesson = "troubleshooting"
			}
			msg := tc.run(t)
			quote := msg
			if tc.quote != nil {
				quote = tc.quote(msg)
			}
			t.Logf("quoted: %q", quote)
			if quote == "" || !strings.Contains(lessonText(t, tc.lesson), strings.Join(strings.Fields(quote), " ")) {
				t.Errorf("the %s lesson does not quote what the check prints:\n%q\n(the check printed %q)", tc.lesson, quote, msg)
			}
		})
	}
}

// workDirKubeconfigDetail is the detail line of `kubetutor check apiserver
// -v` in a terminal without KUBECONFIG and without ~/.kube/config, as the
// troubleshooting lesson shows it: the work dir written "...", the home
// directory /root.
func workDirKubeconfigDetail(t *testing.T) string {
	ca := newCA(t, "kubernetes-ca")
	server := issue(t, serverSpec(nil), ca)
	srv := startTLSServer(t, server, &fakeAPIServer{clientCA: ca.Cert})
	work, home := t.TempDir(), t.TempDir()
	writeKubeconfig(t, kubeconfigFor(srv.URL, ca.CertPEM(), server.CertPEM(), pkcs8PEM(t, server.Key)), filepath.Join(work, "admin.conf"))
	env := checks.NewEnv(work)
	env.Kubeconfig = ""
	env.HomeDir = home
	env.Getenv = func(string) string { return "" }
	env.Timeout = 2 * time.Second
	r := runCheck(t, env, checks.APIServerReady{})
	if r.Status != checks.Pass {
		t.Fatalf("apiserver-ready %s: %s", r.Status, r.Message)
	}
	for _, d := range r.Details {
		if strings.HasPrefix(d, "kubeconfig: ") {
			return strings.NewReplacer(work, "...", home, "/root").Replace(d)
		}
	}
	t.Fatalf("no kubeconfig detail in %q", r.Details)
	return ""
}
