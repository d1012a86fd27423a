package checks

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"

	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/proc"
	"github.com/kubetutor/kubetutor/internal/shellquote"
	"github.com/kubetutor/kubetutor/internal/textsafe"
)

// component is a course component as this Env judges it: its /healthz URL
// on this machine and, for a node Lease, the node found at run time.
type component struct {
	course.Component
	// Healthz is its /healthz URL here (the table's unless the Env says).
	Healthz string
	// LeaseNamespace and LeaseName locate its Lease (empty: none known).
	LeaseNamespace, LeaseName string
	// LeaseKind says what the lease is, for messages.
	LeaseKind string
	// NoLease, when set, replaces "it never ran" when there is no Lease
	// (a kubelet: its node exists but has no Lease yet).
	NoLease string
}

// componentOf is the course component name as this Env sees it.
func componentOf(env *Env, name string) component {
	c := component{Component: course.MustLookup(name), Healthz: env.HealthzURL(name)}
	if l := c.Lease; l != nil {
		c.LeaseNamespace, c.LeaseName, c.LeaseKind = l.Namespace, l.Name, l.Kind
	}
	return c
}

// liveness is what was found about a component.
type liveness struct {
	// Alive is the verdict: it runs now.
	Alive bool
	// Healthz is what /healthz said: "ok", "refused", "no answer", or an
	// HTTP status and body.
	Healthz      string
	HealthzOK    bool
	HealthzKnown bool // refused or answered: this machine's word is final
	// Lease is the Lease, when it could be read.
	Lease *coordinationv1.Lease
	// LeaseFresh: renewed within its duration.
	LeaseFresh bool
	// LeaseLocal: its holder is this machine.
	LeaseLocal bool
	// LeaseErr says why the lease could not be read (nil when missing).
	LeaseErr error
	// Message explains the verdict in a sentence.
	Message string
}

// probeHealthz asks a component's /healthz. Components serve it with
// self-signed certificates and allow it anonymously, so the probe neither
// verifies nor authenticates: it only asks whether something is alive there.
// Within a run each URL is asked once.
func probeHealthz(ctx context.Context, env *Env, rawURL string, jsonStatus bool) healthzAnswer {
	a, _ := memoized(ctx, env, fmt.Sprintf("healthz %s json=%t", rawURL, jsonStatus), func() (healthzAnswer, error) {
		return askHealthz(ctx, env, rawURL, jsonStatus), nil
	})
	return a
}

// healthzAnswer is what a /healthz question got.
type healthzAnswer struct {
	// ok: healthy. known: the answer says something of the component
	// (not a timeout or another network failure).
	ok, known bool
	// gone: nothing listens on the port (refused, or reset as the
	// component exited and nothing listening a moment later).
	gone bool
	what string
}

// askHealthz asks /healthz once. Most components answer the text "ok";
// one whose table entry says HealthzJSON (kube-proxy) answers a JSON status,
// 200 when healthy and 503 otherwise.
func askHealthz(ctx context.Context, env *Env, rawURL string, jsonStatus bool) healthzAnswer {
	timeout := env.Timeout
	if timeout > 2*time.Second {
		timeout = 2 * time.Second
	}
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // liveness probe of a self-signed endpoint
			DisableKeepAlives: true,
			Proxy:             nil,
		},
	}
	code, body, err := httpGet(ctx, client, rawURL)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return healthzAnswer{known: true, gone: true, what: "nothing answers on " + hostOf(rawURL) + " (connection refused)"}
	case errors.Is(err, syscall.ECONNRESET) && !listens(env, rawURL):
		// Reset as the component exits, and nothing listens any more.
		return healthzAnswer{known: true, gone: true, what: "nothing answers on " + hostOf(rawURL) + " (connection reset, and nothing listens there now)"}
	case err != nil:
		return healthzAnswer{what: hostOf(rawURL) + " does not answer: " + describeNetError(err)}
	case jsonStatus:
		ok, what := proxyHealthVerdict(code, body)
		return healthzAnswer{ok: ok, known: true, what: fmt.Sprintf("/healthz on %s answers %s", hostOf(rawURL), what)}
	case code == http.StatusOK && strings.TrimSpace(string(body)) == "ok":
		return healthzAnswer{ok: true, known: true, what: "/healthz ok on " + hostOf(rawURL)}
	}
	return healthzAnswer{known: true, what: fmt.Sprintf("/healthz on %s answers HTTP %d: %s", hostOf(rawURL), code, truncate(textsafe.FirstLine(string(body)), 120))}
}

