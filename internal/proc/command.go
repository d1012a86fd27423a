package proc

import (
	"bytes"
	"context"
	"os/exec"
	"syscall"
	"time"

	"github.com/kubetutor/kubetutor/internal/fsutil"
)

// MaxOutput bounds what Command.Output keeps of a program's output.
const MaxOutput = 64 << 10

// Command is a short program run for what it prints: a --version, a
// package query. It runs in its own process group, killed whole when ctx
// ends or Timeout passes (a wrapper script may leave children holding the
// output pipe), and the pipe is then waited for half a second at most.
type Command struct {
	Path string
	Args []string
	// Timeout bounds the run; 0 leaves it to the caller's context.
	Timeout time.Duration
	// StdoutOnly drops standard error; by default both streams are kept,
	// as they come.
	StdoutOnly bool
}

// Output runs c and returns the first MaxOutput bytes it printed, with
// exec's error (the exit status, or the context's end).
func (c Command) Output(ctx context.Context) (string, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	var out bytes.Buffer
	w := &fsutil.CappedBuffer{B: &out, N: MaxOutput}
	cmd.Stdout = w
	if !c.StdoutOnly {
		cmd.Stderr = w
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 500 * time.Millisecond
	err := cmd.Run()
	return out.String(), err
}
