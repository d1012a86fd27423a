package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/internal/report"
	"github.com/kubetutor/kubetutor/internal/script"
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
just happened inside the cluster and unlocks the next lesson, which opens when
you choose (the verdict stays on screen until then). Progress is saved, so
"kubetutor start" resumes where you left off.

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

// walkthrough is one run of `kubetutor start`: the course, the learner's
// progress and the cluster the steps are checked against. Each menu action
// is a method; run is the loop that asks for them.
type walkthrough struct {
	ctx  context.Context
	o    *StartOptions
	f    *Factory
	out  io.Writer
	ask  *prompter
	text report.Options

	course   *lessons.Course
	render   *lessons.Renderer
	tags     script.Set
	progress *lessons.Progress
	env      *checks.Env
}

// menu is the walkthrough's question after each lesson, in its order.
var menu = []choice[menuAction]{
	{"Check now", actCheck},
	{"Watch until it passes", actWatch},
	{"Show a hint", actHint},
	{"Show the commands again", actCommands},
	{"Show the lesson again", actLesson},
	{"Skip this step", actSkip},
	{"Quit (progress is saved)", actQuit},
}

func runStart(ctx context.Context, o *StartOptions) error {
	if o.WatchTimeout <= 0 {
		return usageErrorf("--watch-timeout %s: give a positive duration, e.g. --watch-timeout 10m", o.WatchTimeout)
	}
	w, err := newWalkthrough(ctx, o)
	if err != nil {
		return err
	}
	defer w.env.Close()
	return w.run()
}

// newWalkthrough loads what the walkthrough needs; the caller closes its env.
func newWalkthrough(ctx context.Context, o *StartOptions) (*walkthrough, error) {
	f := o.f
	w := &walkthrough{ctx: ctx, o: o, f: f, out: f.IO.Out, ask: newPrompter(ctx, f.IO), text: report.Options{Color: f.IO.Color}}
	var err error
	if w.course, err = lessons.Load(); err != nil {
		return nil, err
	}
	if w.render, err = f.Renderer(); err != nil {
		return nil, err
	}
	if w.tags, err = f.hostTags(ctx, ""); err != nil {
		return nil, err
	}
	w.render.Host = w.tags
	if w.progress, err = f.LoadProgress(); err != nil {
		return nil, err
	}
	if w.env, err = f.Env(); err != nil {
		return nil, err
	}
	return w, nil
}

// run shows the welcome on a first start, then each current step's lesson
// and menu until every step is done or skipped, or the learner quits.
func (w *walkthrough) run() error {
	if len(w.progress.Steps) == 0 {
		if err := w.show(lessons.Welcome); err != nil {
			return err
		}
	}
	for {
		id := w.progress.CurrentStep()
		if id == "" {
			fmt.Fprintln(w.out, "\nEvery step is done or skipped: you built a Kubernetes cluster from its parts.")
			fmt.Fprintln(w.out, "Run `kubetutor check --all` to see it whole, or `kubetutor show troubleshooting` for the common errors.")
			return w.practise()
		}
		s, idx, err := steps.Lookup(id)
		if err != nil {
			return err
		}
		if err := w.show(s.Lesson); err != nil {
			return err
		}
		if quit, err := w.step(s, idx); quit || err != nil {
			return err
		}
	}
}

// step asks what to do with step s until it is done or skipped; quit is
// true when the learner quit.
func (w *walkthrough) step(s steps.Step, idx int) (quit bool, err error) {
	title := fmt.Sprintf("Step %d/%d · %s — what next?", idx+1, len(steps.IDs()), s.Title)
	for {
		act, err := selectOne(w.ask, title, menu)
		if errors.Is(err, errInputClosed) {
			act = actQuit
		} else if err != nil {
			return false, err
		}
		var advanced bool
		switch act {
		case actCheck:
			advanced, err = w.check(s)
		case actWatch:
			advanced, err = w.watch(s)
		case actHint:
			err = w.hint(s)
		case actCommands:
			w.commands(s)
		case actLesson:
			err = w.show(s.Lesson)
		case actSkip:
			advanced, err = w.skip(s)
		case actQuit:
			return true, w.quit()
		}
		if advanced && err == nil && act != actSkip {
			return w.moveOn()
		}
		if advanced || err != nil {
			return false, err
		}
	}
}

// afterPass is the question after a step passed: the verdict and what
// happened inside stay on screen until the learner opens the next lesson,
// which a pager would otherwise cover at once.
var afterPass = []choice[menuAction]{
	{"Open the next lesson", actLesson},
	{"Quit (progress is saved)", actQuit},
}

