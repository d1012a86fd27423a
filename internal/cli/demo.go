package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/demo"
	"github.com/kubetutor/kubetutor/internal/host"
	"github.com/kubetutor/kubetutor/internal/proc"
	"github.com/kubetutor/kubetutor/internal/report"
	"github.com/kubetutor/kubetutor/steps"
)

// DemoOptions are the options of `kubetutor demo`.
type DemoOptions struct {
	f *Factory

	Auto        bool
	Pause       time.Duration
	From, To    string
	Offline     bool
	Online      bool
	BinDir      string
	StepTimeout time.Duration

	SkipPreflight bool
	SlowHost      bool
}

const defaultDemoDir = "kubetutor-demo"

func newDemoCmd(f *Factory) *cobra.Command {
	o := &DemoOptions{f: f}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Instructor mode: kubetutor builds the cluster itself, live, step by step",
		Long: `Perform every step of the talk on this machine while the audience watches:
certificates, etcd, kube-apiserver, the Deployment, kube-controller-manager,
kube-scheduler, containerd, the kubelet and CNI; then act two: kubectl logs and
exec, a Service, kube-proxy, CoreDNS and cluster DNS. Before each step kubetutor shows
the lesson's key idea and the exact command; after it, the step's checks and the
objects that changed. The presenter advances with Enter; --auto advances alone.

Components run as real processes in the work directory (default ./kubetutor-demo),
each with a log file, and keep running when the demo ends so you can use kubectl
in another pane. containerd and the kubelet need root.

Without a reachable registry (or with --offline) the demo loads a local pause
image and an nginx stand-in into containerd and points the Deployment at it.`,
		Example: `  # on stage: Enter advances
  sudo kubetutor demo --bin-dir ~/.cache/kubetutor/bin-` + course.KubernetesVersion + `

  # stop at FailedScheduling to talk, then go on
  sudo kubetutor demo --auto --to scheduler
  sudo kubetutor demo --auto --from containerd

  kubetutor demo status
  kubetutor demo logs kube-scheduler
  sudo kubetutor demo down`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemo(cmd.Context(), o) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.Auto, "auto", false, "advance without waiting for the presenter")
	fl.DurationVar(&o.Pause, "pause", 2*time.Second, "with --auto, the pause between steps")
	fl.StringVar(&o.From, "from", "", "start at this step, against what already runs")
	fl.StringVar(&o.To, "to", "", "stop after this step")
	fl.BoolVar(&o.Offline, "offline", false, "load the offline images instead of pulling (default: when no registry is reachable)")
	fl.BoolVar(&o.Online, "online", false, "pull images even if no registry seems reachable")
	fl.StringVar(&o.BinDir, "bin-dir", "", "where to take the Kubernetes binaries from when bin/ lacks them (default: ~/.cache/kubetutor/bin-"+course.KubernetesVersion+" if present)")
	fl.DurationVar(&o.StepTimeout, "step-timeout", 2*time.Minute, "how long to wait for each step's checks to pass")
	fl.BoolVar(&o.SkipPreflight, "skip-preflight", false, "do not run doctor's host checks first")
	fl.BoolVar(&o.SlowHost, "slow-host", false, "for a machine ten times slower than a laptop (a VM without KVM): longer leader-election deadlines for kube-controller-manager and kube-scheduler, so that they outlast kube-apiserver's restart (with --step-timeout and --timeout for the waits)")
	_ = cmd.RegisterFlagCompletionFunc("from", stepIDCompletion)
	_ = cmd.RegisterFlagCompletionFunc("to", stepIDCompletion)
	cmd.AddCommand(newDemoStatusCmd(f), newDemoLogsCmd(f), newDemoDownCmd(f), newDemoDrillCmd(f))
	return cmd
}

// demoLayout is the demo's work directory and where its runtime pieces live.
func demoLayout(f *Factory) (demo.Layout, error) {
	wd := f.WorkDir
	if wd == "" {
		wd = defaultDemoDir
		// Inside the demo directory (as the demo's "In another pane: cd …"
		// line suggests), the demo is right here.
		if _, err := os.Stat(filepath.Join(defaultDemoDir, "run", "demo.json")); err != nil {
			if _, err := os.Stat(filepath.Join("run", "demo.json")); err == nil {
				wd = "."
			}
		}
	}
	abs, err := filepath.Abs(wd)
	if err != nil {
		return demo.Layout{}, fmt.Errorf("resolve the demo directory: %w", err)
	}
	// Mount points are listed by their real path: resolve symlinks.
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	// The demo's containerd gets a socket of its own, so that it never
	// takes over (nor tears down) a containerd that serves another cluster.
	l := demo.Layout{WorkDir: abs, ContainerdAddress: demo.DefaultSocket(abs), CNIConfDir: checks.DefaultCNIConfDir}
	if f.ContainerdAddress != "" {
		l.ContainerdAddress = f.ContainerdAddress
	}
	return l, nil
}

