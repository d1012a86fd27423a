package room

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/steps"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// rep builds a full report: the given steps pass, the next fails with
// check/message, the rest are skipped.
func rep(passing int, check, message string) Report {
	r := Report{Full: true}
	for i, id := range steps.IDs() {
		s := StepReport{ID: id, Status: steps.Skip}
		switch {
		case i < passing:
			s.Status = steps.Pass
		case i == passing:
			s.Status, s.Check, s.Message, s.Hint = steps.Fail, check, message, "do "+check
		}
		r.Steps = append(r.Steps, s)
	}
	return r
}

func TestStoreJoinAndReport(t *testing.T) {
	s, err := OpenStore("")
	if err != nil {
		t.Fatal(err)
	}
	id, secret, err := s.Join("  Ada  ", "", "", t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Join("Ada", "", "", t0); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("second Ada: got %v, want ErrNameTaken", err)
	}
	// Rejoining with the secret keeps the record, and may rename it.
	id2, secret2, err := s.Join("Ada L.", id, secret, t0)
	if err != nil || id2 != id || secret2 != secret {
		t.Fatalf("rejoin: %q %q %v", id2, secret2, err)
	}
	// A wrong secret does not claim the record: it is a new join, and the
	// name is taken.
	if _, _, err := s.Join("Ada L.", id, "nope", t0); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("claim with a wrong secret: %v", err)
	}
	changed := s.Changed()
	if err := s.Report(id, "wrong", rep(2, "etcd-health", "connection refused"), t0.Add(time.Minute)); !errors.Is(err, ErrBadSecret) {
		t.Fatalf("wrong secret: %v", err)
	}
	if err := s.Report("nobody", secret, rep(2, "x", "y"), t0); !errors.Is(err, ErrUnknownLearner) {
		t.Fatalf("unknown learner: %v", err)
	}
	select {
	case <-changed:
		t.Fatal("a refused report changed the room")
	default:
	}
	ls := s.Learners()
	if len(ls) != 1 || ls[0].Current != "" || !ls[0].Updated.IsZero() {
		t.Fatalf("refused reports changed the record: %+v", ls)
	}
	if err := s.Report(id, secret, rep(2, "etcd-health", "connection refused"), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("a report did not signal a change")
	}
	l := s.Learners()[0]
	if l.Name != "Ada L." || l.Current != "certs" || l.At() != "etcd" || !l.Since.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after a report: %+v", l)
	}
	if f, ok := l.Failing(); !ok || f.Check != "etcd-health" || f.Hint != "do etcd-health" {
		t.Fatalf("failing: %+v %v", f, ok)
	}
}

func TestApplyMerges(t *testing.T) {
	only := func(id string, st steps.Status, check string) Report {
		return Report{Steps: []StepReport{{ID: id, Status: st, Check: check}}}
	}
	tests := []struct {
		name     string
		reports  []Report
		current  string
		at       string
		statuses map[string]steps.Status
	}{
		{"nothing", nil, "", "tools", map[string]steps.Status{"tools": steps.Skip}},
		{"full", []Report{rep(3, "c", "m")}, "etcd", "apiserver", map[string]steps.Status{"etcd": steps.Pass, "apiserver": steps.Fail, "deployment": steps.Skip}},
		{"a single step keeps the rest", []Report{rep(3, "c", "m"), only("apiserver", steps.Pass, "")}, "apiserver", "deployment",
			map[string]steps.Status{"etcd": steps.Pass, "apiserver": steps.Pass, "deployment": steps.Skip}},
		{"a skipped step in a partial report changes nothing", []Report{rep(3, "c", "m"), only("etcd", steps.Skip, "")}, "etcd", "apiserver", nil},
		{"a full report replaces", []Report{rep(5, "c", "m"), rep(1, "d", "n")}, "tools", "certs",
			map[string]steps.Status{"etcd": steps.Skip, "certs": steps.Fail}},
		{"a later failure is the one shown when earlier steps are unknown", []Report{only("tools", steps.Pass, ""), only("etcd", steps.Fail, "etcd-health")}, "tools", "etcd",
			map[string]steps.Status{"certs": steps.Skip}},
		{"all done", []Report{rep(len(steps.IDs()), "", "")}, lastStep(), "", map[string]steps.Status{lastStep(): steps.Pass}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &Learner{Steps: emptySteps(), Since: t0}
			for i, r := range tt.reports {
				l.apply(r, t0.Add(time.Duration(i+1)*time.Minute))
			}
			if l.Current != tt.current || l.At() != tt.at {
				t.Errorf("current %q at %q, want %q %q", l.Current, l.At(), tt.current, tt.at)
			}
			for id, want := range tt.statuses {
				for _, s := range l.Steps {
					if s.ID == id && s.Status != want {
						t.Errorf("step %s is %s, want %s", id, s.Status, want)
					}
				}
			}
			if len(l.Steps) != len(steps.IDs()) {
				t.Errorf("%d steps", len(l.Steps))
			}
		})
	}
}

