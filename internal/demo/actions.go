package demo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kubetutor/kubetutor/internal/host"
	"github.com/kubetutor/kubetutor/internal/iostreams"
	"github.com/kubetutor/kubetutor/internal/proc"
	"github.com/kubetutor/kubetutor/internal/script"
	"github.com/kubetutor/kubetutor/steps"
)

// The demo types each step's lesson blocks for this host, verbatim, except
// for the substitutions declared here and the blocks a lesson marks with
// demo=ACTION, whose actions are declared here. Nothing in this file knows a step by its ID: a step's action is its
// lesson's blocks.

// Substitution is one change the demo makes to a lesson block's text before
// it types it, so that its cluster lives in its work dir and `down` removes
// exactly what it started.
type Substitution struct {
	Old string
	New func(l Layout) string
	Why string
}

// Substitutions, applied in this order to every block.
var Substitutions = []Substitution{
	{
		Old: "/etc/containerd",
		New: func(l Layout) string { return l.ContainerdDir() },
		Why: "containerd's configuration goes in the work dir, not the host's /etc",
	},
	{
		Old: "<<EOF\nversion = 2\n",
		New: func(l Layout) string {
			return fmt.Sprintf("<<EOF\nversion = 2\nroot = %q\nstate = %q\n\n[grpc]\n  address = %q\n", l.containerdRoot(), l.containerdState(), l.ContainerdAddress)
		},
		Why: "the demo's containerd keeps its root, state and socket in the work dir, beside any containerd of the host",
	},
	{
		Old: "containerRuntimeEndpoint: unix:///run/containerd/containerd.sock",
		New: func(l Layout) string { return "containerRuntimeEndpoint: unix://" + l.ContainerdAddress },
		Why: "the kubelet talks to the demo's containerd",
	},
	{
		Old: "--config=kubelet.yaml",
		New: func(l Layout) string { return "--config=kubelet.yaml \\\n  --root-dir=" + l.KubeletRoot() },
		Why: "the kubelet keeps its state in the work dir",
	},
	{
		Old: `"routes": [{"dst": "0.0.0.0/0"}]`,
		New: func(l Layout) string {
			return fmt.Sprintf(`"routes": [{"dst": "0.0.0.0/0"}],`+"\n        \"dataDir\": %q", filepath.Join(l.CNIDataDir(), "networks"))
		},
		Why: "host-local records the pod IPs it hands out in the work dir",
	},
	{
		Old: "kube-controller-manager \\\n",
		New: func(l Layout) string {
			if !l.SlowHost {
				return "kube-controller-manager \\\n"
			}
			return "kube-controller-manager \\\n  " + strings.Join(SlowHostLeaderElection, " \\\n  ") + " \\\n"
		},
		Why: "with --slow-host only: the controller manager keeps its lease through kube-apiserver's restart",
	},
	{
		Old: "kube-scheduler --kubeconfig=admin.conf\n",
		New: func(l Layout) string {
			if !l.SlowHost {
				return "kube-scheduler --kubeconfig=admin.conf\n"
			}
			return "kube-scheduler --kubeconfig=admin.conf \\\n  " + strings.Join(SlowHostLeaderElection, " \\\n  ") + "\n"
		},
		Why: "with --slow-host only: the scheduler keeps its lease through kube-apiserver's restart",
	},
	{
		Old: "/etc/cni/net.d",
		New: func(l Layout) string { return l.CNIConfDir },
		Why: "the CNI configuration directory the demo was given (/etc/cni/net.d unless changed)",
	},
}

// SlowHostLeaderElection are the flags demo --slow-host adds to
// kube-controller-manager and kube-scheduler. Both exit when they cannot
// renew their Lease within the renew deadline (10 s by default: "leaderelection
// lost"); the logs step restarts kube-apiserver, which takes 2 to 4 s on a
// workshop machine but 25 to 30 s under qemu's software emulation (the VM
// test), so there they would die with it. The default lease is 15 s.
var SlowHostLeaderElection = []string{"--leader-elect-lease-duration=120s", "--leader-elect-renew-deadline=100s"}

// Substitute applies the substitutions to a block's text.
func Substitute(l Layout, text string) string {
	for _, s := range Substitutions {
		text = strings.ReplaceAll(text, s.Old, s.New(l))
	}
	return text
}

// Action is what the demo does in place of typing a lesson block. A block
// names its action in its info string (```sh run demo=NAME); the lessons
// declare which blocks, this table what each action does.
type Action struct {
	// Why is shown to the audience.
	Why string
	// Do is the demo's action (given the substituted text); nil skips.
	Do func(ctx context.Context, d *Demo, text string) error
}

// importImages is the action that imports the offline images; loadCoreDNSAction
// the one that imports CoreDNS's.
const (
	importImages      = "import-images"
	loadCoreDNSAction = "load-coredns"
)