// proxyHealth is kube-proxy's /healthz answer (its ProxyHealth, in
// pkg/proxy/healthcheck/proxy_health.go of Kubernetes v1.37).
type proxyHealth struct {
	NodeEligible *bool `json:"nodeEligible"`
	Healthy      *bool `json:"healthy"`
}

// proxyHealthVerdict judges kube-proxy's /healthz answer: healthy when the
// status is 200 and the JSON says healthy (and, when it says so, that its
// node is eligible). kube-proxy answers 503 when a change has waited longer
// than its health timeout (twice --iptables-sync-period) to reach the
// rules, or when its node is missing, being deleted or tainted
// ToBeDeletedByClusterAutoscaler. what describes the answer.
func proxyHealthVerdict(code int, body []byte) (ok bool, what string) {
	var h proxyHealth
	if err := json.Unmarshal(body, &h); err != nil || h.Healthy == nil {
		return false, fmt.Sprintf("HTTP %d, not kube-proxy's JSON status: %s", code, truncate(textsafe.FirstLine(string(body)), 120))
	}
	var why []string
	if !*h.Healthy {
		why = append(why, "its rules are late (a Service or EndpointSlice change waited longer than twice --iptables-sync-period)")
	}
	if h.NodeEligible != nil && !*h.NodeEligible {
		why = append(why, "its node is not eligible (no Node of the name --hostname-override gives, or the node is being deleted)")
	}
	switch {
	case code == http.StatusOK && len(why) == 0:
		// (A healthy kube-proxy sets lastUpdated to the time of the
		// answer: it says nothing of its last sync.)
		return true, "200, healthy"
	case len(why) == 0:
		why = append(why, "yet its JSON says healthy")
	}
	return false, fmt.Sprintf("HTTP %d: %s", code, strings.Join(why, "; "))
}

func hostOf(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		return u.Host
	}
	return rawURL
}

// kubeOrNil is the clientset, or nil when none can be built: liveness is
// then judged on /healthz alone.
func (e *Env) kubeOrNil() kubernetes.Interface {
	kube, err := e.Kube()
	if err != nil {
		return nil
	}
	return kube
}

// leaseState reads a Lease and says whether it is fresh and held here.
func leaseState(ctx context.Context, env *Env, kube kubernetes.Interface, ns, name string, lv *liveness) {
	l, err := env.reader(kube).lease(ctx, ns, name)
	if apierrors.IsNotFound(err) {
		return
	}
	if err != nil {
		lv.LeaseErr = err
		return
	}
	lv.Lease = l
	if l.Spec.RenewTime != nil {
		dur := 15 * time.Second
		if l.Spec.LeaseDurationSeconds != nil {
			dur = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
		}
		lv.LeaseFresh = env.Now().Sub(l.Spec.RenewTime.Time) <= dur
	}
	holder := ""
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	lv.LeaseLocal = holderIsHost(holder, env.Hostname)
}

// holderIsHost reports whether a lease holder ("vm_3f2a…" for leader
// election, the node name for a node lease) is this machine.
func holderIsHost(holder, hostname string) bool {
	if holder == "" || hostname == "" {
		return false
	}
	h := strings.ToLower(holder)
	host := strings.ToLower(hostname)
	if i := strings.IndexByte(host, '.'); i > 0 {
		host = host[:i]
	}
	return h == host || strings.HasPrefix(h, host+"_") || strings.HasPrefix(h, host+".")
}

