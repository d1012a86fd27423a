package kubeclient

import (
	"context"
	"fmt"
	"io"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/streaming/pkg/httpstream"
)

// PodExec runs a command in a pod's container through the API server, as
// `kubectl exec` does: over WebSockets, falling back to SPDY when the
// server cannot upgrade to them.
func (c *Client) PodExec(ctx context.Context, ns, pod, container string, cmd []string, stdout, stderr io.Writer) error {
	cfg, err := c.RESTConfig()
	if err != nil {
		return err
	}
	u, err := ExecURL(cfg, ns, pod, container, cmd)
	if err != nil {
		return err
	}
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	if err != nil {
		return fmt.Errorf("prepare exec: %w", err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		return fmt.Errorf("prepare exec: %w", err)
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return fmt.Errorf("prepare exec: %w", err)
	}
	return exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: stdout, Stderr: stderr})
}

// ExecURL is the URL of a pod's exec subresource for a command.
func ExecURL(cfg *rest.Config, ns, pod, container string, cmd []string) (*url.URL, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.GroupVersion = &corev1.SchemeGroupVersion
	cfg.APIPath = "/api"
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	rc, err := rest.RESTClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("prepare exec: %w", err)
	}
	return rc.Post().Namespace(ns).Resource("pods").Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec).URL(), nil
}
