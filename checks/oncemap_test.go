package checks

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestOnceMap: concurrent callers of a key share one computation; a failure
// is kept when keepErrors says so and computed again otherwise; a waiter
// whose context ends stops waiting.
func TestOnceMap(t *testing.T) {
	for _, keep := range []bool{true, false} {
		m := &onceMap[int]{keepErrors: keep}
		var calls atomic.Int32
		release := make(chan struct{})
		fail := errors.New("failed")
		f := func() (int, error) {
			n := calls.Add(1)
			<-release
			if n == 1 {
				return 0, fail
			}
			return int(n), nil
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = m.do(context.Background(), "k", f)
			}()
		}
		for calls.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		close(release)
		wg.Wait()
		failed := 0
		for _, err := range errs {
			if err != nil {
				failed++
			}
		}
		switch {
		case keep && (calls.Load() != 1 || failed != 4):
			t.Errorf("keepErrors: %d computations, %d callers failed; want 1 and all 4", calls.Load(), failed)
		case !keep && (calls.Load() != 2 || failed != 1):
			t.Errorf("failures forgotten: %d computations, %d callers failed; want 2 (the failure computed again) and 1", calls.Load(), failed)
		}
		if v, err := m.do(context.Background(), "k", f); keep && err != fail || !keep && (err != nil || v != 2) {
			t.Errorf("keepErrors=%v: a later call = %d, %v", keep, v, err)
		}
	}

	m := &onceMap[int]{}
	block := make(chan struct{})
	defer close(block)
	started := make(chan struct{})
	go func() {
		_, _ = m.do(context.Background(), "k", func() (int, error) { close(started); <-block; return 1, nil })
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.do(ctx, "k", func() (int, error) { return 2, nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("a waiter whose context ended: %v, want context.Canceled", err)
	}
}
