package fsutil

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestReadFileRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, c := range []struct{ path, kind string }{
		{fifo, "named pipe (FIFO)"},
		{link, "character device"},
		{"/dev/null", "character device"},
		{dir, "directory"},
		{sock, "socket"},
	} {
		done := make(chan error, 1)
		go func() { _, err := ReadFile(c.path, 1<<20); done <- err }()
		select {
		case err := <-done:
			var nr *NotRegularError
			if !errors.As(err, &nr) || !errors.Is(err, ErrNotRegular) {
				t.Errorf("ReadFile(%s) = %v, want a *NotRegularError", c.path, err)
				continue
			}
			if nr.Kind != c.kind || !strings.Contains(err.Error(), c.path) {
				t.Errorf("ReadFile(%s): %q, want kind %q and the path", c.path, err, c.kind)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("ReadFile(%s) blocked", c.path)
		}
	}
}

func TestReadFileLimit(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, bytes.Repeat([]byte("x"), 100), 0o600)
	if data, err := ReadFile(p, 100); err != nil || len(data) != 100 {
		t.Errorf("at the limit: %d bytes, %v", len(data), err)
	}
	_, err := ReadFile(p, 99)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), p) {
		t.Errorf("over the limit: %v, want ErrTooLarge naming the file", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v, want fs.ErrNotExist", err)
	}
	// /proc files report size 0 but have content.
	if data, err := ReadFile("/proc/self/stat", LimitProc); err != nil || len(data) == 0 {
		t.Errorf("/proc/self/stat: %d bytes, %v", len(data), err)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out")
	if err := WriteFile(p, []byte("one"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	if got, _ := os.ReadFile(p); string(got) != "two" || fi.Mode().Perm() != 0o600 {
		t.Errorf("got %q mode %v", got, fi.Mode())
	}
	assertOnly(t, dir, "out")
}

func TestWriteFileThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "sub", "real.json")
	os.MkdirAll(filepath.Dir(real), 0o700)
	os.WriteFile(real, []byte("old"), 0o600)
	link := filepath.Join(dir, "link.json")
	os.Symlink("sub/real.json", link)
	if err := WriteFile(link, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced by a %s", Kind(fi.Mode()))
	}
	if got, _ := os.ReadFile(real); string(got) != "new" {
		t.Errorf("target holds %q, want new", got)
	}
	// A dangling link: the target is created.
	dangling := filepath.Join(dir, "dangling")
	os.Symlink("sub/created", dangling)
	if err := WriteFile(dangling, []byte("c"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "sub", "created")); string(got) != "c" {
		t.Errorf("dangling link target holds %q", got)
	}
}

func TestWriteFileRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	syscall.Mkfifo(fifo, 0o600)
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o700)
	null := filepath.Join(dir, "null")
	os.Symlink("/dev/null", null)
	for _, p := range []string{fifo, sub, null, "/dev/full"} {
		err := WriteFile(p, []byte("x"), 0o600)
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("WriteFile(%s) = %v, want ErrNotRegular", p, err)
		}
	}
	if fi, err := os.Stat("/dev/full"); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
		t.Errorf("/dev/full was replaced: %v %v", fi, err)
	}
	if fi, _ := os.Lstat(fifo); fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced")
	}
	if fi, _ := os.Lstat(null); fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the link to /dev/null was replaced")
	}
	assertOnly(t, dir, "fifo", "null", "sub")
	assertOnly(t, sub)
}

func TestCreateAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big")
	os.WriteFile(p, []byte("old"), 0o644)
	f, err := Create(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("half"))
	f.Abort()
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Errorf("after Abort the target holds %q", got)
	}
	assertOnly(t, dir, "big")
}

func TestBatchAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	os.WriteFile(a, []byte("old a"), 0o600)
	os.WriteFile(b, []byte("old b"), 0o600)
	// c's directory cannot be written (a file stands where it should be):
	// nothing may change.
	var bad Batch
	bad.Add(a, []byte("new a"), 0o600)
	bad.Add(b, []byte("new b"), 0o600)
	bad.Add(filepath.Join(a, "c"), []byte("new c"), 0o600)
	if err := bad.Commit(); err == nil {
		t.Fatal("Commit succeeded with an unwritable member")
	}
	for p, want := range map[string]string{a: "old a", b: "old b"} {
		if got, _ := os.ReadFile(p); string(got) != want {
			t.Errorf("%s = %q after a failed batch, want %q", p, got, want)
		}
	}
	assertOnly(t, dir, "a", "b")

	// A rename failing half-way (here: c is a directory made after the
	// check) rolls back what was already replaced.
	var mid Batch
	mid.Add(a, []byte("new a"), 0o600)
	mid.Add(c, []byte("new c"), 0o600)
	mid.Add(b, []byte("new b"), 0o600)
	hookBeforeRename = func(target string) {
		if target == b {
			os.Remove(b)
			os.Mkdir(b, 0o700)
			os.WriteFile(filepath.Join(b, "keep"), nil, 0o600)
		}
	}
	defer func() { hookBeforeRename = nil }()
	if err := mid.Commit(); err == nil {
		t.Fatal("Commit succeeded although b became a directory")
	}
	if got, _ := os.ReadFile(a); string(got) != "old a" {
		t.Errorf("a = %q after a rolled-back batch", got)
	}
	if _, err := os.Stat(c); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("c exists after a rolled-back batch: %v", err)
	}
	hookBeforeRename = nil
	os.RemoveAll(b)
	assertOnly(t, dir, "a")

	var good Batch
	good.Add(a, []byte("new a"), 0o600)
	good.Add(c, []byte("new c"), 0o644)
	if err := good.Commit(); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{a: "new a", c: "new c"} {
		if got, _ := os.ReadFile(p); string(got) != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	assertOnly(t, dir, "a", "c")
}

func TestLockSerializes(t *testing.T) {
	dir := t.TempDir()
	lock := filepath.Join(dir, "x.lock")
	counter := filepath.Join(dir, "n")
	os.WriteFile(counter, []byte("0"), 0o600)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := Lock(context.Background(), lock)
			if err != nil {
				t.Error(err)
				return
			}
			defer unlock()
			data, _ := ReadFile(counter, 100)
			n := len(data)
			WriteFile(counter, bytes.Repeat([]byte("x"), n+1), 0o600)
		}()
	}
	wg.Wait()
	if data, _ := os.ReadFile(counter); len(data) != 21 {
		t.Errorf("counter = %d, want 21 (updates lost)", len(data))
	}
	unlock, _ := Lock(context.Background(), lock)
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Lock(ctx, lock); err == nil {
		t.Error("a second Lock succeeded while the first is held")
	}
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %v, want %v (leftovers?)", dir, got, names)
	}
}
