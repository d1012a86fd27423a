package checks

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/textsafe"
)

// workload is what the cluster holds for the learner's Deployment.
type workload struct {
	deployment  *appsv1.Deployment
	replicaSets []appsv1.ReplicaSet
	pods        []corev1.Pod
}

// loadWorkload reads the Deployment, its ReplicaSets and its pods. A nil
// deployment with a nil error means it does not exist.
func loadWorkload(ctx context.Context, env *Env, kube kubernetes.Interface) (*workload, error) {
	rd := env.reader(kube)
	d, err := rd.deployment(ctx, env.Namespace, env.Deployment)
	if apierrors.IsNotFound(err) {
		return &workload{}, nil
	}
	if err != nil {
		return nil, err
	}
	w := &workload{deployment: d}
	// Only the objects the Deployment's selector matches; ownership decides.
	var sel labels.Selector
	if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil && !s.Empty() {
		sel = s
	}
	// The ReplicaSets and the pods are independent questions: ask both at once.
	var podList []corev1.Pod
	var podErr error
	podsDone := make(chan struct{})
	go func() {
		defer close(podsDone)
		podList, podErr = rd.pods(ctx, env.Namespace, sel)
	}()
	rsList, err := rd.replicaSets(ctx, env.Namespace, sel)
	<-podsDone
	if err != nil {
		return nil, err
	}
	if podErr != nil {
		return nil, podErr
	}
	for _, rs := range rsList {
		if metav1.IsControlledBy(&rs, d) {
			w.replicaSets = append(w.replicaSets, rs)
		}
	}
	sort.Slice(w.replicaSets, func(i, j int) bool { return w.replicaSets[i].Name < w.replicaSets[j].Name })
	for _, p := range podList {
		for _, rs := range w.replicaSets {
			if metav1.IsControlledBy(&p, &rs) {
				w.pods = append(w.pods, p)
				break
			}
		}
	}
	sort.Slice(w.pods, func(i, j int) bool { return w.pods[i].Name < w.pods[j].Name })
	return w, nil
}

// deploymentWorkload loads the learner's workload for a check, turning the
// usual reasons it cannot (no API server, no Deployment) into a failing result.
func deploymentWorkload(ctx context.Context, env *Env) (*workload, kubernetes.Interface, *Result) {
	kube, fail := kubeClient(env)
	if fail != nil {
		return nil, nil, fail
	}
	w, err := loadWorkload(ctx, env, kube)
	if err != nil {
		r := apiFailure(env, err)
		return nil, nil, &r
	}
	if w.deployment == nil {
		r := deploymentMissing(env)
		return nil, nil, &r
	}
	return w, kube, nil
}

// newestReplicaSet is the Deployment's current ReplicaSet: the one with the
// highest deployment.kubernetes.io/revision.
func (w *workload) newestReplicaSet() appsv1.ReplicaSet {
	best, bestRev := w.replicaSets[0], -1
	for _, rs := range w.replicaSets {
		rev, err := strconv.Atoi(rs.Annotations["deployment.kubernetes.io/revision"])
		if err != nil {
			rev = 0
		}
		if rev > bestRev {
			best, bestRev = rs, rev
		}
	}
	return best
}

func (w *workload) rsNames() string {
	names := make([]string, len(w.replicaSets))
	for i, rs := range w.replicaSets {
		names[i] = rs.Name
	}
	return strings.Join(names, ", ")
}

func deploymentMissing(env *Env) Result {
	return failf("There is no Deployment %q in namespace %q.", env.Deployment, env.Namespace).
		saw("no Deployment "+env.Deployment, "Deployment "+env.Deployment).
		hint("create it: run the step's commands, kubetutor show deployment --commands")
}

// DeploymentExists checks that the learner's Deployment exists, and explains
// why it has no ReplicaSet while no controller-manager runs.
type DeploymentExists struct{}

// Name implements Checker.
func (DeploymentExists) Name() string { return "deployment-exists" }

