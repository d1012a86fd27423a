package room

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/internal/fsutil"
)

// roomDB writes a room of n learners to a data directory and returns the
// bytes of its database file.
func roomDB(t testing.TB, n int) []byte {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "room")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id, secret, err := s.Join(fmt.Sprintf("learner %d", i), "", "", t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Report(id, secret, rep(i%6, "check-"+fmt.Sprint(i), strings.Repeat("message ", 40)), t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetMeta("join-token", "join-token-1234"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openDamaged writes data as a room's database and opens the room, with a
// guard against hangs.
func openDamaged(t *testing.T, data []byte) error {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "c")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, DBFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return openGuarded(t, dir)
}

func openGuarded(t *testing.T, dir string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		s, err := OpenStore(dir)
		if err == nil {
			s.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("OpenStore hangs")
		return nil
	}
}

// TestDefects has the cases of issue 18 ("hostile input, round two") that
// concern the room. Each failed before its fix (a panic, a hang, a
// misleading message, an exposed secret) and passes after.
func TestDefects(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{
			name: "1 the room file in a world-writable state dir is neither read nor written",
			run: func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "kubetutor-state")
				os.Mkdir(dir, 0o777)
				os.Chmod(dir, 0o777)
				err := SaveState(dir, &State{URL: "http://x", ID: "0123456789abcdef", Secret: "s", Name: "Ada"})
				if !errors.Is(err, fsutil.ErrUnsafeDir) {
					t.Errorf("SaveState in a world-writable dir: %v", err)
				}
				os.WriteFile(filepath.Join(dir, StateFile), []byte(`{"url":"http://evil","id":"x","secret":"y"}`), 0o644)
				if st, err := LoadState(dir); !errors.Is(err, fsutil.ErrUnsafeDir) {
					t.Errorf("LoadState in a world-writable dir: %+v, %v", st, err)
				}
			},
		},
		{
			name: "4 a truncated room.db (head -c 100000)",
			run: func(t *testing.T) {
				db := roomDB(t, 300)
				if len(db) <= 100000 {
					t.Fatalf("the room's database is only %d bytes", len(db))
				}
				err := openDamaged(t, db[:100000])
				// Issue 18 defect 12: the mv command quotes its paths (this test's
				// directory has parentheses), so the name ends in .damaged' there.
				if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "is damaged (") ||
					!strings.Contains(err.Error(), ".damaged") || !strings.Contains(err.Error(), ") and run room serve again") {
					t.Errorf("truncated database: %v", err)
				}
			},
		},
		{
			name: "4 an intact room of 300 learners still opens",
			run: func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "c")
				os.MkdirAll(dir, 0o700)
				os.WriteFile(filepath.Join(dir, DBFile), roomDB(t, 300), 0o600)
				s, err := OpenStore(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				if n := len(s.Learners()); n != 300 {
					t.Errorf("%d learners, want 300", n)
				}
			},
		},
		{
			name: "4 room.db with random bytes flipped",
			run: func(t *testing.T) {
				db := roomDB(t, 60)
				for seed := range 40 {
					bad := flip(db, seed)
					err := openDamaged(t, bad)
					if err != nil && !errors.Is(err, ErrDamaged) {
						t.Errorf("seed %d: %v", seed, err)
					}
				}
			},
		},
		{
			name: "4 a FIFO as room.db",
			run: func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "c")
				os.MkdirAll(dir, 0o700)
				if err := syscall.Mkfifo(filepath.Join(dir, DBFile), 0o600); err != nil {
					t.Fatal(err)
				}
				err := openGuarded(t, dir)
				if err == nil || !strings.Contains(err.Error(), "room.db is a named pipe (FIFO), not a regular file; move it aside") || strings.Contains(err.Error(), "illegal seek") {
					t.Errorf("FIFO as room.db: %v", err)
				}
			},
		},
		{
			name: "4 a world-writable data dir",
			run: func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "c")
				os.Mkdir(dir, 0o777)
				os.Chmod(dir, 0o777)
				if err := openGuarded(t, dir); !errors.Is(err, fsutil.ErrUnsafeDir) {
					t.Errorf("world-writable data dir: %v", err)
				}
			},
		},
		{
			name: "5 a damaged tls.crt: refused, the key kept",
			run: func(t *testing.T) {
				dir := certRoom(t)
				key, _ := os.ReadFile(filepath.Join(dir, KeyFile))
				os.WriteFile(filepath.Join(dir, CertFile), []byte("-----BEGIN CERTIFICATE-----\ngarbage\n"), 0o644)
				_, _, err := Certificate(dir, []string{"localhost"}, false)
				if !errors.Is(err, ErrCertificate) || !strings.Contains(err.Error(), "learners pinned its fingerprint") || !strings.Contains(err.Error(), "pass --new-certificate to make a new pair") {
					t.Errorf("damaged tls.crt: %v", err)
				}
				if now, _ := os.ReadFile(filepath.Join(dir, KeyFile)); !bytes.Equal(now, key) {
					t.Errorf("the room's key was replaced")
				}
			},
		},
		{
			name: "5 tls.key missing: refused",
			run: func(t *testing.T) {
				dir := certRoom(t)
				os.Remove(filepath.Join(dir, KeyFile))
				if _, _, err := Certificate(dir, []string{"localhost"}, false); !errors.Is(err, ErrCertificate) {
					t.Errorf("missing tls.key: %v", err)
				}
				if _, err := os.Stat(filepath.Join(dir, KeyFile)); err == nil {
					t.Errorf("a new key was written")
				}
			},
		},
		{
			name: "5 a FIFO as tls.crt",
			run: func(t *testing.T) {
				dir := certRoom(t)
				os.Remove(filepath.Join(dir, CertFile))
				syscall.Mkfifo(filepath.Join(dir, CertFile), 0o644)
				done := make(chan error, 1)
				go func() { _, _, err := Certificate(dir, []string{"localhost"}, false); done <- err }()
				select {
				case err := <-done:
					if !errors.Is(err, ErrCertificate) || !strings.Contains(err.Error(), "tls.crt is a named pipe (FIFO), not a regular file") {
						t.Errorf("FIFO as tls.crt: %v", err)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("reading a FIFO as tls.crt hangs")
				}
			},
		},
		{
			name: "5 --new-certificate replaces the pair",
			run: func(t *testing.T) {
				dir := certRoom(t)
				old, _, _ := Certificate(dir, []string{"localhost"}, false)
				os.WriteFile(filepath.Join(dir, CertFile), []byte("damaged"), 0o644)
				c, made, err := Certificate(dir, []string{"localhost"}, true)
				if err != nil || !made || Fingerprint(c.Certificate[0]) == Fingerprint(old.Certificate[0]) {
					t.Fatalf("--new-certificate: made %v, %v", made, err)
				}
				again, made, err := Certificate(dir, []string{"localhost"}, false)
				if err != nil || made || Fingerprint(again.Certificate[0]) != Fingerprint(c.Certificate[0]) {
					t.Errorf("the new pair is not the one kept: made %v, %v", made, err)
				}
			},
		},
		{
			name: "13 the Bearer scheme in any case (RFC 7235): bearer was 'token required'",
			run: func(t *testing.T) {
				for header, want := range map[string]string{
					"Bearer tok": "tok", "bearer tok": "tok", "BEARER tok": "tok", "bEaReR  tok ": "tok",
					"Basic dG9rOg==": "", "Bearertok": "", "tok": "",
				} {
					r := httptest.NewRequest(http.MethodPost, "/api/report", nil)
					r.Header.Set("Authorization", header)
					if got := bearer(r, false); got != want {
						t.Errorf("Authorization: %s gives token %q, want %q", header, got, want)
					}
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

// certRoom is a data directory holding a room's certificate and key.
func certRoom(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	c, made, err := Certificate(dir, []string{"localhost"}, false)
	if err != nil || !made || len(c.Certificate) == 0 {
		t.Fatalf("a new room's certificate: made %v, %v", made, err)
	}
	return dir
}

// flip returns a copy of data with a few bytes changed, chosen by seed,
// away from the first meta page's checksum (which would only make bbolt
// fall back to the second meta page).
func flip(data []byte, seed int) []byte {
	out := bytes.Clone(data)
	x := uint64(seed)*0x9E3779B97F4A7C15 + 1
	for range 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		out[int(x%uint64(len(out)))] ^= byte(x>>32) | 1
	}
	return out
}
