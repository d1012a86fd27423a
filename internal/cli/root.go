// Package cli is kubetutor's command line: one file per command, each with an
// options struct and a run function; streams and clients come from a Factory.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/klog/v2"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/iostreams"
	"github.com/kubetutor/kubetutor/internal/textsafe"
	"github.com/kubetutor/kubetutor/lessons"
)

// Factory gives commands what they share: streams, settings from the global
// flags, and constructors for the environment the checks see.
type Factory struct {
	IO *iostreams.IOStreams
	// Global flags.
	WorkDir           string
	Kubeconfig        string
	ContainerdAddress string
	StateDir          string
	Timeout           time.Duration
	// Now is the clock.
	Now func() time.Time
	// NewEnv builds the checks' environment; tests replace it.
	NewEnv func() (*checks.Env, error)
	// room is the joined room checks report to (room.go).
	room roomHook
}

// Env builds the environment the checks see from the global flags.
func (f *Factory) Env() (*checks.Env, error) {
	if f.NewEnv != nil {
		return f.NewEnv()
	}
	wd := f.WorkDir
	if wd == "" {
		wd = "."
	}
	abs, err := filepath.Abs(wd)
	if err != nil {
		return nil, fmt.Errorf("resolve work dir %q: %w", wd, err)
	}
	if err := checkWorkDir(abs); err != nil {
		return nil, err
	}
	env := checks.NewEnv(abs)
	env.Kubeconfig = f.Kubeconfig
	if f.ContainerdAddress != "" {
		env.ContainerdAddress = f.ContainerdAddress
	}
	env.Timeout = f.Timeout
	// The cache is kept only in a state directory of the user's own; without
	// one, checks run uncached.
	if sd, err := f.stateDir(); err == nil && fsutil.MkdirPrivate(sd, lessons.StateDirFlags) == nil {
		env.CacheDir = filepath.Join(sd, "cache")
	}
	env.SetDefaults()
	return env, nil
}

// Store is the progress store, in the state directory.
func (f *Factory) Store() (*lessons.Store, error) {
	sd, err := f.stateDir()
	if err != nil {
		return nil, err
	}
	return lessons.NewStore(sd), nil
}

// LoadProgress loads progress, reporting (not failing on) a corrupt file.
func (f *Factory) LoadProgress() (*lessons.Progress, error) {
	store, err := f.Store()
	if err != nil {
		return nil, err
	}
	p, err := store.Load()
	var corrupt *lessons.CorruptError
	if errors.As(err, &corrupt) {
		fmt.Fprintf(f.IO.ErrOut, "warning: %v\n", corrupt)
		return p, nil
	}
	return p, err
}

// UpdateProgress changes the progress on file under its lock (see
// lessons.Store.Update), reporting (not failing on) a corrupt file.
func (f *Factory) UpdateProgress(ctx context.Context, change func(*lessons.Progress)) (*lessons.Progress, error) {
	store, err := f.Store()
	if err != nil {
		return nil, err
	}
	p, err := store.Update(ctx, change)
	var corrupt *lessons.CorruptError
	if errors.As(err, &corrupt) {
		fmt.Fprintf(f.IO.ErrOut, "warning: %v\n", corrupt)
		return p, nil
	}
	return p, err
}

// Renderer renders lessons in the style chosen for these streams.
func (f *Factory) Renderer() (*lessons.Renderer, error) {
	style := f.IO.GlamourStyle()
	r, err := lessons.NewRenderer(style, f.IO.Width)
	if err != nil && style != "dark" && style != "notty" {
		fmt.Fprintf(f.IO.ErrOut, "warning: %v; using the dark style\n", err)
		return lessons.NewRenderer("dark", f.IO.Width)
	}
	return r, err
}

// ExitError carries an exit status.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// silentExit ends the command with a status and no further message.
func silentExit(code int) error { return &ExitError{Code: code} }

func usageErrorf(format string, a ...any) error {
	return &ExitError{Code: 2, Err: fmt.Errorf(format, a...)}
}

