package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubetutor/kubetutor/lessons"
	"github.com/kubetutor/kubetutor/steps"
)

// ShowOptions are the options of `kubetutor show`.
type ShowOptions struct {
	f        *Factory
	Lesson   string
	Plain    bool
	Commands bool
	Variant  string
}

func newShowCmd(f *Factory) *cobra.Command {
	o := &ShowOptions{f: f}
	cmd := &cobra.Command{
		Use:   "show [LESSON]",
		Short: "Show a lesson (the current one by default)",
		Long: `Render a lesson for the terminal. Without LESSON, the current lesson (the
welcome before you start). --plain prints the Markdown source.

--commands prints only the step's commands for this machine, exactly as the
lesson has them, ready to paste: the lesson's blocks that fit this host's
variant (containerd 1.x or 2.x, where the CNI plugins are, systemd or not,
online or offline...). --variant picks other variants than the detected ones.

` + wrapList("Lessons:", lessonNames(), 80),
		Example: `  kubetutor show
  kubetutor show scheduler
  kubetutor show troubleshooting --plain > troubleshooting.md
  kubetutor show etcd --commands
  kubetutor show containerd --commands --variant containerd-2,cni-opt,online`,
		Args:              maxArgs(1),
		ValidArgsFunction: lessonIDCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Lesson = args[0]
			}
			return runShow(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.Plain, "plain", false, "print the Markdown instead of rendering it")
	cmd.Flags().BoolVar(&o.Commands, "commands", false, "print only the step's commands for this machine")
	cmd.Flags().StringVar(&o.Variant, "variant", "", "host variants to show instead of the detected ones, comma-separated (e.g. offline,containerd-2)")
	return cmd
}

func runShow(ctx context.Context, o *ShowOptions) error {
	f := o.f
	if ctx == nil {
		ctx = context.Background()
	}
	if o.Commands && o.Plain {
		return usageErrorf("--commands and --plain exclude each other")
	}
	course, err := lessons.Load()
	if err != nil {
		return err
	}
	id := o.Lesson
	if id == "" {
		p, err := f.LoadProgress()
		if err != nil {
			return err
		}
		id = p.CurrentStep()
		switch {
		case o.Commands && id == "":
			return usageErrorf("every step is done or skipped, so there is no current step: name the step whose commands you want, e.g. kubetutor show %s --commands (steps: %s)",
				steps.IDs()[0], strings.Join(steps.IDs(), ", "))
		case o.Commands:
			// The current step's commands, on a first run too (the
			// welcome has none).
		case len(p.Steps) == 0:
			id = lessons.Welcome
		case id == "":
			id = lessons.Troubleshooting
		}
	}
	l, err := course.Get(id)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	if o.Plain {
		_, err := fmt.Fprint(f.IO.Out, l.Markdown)
		return err
	}
	tags, err := f.hostTags(ctx, o.Variant)
	if err != nil {
		return err
	}
	if o.Commands {
		s, _, err := steps.Lookup(id)
		if err != nil {
			return &ExitError{Code: 2, Err: fmt.Errorf("%s is not a step, it has no commands: give a step, e.g. kubetutor show %s --commands (steps: %s)", id, steps.IDs()[0], strings.Join(steps.IDs(), ", "))}
		}
		_, err = fmt.Fprint(f.IO.Out, commandsText(s, tags))
		return err
	}
	r, err := f.Renderer()
	if err != nil {
		return err
	}
	r.Host = tags
	s, err := r.RenderContext(ctx, l.Markdown)
	if err != nil {
		return err
	}
	return f.IO.Page(ctx, s)
}

// lessonNames are the lessons show renders, in course order: the welcome,
// one per step, and troubleshooting.
func lessonNames() []string {
	return append(append([]string{"welcome"}, steps.IDs()...), "troubleshooting")
}
