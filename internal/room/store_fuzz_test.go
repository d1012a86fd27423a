package room

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubetutor/kubetutor/steps"
)

// FuzzDecodeLearner feeds stored learner records (key, value) to the
// decoder: it never panics, and what it accepts is a record the room could
// have written (its key, a clean name, a SHA-256, one known step each).
func FuzzDecodeLearner(f *testing.F) {
	good := Learner{ID: "0123456789abcdef", Name: "Ada", SecretHash: make([]byte, sha256.Size), Joined: t0, Since: t0, Steps: emptySteps()}
	gb, _ := json.Marshal(good)
	f.Add([]byte(good.ID), gb)
	f.Add([]byte(good.ID), []byte(`{}`))
	f.Add([]byte(good.ID), []byte(`{"id":"0123456789abcdef","name":"Ada","secret_sha256":"AAAA"}`))
	f.Add([]byte(good.ID), []byte(`{"id":"0123456789abcdef","name":" Ada\u0000","secret_sha256":"`+string(make([]byte, 0))+`"}`))
	f.Add([]byte("x"), []byte(`{"id":"x","name":"x"}`))
	f.Add([]byte(good.ID), []byte(`{"id":"0123456789abcdef","name":"Ada","steps":[{"id":"etcd","status":"weird"}]}`))
	f.Add([]byte(good.ID), []byte(`null`))
	f.Add([]byte(good.ID), []byte(`[1,2,3]`))
	f.Add([]byte{}, []byte{0xff, 0xfe})
	withDrill := good
	withDrill.Drill = &DrillStatus{ID: "node-tainted", State: DrillSolved, Started: t0, FixSeconds: 60, Heard: t0}
	wb, _ := json.Marshal(withDrill)
	f.Add([]byte(good.ID), wb)
	f.Add([]byte(good.ID), []byte(strings.Replace(string(wb), `"solved"`, `"won"`, 1)))
	f.Add([]byte(good.ID), []byte(strings.Replace(string(wb), `"node-tainted"`, `"gone-drill"`, 1)))
	f.Add([]byte(good.ID), []byte(strings.Replace(string(wb), `"fix_seconds":60`, `"fix_seconds":-60`, 1)))
	f.Add([]byte(good.ID), []byte(strings.Replace(string(wb), `"solved"`, `"on"`, 1)))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		l, err := decodeLearner(key, value)
		if err != nil {
			return
		}
		if l.ID != string(key) || !validID(l.ID) {
			t.Fatalf("accepted id %q under key %q", l.ID, key)
		}
		if n, err := CleanName(l.Name); err != nil || n != l.Name {
			t.Fatalf("accepted name %q", l.Name)
		}
		if len(l.SecretHash) != sha256.Size {
			t.Fatalf("accepted a %d-byte secret hash", len(l.SecretHash))
		}
		if len(l.Steps) != len(steps.IDs()) {
			t.Fatalf("%d steps, the course has %d", len(l.Steps), len(steps.IDs()))
		}
		for i, s := range l.Steps {
			if s.ID != steps.IDs()[i] {
				t.Fatalf("step %d is %q", i, s.ID)
			}
		}
		if d := l.Drill; d != nil {
			if !KnownDrill(d.ID) || checkDrillState(d.State, d.FixSeconds) != nil {
				t.Fatalf("accepted the drill %+v", d)
			}
		}
		l.Failing()
		l.At()
		_ = BuildView([]Learner{l}, t0, 0).WithAnnounced("node-tainted")
	})
}

// FuzzOpenStore writes arbitrary bytes as a room's database: opening it
// never panics, hangs or faults, and fails only with a *DamagedError. The
// seeds are a real room, cut short and with bytes flipped.
func FuzzOpenStore(f *testing.F) {
	db := roomDB(f, 40)
	f.Add(db)
	f.Add(db[:len(db)/2])
	f.Add(db[:4096])
	f.Add(db[:100])
	for seed := range 6 {
		f.Add(flip(db, 1000+seed))
	}
	f.Add([]byte("not a database at all"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return // an empty file is a new room
		}
		dir := filepath.Join(t.TempDir(), "room")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, DBFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := OpenStore(dir)
		if err != nil {
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("not reported as damaged: %v", err)
			}
			return
		}
		for _, l := range s.Learners() {
			if l.Name == "" || len(l.SecretHash) != sha256.Size {
				t.Fatalf("loaded a bad learner: %+v", l)
			}
		}
		if err := s.Close(); err != nil {
			t.Logf("close: %v", err)
		}
	})
}
