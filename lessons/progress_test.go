package lessons

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/steps"
)

func TestStates(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		marks   map[string]State
		current string
		states  map[string]State
	}{
		{"fresh", nil, "tools", map[string]State{"tools": Current, "certs": Locked, "cni": Locked}},
		{"two done", map[string]State{"tools": Done, "certs": Done}, "etcd", map[string]State{"tools": Done, "certs": Done, "etcd": Current, "apiserver": Locked}},
		{"skip unlocks the next", map[string]State{"tools": Skipped}, "certs", map[string]State{"tools": Skipped, "certs": Current, "etcd": Locked}},
		{"a later done step stays locked behind the current one", map[string]State{"tools": Done, "etcd": Done}, "certs", map[string]State{"certs": Current, "etcd": Locked}},
		{"all done", func() map[string]State {
			m := map[string]State{}
			for _, id := range steps.IDs() {
				m[id] = Done
			}
			return m
		}(), "", map[string]State{"cni": Done}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewProgress()
			for id, st := range tc.marks {
				p.Mark(id, st, now)
			}
			if got := p.CurrentStep(); got != tc.current {
				t.Errorf("CurrentStep = %q, want %q", got, tc.current)
			}
			for id, want := range tc.states {
				if got := p.StateOf(id); got != want {
					t.Errorf("StateOf(%s) = %s, want %s", id, got, want)
				}
			}
		})
	}
}

func TestMarkDoneIsFinal(t *testing.T) {
	p := NewProgress()
	now := time.Now()
	p.Mark("tools", Skipped, now)
	p.Mark("tools", Done, now)
	p.Mark("tools", Skipped, now)
	if got := p.Steps["tools"].State; got != Done {
		t.Fatalf("state %s, want done (a pass replaces a skip, never the reverse)", got)
	}
}

func TestHintsAreProgressive(t *testing.T) {
	s, _, _ := steps.Lookup("scheduler")
	p := NewProgress()
	var got []string
	for i := 0; i < len(s.Hints)+1; i++ {
		h, n, total := p.NextHint(s)
		if total != len(s.Hints) {
			t.Fatalf("total %d", total)
		}
		got = append(got, h)
		if want := min(i+1, total); n != want {
			t.Errorf("call %d: hint number %d, want %d", i+1, n, want)
		}
	}
	if got[len(got)-1] != steps.CommandsHint("scheduler") || got[len(got)-2] != got[len(got)-1] {
		t.Errorf("the last hint must point at the step's commands and repeat: %q", got)
	}
}

func TestStoreRoundTripAndAtomicity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := NewStore(dir)
	p, err := s.Load()
	if err != nil || len(p.Steps) != 0 {
		t.Fatalf("missing file: %v %v", p, err)
	}
	p.Mark("tools", Done, time.Now())
	sched, _, _ := steps.Lookup("scheduler")
	p.NextHint(sched)
	if err := s.Save(p); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	q, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if q.Steps["tools"].State != Done || q.Steps["scheduler"].Hints != 1 {
		t.Errorf("reloaded %+v", q.Steps)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("state dir holds %d entries, want only progress.json (no temp files left)", len(entries))
	}
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := s.Reset(); err != nil {
		t.Errorf("reset twice: %v", err)
	}
	if p, err := s.Load(); err != nil || len(p.Steps) != 0 {
		t.Errorf("after reset: %v %v", p, err)
	}
}

func TestCorruptProgressIsSetAside(t *testing.T) {
	for _, content := range []string{"{not json", `{"version": 99, "steps": {}}`, ""} {
		dir := t.TempDir()
		s := NewStore(dir)
		if err := os.WriteFile(s.Path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := s.Load()
		var corrupt *CorruptError
		if !errors.As(err, &corrupt) {
			t.Fatalf("content %q: error %v, want *CorruptError", content, err)
		}
		if p == nil || len(p.Steps) != 0 {
			t.Errorf("content %q: progress %v, want empty", content, p)
		}
		if _, err := os.Stat(corrupt.MovedTo); err != nil || !strings.HasPrefix(corrupt.MovedTo, s.Path+".corrupt-") {
			t.Errorf("content %q: not moved aside to %s: %v", content, corrupt.MovedTo, err)
		}
		if _, err := os.Stat(s.Path); !os.IsNotExist(err) {
			t.Errorf("content %q: the corrupt file is still in place", content)
		}
		if err := s.Save(p); err != nil {
			t.Errorf("save after corruption: %v", err)
		}
	}
}

func TestDefaultStateDir(t *testing.T) {
	t.Setenv("KUBETUTOR_STATE_DIR", "")
	t.Setenv("XDG_STATE_HOME", "/x/state")
	if got, _ := DefaultStateDir(); got != "/x/state/kubetutor" {
		t.Errorf("XDG: %s", got)
	}
	t.Setenv("KUBETUTOR_STATE_DIR", "/y")
	if got, _ := DefaultStateDir(); got != "/y" {
		t.Errorf("override: %s", got)
	}
}
