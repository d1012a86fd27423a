package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/internal/report"
	"github.com/kubetutor/kubetutor/lessons"
	"github.com/kubetutor/kubetutor/steps"
)

// CheckOptions are the options of `kubetutor check`.
type CheckOptions struct {
	f *Factory

	Step         string
	All          bool
	Watch        bool
	WatchTimeout time.Duration
	Output       string
	Verbose      bool
}

func newCheckCmd(f *Factory) *cobra.Command {
	o := &CheckOptions{f: f}
	cmd := &cobra.Command{
		Use:   "check [STEP]",
		Short: "Verify the live cluster: where it stands, or one step",
		Long: `Check the live cluster against the course.

Without STEP, kubetutor finds where the cluster stands (the last step, counting
from the first, whose checks all pass) and runs the next step's checks. With
STEP, it runs that step's checks. Every check says what it observed, what it
expected and, when it fails, what to do next.

Exit status: 0 when every checked step passes, 1 when one does not, 2 when the
checks could not run (bad flags, internal error).

` + wrapList("Steps:", steps.IDs(), 80),
		Example: `  # where does the cluster stand, and what is next?
  kubetutor check

  # one step, as JSON
  kubetutor check apiserver -o json

  # wait (through watches) until the scheduler has seen the pods
  kubetutor check scheduler --watch

  # every step
  kubetutor check --all`,
	}
	optionalStep(cmd, &o.Step, func(ctx context.Context) error { return runCheck(ctx, o) })
	fl := cmd.Flags()
	fl.BoolVar(&o.All, "all", false, "check every step")
	fl.BoolVarP(&o.Watch, "watch", "w", false, "wait until the step passes, re-checking whenever the cluster changes")
	fl.DurationVar(&o.WatchTimeout, "watch-timeout", 30*time.Minute, "with --watch, give up after this long")
	fl.StringVarP(&o.Output, "output", "o", "text", "output format: text or json")
	fl.BoolVarP(&o.Verbose, "verbose", "v", false, "show details (versions, names) of passing checks too")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runCheck(ctx context.Context, o *CheckOptions) error {
	f := o.f
	if o.Output != "text" && o.Output != "json" {
		return usageErrorf("unknown output format %q: use text or json", o.Output)
	}
	if o.All && o.Step != "" {
		return usageErrorf("give a STEP or --all, not both")
	}
	if o.WatchTimeout <= 0 {
		return usageErrorf("--watch-timeout %s: give a positive duration, e.g. --watch-timeout 10m", o.WatchTimeout)
	}
	if o.Watch && o.All {
		return usageErrorf("--watch waits for one step; it cannot be combined with --all")
	}
	if o.Step != "" {
		if _, err := lookupStep(o.Step); err != nil {
			return err
		}
	}
	env, err := f.Env()
	if err != nil {
		return asExit2(err)
	}
	defer env.Close()

	opts := steps.RunOptions{Mode: steps.Locate}
	switch {
	case o.All:
		opts.Mode = steps.Every
	case o.Step != "":
		opts.Mode, opts.Step = steps.Only, o.Step
	}
	textOpts := report.Options{Color: f.IO.Color, Located: opts.Mode == steps.Locate, Verbose: o.Verbose}

	if o.Watch {
		return runCheckWatch(ctx, o, env, opts, textOpts)
	}

	rep, err := steps.Run(ctx, env, opts)
	if err != nil {
		return asExit2(fmt.Errorf("run checks: %w", err))
	}
	recordPasses(ctx, f, rep)
	f.reportToRoom(rep, opts.Mode)
	if o.Output == "json" {
		if err := report.JSON(f.IO.Out, rep); err != nil {
			return asExit2(err)
		}
	} else if err := report.Text(f.IO.Out, rep, textOpts); err != nil {
		return asExit2(err)
	}
	if code := rep.ExitCode(); code != 0 {
		return silentExit(code)
	}
	return nil
}

func runCheckWatch(ctx context.Context, o *CheckOptions, env *checks.Env, opts steps.RunOptions, textOpts report.Options) error {
	f := o.f
	id := opts.Step
	if id == "" {
		// Watch the step the cluster is at.
		rep, err := steps.Run(ctx, env, steps.RunOptions{Mode: steps.Locate})
		if err != nil {
			return asExit2(fmt.Errorf("run checks: %w", err))
		}
		next, ok := rep.NextStep()
		if !ok {
			// Nothing to wait for: every step passes.
			if o.Output == "json" {
				return report.JSON(f.IO.Out, rep)
			}
			return report.Text(f.IO.Out, rep, textOpts)
		}
		id = next.ID
	}
	s, err := lookupStep(id)
	if err != nil {
		return err
	}
	if o.Output == "text" {
		fmt.Fprintf(f.IO.ErrOut, "Waiting for step %s (%s) to pass; Ctrl-C to stop.\n", s.ID, s.Title)
	}
	lastMsg := ""
	res, err := steps.Watch(ctx, env, s, steps.WatchOptions{
		Timeout: o.WatchTimeout,
		OnResult: func(r steps.Result) {
			f.reportToRoom(steps.ReportOf(r), steps.Only)
			if o.Output != "text" || r.Status == steps.Pass {
				return
			}
			if c, ok := r.FirstProblem(); ok && c.Message != lastMsg {
				lastMsg = c.Message
				fmt.Fprintf(f.IO.ErrOut, "  … %s: %s\n", c.Name, c.Message)
			}
		},
	})
	rep := steps.ReportOf(res)
	if err != nil {
		if o.Output == "json" && res.ID != "" {
			_ = report.JSON(f.IO.Out, rep)
		}
		var te *steps.TimeoutError
		if errors.As(err, &te) {
			return &ExitError{Code: 1, Err: err}
		}
		return asExit2(err)
	}
	recordPasses(ctx, f, rep)
	if o.Output == "json" {
		return report.JSON(f.IO.Out, rep)
	}
	if err := report.Step(f.IO.Out, res, textOpts); err != nil {
		return err
	}
	if s.Passed != "" {
		fmt.Fprintf(f.IO.Out, "\n%s\n", s.Passed)
	}
	return nil
}

// recordPasses remembers the steps the cluster shows as passed, so the
// walkthrough and `lessons` agree with `check`. Progress is a convenience: a
// failure to save it is reported, never fatal.
func recordPasses(ctx context.Context, f *Factory, rep steps.Report) {
	passed := false
	for _, r := range rep.Steps {
		passed = passed || r.Status == steps.Pass
	}
	if !passed {
		return
	}
	p, err := f.LoadProgress()
	if err != nil {
		fmt.Fprintf(f.IO.ErrOut, "warning: %v\n", err)
		return
	}
	changed := false
	for _, r := range rep.Steps {
		if r.Status == steps.Pass && p.Steps[r.ID].State != lessons.Done {
			changed = true
		}
	}
	if !changed {
		return
	}
	_, err = f.UpdateProgress(ctx, func(p *lessons.Progress) {
		for _, r := range rep.Steps {
			if r.Status == steps.Pass {
				p.Mark(r.ID, lessons.Done, f.Now())
			}
		}
	})
	if err != nil {
		fmt.Fprintf(f.IO.ErrOut, "warning: %v\n", err)
	}
}

func asExit2(err error) error {
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	return &ExitError{Code: 2, Err: err}
}
