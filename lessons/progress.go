package lessons

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kubetutor/kubetutor/steps"
)

// State is where a lesson stands for the learner.
type State string

// The states of a step lesson.
const (
	Done    State = "done"
	Current State = "current"
	Locked  State = "locked"
	Skipped State = "skipped"
)

// StepProgress is what is recorded for one step.
type StepProgress struct {
	State State     `json:"state,omitempty"` // done or skipped, or empty
	At    time.Time `json:"at,omitzero"`
	// Hints is how many hints were revealed.
	Hints int `json:"hints,omitempty"`
}

// Progress is the learner's progress, by step ID.
type Progress struct {
	Version int                     `json:"version"`
	Steps   map[string]StepProgress `json:"steps"`
}

const progressVersion = 1

// NewProgress is empty progress.
func NewProgress() *Progress {
	return &Progress{Version: progressVersion, Steps: map[string]StepProgress{}}
}

// Mark records a step as done or skipped. Marking a skipped step done
// replaces the skip; a done step stays done.
func (p *Progress) Mark(id string, st State, now time.Time) {
	sp := p.Steps[id]
	if sp.State == Done {
		return
	}
	sp.State, sp.At = st, now
	p.Steps[id] = sp
}

// StateOf is a step's state: done or skipped as recorded; the first step
// not yet done or skipped is current; every later one is locked.
func (p *Progress) StateOf(id string) State {
	for _, sid := range steps.IDs() {
		st := p.Steps[sid].State
		if sid == id {
			if st == Done || st == Skipped {
				return st
			}
			return Current
		}
		if st != Done && st != Skipped {
			return Locked
		}
	}
	return Locked
}

// CurrentStep is the first step not done or skipped, or "" when the course
// is finished.
func (p *Progress) CurrentStep() string {
	for _, id := range steps.IDs() {
		if st := p.Steps[id].State; st != Done && st != Skipped {
			return id
		}
	}
	return ""
}

// NextHint returns the next hint of a step, its 1-based number and the
// total, and records it as revealed. After the last, it repeats the last.
func (p *Progress) NextHint(s steps.Step) (hint string, n, total int) {
	sp := p.Steps[s.ID]
	total = len(s.Hints)
	if total == 0 {
		return "", 0, 0
	}
	n = min(sp.Hints+1, total)
	sp.Hints = n
	p.Steps[s.ID] = sp
	return s.Hints[n-1], n, total
}

// Store keeps progress in a file.
type Store struct {
	Path string
}

// DefaultStateDir is $KUBETUTOR_STATE_DIR, else $XDG_STATE_HOME/kubetutor,
// else ~/.local/state/kubetutor.
func DefaultStateDir() string {
	if d := os.Getenv("KUBETUTOR_STATE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "kubetutor")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "kubetutor-state")
	}
	return filepath.Join(home, ".local", "state", "kubetutor")
}

// NewStore is the progress file in a state directory.
func NewStore(stateDir string) *Store {
	return &Store{Path: filepath.Join(stateDir, "progress.json")}
}

// CorruptError reports a progress file that could not be read and was set
// aside; the learner starts over with empty progress.
type CorruptError struct {
	Path, MovedTo string
	Err           error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("progress file %s was unreadable (%v); it was moved to %s and progress starts over", e.Path, e.Err, e.MovedTo)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Load reads progress. A missing file is empty progress. A corrupt file is
// moved aside and reported with a *CorruptError alongside empty progress.
func (s *Store) Load() (*Progress, error) {
	data, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return NewProgress(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read progress file: %w", err)
	}
	p := NewProgress()
	if err := json.Unmarshal(data, p); err != nil || p.Version != progressVersion {
		if err == nil {
			err = fmt.Errorf("unknown version %d", p.Version)
		}
		moved := fmt.Sprintf("%s.corrupt-%s", s.Path, time.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(s.Path, moved); rerr != nil {
			return nil, fmt.Errorf("set aside unreadable progress file %s: %w", s.Path, rerr)
		}
		return NewProgress(), &CorruptError{Path: s.Path, MovedTo: moved, Err: err}
	}
	if p.Steps == nil {
		p.Steps = map[string]StepProgress{}
	}
	return p, nil
}

// Save writes progress atomically: a temporary file in the same directory,
// synced, then renamed over the old one.
func (s *Store) Save(p *Progress) error {
	dir := filepath.Dir(s.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encode progress: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".progress-*.json")
	if err != nil {
		return fmt.Errorf("save progress: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save progress: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save progress: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save progress: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.Path); err != nil {
		return fmt.Errorf("save progress: %w", err)
	}
	return nil
}

// Reset forgets all progress.
func (s *Store) Reset() error {
	if err := os.Remove(s.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove progress file: %w", err)
	}
	return nil
}