// Actions are the demo's replacements, by the name the lessons use.
var Actions = map[string]Action{
	"link-binaries": {
		Why: "the demo links the binaries it was given (--bin-dir) into bin/ instead of downloading or building them",
		Do:  func(_ context.Context, d *Demo, _ string) error { return d.ensureBinaries() },
	},
	"skip-packages": {
		Why: "the demo installs no packages; its preflight (doctor) found what the node needs",
	},
	"skip-services": {
		Why: "the demo never stops the host's services: its containerd has a socket of its own, and its preflight found the ports free",
	},
	"skip-cni-install": {
		Why: "the demo installs no CNI plugins; its preflight found them",
	},
	importImages: {
		Why: "the demo imports the same images into its own containerd socket, in the background: the pod needs them only once its node is Ready, and the CNI step waits for them",
		Do: func(ctx context.Context, d *Demo, _ string) error {
			d.startImport(ctx)
			return nil
		},
	},
	loadCoreDNSAction: {
		Why: "the demo links the coredns binary it was given (make kube-binaries builds it) instead of building it, and imports its image into its own containerd",
		Do:  func(ctx context.Context, d *Demo, _ string) error { return d.loadCoreDNS(ctx) },
	},
	"write-cni-config": {
		Why: "the demo types it, unless a configuration is already there, and records what it creates, so that down removes only that; the images it imports in the background are in containerd first",
		Do: func(ctx context.Context, d *Demo, text string) error {
			if err := d.awaitImages(ctx); err != nil {
				return err
			}
			return d.writeCNIConfig(ctx, text)
		},
	},
}

// actionFor returns what the demo does in place of a block, if the block
// names an action; an unknown name is an error (the lessons' test catches
// it first).
func actionFor(b script.Block) (*Action, error) {
	if b.Demo == "" {
		return nil, nil
	}
	a, ok := Actions[b.Demo]
	if !ok {
		return nil, fmt.Errorf("line %d: unknown demo action %q", b.Line, b.Demo)
	}
	return &a, nil
}

// blocks are the step's commands for this host.
func (d *Demo) blocks(s steps.Step) []script.Block { return s.CommandsFor(d.hostTags()) }

// lessonMarkdown is what the demo shows for a step: each block as it types
// it, or as the lesson has it with what the demo does instead.
func (d *Demo) lessonMarkdown(s steps.Step) string {
	var b strings.Builder
	for _, bl := range d.blocks(s) {
		if in, _ := actionFor(bl); in != nil {
			fmt.Fprintf(&b, "```sh\n%s```\n\n*Not typed by the demo: %s.*\n\n", bl.Text, in.Why)
			continue
		}
		if bl.Restarts != "" {
			fmt.Fprintf(&b, "*The demo stops the running %s first, as Ctrl-C twice in its terminal does.*\n\n", bl.Restarts)
		}
		fmt.Fprintf(&b, "```sh\n%s```\n\n", Substitute(d.L, bl.Text))
	}
	return b.String()
}

// stopForRestart stops the running component a block starts again, as the
// lesson tells the learner to: Ctrl-C twice (SIGINT to its process group;
// the second makes kube-apiserver exit without draining).
func (d *Demo) stopForRestart(name string) error {
	pid, ok := RunningPid(d.L, name)
	if !ok {
		return nil
	}
	if err := interruptTwice(pid, 30*time.Second); err != nil {
		return fmt.Errorf("stop %s before starting it again: %w", name, err)
	}
	iostreams.Status{W: d.Out}.Info("Stopped %s (pid %d) with Ctrl-C twice", name, pid)
	return nil
}

// upStep is the step whose checks say the component a daemon block of s
// started is up: s itself, or for a restart the component's own step.
func (d *Demo) upStep(s steps.Step, b script.Block) (steps.Step, error) {
	if b.Restarts == "" {
		return s, nil
	}
	for _, o := range steps.All() {
		if componentOfStep(o.ID) == b.Restarts {
			return o, nil
		}
	}
	return s, fmt.Errorf("the %s lesson restarts %s (line %d), which no step starts", s.ID, b.Restarts, b.Line)
}

// StartingSteps are the steps whose blocks start the named component, in
// course order: the step of its table entry, then each step that starts it
// again with other flags (a restarts= block). Performing them all brings it
// back as the course left it.
func StartingSteps(name string) []string {
	var out []string
	for _, s := range steps.All() {
		if componentOfStep(s.ID) == name {
			out = append(out, s.ID)
			continue
		}
		for _, b := range s.Commands {
			if b.Restarts == name {
				out = append(out, s.ID)
				break
			}
		}
	}
	return out
}

