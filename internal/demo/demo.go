package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/host"
	"github.com/kubetutor/kubetutor/internal/images"
	"github.com/kubetutor/kubetutor/internal/iostreams"
	"github.com/kubetutor/kubetutor/internal/proc"
	"github.com/kubetutor/kubetutor/internal/report"
	"github.com/kubetutor/kubetutor/internal/script"
	"github.com/kubetutor/kubetutor/internal/shellquote"
	"github.com/kubetutor/kubetutor/lessons"
	"github.com/kubetutor/kubetutor/steps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Component is a long-running process of the cluster, as the course's table
// describes it.
type Component = course.Component

// Components are the processes the steps start, in the steps' order; down
// stops them in reverse.
var Components = daemons()

func daemons() []Component {
	var out []Component
	for _, id := range steps.IDs() {
		if c, ok := course.ForStep(id); ok {
			out = append(out, c)
		}
	}
	return out
}

// LookupComponent finds a component the demo starts by name.
func LookupComponent(name string) (Component, error) { return course.LookupIn(Components, name) }

// Options tune a demo run.
type Options struct {
	// BinDir holds prebuilt Kubernetes binaries to link into bin/ when bin/
	// lacks them.
	BinDir string
	// SearchDirs are looked in after BinDir, in order (./bin, the build
	// cache, PATH), as `check tools` looks.
	SearchDirs []string
	// Auto advances without the presenter, pausing Pause between steps.
	Auto  bool
	Pause time.Duration
	// From and To bound the steps performed (IDs; empty means first/last).
	From, To string
	// Offline loads the sandbox and workload images instead of pulling.
	// OfflineAuto decides by probing a registry.
	Offline, OfflineAuto bool
	// StepTimeout bounds the wait for each step's effect.
	StepTimeout time.Duration
}

// Demo performs the steps of the talk.
type Demo struct {
	L     Layout
	Env   *checks.Env
	Host  host.Facts
	Opts  Options
	Out   io.Writer
	Color bool
	// Keys is where the presenter's Enter comes from (not needed with Auto).
	Keys io.Reader
	// Render renders lesson Markdown for the screen.
	Render func(string) (string, error)

	keys *bufio.Reader
	tags script.Set
	// packed yields the result of packing the offline images.
	packed chan error
	// imported yields the result of importing them into containerd.
	imported chan error
	// preloadCoreDNS asks startImport to import CoreDNS's image after the
	// offline images; coreDNSLoaded yields the result.
	preloadCoreDNS bool
	coreDNSLoaded  chan error
	course         *lessons.Course
	state          State
}

// State is what a demo run records in run/demo.json, for status and down.
type State struct {
	ContainerdAddress string `json:"containerdAddress"`
	CNIConfFile       string `json:"cniConfFile,omitempty"`
	CNIConfCreated    bool   `json:"cniConfCreated,omitempty"`
	// Cni0Created is true when the cni0 bridge did not exist before the
	// demo's CNI step: down deletes it only then.
	Cni0Created bool   `json:"cni0Created,omitempty"`
	Offline     bool   `json:"offline"`
	Image       string `json:"image"`
}

// ParseState reads a demo state file (run/demo.json). It refuses what the
// demo never writes and `demo down` would act on: a relative containerd
// address, a CNI file that is not an absolute path to a CNI configuration.
func ParseState(data []byte) (State, error) {
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return State{}, err
	}
	if st.ContainerdAddress != "" && !filepath.IsAbs(st.ContainerdAddress) {
		return State{}, fmt.Errorf("containerdAddress %q is not an absolute path", st.ContainerdAddress)
	}
	if st.CNIConfFile != "" {
		switch filepath.Ext(st.CNIConfFile) {
		case ".conflist", ".conf", ".json":
		default:
			return State{}, fmt.Errorf("cniConfFile %q is not a CNI configuration file", st.CNIConfFile)
		}
		if !filepath.IsAbs(st.CNIConfFile) || filepath.Clean(st.CNIConfFile) != st.CNIConfFile {
			return State{}, fmt.Errorf("cniConfFile %q is not a clean absolute path", st.CNIConfFile)
		}
	}
	return st, nil
}

// parsePidfile reads a pidfile's "PID STARTTIME"; start is "" when the file
// has only the pid.
func parsePidfile(data []byte) (pid int, start string, ok bool) {
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0, "", false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return 0, "", false
	}
	if len(f) > 1 {
		start = f[1]
	}
	return pid, start, true
}

