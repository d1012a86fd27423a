// Package proc supervises the cluster's components as real processes: each
// in its own process group, with its own log file, stopped gracefully and
// then forcibly.
package proc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kubetutor/kubetutor/internal/fsutil"
)

// Process is a running component.
type Process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	log     *os.File
	done    chan struct{}
	mu      sync.Mutex
	err     error
}

// Spec says how to start a component.
type Spec struct {
	// Name identifies the component, e.g. "kube-apiserver".
	Name string
	// Shell is the command line as a learner types it; it runs under
	// bash -c "exec ...", so quoting and line continuations work.
	Shell string
	// Dir is the working directory.
	Dir string
	// Env is added to the process's environment.
	Env []string
	// LogPath receives stdout and stderr.
	LogPath string
	// Detach starts the process in a session of its own, so it outlives
	// the terminal and the program that started it.
	Detach bool
}

// Start starts a component in its own process group.
func Start(s Spec) (*Process, error) {
	// A log is appended to a regular file; a FIFO in its place would block
	// the open (O_NONBLOCK guards the race) and a device would swallow it.
	if err := fsutil.CheckRegular(s.LogPath); err != nil {
		return nil, fmt.Errorf("open log for %s: %w", s.Name, err)
	}
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND|syscall.O_NONBLOCK, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log for %s: %w", s.Name, err)
	}
	cmd := exec.Command("bash", "-c", "exec "+s.Shell)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: !s.Detach, Setsid: s.Detach}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", s.Name, err)
	}
	p := &Process{Name: s.Name, LogPath: s.LogPath, cmd: cmd, log: logf, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process ID (also its process group ID).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.err
	default:
		return false, nil
	}
}

// Done is closed when the process ends.
func (p *Process) Done() <-chan struct{} { return p.done }

// Stop sends SIGTERM to the process group, waits up to grace, then SIGKILLs.
func (p *Process) Stop(grace time.Duration) error {
	if exited, _ := p.Exited(); exited {
		return nil
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.Name, p.Pid())
	}
}

// Tail returns the last n lines of the component's log.
func (p *Process) Tail(n int) string { return TailFile(p.LogPath, n) }

// tailBytes bounds how much of the end of a log TailFile reads.
const tailBytes = 4 << 20

// TailFile returns the last n lines of a file (of at most its last 4 MiB),
// or a note saying why not. A FIFO or device in the log's place is named,
// not read.
func TailFile(path string, n int) string {
	if n <= 0 {
		return ""
	}
	f, err := fsutil.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "(no log at " + path + ")"
		}
		return "(cannot read " + path + ": " + err.Error() + ")"
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > tailBytes {
		if _, err := f.Seek(fi.Size()-tailBytes, io.SeekStart); err != nil {
			return "(cannot read " + path + ": " + err.Error() + ")"
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, tailBytes))
	if err != nil {
		return "(cannot read " + path + ": " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(bytes.ToValidUTF8(data, []byte("?"))), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