// Check implements Checker.
func (DeploymentExists) Check(ctx context.Context, env *Env) (Result, error) {
	w, _, fail := deploymentWorkload(ctx, env)
	if fail != nil {
		return *fail, nil
	}
	d := w.deployment
	ready := fmt.Sprintf("%d/%d ready", d.Status.ReadyReplicas, replicas(d))
	if len(w.replicaSets) == 0 {
		return passf("Deployment %s exists (%s) and has no ReplicaSet yet. That is expected now: the API server only stores the object; "+
			"creating a ReplicaSet is the job of the deployment controller in kube-controller-manager, which is not running.", d.Name, ready).
			saw("Deployment "+d.Name+", no ReplicaSet", "Deployment "+d.Name).
			detail("image %s", images(d.Spec.Template.Spec.Containers)), nil
	}
	return passf("Deployment %s exists (%s); its ReplicaSet %s shows a controller-manager has acted on it.", d.Name, ready, w.rsNames()).
		detail("image %s", images(d.Spec.Template.Spec.Containers)), nil
}

// ReplicaSetCreated checks that the deployment controller made a ReplicaSet.
type ReplicaSetCreated struct{}

// Name implements Checker.
func (ReplicaSetCreated) Name() string { return "replicaset-created" }

// Check implements Checker.
func (ReplicaSetCreated) Check(ctx context.Context, env *Env) (Result, error) {
	w, kube, fail := deploymentWorkload(ctx, env)
	if fail != nil {
		return *fail, nil
	}
	if len(w.replicaSets) == 0 {
		r := failf("Deployment %s has no ReplicaSet: no deployment controller has acted on it, so kube-controller-manager is not running (or cannot reach the API server).", w.deployment.Name).
			saw("no ReplicaSet owned by "+w.deployment.Name, "a ReplicaSet "+w.deployment.Name+"-<hash>").
			hint("start kube-controller-manager (kubetutor show controller-manager)")
		if age, ok := leaseAge(ctx, env.reader(kube), course.ControllerManager, env.Now()); ok && age < time.Minute {
			r.Message += fmt.Sprintf(" Its leader lease was renewed %s ago, so it runs: read its log for errors.", age.Round(time.Second))
		}
		return r, nil
	}
	rs := w.newestReplicaSet()
	return staleUnlessAlive(ctx, env, kube, course.ControllerManager,
		passf("The deployment controller created ReplicaSet %s (desired %d, current %d).", rs.Name, ptrInt(rs.Spec.Replicas), rs.Status.Replicas)), nil
}

// PodsCreated checks that the ReplicaSet controller made pods, and explains
// why they are Pending without a node while no scheduler runs.
type PodsCreated struct{}

// Name implements Checker.
func (PodsCreated) Name() string { return "pods-created" }

// Check implements Checker.
func (PodsCreated) Check(ctx context.Context, env *Env) (Result, error) {
	w, kube, fail := deploymentWorkload(ctx, env)
	if fail != nil {
		return *fail, nil
	}
	r := podsCreated(w)
	return staleUnlessAlive(ctx, env, kube, course.ControllerManager, r), nil
}

