package checks

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
)

// Kinds an InformerCache can report changes of (see NewInformerCache).
const (
	KindDeployments = "deployments"
	KindReplicaSets = "replicasets"
	KindPods        = "pods"
	KindEvents      = "events"
	KindNodes       = "nodes"
	// Services and EndpointSlices (act two) are watched only to be told of
	// changes, in the Deployment's namespace and kube-system (kube-dns):
	// the checks that judge them read the API server.
	KindServices       = "services"
	KindEndpointSlices = "endpointslices"
)

// leaseNamespaces are the namespaces whose Leases the liveness checks read:
// leader election (kube-system) and node heartbeats (kube-node-lease).
var leaseNamespaces = []string{"kube-system", "kube-node-lease"}

// InformerCache is the cluster reader of a long-running watch: client-go
// shared informers, each filtered on the server side (the Deployment by
// name, its ReplicaSets and pods by its label selector, pod events by
// involved object kind, nodes, the Leases of kube-system and
// kube-node-lease), read through their listers. Changes of the kinds it was
// asked to notify about are signalled on Changed, coalesced.
type InformerCache struct {
	kube        kubernetes.Interface
	ns, name    string
	notify      map[string]bool
	changed     chan struct{}
	stop        chan struct{}
	stopOnce    sync.Once
	factories   []informers.SharedInformerFactory
	deployments interface {
		Get(string) (*appsv1.Deployment, error)
	}
	eventIndexer toolscache.Indexer
	nodeIndexer  toolscache.Indexer
	leases       map[string]toolscache.Indexer

	// The ReplicaSet and pod informers follow the Deployment's selector,
	// known only once it exists: rebuilt when it changes.
	mu         sync.Mutex
	wlSelector string
	wlStop     chan struct{}
	wlFactory  informers.SharedInformerFactory
	wlRS       toolscache.Indexer
	wlPods     toolscache.Indexer
}

// NewInformerCache prepares the informers of namespace ns and Deployment
// name; notify lists the kinds (KindPods, …) whose changes Changed reports.
// Start starts them.
func NewInformerCache(kube kubernetes.Interface, ns, name string, notify ...string) *InformerCache {
	c := &InformerCache{kube: kube, ns: ns, name: name, notify: map[string]bool{},
		changed: make(chan struct{}, 1), stop: make(chan struct{}), leases: map[string]toolscache.Indexer{}}
	for _, k := range notify {
		c.notify[k] = true
	}
	return c
}

// Changed receives (coalesced) when an object of a notified kind changed.
func (c *InformerCache) Changed() <-chan struct{} { return c.changed }

func (c *InformerCache) signal() {
	select {
	case c.changed <- struct{}{}:
	default: // a change is already pending
	}
}

// handler signals changes of kind; the initial list is not a change.
func (c *InformerCache) handler(kind string) toolscache.ResourceEventHandler {
	if !c.notify[kind] {
		return nil
	}
	return toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(_ interface{}, initial bool) {
			if !initial {
				c.signal()
			}
		},
		UpdateFunc: func(_, _ interface{}) { c.signal() },
		DeleteFunc: func(interface{}) { c.signal() },
	}
}

func (c *InformerCache) factory(opts ...informers.SharedInformerOption) informers.SharedInformerFactory {
	f := informers.NewSharedInformerFactoryWithOptions(c.kube, 0, opts...)
	c.factories = append(c.factories, f)
	return f
}

// addHandler registers h (if any) on inf, and keeps inf's list and watch
// errors off the terminal: client-go logs them to stderr by default, over
// the walkthrough's screen. An API server that stops is seen by the checks
// (steps.Watch reads it directly while it does not answer).
func addHandler(inf toolscache.SharedIndexInformer, h toolscache.ResourceEventHandler) {
	_ = inf.SetWatchErrorHandler(func(*toolscache.Reflector, error) {})
	if h != nil {
		_, _ = inf.AddEventHandler(h)
	}
}

// Start starts the informers and waits for their caches to sync, at most
// until ctx ends.
func (c *InformerCache) Start(ctx context.Context) error {
	byName := c.factory(informers.WithNamespace(c.ns), informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", c.name).String()
	}))
	dep := byName.Apps().V1().Deployments()
	addHandler(dep.Informer(), c.handler(KindDeployments))
	c.deployments = dep.Lister().Deployments(c.ns)

	podEvents := c.factory(informers.WithNamespace(c.ns), informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("involvedObject.kind", "Pod").String()
	}))
	ev := podEvents.Core().V1().Events().Informer()
	addHandler(ev, c.handler(KindEvents))
	c.eventIndexer = ev.GetIndexer()

	cluster := c.factory()
	nodes := cluster.Core().V1().Nodes().Informer()
	addHandler(nodes, c.handler(KindNodes))
	c.nodeIndexer = nodes.GetIndexer()

	if c.notify[KindServices] || c.notify[KindEndpointSlices] {
		for _, ns := range slices.Compact([]string{c.ns, dnsNamespace}) {
			f := c.factory(informers.WithNamespace(ns))
			if c.notify[KindServices] {
				addHandler(f.Core().V1().Services().Informer(), c.handler(KindServices))
			}
			if c.notify[KindEndpointSlices] {
				addHandler(f.Discovery().V1().EndpointSlices().Informer(), c.handler(KindEndpointSlices))
			}
		}
	}
	for _, ns := range leaseNamespaces {
		f := c.factory(informers.WithNamespace(ns))
		inf := f.Coordination().V1().Leases().Informer()
		addHandler(inf, nil)
		c.leases[ns] = inf.GetIndexer()
	}
	for _, f := range c.factories {
		f.Start(c.stop)
	}
	for _, f := range c.factories {
		for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
			if !ok {
				return fmt.Errorf("informer cache of %v did not sync: %w", typ, context.Cause(ctx))
			}
		}
	}
	return nil
}

