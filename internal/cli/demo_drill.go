package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/drills"
	"github.com/kubetutor/kubetutor/internal/demo"
	"github.com/kubetutor/kubetutor/internal/host"
	"github.com/kubetutor/kubetutor/internal/report"
)

// DemoDrillOptions are the options of `kubetutor demo drill`.
type DemoDrillOptions struct {
	demo  *DemoOptions
	Drill drills.Drill
}

func newDemoDrillCmd(f *Factory) *cobra.Command {
	o := &DemoDrillOptions{demo: &DemoOptions{f: f}}
	cmd := &cobra.Command{
		Use:   "drill ID",
		Short: "Run a drill live on the demo's cluster: break it, show the symptom, apply the fix, show it graded",
		Long: `On the cluster the demo built, kubetutor starts the drill (its checks shown
failing, as a learner's drill start shows them), waits for the presenter,
types the drill's fix as its text gives it (for a stopped component, the demo
performs its lesson's commands again), and grades it with drill status until
the drill's checks and every step pass again.`,
		Example: `  sudo kubetutor demo drill node-tainted
  sudo kubetutor demo drill kube-proxy-stopped --auto`,
		Args: exactArgs(1),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return drills.IDs(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := drills.Lookup(args[0])
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			o.Drill = d
			return runDemoDrill(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.demo.Auto, "auto", false, "advance without waiting for the presenter")
	fl.DurationVar(&o.demo.Pause, "pause", 2*time.Second, "with --auto, the pause before the fix")
	fl.StringVar(&o.demo.BinDir, "bin-dir", "", "where the demo takes binaries from when a step is performed again")
	fl.BoolVar(&o.demo.Offline, "offline", false, "load the offline images when a step is performed again")
	fl.DurationVar(&o.demo.StepTimeout, "step-timeout", 2*time.Minute, "how long to wait for the fix to be graded solved")
	return cmd
}

// demoDrill is one run of `demo drill`: the demo's cluster and the trainer.
type demoDrill struct {
	o   *DemoDrillOptions
	l   demo.Layout
	env *checks.Env
	tr  *drills.Trainer
}

func runDemoDrill(ctx context.Context, o *DemoDrillOptions) error {
	f := o.demo.f
	l, err := demoLayout(f)
	if err != nil {
		return err
	}
	env := demoEnv(f, l)
	defer env.Close()
	r := &demoDrill{o: o, l: l, env: env, tr: drills.NewTrainer(env)}
	r.tr.Now = f.Now
	out, dr := f.IO.Out, o.Drill
	fmt.Fprintf(out, "Drill %s: %s. Breaking the cluster…\n", dr.ID, dr.Title)
	st, err := r.tr.Start(ctx, dr.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%s\n\n", strings.TrimSpace(dr.Situation))
	if err := report.Step(out, st.Checks, report.Options{Color: f.IO.Color}); err != nil {
		return err
	}
	if err := r.presenter(ctx, "apply the fix"); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nThe fix: %s\n", strings.TrimSpace(dr.Fix))
	if err := r.fix(ctx); err != nil {
		return err
	}
	return r.grade(ctx)
}

// presenter waits for Enter, or the pause with --auto.
func (r *demoDrill) presenter(ctx context.Context, what string) error {
	f := r.o.demo.f
	if r.o.demo.Auto {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.o.demo.Pause):
			return nil
		}
	}
	fmt.Fprintf(f.IO.Out, "\nPress Enter to %s (Ctrl-C stops; kubetutor drill restore %s undoes the fault).", what, r.o.Drill.ID)
	line := make(chan error, 1)
	go func() {
		_, err := bufio.NewReader(f.IO.In).ReadString('\n')
		line <- err
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-line:
		if err != nil {
			return fmt.Errorf("wait for the presenter: %w", err)
		}
		return nil
	}
}

// fix types the drill's fix blocks, or performs the steps that start the
// stopped component again.
func (r *demoDrill) fix(ctx context.Context) error {
	dr := r.o.Drill
	if dr.Redo != "" {
		return r.restart(ctx, dr.Fault.Stop)
	}
	for _, b := range dr.FixBlocks {
		text := demo.Substitute(r.l, b.Text)
		fmt.Fprintf(r.o.demo.f.IO.Out, "$ %s\n", strings.TrimSpace(strings.ReplaceAll(text, "\n", "\n  ")))
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		cmd := exec.CommandContext(cctx, "bash", "-e", "-c", text)
		cmd.Dir = r.l.WorkDir
		cmd.Env = append(os.Environ(), r.l.ShellEnv()...)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			return fmt.Errorf("the drill's fix failed: %v\n%s", err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// restart performs, with the demo, every step that starts the component.
func (r *demoDrill) restart(ctx context.Context, name string) error {
	render, err := r.o.demo.f.Renderer()
	if err != nil {
		return err
	}
	for _, step := range demo.StartingSteps(name) {
		// The demo performs the step alone, against what runs.
		o := *r.o.demo
		o.Auto, o.Pause, o.From, o.To = true, 0, step, step
		if err := o.newDemo(r.l, r.env, host.Detect(), render.Render).Run(ctx); err != nil {
			return fmt.Errorf("start %s again (the %s step): %w", name, step, err)
		}
	}
	return nil
}

// grade polls drill status until the drill is solved: after a frozen
// component it starts, as the drill's fix says, what gave up its Lease.
func (r *demoDrill) grade(ctx context.Context) error {
	f := r.o.demo.f
	var g *drills.Grade
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, r.o.demo.StepTimeout, true, func(ctx context.Context) (bool, error) {
		if r.o.Drill.Fault.Freeze != "" {
			for _, c := range demo.Components {
				if _, ok := demo.RunningPid(r.l, c.Name); !ok {
					fmt.Fprintf(f.IO.Out, "%s gave up while %s was frozen; starting it again.\n", c.Name, r.o.Drill.Fault.Freeze)
					if err := r.restart(ctx, c.Name); err != nil {
						return false, err
					}
				}
			}
		}
		var err error
		g, err = r.tr.Status(ctx, r.o.Drill.ID)
		return err == nil && g.Solved, err
	})
	if g != nil {
		_ = report.Step(f.IO.Out, g.Checks, report.Options{Color: f.IO.Color})
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("drill %s not solved %s after its fix: %s", r.o.Drill.ID, r.o.demo.StepTimeout, brokenNames(g))
		}
		return err
	}
	fmt.Fprintf(f.IO.Out, "\n%s drill %s.\n\n%s\n", f.IO.ColorScheme().Green("Solved:"), r.o.Drill.ID, strings.TrimSpace(r.o.Drill.Explained))
	return nil
}