// NewRootCmd builds the command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubetutor",
		Short: "Learn how Kubernetes works inside by building a cluster from its binaries",
		Long: `kubetutor walks you through building a one-node Kubernetes cluster by hand,
one component at a time: tools, certificates, etcd, kube-apiserver, a Deployment,
kube-controller-manager, kube-scheduler, containerd, the kubelet and CNI. After
every step it checks the live cluster and tells you what just happened inside.`,
		Example: `  # the workshop walkthrough (what a bare "kubetutor" does on a terminal)
  kubetutor start

  # where does my cluster stand?
  kubetutor check

  # wait until the scheduler step passes
  kubetutor check scheduler --watch`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.IO.Interactive() {
				return runStart(cmd.Context(), &StartOptions{f: f, WatchTimeout: defaultStartWatchTimeout})
			}
			return cmd.Help()
		},
	}
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	pf := root.PersistentFlags()
	pf.StringVar(&f.WorkDir, "workdir", "", "the directory holding bin/ and certs/ (default: the current directory)")
	pf.StringVar(&f.Kubeconfig, "kubeconfig", "", "path to the kubeconfig (default, as for kubectl: the $KUBECONFIG files merged, else ~/.kube/config; else the work dir's admin.conf or kubeconfig)")
	pf.StringVar(&f.ContainerdAddress, "containerd-address", "", "containerd's socket (default "+checks.DefaultContainerdAddress+")")
	pf.StringVar(&f.StateDir, "state-dir", "", "where progress is kept (default: $KUBETUTOR_STATE_DIR, $XDG_STATE_HOME/kubetutor or ~/.local/state/kubetutor)")
	pf.DurationVar(&f.Timeout, "timeout", checks.DefaultTimeout, "how long each check may wait for the cluster")
	_ = root.MarkPersistentFlagDirname("workdir")
	_ = root.MarkPersistentFlagFilename("kubeconfig")
	// Values a flag cannot mean are usage errors, not silently replaced
	// by a default.
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if f.Timeout <= 0 {
			return usageErrorf("--timeout %s: give a positive duration, e.g. --timeout 10s", f.Timeout)
		}
		// Flags a command marks as exclusive (MarkFlagsMutuallyExclusive)
		// are a usage error too; cobra would check them after this hook,
		// as a plain error.
		if err := cmd.ValidateFlagGroups(); err != nil {
			return flagGroupError(cmd, err)
		}
		return nil
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &ExitError{Code: 2, Err: err}
	})

	root.AddCommand(
		newStartCmd(f),
		newLessonsCmd(f),
		newShowCmd(f),
		newCheckCmd(f),
		newHintCmd(f),
		newResetCmd(f),
		newPauseCmd(),
		newServeCmd(),
		newGetentCmd(),
		newCertsCmd(f),
		newDemoCmd(f),
		newFetchCmd(f),
		newDoctorCmd(f),
		newImagesCmd(f),
		newRoomCmd(f),
		newDrillCmd(f),
		newDownCmd(f),
	)
	completionShells(root)
	return root
}

// completionShells makes `completion SHELL` for a shell cobra has no script
// for a usage error naming the shells it has (it printed the help and
// exited 0).
func completionShells(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		var shells []string
		for _, s := range c.Commands() {
			shells = append(shells, s.Name())
		}
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return usageErrorf("no completion for the shell %q: kubetutor completes %s (e.g. kubetutor completion bash)", args[0], strings.Join(shells, ", "))
		}
	}
}

// SignalError is the cause of a context cancelled by SIGINT or SIGTERM.
type SignalError struct{ Signal os.Signal }

func (e *SignalError) Error() string { return "interrupted by " + signalName(e.Signal) }

// ExitCode is the shell's status for a process ended by the signal: 128+n
// (130 for SIGINT, 143 for SIGTERM).
func (e *SignalError) ExitCode() int {
	if s, ok := e.Signal.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 130
}

func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// stopGrace is how long a command may take to wind down after SIGINT or
// SIGTERM cancelled its context before kubetutor exits anyway; a second
// signal exits at once.
const stopGrace = 5 * time.Second

