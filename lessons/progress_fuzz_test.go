package lessons

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/steps"
)

// FuzzProgressFile loads a fuzzed progress file and uses the result as every
// command does: states, the current step, a hint per step, a mark, a save
// and a reload. Nothing may panic, and what was saved must load again.
func FuzzProgressFile(f *testing.F) {
	for _, s := range []string{
		`{"version":1,"steps":{}}`,
		`{"version":1,"steps":{"tools":{"state":"done","at":"2026-11-25T12:00:00Z","hints":2}}}`,
		`{"version":1,"steps":{"tools":{"hints":-1}}}`,
		`{"version":1,"steps":{"tools":{"hints":9223372036854775807},"certs":{"state":"bogus"}}}`,
		`{"version":2}`,
		`{"version":1,"steps":null}`,
		`{"version":1,"steps":{"":{"state":"skipped"}}}`,
		`[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		s := NewStore(dir)
		if err := os.WriteFile(s.Path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := s.Load()
		if p == nil {
			if err == nil {
				t.Fatal("no progress and no error")
			}
			return
		}
		_ = p.CurrentStep()
		for _, id := range steps.IDs() {
			_ = p.StateOf(id)
			st, _, _ := steps.Lookup(id)
			if _, n, total := p.NextHint(st); total > 0 && (n < 1 || n > total) {
				t.Fatalf("hint %d of %d", n, total)
			}
		}
		p.Mark(steps.IDs()[0], Done, time.Unix(0, 0))
		if _, err := s.Update(context.Background(), func(q *Progress) { *q = *p }); err != nil {
			t.Fatalf("save: %v", err)
		}
		if _, err := s.Load(); err != nil {
			t.Fatalf("what was saved does not load: %v", err)
		}
		_ = filepath.Join
	})
}