// podsCreated is the verdict of PodsCreated on the loaded workload.
func podsCreated(w *workload) Result {
	if len(w.replicaSets) == 0 {
		return failf("No ReplicaSet, so no pods: kube-controller-manager has not acted on Deployment %s.", w.deployment.Name).
			saw("no ReplicaSet", "a ReplicaSet and its pods").
			hint("start kube-controller-manager (kubetutor show controller-manager)")
	}
	if len(w.pods) == 0 {
		r := failf("ReplicaSet %s exists but has no pods yet.", w.rsNames()).
			saw("0 pods", fmt.Sprintf("%d pod(s)", replicas(w.deployment))).
			hint("wait a second; if it stays so, read kube-controller-manager's log")
		for _, rs := range w.replicaSets {
			for _, c := range rs.Status.Conditions {
				if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
					r.Message += fmt.Sprintf(" The ReplicaSet controller reports: %s.", strings.TrimSuffix(c.Message, "."))
					if strings.Contains(c.Message, "service account") {
						r.Hint = "the `default` ServiceAccount is created by kube-controller-manager's serviceaccount controller, which needs --service-account-private-key-file; check its flags and log"
					}
				}
			}
		}
		return r
	}
	p := w.pods[0]
	if p.Spec.NodeName == "" && podCondition(&p, corev1.PodScheduled) == nil {
		return passf("Pod %s is %s with no node. That is expected now: the ReplicaSet controller created it, but choosing a node is the scheduler's job, and no kube-scheduler runs yet.", p.Name, p.Status.Phase).
			saw(fmt.Sprintf("%d pod(s), %s, no node", len(w.pods), p.Status.Phase), "pods of ReplicaSet "+w.rsNames())
	}
	return passf("ReplicaSet %s has %d pod(s); %s is %s.", w.rsNames(), len(w.pods), p.Name, podState(&p))
}

// PodsSchedulingAttempted checks that a scheduler has looked at the pods:
// either it bound them to a node or it recorded why it could not.
type PodsSchedulingAttempted struct{}

// Name implements Checker.
func (PodsSchedulingAttempted) Name() string { return "pods-scheduled-or-attempted" }

// Check implements Checker.
func (PodsSchedulingAttempted) Check(ctx context.Context, env *Env) (Result, error) {
	w, kube, fail := deploymentWorkload(ctx, env)
	if fail != nil {
		return *fail, nil
	}
	if len(w.pods) == 0 {
		return failf("There are no pods of Deployment %s to schedule yet.", w.deployment.Name).
			saw("no pods", "pods for the scheduler").
			hint("the controller-manager step comes first: kubetutor check controller-manager"), nil
	}
	for _, p := range w.pods {
		if p.Spec.NodeName != "" {
			return staleUnlessAlive(ctx, env, kube, course.Scheduler,
				passf("The scheduler assigned pod %s to node %s.", p.Name, p.Spec.NodeName).saw("node "+p.Spec.NodeName, "a node or FailedScheduling")), nil
		}
	}
	p := w.pods[0]
	cond := podCondition(&p, corev1.PodScheduled)
	if cond != nil && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonSchedulingGated {
		return failf("Pod %s carries scheduling gates (PodScheduled=False, SchedulingGated): no scheduler considers it until they are removed.", p.Name).
			saw("SchedulingGated", "a node assigned, or FailedScheduling").
			hint("remove spec.schedulingGates from the pod template, or recreate the Deployment: kubectl create deployment nginx --image=nginx"), nil
	}
	ev := latestEvent(ctx, env.reader(kube), env.Namespace, "Pod", p.Name, "FailedScheduling")
	// Only the scheduler says Unschedulable (or SchedulerError) and records
	// FailedScheduling; other writers of PodScheduled=False do not count.
	if cond != nil && cond.Status == corev1.ConditionFalse && (cond.Reason == corev1.PodReasonUnschedulable || cond.Reason == corev1.PodReasonSchedulerError || ev != nil) {
		// The condition holds the latest verdict. The event may be older:
		// the scheduler's event recorder counts a later FailedScheduling of
		// the same pod as a repeat of the first, whatever its message (after
		// the node registers, the event still says "no nodes available").
		msg := cond.Message
		if msg == "" && ev != nil {
			msg = ev.Message
		}
		res := passf("The scheduler looked at pod %s and could not place it: FailedScheduling %q, PodScheduled=False (%s).", p.Name, msg, cond.Reason).
			saw("FailedScheduling: "+msg, "a node or FailedScheduling")
		if noNodes(msg) {
			res.Message += " That is expected now: no node has registered, because no kubelet runs. Next: containerd, then the kubelet."
		}
		return staleUnlessAlive(ctx, env, kube, course.Scheduler, res), nil
	}
	r := failf("Pod %s is %s and no scheduler has looked at it: no node, no PodScheduled condition, no FailedScheduling event.", p.Name, p.Status.Phase).
		saw("pod unscheduled, untouched", "a node assigned, or FailedScheduling").
		hint("start kube-scheduler: run the step's commands, kubetutor show scheduler --commands")
	if age, ok := leaseAge(ctx, env.reader(kube), course.Scheduler, env.Now()); ok && age < time.Minute {
		r.Message += fmt.Sprintf(" kube-scheduler's leader lease was renewed %s ago, so it runs: read its log.", age.Round(time.Second))
	}
	return r, nil
}

