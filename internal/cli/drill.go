package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubetutor/kubetutor/drills"
	"github.com/kubetutor/kubetutor/internal/report"
	"github.com/kubetutor/kubetutor/internal/room"
)

// DrillOptions are the options shared by the drill subcommands.
type DrillOptions struct {
	f      *Factory
	ID     string
	Output string
	// FromRoom (start) starts the drill the joined room announces.
	FromRoom bool
}

func newDrillCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Break your own cluster on purpose, then find and fix the fault",
		Long: `A drill breaks something in the cluster you built (a component stopped, a file
edited, a taint, a Service changed), checks that it took, and grades your fix
with the course's checks: solved when the drill's checks pass again and every
step that passed before it passes too. Everything a drill changes is saved
under the work directory's drills/ first; drill restore puts it back.

In a room (kubetutor room join), start, status, restore and reset tell the
instructor's dashboard which drill you are on, solved or not, and the time to
fix. drill start --from-room starts the drill the instructor announced; the
room never starts anything on your machine by itself.

Drills: ` + strings.Join(drills.IDs(), ", ") + `.`,
		Example: `  kubetutor drill list
  kubetutor drill start scheduler-stopped
  kubetutor drill hint
  kubetutor drill status
  kubetutor drill restore scheduler-stopped
  kubetutor drill start --from-room`,
		Args: noArgs,
	}
	o := &DrillOptions{f: f}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the drills, the step each needs and the checks it breaks",
		Example: `  kubetutor drill list
  kubetutor drill list -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDrillList(o) },
	}
	list.Flags().StringVarP(&o.Output, "output", "o", "", `"json" for [{"id","title","after","checks"}]`)
	cmd.AddCommand(list,
		drillStartCmd(o),
		drillCmd(o, "status [ID]", "Grade the drill (the one on by default): exit 0 when solved, 1 when not", false, runDrillStatus),
		drillCmd(o, "hint [ID]", "Reveal the drill's next hint (the one on by default); the last is the fix", false, runDrillHint),
		drillCmd(o, "restore [ID]", "Undo the drill's fault from what start saved (the one on by default)", false, runDrillRestore),
		&cobra.Command{
			Use:     "reset",
			Short:   "Undo the drill that is on, if any, and forget every drill",
			Example: "  kubetutor drill reset",
			Args:    noArgs,
			RunE:    func(cmd *cobra.Command, _ []string) error { return runDrillReset(cmd.Context(), o) },
		},
	)
	return cmd
}

// drillCmd is a subcommand taking a drill ID, required or not.
func drillCmd(o *DrillOptions, use, short string, required bool, run func(context.Context, *DrillOptions) error) *cobra.Command {
	name, _, _ := strings.Cut(use, " ")
	c := &cobra.Command{Use: use, Short: short, Example: "  kubetutor drill " + name + " scheduler-stopped"}
	if !required {
		c.Example = "  kubetutor drill " + name + "\n" + c.Example
	}
	if required {
		c.Args = exactArgs(1)
	} else {
		c.Args = maxArgs(1)
	}
	c.ValidArgsFunction = func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return drills.IDs(), cobra.ShellCompDirectiveNoFileComp
	}
	c.RunE = func(cmd *cobra.Command, args []string) error {
		o.ID = ""
		if len(args) == 1 {
			if _, err := drills.Lookup(args[0]); err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			o.ID = args[0]
		}
		return run(cmd.Context(), o)
	}
	return c
}

// drillStartCmd is drill start: a drill ID, or --from-room.
func drillStartCmd(o *DrillOptions) *cobra.Command {
	c := drillCmd(o, "start ID | --from-room", "Break the cluster as the drill says, after checking it passes the drill's step", true, runDrillStart)
	c.Example += "\n  kubetutor drill start --from-room"
	c.Flags().BoolVar(&o.FromRoom, "from-room", false, "start the drill the joined room announces (asks the room which one)")
	c.Args = func(cmd *cobra.Command, args []string) error {
		if o.FromRoom && len(args) > 0 {
			return usageErrorf("give a drill ID or --from-room, not both")
		}
		if o.FromRoom {
			return nil
		}
		return exactArgs(1)(cmd, args)
	}
	return c
}

func runDrillList(o *DrillOptions) error {
	out := o.f.IO.Out
	ds := drills.All()
	switch o.Output {
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(ds)
	case "":
	default:
		return usageErrorf("-o %q: the only output format is json", o.Output)
	}
	for _, d := range ds {
		fmt.Fprintf(out, "%-28s %s\n%-28s after %s; breaks %s\n", d.ID, d.Title, "", d.After, strings.Join(d.Checks, ", "))
	}
	return nil
}

func (o *DrillOptions) trainer() (*drills.Trainer, error) {
	env, err := o.f.Env()
	if err != nil {
		return nil, err
	}
	t := drills.NewTrainer(env)
	t.Now = o.f.Now
	return t, nil
}

func (o *DrillOptions) reportOptions() report.Options {
	return report.Options{Color: o.f.IO.Color}
}

func runDrillStart(ctx context.Context, o *DrillOptions) error {
	if o.FromRoom {
		id, err := o.announcedDrill(ctx)
		if err != nil {
			return err
		}
		o.ID = id
	}
	t, err := o.trainer()
	if err != nil {
		return err
	}
	defer t.Env.Close()
	out := o.f.IO.Out
	fmt.Fprintf(out, "Drill %s: checking that the cluster passes the %s step, then breaking it…\n", o.ID, mustDrill(o.ID).After)
	st, err := t.Start(ctx, o.ID)
	if err != nil {
		return err
	}
	o.toRoom(t, o.ID)
	fmt.Fprintf(out, "\n%s\n\nThe drill's checks now fail:\n", strings.TrimSpace(st.Drill.Situation))
	if err := report.Step(out, st.Checks, o.reportOptions()); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nThe clock runs. kubetutor drill status grades your fix; kubetutor drill hint helps;\nkubetutor drill restore %s undoes the fault (what it changed is saved in %s).\n", o.ID, t.Dir)
	return nil
}

// roomAskTimeout bounds asking the room which drill it announces.
const roomAskTimeout = 10 * time.Second

// announcedDrill asks the joined room which drill it announces: one this
// kubetutor has (room.Client.Announced checks it).
func (o *DrillOptions) announcedDrill(ctx context.Context) (string, error) {
	stateDir, err := o.f.stateDir()
	if err != nil {
		return "", err
	}
	st, err := room.LoadState(stateDir)
	if err != nil {
		return "", err
	}
	if st == nil {
		return "", usageErrorf("--from-room starts the drill your room announces, but you are in no room (kubetutor room join URL --name NAME joins one)")
	}
	c, err := room.NewClient(st.URL, st.Fingerprint)
	if err != nil {
		return "", err
	}
	actx, cancel := context.WithTimeout(ctx, roomAskTimeout)
	defer cancel()
	a, err := c.Announced(actx, st)
	if err != nil {
		return "", fmt.Errorf("ask the room at %s which drill it announces: %w", st.URL, err)
	}
	if a.Drill == "" {
		return "", fmt.Errorf("the room at %s announces no drill yet: wait for the instructor, or choose one yourself (kubetutor drill list)", st.URL)
	}
	fmt.Fprintf(o.f.IO.Out, "The room announces drill %s: %s.\n", a.Drill, a.Title)
	return a.Drill, nil
}

// toRoom sends drill id's record to the joined room, in the background; it
// never prints and never fails.
func (o *DrillOptions) toRoom(t *drills.Trainer, id string) {
	st, err := t.Load()
	if err != nil || st.Drills[id] == nil {
		return
	}
	o.f.drillToRoom(room.FromDrill(id, *st.Drills[id], o.f.Now()))
}

func mustDrill(id string) drills.Drill {
	d, _ := drills.Lookup(id)
	return d
}

func runDrillStatus(ctx context.Context, o *DrillOptions) error {
	t, err := o.trainer()
	if err != nil {
		return err
	}
	defer t.Env.Close()
	g, err := t.Status(ctx, o.ID)
	if err != nil {
		return err
	}
	o.toRoom(t, g.Drill.ID)
	out := o.f.IO.Out
	if err := report.Step(out, g.Checks, o.reportOptions()); err != nil {
		return err
	}
	for _, b := range g.Broken {
		fmt.Fprintf(out, "\nThe %s step passed before the drill and fails now:\n", b.ID)
		if err := report.Step(out, b, o.reportOptions()); err != nil {
			return err
		}
	}
	cs := o.f.IO.ColorScheme()
	switch {
	case g.Solved:
		fmt.Fprintf(out, "\n%s drill %s, in %s.\n\n%s\n", cs.Green("Solved:"), g.Drill.ID, g.Took.Round(time.Second), strings.TrimSpace(g.Drill.Explained))
		return nil
	case g.Checks.Status == "pass":
		fmt.Fprintf(out, "\n%s the drill's checks pass, but a fix must not break anything else: %s.\n", cs.Red("Not solved:"), brokenNames(g))
	default:
		fmt.Fprintf(out, "\n%s (kubetutor drill hint %s for a hint)\n", cs.Red("Not solved yet"), g.Drill.ID)
	}
	return silentExit(1)
}

func brokenNames(g *drills.Grade) string {
	var names []string
	for _, b := range g.Broken {
		for _, c := range b.Checks {
			if !c.Passed() {
				names = append(names, c.Name+" ("+b.ID+")")
			}
		}
	}
	return strings.Join(names, ", ")
}

func runDrillHint(_ context.Context, o *DrillOptions) error {
	t, err := o.trainer()
	if err != nil {
		return err
	}
	h, n, total, err := t.Hint(o.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.f.IO.Out, "Hint %d of %d: %s\n", n, total, h)
	if n < total {
		fmt.Fprintln(o.f.IO.Out, "(run it again for a more precise hint)")
	}
	return nil
}

func runDrillRestore(ctx context.Context, o *DrillOptions) error {
	t, err := o.trainer()
	if err != nil {
		return err
	}
	defer t.Env.Close()
	id := o.ID
	if st, err := t.Load(); err == nil && id == "" {
		id = st.Active
	}
	msg, err := t.Restore(ctx, o.ID)
	if err != nil {
		return err
	}
	o.toRoom(t, id)
	fmt.Fprintf(o.f.IO.Out, "%s\nkubetutor check --all says when the cluster is whole again.\n", msg)
	return nil
}

func runDrillReset(ctx context.Context, o *DrillOptions) error {
	t, err := o.trainer()
	if err != nil {
		return err
	}
	defer t.Env.Close()
	// The drill on, if any, is restored: the room hears so.
	var active *drills.Record
	id := ""
	if st, err := t.Load(); err == nil && st.Drills[st.Active] != nil {
		id, active = st.Active, st.Drills[st.Active]
	}
	msg, err := t.Reset(ctx)
	if err != nil {
		return err
	}
	if active != nil {
		now := o.f.Now()
		active.Restored = &now
		o.f.drillToRoom(room.FromDrill(id, *active, now))
	}
	if msg != "" {
		fmt.Fprintln(o.f.IO.Out, msg)
	}
	fmt.Fprintf(o.f.IO.Out, "Forgot every drill (removed %s).\n", t.Dir)
	return nil
}