// Stop stops every informer and waits for their goroutines to end.
func (c *InformerCache) Stop() {
	c.stopOnce.Do(func() {
		close(c.stop)
		c.mu.Lock()
		if c.wlStop != nil {
			close(c.wlStop)
			c.wlFactory.Shutdown()
			c.wlStop = nil
		}
		c.mu.Unlock()
		for _, f := range c.factories {
			f.Shutdown()
		}
	})
}

// workload returns the ReplicaSet and pod caches for a selector, (re)building
// the informers when the selector differs from the last one.
func (c *InformerCache) workload(ctx context.Context, sel labels.Selector) (rs, pods toolscache.Indexer, err error) {
	key := ""
	if sel != nil {
		key = sel.String()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.stop:
		return nil, nil, fmt.Errorf("informer cache stopped")
	default:
	}
	if c.wlStop != nil && c.wlSelector == key {
		return c.wlRS, c.wlPods, nil
	}
	if c.wlStop != nil {
		close(c.wlStop)
		c.wlFactory.Shutdown()
		c.wlStop = nil
	}
	stop := make(chan struct{})
	f := informers.NewSharedInformerFactoryWithOptions(c.kube, 0, informers.WithNamespace(c.ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = key }))
	rsInf := f.Apps().V1().ReplicaSets().Informer()
	addHandler(rsInf, c.handler(KindReplicaSets))
	podInf := f.Core().V1().Pods().Informer()
	addHandler(podInf, c.handler(KindPods))
	f.Start(stop)
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			close(stop)
			f.Shutdown()
			return nil, nil, fmt.Errorf("informer cache of %v did not sync: %w", typ, context.Cause(ctx))
		}
	}
	c.wlSelector, c.wlStop, c.wlFactory, c.wlRS, c.wlPods = key, stop, f, rsInf.GetIndexer(), podInf.GetIndexer()
	// Objects that appeared before these informers: the next evaluation
	// must see them.
	c.signal()
	return c.wlRS, c.wlPods, nil
}

func (c *InformerCache) deployment(_ context.Context, ns, name string) (*appsv1.Deployment, error) {
	if ns != c.ns || name != c.name {
		return nil, fmt.Errorf("informer cache of deployment %s/%s asked for %s/%s", c.ns, c.name, ns, name)
	}
	d, err := c.deployments.Get(name)
	if err != nil {
		return nil, err
	}
	return d.DeepCopy(), nil
}

// listIndexer returns the objects of an indexer that match sel, sorted by name.
func listIndexer[T any](idx toolscache.Indexer, sel labels.Selector) []T {
	var out []T
	_ = toolscache.ListAll(idx, sel, func(o interface{}) {
		if v, ok := o.(*T); ok {
			out = append(out, *v)
		}
	})
	return out
}

func (c *InformerCache) replicaSets(ctx context.Context, ns string, sel labels.Selector) ([]appsv1.ReplicaSet, error) {
	rs, _, err := c.workloadFor(ctx, ns, sel)
	if err != nil {
		return nil, err
	}
	return deepCopies(listIndexer[appsv1.ReplicaSet](rs, everything(sel)), (*appsv1.ReplicaSet).DeepCopy), nil
}

func (c *InformerCache) pods(ctx context.Context, ns string, sel labels.Selector) ([]corev1.Pod, error) {
	_, pods, err := c.workloadFor(ctx, ns, sel)
	if err != nil {
		return nil, err
	}
	return deepCopies(listIndexer[corev1.Pod](pods, everything(sel)), (*corev1.Pod).DeepCopy), nil
}

func (c *InformerCache) workloadFor(ctx context.Context, ns string, sel labels.Selector) (rs, pods toolscache.Indexer, err error) {
	if ns != c.ns {
		return nil, nil, fmt.Errorf("informer cache of namespace %s asked for namespace %s", c.ns, ns)
	}
	return c.workload(ctx, sel)
}

func everything(sel labels.Selector) labels.Selector {
	if sel == nil {
		return labels.Everything()
	}
	return sel
}

func deepCopies[T any](in []T, cp func(*T) *T) []T {
	for i := range in {
		in[i] = *cp(&in[i])
	}
	return in
}

func (c *InformerCache) events(_ context.Context, ns, kind, name, reason string) ([]corev1.Event, error) {
	if ns != c.ns || kind != "Pod" {
		return nil, fmt.Errorf("informer cache of pod events in %s asked for %s events in %s", c.ns, kind, ns)
	}
	var out []corev1.Event
	for _, ev := range listIndexer[corev1.Event](c.eventIndexer, labels.Everything()) {
		if ev.InvolvedObject.Kind == kind && (name == "" || ev.InvolvedObject.Name == name) && (reason == "" || ev.Reason == reason) {
			out = append(out, *ev.DeepCopy())
		}
	}
	return out, nil
}

func (c *InformerCache) nodes(context.Context) ([]corev1.Node, error) {
	out := deepCopies(listIndexer[corev1.Node](c.nodeIndexer, labels.Everything()), (*corev1.Node).DeepCopy)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (c *InformerCache) lease(_ context.Context, ns, name string) (*coordinationv1.Lease, error) {
	idx, ok := c.leases[ns]
	if !ok {
		return nil, fmt.Errorf("informer cache has no Leases of namespace %s", ns)
	}
	o, exists, err := idx.GetByKey(ns + "/" + name)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, apierrors.NewNotFound(coordinationv1.Resource("leases"), name)
	}
	return o.(*coordinationv1.Lease).DeepCopy(), nil
}

// SyncTimeout bounds the wait for an informer cache to sync.
const SyncTimeout = 10 * time.Second
