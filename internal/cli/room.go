package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubetutor/kubetutor/drills"
	"github.com/kubetutor/kubetutor/internal/fetch"
	"github.com/kubetutor/kubetutor/internal/room"
	"github.com/kubetutor/kubetutor/internal/shellquote"
	"github.com/kubetutor/kubetutor/lessons"
	"github.com/kubetutor/kubetutor/steps"
)

func newRoomCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "room",
		Short: "The workshop room: the instructor's live dashboard of every learner's cluster",
		Long: `A workshop room shows the instructor, live, where every learner's cluster
stands: one row per learner with the step they are on, how long they have been
on it and the check that fails, a count per step, and the learners stuck on the
same failing check. Nothing is hosted: the instructor runs "room serve" on their
laptop, the learners "room join" it, and from then on every check they run
(check, check --watch, the walkthrough) sends its verdict to the room in the
background: step statuses and the first failing check's name, message and hint;
never file contents, keys or kubeconfigs. The drill commands tell the room which
drill a learner is on, solved or not, and the time to fix.`,
		Example: `  # instructor
  kubetutor room serve --data ~/workshop-room

  # learner: the command "room serve" printed
  kubetutor room join 'http://192.168.1.10:7077/?token=...' --name "Ada"

  # learner: stop sending
  kubetutor room leave`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newRoomServeCmd(f), newRoomJoinCmd(f), newRoomLeaveCmd(f), newRoomStatusCmd(f))
	return cmd
}

// RoomServeOptions are the options of `kubetutor room serve`.
type RoomServeOptions struct {
	f *Factory

	Addr            string
	StuckAfter      time.Duration
	MirrorDir       string
	InstructorToken string
	JoinToken       string
	Data            string
	TLS             bool
	NewCertificate  bool
	Announce        string

	// ready, when set (tests), is called with the listening address.
	ready func(net.Addr)
}

func newRoomServeCmd(f *Factory) *cobra.Command {
	o := &RoomServeOptions{f: f}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Open the room: the dashboard, the API and the binaries mirror",
		Long: `Serve the room over HTTP (or HTTPS with --tls) until Ctrl-C.

It prints three things: the dashboard URL for the instructor (it carries the
instructor token: keep it to yourself), the join command for the learners (it
carries the join token), and, with --mirror-dir, the fetch command for the
binaries mirror. The dashboard updates within a second of any learner's check.

Scripts read every learner as JSON:
  curl -H "Authorization: Bearer INSTRUCTOR_TOKEN" URL/api/learners
which answers [{"name", "current", "steps": [{"id", "status"}],
"failing": {"step", "check", "message"} or null, "updated"}].

A learner's row goes with the remove button on the dashboard, or
  curl -X DELETE -G --data-urlencode 'name=NAME' \
    -H "Authorization: Bearer INSTRUCTOR_TOKEN" URL/api/learners
which frees the name; their checks stop reaching the room until they join again.

Drills: the dashboard shows which drill each learner is on, solved or not, and
the time to fix, grouped by drill. --announce DRILL, the dashboard's Announce
button, or
  curl -H "Authorization: Bearer INSTRUCTOR_TOKEN" -d '{"drill":"DRILL"}' URL/api/announce
announces a drill to everyone ({"drill":""} withdraws it); each learner starts
it with their own "kubetutor drill start --from-room". Nothing the room sends
runs on a learner's machine by itself.

Tokens are random unless given. With --data DIR the room (learners, their
secrets' hashes, the tokens and the TLS certificate) is kept in DIR, so a
restarted server has its room back and the printed URLs stay valid.`,
		Example: `  # a room on port 7077, kept in ~/room
  kubetutor room serve --data ~/room

  # over HTTPS (self-signed; learners pin its fingerprint), with the binaries mirror
  kubetutor room serve --tls --mirror-dir /srv/kubetutor

  # learners count as stuck after 15 minutes on one step
  kubetutor room serve --stuck-after 15m

  # announce a drill; learners run kubetutor drill start --from-room
  kubetutor room serve --data ~/room --announce scheduler-stopped`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRoomServe(cmd.Context(), o) },
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Addr, "addr", ":7077", "listen address")
	fl.DurationVar(&o.StuckAfter, "stuck-after", 10*time.Minute, "highlight a learner who has not advanced for this long (0: never)")
	fl.StringVar(&o.MirrorDir, "mirror-dir", "", "also serve this binaries mirror (filled by kubetutor fetch --mirror-dir) under /mirror")
	fl.StringVar(&o.InstructorToken, "instructor-token", "", "the token of the dashboard and the API (default: random, or the one kept in --data)")
	fl.StringVar(&o.JoinToken, "join-token", "", "the token learners join with (default: random, or the one kept in --data)")
	fl.StringVar(&o.Data, "data", "", "keep the room in this directory (bbolt), so a restart has it back")
	fl.BoolVar(&o.TLS, "tls", false, "serve HTTPS with a self-signed certificate; join pins its fingerprint")
	fl.BoolVar(&o.NewCertificate, "new-certificate", false, "with --tls and --data, replace the certificate kept in --data (learners must join again)")
	fl.StringVar(&o.Announce, "announce", "", "announce this drill to the room: learners start it with kubetutor drill start --from-room (kubetutor drill list)")
	_ = cmd.RegisterFlagCompletionFunc("announce", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return drills.IDs(), cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.MarkFlagDirname("mirror-dir")
	_ = cmd.MarkFlagDirname("data")
	return cmd
}

