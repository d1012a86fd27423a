package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubetutor/kubetutor/internal/report"
	"github.com/kubetutor/kubetutor/lessons"
	"github.com/kubetutor/kubetutor/steps"
)

// StartOptions are the options of `kubetutor start`.
type StartOptions struct {
	f *Factory

	WatchTimeout time.Duration
}

func newStartCmd(f *Factory) *cobra.Command {
	o := &StartOptions{f: f}
	cmd := &cobra.Command{
		Use:   "start",
		Short: "The workshop walkthrough: lesson, commands, check, next lesson",
		Long: `Walk through the course one step at a time. kubetutor shows the current
lesson, then offers: check now, watch until it passes, show a hint, show the
commands again, skip this step, or quit. When the step passes it explains what
just happened inside the cluster and unlocks the next lesson. Progress is saved,
so "kubetutor start" resumes where you left off.

On a terminal the menu is interactive; otherwise kubetutor asks with numbered
choices on standard input (accessible mode), so it also works in scripts and
with screen readers.`,
		Example: `  kubetutor start
  kubetutor start --workdir ~/cluster --kubeconfig ~/cluster/admin.conf`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStart(cmd.Context(), o)
		},
	}
	cmd.Flags().DurationVar(&o.WatchTimeout, "watch-timeout", defaultStartWatchTimeout, `how long "watch until it passes" waits`)
	return cmd
}

// defaultStartWatchTimeout is how long "watch until it passes" waits.
const defaultStartWatchTimeout = 10 * time.Minute

type menuAction int

const (
	actCheck menuAction = iota
	actWatch
	actHint
	actCommands
	actLesson
	actSkip
	actQuit
)

func runStart(ctx context.Context, o *StartOptions) error {
	f := o.f
	if o.WatchTimeout <= 0 {
		return usageErrorf("--watch-timeout %s: give a positive duration, e.g. --watch-timeout 10m", o.WatchTimeout)
	}
	course, err := lessons.Load()
	if err != nil {
		return err
	}
	render, err := f.Renderer()
	if err != nil {
		return err
	}
	tags, err := f.hostTags(ctx, "")
	if err != nil {
		return err
	}
	render.Host = tags
	progress, err := f.LoadProgress()
	if err != nil {
		return err
	}
	env, err := f.Env()
	if err != nil {
		return err
	}
	defer env.Close()
	ask := newPrompter(ctx, f.IO)
	out := f.IO.Out
	textOpts := report.Options{Color: f.IO.Color}

	show := func(id string) error {
		l, err := course.Get(id)
		if err != nil {
			return err
		}
		s, err := render.Render(l.Markdown)
		if err != nil {
			return err
		}
		if err := f.IO.Page(s); err != nil {
			return err
		}
		// Ctrl-C in the pager reaches kubetutor too: end the walkthrough
		// (progress is saved) rather than go on with a cancelled context.
		return ctx.Err()
	}
	// save applies change to the progress on file, under its lock, and
	// continues from the result (a hint revealed in another pane counts).
	save := func(change func(*lessons.Progress)) error {
		p, err := f.UpdateProgress(ctx, change)
		if err != nil {
			return fmt.Errorf("save progress: %w", err)
		}
		progress = p
		return nil
	}

	if len(progress.Steps) == 0 {
		if err := show(lessons.Welcome); err != nil {
			return err
		}
	}
	for {
		id := progress.CurrentStep()
		if id == "" {
			fmt.Fprintln(out, "\nEvery step is done or skipped: you built a Kubernetes cluster from its parts.")
			fmt.Fprintln(out, "Run `kubetutor check --all` to see it whole, or `kubetutor show troubleshooting` for the common errors.")
			return nil
		}
		s, idx, err := steps.Lookup(id)
		if err != nil {
			return err
		}
		if err := show(s.Lesson); err != nil {
			return err
		}
		advanced := false
		for !advanced {
			title := fmt.Sprintf("Step %d/%d · %s — what next?", idx+1, len(steps.IDs()), s.Title)
			act, err := selectOne(ask, title, []choice[menuAction]{
				{"Check now", actCheck},
				{"Watch until it passes", actWatch},
				{"Show a hint", actHint},
				{"Show the commands again", actCommands},
				{"Show the lesson again", actLesson},
				{"Skip this step", actSkip},
				{"Quit (progress is saved)", actQuit},
			})
			if errors.Is(err, errInputClosed) {
				act = actQuit
			} else if err != nil {
				return err
			}
			switch act {
			case actCheck, actWatch:
				var res steps.Result
				if act == actCheck {
					res = steps.Evaluate(ctx, env, s)
				} else {
					fmt.Fprintf(out, "Watching step %s; it re-checks whenever the cluster changes (up to %s).\n", s.ID, o.WatchTimeout)
					res, err = steps.Watch(ctx, env, s, steps.WatchOptions{Timeout: o.WatchTimeout})
					if err != nil && ctx.Err() != nil {
						return ctx.Err()
					}
					if err != nil {
						fmt.Fprintf(out, "%v\n", err)
					}
				}
				f.reportToRoom(steps.ReportOf(res), steps.Only)
				fmt.Fprintln(out)
				if err := report.Step(out, res, textOpts); err != nil {
					return err
				}
				if res.Status == steps.Pass {
					if err := save(func(p *lessons.Progress) { p.Mark(s.ID, lessons.Done, f.Now()) }); err != nil {
						return err
					}
					fmt.Fprintf(out, "\nWhat just happened: %s\n", s.Passed)
					if next := progress.CurrentStep(); next != "" {
						ns, _, _ := steps.Lookup(next)
						fmt.Fprintf(out, "Unlocked: %s.\n\n", ns.Title)
					}
					advanced = true
				}
			case actHint:
				var h string
				var n, total int
				if err := save(func(p *lessons.Progress) { h, n, total = p.NextHint(s) }); err != nil {
					return err
				}
				fmt.Fprintf(out, "\nHint %d of %d: %s\n\n", n, total, h)
				if n == total {
					fmt.Fprintf(out, "%s\n", commandsText(s, tags))
				}
			case actCommands:
				// Raw, from column 0: what the learner copies is the lesson's text.
				fmt.Fprintf(out, "\nThe commands of %s for this machine (kubetutor show %s --commands):\n\n%s\n", s.ID, s.ID, commandsText(s, tags))
			case actLesson:
				if err := show(s.Lesson); err != nil {
					return err
				}
			case actSkip:
				ok, err := ask.confirm(fmt.Sprintf("Skip step %s? It will be recorded as skipped and the next lesson unlocked.", s.ID))
				if errors.Is(err, errInputClosed) {
					ok = false
				} else if err != nil {
					return err
				}
				if ok {
					if err := save(func(p *lessons.Progress) { p.Mark(s.ID, lessons.Skipped, f.Now()) }); err != nil {
						return err
					}
					fmt.Fprintf(out, "Skipped %s.\n\n", s.ID)
					advanced = true
				}
			case actQuit:
				if err := save(nil); err != nil {
					return err
				}
				fmt.Fprintln(out, "\nProgress saved. Run `kubetutor start` to continue where you left off.")
				return nil
			}
		}
	}
}
