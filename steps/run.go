package steps

import (
	"context"
	"sync"

	"github.com/kubetutor/kubetutor/checks"
)

// Status is a step's verdict.
type Status string

const (
	// Pass means every check of the step passed.
	Pass Status = "pass"
	// Fail means at least one check failed or could not run.
	Fail Status = "fail"
	// Skip means the step was not evaluated.
	Skip Status = "skip"
)

// Result is the verdict on one step.
type Result struct {
	ID     string          `json:"id"`
	Title  string          `json:"title"`
	Status Status          `json:"status"`
	Checks []checks.Result `json:"checks"`
	// Index is the step's 0-based position in the course.
	Index int `json:"-"`
}

// Errored reports whether a check of the step could not run.
func (r Result) Errored() bool {
	for _, c := range r.Checks {
		if c.Status == checks.Error {
			return true
		}
	}
	return false
}

// FirstProblem is the first check that did not pass, if any.
func (r Result) FirstProblem() (checks.Result, bool) {
	for _, c := range r.Checks {
		if !c.Passed() {
			return c, true
		}
	}
	return checks.Result{}, false
}

// Report is the verdict on the course: one Result per step, in order.
type Report struct {
	// Current is the ID of the last step, counting from the first, whose
	// checks all pass; empty when the first step does not pass (or was not
	// evaluated).
	Current string   `json:"current"`
	Steps   []Result `json:"steps"`
}

// Mode says which steps a run evaluates.
type Mode int

const (
	// Locate evaluates steps in order up to and including the first that
	// fails: where the cluster stands, and what is next.
	Locate Mode = iota
	// Every evaluates every step.
	Every
	// Only evaluates the single step named in RunOptions.Step.
	Only
)

// RunOptions select what Run evaluates.
type RunOptions struct {
	Mode Mode
	Step string
}

// Evaluate runs one step's checks through the shared check runner. The
// checks are independent facts, so they run concurrently (the tools step
// starts six programs; the workload checks each ask the API server); the
// results keep the step's order. It is a run of its own: an API server
// found unreachable by an earlier run is asked again.
func Evaluate(ctx context.Context, env *checks.Env, s Step) Result {
	defer env.BeginRun()()
	return evaluateStep(ctx, env, s)
}

// evaluateStep runs one step's checks. Within a run, once the API server did
// not answer in time the checks that need it and start later fail at once
// (checks.Env remembers it) rather than each waiting the full timeout.
func evaluateStep(ctx context.Context, env *checks.Env, s Step) Result {
	_, idx, _ := Lookup(s.ID)
	res := Result{ID: s.ID, Title: s.Title, Index: idx, Status: Pass, Checks: make([]checks.Result, len(s.Checks))}
	var wg sync.WaitGroup
	for i, c := range s.Checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res.Checks[i] = checks.Run(ctx, env, c)
		}()
	}
	wg.Wait()
	for _, r := range res.Checks {
		if !r.Passed() {
			res.Status = Fail
		}
	}
	return res
}

// Run evaluates the course against the live system. It is the one runner:
// check, the walkthrough, --watch and the demo all use it.
func Run(ctx context.Context, env *checks.Env, opts RunOptions) (Report, error) {
	env.SetDefaults()
	defer env.BeginRun()()
	if opts.Mode == Only {
		if _, _, err := Lookup(opts.Step); err != nil {
			return Report{}, err
		}
	}
	all := load()
	var rep Report
	rep.Steps = make([]Result, len(all))
	for i, s := range all {
		rep.Steps[i] = Result{ID: s.ID, Title: s.Title, Index: i, Status: Skip, Checks: []checks.Result{}}
	}
	switch opts.Mode {
	case Only:
		for i, s := range all {
			if s.ID == opts.Step && ctx.Err() == nil {
				rep.Steps[i] = evaluateStep(ctx, env, s)
			}
		}
	default:
		evaluateAll(ctx, env, rep.Steps, opts.Mode == Locate)
	}
	rep.Current = current(rep.Steps)
	return rep, ctx.Err()
}

// evaluateAll evaluates every step into results, in order. The steps are
// independent facts, so they all start at once: a run costs its slowest
// step, not the sum. With untilFailure (locating where the cluster stands),
// the steps after the first that fails are cancelled and stay as they were
// in results (skipped); a failing run then costs no more than its steps up
// to the failure.
func evaluateAll(ctx context.Context, env *checks.Env, results []Result, untilFailure bool) {
	all := load()
	got := make([]Result, len(all))
	cancels := make([]context.CancelFunc, len(all))
	done := make([]chan struct{}, len(all))
	for i, s := range all {
		sctx, cancel := context.WithCancel(ctx)
		cancels[i], done[i] = cancel, make(chan struct{})
		go func() {
			defer close(done[i])
			got[i] = evaluateStep(sctx, env, s)
		}()
	}
	stop := false
	for i := range all {
		if stop || ctx.Err() != nil {
			cancels[i]()
			continue
		}
		<-done[i]
		results[i] = got[i]
		stop = untilFailure && got[i].Status != Pass
	}
	// The cancelled steps end at once; wait, so that none outlives the run.
	for i := range all {
		<-done[i]
		cancels[i]()
	}
}

// ReportOf is the report of a run that evaluated one step: that step's
// result, every other step skipped (as `check STEP` prints it).
func ReportOf(res Result) Report {
	var rep Report
	for i, s := range load() {
		if s.ID == res.ID {
			rep.Steps = append(rep.Steps, res)
			continue
		}
		rep.Steps = append(rep.Steps, Result{ID: s.ID, Title: s.Title, Index: i, Status: Skip, Checks: []checks.Result{}})
	}
	rep.Current = current(rep.Steps)
	return rep
}

func current(results []Result) string {
	cur := ""
	for _, r := range results {
		if r.Status != Pass {
			break
		}
		cur = r.ID
	}
	return cur
}

// Evaluated returns the steps the run evaluated.
func (r Report) Evaluated() []Result {
	var out []Result
	for _, s := range r.Steps {
		if s.Status != Skip {
			out = append(out, s)
		}
	}
	return out
}

// NextStep is the first evaluated step that did not pass.
func (r Report) NextStep() (Result, bool) {
	for _, s := range r.Steps {
		if s.Status == Fail {
			return s, true
		}
	}
	return Result{}, false
}

// ExitCode is 0 when every evaluated step passed, 1 when one failed, 2 when
// a check could not run.
func (r Report) ExitCode() int {
	code := 0
	for _, s := range r.Steps {
		if s.Errored() {
			return 2
		}
		if s.Status == Fail {
			code = 1
		}
	}
	return code
}