func runRoomServe(ctx context.Context, o *RoomServeOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	r, err := room.Open(ctx, room.ServeConfig{
		Addr: o.Addr, Data: o.Data, TLS: o.TLS, NewCertificate: o.NewCertificate,
		InstructorToken: o.InstructorToken, JoinToken: o.JoinToken,
		StuckAfter: o.StuckAfter, MirrorDir: o.MirrorDir, Log: o.f.IO.ErrOut, Announce: o.Announce,
	})
	switch {
	case errors.Is(err, room.ErrDataInMirror):
		return usageErrorf("--mirror-dir %s and --data %s overlap: the mirror would be next to the room's tokens and key; keep them in separate directories", o.MirrorDir, o.Data)
	case errors.Is(err, room.ErrSameTokens):
		return usageErrorf("the instructor token and the join token must differ")
	case err != nil:
		return err
	}
	defer r.Close()
	if r.CertificateReplaced() {
		fmt.Fprintln(o.f.IO.ErrOut, "note: the room has a new TLS certificate: learners who joined before must run the new join command below")
	}
	o.printOpen(r)
	if o.ready != nil {
		o.ready(r.Addr())
	}
	if err := r.Serve(ctx); err != nil {
		return err
	}
	fmt.Fprintln(o.f.IO.Out, "Room closed.")
	return ctx.Err()
}

// validate checks the flags, and warns of an empty mirror.
func (o *RoomServeOptions) validate() error {
	if o.StuckAfter < 0 {
		return usageErrorf("--stuck-after must not be negative")
	}
	for flag, t := range map[string]string{"--instructor-token": o.InstructorToken, "--join-token": o.JoinToken} {
		if t != "" && (len(t) < 8 || strings.ContainsAny(t, " \t\r\n&#?%/")) {
			return usageErrorf("%s: use at least 8 characters, without spaces or any of &#?%%/", flag)
		}
	}
	if o.InstructorToken != "" && o.InstructorToken == o.JoinToken {
		return usageErrorf("the instructor token and the join token must differ: a learner would see the dashboard")
	}
	if o.Announce != "" {
		if _, err := drills.Lookup(o.Announce); err != nil {
			return usageErrorf("--announce: %v", err)
		}
	}
	if o.NewCertificate && (!o.TLS || o.Data == "") {
		return usageErrorf("--new-certificate replaces the TLS certificate kept in --data: give --tls and --data too")
	}
	if o.MirrorDir != "" {
		held, err := fetch.CheckMirrorDir(o.MirrorDir)
		if err != nil {
			return usageErrorf("--mirror-dir: %v", err)
		}
		if len(held) == 0 {
			fmt.Fprintf(o.f.IO.ErrOut, "warning: %s holds no release yet; fill it with kubetutor fetch --mirror-dir %s\n", o.MirrorDir, shellquote.Quote(o.MirrorDir))
		}
	}
	return nil
}