// moveOn asks, after a pass, whether to open the next lesson; quit is true
// when the learner quits. Without a next step there is nothing to ask: run
// says the course is done.
func (w *walkthrough) moveOn() (quit bool, err error) {
	id := w.progress.CurrentStep()
	if id == "" {
		return false, nil
	}
	ns, idx, err := steps.Lookup(id)
	if err != nil {
		return false, err
	}
	title := fmt.Sprintf("Next: step %d/%d · %s", idx+1, len(steps.IDs()), ns.Title)
	act, err := selectOne(w.ask, title, afterPass)
	if errors.Is(err, errInputClosed) {
		act = actQuit
	} else if err != nil {
		return false, err
	}
	if act == actQuit {
		return true, w.quit()
	}
	return false, nil
}

// show renders lesson id and pages it.
func (w *walkthrough) show(id string) error {
	l, err := w.course.Get(id)
	if err != nil {
		return err
	}
	s, err := w.render.RenderContext(w.ctx, l.Markdown)
	if err != nil {
		return err
	}
	if err := w.f.IO.Page(w.ctx, s); err != nil {
		return err
	}
	// Ctrl-C in the pager reaches kubetutor too: end the walkthrough
	// (progress is saved) rather than go on with a cancelled context.
	return w.ctx.Err()
}

// save applies change to the progress on file, under its lock, and
// continues from the result (a hint revealed in another pane counts).
func (w *walkthrough) save(change func(*lessons.Progress)) error {
	p, err := w.f.UpdateProgress(w.ctx, change)
	if err != nil {
		return fmt.Errorf("save progress: %w", err)
	}
	w.progress = p
	return nil
}

// check evaluates step s once.
func (w *walkthrough) check(s steps.Step) (advanced bool, err error) {
	return w.verdict(s, steps.Evaluate(w.ctx, w.env, s))
}

// watch re-checks step s whenever the cluster changes, until it passes or
// --watch-timeout.
func (w *walkthrough) watch(s steps.Step) (advanced bool, err error) {
	fmt.Fprintf(w.out, "Watching step %s; it re-checks whenever the cluster changes (up to %s).\n", s.ID, w.o.WatchTimeout)
	res, err := steps.Watch(w.ctx, w.env, s, steps.WatchOptions{Timeout: w.o.WatchTimeout})
	if err != nil && w.ctx.Err() != nil {
		return false, w.ctx.Err()
	}
	if err != nil {
		fmt.Fprintf(w.out, "%v\n", err)
	}
	return w.verdict(s, res)
}

// verdict reports a check's result (to the room too); a pass marks step s
// done, explains it and names the step it unlocks.
func (w *walkthrough) verdict(s steps.Step, res steps.Result) (advanced bool, err error) {
	w.f.reportToRoom(steps.ReportOf(res), steps.Only)
	fmt.Fprintln(w.out)
	if err := report.Step(w.out, res, w.text); err != nil {
		return false, err
	}
	if res.Status != steps.Pass {
		return false, nil
	}
	if err := w.save(func(p *lessons.Progress) { p.Mark(s.ID, lessons.Done, w.f.Now()) }); err != nil {
		return false, err
	}
	fmt.Fprintf(w.out, "\nWhat just happened: %s\n", s.Passed)
	if id := w.progress.CurrentStep(); id != "" {
		ns, _, _ := steps.Lookup(id)
		fmt.Fprintf(w.out, "Unlocked: %s.\n", ns.Title)
	}
	return true, nil
}

// hint reveals the next hint of step s; with the last come the commands.
func (w *walkthrough) hint(s steps.Step) error {
	var h string
	var n, total int
	if err := w.save(func(p *lessons.Progress) { h, n, total = p.NextHint(s) }); err != nil {
		return err
	}
	fmt.Fprintf(w.out, "\nHint %d of %d: %s\n\n", n, total, h)
	if n == total {
		fmt.Fprintf(w.out, "%s\n", commandsText(s, w.tags))
	}
	return nil
}

// commands prints step s's commands for this machine.
func (w *walkthrough) commands(s steps.Step) {
	// Raw, from column 0: what the learner copies is the lesson's text.
	fmt.Fprintf(w.out, "\nThe commands of %s for this machine (kubetutor show %s --commands):\n\n%s\n", s.ID, s.ID, commandsText(s, w.tags))
}

// skip records step s as skipped once the learner confirms; closed input
// is a no.
func (w *walkthrough) skip(s steps.Step) (advanced bool, err error) {
	ok, err := w.ask.confirm(fmt.Sprintf("Skip step %s? It will be recorded as skipped and the next lesson unlocked.", s.ID))
	if errors.Is(err, errInputClosed) {
		ok = false
	} else if err != nil {
		return false, err
	}
	if !ok {
		return false, nil
	}
	if err := w.save(func(p *lessons.Progress) { p.Mark(s.ID, lessons.Skipped, w.f.Now()) }); err != nil {
		return false, err
	}
	fmt.Fprintf(w.out, "Skipped %s.\n\n", s.ID)
	return true, nil
}

// quit saves the progress and says how to resume.
func (w *walkthrough) quit() error {
	if err := w.save(nil); err != nil {
		return err
	}
	fmt.Fprintln(w.out, "\nProgress saved. Run `kubetutor start` to continue where you left off.")
	return nil
}
