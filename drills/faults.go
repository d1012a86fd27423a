package drills

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/proc"
	"github.com/kubetutor/kubetutor/internal/shellquote"
)

// FaultSpec is a drill's fault as its front matter gives it: exactly one of
// its fields.
type FaultSpec struct {
	// Stop stops a running component (SIGTERM, as Ctrl-C in its terminal).
	Stop string `json:"stop,omitempty"`
	// Freeze stops a running component with SIGSTOP: it keeps its sockets
	// and its data and answers nothing until SIGCONT.
	Freeze string `json:"freeze,omitempty"`
	// Edit changes a file the cluster reads.
	Edit *EditSpec `json:"edit,omitempty"`
	// Taint puts a taint (key=value:Effect) on the node.
	Taint string `json:"taint,omitempty"`
	// Scale sets a Deployment's replicas.
	Scale *ScaleSpec `json:"scale,omitempty"`
	// Selector changes one key of a Service's selector.
	Selector *SelectorSpec `json:"selector,omitempty"`
}

// EditSpec replaces the first Old in a file with New.
type EditSpec struct {
	// File is which file: "cni-config" (the configuration the runtime
	// uses) or "kubeconfig" (the one kubectl and kubetutor load).
	File string `json:"file"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// ScaleSpec sets a Deployment's replicas.
type ScaleSpec struct {
	Namespace  string `json:"namespace"`
	Deployment string `json:"deployment"`
	Replicas   int32  `json:"replicas"`
}

// SelectorSpec sets Key of a Service's selector to Value.
type SelectorSpec struct {
	Service string `json:"service"`
	Key     string `json:"key"`
	Value   string `json:"value"`
}

// Fault breaks the cluster and undoes it. Inject saves in dir, before it
// changes anything, what Restore needs.
type Fault interface {
	Inject(ctx context.Context, env *checks.Env, dir string) error
	// Restore undoes the fault and says what it did.
	Restore(ctx context.Context, env *checks.Env, dir string) (string, error)
}

// Observer is a fault that can tell what the learner has done since it
// was injected, for a hint that fits: a stopped component started again,
// an edited file changed but not back.
type Observer interface {
	// Observe says what it sees, or "" when nothing is worth saying.
	Observe(env *checks.Env, dir string) string
}

// The files an edit may name.
const (
	fileCNIConfig  = "cni-config"
	fileKubeconfig = "kubeconfig"
)

func (s FaultSpec) validate() error {
	n := 0
	if s.Stop != "" {
		n++
		if _, err := course.Lookup(s.Stop); err != nil {
			return err
		}
	}
	if s.Freeze != "" {
		n++
		if _, err := course.Lookup(s.Freeze); err != nil {
			return err
		}
	}
	if s.Edit != nil {
		n++
		if s.Edit.File != fileCNIConfig && s.Edit.File != fileKubeconfig {
			return fmt.Errorf("edit.file %q: give %s or %s", s.Edit.File, fileCNIConfig, fileKubeconfig)
		}
		if s.Edit.Old == "" || s.Edit.Old == s.Edit.New {
			return errors.New("edit: old must be given and differ from new")
		}
	}
	if s.Taint != "" {
		n++
		if _, err := parseTaint(s.Taint); err != nil {
			return err
		}
	}
	if s.Scale != nil {
		n++
	}
	if s.Selector != nil {
		n++
	}
	if n != 1 {
		return fmt.Errorf("give exactly one of stop, freeze, edit, taint, scale, selector (%d given)", n)
	}
	return nil
}

// Fault is the fault the spec describes.
func (s FaultSpec) Fault() Fault {
	switch {
	case s.Stop != "":
		return stopFault{name: s.Stop}
	case s.Freeze != "":
		return freezeFault{name: s.Freeze}
	case s.Edit != nil:
		return editFault(*s.Edit)
	case s.Taint != "":
		t, _ := parseTaint(s.Taint)
		return taintFault{taint: t}
	case s.Scale != nil:
		return scaleFault(*s.Scale)
	default:
		return selectorFault(*s.Selector)
	}
}

// saveRecord writes what a fault saved, private to the user.
func saveRecord(dir string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFile(filepath.Join(dir, "fault.json"), append(data, '\n'), 0o600)
}

func loadRecord(dir string, v any) error {
	data, err := fsutil.ReadFile(filepath.Join(dir, "fault.json"), fsutil.LimitConfig)
	if err != nil {
		return fmt.Errorf("read what the drill saved: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("read what the drill saved in %s: %w", dir, err)
	}
	return nil
}

// stopFault stops a component as Ctrl-C in its terminal would, after
// recording how it was started (its command line, directory and
// environment) so that restore starts it again the same way.
type stopFault struct{ name string }

type processRecord struct {
	Name string   `json:"name"`
	PID  int      `json:"pid"`
	Args []string `json:"args"`
	Dir  string   `json:"dir"`
	Env  []string `json:"env"`
}

// stopGrace is how long a stopped component may take to exit before it is
// killed.
const stopGrace = 30 * time.Second

func (f stopFault) Inject(_ context.Context, env *checks.Env, dir string) error {
	tbl := proc.Table{Dir: env.HostPath("proc")}
	e, ok := tbl.Live(f.name, nil)
	if !ok {
		return fmt.Errorf("%s does not run: there is nothing to stop", f.name)
	}
	rec, err := readProcess(env, f.name, e.PID)
	if err != nil {
		return err
	}
	if err := saveRecord(dir, rec); err != nil {
		return fmt.Errorf("record how %s was started: %w", f.name, err)
	}
	if err := proc.StopPid(e.PID, stopGrace); err != nil {
		return fmt.Errorf("stop %s: %w", f.name, err)
	}
	return nil
}

// readProcess reads a running process's command line, directory and
// environment.
func readProcess(env *checks.Env, name string, pid int) (processRecord, error) {
	p := strconv.Itoa(pid)
	rec := processRecord{Name: name, PID: pid}
	cmdline, err := fsutil.ReadFile(env.HostPath("proc", p, "cmdline"), fsutil.LimitConfig)
	if err != nil {
		return rec, fmt.Errorf("read the command line of %s (pid %d): %w", name, pid, err)
	}
	rec.Args = nulFields(cmdline)
	if len(rec.Args) == 0 {
		return rec, fmt.Errorf("%s (pid %d) has no command line", name, pid)
	}
	if rec.Dir, err = os.Readlink(env.HostPath("proc", p, "cwd")); err != nil {
		return rec, fmt.Errorf("read the directory of %s (pid %d): %w", name, pid, err)
	}
	environ, err := fsutil.ReadFile(env.HostPath("proc", p, "environ"), fsutil.LimitConfig)
	if err != nil {
		return rec, fmt.Errorf("read the environment of %s (pid %d): %w", name, pid, err)
	}
	rec.Env = nulFields(environ)
	return rec, nil
}

func nulFields(b []byte) []string {
	var out []string
	for _, f := range strings.Split(string(b), "\x00") {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (f stopFault) Restore(_ context.Context, env *checks.Env, dir string) (string, error) {
	var rec processRecord
	if err := loadRecord(dir, &rec); err != nil {
		return "", err
	}
	tbl := proc.Table{Dir: env.HostPath("proc")}
	if e, ok := tbl.Live(f.name, nil); ok {
		return fmt.Sprintf("%s runs (pid %d): nothing to start.", f.name, e.PID), nil
	}
	line := shellquote.Join(rec.Args...)
	logPath := filepath.Join(dir, f.name+".log")
	p, err := proc.Start(proc.Spec{Name: f.name, Shell: line, Dir: rec.Dir, Env: rec.Env, LogPath: logPath, Detach: true})
	if err != nil {
		return "", fmt.Errorf("start %s again: %w", f.name, err)
	}
	// A command line that cannot work any more (a file since removed)
	// ends at once: say so rather than claim it runs.
	select {
	case <-p.Done():
		return "", fmt.Errorf("started %s again, but it exited at once; its log %s ends:\n%s", f.name, logPath, p.Tail(10))
	case <-time.After(time.Second):
	}
	if err := fsutil.WriteFile(filepath.Join(dir, f.name+".pid"), []byte(strconv.Itoa(p.Pid())+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("record the pid of %s: %w", f.name, err)
	}
	return fmt.Sprintf("Started %s again in the background as it ran before (pid %d), logging to %s.\n"+
		"To run it in a terminal of your own instead: kill %d, then in that terminal:\n  cd %s\n  %s",
		f.name, p.Pid(), logPath, p.Pid(), shellquote.Quote(rec.Dir), line), nil
}

func (f stopFault) Observe(env *checks.Env, dir string) string {
	var rec processRecord
	if loadRecord(dir, &rec) != nil {
		return ""
	}
	if e, ok := (proc.Table{Dir: env.HostPath("proc")}).Live(f.name, nil); ok {
		return fmt.Sprintf("%s runs again (pid %d): if the drill is not solved yet, kubetutor drill status says what still fails.", f.name, e.PID)
	}
	return ""
}

func (f freezeFault) Observe(env *checks.Env, dir string) string {
	var rec processRecord
	if loadRecord(dir, &rec) != nil {
		return ""
	}
	state, ok := (proc.Table{Dir: env.HostPath("proc")}).State(rec.PID)
	switch {
	case !ok || state == "Z" || state == "X":
		return fmt.Sprintf("%s (pid %d) no longer runs: something killed it; start it again as its lesson shows.", f.name, rec.PID)
	case state != "T":
		return fmt.Sprintf("%s (pid %d) runs again: now look at what gave up while it was stopped (kubetutor check --all).", f.name, rec.PID)
	}
	return ""
}

// freezeFault stops a component with SIGSTOP; restore sends SIGCONT.
type freezeFault struct{ name string }

func (f freezeFault) Inject(_ context.Context, env *checks.Env, dir string) error {
	tbl := proc.Table{Dir: env.HostPath("proc")}
	e, ok := tbl.Live(f.name, nil)
	if !ok {
		return fmt.Errorf("%s does not run: there is nothing to freeze", f.name)
	}
	if err := saveRecord(dir, processRecord{Name: f.name, PID: e.PID}); err != nil {
		return err
	}
	if err := syscall.Kill(e.PID, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("freeze %s (pid %d): %w", f.name, e.PID, err)
	}
	return nil
}

func (f freezeFault) Restore(_ context.Context, env *checks.Env, dir string) (string, error) {
	var rec processRecord
	if err := loadRecord(dir, &rec); err != nil {
		return "", err
	}
	tbl := proc.Table{Dir: env.HostPath("proc")}
	if !tbl.Alive(rec.PID) {
		return fmt.Sprintf("%s (pid %d) no longer runs: start it again as its lesson shows.", f.name, rec.PID), nil
	}
	if err := syscall.Kill(rec.PID, syscall.SIGCONT); err != nil {
		return "", fmt.Errorf("thaw %s (pid %d): %w", f.name, rec.PID, err)
	}
	return fmt.Sprintf("Sent SIGCONT to %s (pid %d): it runs again.", f.name, rec.PID), nil
}

// editFault replaces a string in a file the cluster reads, after keeping a
// copy of the file.
type editFault EditSpec

type fileRecord struct {
	Path string      `json:"path"`
	Mode os.FileMode `json:"mode"`
}

// path is the file the edit is about, on this machine.
func (f editFault) path(env *checks.Env) (string, error) {
	switch f.File {
	case fileCNIConfig:
		p, err := checks.CNIConfigFile(env.CNIConfDir)
		if err != nil {
			return "", fmt.Errorf("find the CNI configuration in %s: %w", env.CNIConfDir, err)
		}
		return p, nil
	default:
		res := env.ResolveKubeconfig()
		if res.Err != nil {
			return "", fmt.Errorf("find the kubeconfig: %w", res.Err)
		}
		for _, p := range res.Files {
			if data, err := fsutil.ReadFile(p, fsutil.LimitConfig); err == nil && strings.Contains(string(data), f.Old) {
				return p, nil
			}
		}
		return "", fmt.Errorf("no kubeconfig of %s has %q, as the certs lesson's admin.conf does", strings.Join(res.Files, ", "), f.Old)
	}
}

func (f editFault) Inject(_ context.Context, env *checks.Env, dir string) error {
	p, err := f.path(env)
	if err != nil {
		return err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("edit %s: %w", p, err)
	}
	data, err := fsutil.ReadFile(p, fsutil.LimitConfig)
	if err != nil {
		return fmt.Errorf("edit %s: %w", p, err)
	}
	if !strings.Contains(string(data), f.Old) {
		return fmt.Errorf("%s has no %q, as the lesson's file does: this drill cannot break it", p, f.Old)
	}
	if err := fsutil.WriteFile(filepath.Join(dir, "original"), data, 0o600); err != nil {
		return fmt.Errorf("keep a copy of %s: %w", p, err)
	}
	if err := saveRecord(dir, fileRecord{Path: p, Mode: fi.Mode().Perm()}); err != nil {
		return err
	}
	edited := strings.Replace(string(data), f.Old, f.New, 1)
	if err := fsutil.WriteFile(p, []byte(edited), fi.Mode().Perm()); err != nil {
		return fmt.Errorf("edit %s: %w", p, err)
	}
	return nil
}

func (f editFault) Observe(_ *checks.Env, dir string) string {
	var rec fileRecord
	if loadRecord(dir, &rec) != nil {
		return ""
	}
	orig, err := fsutil.ReadFile(filepath.Join(dir, "original"), fsutil.LimitConfig)
	if err != nil {
		return ""
	}
	now, err := fsutil.ReadFile(rec.Path, fsutil.LimitConfig)
	switch {
	case err != nil:
		return fmt.Sprintf("%s cannot be read now (%v): the fix is in that file, not in a new one.", rec.Path, err)
	case string(now) == string(orig):
		return ""
	case strings.Replace(string(orig), f.Old, f.New, 1) != string(now):
		return fmt.Sprintf("%s has changed since the drill started, but it is not as it was before: compare it with the copy the drill kept, %s (diff %s %s).", rec.Path, filepath.Join(dir, "original"), filepath.Join(dir, "original"), rec.Path)
	}
	return ""
}

func (f editFault) Restore(_ context.Context, _ *checks.Env, dir string) (string, error) {
	var rec fileRecord
	if err := loadRecord(dir, &rec); err != nil {
		return "", err
	}
	orig, err := fsutil.ReadFile(filepath.Join(dir, "original"), fsutil.LimitConfig)
	if err != nil {
		return "", fmt.Errorf("read the copy of %s: %w", rec.Path, err)
	}
	if now, err := fsutil.ReadFile(rec.Path, fsutil.LimitConfig); err == nil && string(now) == string(orig) {
		return fmt.Sprintf("%s is as it was: nothing to put back.", rec.Path), nil
	}
	if err := fsutil.WriteFile(rec.Path, orig, rec.Mode); err != nil {
		return "", fmt.Errorf("put %s back: %w", rec.Path, err)
	}
	return fmt.Sprintf("Put %s back as it was (the copy in %s).", rec.Path, dir), nil
}

// parseTaint reads key=value:Effect (or key:Effect).
func parseTaint(s string) (corev1.Taint, error) {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return corev1.Taint{}, fmt.Errorf("taint %q: want key=value:Effect", s)
	}
	key, value, _ := strings.Cut(kv, "=")
	switch e := corev1.TaintEffect(effect); e {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		return corev1.Taint{Key: key, Value: value, Effect: e}, nil
	}
	return corev1.Taint{}, fmt.Errorf("taint %q: the effect is NoSchedule, PreferNoSchedule or NoExecute", s)
}

// taintFault taints the node.
type taintFault struct{ taint corev1.Taint }

type nodeRecord struct {
	Node string `json:"node"`
}

func (f taintFault) Inject(ctx context.Context, env *checks.Env, dir string) error {
	kube, err := env.Kube()
	if err != nil {
		return err
	}
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list the nodes: %w", err)
	}
	if len(nodes.Items) == 0 {
		return errors.New("the cluster has no node to taint")
	}
	name := nodes.Items[0].Name
	if err := saveRecord(dir, nodeRecord{Node: name}); err != nil {
		return err
	}
	return updateNode(ctx, env, name, func(n *corev1.Node) {
		n.Spec.Taints = append(withoutTaint(n.Spec.Taints, f.taint), f.taint)
	})
}

func (f taintFault) Restore(ctx context.Context, env *checks.Env, dir string) (string, error) {
	var rec nodeRecord
	if err := loadRecord(dir, &rec); err != nil {
		return "", err
	}
	err := updateNode(ctx, env, rec.Node, func(n *corev1.Node) { n.Spec.Taints = withoutTaint(n.Spec.Taints, f.taint) })
	if apierrors.IsNotFound(err) {
		return fmt.Sprintf("Node %s is gone, so is its taint; a kubelet registers its node when it starts: start the kubelet again (kubetutor show kubelet --commands).", rec.Node), nil
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Removed the taint %s from node %s.", f.taint.ToString(), rec.Node), nil
}

func withoutTaint(ts []corev1.Taint, t corev1.Taint) []corev1.Taint {
	var out []corev1.Taint
	for _, x := range ts {
		if x.Key != t.Key || x.Effect != t.Effect {
			out = append(out, x)
		}
	}
	return out
}

func updateNode(ctx context.Context, env *checks.Env, name string, change func(*corev1.Node)) error {
	kube, err := env.Kube()
	if err != nil {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(n)
		_, err = kube.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
}

// scaleFault sets a Deployment's replicas.
type scaleFault ScaleSpec

type replicasRecord struct {
	Replicas int32 `json:"replicas"`
}

func (f scaleFault) Inject(ctx context.Context, env *checks.Env, dir string) error {
	kube, err := env.Kube()
	if err != nil {
		return err
	}
	deps := kube.AppsV1().Deployments(f.Namespace)
	sc, err := deps.GetScale(ctx, f.Deployment, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read the scale of deployment %s/%s: %w", f.Namespace, f.Deployment, err)
	}
	if err := saveRecord(dir, replicasRecord{Replicas: sc.Spec.Replicas}); err != nil {
		return err
	}
	return f.scale(ctx, env, f.Replicas)
}

func (f scaleFault) scale(ctx context.Context, env *checks.Env, n int32) error {
	kube, err := env.Kube()
	if err != nil {
		return err
	}
	deps := kube.AppsV1().Deployments(f.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sc, err := deps.GetScale(ctx, f.Deployment, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("read the scale of deployment %s/%s: %w", f.Namespace, f.Deployment, err)
		}
		sc.Spec.Replicas = n
		_, err = deps.UpdateScale(ctx, f.Deployment, sc, metav1.UpdateOptions{})
		return err
	})
}

func (f scaleFault) Restore(ctx context.Context, env *checks.Env, dir string) (string, error) {
	var rec replicasRecord
	if err := loadRecord(dir, &rec); err != nil {
		return "", err
	}
	if err := f.scale(ctx, env, rec.Replicas); err != nil {
		return "", fmt.Errorf("scale deployment %s/%s back to %d: %w", f.Namespace, f.Deployment, rec.Replicas, err)
	}
	return fmt.Sprintf("Scaled deployment %s/%s back to %d.", f.Namespace, f.Deployment, rec.Replicas), nil
}

// selectorFault changes one key of a Service's selector.
type selectorFault SelectorSpec

type selectorRecord struct {
	Selector map[string]string `json:"selector"`
}

func (f selectorFault) Inject(ctx context.Context, env *checks.Env, dir string) error {
	var saved bool
	return f.update(ctx, env, func(sel map[string]string) (map[string]string, error) {
		if !saved {
			if err := saveRecord(dir, selectorRecord{Selector: sel}); err != nil {
				return nil, err
			}
			saved = true
		}
		out := map[string]string{}
		for k, v := range sel {
			out[k] = v
		}
		out[f.Key] = f.Value
		return out, nil
	})
}

func (f selectorFault) Restore(ctx context.Context, env *checks.Env, dir string) (string, error) {
	var rec selectorRecord
	if err := loadRecord(dir, &rec); err != nil {
		return "", err
	}
	err := f.update(ctx, env, func(map[string]string) (map[string]string, error) { return rec.Selector, nil })
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Gave service %s its selector back.", f.Service), nil
}

func (f selectorFault) update(ctx context.Context, env *checks.Env, change func(map[string]string) (map[string]string, error)) error {
	kube, err := env.Kube()
	if err != nil {
		return err
	}
	svcs := kube.CoreV1().Services(env.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := svcs.Get(ctx, f.Service, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("read service %s: %w", f.Service, err)
		}
		if s.Spec.Selector, err = change(s.Spec.Selector); err != nil {
			return err
		}
		_, err = svcs.Update(ctx, s, metav1.UpdateOptions{})
		return err
	})
}