func noNodes(msg string) bool {
	return strings.Contains(msg, "no nodes available") || strings.HasPrefix(msg, "0/0 nodes")
}

// NodeRegistered checks that a kubelet registered a Node and explains its
// Ready condition.
type NodeRegistered struct{}

// Name implements Checker.
func (NodeRegistered) Name() string { return "node-registered" }

// Check implements Checker.
func (NodeRegistered) Check(ctx context.Context, env *Env) (Result, error) {
	n, kube, fail := firstNode(ctx, env,
		failf("No node has registered: the kubelet is not running, or cannot reach the API server.").
			saw("0 nodes", "1 node").
			hint("start the kubelet as root (kubetutor show kubelet); containerd must run first (kubetutor check containerd)"))
	if fail != nil {
		return *fail, nil
	}
	return staleUnlessAlive(ctx, env, kube, course.Kubelet, nodeRegistered(n)), nil
}

// firstNode returns the first registered node and the client that listed it,
// or the Result to report: the API's failure, or none when no node has
// registered.
func firstNode(ctx context.Context, env *Env, none Result) (*corev1.Node, kubernetes.Interface, *Result) {
	kube, fail := kubeClient(env)
	if fail != nil {
		return nil, nil, fail
	}
	nodes, err := env.reader(kube).nodes(ctx)
	if err != nil {
		r := apiFailure(env, err)
		return nil, nil, &r
	}
	if len(nodes) == 0 {
		return nil, nil, &none
	}
	return &nodes[0], kube, nil
}

// nodeRegistered is the verdict of NodeRegistered on the first node.
func nodeRegistered(n *corev1.Node) Result {
	ready := nodeCondition(n, corev1.NodeReady)
	switch {
	case ready == nil || ready.Status == corev1.ConditionUnknown:
		return failf("Node %s is registered but its kubelet has stopped reporting (Ready=Unknown).", n.Name).
			saw("Ready=Unknown", "a kubelet posting node status").
			hint("start the kubelet again and read its log")
	case ready.Status == corev1.ConditionTrue:
		return passf("Node %s registered and is Ready.", n.Name).saw("Ready=True", "a node")
	case strings.Contains(ready.Message, "NetworkReady=false") || strings.Contains(ready.Message, "network"):
		return passf("Node %s registered and is NotReady (%s: %s). That is expected now: the container runtime has no pod network yet. Configuring CNI is the next lesson.", n.Name, ready.Reason, ready.Message).
			saw("Ready=False: "+ready.Message, "a node")
	}
	return passf("Node %s registered and is NotReady (%s: %s).", n.Name, ready.Reason, ready.Message).saw("Ready=False", "a node")
}

// NodeReady checks that a node is Ready.
type NodeReady struct{}

// Name implements Checker.
func (NodeReady) Name() string { return "node-ready" }