// lastSeen says when a lease was last renewed: "42s ago (lease held by vm_3f2a)".
func lastSeen(env *Env, l *coordinationv1.Lease) string {
	if l == nil || l.Spec.RenewTime == nil {
		return ""
	}
	ago := env.Now().Sub(l.Spec.RenewTime.Time).Round(time.Second)
	if ago < 0 {
		ago = 0
	}
	return fmt.Sprintf("%s ago, at %s", ago, l.Spec.RenewTime.Local().Format("15:04:05"))
}

// startGrace is how long after its start a component whose /healthz port
// refuses is "starting" rather than "listening elsewhere": the slowest of
// them (kube-apiserver's clients, the kubelet) open their ports within a few
// seconds here.
const startGrace = 20 * time.Second

// checkLiveness decides whether a component runs now. /healthz on this
// machine is the first witness, and a refusal there is final: no Lease makes
// a component alive when its port here refuses (a Lease outlives the process
// by its duration). A Lease counts only when /healthz could not be asked at
// all, and only while it is fresh and held by another machine; a released
// Lease (no holder) is proof the component stopped.
func checkLiveness(ctx context.Context, env *Env, kube kubernetes.Interface, c component) liveness {
	var lv liveness
	a := probeHealthz(ctx, env, c.Healthz, c.HealthzJSON)
	lv.HealthzOK, lv.HealthzKnown, lv.Healthz = a.ok, a.known, a.what
	if kube != nil && c.LeaseName != "" {
		leaseState(ctx, env, kube, c.LeaseNamespace, c.LeaseName, &lv)
	}
	seen := lastSeen(env, lv.Lease)
	refused := a.gone
	switch {
	case lv.HealthzOK:
		lv.Alive = true
		lv.Message = fmt.Sprintf("%s is running: %s", c.Name, lv.Healthz)
		if lv.Lease != nil {
			lv.Message += fmt.Sprintf("; its %s was renewed %s", c.LeaseKind, seen)
		}
		return lv
	case refused:
		if pid, age, ok := localProcess(env, c.Name); ok {
			if age >= 0 && age < startGrace {
				lv.Message = fmt.Sprintf("%s is starting (pid %d, started %s ago): %s yet", c.Name, pid, age.Round(100*time.Millisecond), lv.Healthz)
				return lv
			}
			// Started with another port (--secure-port, --healthz-port)?
			lv.Alive = true
			lv.Message = fmt.Sprintf("%s runs on this machine (pid %d), but %s: was it started with another port?", c.Name, pid, lv.Healthz)
			return lv
		}
	case !lv.HealthzKnown && lv.Lease != nil && lv.LeaseFresh && !lv.LeaseLocal && holderOf(lv.Lease) != nobody:
		lv.Alive = true
		lv.Message = fmt.Sprintf("%s is running on %s: its %s was renewed %s (%s)", c.Name, holderOf(lv.Lease), c.LeaseKind, seen, lv.Healthz)
		return lv
	case lv.HealthzKnown:
		lv.Message = fmt.Sprintf("%s is not healthy: %s", c.Name, lv.Healthz)
		return lv
	}
	lv.Message = fmt.Sprintf("%s is not running: %s", c.Name, lv.Healthz)
	switch {
	case lv.Lease != nil && holderOf(lv.Lease) == nobody && seen != "":
		lv.Message += fmt.Sprintf("; it released its %s %s, as a component does when it stops", c.LeaseKind, seen)
	case lv.Lease != nil && seen != "":
		lv.Message += fmt.Sprintf("; last seen alive %s (its %s, held by %s)", seen, c.LeaseKind, holderOf(lv.Lease))
	case c.NoLease != "":
		lv.Message += "; " + c.NoLease
	case lv.LeaseErr == nil && kube != nil && c.LeaseName != "":
		lv.Message += fmt.Sprintf("; it never ran against this cluster (no %s)", c.LeaseKind)
	}
	return lv
}