func demoEnv(f *Factory, l demo.Layout) *checks.Env {
	env := checks.NewEnv(l.WorkDir)
	env.Kubeconfig = f.Kubeconfig
	if env.Kubeconfig == "" {
		env.Kubeconfig = l.Kubeconfig()
	}
	env.ContainerdAddress = l.ContainerdAddress
	env.CNIConfDir = l.CNIConfDir
	env.Timeout = f.Timeout
	env.PathEnv = l.Bin() + ":" + os.Getenv("PATH")
	env.SetDefaults()
	return env
}

func runDemo(ctx context.Context, o *DemoOptions) error {
	f := o.f
	l, err := o.layout()
	if err != nil {
		return err
	}
	env := demoEnv(f, l)
	defer env.Close()
	if err := o.prepare(l, env); err != nil {
		return err
	}
	facts := host.Detect()
	fmt.Fprintf(f.IO.Out, "Demo in %s. Host: cgroup v1 %t, oom_score_adj restricted %t, CNI plugins in %s.\n",
		l.WorkDir, facts.CgroupV1, facts.RestrictOOMScoreAdj, orDefault(facts.CNIBinDir, "(none found)"))
	render, err := f.Renderer()
	if err != nil {
		return err
	}
	if !o.SkipPreflight {
		if err := o.preflight(ctx, env); err != nil {
			return err
		}
	}
	d := o.newDemo(l, env, facts, render.Render)
	if err := d.Run(ctx); err != nil {
		if errors.Is(err, demo.ErrStopped) {
			fmt.Fprintln(f.IO.Out, "Stopped. The components keep running; `kubetutor demo down` stops them.")
			return nil
		}
		return err
	}
	return nil
}

// newDemo is the demo these options describe, on layout l.
func (o *DemoOptions) newDemo(l demo.Layout, env *checks.Env, facts host.Facts, render func(string) (string, error)) *demo.Demo {
	f := o.f
	binDir, search := o.binDirs(l)
	return &demo.Demo{
		L: l, Env: env, Host: facts, Out: f.IO.Out, Color: f.IO.Color, Keys: f.IO.In,
		Render: render,
		Opts: demo.Options{BinDir: binDir, SearchDirs: search, Auto: o.Auto, Pause: o.Pause, From: o.From, To: o.To,
			Offline: o.Offline, OfflineAuto: !o.Online, StepTimeout: o.StepTimeout},
	}
}

// layout checks the flags and finds the demo's work directory.
func (o *DemoOptions) layout() (demo.Layout, error) {
	for _, id := range []string{o.From, o.To} {
		if id != "" {
			if _, err := lookupStep(id); err != nil {
				return demo.Layout{}, err
			}
		}
	}
	if o.Offline && o.Online {
		return demo.Layout{}, usageErrorf("--offline and --online contradict each other")
	}
	l, err := demoLayout(o.f)
	l.SlowHost = o.SlowHost
	return l, err
}

// prepare checks the machine (root, as env sees it, for the steps that
// need it) and makes the demo's work directory.
func (o *DemoOptions) prepare(l demo.Layout, env *checks.Env) error {
	last := o.To
	if last == "" {
		ids := steps.IDs()
		last = ids[len(ids)-1]
	}
	if env.Euid() != 0 && steps.NeedsRoot(last) {
		return usageErrorf("the demo runs containerd and the kubelet, which need root: run it with sudo, or stop before them with --to scheduler")
	}
	if home, _ := os.UserHomeDir(); l.WorkDir == "/" || l.WorkDir == home {
		return usageErrorf("the demo needs a directory of its own (it creates and later removes etcd-data, containerd/, kubelet/ ...), not %s: pass --workdir", l.WorkDir)
	}
	if err := os.MkdirAll(l.WorkDir, 0o755); err != nil {
		return fmt.Errorf("create the demo directory: %w", err)
	}
	return nil
}

