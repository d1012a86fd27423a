package steps_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/steps"
)

// TestWatchReactsToChanges waits on the scheduler step while the "scheduler"
// records FailedScheduling; the watch, not the resync, must notice it.
func TestWatchReactsToChanges(t *testing.T) {
	w := newWorld(t)
	for _, st := range stages[:7] { // up to the controller-manager
		st.apply(w)
	}
	s, _, _ := steps.Lookup("scheduler")
	go func() {
		time.Sleep(200 * time.Millisecond)
		w.healthz(w.schedAddr, true)
		w.unschedulable("no nodes available to schedule pods")
	}()
	evaluations := 0
	start := time.Now()
	res, err := steps.Watch(ctx, w.env, s, steps.WatchOptions{
		Timeout:  10 * time.Second,
		Resync:   time.Hour, // only a watch event can wake it up
		OnResult: func(steps.Result) { evaluations++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != steps.Pass {
		t.Fatalf("status %s", res.Status)
	}
	if evaluations < 2 {
		t.Errorf("evaluated %d times, want the failing evaluation then the passing one", evaluations)
	}
	t.Logf("noticed after %s, %d evaluations", time.Since(start).Round(time.Millisecond), evaluations)
}

// TestWatchReactsToAService waits on the service step while the Service and
// its EndpointSlice appear: act two's informers, not the resync, wake it.
func TestWatchReactsToAService(t *testing.T) {
	w := newWorld(t)
	i := stageIndex(t, "service")
	for _, st := range stages[:i] {
		st.apply(w)
	}
	s, _, _ := steps.Lookup("service")
	go func() {
		time.Sleep(200 * time.Millisecond)
		stages[i].apply(w)
	}()
	evaluations := 0
	res, err := steps.Watch(ctx, w.env, s, steps.WatchOptions{
		Timeout:  10 * time.Second,
		Resync:   time.Hour,
		OnResult: func(steps.Result) { evaluations++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != steps.Pass || evaluations < 2 {
		t.Fatalf("status %s after %d evaluations, want a pass after the failing one", res.Status, evaluations)
	}
}

// TestWatchTimeoutNamesWhatItWaitedFor fails like kubectl wait: the step,
// the check and the last state seen.
func TestWatchTimeoutNamesWhatItWaitedFor(t *testing.T) {
	w := newWorld(t)
	s, _, _ := steps.Lookup("etcd")
	_, err := steps.Watch(ctx, w.env, s, steps.WatchOptions{Timeout: 300 * time.Millisecond, Resync: 50 * time.Millisecond})
	var te *steps.TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("error %v, want a TimeoutError", err)
	}
	for _, want := range []string{`waiting for step "etcd" to pass`, "check etcd-healthy", "connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}

// A component that starts (or dies) changes no API object: the watch
// re-evaluates on its timer and notices.
func TestWatchNoticesAComponentWithoutAPIEvents(t *testing.T) {
	w := newWorld(t)
	for _, st := range stages[:7] { // up to the controller-manager
		st.apply(w)
	}
	w.unschedulable("no nodes available to schedule pods")
	s, _, _ := steps.Lookup("scheduler")
	go func() {
		time.Sleep(300 * time.Millisecond)
		w.healthz(w.schedAddr, true)
	}()
	var first string
	res, err := steps.Watch(ctx, w.env, s, steps.WatchOptions{
		Timeout: 20 * time.Second,
		Resync:  100 * time.Millisecond,
		OnResult: func(r steps.Result) {
			if c, ok := r.FirstProblem(); ok && first == "" {
				first = c.Message
			}
		},
	})
	if err != nil || res.Status != steps.Pass {
		t.Fatalf("%v %s", err, res.Status)
	}
	if !strings.Contains(first, "kube-scheduler is not running") {
		t.Errorf("first verdict %q, want kube-scheduler not running", first)
	}
}

// Stopping a component fails its step, naming it as not running, although
// everything it did stays in the API; starting it again passes the step.
func TestComponentDeathFailsItsStep(t *testing.T) {
	w := newWorld(t)
	for _, st := range stages {
		st.apply(w)
	}
	addrs := map[string]string{"controller-manager": w.cmAddr, "scheduler": w.schedAddr, "kubelet": w.kubeletAddr}
	stale := map[string]string{"kubelet": "cni"} // steps whose facts outlive the component
	for _, id := range []string{"controller-manager", "scheduler", "kubelet"} {
		t.Run(id, func(t *testing.T) {
			var srv *httptest.Server
			w.mu.Lock()
			for _, s := range w.servers {
				if s.Listener.Addr().String() == addrs[id] {
					srv = s
				}
			}
			w.mu.Unlock()
			if srv == nil {
				t.Fatalf("no server for %s", id)
			}
			srv.Close()
			rep, err := steps.Run(ctx, w.env, steps.RunOptions{Mode: steps.Every})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rep.Steps {
				want := steps.Pass
				if r.ID == id || r.ID == stale[id] {
					want = steps.Fail
				}
				if r.Status != want {
					t.Errorf("step %s %s, want %s%s", r.ID, r.Status, want, describe(r))
				}
				if r.ID == id {
					if c, ok := r.FirstProblem(); !ok || !strings.Contains(c.Message, "is not running") {
						t.Errorf("step %s: first problem %q, want \"is not running\"", id, c.Message)
					}
				}
				if r.ID == stale[id] {
					if c, ok := r.FirstProblem(); !ok || !strings.Contains(c.Message, "stale") {
						t.Errorf("step %s: first problem %q, want it called stale", r.ID, c.Message)
					}
				}
			}
			w.healthz(addrs[id], id != "kubelet")
			rep, err = steps.Run(ctx, w.env, steps.RunOptions{Mode: steps.Every})
			if err != nil {
				t.Fatal(err)
			}
			if rep.ExitCode() != 0 {
				t.Errorf("after restarting %s: exit %d", id, rep.ExitCode())
			}
		})
	}
}

// stageIndex is the index in stages of the stage that makes step id pass.
func stageIndex(t *testing.T, id string) int {
	t.Helper()
	for i, st := range stages {
		if st.step == id {
			return i
		}
	}
	t.Fatalf("no stage %q", id)
	return -1
}
