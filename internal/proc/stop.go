package proc

import (
	"fmt"
	"syscall"
	"time"
)

// Alive is true while pid exists on this machine and is not a zombie; a
// zombie child of this process is reaped on the way.
func Alive(pid int) bool {
	p, _, ok := Table{Dir: "/proc"}.stat(pid)
	if !ok {
		return false
	}
	if p.State == "Z" {
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		return false
	}
	return p.State != "X"
}

// WaitGone waits up to d for pid to be gone and reports whether it is.
func WaitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !Alive(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StopPid sends SIGTERM to pid and to its process group (a component
// started in a group of its own takes its children along), waits up to
// grace, then SIGKILLs both.
func StopPid(pid int, grace time.Duration) error {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if WaitGone(pid, grace) {
		return nil
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if WaitGone(pid, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("pid %d did not exit", pid)
}
