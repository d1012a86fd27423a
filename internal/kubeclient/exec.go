package kubeclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/textsafe"
)

// execCredential is the status of client.authentication.k8s.io's
// ExecCredential, as a credential plugin prints it.
type execCredential struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Status     *struct {
		Token                 string     `json:"token"`
		ClientCertificateData string     `json:"clientCertificateData"`
		ClientKeyData         string     `json:"clientKeyData"`
		ExpirationTimestamp   *time.Time `json:"expirationTimestamp"`
	} `json:"status"`
}

// refreshExecLocked runs the kubeconfig's exec credential plugin, when it
// has one, and installs its credentials in the client configuration. The
// tutor runs the plugin instead of client-go because client-go gives it no
// deadline: a plugin that hangs would hang every check. Credentials are
// reused until they expire.
func (c *Client) refreshExecLocked() error {
	if c.exec == nil || c.restConfig == nil {
		return nil
	}
	s := c.settings()
	if c.execFetched && (c.execExpiry.IsZero() || s.Now().Before(c.execExpiry.Add(-10*time.Second))) {
		return nil
	}
	cred, err := runExecPlugin(c.exec, s.Timeout)
	if err != nil {
		return &KubeconfigError{Path: c.KubeconfigPath(), Err: err}
	}
	cfg := c.restConfig
	cfg.BearerToken, cfg.TLSClientConfig.CertData, cfg.TLSClientConfig.KeyData = "", nil, nil
	st := cred.Status
	if st.Token != "" {
		cfg.BearerToken = st.Token
	}
	if st.ClientCertificateData != "" {
		cfg.TLSClientConfig.CertData = []byte(st.ClientCertificateData)
		cfg.TLSClientConfig.KeyData = []byte(st.ClientKeyData)
	}
	c.execFetched, c.execExpiry = true, time.Time{}
	if st.ExpirationTimestamp != nil {
		c.execExpiry = *st.ExpirationTimestamp
	}
	if !c.kubeInjected {
		c.kube = nil
	}
	c.httpClient = nil
	return nil
}

// runExecPlugin runs a credential plugin as client-go would (its
// environment, KUBERNETES_EXEC_INFO, no terminal), killing it and its
// children at the timeout.
func runExecPlugin(ec *clientcmdapi.ExecConfig, timeout time.Duration) (*execCredential, error) {
	name := strings.TrimSpace(ec.Command + " " + strings.Join(ec.Args, " "))
	if ec.InteractiveMode == clientcmdapi.AlwaysExecInteractiveMode {
		return nil, fmt.Errorf("its exec credential plugin `%s` needs a terminal (interactiveMode: Always); kubetutor runs it without one", name)
	}
	info, _ := json.Marshal(map[string]any{
		"apiVersion": ec.APIVersion, "kind": "ExecCredential",
		"spec": map[string]any{"interactive": false},
	})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, ec.Command, ec.Args...)
	cmd.Env = os.Environ()
	for _, v := range ec.Env {
		cmd.Env = append(cmd.Env, v.Name+"="+v.Value)
	}
	cmd.Env = append(cmd.Env, "KUBERNETES_EXEC_INFO="+string(info))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &fsutil.CappedBuffer{B: &stdout, N: 1 << 20}, &fsutil.CappedBuffer{B: &stderr, N: 4 << 10}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 500 * time.Millisecond
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("its exec credential plugin `%s` did not answer within %s (--timeout)", name, timeout)
		}
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("its exec credential plugin %s is not installed", ec.Command)
		}
		msg := textsafe.FirstLine(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("its exec credential plugin `%s` failed: %s", name, msg)
	}
	var cred execCredential
	if err := json.Unmarshal(stdout.Bytes(), &cred); err != nil || cred.Kind != "ExecCredential" {
		return nil, fmt.Errorf("its exec credential plugin `%s` did not print an ExecCredential", name)
	}
	if cred.Status == nil || (cred.Status.Token == "" && cred.Status.ClientCertificateData == "") {
		return nil, fmt.Errorf("its exec credential plugin `%s` returned no token and no certificate", name)
	}
	if (cred.Status.ClientCertificateData == "") != (cred.Status.ClientKeyData == "") {
		return nil, fmt.Errorf("its exec credential plugin `%s` returned a certificate without its key, or a key without its certificate", name)
	}
	return &cred, nil
}