// printOpen prints what the open room serves: the dashboard's URLs, the
// learners' join command, the mirror's fetch command and the API.
func (o *RoomServeOptions) printOpen(r *room.Room) {
	out := o.f.IO.Out
	urls := r.URLs()
	itok, jtok, fingerprint := r.InstructorToken(), r.JoinToken(), r.Fingerprint()
	fpQuery := ""
	if fingerprint != "" {
		nfp, _ := room.NormalizeFingerprint(fingerprint)
		fpQuery = "&fingerprint=" + nfp
	}
	fmt.Fprintf(out, "Room open on %s (%s).\n\n", r.Addr(), r.Scheme())
	fmt.Fprintln(out, "Dashboard (instructor; the link carries your token, keep it to yourself):")
	for _, u := range urls {
		fmt.Fprintf(out, "  %s/?token=%s\n", u, itok)
	}
	fmt.Fprintln(out, "\nLearners join with:")
	for _, u := range urls {
		fmt.Fprintf(out, "  kubetutor room join %s --name \"YOUR NAME\"\n", shellquote.Quote(u+"/?token="+jtok+fpQuery))
	}
	o.printMirror(urls)
	if fingerprint != "" {
		fmt.Fprintf(out, "\nTLS certificate fingerprint (SHA-256): %s\n", fingerprint)
	}
	if id := r.Announced(); id != "" {
		fmt.Fprintf(out, "\nDrill announced: %s (%s). Learners start it with: kubetutor drill start --from-room\n", id, mustDrill(id).Title)
	}
	fmt.Fprintf(out, "\nAPI: curl -H 'Authorization: Bearer %s' %s/api/learners\n", itok, urls[0])
	if o.Data != "" {
		fmt.Fprintf(out, "The room is kept in %s. Ctrl-C closes it; the same command reopens it.\n", o.Data)
	} else {
		fmt.Fprintln(out, "Ctrl-C closes the room (give --data DIR to keep it across restarts).")
	}
}

// printMirror prints the fetch command of the mirror served under /mirror.
func (o *RoomServeOptions) printMirror(urls []string) {
	out := o.f.IO.Out
	switch {
	case o.MirrorDir != "" && o.TLS:
		fmt.Fprintln(out, "\nBinaries mirror (HTTPS with the room's certificate, which fetch pins once the learner joined):")
		for _, u := range urls {
			fmt.Fprintf(out, "  kubetutor fetch --mirror %s\n", shellquote.Quote(u+"/mirror"))
		}
	case o.MirrorDir != "":
		fmt.Fprintln(out, "\nBinaries mirror (plain HTTP: nothing authenticates it, anyone on the network can swap a binary and its checksum; serve with --tls to have it pinned):")
		for _, u := range urls {
			fmt.Fprintf(out, "  kubetutor fetch --mirror %s --insecure-mirror\n", shellquote.Quote(u+"/mirror"))
		}
	}
}

// RoomJoinOptions are the options of `kubetutor room join`.
type RoomJoinOptions struct {
	f *Factory

	URL         string
	Name        string
	Fingerprint string
	Timeout     time.Duration
}