// Main runs kubetutor with the process's arguments and streams and returns
// the exit status.
func Main() int {
	quietKlog()
	f := &Factory{IO: iostreams.System(), Now: time.Now}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		se := &SignalError{Signal: sig}
		cancel(se)
		select {
		case <-sigs:
		case <-time.After(stopGrace):
		}
		fmt.Fprintf(f.IO.ErrOut, "\ninterrupted (%s): kubetutor did not stop in time; exiting\n", signalName(sig))
		os.Exit(se.ExitCode())
	}()
	args := os.Args[1:]
	// Called as getent (the offline workload image's /bin/getent links to
	// kubetutor): the getent command.
	if filepath.Base(os.Args[0]) == "getent" {
		args = append([]string{"getent"}, args...)
	}
	return Execute(ctx, f, args)
}

// quietKlog keeps client-go's internal log lines (klog: "Copying stdout
// failed" when an exec stream is cut, reflector retries) off the learner's
// terminal: what kubetutor has to say about a failure is in its verdicts.
func quietKlog() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("alsologtostderr", "false")
	_ = fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
}

// Execute runs the command tree with args and returns the exit status.
func Execute(ctx context.Context, f *Factory, args []string) int {
	if f.Now == nil {
		f.Now = time.Now
	}
	defer f.waitRoom(ctx)
	root := NewRootCmd(f)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		// Commands that end normally on a signal (pause, serve) exit 0.
		return 0
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, errInterrupted)) {
		var se *SignalError
		if errors.As(context.Cause(ctx), &se) {
			fmt.Fprintf(f.IO.ErrOut, "interrupted (%s)\n", signalName(se.Signal))
			return se.ExitCode()
		}
		fmt.Fprintln(f.IO.ErrOut, "interrupted")
		return 130
	}
	if errors.Is(err, errInterrupted) {
		fmt.Fprintln(f.IO.ErrOut, "interrupted")
		return 130
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(f.IO.ErrOut, "error: %s\n", textsafe.Text(ee.Err.Error()))
		}
		return ee.Code
	}
	// An error may quote what came from outside (a server's answer, a
	// file's content): its control characters are shown, not sent raw.
	fmt.Fprintf(f.IO.ErrOut, "error: %s\n", textsafe.Text(err.Error()))
	return 1
}

// exclusiveWhy is a flag annotation: the usage error, with %s for the other
// flags given, when a flag marked mutually exclusive with it is set too.
const exclusiveWhy = "kubetutor_exclusive_why"

// excludes marks mode flag exclusive with others, explaining why with
// format (%s: the other flags given). When two modes are given at once, the
// one marked first explains.
func excludes(cmd *cobra.Command, mode, format string, others ...string) {
	for _, o := range others {
		cmd.MarkFlagsMutuallyExclusive(mode, o)
	}
	rank := 0
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if len(f.Annotations[exclusiveWhy]) > 0 {
			rank++
		}
	})
	_ = cmd.Flags().SetAnnotation(mode, exclusiveWhy, []string{format, strconv.Itoa(rank)})
}

// flagGroupError turns cobra's flag-group error into a usage error that says
// why the flags exclude each other; of two modes given, the one marked first
// explains.
func flagGroupError(cmd *cobra.Command, err error) error {
	var msg error
	best := -1
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		why := f.Annotations[exclusiveWhy]
		if len(why) != 2 || !f.Changed {
			return
		}
		rank, _ := strconv.Atoi(why[1])
		if best >= 0 && rank >= best {
			return
		}
		var given []string
		for _, group := range f.Annotations["cobra_annotation_mutually_exclusive"] {
			for _, name := range strings.Fields(group) {
				if name != f.Name && cmd.Flags().Changed(name) && !slices.Contains(given, "--"+name) {
					given = append(given, "--"+name)
				}
			}
		}
		if len(given) > 0 {
			msg, best = usageErrorf(why[0], strings.Join(given, ", ")), rank
		}
	})
	if msg != nil {
		return msg
	}
	return usageErrorf("%v (see %s --help)", err, cmd.CommandPath())
}
