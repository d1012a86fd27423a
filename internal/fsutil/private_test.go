package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// nobody is a uid that is not the test's: files chowned to it stand for
// another user's.
const nobody = 65534

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: only root can make files owned by another user (run the tests as root to cover this case)")
	}
}

func TestCheckPrivateDir(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string)
		root  bool
		want  string // "" for no error
	}{
		{name: "own 0700", setup: func(t *testing.T, dir string) {}},
		{name: "own 0755", setup: func(t *testing.T, dir string) { os.Chmod(dir, 0o755) }},
		{name: "world-writable", setup: func(t *testing.T, dir string) { os.Chmod(dir, 0o777) },
			want: "is writable by others (mode 0777): they could plant or swap files in it; run chmod go-w "},
		{name: "group-writable", setup: func(t *testing.T, dir string) { os.Chmod(dir, 0o770) },
			want: "is writable by others (mode 0770)"},
		{name: "another user's", root: true, setup: func(t *testing.T, dir string) { os.Chown(dir, nobody, nobody) },
			want: "is owned by uid 65534, not by you (uid 0): another user could plant or swap files in it; use a directory of your own (--state-dir)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.root {
				needRoot(t)
			}
			dir := filepath.Join(t.TempDir(), "state")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			c.setup(t, dir)
			err := CheckPrivateDir(dir, "--state-dir")
			switch {
			case c.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrUnsafeDir)):
				t.Errorf("got %v, want an unsafe-directory error with %q", err, c.want)
			}
		})
	}
}

// TestWriteFileRefusesForeignSymlink: a symlink another user made is not
// written through (nor is the lock beside it taken), even by root.
func TestWriteFileRefusesForeignSymlink(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim.json")
	if err := os.WriteFile(victim, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "progress.json")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(link, []byte("owned\n"), 0o600)
	if err == nil || !strings.Contains(err.Error(), "is a symbolic link made by uid 65534, not by you (uid 0): refusing to write through a link someone else planted; remove it") {
		t.Errorf("WriteFile through another user's link: %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "{}\n" {
		t.Errorf("the link's target was written: %q", b)
	}
	if fi, _ := os.Stat(victim); fi.Mode().Perm() != 0o644 {
		t.Errorf("the link's target changed mode to %v", fi.Mode())
	}
	lockLink := filepath.Join(dir, "x.lock")
	os.Symlink(filepath.Join(dir, "created-by-lock"), lockLink)
	os.Lchown(lockLink, nobody, nobody)
	if _, err := Lock(t.Context(), lockLink); err == nil {
		t.Errorf("Lock went through another user's link")
	}
	if _, err := os.Lstat(filepath.Join(dir, "created-by-lock")); err == nil {
		t.Errorf("Lock created the link's target")
	}
}
