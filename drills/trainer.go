package drills

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/steps"
)

// Trainer starts, grades and undoes drills on the cluster its Env sees. What
// it saves (the state, each drill's copies and records) is under Dir, in the
// learner's work directory.
type Trainer struct {
	Env *checks.Env
	// Dir is where the drills keep their records: <work dir>/drills.
	Dir string
	// Now is the clock.
	Now func() time.Time
	// Confirm bounds how long start waits for the fault to take.
	Confirm time.Duration
}

// NewTrainer is a Trainer for the Env's work directory.
func NewTrainer(env *checks.Env) *Trainer {
	return &Trainer{Env: env, Dir: env.Path("drills"), Now: time.Now, Confirm: 45 * time.Second}
}

// State is what the trainer remembers: the drill in progress and each
// drill's record.
type State struct {
	// Active is the drill started and neither solved nor restored.
	Active string             `json:"active,omitempty"`
	Drills map[string]*Record `json:"drills,omitempty"`
}

// Record is one drill's history.
type Record struct {
	Started  time.Time  `json:"started"`
	Solved   *time.Time `json:"solved,omitempty"`
	Restored *time.Time `json:"restored,omitempty"`
	// Hints is how many hints were shown.
	Hints int `json:"hints,omitempty"`
	// Whole is the last step that passed, in order, before the fault: a
	// fix must leave every step up to it passing.
	Whole string `json:"whole,omitempty"`
}

func (t *Trainer) statePath() string { return filepath.Join(t.Dir, "state.json") }

// Load reads the state; a missing file is an empty state.
func (t *Trainer) Load() (*State, error) {
	st := &State{Drills: map[string]*Record{}}
	data, err := fsutil.ReadFile(t.statePath(), fsutil.LimitConfig)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the drills' state: %w", err)
	}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("read the drills' state %s: %w (kubetutor drill reset starts afresh)", t.statePath(), err)
	}
	if st.Drills == nil {
		st.Drills = map[string]*Record{}
	}
	return st, nil
}

func (t *Trainer) save(st *State) error {
	if err := fsutil.MkdirPrivate(t.Dir, "--workdir"); err != nil {
		return fmt.Errorf("the drills' directory: %w", err)
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFile(t.statePath(), append(data, '\n'), 0o600)
}

// Started is what start did: the drill and its checks, failing.
type Started struct {
	Drill  Drill
	Checks steps.Result
}

// Start injects a drill's fault into a cluster that passes the drill's
// After step, after saving what it changes, and confirms that the drill's
// checks now fail; if they do not, it undoes the fault and says so.
func (t *Trainer) Start(ctx context.Context, id string) (*Started, error) {
	d, err := Lookup(id)
	if err != nil {
		return nil, err
	}
	st, err := t.Load()
	if err != nil {
		return nil, err
	}
	if st.Active != "" {
		return nil, fmt.Errorf("drill %s is on: grade it with kubetutor drill status, or undo it with kubetutor drill restore %s, before starting another", st.Active, st.Active)
	}
	whole, err := t.ready(ctx, d)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(t.Dir, d.ID)
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("clear %s: %w", dir, err)
	}
	if err := fsutil.MkdirPrivate(dir, "--workdir"); err != nil {
		return nil, fmt.Errorf("the drill's directory: %w", err)
	}
	// The drill is on before anything changes: killed at any point after
	// this, it leaves the fault (or part of it) with what restore needs.
	rec := &Record{Started: t.Now(), Whole: whole}
	st.Active, st.Drills[d.ID] = d.ID, rec
	if err := t.save(st); err != nil {
		return nil, err
	}
	fault := d.Fault.Fault()
	if err := fault.Inject(ctx, t.Env, dir); err != nil {
		msg, rerr := "nothing had changed", error(nil)
		// A fault saves its record before it changes anything.
		if _, serr := os.Stat(filepath.Join(dir, "fault.json")); serr == nil {
			msg, rerr = fault.Restore(context.WithoutCancel(ctx), t.Env, dir)
		}
		return nil, fmt.Errorf("break the cluster for drill %s: %w%s", d.ID, err, t.abandon(st, d.ID, msg, rerr))
	}
	res, took := t.confirm(ctx, d)
	if !took {
		msg, rerr := fault.Restore(context.WithoutCancel(ctx), t.Env, dir)
		return nil, fmt.Errorf("drill %s's fault did not take within %s: %s%s", d.ID, t.Confirm, passing(res), t.abandon(st, d.ID, msg, rerr))
	}
	// The clock starts when the fault took.
	rec.Started = t.Now()
	if err := t.save(st); err != nil {
		return nil, err
	}
	return &Started{Drill: d, Checks: res}, nil
}

// abandon forgets a drill whose start failed, once its fault is undone,
// and says how the undoing went.
func (t *Trainer) abandon(st *State, id, msg string, err error) string {
	if err != nil {
		return "; undoing it failed too: " + err.Error() + " (kubetutor drill restore " + id + " tries again)"
	}
	delete(st.Drills, id)
	st.Active = ""
	if serr := t.save(st); serr != nil {
		return "; undone: " + msg + " (but the drills' state could not be saved: " + serr.Error() + ")"
	}
	return "; undone: " + msg
}

func passing(res steps.Result) string {
	var names []string
	for _, c := range res.Checks {
		if c.Passed() {
			names = append(names, c.Name+" ("+c.Message+")")
		}
	}
	return "still passing: " + strings.Join(names, "; ")
}

