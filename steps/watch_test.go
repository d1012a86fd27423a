package steps_test

import (
	"errors"
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
