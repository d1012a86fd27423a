package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubetutor/kubetutor/lessons"
)

// ShowOptions are the options of `kubetutor show`.
type ShowOptions struct {
	f      *Factory
	Lesson string
	Plain  bool
}

func newShowCmd(f *Factory) *cobra.Command {
	o := &ShowOptions{f: f}
	cmd := &cobra.Command{
		Use:   "show [LESSON]",
		Short: "Show a lesson (the current one by default)",
		Long: `Render a lesson for the terminal. Without LESSON, the current lesson (the
welcome before you start). --plain prints the Markdown source.

Lessons: welcome, tools, certs, etcd, apiserver, deployment,
controller-manager, scheduler, containerd, kubelet, cni, troubleshooting.`,
		Example: `  kubetutor show
  kubetutor show scheduler
  kubetutor show troubleshooting --plain > troubleshooting.md`,
		Args:              maxArgs(1),
		ValidArgsFunction: lessonIDCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Lesson = args[0]
			}
			return runShow(o)
		},
	}
	cmd.Flags().BoolVar(&o.Plain, "plain", false, "print the Markdown instead of rendering it")
	return cmd
}

func runShow(o *ShowOptions) error {
	f := o.f
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
		if len(p.Steps) == 0 {
			id = lessons.Welcome
		} else if id == "" {
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
	r, err := f.Renderer()
	if err != nil {
		return err
	}
	s, err := r.Render(l.Markdown)
	if err != nil {
		return err
	}
	return f.IO.Page(s)
}
