package lessons

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/kubetutor/kubetutor/internal/fsutil"
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
	// A hand-edited count (negative, or past the last) is clamped.
	n = total
	if sp.Hints < total {
		n = max(sp.Hints, 0) + 1
	}
	sp.Hints = n
	p.Steps[s.ID] = sp
	return s.Hints[n-1], n, total
}

// Store keeps progress in a file.
type Store struct {
	Path string
}

// StateDirFlags names how a learner chooses the state directory, for
// messages.
const StateDirFlags = "--state-dir DIR or KUBETUTOR_STATE_DIR"

// ErrNoStateDir says no state directory could be found: no HOME and no home
// directory in the user database.
var ErrNoStateDir = errors.New("no state directory: HOME is not set and the user database gives no home directory; set " + StateDirFlags + " to a directory of your own")

// DefaultStateDir is $KUBETUTOR_STATE_DIR, else $XDG_STATE_HOME/kubetutor,
// else ~/.local/state/kubetutor, with ~ from $HOME or else from the user
// database. There is no shared fallback (such as a fixed name under /tmp,
// which another user could create first): without a home it is an error.
func DefaultStateDir() (string, error) {
	if d := os.Getenv("KUBETUTOR_STATE_DIR"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "kubetutor"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = passwdHome()
	}
	if home == "" {
		return "", ErrNoStateDir
	}
	return filepath.Join(home, ".local", "state", "kubetutor"), nil
}

// passwdHome is the effective user's home directory from the user database
// (getpwuid, /etc/passwd), or "" when it names none that exists.
func passwdHome() string {
	u, err := user.LookupId(strconv.Itoa(os.Geteuid()))
	if err != nil || u.HomeDir == "" || u.HomeDir == "/" || !filepath.IsAbs(u.HomeDir) {
		return ""
	}
	if fi, err := os.Stat(u.HomeDir); err != nil || !fi.IsDir() {
		return ""
	}
	return u.HomeDir
}

// checkDir checks that the state directory, if it exists, is the user's
// own and not writable by others: progress and the room's secret are kept
// there, and another user's directory could hold links to files of theirs.
func (s *Store) checkDir() error {
	err := fsutil.CheckPrivateDir(filepath.Dir(s.Path), StateDirFlags)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("the state directory: %w", err)
	}
	return nil
}

// mkdir creates the state directory 0700 if it is missing and checks it.
func (s *Store) mkdir() error {
	if err := fsutil.MkdirPrivate(filepath.Dir(s.Path), StateDirFlags); err != nil {
		return fmt.Errorf("the state directory: %w", err)
	}
	return nil
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
// moved aside and reported with a *CorruptError alongside empty progress. A
// path that is not a regular file (a FIFO, a device, a directory) is an
// error and is left alone.
func (s *Store) Load() (*Progress, error) {
	if err := s.checkDir(); err != nil {
		return nil, err
	}
	data, err := fsutil.ReadFile(s.Path, fsutil.LimitProgress)
	if errors.Is(err, os.ErrNotExist) {
		return NewProgress(), nil
	}
	if err != nil && !errors.Is(err, fsutil.ErrTooLarge) {
		return nil, fmt.Errorf("read progress file: %w", err)
	}
	p := NewProgress()
	if err == nil {
		err = json.Unmarshal(data, p)
		if err == nil && p.Version != progressVersion {
			err = fmt.Errorf("unknown version %d", p.Version)
		}
	}
	if err != nil {
		moved := fmt.Sprintf("%s.corrupt-%s", s.Path, time.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(s.Path, moved); rerr != nil {
			return nil, fmt.Errorf("set aside unreadable progress file %s: %w", s.Path, rerr)
		}
		return NewProgress(), &CorruptError{Path: s.Path, MovedTo: moved, Err: err}
	}
	p.sanitize()
	return p, nil
}

// sanitize drops what a hand-edited file may hold but kubetutor never
// writes: negative hint counts, unknown states.
func (p *Progress) sanitize() {
	if p.Steps == nil {
		p.Steps = map[string]StepProgress{}
	}
	for id, sp := range p.Steps {
		if sp.Hints < 0 {
			sp.Hints = 0
		}
		if sp.State != Done && sp.State != Skipped {
			sp.State = ""
		}
		p.Steps[id] = sp
	}
}

// Save writes progress atomically: a temporary file in the same directory,
// synced, then renamed over the old one. The directory must be the user's
// own (see checkDir). A symlinked progress file the user made stays a
// symlink: its target is written; one another user made is refused.
func (s *Store) Save(p *Progress) error {
	if err := s.mkdir(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encode progress: %w", err)
	}
	if err := fsutil.WriteFile(s.Path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save progress: %w", err)
	}
	return nil
}

// lockPath is the lock file beside the progress file (beside its target,
// for a symlink), so that every kubetutor sharing the file shares the lock.
func (s *Store) lockPath() string {
	real, err := fsutil.Resolve(s.Path)
	if err != nil {
		real = s.Path
	}
	return real + ".lock"
}

// Update applies change to the progress on file and saves the result, under
// an exclusive lock so that concurrent kubetutor runs (check --watch in one
// pane, hint in another) do not lose each other's updates. It waits for the
// lock at most until ctx ends. A corrupt file is reported with a
// *CorruptError alongside the saved progress; change may be nil.
func (s *Store) Update(ctx context.Context, change func(*Progress)) (*Progress, error) {
	if err := s.mkdir(); err != nil {
		return nil, err
	}
	unlock, err := fsutil.Lock(ctx, s.lockPath())
	if err != nil {
		return nil, fmt.Errorf("update progress: %w", err)
	}
	defer unlock()
	p, lerr := s.Load()
	var corrupt *CorruptError
	if lerr != nil && !errors.As(lerr, &corrupt) {
		return nil, lerr
	}
	if change != nil {
		change(p)
	}
	if err := s.Save(p); err != nil {
		return nil, err
	}
	return p, lerr
}

// Reset forgets all progress. A symlinked progress file keeps its link (its
// target gets empty progress); anything else not a regular file is refused.
func (s *Store) Reset() error {
	if err := s.checkDir(); err != nil {
		return err
	}
	fi, err := os.Lstat(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove progress file: %w", err)
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		if err := fsutil.CheckRegular(s.Path); err != nil {
			return fmt.Errorf("reset progress: %w", err)
		}
		return s.Save(NewProgress())
	case !fi.Mode().IsRegular():
		return fmt.Errorf("reset progress: %w; remove it yourself if it is not needed", &fsutil.NotRegularError{Path: s.Path, Kind: fsutil.Kind(fi.Mode())})
	}
	if err := os.Remove(s.Path); err != nil {
		return fmt.Errorf("remove progress file: %w", err)
	}
	return nil
}
