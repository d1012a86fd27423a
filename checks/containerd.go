package checks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"

	"github.com/kubetutor/kubetutor/internal/fsutil"
)

// Runtime is what the checks ask of containerd.
type Runtime interface {
	// Version is the daemon's version and revision.
	Version(ctx context.Context) (version, revision string, err error)
	// Plugin reports whether a plugin is loaded and, if it failed to
	// initialise, why.
	Plugin(ctx context.Context, typ, id string) (found bool, initErr string, err error)
	Close() error
}

// containerdRuntime is Runtime over the containerd v2 client.
type containerdRuntime struct {
	c *containerd.Client
}

// SocketMissingError says that containerd's socket does not exist.
type SocketMissingError struct{ Address string }

func (e *SocketMissingError) Error() string {
	return fmt.Sprintf("no containerd socket at %s", e.Address)
}

// NotSocketError says that containerd's address names something other than
// a socket: a regular file, a directory.
type NotSocketError struct {
	Address string
	Kind    string
}

func (e *NotSocketError) Error() string {
	return fmt.Sprintf("%s is a %s, not a socket", e.Address, e.Kind)
}

func dialContainerd(address string, timeout time.Duration) (Runtime, error) {
	fi, err := os.Stat(address)
	if err != nil {
		return nil, &SocketMissingError{Address: address}
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return nil, &NotSocketError{Address: address, Kind: fsutil.Kind(fi.Mode())}
	}
	// The client's connect timeout is longer than the check's own deadline,
	// so that a socket that never answers ends on the check's deadline
	// (named as such) rather than on the client tearing the connection down.
	c, err := containerd.New(address, containerd.WithTimeout(2*timeout))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", address, err)
	}
	return &containerdRuntime{c: c}, nil
}

func (r *containerdRuntime) Version(ctx context.Context) (string, string, error) {
	v, err := r.c.Version(ctx)
	if err != nil {
		return "", "", errgrpc.ToNative(err)
	}
	return v.Version, v.Revision, nil
}

func (r *containerdRuntime) Plugin(ctx context.Context, typ, id string) (bool, string, error) {
	resp, err := r.c.IntrospectionService().Plugins(ctx, fmt.Sprintf("type==%s,id==%s", typ, id))
	if err != nil {
		return false, "", errgrpc.ToNative(err)
	}
	for _, p := range resp.Plugins {
		if p.Type == typ && p.ID == id {
			if p.InitErr != nil {
				return true, p.InitErr.Message, nil
			}
			return true, "", nil
		}
	}
	return false, "", nil
}

func (r *containerdRuntime) Close() error { return r.c.Close() }

// deadlineErr marks err as a timeout when the check's time ran out: a
// socket that accepts and never answers may surface as the transport's
// "use of closed network connection" rather than as DeadlineExceeded,
// depending on which side of the race gRPC lands.
func deadlineErr(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
	}
	return err
}