// Check implements Checker.
func (NodeReady) Check(ctx context.Context, env *Env) (Result, error) {
	n, _, fail := firstNode(ctx, env,
		failf("No node has registered.").saw("0 nodes", "a Ready node").hint("the kubelet step comes first: kubetutor check kubelet"))
	if fail != nil {
		return *fail, nil
	}
	ready := nodeCondition(n, corev1.NodeReady)
	if ready == nil || ready.Status != corev1.ConditionTrue {
		status, msg := "Unknown", "no Ready condition"
		if ready != nil {
			status, msg = string(ready.Status), ready.Message
		}
		r := failf("Node %s is not Ready (Ready=%s: %s).", n.Name, status, msg).saw("Ready="+status, "Ready=True")
		if strings.Contains(msg, "cni") || strings.Contains(msg, "NetworkPlugin") {
			return r.hint("put a CNI configuration in %s (kubetutor show cni); containerd picks it up within seconds", env.CNIConfDir), nil
		}
		return r.hint("read the kubelet's log"), nil
	}
	// Ready=True stays in the node's status after its kubelet is gone, until
	// the node lifecycle controller notices (40s and more): not proof.
	if lv := livenessOf(ctx, env, env.kubeOrNil(), course.Kubelet); !lv.Alive {
		return failf("Node %s says Ready=True, but that is stale: %s.", n.Name, lv.Message).
			saw("Ready=True, kubelet not running", "Ready=True from a running kubelet").
			hint("start the kubelet again: run the step's commands, kubetutor show kubelet --commands"), nil
	}
	return passf("Node %s is Ready.", n.Name).saw("Ready=True", "Ready=True"), nil
}

// PodRunning checks that a pod of the Deployment runs and has an IP.
type PodRunning struct{}

// Name implements Checker.
func (PodRunning) Name() string { return "pod-running" }

// Check implements Checker.
func (PodRunning) Check(ctx context.Context, env *Env) (Result, error) {
	w, kube, fail := deploymentWorkload(ctx, env)
	if fail != nil {
		return *fail, nil
	}
	if len(w.pods) == 0 {
		return failf("Deployment %s has no pods.", w.deployment.Name).saw("no pods", "a Running pod").hint("kubetutor check controller-manager"), nil
	}
	if p := newestRunning(w.pods); p != nil {
		if lv := livenessOf(ctx, env, env.kubeOrNil(), course.Kubelet); !lv.Alive {
			return failf("Pod %s says Running with IP %s, but that is stale: %s.", p.Name, p.Status.PodIP, lv.Message).
				saw("Running, kubelet not running", "Running, reported by a running kubelet").
				hint("start the kubelet again: run the step's commands, kubetutor show kubelet --commands"), nil
		}
		return passf("Pod %s is Running on %s with IP %s.", p.Name, p.Spec.NodeName, p.Status.PodIP).
			saw("Running, IP "+p.Status.PodIP, "Running with an IP").
			detail("try it: curl http://%s", p.Status.PodIP), nil
	}
	p := w.pods[0]
	for _, q := range w.pods {
		if q.DeletionTimestamp == nil {
			p = q // a pod that is not on its way out says more
			break
		}
	}
	r := failf("Pod %s is %s.", p.Name, podState(&p)).saw(podState(&p), "Running with an IP")
	// A container waiting on its image says so itself; the newest warning
	// event may be about something else (MissingClusterDNS repeats on
	// every sync), so the image's state decides the hint.
	for _, cs := range p.Status.ContainerStatuses {
		if wt := cs.State.Waiting; wt != nil && strings.Contains(wt.Reason, "ImagePull") {
			if wt.Message != "" {
				r.Message += " " + truncate(textsafe.FirstLine(wt.Message), 300)
			}
			for _, c := range p.Spec.Containers {
				if c.Name == cs.Name && c.ImagePullPolicy == corev1.PullAlways {
					// `kubectl set image` keeps the Always that an untagged
					// or :latest image was given: a local image is not used.
					return r.hint("the image cannot be pulled, and its pull policy is Always (%s has no tag or is :latest), so even an imported image is pulled again; offline, import a local image (kubetutor images load) and create the Deployment again with its tag: kubectl delete deployment %s && kubectl create deployment %s --image=%s", c.Image, w.deployment.Name, w.deployment.Name, course.WorkloadImage), nil
				}
			}
			return r.hint("%s", hintForPodEvent("ImagePull")), nil
		}
	}
	if ev := latestEvent(ctx, env.reader(kube), env.Namespace, "Pod", p.Name, ""); ev != nil && ev.Type == corev1.EventTypeWarning {
		r.Message += fmt.Sprintf(" Last warning: %s: %s", ev.Reason, ev.Message)
		return r.hint("%s", hintForPodEvent(ev.Message)), nil
	}
	return r.hint("wait a few seconds; kubectl describe pod %s shows what the kubelet is doing", p.Name), nil
}