// nobody is holderOf a released Lease.
const nobody = "nobody"

func holderOf(l *coordinationv1.Lease) string {
	if l == nil || l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
		return nobody
	}
	return *l.Spec.HolderIdentity
}

// livenessOf decides whether the named component runs now; a component
// with a node Lease is looked for through this machine's node.
func livenessOf(ctx context.Context, env *Env, kube kubernetes.Interface, name string) liveness {
	c := componentOf(env, name)
	if c.Lease.Node() {
		return nodeAgentLiveness(ctx, env, kube, c)
	}
	return checkLiveness(ctx, env, kube, c)
}

// staleUnlessAlive keeps a pass that rests on what a component did (a
// ReplicaSet made, a pod bound, a node's status posted) only while that
// component runs: once it is gone the effect is still in etcd, and the
// result says it is stale with a warning. The step's own liveness check is
// what fails.
func staleUnlessAlive(ctx context.Context, env *Env, kube kubernetes.Interface, name string, r Result) Result {
	if r.Status != Pass {
		return r
	}
	if lv := livenessOf(ctx, env, kube, name); !lv.Alive {
		r.Status = Warn
		r.Message += fmt.Sprintf(" That is stale, not proof: %s.", lv.Message)
	}
	return r
}

// ComponentAlive checks that a component of the course's table runs now, not
// that it once did: its effects (a ReplicaSet, a bound pod, a Service's
// iptables rules) outlive it. Its /healthz here decides, with its Lease when
// it renews one and this machine's processes when /healthz refuses.
type ComponentAlive struct {
	// Component is the program's name in the course's table.
	Component string
}

// Name implements Checker.
func (c ComponentAlive) Name() string { return c.Component + "-running" }

// Check implements Checker.
func (c ComponentAlive) Check(ctx context.Context, env *Env) (Result, error) {
	comp := componentOf(env, c.Component)
	lv := livenessOf(ctx, env, env.kubeOrNil(), c.Component)
	if lv.Alive {
		return passf("%s.", lv.Message).saw("alive", "a running "+comp.Name), nil
	}
	msg := lv.Message + "."
	if lv.Lease != nil {
		msg += " What it did before stays in etcd (a ReplicaSet, a bound pod): that is stale, not proof it runs."
	}
	return failf("%s", msg).
		saw("not running", "a running "+comp.Name).
		hint("start %s again: run the step's commands, kubetutor show %s --commands; if it exits, read its last log lines", comp.Name, comp.Step), nil
}

// KubeletAlive checks that a kubelet runs now: its /healthz on this machine,
// or its node's Lease in kube-node-lease renewed in time.
type KubeletAlive struct{}

// Name implements Checker.
func (KubeletAlive) Name() string { return "kubelet-running" }

// Check implements Checker.
func (KubeletAlive) Check(ctx context.Context, env *Env) (Result, error) {
	lv := livenessOf(ctx, env, env.kubeOrNil(), course.Kubelet)
	if lv.Alive {
		return passf("%s.", lv.Message).saw("alive", "a running kubelet"), nil
	}
	r := failf("%s.", lv.Message).saw("not running", "a running kubelet")
	if lv.Lease == nil && strings.Contains(lv.Message, "no node has registered") {
		// It never got as far as registering: most often it exited at once,
		// on a --kubeconfig that names no file (the talk's
		// --kubeconfig=kubeconfig after the file moved to ~/.kube/config).
		kc := env.KubeconfigPath()
		cgroup := ""
		if env.hostProbe().CgroupV1() {
			cgroup = " and, this host using cgroup v1, --config with a KubeletConfiguration saying failCgroupV1: false"
		}
		return r.hint("start the kubelet as root (containerd must run first) with a kubeconfig that exists: kubetutor reads %s, so --kubeconfig=%s%s; if it exits, its first error line says why (kubetutor show kubelet --commands)", kc, shellquote.Quote(kc), cgroup), nil
	}
	return r.hint("start the kubelet again as root: run the step's commands, kubetutor show kubelet --commands (containerd must run first)"), nil
}

