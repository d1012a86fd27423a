package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubetutor/kubetutor/lessons"
)

// HintOptions are the options of `kubetutor hint`.
type HintOptions struct {
	f    *Factory
	Step string
}

func newHintCmd(f *Factory) *cobra.Command {
	o := &HintOptions{f: f}
	cmd := &cobra.Command{
		Use:   "hint [STEP]",
		Short: "Reveal the next hint for a step (the current one by default)",
		Long: `Hints are progressive: each call reveals the next one, from a nudge to the
exact commands (the last hint prints the step's commands for this machine,
as the lesson has them). Revealed hints are remembered per step. It never contacts the
cluster.`,
		Example: `  kubetutor hint
  kubetutor hint scheduler`,
	}
	optionalStep(cmd, &o.Step, func(ctx context.Context) error { return runHint(ctx, o) })
	return cmd
}

func runHint(ctx context.Context, o *HintOptions) error {
	f := o.f
	if ctx == nil {
		ctx = context.Background()
	}
	p, err := f.LoadProgress()
	if err != nil {
		return err
	}
	id := o.Step
	if id == "" {
		id = p.CurrentStep()
		if id == "" {
			fmt.Fprintln(f.IO.Out, "Every step is done or skipped; name a step to see its hints: kubetutor hint STEP")
			return nil
		}
	}
	s, err := lookupStep(id)
	if err != nil {
		return err
	}
	var h string
	var n, total int
	if _, err := f.UpdateProgress(ctx, func(p *lessons.Progress) { h, n, total = p.NextHint(s) }); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.Out, "Hint %d of %d for %s: %s\n", n, total, s.ID, h)
	if n == total {
		// The commands themselves, raw from column 0, ready to paste.
		tags, err := f.hostTags(ctx, "")
		if err != nil {
			return err
		}
		fmt.Fprintf(f.IO.Out, "\n%s", commandsText(s, tags))
	}
	if n < total {
		fmt.Fprintln(f.IO.Out, "(run it again for a more precise hint)")
	}
	return nil
}