func TestSinceMovesOnlyWithCurrent(t *testing.T) {
	l := &Learner{Steps: emptySteps(), Since: t0}
	l.apply(rep(2, "a", "b"), t0.Add(time.Minute))
	l.apply(rep(2, "a", "other message"), t0.Add(5*time.Minute))
	if !l.Since.Equal(t0.Add(time.Minute)) || !l.Updated.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("since %v updated %v", l.Since, l.Updated)
	}
	if !Stuck(l, t0.Add(11*time.Minute), 10*time.Minute) || Stuck(l, t0.Add(10*time.Minute), 0) || Stuck(l, t0.Add(9*time.Minute), 10*time.Minute) {
		t.Fatal("stuck after 10 minutes on one step, not before, never with 0")
	}
	l.apply(rep(len(steps.IDs()), "", ""), t0.Add(time.Hour))
	if Stuck(l, t0.Add(5*time.Hour), 10*time.Minute) {
		t.Fatal("a learner who is done is not stuck")
	}
}

func TestStorePersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "room")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	id, secret, err := s.Join("Grace", "", "", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Report(id, secret, rep(4, "apiserver-ready", "503"), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A rename right after a report is not undone by the report's
	// background write.
	if _, _, err := s.Join("Grace H.", id, secret, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Join("Grace", id, secret, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta("join-token", "abcdefgh"); err != nil {
		t.Fatal(err)
	}
	// A second server on the same data is refused while the first runs.
	if _, err := OpenStore(dir); err == nil {
		t.Fatal("a second store opened the same data")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, DBFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("db file: %v %v", fi, err)
	}
	s, err = OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ls := s.Learners()
	if len(ls) != 1 || ls[0].Name != "Grace" || ls[0].Current != "apiserver" || ls[0].Seq != 3 {
		t.Fatalf("after reopening: %+v", ls)
	}
	if s.Meta("join-token") != "abcdefgh" {
		t.Fatal("meta lost")
	}
	// The secret survived as its hash: the learner reports on.
	if err := s.Report(id, secret, rep(5, "x", "y"), t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Report(id, "wrong", rep(5, "x", "y"), t0); !errors.Is(err, ErrBadSecret) {
		t.Fatal(err)
	}
	if _, _, err := s.Join("Grace", "", "", t0); !errors.Is(err, ErrNameTaken) {
		t.Fatal("names are kept too")
	}
}

func TestCleanName(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"Ada", "Ada", true},
		{"  Ada Lovelace ", "Ada Lovelace", true},
		{"<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>", true},
		{"Zoë 🚀", "Zoë 🚀", true},
		{"", "", false},
		{"   ", "", false},
		{"a\nb", "", false},
		{"a\x1b[31mb", "", false},
		{"\xff", "", false},
		{string(make([]rune, 0)) + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "", false},
	} {
		got, err := CleanName(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("CleanName(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestRandomTokens(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok := RandomToken()
		if len(tok) != 32 || seen[tok] {
			t.Fatalf("token %q", tok)
		}
		seen[tok] = true
	}
}

func TestRoomFull(t *testing.T) {
	s, _ := OpenStore("")
	for i := range MaxLearners {
		if _, _, err := s.Join(fmt.Sprint("learner ", i), "", "", t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Join("one more", "", "", t0); !errors.Is(err, ErrRoomFull) {
		t.Fatalf("join past the limit: %v", err)
	}
}

// lastStep is the course's last step ID.
func lastStep() string { ids := steps.IDs(); return ids[len(ids)-1] }