// binDirs are the demo's --bin-dir (the build cache when not given and
// there) and where it looks for the binaries bin/ lacks after it: as
// `check tools` does, ./bin (where kubetutor fetch puts them), the build
// cache, then PATH. The tools step's version-skew check refuses a mix
// outside Kubernetes' policy.
func (o *DemoOptions) binDirs(l demo.Layout) (binDir string, search []string) {
	binDir = o.BinDir
	if binDir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			if dir := filepath.Join(home, ".cache", "kubetutor", "bin-"+course.KubernetesVersion); statOK(dir) {
				binDir = dir
			}
		}
	}
	if cwd, err := os.Getwd(); err == nil && filepath.Join(cwd, "bin") != l.Bin() {
		search = append(search, filepath.Join(cwd, "bin"))
	}
	if binDir != o.BinDir {
		search, binDir = append(search, binDir), ""
	}
	search = append(search, filepath.SplitList(os.Getenv("PATH"))...)
	return binDir, search
}

// preflight runs doctor's host checks: an error showing only what stands
// in the way, else the warnings are printed.
func (o *DemoOptions) preflight(ctx context.Context, env *checks.Env) error {
	f := o.f
	res, ok := preflight(ctx, env, o.From == "")
	if !ok {
		// Only what stands in the way.
		var bad []checks.Result
		for _, c := range res.Checks {
			if !c.Passed() {
				bad = append(bad, c)
			}
		}
		res.Checks = bad
		_ = report.Step(f.IO.Out, res, report.Options{Color: f.IO.Color})
		return &ExitError{Code: 1, Err: errors.New("the preflight found problems on this machine (above); fix them, or pass --skip-preflight")}
	}
	for _, c := range res.Checks {
		if c.Status == checks.Warn {
			fmt.Fprintf(f.IO.Out, "  ! %s: %s\n", c.Name, c.Message)
		}
	}
	return nil
}

func statOK(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func newDemoStatusCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "status",
		Short:   "List the demo's components with their health",
		Example: "  kubetutor demo status",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := demoLayout(f)
			if err != nil {
				return err
			}
			env := demoEnv(f, l)
			defer env.Close()
			code := 0
			for _, c := range demo.Components {
				pid, ok := demo.RunningPid(l, c.Name)
				state := "not running"
				if ok {
					state = fmt.Sprintf("running (pid %d)", pid)
				}
				s, _, _ := steps.Lookup(c.Step)
				res := steps.Evaluate(cmd.Context(), env, s)
				health := "healthy"
				if p, bad := res.FirstProblem(); bad {
					health = p.Message
					code = 1
				}
				fmt.Fprintf(f.IO.Out, "%-24s %-22s step %-18s %s\n", c.Name, state, c.Step+":", health)
			}
			if code != 0 {
				return silentExit(code)
			}
			return nil
		},
	}
}

func newDemoLogsCmd(f *Factory) *cobra.Command {
	lines := 50
	cmd := &cobra.Command{
		Use:   "logs COMPONENT",
		Short: "Show the last lines of a component's log",
		Example: `  kubetutor demo logs kube-apiserver
  kubetutor demo logs kubelet -n 200`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("%s takes one COMPONENT: %s", cmd.CommandPath(), componentNames())
			}
			return nil
		},
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return strings.Split(componentNames(), ", "), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := demo.LookupComponent(args[0])
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			if lines < 1 {
				return usageErrorf("--lines %d: give a number of lines, 1 or more", lines)
			}
			l, err := demoLayout(f)
			if err != nil {
				return err
			}
			fmt.Fprintln(f.IO.Out, proc.TailFile(l.LogPath(c.Name), lines))
			return nil
		},
	}
	cmd.Flags().IntVarP(&lines, "lines", "n", lines, "how many lines")
	return cmd
}

func componentNames() string {
	var n []string
	for _, c := range demo.Components {
		n = append(n, c.Name)
	}
	return strings.Join(n, ", ")
}

func newDemoDownCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop everything the demo started and clean up after it",
		Long: `Stop the components, remove their containers, shims, mounts, the CNI network
namespaces, the cni0 bridge, the CNI iptables chains, kube-proxy's rules and,
once no kubelet runs, the kubelet's chains, and the demo's state, so the next
demo starts like the first. Works after the demo was killed.`,
		Example: "  sudo kubetutor demo down",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := demoLayout(f)
			if err != nil {
				return err
			}
			if _, err := os.Stat(l.WorkDir); err != nil {
				fmt.Fprintf(f.IO.Out, "No demo in %s.\n", l.WorkDir)
				return nil
			}
			if err := demo.Down(cmd.Context(), l, f.IO.Out); err != nil {
				if errors.Is(err, demo.ErrNotDemo) {
					fmt.Fprintf(f.IO.Out, "No demo in %s (no run/demo.json): nothing to stop.\n", l.WorkDir)
					return nil
				}
				return fmt.Errorf("clean up the demo: %w", err)
			}
			fmt.Fprintln(f.IO.Out, "Everything the demo started is stopped and cleaned up.")
			return nil
		},
	}
}
