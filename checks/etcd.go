package checks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"syscall"
)

// EtcdHealthy checks etcd's /health and reports its version.
type EtcdHealthy struct{}

// Name implements Checker.
func (EtcdHealthy) Name() string { return "etcd-healthy" }

// Check implements Checker.
func (EtcdHealthy) Check(ctx context.Context, env *Env) (Result, error) {
	base := strings.TrimSuffix(env.EtcdURL, "/")
	client := &http.Client{Timeout: env.Timeout}
	var health struct {
		Health string `json:"health"`
		Reason string `json:"reason"`
	}
	if err := getJSON(ctx, client, base+"/health", &health); err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return failf("etcd is not running: nothing answers at %s (connection refused)%s.", base, env.lastAliveNote("etcd")).
				saw("connection refused", "etcd answering on "+base).
				hint("start etcd: run the step's commands, kubetutor show etcd --commands"), nil
		}
		return failf("etcd does not answer at %s: %s.", base, describeNetError(err)).
			saw(describeNetError(err), "etcd answering on "+base).
			hint("start etcd: run the step's commands, kubetutor show etcd --commands"), nil
	}
	if health.Health != "true" {
		reason := health.Reason
		if reason == "" {
			reason = "no reason given"
		}
		return failf("etcd answers at %s but reports itself unhealthy (%s).", base, reason).
			saw("health "+health.Health, "health true").
			hint("look at etcd's output; a single member with a stale data dir from another cluster is the usual cause: stop it, remove etcd-data, start it again"), nil
	}
	env.markAlive("etcd")
	var version struct {
		Server  string `json:"etcdserver"`
		Cluster string `json:"etcdcluster"`
	}
	if err := getJSON(ctx, client, base+"/version", &version); err != nil {
		return passf("etcd is healthy at %s (version unknown: %s).", base, describeNetError(err)), nil
	}
	return passf("etcd %s is healthy at %s.", version.Server, base).detail("etcd version %s (cluster %s)", version.Server, version.Cluster), nil
}

func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	code, body, err := httpGet(ctx, client, url)
	if err != nil {
		return err
	}
	if code != http.StatusOK && code != http.StatusServiceUnavailable {
		return fmt.Errorf("HTTP %d from %s", code, url)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("unexpected answer from %s: %w", url, err)
	}
	return nil
}
