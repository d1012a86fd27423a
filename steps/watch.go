package steps

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/kubetutor/kubetutor/checks"
)

// WatchOptions tune Watch.
type WatchOptions struct {
	// Timeout bounds the whole wait; zero means until ctx ends.
	Timeout time.Duration
	// Resync re-evaluates even without a change: facts outside the API
	// server (files, sockets, processes) have no watch. Default 1s.
	Resync time.Duration
	// OnResult is called after every evaluation.
	OnResult func(Result)
}

// TimeoutError is returned when a watched step did not pass in time. Like
// kubectl wait, it names the step, the condition and the last state seen.
type TimeoutError struct {
	Step    string
	Timeout time.Duration
	Last    Result
}

func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("timed out after %s waiting for step %q to pass", e.Timeout, e.Step)
	if c, ok := e.Last.FirstProblem(); ok {
		msg += fmt.Sprintf(": check %s: %s", c.Name, c.Message)
	}
	return msg
}

// Watch evaluates a step until it passes. Between evaluations it waits for a
// change of the API objects the step depends on (watches), or for Resync
// when the step's facts live outside the API server.
func Watch(ctx context.Context, env *checks.Env, s Step, opts WatchOptions) (Result, error) {
	env.SetDefaults()
	if opts.Resync <= 0 {
		opts.Resync = time.Second
	}
	var cancel context.CancelFunc
	if opts.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	// Ends the watches when Watch returns, whatever the caller's context.
	defer cancel()
	changes := make(chan struct{}, 1)
	if len(s.WatchKinds) > 0 {
		if kube, err := env.WatchKube(); err == nil {
			for _, k := range s.WatchKinds {
				go watchKind(ctx, kube, env, k, changes)
			}
		}
	}
	ticker := time.NewTicker(opts.Resync)
	defer ticker.Stop()
	var last Result
	for {
		res := Evaluate(ctx, env, s)
		if ctx.Err() != nil && last.ID != "" {
			// The deadline cut this evaluation short: the last complete
			// one says more about the state of the cluster.
			res = last
		}
		last = res
		if opts.OnResult != nil && ctx.Err() == nil {
			opts.OnResult(last)
		}
		if last.Status == Pass {
			return last, nil
		}
		if last.Errored() && ctx.Err() == nil {
			for _, c := range last.Checks {
				if c.Status == checks.Error {
					return last, errors.New(c.Message)
				}
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) && opts.Timeout > 0 {
				return last, &TimeoutError{Step: s.ID, Timeout: opts.Timeout, Last: last}
			}
			return last, ctx.Err()
		case <-changes:
		case <-ticker.C:
		}
	}
}

// watchKind signals changes of one kind of object until ctx ends,
// re-establishing the watch when the server closes it.
func watchKind(ctx context.Context, kube kubernetes.Interface, env *checks.Env, k Kind, changes chan<- struct{}) {
	for ctx.Err() == nil {
		started := time.Now()
		if w, err := startWatch(ctx, kube, env, k); err == nil {
			for ev := range w.ResultChan() {
				if ev.Type == watch.Error {
					break
				}
				select {
				case changes <- struct{}{}:
				default: // a change is already pending
				}
			}
			w.Stop()
		}
		// A server that refuses or keeps closing the watch is retried at
		// most once a second.
		if wait := time.Second - time.Since(started); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}
}

func startWatch(ctx context.Context, kube kubernetes.Interface, env *checks.Env, k Kind) (watch.Interface, error) {
	ns := env.Namespace
	opts := metav1.ListOptions{}
	switch k {
	case Deployments:
		// Only the learner's Deployment wakes the step up.
		opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", env.Deployment).String()
		return kube.AppsV1().Deployments(ns).Watch(ctx, opts)
	case ReplicaSets:
		return kube.AppsV1().ReplicaSets(ns).Watch(ctx, opts)
	case Pods:
		return kube.CoreV1().Pods(ns).Watch(ctx, opts)
	case Events:
		return kube.CoreV1().Events(ns).Watch(ctx, opts)
	case Nodes:
		return kube.CoreV1().Nodes().Watch(ctx, opts)
	}
	return nil, fmt.Errorf("no watch for %q", k)
}
