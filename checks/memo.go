package checks

import (
	"context"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// runMemo shares the answers of one evaluation between its checks. The
// checks are independent facts that often rest on the same observation
// (five checks read the nginx Deployment, three ask the kubelet's /healthz),
// and they run concurrently: the first to ask does the work, the others wait
// for its answer, a failure included. A memo lives for one run only
// (Env.BeginRun), so a later run, a re-check of --watch or of the
// walkthrough, observes afresh.
type runMemo = onceMap[any]

func newRunMemo() *runMemo { return &runMemo{keepErrors: true} }

// onceMap computes an answer once per key, for concurrent callers: the
// first caller of a key computes it, the others wait for its answer. The
// zero value is ready to use and forgets a failure, so that the callers
// waiting for it, and later ones, try again.
type onceMap[T any] struct {
	mu    sync.Mutex
	calls map[string]*onceCall[T]
	// keepErrors keeps a failed answer like any other.
	keepErrors bool
}

type onceCall[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// do returns the answer for key, computing it with f when no caller has (or
// when the last answer failed and failures are forgotten). A caller whose
// context ends while another computes stops waiting.
func (m *onceMap[T]) do(ctx context.Context, key string, f func() (T, error)) (T, error) {
	for {
		m.mu.Lock()
		c, ok := m.calls[key]
		if !ok {
			if m.calls == nil {
				m.calls = map[string]*onceCall[T]{}
			}
			c = &onceCall[T]{done: make(chan struct{})}
			m.calls[key] = c
			m.mu.Unlock()
			return m.compute(key, c, f)
		}
		m.mu.Unlock()
		select {
		case <-c.done:
			if c.err == nil || m.keepErrors {
				return c.val, c.err
			}
			// A failure is forgotten: compute it again.
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
}

// compute runs f for the call c of key, which it ends even should f panic.
func (m *onceMap[T]) compute(key string, c *onceCall[T], f func() (T, error)) (T, error) {
	defer close(c.done)
	c.val, c.err = f()
	if c.err != nil && !m.keepErrors {
		m.mu.Lock()
		if m.calls[key] == c {
			delete(m.calls, key)
		}
		m.mu.Unlock()
	}
	return c.val, c.err
}

// BeginRun starts one evaluation of checks (a `check`, one re-check of
// --watch or of the walkthrough): an API server found unreachable before is
// asked again, and until the returned function is called the checks share
// what they observe (see runMemo). The step runner calls it; checks run
// outside a run observe on every call.
func (e *Env) BeginRun() (end func()) {
	m := newRunMemo()
	e.mu.Lock()
	e.client().ForgetAPIDown()
	e.memo = m
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.memo == m {
			e.memo = nil
		}
	}
}

func (e *Env) runMemo() *runMemo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.memo
}

// memoized returns what f observes, once per run and key.
func memoized[T any](ctx context.Context, e *Env, key string, f func() (T, error)) (T, error) {
	m := e.runMemo()
	if m == nil {
		return f()
	}
	v, err := m.do(ctx, key, func() (any, error) { return f() })
	t, _ := v.(T)
	return t, err
}

// memoReader reads the cluster once per run and question. What it returns
// is shared by the checks of the run: they read it and never change it (as
// with an informer's listers).
type memoReader struct {
	rd  clusterReader
	env *Env
}

func (m memoReader) deployment(ctx context.Context, ns, name string) (*appsv1.Deployment, error) {
	return memoized(ctx, m.env, "deployment "+ns+"/"+name, func() (*appsv1.Deployment, error) { return m.rd.deployment(ctx, ns, name) })
}

func selectorKey(sel labels.Selector) string {
	if sel == nil {
		return ""
	}
	return sel.String()
}

func (m memoReader) replicaSets(ctx context.Context, ns string, sel labels.Selector) ([]appsv1.ReplicaSet, error) {
	return memoized(ctx, m.env, "replicasets "+ns+"?"+selectorKey(sel), func() ([]appsv1.ReplicaSet, error) { return m.rd.replicaSets(ctx, ns, sel) })
}

func (m memoReader) pods(ctx context.Context, ns string, sel labels.Selector) ([]corev1.Pod, error) {
	return memoized(ctx, m.env, "pods "+ns+"?"+selectorKey(sel), func() ([]corev1.Pod, error) { return m.rd.pods(ctx, ns, sel) })
}

func (m memoReader) events(ctx context.Context, ns, kind, name, reason string) ([]corev1.Event, error) {
	key := fmt.Sprintf("events %s %s/%s %s", ns, kind, name, reason)
	return memoized(ctx, m.env, key, func() ([]corev1.Event, error) { return m.rd.events(ctx, ns, kind, name, reason) })
}

func (m memoReader) nodes(ctx context.Context) ([]corev1.Node, error) {
	return memoized(ctx, m.env, "nodes", func() ([]corev1.Node, error) { return m.rd.nodes(ctx) })
}

func (m memoReader) lease(ctx context.Context, ns, name string) (*coordinationv1.Lease, error) {
	return memoized(ctx, m.env, "lease "+ns+"/"+name, func() (*coordinationv1.Lease, error) { return m.rd.lease(ctx, ns, name) })
}