// ready checks that the drill's After step passes and returns the last step
// that passes in order.
func (t *Trainer) ready(ctx context.Context, d Drill) (string, error) {
	rep, err := steps.Run(ctx, t.Env, steps.RunOptions{Mode: steps.Locate})
	if err != nil {
		return "", fmt.Errorf("check the cluster: %w", err)
	}
	_, after, _ := steps.Lookup(d.After)
	_, cur, err := steps.Lookup(rep.Current)
	if rep.Current == "" || err != nil || cur < after {
		where := "no step passes yet"
		if rep.Current != "" {
			where = "the cluster passes up to " + rep.Current
		}
		return "", fmt.Errorf("drill %s needs a cluster that passes the %s step; %s (kubetutor check says what is next)", d.ID, d.After, where)
	}
	return rep.Current, nil
}

// confirm waits until every check of the drill fails.
func (t *Trainer) confirm(ctx context.Context, d Drill) (steps.Result, bool) {
	var res steps.Result
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, t.Confirm, true, func(ctx context.Context) (bool, error) {
		res = t.evaluate(ctx, d)
		for _, c := range res.Checks {
			if c.Passed() {
				return false, nil
			}
		}
		return true, nil
	})
	return res, err == nil
}

func (t *Trainer) evaluate(ctx context.Context, d Drill) steps.Result {
	return steps.Evaluate(ctx, t.Env, steps.Step{ID: d.ID, Title: d.Title, Checks: d.checkers()})
}

// Grade is a drill's verdict.
type Grade struct {
	Drill Drill
	// Checks are the drill's own checks.
	Checks steps.Result
	// Broken are the steps, up to the one that passed before the drill,
	// that fail now.
	Broken []steps.Result
	Solved bool
	// Took is the time from start to the fix, once solved.
	Took time.Duration
}

// Status grades the drill id, or the active one when id is empty: solved
// when its checks pass and every step that passed before it passes again.
func (t *Trainer) Status(ctx context.Context, id string) (*Grade, error) {
	st, err := t.Load()
	if err != nil {
		return nil, err
	}
	d, rec, err := t.started(st, id)
	if err != nil {
		return nil, err
	}
	g := &Grade{Drill: d, Checks: t.evaluate(ctx, d)}
	rep, err := steps.Run(ctx, t.Env, steps.RunOptions{Mode: steps.Every})
	if err != nil {
		return nil, fmt.Errorf("check the cluster: %w", err)
	}
	_, whole, _ := steps.Lookup(rec.Whole)
	for _, r := range rep.Steps {
		if r.Index <= whole && r.Status != steps.Pass {
			g.Broken = append(g.Broken, r)
		}
	}
	g.Solved = g.Checks.Status == steps.Pass && len(g.Broken) == 0
	if g.Solved && rec.Solved == nil && rec.Restored == nil {
		now := t.Now()
		rec.Solved = &now
		st.Active = ""
		if err := t.save(st); err != nil {
			return nil, err
		}
	}
	if rec.Solved != nil {
		g.Took = rec.Solved.Sub(rec.Started)
	}
	return g, nil
}

// started finds a started drill's record: id's, or the active drill's.
func (t *Trainer) started(st *State, id string) (Drill, *Record, error) {
	if id == "" {
		id = st.Active
	}
	if id == "" {
		return Drill{}, nil, errors.New("no drill is on: start one with kubetutor drill start ID (kubetutor drill list)")
	}
	d, err := Lookup(id)
	if err != nil {
		return Drill{}, nil, err
	}
	rec := st.Drills[id]
	if rec == nil {
		return Drill{}, nil, fmt.Errorf("drill %s was never started: kubetutor drill start %s", id, id)
	}
	return d, rec, nil
}

// Restore undoes a started drill's fault from what start saved.
func (t *Trainer) Restore(ctx context.Context, id string) (string, error) {
	st, err := t.Load()
	if err != nil {
		return "", err
	}
	d, rec, err := t.started(st, id)
	if err != nil {
		return "", err
	}
	msg, err := d.Fault.Fault().Restore(ctx, t.Env, filepath.Join(t.Dir, d.ID))
	if err != nil {
		return "", fmt.Errorf("undo drill %s: %w", d.ID, err)
	}
	if rec.Solved == nil {
		now := t.Now()
		rec.Restored = &now
	}
	if st.Active == d.ID {
		st.Active = ""
	}
	return msg, t.save(st)
}

// Reset undoes the drill in progress, if any, and forgets every drill.
func (t *Trainer) Reset(ctx context.Context) (string, error) {
	st, err := t.Load()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		// A state that cannot be read is what reset is for.
		st = &State{}
	}
	var msg string
	if st.Active != "" {
		if msg, err = t.Restore(ctx, st.Active); err != nil {
			return "", err
		}
	}
	if err := os.RemoveAll(t.Dir); err != nil {
		return "", fmt.Errorf("remove %s: %w", t.Dir, err)
	}
	return msg, nil
}

// Hint reveals the next hint of a drill (the active one when id is empty):
// the hint, its number and how many there are.
func (t *Trainer) Hint(id string) (string, int, int, error) {
	st, err := t.Load()
	if err != nil {
		return "", 0, 0, err
	}
	d, rec, err := t.started(st, id)
	if err != nil {
		return "", 0, 0, err
	}
	hints := append(append([]string{}, d.Hints...), d.FixHint())
	if rec.Hints < len(hints) {
		rec.Hints++
	}
	if err := t.save(st); err != nil {
		return "", 0, 0, err
	}
	h := hints[rec.Hints-1]
	// What the learner did shows: say what is seen first.
	if o, ok := d.Fault.Fault().(Observer); ok && rec.Solved == nil && rec.Restored == nil {
		if seen := o.Observe(t.Env, filepath.Join(t.Dir, d.ID)); seen != "" {
			h = seen + " " + h
		}
	}
	return h, rec.Hints, len(hints), nil
}
