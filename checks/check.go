// Package checks holds the proofs of the course: small checks, one per fact
// about the live system, each with a stable name. A check that finds the
// world not yet as the step promises returns a failing Result with a hint; a
// Go error means the check could not run at all.
package checks

import (
	"context"
	"fmt"
	"time"
)

// Status is a check's verdict.
type Status string

const (
	// Pass means the fact holds.
	Pass Status = "pass"
	// Fail means the fact does not hold (yet); the hint says what to do.
	Fail Status = "fail"
	// Error means the check could not run.
	Error Status = "error"
	// Warn means the fact holds well enough to go on, with a caveat worth
	// reading (doctor's verdicts on the host, mostly).
	Warn Status = "warn"
)

// Checker proves one fact about the world. Implementations are small structs
// that hold their settings; Name is stable (people script against it).
type Checker interface {
	Name() string
	Check(ctx context.Context, env *Env) (Result, error)
}

// Result is what a check saw.
type Result struct {
	// Name is the checker's Name, filled in by the runner.
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Message explains the verdict in one or two sentences.
	Message string `json:"message"`
	// Observed and Expected say what the check saw and what the step promises.
	Observed string `json:"observed,omitempty"`
	Expected string `json:"expected,omitempty"`
	// Hint names the next action when the check fails.
	Hint string `json:"hint,omitempty"`
	// Details are extra facts worth showing (versions, object names).
	Details []string `json:"details,omitempty"`
	// Duration is how long the check took.
	Duration time.Duration `json:"-"`
}

// Passed reports whether the result lets the step pass: a pass or a warning.
func (r Result) Passed() bool { return r.Status == Pass || r.Status == Warn }

func passf(format string, a ...any) Result {
	return Result{Status: Pass, Message: fmt.Sprintf(format, a...)}
}

func warnf(format string, a ...any) Result {
	return Result{Status: Warn, Message: fmt.Sprintf(format, a...)}
}

func failf(format string, a ...any) Result {
	return Result{Status: Fail, Message: fmt.Sprintf(format, a...)}
}

func (r Result) hint(format string, a ...any) Result {
	r.Hint = fmt.Sprintf(format, a...)
	return r
}

func (r Result) saw(observed, expected string) Result {
	r.Observed, r.Expected = observed, expected
	return r
}

func (r Result) detail(format string, a ...any) Result {
	r.Details = append(r.Details, fmt.Sprintf(format, a...))
	return r
}

// Run runs one check with the Env's timeout, recovering from panics so that a
// bug in one check is reported as an error instead of crashing the tutor.
func Run(ctx context.Context, env *Env, c Checker) (res Result) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			res = Result{Status: Error, Message: fmt.Sprintf("internal error in check %s: %v", c.Name(), p)}
		}
		res.Name = c.Name()
		res.Duration = time.Since(start)
	}()
	r, err := c.Check(ctx, env)
	if err != nil {
		return Result{Status: Error, Message: fmt.Sprintf("could not run check %s: %v", c.Name(), err)}
	}
	if r.Status == "" {
		r.Status = Fail
	}
	return r
}