// perform runs a step's blocks: consecutive command blocks in one bash, as
// in a learner's shell (variables carry over); a long-running block as the
// step's component, waiting for the step's checks before any block after
// it. It returns the component it started.
func (d *Demo) perform(ctx context.Context, s steps.Step) (*proc.Process, error) {
	blocks := d.blocks(s)
	if len(blocks) == 0 {
		return nil, fmt.Errorf("the %s lesson has no commands for this host", s.ID)
	}
	var p *proc.Process
	var pending []script.Block
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		texts := make([]string, len(pending))
		for i, b := range pending {
			texts[i] = Substitute(d.L, b.Text)
		}
		if err := d.runShell(ctx, strings.Join(texts, "\n")); err != nil {
			return err
		}
		for _, b := range pending {
			d.record(s, b, "typed")
		}
		pending = nil
		return nil
	}
	for i, b := range blocks {
		in, err := actionFor(b)
		if err != nil {
			return p, fmt.Errorf("the %s lesson: %w", s.ID, err)
		}
		if in != nil {
			if err := flush(); err != nil {
				return p, err
			}
			if in.Do != nil {
				if err := in.Do(ctx, d, Substitute(d.L, b.Text)); err != nil {
					return p, err
				}
			}
			d.record(s, b, "instead")
			continue
		}
		if b.Kind != script.Daemon {
			pending = append(pending, b)
			continue
		}
		if err := flush(); err != nil {
			return p, err
		}
		name := componentOfStep(s.ID)
		if b.Restarts != "" {
			// The learner presses Ctrl-C twice in its terminal first.
			name = b.Restarts
			if err := d.stopForRestart(name); err != nil {
				return p, err
			}
		}
		if name == "" {
			return p, fmt.Errorf("the %s lesson starts a component (line %d) the demo does not know", s.ID, b.Line)
		}
		if p, err = d.startComponent(name, Substitute(d.L, b.Text)); err != nil {
			return p, err
		}
		d.record(s, b, "typed")
		if i < len(blocks)-1 {
			// What follows needs the component up: the checks of this
			// step, or, for a restart, of the step that first started it
			// (this step's own may need the blocks that follow, as the
			// rollout after the kubelet's restart).
			ws, err := d.upStep(s, b)
			if err != nil {
				return p, err
			}
			if _, err := d.waitStep(ctx, ws, p); err != nil {
				return p, err
			}
		}
	}
	return p, flush()
}

// runShell runs command blocks with bash in the work dir, in the
// presenter's environment; a failing command stops it (bash -e).
func (d *Demo) runShell(ctx context.Context, text string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-c", text)
	cmd.Dir = d.L.WorkDir
	cmd.Env = append(os.Environ(), d.shellEnv()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("the lesson's commands failed: %v\n%s\n--- they were ---\n%s", err, strings.TrimSpace(string(out)), text)
	}
	return nil
}

// BlocksLog lists the lesson blocks the demo performed, one a line:
// "LESSON LINE typed|instead".
func (l Layout) BlocksLog() string { return l.Path("logs", "blocks.log") }

func (d *Demo) record(s steps.Step, b script.Block, how string) {
	f, err := os.OpenFile(d.L.BlocksLog(), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s %d %s\n", s.Lesson, b.Line, how)
}

// writeCNIConfig types the CNI lesson's configuration block unless a
// configuration file is already there, and records what it created.
func (d *Demo) writeCNIConfig(ctx context.Context, text string) error {
	if _, err := os.Stat("/sys/class/net/cni0"); err != nil {
		d.state.Cni0Created = true
	}
	file := d.L.CNIConfFile()
	if _, err := os.Stat(file); err == nil {
		d.state.CNIConfFile = file
		return d.saveState()
	}
	if err := d.runShell(ctx, text); err != nil {
		return err
	}
	if _, err := os.Stat(file); err != nil {
		return fmt.Errorf("the CNI lesson's block did not write %s: %w", file, err)
	}
	d.state.CNIConfFile, d.state.CNIConfCreated = file, true
	return d.saveState()
}

// hostTags are the lesson variants that fit this host as the demo runs it:
// doctor's facts, online unless the demo runs offline, systemd as the host
// has it, the node software's versions on the demo's PATH.
func (d *Demo) hostTags() script.Set {
	if d.tags != nil {
		return d.tags
	}
	st := host.DetectStack(context.Background(), d.L.Bin())
	st.Facts = d.Host
	st.Online = !d.state.Offline
	d.tags = script.Set{}
	for _, t := range st.Tags() {
		d.tags[t] = true
	}
	return d.tags
}

// usesAction reports whether one of these steps performs the action on
// this host (importImages: the offline images; loadCoreDNSAction: CoreDNS's).
func (d *Demo) usesAction(ss []steps.Step, action string) bool {
	for _, s := range ss {
		for _, b := range d.blocks(s) {
			if b.Demo == action {
				return true
			}
		}
	}
	return false
}