// hintForPodEvent maps the talk's common errors to their fixes.
func hintForPodEvent(msg string) string {
	switch {
	case strings.Contains(msg, "failed to find plugin"):
		return "the CNI plugins are not where containerd looks: install them in /opt/cni/bin, or set bin_dir in containerd's CRI config (Debian: /usr/lib/cni); see kubetutor show troubleshooting"
	case strings.Contains(msg, "iptables"):
		return "the bridge plugin needs iptables for ipMasq and portmap: apt install iptables; see kubetutor show troubleshooting"
	case strings.Contains(msg, "oom_score_adj") || strings.Contains(msg, "can't get final child's PID from pipe"):
		return "this host forbids lowering oom_score_adj: set restrict_oom_score_adj = true in containerd's CRI config and restart it; see kubetutor show troubleshooting"
	case strings.Contains(msg, "pull") || strings.Contains(msg, "ImagePull"):
		return "the image cannot be pulled; offline, import a local image into containerd's k8s.io namespace and point the Deployment at it"
	}
	return "kubetutor show troubleshooting"
}

func replicas(d *appsv1.Deployment) int32 { return ptrInt(d.Spec.Replicas) }

func ptrInt(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func images(cs []corev1.Container) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Image
	}
	return strings.Join(out, ", ")
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func nodeCondition(n *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// podState is a kubectl-like status for a pod.
func podState(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		// kubectl get pods says Terminating: it is on its way out.
		return "Terminating on " + orNone(p.Spec.NodeName)
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Waiting != nil && cs.State.Waiting.Reason != "" {
			return cs.State.Waiting.Reason + " on " + orNone(p.Spec.NodeName)
		}
	}
	if p.Spec.NodeName == "" {
		return string(p.Status.Phase) + ", no node"
	}
	return string(p.Status.Phase) + " on " + p.Spec.NodeName
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// latestEvent returns the newest event about an object, optionally of one reason.
func latestEvent(ctx context.Context, rd clusterReader, ns, kind, name, reason string) *corev1.Event {
	list, err := rd.events(ctx, ns, kind, name, reason)
	if err != nil {
		return nil
	}
	var out *corev1.Event
	var outTime time.Time
	for i := range list {
		ev := &list[i]
		if ev.InvolvedObject.Kind != kind || ev.InvolvedObject.Name != name || (reason != "" && ev.Reason != reason) {
			continue
		}
		t := eventTime(ev)
		if out == nil || t.After(outTime) {
			out, outTime = ev, t
		}
	}
	return out
}

// EventTime is when an event last happened, whichever API wrote it (the
// scheduler's events.k8s.io events set eventTime and series, not lastTimestamp).
func EventTime(ev *corev1.Event) time.Time { return eventTime(ev) }

func eventTime(ev *corev1.Event) time.Time {
	if ev.Series != nil && !ev.Series.LastObservedTime.IsZero() {
		return ev.Series.LastObservedTime.Time
	}
	for _, t := range []time.Time{ev.LastTimestamp.Time, ev.EventTime.Time, ev.FirstTimestamp.Time, ev.CreationTimestamp.Time} {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// leaseAge says how long ago a component renewed its leader-election lease.
func leaseAge(ctx context.Context, rd clusterReader, name string, now time.Time) (time.Duration, bool) {
	l, err := rd.lease(ctx, "kube-system", name)
	if err != nil || l.Spec.RenewTime == nil {
		return 0, false
	}
	return now.Sub(l.Spec.RenewTime.Time), true
}
