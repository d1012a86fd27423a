package fsutil

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Lock takes an exclusive advisory lock (flock) on lockPath, creating it if
// needed, for a read-modify-write of a file several kubetutor processes
// share (the progress file: `check --watch` in one pane, `hint` in another).
// It waits until the lock is free or ctx ends. The returned function
// releases it.
func Lock(ctx context.Context, lockPath string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o700); err != nil {
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	if err := checkLinks(lockPath); err != nil {
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	if err := CheckRegular(lockPath); err != nil {
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	wait := 5 * time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", lockPath, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: another kubetutor holds it: %w", lockPath, context.Cause(ctx))
		case <-time.After(wait):
		}
		if wait < 100*time.Millisecond {
			wait *= 2
		}
	}
}
