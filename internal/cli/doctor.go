package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/internal/report"
	"github.com/kubetutor/kubetutor/steps"
)

// DoctorOptions are the options of `kubetutor doctor`.
type DoctorOptions struct {
	f      *Factory
	Output string
}

func newDoctorCmd(f *Factory) *cobra.Command {
	o := &DoctorOptions{f: f}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check this machine before building the cluster (a preflight)",
		Long: `Check what the components need of this machine, in the spirit of kubeadm's
preflight: root, the binaries and their versions, the ports (free, or held by
the component that should hold them), swap, the cgroup version, whether
oom_score_adj can be lowered, overlayfs, forwarding and bridge sysctls,
iptables, the CNI plugins and containerd's socket. Each finding has a hint.

Warnings (!) do not stop anything: they say which setting the host needs, and
the hint gives its command, or the lesson whose commands write it (kubetutor
show STEP --commands). Exit status: 0 no failure, 1 a failure, 2 the checks
could not run.`,
		Example: `  kubetutor doctor
  kubetutor doctor -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDoctor(cmd.Context(), o) },
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runDoctor(ctx context.Context, o *DoctorOptions) error {
	f := o.f
	if o.Output != "text" && o.Output != "json" {
		return usageErrorf("unknown output format %q: use text or json", o.Output)
	}
	env, err := f.Env()
	if err != nil {
		return asExit2(err)
	}
	defer env.Close()
	res := steps.Evaluate(ctx, env, steps.Doctor())
	rep := steps.Report{Steps: []steps.Result{res}}
	if o.Output == "json" {
		err = report.JSON(f.IO.Out, rep)
	} else {
		err = report.Step(f.IO.Out, res, report.Options{Color: f.IO.Color, Verbose: true})
		if err == nil {
			err = printVariants(ctx, f)
		}
	}
	if err != nil {
		return asExit2(err)
	}
	if code := rep.ExitCode(); code != 0 {
		return silentExit(code)
	}
	return nil
}

// preflight runs doctor's host checks (not the binaries: the tools step
// provides them) before demo mode. A fresh demo needs the components' ports
// free: a port already held, even by the right program, belongs to another
// cluster the demo must not join.
func preflight(ctx context.Context, env *checks.Env, fresh bool) (steps.Result, bool) {
	d := steps.Doctor()
	var cs []checks.Checker
	for _, c := range d.Checks {
		switch c := c.(type) {
		case checks.Binary, checks.ContainerdSocket:
			continue
		case checks.PortFree:
			c.RequireFree = fresh
			cs = append(cs, c)
		default:
			cs = append(cs, c)
		}
	}
	d.Checks = cs
	res := steps.Evaluate(ctx, env, d)
	return res, res.Status == steps.Pass
}