// ErrStopped means the presenter stopped the demo.
var ErrStopped = errors.New("stopped by the presenter")

// Run performs the steps from Opts.From to Opts.To.
func (d *Demo) Run(ctx context.Context) (err error) {
	all := steps.All()
	from, to, err := d.span(all)
	if err != nil {
		return err
	}
	if d.Opts.StepTimeout <= 0 {
		d.Opts.StepTimeout = 2 * time.Minute
	}
	if !d.Opts.Auto {
		if d.Keys == nil {
			return errors.New("the presenter mode needs a keyboard; use --auto")
		}
		d.keys = bufio.NewReader(d.Keys)
	}
	course, err := lessons.Load()
	if err != nil {
		return err
	}
	d.course = course
	for _, dir := range []string{"logs", "run"} {
		if err := os.MkdirAll(d.L.Path(dir), 0o755); err != nil {
			return fmt.Errorf("prepare the work dir: %w", err)
		}
	}
	if err := d.loadOrInitState(ctx); err != nil {
		return err
	}
	d.startPacking(all[from : to+1])
	defer func() {
		if ierr := d.awaitBackground(ctx); err == nil {
			err = ierr
		}
	}()
	if from > 0 {
		// Resume against what runs: the step before must pass.
		prev := all[from-1]
		if res := steps.Evaluate(ctx, d.Env, prev); res.Status != steps.Pass {
			_ = report.Step(d.Out, res, report.Options{Color: d.Color})
			return fmt.Errorf("cannot resume at %s: step %s does not pass (run the demo from an earlier step)", all[from].ID, prev.ID)
		}
	}
	for i := from; i <= to; i++ {
		s := all[i]
		if err := d.announce(s, i, len(all)); err != nil {
			return err
		}
		if d.Opts.Auto {
			if i > from && d.Opts.Pause > 0 {
				select {
				case <-time.After(d.Opts.Pause):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		} else if err := d.waitForPresenter(ctx); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := d.step(ctx, s); err != nil {
			return err
		}
	}
	if to == len(all)-1 {
		fmt.Fprintf(d.Out, "\nThe cluster is complete. The components keep running: try kubectl --kubeconfig %s get pods -o wide.\n", shellquote.Quote(d.L.Kubeconfig()))
	}
	fmt.Fprintf(d.Out, "In another pane: cd %s && export KUBECONFIG=\"$PWD/admin.conf\" && kubetutor check --containerd-address %s\n", shellquote.Quote(d.L.WorkDir), shellquote.Quote(d.L.ContainerdAddress))
	fmt.Fprintf(d.Out, "See the components with `kubetutor demo status`; stop everything with `kubetutor demo down`.\n")
	return nil
}

// startPacking packs the offline images in the background when these
// steps import them (they take a second), and has CoreDNS's image imported
// after them when the coredns step is among them (seconds that step no
// longer waits for).
func (d *Demo) startPacking(ss []steps.Step) {
	if !d.usesAction(ss, importImages) {
		return
	}
	d.packImages()
	d.preloadCoreDNS = d.usesAction(ss, loadCoreDNSAction)
}

// awaitBackground lets an import still running when the demo ends (--to
// kubelet, a failed step) complete: a resumed demo does not import again.
// It returns the offline images' import error.
func (d *Demo) awaitBackground(ctx context.Context) error {
	err := d.awaitImages(ctx)
	if ch := d.coreDNSLoaded; ch != nil {
		d.coreDNSLoaded = nil
		select {
		case <-ch:
		case <-ctx.Done():
		}
	}
	return err
}

// span is the indexes of the first and last steps to perform.
func (d *Demo) span(all []steps.Step) (from, to int, err error) {
	from, to = 0, len(all)-1
	if d.Opts.From != "" {
		if _, from, err = steps.Lookup(d.Opts.From); err != nil {
			return 0, 0, err
		}
	}
	if d.Opts.To != "" {
		if _, to, err = steps.Lookup(d.Opts.To); err != nil {
			return 0, 0, err
		}
	}
	if from > to {
		return 0, 0, fmt.Errorf("--from %s comes after --to %s", all[from].ID, all[to].ID)
	}
	return from, to, nil
}

func (d *Demo) loadOrInitState(ctx context.Context) error {
	data, err := fsutil.ReadFile(d.L.StatePath(), fsutil.LimitConfig)
	if err == nil {
		if st, perr := ParseState(data); perr == nil && st.Image != "" {
			d.state = st
			return nil
		}
	}
	offline := d.Opts.Offline
	if !offline && d.Opts.OfflineAuto {
		offline = !registryReachable(ctx)
		if offline {
			fmt.Fprintln(d.Out, "No container registry is reachable: using the offline images (a local pause image and an nginx stand-in).")
		}
	}
	d.state = State{ContainerdAddress: d.L.ContainerdAddress, Offline: offline, Image: "nginx"}
	if offline {
		d.state.Image = images.WorkloadImage
	}
	return d.saveState()
}

func (d *Demo) saveState() error {
	data, err := json.MarshalIndent(d.state, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFile(d.L.StatePath(), data, 0o644)
}

// registryReachable reports whether both registries an online demo pulls
// from answer: Docker Hub (nginx) and registry.k8s.io (the pause image).
func registryReachable(ctx context.Context) bool {
	dialer := net.Dialer{Timeout: 2 * time.Second}
	for _, addr := range []string{"registry-1.docker.io:443", "registry.k8s.io:443"} {
		c, err := dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// cs is the colour scheme d.Color asks for.
func (d *Demo) cs() iostreams.ColorScheme { return iostreams.ColorScheme{Enabled: d.Color} }

// announce shows the lesson's key text and the exact command.
func (d *Demo) announce(s steps.Step, i, n int) error {
	fmt.Fprintf(d.Out, "\n%s\n", d.cs().Bold(fmt.Sprintf("━━ Step %d/%d · %s", i+1, n, s.Title)))
	md := ""
	if l, err := d.course.Get(s.Lesson); err == nil {
		md = lessons.FirstParagraph(lessons.Section(l.Markdown, "What it does")) + "\n\n"
	}
	md += d.lessonMarkdown(s)
	out := md
	if d.Render != nil {
		r, err := d.Render(md)
		if err != nil {
			return err
		}
		out = r
	}
	_, err := fmt.Fprint(d.Out, out)
	return err
}

func (d *Demo) waitForPresenter(ctx context.Context) error {
	fmt.Fprint(d.Out, d.cs().Dim("Press Enter to run it (q then Enter to stop) "))
	type answer struct {
		line string
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		line, err := d.keys.ReadString('\n')
		ch <- answer{line, err}
	}()
	select {
	case <-ctx.Done():
		// Ctrl-C: stop at once; the reader is abandoned with the process.
		fmt.Fprintln(d.Out)
		return ctx.Err()
	case a := <-ch:
		if a.err != nil && a.line == "" {
			fmt.Fprintln(d.Out)
			return ErrStopped
		}
		if strings.TrimSpace(a.line) == "q" {
			return ErrStopped
		}
		return nil
	}
}

// status prints a kind-style status line around an action.
func (d *Demo) status(what string, fn func() error) error {
	return iostreams.Status{W: d.Out, CS: d.cs()}.Run(what, fn)
}

// settleEarlier waits until every step before s passes again: a step may
// disturb what an earlier one sees for a moment (the cluster-dns step's
// rollout replaces the pod, and kube-proxy rewrites its rules within a
// second), and the demo moves on only when the course up to s holds.
func (d *Demo) settleEarlier(ctx context.Context, s steps.Step) error {
	if err := d.waitPodsSettled(ctx); err != nil {
		return fmt.Errorf("after step %s: %w", s.ID, err)
	}
	for _, e := range steps.All() {
		if e.ID == s.ID {
			return nil
		}
		if steps.Evaluate(ctx, d.Env, e).Status != steps.Fail {
			continue
		}
		if _, err := d.waitStep(ctx, e, nil); err != nil {
			return fmt.Errorf("after step %s, step %s: %w", s.ID, e.ID, err)
		}
	}
	return nil
}

// waitPodsSettled waits until no pod is on its way out and the running
// kubelet has probed every pod with a readiness probe successfully at
// least once, listing the pods once per poll for both.
//
// Right after a rollout (the cluster-dns step's) the old pod is being
// deleted: its nginx has stopped, and for a second kube-proxy's rules still
// send connections to it. Once the pod object is gone, its endpoint has left
// the EndpointSlices. And a kubelet that starts (the cluster-dns step
// restarts it) holds every container with a readiness probe not ready until
// its first probe, which comes a random part of the probe's period later
// (pkg/kubelet/prober/worker.go: up to 10 s for CoreDNS), while the API
// server still says Ready; the kubelet's /metrics/probes counts its probes
// since it started. Either way a check passing then fails the next moment.
// Without an API server or a kubelet to ask there is nothing to wait for.
func (d *Demo) waitPodsSettled(ctx context.Context) error {
	kube, err := d.Env.Kube()
	if err != nil {
		return nil
	}
	var waitingFor string
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, d.Opts.StepTimeout, true, func(ctx context.Context) (bool, error) {
		pods, err := kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
		if err != nil {
			return true, nil
		}
		var leaving []string
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil {
				leaving = append(leaving, p.Namespace+"/"+p.Name)
			}
		}
		if len(leaving) > 0 {
			waitingFor = "pods still being deleted: " + strings.Join(leaving, ", ")
			return false, nil
		}
		pending := probedPods(pods.Items)
		if len(pending) == 0 {
			return true, nil
		}
		metrics, err := d.Env.ReadKubelet(ctx, "/metrics/probes")
		if err != nil {
			return true, nil
		}
		pending = slices.DeleteFunc(pending, func(pod string) bool {
			return probedReady(string(metrics), pod)
		})
		waitingFor = "the kubelet has not probed " + strings.Join(pending, ", ") + " ready"
		return len(pending) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("%s after %s: %w", waitingFor, d.Opts.StepTimeout, err)
	}
	return nil
}

// probedPods are the names of the running pods (not being deleted) with a
// readiness probe, as "NAMESPACE/NAME".
func probedPods(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		for _, c := range p.Spec.Containers {
			if c.ReadinessProbe != nil {
				out = append(out, p.Namespace+"/"+p.Name)
				break
			}
		}
	}
	return out
}

// probedReady says whether the kubelet's /metrics/probes text counts a
// successful readiness probe of pod ("NAMESPACE/NAME"), as
// prober_probe_total{…,namespace="NS",pod="NAME",probe_type="Readiness",result="successful"} N.
func probedReady(metrics, pod string) bool {
	ns, name, _ := strings.Cut(pod, "/")
	for _, line := range strings.Split(metrics, "\n") {
		if !strings.HasPrefix(line, "prober_probe_total{") {
			continue
		}
		labels, value, ok := strings.Cut(line[len("prober_probe_total{"):], "} ")
		if !ok || value == "0" {
			continue
		}
		if strings.Contains(","+labels+",", `,namespace="`+ns+`",`) && strings.Contains(","+labels+",", `,pod="`+name+`",`) &&
			strings.Contains(labels, `probe_type="Readiness"`) && strings.Contains(labels, `result="successful"`) {
			return true
		}
	}
	return false
}

// step performs one step (its lesson's blocks for this host) and waits,
// event-driven, until its checks pass. A step without a component that
// already passes is not performed again (a resumed demo).
func (d *Demo) step(ctx context.Context, s steps.Step) error {
	var p *proc.Process
	var err error
	if componentOfStep(s.ID) == "" && steps.Evaluate(ctx, d.Env, s).Status == steps.Pass {
		iostreams.Status{W: d.Out}.Info("Already done: step %s passes", s.ID)
	} else {
		err = d.status("Typing the "+s.ID+" lesson's commands", func() error {
			p, err = d.perform(ctx, s)
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("step %s: %w", s.ID, err)
	}
	res, err := d.waitStep(ctx, s, p)
	if err != nil {
		return err
	}
	if err := d.settleEarlier(ctx, s); err != nil {
		return err
	}
	if err := report.Step(d.Out, res, report.Options{Color: d.Color}); err != nil {
		return err
	}
	d.showEffects(ctx, s)
	if s.Passed != "" {
		fmt.Fprintf(d.Out, "%s %s\n", d.cs().Bold("What just happened:"), s.Passed)
	}
	return nil
}

func componentOfStep(id string) string {
	c, _ := course.ForStep(id)
	return c.Name
}

// waitStep waits until the step passes; if the component dies first, it
// fails at once with the component's last log lines.
func (d *Demo) waitStep(ctx context.Context, s steps.Step, p *proc.Process) (steps.Result, error) {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if p != nil {
		go func() {
			select {
			case <-p.Done():
				_, err := p.Exited()
				cancel(fmt.Errorf("%s exited (%v)", p.Name, err))
			case <-wctx.Done():
			}
		}()
	}
	var res steps.Result
	err := d.status("Waiting for the checks of "+s.ID, func() error {
		var err error
		res, err = steps.Watch(wctx, d.Env, s, steps.WatchOptions{Timeout: d.Opts.StepTimeout, Resync: 100 * time.Millisecond})
		if cause := context.Cause(wctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause
		}
		return err
	})
	if err == nil && p != nil {
		if exited, _ := p.Exited(); exited {
			// Something else answered for it (another cluster's component?).
			err = fmt.Errorf("the checks pass, but the %s the demo started has exited: something else answers in its place", p.Name)
		}
	}
	if err != nil {
		_ = report.Step(d.Out, res, report.Options{Color: d.Color})
		msg := fmt.Sprintf("step %s did not pass: %v", s.ID, err)
		if name := componentOfStep(s.ID); name != "" {
			msg += fmt.Sprintf("\nlast lines of %s:\n%s", d.L.LogPath(name), proc.TailFile(d.L.LogPath(name), 15))
		}
		return res, errors.New(msg)
	}
	return res, nil
}

func (d *Demo) ensureBinaries() error {
	if err := os.MkdirAll(d.L.Bin(), 0o755); err != nil {
		return err
	}
	for _, c := range course.Binaries() {
		if _, err := d.linkBinary(c.Name); err != nil {
			return err
		}
	}
	return d.refuseSkew()
}

// linkBinary links the program b from the demo's binary directories into
// bin/, unless bin/ has it, and returns its path in bin/.
func (d *Demo) linkBinary(b string) (string, error) {
	dst := filepath.Join(d.L.Bin(), b)
	if target, err := filepath.EvalSymlinks(dst); err == nil {
		fmt.Fprintf(d.Out, "   %s: %s (already in bin/)\n", b, target)
		return dst, nil
	}
	src, looked := d.findBinary(b)
	if src == "" {
		return "", fmt.Errorf("%s is not in %s, nor in %s (kubetutor fetch puts them in ./bin; make kube-binaries builds them; apt install etcd-server gives etcd)", b, d.L.Bin(), strings.Join(looked, ", "))
	}
	if abs, err := filepath.Abs(src); err == nil {
		src = abs
	}
	_ = os.Remove(dst) // a dangling link from an earlier run
	if err := os.Symlink(src, dst); err != nil {
		return "", fmt.Errorf("link %s: %w", b, err)
	}
	fmt.Fprintf(d.Out, "   %s: %s\n", b, src)
	return dst, nil
}

// findBinary finds the program b: bin/'s (what its link leads to), or the
// first executable file of that name in the demo's binary directories,
// which it returns with the directories it looked in; "" when none has it.
func (d *Demo) findBinary(b string) (string, []string) {
	if target, err := filepath.EvalSymlinks(filepath.Join(d.L.Bin(), b)); err == nil {
		return target, nil
	}
	var looked []string
	for _, dir := range append([]string{d.Opts.BinDir}, d.Opts.SearchDirs...) {
		if dir == "" {
			continue
		}
		looked = append(looked, dir)
		p := filepath.Join(dir, b)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, looked
		}
	}
	return "", looked
}

// loadCoreDNS links the coredns binary it was given (make kube-binaries
// builds one) into bin/, packs it as course.CoreDNSImage and imports it
// into the demo's containerd, before the manifest that runs it is applied.
func (d *Demo) loadCoreDNS(ctx context.Context) error {
	if err := os.MkdirAll(d.L.Bin(), 0o755); err != nil {
		return err
	}
	bin, err := d.linkBinary("coredns")
	if err != nil {
		return err
	}
	if ch := d.coreDNSLoaded; ch != nil {
		d.coreDNSLoaded = nil
		var err error
		select {
		case err = <-ch:
		default:
			err = d.status("Waiting for "+course.CoreDNSImage+" to be imported", func() error {
				select {
				case err := <-ch:
					return err
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		}
		if err == nil || ctx.Err() != nil {
			return err
		}
		// Packed from another file, or the import failed: once more, here.
	}
	return d.status("Packing and importing "+course.CoreDNSImage, func() error {
		return d.importCoreDNS(ctx, bin)
	})
}

// importCoreDNS packs the coredns program bin as course.CoreDNSImage and
// imports it into the demo's containerd.
func (d *Demo) importCoreDNS(ctx context.Context, bin string) error {
	if err := images.WriteTarball(d.L.CoreDNSTarball(), images.CoreDNS(bin)); err != nil {
		return err
	}
	ictx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_, err := images.Import(ictx, d.L.ContainerdAddress, d.L.CoreDNSTarball(), "overlayfs")
	return err
}

// refuseSkew runs the tools step's version-skew check on what bin/ now
// holds: a mix outside Kubernetes' policy would fail in confusing ways later.
func (d *Demo) refuseSkew() error {
	if d.Env == nil {
		return nil
	}
	for _, s := range steps.All() {
		for _, c := range s.Checks {
			if _, ok := c.(checks.VersionSkew); !ok {
				continue
			}
			if r := checks.Run(context.Background(), d.Env, c); !r.Passed() {
				return fmt.Errorf("%s\n%s", r.Message, r.Hint)
			}
		}
	}
	return nil
}

func (d *Demo) shellEnv() []string { return d.L.ShellEnv() }

// ShellEnv is the environment of the presenter's shell: bin/ first,
// admin.conf.
func (l Layout) ShellEnv() []string {
	return []string{"PATH=" + l.Bin() + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "KUBECONFIG=" + l.Kubeconfig()}
}

func (d *Demo) startComponent(name, shell string) (*proc.Process, error) {
	if pid, ok := RunningPid(d.L, name); ok {
		return nil, fmt.Errorf("%s already runs (pid %d); run `kubetutor demo down` first, or --from a later step", name, pid)
	}
	_ = os.Remove(d.L.LogPath(name))
	p, err := proc.Start(proc.Spec{Name: name, Shell: shell, Dir: d.L.WorkDir, Env: d.shellEnv(), LogPath: d.L.LogPath(name), Detach: true})
	if err != nil {
		return nil, err
	}
	start, _ := procStartTime(p.Pid())
	if err := fsutil.WriteFile(d.L.PidPath(name), []byte(fmt.Sprintf("%d %s\n", p.Pid(), start)), 0o644); err != nil {
		return p, fmt.Errorf("write pidfile: %w", err)
	}
	return p, nil
}

// RunningPid reads a component's pidfile ("PID STARTTIME") and tells
// whether that process still runs and is the one the demo started: same
// start time (a reused pid has another), not a zombie.
func RunningPid(l Layout, name string) (int, bool) {
	data, err := fsutil.ReadFile(l.PidPath(name), fsutil.LimitSmall)
	if err != nil {
		return 0, false
	}
	pid, want, ok := parsePidfile(data)
	if !ok {
		return 0, false
	}
	start, err := procStartTime(pid)
	if err != nil || (want != "" && want != start) {
		return pid, false
	}
	if !proc.Alive(pid) {
		return pid, false
	}
	return pid, true
}

// procStartTime is field 22 of /proc/PID/stat: when the process started,
// in clock ticks since boot.
func procStartTime(pid int) (string, error) {
	f, err := procStat(pid)
	if err != nil {
		return "", err
	}
	if len(f) < 20 {
		return "", fmt.Errorf("short /proc/%d/stat", pid)
	}
	return f[19], nil
}

// loadImages packs the sandbox and workload images from this very binary
// and imports them into containerd.
func (d *Demo) loadImages(ctx context.Context) error {
	if d.packed == nil {
		d.packImages()
	}
	select {
	case err := <-d.packed:
		d.packed = nil
		if err != nil {
			return err
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	ictx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_, err := images.Import(ictx, d.L.ContainerdAddress, d.L.ImagesTarball(), "overlayfs")
	return err
}

// startImport begins importing the offline images into the demo's
// containerd and returns at once. The pod needs them only once it has a
// node, which is Ready only after the CNI step: the kubelet starts
// meanwhile, and the CNI step waits for them (awaitImages) first.
func (d *Demo) startImport(ctx context.Context) {
	ch := make(chan error, 1)
	d.imported = ch
	var coreDNS chan error
	src := ""
	if d.preloadCoreDNS {
		src, _ = d.findBinary("coredns")
	}
	if src != "" {
		coreDNS = make(chan error, 1)
		d.coreDNSLoaded = coreDNS
	}
	go func() {
		err := d.loadImages(ctx)
		ch <- err
		if coreDNS != nil {
			if err == nil {
				err = d.importCoreDNS(ctx, src)
			}
			coreDNS <- err
		}
	}()
}

// awaitImages waits for the import startImport began, if any.
func (d *Demo) awaitImages(ctx context.Context) error {
	ch := d.imported
	if ch == nil {
		return nil
	}
	d.imported = nil
	select {
	case err := <-ch:
		return err
	default:
	}
	return d.status("Waiting for the images to be imported", func() error {
		select {
		case err := <-ch:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

// packImages writes the images tarball in the background (packing them
// from this binary takes a second), so that it is ready when containerd is.
func (d *Demo) packImages() {
	ch := make(chan error, 1)
	d.packed = ch
	go func() {
		specs, err := images.FromSelf()
		if err == nil {
			err = images.WriteTarball(d.L.ImagesTarball(), specs...)
		}
		ch <- err
	}()
}