func newRoomJoinCmd(f *Factory) *cobra.Command {
	o := &RoomJoinOptions{f: f}
	cmd := &cobra.Command{
		Use:   "join URL --name NAME",
		Short: "Join the instructor's room: your checks show on the dashboard",
		Long: `Join a workshop room with the URL "kubetutor room serve" printed (it carries
the join token). The room gives you a secret of your own, kept with your
progress (mode 0600): nobody else can write your row.

From then on every check you run (check, check --watch, the walkthrough) sends
its verdict in the background: step statuses and the first failing check's
name, message and hint; drill start, status, restore and reset send which drill
you are on, solved or not, and the time to fix. A slow or gone room never slows a check by more than a
second and never changes its output. "kubetutor room leave" stops it.`,
		Example: `  kubetutor room join 'http://192.168.1.10:7077/?token=...' --name "Ada Lovelace"

  # an HTTPS room: the printed URL carries the fingerprint, or give it
  kubetutor room join 'https://192.168.1.10:7077/?token=...' --name Ada --fingerprint AB:CD:...`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("%s needs the room's URL (see %s --help)", cmd.CommandPath(), cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.URL = args[0]
			return runRoomJoin(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Name, "name", "", "your name on the dashboard (required, up to 64 characters)")
	cmd.Flags().StringVar(&o.Fingerprint, "fingerprint", "", "the room's TLS certificate fingerprint (SHA-256), for an https room")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 10*time.Second, "how long to wait for the room")
	return cmd
}

// stateDir is --state-dir, else lessons.DefaultStateDir: an error when
// there is no home to keep state in.
func (f *Factory) stateDir() (string, error) {
	if f.StateDir != "" {
		return f.StateDir, nil
	}
	return lessons.DefaultStateDir()
}

func runRoomJoin(ctx context.Context, o *RoomJoinOptions) error {
	f := o.f
	if o.Timeout <= 0 {
		return usageErrorf("--timeout %s: give a positive duration, e.g. --timeout 10s", o.Timeout)
	}
	if strings.TrimSpace(o.Name) == "" {
		return usageErrorf("give your name with --name NAME: it is your row on the dashboard")
	}
	name, err := room.CleanName(o.Name)
	if err != nil {
		return usageErrorf("--name: %v", err)
	}
	ju, err := room.ParseJoinURL(o.URL)
	if err != nil {
		return usageErrorf("%v", err)
	}
	if o.Fingerprint != "" {
		if ju.Fingerprint, err = room.NormalizeFingerprint(o.Fingerprint); err != nil {
			return usageErrorf("--fingerprint: %v", err)
		}
	}
	client, err := room.NewClient(ju.Base, ju.Fingerprint)
	if err != nil {
		return usageErrorf("%v", err)
	}
	stateDir, err := f.stateDir()
	if err != nil {
		return err
	}
	req := room.JoinRequest{Name: name}
	// Saved before the room is asked: a join answer lost or not saved is
	// claimed back with it (room.JoinNonce).
	if req.Nonce, err = room.JoinNonce(stateDir, ju.Token); err != nil {
		return err
	}
	// Joining the same room again keeps the same row.
	if old, err := room.LoadState(stateDir); err == nil && old != nil && old.URL == ju.Base {
		req.ID, req.Secret = old.ID, old.Secret
	}
	jctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	resp, err := client.Join(jctx, ju.Token, req)
	var se *room.StatusError
	switch {
	case errors.As(err, &se) && se.Code == http.StatusConflict:
		return fmt.Errorf("join the room: the name %q is taken; choose another --name", name)
	case errors.As(err, &se) && (se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden):
		return fmt.Errorf("join the room: the room refused the join token; copy the join command again from the instructor (%w)", err)
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return fmt.Errorf("join the room: %w", err)
	}
	if strings.TrimSpace(resp.ID) == "" || strings.TrimSpace(resp.Secret) == "" {
		return fmt.Errorf("join the room: %s answered without a learner id and secret, so your checks could not report to it; is it a kubetutor room (kubetutor room serve)?", ju.Base)
	}
	st := &room.State{URL: ju.Base, Name: resp.Name, ID: resp.ID, Secret: resp.Secret, Fingerprint: ju.Fingerprint}
	if err := room.SaveState(stateDir, st); err != nil {
		return fmt.Errorf("%w; the room keeps your row: run the same room join command again once this is fixed", err)
	}
	fmt.Fprintf(f.IO.Out, "Joined the room at %s as %q.\nFrom now on every check you run shows on the instructor's dashboard (kubetutor room leave stops it).\n", ju.Base, resp.Name)
	return nil
}

func newRoomLeaveCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "leave",
		Short:   "Leave the room: checks stop reporting to it",
		Long:    `Forget the room joined with "kubetutor room join": your checks stop sending to it. Your row stays on the instructor's dashboard as it last was.`,
		Example: `  kubetutor room leave`,
		Args:    noArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			stateDir, err := f.stateDir()
			if err != nil {
				return err
			}
			st, _ := room.LoadState(stateDir)
			left, err := room.RemoveState(stateDir)
			if err != nil {
				return err
			}
			switch {
			case !left:
				fmt.Fprintln(f.IO.Out, "You are in no room.")
			case st != nil:
				fmt.Fprintf(f.IO.Out, "Left the room at %s; checks no longer report to it.\n", st.URL)
			default:
				fmt.Fprintln(f.IO.Out, "Left the room; checks no longer report to it.")
			}
			return nil
		},
	}
}

func newRoomStatusCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "status",
		Short:   "Say which room your checks report to, and whether it answers",
		Example: `  kubetutor room status`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stateDir, err := f.stateDir()
			if err != nil {
				return err
			}
			st, err := room.LoadState(stateDir)
			if err != nil {
				return err
			}
			if st == nil {
				fmt.Fprintln(f.IO.Out, "You are in no room (kubetutor room join URL --name NAME joins one).")
				return nil
			}
			fmt.Fprintf(f.IO.Out, "In the room at %s as %q.\n", st.URL, st.Name)
			c, err := room.NewClient(st.URL, st.Fingerprint)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
			defer cancel()
			// An empty partial report changes nothing but proves the secret.
			if err := c.Send(ctx, st, room.Report{Steps: []room.StepReport{}}); err != nil {
				return &ExitError{Code: 1, Err: fmt.Errorf("the room does not take your reports: %w", err)}
			}
			fmt.Fprintln(f.IO.Out, "The room answers and takes your reports.")
			return nil
		},
	}
}

// roomHook sends this process's check reports to the joined room.
type roomHook struct {
	once   sync.Once
	sender *room.Sender
}

// reportToRoom sends a check's report to the joined room in the background;
// mode says which steps the report covers. It never prints and never fails.
func (f *Factory) reportToRoom(rep steps.Report, mode steps.Mode) {
	if s := f.roomSender(); s != nil {
		s.Send(room.FromReport(rep, mode != steps.Only))
	}
}

// drillToRoom sends the learner's drill to the joined room in the
// background, through the same sender as the checks' reports: a report of
// no step with the drill part. It never prints and never fails.
func (f *Factory) drillToRoom(d room.DrillReport) {
	if s := f.roomSender(); s != nil {
		s.Send(room.Report{Steps: []room.StepReport{}, Drill: &d})
	}
}

// roomSender is this process's sender to the joined room, made on first
// use; nil when no room is joined (or its file cannot be read).
func (f *Factory) roomSender() *room.Sender {
	f.room.once.Do(func() {
		stateDir, err := f.stateDir()
		if err != nil {
			return
		}
		st, err := room.LoadState(stateDir)
		if err != nil || st == nil {
			return
		}
		f.room.sender, _ = room.NewSender(st)
	})
	return f.room.sender
}

// waitRoom gives the last report up to a second to reach the room before
// the process exits; not after SIGINT or SIGTERM (ctx ended), which end
// kubetutor at once.
func (f *Factory) waitRoom(ctx context.Context) {
	f.room.once.Do(func() {}) // a sender is made before Do returns, or never
	if f.room.sender != nil && ctx.Err() == nil {
		f.room.sender.Wait(room.SendTimeout)
	}
}