// nodeAgentLiveness finds this machine's node (or the only one) and decides
// whether its agent (the kubelet), which renews the node's Lease, runs.
func nodeAgentLiveness(ctx context.Context, env *Env, kube kubernetes.Interface, comp component) liveness {
	if kube != nil {
		if n := localNode(ctx, env, kube); n != nil {
			comp.LeaseName = n.Name
			comp.LeaseKind = comp.Lease.Kind + " " + comp.LeaseNamespace + "/" + n.Name
			// The kubelet's lease controller first tries before its node is
			// registered, cannot set the node as the Lease's owner, and tries
			// again one renew interval later (10 s by default).
			comp.NoLease = fmt.Sprintf("node %s has no Lease in kube-node-lease yet (a kubelet creates it about 10 s after it starts, once its node is registered)", n.Name)
			if c := nodeCondition(n, corev1.NodeReady); c != nil && !c.LastHeartbeatTime.IsZero() {
				comp.NoLease += fmt.Sprintf(", and its status was last posted %s ago", env.Now().Sub(c.LastHeartbeatTime.Time).Round(time.Second))
			}
		} else {
			comp.NoLease = "no node has registered"
		}
	}
	return checkLiveness(ctx, env, kube, comp)
}

// localNode is the node named after this machine, else the first node.
func localNode(ctx context.Context, env *Env, kube kubernetes.Interface) *corev1.Node {
	nodes, err := env.reader(kube).nodes(ctx)
	if err != nil || len(nodes) == 0 {
		return nil
	}
	for i := range nodes {
		if holderIsHost(nodes[i].Name, env.Hostname) {
			return &nodes[i]
		}
	}
	return &nodes[0]
}

func defaultHostname() string {
	h, _ := os.Hostname()
	return h
}

// clockTicks is the kernel's USER_HZ, the unit of a process's start time in
// /proc/PID/stat: 100 on every Linux architecture Kubernetes runs on.
const clockTicks = 100

// localProcess finds a live (not zombie) process of this machine whose
// command name is name (as /proc truncates it), and how long it has run
// (negative when /proc does not say).
func localProcess(env *Env, name string) (pid int, age time.Duration, ok bool) {
	uptime := hostUptime(env)
	self := os.Getpid()
	p, ok := proc.Table{Dir: env.HostPath("proc")}.Live(name, func(p proc.Entry) bool {
		// Our own child: the tools step asking `kubelet --version` in
		// this very run is not a kubelet that runs. (The demo's own
		// components are its children too, and count.)
		return p.PPID == self && versionRun(env, strconv.Itoa(p.PID))
	})
	if !ok {
		return 0, 0, false
	}
	age = time.Duration(-1)
	if p.StartTicks >= 0 && uptime > 0 {
		age = max(uptime-time.Duration(p.StartTicks)*time.Second/clockTicks, 0)
	}
	return p.PID, age, true
}

// versionRun reports whether a process was started to print its version
// (the tools step's `kubelet --version`, `kubectl version --client`).
func versionRun(env *Env, pid string) bool {
	data, err := fsutil.ReadFile(env.HostPath("proc", pid, "cmdline"), fsutil.LimitConfig)
	if err != nil {
		return true // gone already, or unreadable: not a component that runs
	}
	for _, a := range strings.Split(string(data), "\x00")[1:] {
		if a == "--version" || a == "version" {
			return true
		}
	}
	return false
}

// hostUptime reads /proc/uptime: how long since the machine booted.
func hostUptime(env *Env) time.Duration {
	data, err := fsutil.ReadFile(env.HostPath("proc", "uptime"), fsutil.LimitSmall)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	secs, err := strconv.ParseFloat(f[0], 64)
	if err != nil || secs <= 0 {
		return 0
	}
	return time.Duration(secs * float64(time.Second))
}
