package room

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

func TestStateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if st, err := LoadState(dir); st != nil || err != nil {
		t.Fatalf("no room: %v %v", st, err)
	}
	want := &State{URL: "http://10.0.0.1:7077", Name: "Ada", ID: "abc", Secret: "s3cret"}
	if err := SaveState(dir, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, StateFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", fi.Mode(), err)
	}
	got, err := LoadState(dir)
	if err != nil || *got != *want {
		t.Fatalf("%+v %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	if err := os.WriteFile(filepath.Join(dir, StateFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadState(dir); err == nil || !strings.Contains(err.Error(), "room leave") {
		t.Fatalf("corrupt: %v", err)
	}
	if left, err := RemoveState(dir); !left || err != nil {
		t.Fatal(left, err)
	}
	if left, err := RemoveState(dir); left || err != nil {
		t.Fatal(left, err)
	}
}

func TestParseJoinURL(t *testing.T) {
	fp := strings.Repeat("ab", 32)
	for _, tt := range []struct {
		in   string
		want JoinURL
		ok   bool
	}{
		{"http://10.0.0.1:7077/?token=abc", JoinURL{Base: "http://10.0.0.1:7077", Token: "abc"}, true},
		{" https://room.local:7077?token=abc&fingerprint=" + strings.ToUpper(fp), JoinURL{Base: "https://room.local:7077", Token: "abc", Fingerprint: fp}, true},
		{"http://10.0.0.1:7077/", JoinURL{}, false},
		{"ftp://x/?token=a", JoinURL{}, false},
		{"10.0.0.1:7077?token=a", JoinURL{}, false},
		{"http://x/?token=a&fingerprint=zz", JoinURL{}, false},
	} {
		got, err := ParseJoinURL(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseJoinURL(%q) = %+v, %v", tt.in, got, err)
		}
	}
}

// TestSenderDeadRoom: a room that accepts connections and never answers
// holds the sender for at most SendTimeout, and Wait returns by its bound.
func TestSenderDeadRoom(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // never answers
		}
	}()
	s, err := NewSender(&State{URL: "http://" + ln.Addr().String(), ID: "a", Secret: "b"})
	if err != nil {
		t.Fatal(err)
	}
	s.Send(rep(1, "x", "y"))
	done := make(chan struct{})
	go func() { s.Wait(time.Hour); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the sender never gave up on a silent room")
	}
	if err := s.Err(); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
}

func TestSenderSendsNewest(t *testing.T) {
	hs, store := newTestServer(t, "")
	ada := joinAs(t, hs.URL, "Ada")
	s, err := NewSender(&State{URL: hs.URL, ID: ada.ID, Secret: ada.Secret})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		s.Send(rep(i, "c", "m"))
	}
	s.Wait(time.Minute)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if l := store.Learners()[0]; l.Current != "apiserver" {
		t.Fatalf("current %q, want the newest report's (apiserver)", l.Current)
	}
}

// TestPinnedTLS: a client pinned to the room's certificate talks to it; one
// pinned to another certificate refuses, before sending anything.
func TestPinnedTLS(t *testing.T) {
	store, _ := OpenStore("")
	hs := httptest.NewUnstartedServer(NewServer(Config{Store: store, InstructorToken: itok, JoinToken: jtok}))
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	hs.StartTLS()
	defer hs.Close()
	cert := hs.TLS.Certificates[0].Certificate[0]
	good, err := NewClient(hs.URL, Fingerprint(cert))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := good.Join(context.Background(), jtok, JoinRequest{Name: "Ada"}); err != nil {
		t.Fatal(err)
	}
	bad, _ := NewClient(hs.URL, strings.Repeat("00", 32))
	_, err = bad.Join(context.Background(), jtok, JoinRequest{Name: "Eve"})
	if err == nil || !strings.Contains(err.Error(), "not the instructor's room") {
		t.Fatalf("wrong pin: %v", err)
	}
	if _, err := NewClient(hs.URL, ""); err == nil {
		t.Fatal("an https room without a fingerprint")
	}
	if n := len(store.Learners()); n != 1 {
		t.Fatalf("%d learners", n)
	}
}

