package checks

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kubetutor/kubetutor/content"
)

// TestHostnameResolves: the doctor warns when the node's name does not
// resolve, quoting the error kubectl logs and exec then print.
func TestHostnameResolves(t *testing.T) {
	saved := lookupHost
	t.Cleanup(func() { lookupHost = saved })
	env := NewEnv(t.TempDir())
	env.Hostname = "node-a"

	lookupHost = func(context.Context, string) ([]string, error) { return []string{"127.0.1.1"}, nil }
	res, err := HostnameResolves{}.Check(context.Background(), env)
	if err != nil || res.Status != Pass || !strings.Contains(res.Message, "node-a resolves (127.0.1.1)") {
		t.Errorf("resolving name: %v %+v", err, res)
	}

	lookupHost = func(context.Context, string) ([]string, error) {
		return nil, errors.New("lookup node-a on 10.0.2.3:53: no such host")
	}
	res, err = HostnameResolves{}.Check(context.Background(), env)
	if err != nil || res.Status != Warn || !strings.Contains(res.Message, `"dial tcp: lookup node-a ...: no such host"`) || !strings.Contains(res.Hint, "/etc/hosts") {
		t.Errorf("unresolvable name: %v %+v", err, res)
	}
}

// TestHostnameResolvesQuoted: the troubleshooting lesson quotes the
// warning's first words as the check prints them.
func TestHostnameResolvesQuoted(t *testing.T) {
	saved := lookupHost
	t.Cleanup(func() { lookupHost = saved })
	lookupHost = func(context.Context, string) ([]string, error) { return nil, errors.New("no such host") }
	env := NewEnv(t.TempDir())
	env.Hostname = "NODE"
	res, _ := HostnameResolves{}.Check(context.Background(), env)
	quote, _, _ := strings.Cut(res.Message, ":")
	_, md, err := content.Read(content.Lessons, "lessons", "troubleshooting")
	if err != nil {
		t.Fatal(err)
	}
	if text := strings.Join(strings.Fields(md), " "); !strings.Contains(text, "`"+quote+"`") || !strings.Contains(text, "hostname-resolves") {
		t.Errorf("the troubleshooting lesson does not quote %q (check hostname-resolves)", quote)
	}
}
