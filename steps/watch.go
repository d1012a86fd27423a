package steps

import (
	"context"
	"errors"
	"fmt"
	"time"

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
// change of the API objects the step depends on (the event handlers of
// client-go informers, filtered by the Deployment's name and selector), or
// for Resync when the step's facts live outside the API server. While the
// API server answers, the checks read the informers' caches instead of
// listing again; the informers stop when Watch returns.
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
	// Ends the informers when Watch returns, whatever the caller's context.
	defer cancel()
	var cc cacheKeeper
	defer cc.close(env)
	ticker := time.NewTicker(opts.Resync)
	defer ticker.Stop()
	var last Result
	for {
		if len(s.WatchKinds) > 0 {
			cc.refresh(ctx, env, s.WatchKinds)
		}
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
		case <-cc.changed():
		case <-ticker.C:
		}
	}
}

// cacheKeeper owns Watch's informer cache: built once the API server
// answers, rebuilt when the kubeconfig changes (it is re-resolved on every
// evaluation), attached to the Env only while the API server answers.
type cacheKeeper struct {
	cache  *checks.InformerCache
	stamp  string
	failed time.Time
}

func (k *cacheKeeper) changed() <-chan struct{} {
	if k.cache == nil {
		return nil
	}
	return k.cache.Changed()
}

func (k *cacheKeeper) drop(env *checks.Env) {
	env.SetCache(nil)
	if k.cache != nil {
		k.cache.Stop()
		k.cache, k.stamp = nil, ""
	}
}

func (k *cacheKeeper) close(env *checks.Env) { k.drop(env) }

func (k *cacheKeeper) refresh(ctx context.Context, env *checks.Env, kinds []Kind) {
	// Until the API server answers, the checks ask it directly and fail the
	// way a one-shot check does; a cache kept from before it stopped is
	// not read.
	env.SetCache(nil)
	stamp, err := env.KubeStamp()
	if err != nil {
		k.drop(env)
		return
	}
	if k.cache != nil && stamp != k.stamp {
		k.drop(env)
	}
	if err := env.PingAPI(ctx); err != nil {
		return
	}
	if k.cache == nil {
		// A cache that did not sync is tried again a few seconds later;
		// meanwhile the checks read the API server.
		if !k.failed.IsZero() && time.Since(k.failed) < 5*time.Second {
			return
		}
		kube, err := env.WatchKube()
		if err != nil {
			return
		}
		c := checks.NewInformerCache(kube, env.Namespace, env.Deployment, kindNames(kinds)...)
		sctx, cancel := context.WithTimeout(ctx, checks.SyncTimeout)
		err = c.Start(sctx)
		cancel()
		if err != nil {
			c.Stop()
			k.failed = time.Now()
			return
		}
		k.cache, k.stamp, k.failed = c, stamp, time.Time{}
	}
	env.SetCache(k.cache)
}

func kindNames(kinds []Kind) []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = string(k)
	}
	return out
}