func runtimeFailure(env *Env, err error) Result {
	var missing *SocketMissingError
	if errors.As(err, &missing) {
		return failf("containerd is not running: there is no socket at %s%s.", missing.Address, env.lastAliveNote("containerd")).
			saw("no socket", "containerd's socket at "+missing.Address).
			hint("start containerd as root (kubetutor show containerd), or pass --containerd-address if it listens elsewhere")
	}
	var notSock *NotSocketError
	if errors.As(err, &notSock) {
		return failf("%s is a %s, not a socket: it is not containerd's address.", notSock.Address, notSock.Kind).
			saw(notSock.Kind, "a socket containerd listens on").
			hint("pass the socket containerd creates (its [grpc] address in config.toml) with --containerd-address, e.g. %s", DefaultContainerdAddress)
	}
	msg := err.Error()
	if errors.Is(err, context.DeadlineExceeded) || errdefs.IsDeadlineExceeded(err) || strings.Contains(msg, "deadline exceeded") {
		return failf("containerd at %s did not answer within %s.", env.ContainerdAddress, env.Timeout).
			saw("no answer", "containerd answering").
			hint("is it containerd that listens there? read containerd's log; --timeout gives it longer")
	}
	if errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(msg, "connection refused") {
		return failf("containerd is not running: nothing answers on %s (connection refused)%s; a killed containerd leaves its socket behind.", env.ContainerdAddress, env.lastAliveNote("containerd")).
			saw("connection refused", "containerd answering").
			hint("start containerd as root (kubetutor show containerd)")
	}
	if (errors.Is(err, syscall.ECONNRESET) || strings.Contains(msg, "connection reset by peer")) && !socketListens(env, env.ContainerdAddress) {
		// A connection reset as containerd exits (the kernel resets what
		// was queued on its socket), and nothing listens any more.
		return failf("containerd is not running: nothing answers on %s (connection reset, and nothing listens there now)%s; a killed containerd leaves its socket behind.", env.ContainerdAddress, env.lastAliveNote("containerd")).
			saw("connection reset, then refused", "containerd answering").
			hint("start containerd as root (kubetutor show containerd)")
	}
	if errors.Is(err, syscall.EACCES) || errors.Is(err, os.ErrPermission) || strings.Contains(msg, "permission denied") {
		return failf("Cannot talk to containerd at %s: %v.", env.ContainerdAddress, err).
			saw("permission denied", "containerd answering").
			hint("run kubetutor as root (sudo): containerd's socket is root's")
	}
	if env.Euid() == 0 {
		return failf("Cannot talk to containerd at %s: %v.", env.ContainerdAddress, err).
			saw(err.Error(), "containerd answering").
			hint("what listens on %s does not speak containerd's API: is it containerd's socket? (ss -xlp | grep %s; containerd's [grpc] address)", env.ContainerdAddress, filepath.Base(env.ContainerdAddress))
	}
	return failf("Cannot talk to containerd at %s: %v.", env.ContainerdAddress, err).
		saw(err.Error(), "containerd answering").
		hint("start containerd as root (kubetutor show containerd); kubetutor must run as root to open its socket")
}

// socketListens reports whether something accepts connections on a Unix
// socket, within a second.
func socketListens(env *Env, path string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := env.dial(ctx, "unix", path)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// ContainerdRunning checks that containerd answers on its socket.
type ContainerdRunning struct{}

// Name implements Checker.
func (ContainerdRunning) Name() string { return "containerd-running" }

// Check implements Checker.
func (ContainerdRunning) Check(ctx context.Context, env *Env) (Result, error) {
	rt, err := env.Runtime()
	if err != nil {
		return runtimeFailure(env, err), nil
	}
	v, rev, err := rt.Version(ctx)
	if err != nil {
		return runtimeFailure(env, deadlineErr(ctx, err)), nil
	}
	env.markAlive("containerd")
	return passf("containerd %s answers at %s.", v, env.ContainerdAddress).detail("version %s (revision %s)", v, rev), nil
}

// CRIPluginLoaded checks that containerd's CRI plugin, which the kubelet
// talks to, is loaded.
type CRIPluginLoaded struct{}

// Name implements Checker.
func (CRIPluginLoaded) Name() string { return "containerd-cri-plugin" }

// Check implements Checker.
func (CRIPluginLoaded) Check(ctx context.Context, env *Env) (Result, error) {
	rt, err := env.Runtime()
	if err != nil {
		return runtimeFailure(env, err), nil
	}
	found, initErr, err := rt.Plugin(ctx, "io.containerd.grpc.v1", "cri")
	if err != nil {
		return runtimeFailure(env, deadlineErr(ctx, err)), nil
	}
	switch {
	case !found:
		return failf("containerd runs without its CRI plugin, so the kubelet cannot use it.").
			saw("no io.containerd.grpc.v1.cri plugin", "the CRI plugin loaded").
			hint("remove \"cri\" from disabled_plugins in /etc/containerd/config.toml and restart containerd"), nil
	case initErr != "":
		return failf("containerd's CRI plugin failed to start: %s.", initErr).
			saw("CRI plugin error", "the CRI plugin loaded").
			hint("fix the [plugins.\"io.containerd.grpc.v1.cri\"] section of containerd's config and restart it"), nil
	}
	return passf("containerd's CRI plugin (io.containerd.grpc.v1.cri) is loaded: the kubelet can talk to it."), nil
}
