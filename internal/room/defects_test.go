package room

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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
		{
			name: "8 a join the room cannot save leaves no row and holds no name",
			run: func(t *testing.T) {
				store, err := OpenStore(filepath.Join(t.TempDir(), "room"))
				if err != nil {
					t.Fatal(err)
				}
				defer store.Close()
				store.db.Close() // every write fails from now on, as on a full disk
				hs := serveStore(t, store, nil)
				for i := range 2 {
					code, body := do(t, "POST", hs.URL+"/api/join", "Bearer "+jtok, `{"name":"Ada"}`)
					if code != 500 || body != "could not save the learner: nothing was kept, join again\n" {
						t.Errorf("join %d on a room that cannot save: %d %q", i+1, code, body)
					}
				}
				if ls := store.Learners(); len(ls) != 0 {
					t.Errorf("a failed join left %d rows", len(ls))
				}
			},
		},
		{
			name: "8 a learner whose join answer was not saved joins again under their name",
			run: func(t *testing.T) {
				hs, store := newTestServer(t, "")
				nonce := strings.Repeat("ab", 32)
				join := func(name, nonce string) (int, JoinResponse, string) {
					code, body := do(t, "POST", hs.URL+"/api/join", "Bearer "+jtok, mustJSON(JoinRequest{Name: name, Nonce: nonce}))
					var r JoinResponse
					json.Unmarshal([]byte(body), &r)
					return code, r, body
				}
				code, first, body := join("Ada", nonce)
				if code != 200 {
					t.Fatalf("join: %d %s", code, body)
				}
				// The answer is lost: the learner has nothing but the nonce.
				code, again, body := join("Ada", nonce)
				if code != 200 || again.ID != first.ID || again.Secret == first.Secret {
					t.Fatalf("join again with the same nonce: %d %s", code, body)
				}
				if code, _ := do(t, "POST", hs.URL+"/api/report", "Bearer "+first.ID+"."+first.Secret, `{"steps":[]}`); code != 403 {
					t.Errorf("the lost secret still works: %d", code)
				}
				if code, _ := do(t, "POST", hs.URL+"/api/report", "Bearer "+again.ID+"."+again.Secret, mustJSON(rep(2, "x", "y"))); code != 204 {
					t.Errorf("the new secret: %d", code)
				}
				if code, _, body := join("Ada", strings.Repeat("cd", 32)); code != 409 || body != "a learner of that name is already in the room (as \"Ada\")\n" {
					t.Errorf("another learner's nonce: %d %q", code, body)
				}
				if code, _, body := join("Ada", "short"); code != 400 || body != "bad nonce: the join nonce is not 64 lowercase hex digits\n" {
					t.Errorf("a bad nonce: %d %q", code, body)
				}
				if n := len(store.Learners()); n != 1 {
					t.Errorf("%d rows", n)
				}
			},
		},
		{
			name: "8 joining again through localhost instead of 127.0.0.1 keeps the row",
			run: func(t *testing.T) {
				hs, store := newTestServer(t, "")
				state := t.TempDir()
				byIP := hs.URL
				byName := strings.Replace(hs.URL, "127.0.0.1", "localhost", 1)
				var ids []string
				for i, base := range []string{byIP, byName} {
					nonce, err := JoinNonce(state, jtok)
					if err != nil {
						t.Fatal(err)
					}
					c, err := NewClient(base, "")
					if err != nil {
						t.Fatal(err)
					}
					resp, err := c.Join(context.Background(), jtok, JoinRequest{Name: "Ada", Nonce: nonce})
					if err != nil {
						t.Fatalf("join %d through %s: %v", i+1, base, err)
					}
					if err := c.Send(context.Background(), &State{ID: resp.ID, Secret: resp.Secret}, rep(3, "x", "y")); err != nil {
						t.Fatal(err)
					}
					ids = append(ids, resp.ID)
				}
				if ids[0] != ids[1] || len(store.Learners()) != 1 {
					t.Errorf("rows %v, %d learners", ids, len(store.Learners()))
				}
				if other, _ := JoinNonce(t.TempDir(), jtok); other == "" {
					t.Error("no nonce for another state directory")
				} else if same, _ := JoinNonce(state, jtok); other == same {
					t.Error("two state directories make the same nonce")
				}
				if room2, _ := JoinNonce(state, "another-join-token"); room2 == ids[0] {
					t.Error("another room gets the same nonce")
				}
			},
		},
		{
			name: "8 a state directory that cannot keep the learner's key: the room never hears of the join",
			run: func(t *testing.T) {
				file := filepath.Join(t.TempDir(), "file")
				os.WriteFile(file, nil, 0o600)
				_, err := JoinNonce(filepath.Join(file, "state"), jtok)
				if err == nil || !strings.HasPrefix(err.Error(), "join the room: nothing was sent, as the state directory cannot keep this learner's key: ") {
					t.Errorf("JoinNonce under a file: %v", err)
				}
			},
		},
		{
			name: "8 the instructor removes a learner",
			run: func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "room")
				store, err := OpenStore(dir)
				if err != nil {
					t.Fatal(err)
				}
				hs := serveStore(t, store, nil)
				ada := joinAs(t, hs.URL, "Ada Lovelace")
				joinAs(t, hs.URL, "Bob")
				adaAuth := "Bearer " + ada.ID + "." + ada.Secret
				do(t, "POST", hs.URL+"/api/report", adaAuth, mustJSON(rep(3, "x", "y")))
				del := hs.URL + "/api/learners?name=" + url.QueryEscape("Ada Lovelace")
				for _, tt := range []struct {
					url, auth string
					want      int
				}{
					{del, "", 401},
					{del, "Bearer " + jtok, 403},
					{del, adaAuth, 403},
					{del + "&token=" + itok, "", 401}, // the token only as a header
					{hs.URL + "/api/learners", "Bearer " + itok, 400},
					{hs.URL + "/api/learners?name=Nobody", "Bearer " + itok, 404},
				} {
					if code, body := do(t, "DELETE", tt.url, tt.auth, ""); code != tt.want {
						t.Errorf("DELETE %s (%q): %d %s, want %d", tt.url, tt.auth, code, body, tt.want)
					}
				}
				if n := len(store.Learners()); n != 2 {
					t.Fatalf("refused removals changed the room: %d learners", n)
				}
				code, body := do(t, "DELETE", del, "Bearer "+itok, "")
				if code != 200 || !strings.Contains(body, `"removed": "Ada Lovelace"`) {
					t.Fatalf("remove: %d %s", code, body)
				}
				if code, _ := do(t, "POST", hs.URL+"/api/report", adaAuth, mustJSON(rep(4, "x", "y"))); code != 403 {
					t.Errorf("a removed learner's report: %d", code)
				}
				if code, body := do(t, "DELETE", hs.URL+"/api/learners?id="+ada.ID, "Bearer "+itok, ""); code != 404 {
					t.Errorf("remove twice: %d %s", code, body)
				}
				joinAs(t, hs.URL, "Ada Lovelace") // the name is free
				hs.Close()
				if err := store.Close(); err != nil {
					t.Fatal(err)
				}
				again, err := OpenStore(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer again.Close()
				for _, l := range again.Learners() {
					if l.ID == ada.ID {
						t.Errorf("the removed learner is back after a restart")
					}
				}
				if n := len(again.Learners()); n != 2 {
					t.Errorf("%d learners after a restart, want 2", n)
				}
			},
		},
		{
			name: "8 a removal racing the background writer stays removed",
			run: func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "room")
				s, err := OpenStore(dir)
				if err != nil {
					t.Fatal(err)
				}
				for i := range 50 {
					id, secret, err := s.Join(fmt.Sprint("learner ", i), "", "", t0)
					if err != nil {
						t.Fatal(err)
					}
					s.Report(id, secret, rep(i%5, "x", "y"), t0)
					if _, err := s.Remove(id, ""); err != nil {
						t.Fatal(err)
					}
					s.Report(id, secret, rep(i%5+1, "x", "y"), t0)
				}
				s.Close()
				again, err := OpenStore(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer again.Close()
				if n := len(again.Learners()); n != 0 {
					t.Errorf("%d removed learners came back", n)
				}
			},
		},
		{
			name: "10 names that reverse, hide or imitate others",
			run: func(t *testing.T) {
				hs, store := newTestServer(t, "")
				joinAs(t, hs.URL, "Alice")
				joinAs(t, hs.URL, "Zoë") // composed
				for _, tt := range []struct {
					name string
					want int
					body string
				}{
					{"Carol\u202e", 400, "bad name: the name holds a bidirectional control character (U+202E), which reorders the text around it\n"},
					{"\u2067Carol", 400, "bad name: the name holds a bidirectional control character (U+2067), which reorders the text around it\n"},
					{"Car\u200fol", 400, "bad name: the name holds a bidirectional control character (U+200F), which reorders the text around it\n"},
					{"Car\u061col", 400, "bad name: the name holds a bidirectional control character (U+061C), which reorders the text around it\n"},
					{"Alice\u200b", 400, "bad name: the name holds an invisible character (U+200B)\n"},
					{"Al\u200dice", 400, "bad name: the name holds an invisible character (U+200D)\n"},
					{"Al\u2060ice", 400, "bad name: the name holds an invisible character (U+2060)\n"},
					{"\ufeffAlice", 400, "bad name: the name holds an invisible character (U+FEFF)\n"},
					{"Al\u00adice", 400, "bad name: the name holds an invisible character (U+00AD)\n"},
					{"\u3164", 400, "bad name: the name holds an invisible character (U+3164)\n"},
					{"Al\ue000ice", 400, "bad name: the name holds a character with no agreed look (U+E000)\n"},
					{"\u0301\u0301", 400, "bad name: the name has no visible character\n"},
					{"A\u0085B", 400, "bad name: the name holds a control character (U+0085)\n"},
					{"ALICE", 409, "a learner of that name is already in the room (as \"Alice\")\n"},
					{"\u0410lice", 409, "a learner of that name is already in the room (as \"Alice\")\n"},  // Cyrillic А
					{"Alic\u0435", 409, "a learner of that name is already in the room (as \"Alice\")\n"},  // Cyrillic е
					{"\uff21lice", 409, "a learner of that name is already in the room (as \"Alice\")\n"},  // full-width Ａ
					{"Zoe\u0308", 409, "a learner of that name is already in the room (as \"Zoë\")\n"},     // decomposed
					{"\u0396o\u00eb", 409, "a learner of that name is already in the room (as \"Zoë\")\n"}, // Greek Ζ
				} {
					code, body := do(t, "POST", hs.URL+"/api/join", "Bearer "+jtok, mustJSON(JoinRequest{Name: tt.name}))
					if code != tt.want || body != tt.body {
						t.Errorf("join as %+q: %d %q, want %d %q", tt.name, code, body, tt.want, tt.body)
					}
				}
				if n := len(store.Learners()); n != 2 {
					t.Errorf("%d learners, want 2", n)
				}
				// NFC, and every run of space made one.
				if got := joinAs(t, hs.URL, "Ade\u0301le\u00a0\u3000 Dupont"); got.Name != "Adèle Dupont" && got.Name != "Ad\u00e9le Dupont" {
					t.Errorf("stored as %+q", got.Name)
				}
			},
		},
		{
			name: "10 a room kept before bidi controls were refused opens with them dropped",
			run: func(t *testing.T) {
				l := Learner{ID: "0123456789abcdef", Name: "Ca\u202erol\u200b", SecretHash: make([]byte, 32), Steps: emptySteps()}
				b, _ := json.Marshal(l)
				got, err := decodeLearner([]byte(l.ID), b)
				if err != nil || got.Name != "Carol" {
					t.Errorf("decoded %+q, %v", got.Name, err)
				}
			},
		},
		{
			name: "10 the dashboard isolates each name's direction",
			run: func(t *testing.T) {
				js, _ := webFS.ReadFile("web/app.js")
				for _, want := range []string{`el("bdi", "", text)`, `e.dir = "auto"`, `who.appendChild(bdi(n))`, `name.appendChild(bdi(l.name))`, `msg.appendChild(bdi(l.failing.message))`} {
					if !bytes.Contains(js, []byte(want)) {
						t.Errorf("app.js lacks %s", want)
					}
				}
				if bytes.Contains(js, []byte("names.join(")) {
					t.Error("app.js joins the names into one text, where one name's direction runs into the next")
				}
			},
		},
		{
			name: "11 the room client follows no redirect to another port",
			run: func(t *testing.T) {
				var leaked atomic.Value
				leaked.Store("")
				elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					leaked.Store(r.Header.Get("Authorization"))
					io.WriteString(w, `{"name":"Ada","id":"0123456789abcdef","secret":"x"}`)
				}))
				defer elsewhere.Close()
				hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
				}))
				defer hs.Close()
				c, _ := NewClient(hs.URL, "")
				_, err := c.Join(context.Background(), jtok, JoinRequest{Name: "Ada"})
				want := "the room redirected to " + strings.Replace(elsewhere.URL, "http://", "http://", 1) + ", not itself (" + hs.URL + "): refused, the request carries your token"
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("join through a redirect: %v", err)
				}
				if got := leaked.Load().(string); got != "" {
					t.Errorf("the other port got %q", got)
				}
				err = c.Send(context.Background(), &State{ID: "0123456789abcdef", Secret: "s3cret"}, rep(1, "x", "y"))
				if err == nil || leaked.Load().(string) != "" {
					t.Errorf("report through a redirect: %v, the other port got %q", err, leaked.Load())
				}
			},
		},
		{
			name: "11 3000 wrong tokens in a second print a line a second, with a count",
			run: func(t *testing.T) {
				store, _ := OpenStore("")
				log := &lockedBuffer{}
				srv := NewServer(Config{Store: store, InstructorToken: itok, JoinToken: jtok, Log: log, Now: func() time.Time { return t0 }})
				srv.refusalEvery = 300 * time.Millisecond
				start := time.Now()
				for i := range 3000 {
					req := httptest.NewRequest("GET", "/api/learners", nil)
					req.RemoteAddr = fmt.Sprintf("10.0.0.%d:1234", i%250)
					req.Header.Set("Authorization", "Bearer wrong-token")
					srv.ServeHTTP(httptest.NewRecorder(), req)
				}
				periods := int(time.Since(start)/srv.refusalEvery) + 2
				time.Sleep(3 * srv.refusalEvery)
				lines := strings.Split(strings.TrimSpace(log.String()), "\n")
				if len(lines) > periods || len(lines) < 2 {
					t.Fatalf("%d lines for 3000 refusals in %d periods:\n%s", len(lines), periods, log.String())
				}
				if lines[0] != "09:00:00 403 GET /api/learners from 10.0.0.0:1234: wrong instructor token" {
					t.Errorf("first line %q", lines[0])
				}
				shown := 1
				for _, l := range lines[1:] {
					var n int
					if _, err := fmt.Sscanf(l, "09:00:00 %d more refused requests (401/403) in the last 300ms, not shown one by one", &n); err != nil {
						t.Errorf("line %q: %v", l, err)
					}
					shown += n
				}
				if shown != 3000 {
					t.Errorf("the lines count %d refusals, not 3000:\n%s", shown, log.String())
				}
				// Once quiet, the next refusal is shown at once.
				req := httptest.NewRequest("GET", "/api/view", nil)
				srv.ServeHTTP(httptest.NewRecorder(), req)
				if !strings.HasSuffix(log.String(), "401 GET /api/view from 192.0.2.1:1234: no token\n") {
					t.Errorf("after the flood: %q", log.String()[max(0, len(log.String())-200):])
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

// serveStore serves a room of store, its refusals logged to log.
func serveStore(t *testing.T, store *Store, log io.Writer) *httptest.Server {
	t.Helper()
	srv := NewServer(Config{Store: store, InstructorToken: itok, JoinToken: jtok, Log: log, Coalesce: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	go srv.Run(ctx)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { cancel(); hs.Close() })
	return hs
}

// lockedBuffer is a log the server may write from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
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
