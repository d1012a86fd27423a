package checks_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/checks"
)

// fakeRuntime is a checks.Runtime that answers from its fields.
type fakeRuntime struct {
	version, revision string
	versionErr        error

	found     bool
	initErr   string
	pluginErr error

	mu        sync.Mutex
	askedType string
	askedID   string
}

func (f *fakeRuntime) Version(context.Context) (string, string, error) {
	return f.version, f.revision, f.versionErr
}

func (f *fakeRuntime) Plugin(_ context.Context, typ, id string) (bool, string, error) {
	f.mu.Lock()
	f.askedType, f.askedID = typ, id
	f.mu.Unlock()
	return f.found, f.initErr, f.pluginErr
}

func (f *fakeRuntime) Close() error { return nil }

func TestContainerdChecksWithFakeRuntime(t *testing.T) {
	const addr = "/run/containerd/containerd.sock"
	tests := []struct {
		name    string
		checker checks.Checker
		rt      *fakeRuntime
		status  checks.Status
		msg     []string
		hint    string
		detail  string
		// dial answers the check's second look at the socket (nil:
		// nothing listens).
		dial checks.DialFunc
	}{
		{
			name:    "reset as containerd exits, nothing listens after",
			checker: checks.ContainerdRunning{},
			rt:      &fakeRuntime{versionErr: errors.New(`rpc error: code = Unavailable desc = connection error: desc = "error reading server preface: connection reset by peer"`)},
			status:  checks.Fail,
			msg:     []string{"containerd is not running: nothing answers on " + addr + " (connection reset, and nothing listens there now)"},
			hint:    "start containerd",
		},
		{
			name:    "reset while something listens",
			checker: checks.ContainerdRunning{},
			rt:      &fakeRuntime{versionErr: errors.New(`rpc error: code = Unavailable desc = connection error: desc = "error reading server preface: connection reset by peer"`)},
			dial: func(context.Context, string, string) (net.Conn, error) {
				c, _ := net.Pipe()
				return c, nil
			},
			status: checks.Fail,
			msg:    []string{"Cannot talk to containerd at " + addr, "connection reset by peer"},
		},
		{
			name:    "running",
			checker: checks.ContainerdRunning{},
			rt:      &fakeRuntime{version: "v2.1.4", revision: "75cb2b7193e4e490e9fbdc236c0e811ccaba3376"},
			status:  checks.Pass,
			msg:     []string{"containerd v2.1.4 answers at " + addr},
			detail:  "version v2.1.4 (revision 75cb2b7193e4e490e9fbdc236c0e811ccaba3376)",
		},
		{
			name:    "version call times out",
			checker: checks.ContainerdRunning{},
			rt:      &fakeRuntime{versionErr: fmt.Errorf("rpc: %w", context.DeadlineExceeded)},
			status:  checks.Fail,
			msg:     []string{"containerd at " + addr + " did not answer within 2s"},
			hint:    "read containerd's log",
		},
		{
			name:    "version call fails",
			checker: checks.ContainerdRunning{},
			rt:      &fakeRuntime{versionErr: errors.New("rpc error: code = PermissionDenied desc = permission denied")},
			status:  checks.Fail,
			msg:     []string{"Cannot talk to containerd at " + addr, "permission denied"},
			hint:    "as root",
		},
		{
			name:    "CRI plugin loaded",
			checker: checks.CRIPluginLoaded{},
			rt:      &fakeRuntime{found: true},
			status:  checks.Pass,
			msg:     []string{"CRI plugin (io.containerd.grpc.v1.cri) is loaded"},
		},
		{
			name:    "CRI plugin disabled",
			checker: checks.CRIPluginLoaded{},
			rt:      &fakeRuntime{found: false},
			status:  checks.Fail,
			msg:     []string{"without its CRI plugin"},
			hint:    "disabled_plugins",
		},
		{
			name:    "CRI plugin failed to initialise",
			checker: checks.CRIPluginLoaded{},
			rt:      &fakeRuntime{found: true, initErr: `failed to find snapshotter "overlayfs"`},
			status:  checks.Fail,
			msg:     []string{`CRI plugin failed to start: failed to find snapshotter "overlayfs".`},
			hint:    `[plugins."io.containerd.grpc.v1.cri"]`,
		},
		{
			name:    "introspection fails",
			checker: checks.CRIPluginLoaded{},
			rt:      &fakeRuntime{pluginErr: errors.New("rpc error: code = Unavailable desc = connection closed")},
			status:  checks.Fail,
			msg:     []string{"Cannot talk to containerd", "connection closed"},
		},
		{
			name:    "introspection times out",
			checker: checks.CRIPluginLoaded{},
			rt:      &fakeRuntime{pluginErr: context.DeadlineExceeded},
			status:  checks.Fail,
			msg:     []string{"did not answer within"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := checks.NewEnv(t.TempDir())
			env.ContainerdAddress = addr
			env.Timeout = 2 * time.Second
			env.SetRuntime(tt.rt)
			env.Dial = tt.dial
			if env.Dial == nil {
				env.Dial = func(context.Context, string, string) (net.Conn, error) { return nil, syscall.ECONNREFUSED }
			}
			res := runCheck(t, env, tt.checker)
			t.Logf("%s: %s (hint: %s)", res.Status, res.Message, res.Hint)
			if res.Name != tt.checker.Name() {
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
			if _, ok := tt.checker.(checks.CRIPluginLoaded); ok {
				tt.rt.mu.Lock()
				defer tt.rt.mu.Unlock()
				if tt.rt.askedType != "io.containerd.grpc.v1" || tt.rt.askedID != "cri" {
					t.Errorf("asked for plugin %s.%s, want io.containerd.grpc.v1.cri", tt.rt.askedType, tt.rt.askedID)
				}
			}
		})
	}
}

func TestContainerdNames(t *testing.T) {
	if n := (checks.ContainerdRunning{}).Name(); n != "containerd-running" {
		t.Errorf("ContainerdRunning name %q", n)
	}
	if n := (checks.CRIPluginLoaded{}).Name(); n != "containerd-cri-plugin" {
		t.Errorf("CRIPluginLoaded name %q", n)
	}
}

// shortTempDir is a temp dir with a short path: a Unix socket path must fit
// in sun_path (108 bytes), which t.TempDir's long names may not.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// The real client, against sockets where no containerd answers.
func TestContainerdRealDial(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, sock string)
		msg   []string // any one of them
		// checkers default to ContainerdRunning and CRIPluginLoaded.
		checkers []checks.Checker
		bug      string
	}{
		{
			name:  "no socket",
			setup: func(*testing.T, string) {},
			msg:   []string{"containerd is not running: there is no socket at"},
		},
		{
			name: "socket that accepts and hangs up",
			setup: func(t *testing.T, sock string) {
				l, err := net.Listen("unix", sock)
				if err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						c, err := l.Accept()
						if err != nil {
							return
						}
						c.Close()
					}
				}()
				t.Cleanup(func() { l.Close(); wg.Wait() })
			},
			msg: []string{"Cannot talk to containerd at "},
		},
		{
			name:     "socket that accepts and never answers: plugins",
			setup:    silentUnixListener,
			msg:      []string{"did not answer within 500ms"},
			checkers: []checks.Checker{checks.CRIPluginLoaded{}},
		},
		{
			name:     "socket that accepts and never answers: version",
			setup:    silentUnixListener,
			msg:      []string{"did not answer within 500ms"},
			checkers: []checks.Checker{checks.ContainerdRunning{}},
		},
		{
			name: "stale socket left by a killed containerd",
			setup: func(t *testing.T, sock string) {
				l, err := net.Listen("unix", sock)
				if err != nil {
					t.Fatal(err)
				}
				l.(*net.UnixListener).SetUnlinkOnClose(false)
				l.Close()
			},
			msg: []string{"connection refused"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.bug != "" {
				skipBug(t, tt.bug)
			}
			sock := filepath.Join(shortTempDir(t), "containerd.sock")
			tt.setup(t, sock)
			env := checks.NewEnv(t.TempDir())
			env.ContainerdAddress = sock
			env.Timeout = 500 * time.Millisecond
			t.Cleanup(func() { env.Close() })
			cs := tt.checkers
			if cs == nil {
				cs = []checks.Checker{checks.ContainerdRunning{}, checks.CRIPluginLoaded{}}
			}
			for _, c := range cs {
				start := time.Now()
				res := runCheck(t, env, c)
				elapsed := time.Since(start)
				t.Logf("%s: %s in %s: %s (hint: %s)", c.Name(), res.Status, elapsed.Round(time.Millisecond), res.Message, res.Hint)
				if res.Status != checks.Fail {
					t.Errorf("%s: status = %s, want fail: %s", c.Name(), res.Status, res.Message)
				}
				if !containsAny(res.Message, tt.msg) {
					t.Errorf("%s: message %q contains none of %q", c.Name(), res.Message, tt.msg)
				}
				if res.Hint == "" {
					t.Errorf("%s: fails without a hint", c.Name())
				}
				if elapsed > 1500*time.Millisecond {
					t.Errorf("%s: took %s with a 500ms timeout", c.Name(), elapsed)
				}
			}
		})
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// silentUnixListener listens on sock, accepts connections and never answers,
// like a process that is stuck.
func silentUnixListener(t *testing.T, sock string) {
	t.Helper()
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
}
