package checks

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// clusterReader is how the workload and liveness checks read the cluster.
// One-shot checks read the API server directly (selector-filtered GETs and
// LISTs: no informer to start and sync); a long-running watch attaches an
// informer-backed reader (InformerCache) so that an evaluation reads the
// cache instead of listing again. The verdict code is the same for both.
type clusterReader interface {
	// deployment returns a NotFound API error when it does not exist.
	deployment(ctx context.Context, ns, name string) (*appsv1.Deployment, error)
	replicaSets(ctx context.Context, ns string, sel labels.Selector) ([]appsv1.ReplicaSet, error)
	pods(ctx context.Context, ns string, sel labels.Selector) ([]corev1.Pod, error)
	// events are those about one object (involvedObject kind and name),
	// optionally of one reason.
	events(ctx context.Context, ns, kind, name, reason string) ([]corev1.Event, error)
	nodes(ctx context.Context) ([]corev1.Node, error)
	// lease returns a NotFound API error when it does not exist.
	lease(ctx context.Context, ns, name string) (*coordinationv1.Lease, error)
}

// reader is the cluster reader of an evaluation: the attached informer
// cache, else the API server through kube, once per question within a run
// (see runMemo).
func (e *Env) reader(kube kubernetes.Interface) clusterReader {
	e.mu.Lock()
	c, memo := e.cache, e.memo
	e.mu.Unlock()
	if c != nil {
		return c
	}
	if memo != nil {
		return memoReader{rd: directReader{kube}, env: e}
	}
	return directReader{kube}
}

// SetCache attaches an informer-backed reader (nil detaches it): the checks
// read through its listers instead of asking the API server. Its owner
// (steps.Watch) attaches it only while the API server answers, so that a
// cache kept from before the API server stopped does not pass a check.
func (e *Env) SetCache(c *InformerCache) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cache = c
}

// directReader reads through the API server, filtered on the server side.
type directReader struct{ kube kubernetes.Interface }

func (d directReader) deployment(ctx context.Context, ns, name string) (*appsv1.Deployment, error) {
	return d.kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
}

func listOptions(sel labels.Selector) metav1.ListOptions {
	opts := metav1.ListOptions{}
	if sel != nil && !sel.Empty() {
		opts.LabelSelector = sel.String()
	}
	return opts
}

func (d directReader) replicaSets(ctx context.Context, ns string, sel labels.Selector) ([]appsv1.ReplicaSet, error) {
	l, err := d.kube.AppsV1().ReplicaSets(ns).List(ctx, listOptions(sel))
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func (d directReader) pods(ctx context.Context, ns string, sel labels.Selector) ([]corev1.Pod, error) {
	l, err := d.kube.CoreV1().Pods(ns).List(ctx, listOptions(sel))
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// eventFields selects the events about one object.
func eventFields(kind, name, reason string) fields.Selector {
	set := fields.Set{"involvedObject.kind": kind}
	if name != "" {
		set["involvedObject.name"] = name
	}
	if reason != "" {
		set["reason"] = reason
	}
	return set.AsSelector()
}

func (d directReader) events(ctx context.Context, ns, kind, name, reason string) ([]corev1.Event, error) {
	l, err := d.kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: eventFields(kind, name, reason).String()})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func (d directReader) nodes(ctx context.Context) ([]corev1.Node, error) {
	l, err := d.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func (d directReader) lease(ctx context.Context, ns, name string) (*coordinationv1.Lease, error) {
	return d.kube.CoordinationV1().Leases(ns).Get(ctx, name, metav1.GetOptions{})
}
