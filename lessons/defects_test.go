package lessons

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/internal/fsutil"
)

// nobody stands for another local user.
const nobody = 65534

// TestDefects has the cases of issue 18 ("hostile input, round two") that
// concern the state directory. Each failed before its fix and passes after.
func TestDefects(t *testing.T) {
	cases := []struct {
		name string
		// root: the case needs root (files owned by another user).
		root bool
		run  func(t *testing.T)
	}{
		{
			name: "1 no HOME: no shared, predictable fallback under /tmp",
			run: func(t *testing.T) {
				t.Setenv("HOME", "")
				os.Unsetenv("HOME")
				t.Setenv("KUBETUTOR_STATE_DIR", "")
				t.Setenv("XDG_STATE_HOME", "")
				dir, err := DefaultStateDir()
				if err != nil {
					if !errors.Is(err, ErrNoStateDir) || !strings.Contains(err.Error(), "set --state-dir DIR or KUBETUTOR_STATE_DIR to a directory of your own") {
						t.Errorf("error without a home: %v", err)
					}
					return
				}
				if strings.HasPrefix(dir, os.TempDir()) || strings.HasPrefix(dir, "/tmp") {
					t.Errorf("without HOME the state dir is %s, a shared name another user can create first", dir)
				}
				if home := passwdHome(); home == "" || !strings.HasPrefix(dir, home+"/") {
					t.Errorf("without HOME the state dir is %s, not under the home directory of the user database (%q)", dir, home)
				}
			},
		},
		{
			name: "1 a world-writable state dir with progress.json linked to another file",
			run: func(t *testing.T) {
				shared := filepath.Join(t.TempDir(), "kubetutor-state")
				os.Mkdir(shared, 0o777)
				os.Chmod(shared, 0o777) // past the umask
				victim := filepath.Join(t.TempDir(), "victim.json")
				os.WriteFile(victim, []byte(`{"version":1,"steps":{}}`), 0o644)
				os.Symlink(victim, filepath.Join(shared, "progress.json"))
				_, err := NewStore(shared).Update(context.Background(), func(p *Progress) { p.Mark("tools", Done, p0) })
				if err == nil || !errors.Is(err, fsutil.ErrUnsafeDir) || !strings.Contains(err.Error(), "is writable by others (mode 0777)") {
					t.Errorf("update in a world-writable dir: %v", err)
				}
				assertUntouched(t, victim, `{"version":1,"steps":{}}`, 0o644)
			},
		},
		{
			name: "1 root and another user's state dir holding a link to root's file",
			root: true,
			run: func(t *testing.T) {
				shared := filepath.Join(t.TempDir(), "kubetutor-state")
				os.Mkdir(shared, 0o755)
				victim := filepath.Join(t.TempDir(), "victim.json")
				os.WriteFile(victim, []byte(`{"version":1,"steps":{}}`), 0o644)
				link := filepath.Join(shared, "progress.json")
				os.Symlink(victim, link)
				os.Lchown(link, nobody, nobody)
				os.Chown(shared, nobody, nobody)
				_, err := NewStore(shared).Update(context.Background(), nil)
				if err == nil || !strings.Contains(err.Error(), "is owned by uid 65534, not by you (uid 0)") {
					t.Errorf("update in another user's dir: %v", err)
				}
				assertUntouched(t, victim, `{"version":1,"steps":{}}`, 0o644)
			},
		},
		{
			name: "1 a link another user planted in one's own state dir",
			root: true,
			run: func(t *testing.T) {
				dir := t.TempDir()
				victim := filepath.Join(t.TempDir(), "victim.json")
				os.WriteFile(victim, []byte(`{"version":1,"steps":{}}`), 0o644)
				link := filepath.Join(dir, "progress.json")
				os.Symlink(victim, link)
				os.Lchown(link, nobody, nobody)
				_, err := NewStore(dir).Update(context.Background(), nil)
				if err == nil || !strings.Contains(err.Error(), "refusing to write through a link someone else planted") {
					t.Errorf("update through another user's link: %v", err)
				}
				assertUntouched(t, victim, `{"version":1,"steps":{}}`, 0o644)
			},
		},
		{
			name: "6 GLAMOUR_STYLE naming a FIFO: refused, not waited on",
			run: func(t *testing.T) {
				fifo := filepath.Join(t.TempDir(), "style.json")
				if err := syscall.Mkfifo(fifo, 0o644); err != nil {
					t.Fatal(err)
				}
				err := newRendererGuarded(t, fifo)
				if err == nil || !errors.Is(err, fsutil.ErrNotRegular) || !strings.Contains(err.Error(), "style.json is a named pipe (FIFO), not a regular file") {
					t.Errorf("a FIFO as the style: %v", err)
				}
			},
		},
		{
			name: "6 GLAMOUR_STYLE naming /dev/zero: refused, not read without end",
			run: func(t *testing.T) {
				err := newRendererGuarded(t, "/dev/zero")
				if err == nil || !strings.Contains(err.Error(), `read the style file "/dev/zero"`) || !strings.Contains(err.Error(), "character device, not a regular file") {
					t.Errorf("/dev/zero as the style: %v", err)
				}
			},
		},
		{
			name: "6 GLAMOUR_STYLE naming a style file larger than a style can be",
			run: func(t *testing.T) {
				big := filepath.Join(t.TempDir(), "big.json")
				if err := os.WriteFile(big, make([]byte, LimitStyle+1), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := newRendererGuarded(t, big); !errors.Is(err, fsutil.ErrTooLarge) {
					t.Errorf("a style file over the limit: %v", err)
				}
			},
		},
		{
			name: "6 a JSON style file and the style names still work",
			run: func(t *testing.T) {
				style := filepath.Join(t.TempDir(), "style.json")
				os.WriteFile(style, []byte(`{"document":{"margin":0},"strong":{"bold":true}}`), 0o644)
				for _, s := range []string{style, "dark", "notty"} {
					r, err := NewRenderer(s, 80)
					if err != nil {
						t.Fatalf("NewRenderer(%q): %v", s, err)
					}
					if out, err := r.Render("Some **bold** prose.\n"); err != nil || !strings.Contains(out, "bold") {
						t.Errorf("render with %q: %q, %v", s, out, err)
					}
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.root && os.Geteuid() != 0 {
				t.Skip("needs root: only root can make files owned by another user (run the tests as root to cover this case)")
			}
			c.run(t)
		})
	}
}

var p0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func assertUntouched(t *testing.T, path, content string, perm os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the link's target: %v", err)
	}
	if string(b) != content {
		t.Errorf("the link's target was rewritten: %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != perm {
		t.Errorf("the link's target changed mode to %v", fi.Mode().Perm())
	}
}

// newRendererGuarded builds a renderer with style and returns its error; a
// renderer that does not come back within 10 seconds (blocked on a FIFO,
// reading /dev/zero) fails the test.
func newRendererGuarded(t *testing.T, style string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := NewRenderer(style, 80)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("NewRenderer(%q) did not return within 10 s", style)
		return nil
	}
}