func FuzzParseJoinURL(f *testing.F) {
	f.Add("http://10.0.0.1:7077/?token=abc")
	f.Add("https://h:1/?token=a&fingerprint=" + strings.Repeat("AB:", 31) + "AB")
	f.Add("%zz")
	f.Fuzz(func(t *testing.T, raw string) {
		j, err := ParseJoinURL(raw)
		if err != nil {
			return
		}
		if j.Token == "" || !(strings.HasPrefix(j.Base, "http://") || strings.HasPrefix(j.Base, "https://")) {
			t.Fatalf("%q gave %+v", raw, j)
		}
	})
}

func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"Ada", "<img src=x onerror=alert(1)>", "a\nb", "\xff", " x ",
		"Carol\u202e", "\u2066x\u2069", "A\u200bda", "\ufeffAda", "\u0410da", "Zoe\u0308", "❤️ Ada", "Ａｄａ", "\u3164", "ß", "İ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, err := CleanName(in)
		if err != nil {
			return
		}
		if n == "" || len([]rune(n)) > MaxNameRunes || strings.TrimSpace(n) != n {
			t.Fatalf("%q gave %q", in, n)
		}
		if again, err := CleanName(n); err != nil || again != n {
			t.Fatalf("not idempotent: %q", n)
		}
		if !norm.NFC.IsNormalString(n) || strings.Contains(n, "  ") {
			t.Fatalf("%+q gave %+q: not NFC with single spaces", in, n)
		}
		for _, r := range n {
			if isBidiControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsControl(r) || (unicode.IsSpace(r) && r != ' ') {
				t.Fatalf("%+q gave %+q, which holds %U", in, n, r)
			}
		}
		if s, err := storedName(n); err != nil || s != n {
			t.Fatalf("a clean name %+q is not kept as stored: %+q, %v", n, s, err)
		}
		// The same name: its key does not change with case or composition.
		k := nameKey(n)
		if k == "" || nameKey(strings.ToLower(n)) != nameKey(cases.Fold().String(strings.ToLower(n))) || nameKey(norm.NFD.String(n)) != k {
			t.Fatalf("%+q: key %+q", n, k)
		}
		if l, err := CleanName(strings.ToUpper(n)); err == nil && cases.Fold().String(l) == cases.Fold().String(n) && nameKey(l) != k {
			t.Fatalf("%+q and %+q fold alike but have keys %+q and %+q", n, l, k, nameKey(l))
		}
	})
}

func FuzzReport(f *testing.F) {
	f.Add(mustJSON(rep(3, "c", "m")))
	f.Add(`{"steps":[{"id":"tools","status":"pass"}]}`)
	f.Add(`{"full":true,"steps":null}`)
	f.Add(`{"steps":[],"drill":{"id":"scheduler-stopped","state":"on","seconds":90}}`)
	f.Add(`{"steps":[],"drill":{"id":"scheduler-stopped","state":"solved","seconds":90,"fix_seconds":80}}`)
	f.Add(`{"steps":[],"drill":{"id":"scheduler-stopped","state":"restored","seconds":2592000}}`)
	f.Add(`{"steps":[],"drill":{"id":"scheduler-stopped","state":"on","seconds":-1}}`)
	f.Add(`{"steps":[],"drill":{"id":"scheduler-stopped","state":"solved","seconds":9,"fix_seconds":10}}`)
	f.Add(`{"steps":[],"drill":{"id":"../etc/passwd","state":"on"}}`)
	f.Add(`{"steps":[],"drill":{"id":"scheduler-stopped","state":"on","seconds":1e300}}`)
	f.Add(`{"steps":[],"drill":null}`)
	f.Fuzz(func(t *testing.T, body string) {
		var r Report
		if json.Unmarshal([]byte(body), &r) != nil || r.Validate() != nil {
			return
		}
		l := &Learner{Steps: emptySteps()}
		l.apply(r, t0)
		if len(l.Steps) != len(emptySteps()) {
			t.Fatal("the record lost its steps")
		}
		if d := r.Drill; d != nil {
			if l.Drill == nil || l.Drill.ID != d.ID || l.Drill.State != d.State || l.Drill.FixSeconds != d.FixSeconds || !KnownDrill(d.ID) ||
				d.Seconds < 0 || d.Seconds > MaxDrillSeconds || d.FixSeconds > d.Seconds {
				t.Fatalf("took the drill %+v as %+v", d, l.Drill)
			}
			if _, err := storedDrill(l.Drill); err != nil {
				t.Fatalf("kept a drill the room could not read back: %v", err)
			}
		}
		_ = BuildView([]Learner{*l}, t0, time.Minute).WithAnnounced("scheduler-stopped")
	})
}
