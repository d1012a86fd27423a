// Package iostreams is where kubetutor decides, once, whether it talks to a
// terminal: every command gets its streams and that decision from here.
package iostreams

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"
)

// IOStreams are a command's input and outputs, and what they are connected to.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	// InTTY and OutTTY say whether In and Out are terminals.
	InTTY, OutTTY bool
	// Color is true when output may be colored: a terminal, and NO_COLOR unset.
	Color bool
	// Width is the terminal width, or 80.
	Width int
}

// Interactive reports whether full-screen prompts may be shown: both input
// and output are terminals.
func (s *IOStreams) Interactive() bool { return s.InTTY && s.OutTTY }

// GlamourStyle is the lesson rendering style: "notty" when not on a terminal
// or when NO_COLOR is set, else GLAMOUR_STYLE (a style name or a JSON style
// file, as glamour accepts) if set, else "dark".
func (s *IOStreams) GlamourStyle() string {
	if !s.Color {
		return "notty"
	}
	if v := os.Getenv("GLAMOUR_STYLE"); v != "" {
		return v
	}
	return "dark"
}

// System returns the process's streams with TTY detection.
func System() *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, Width: 80}
	s.InTTY = term.IsTerminal(int(os.Stdin.Fd()))
	s.OutTTY = term.IsTerminal(int(os.Stdout.Fd()))
	_, noColor := os.LookupEnv("NO_COLOR")
	s.Color = s.OutTTY && !noColor && os.Getenv("TERM") != "dumb"
	if s.OutTTY {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil && w > 0 {
			s.Width = w
		}
	} else if c, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && c > 20 {
		s.Width = c
	}
	return s
}

// Test returns streams over buffers, not a terminal.
func Test(in string) (*IOStreams, *bytes.Buffer, *bytes.Buffer) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: bytes.NewBufferString(in), Out: out, ErrOut: errOut, Width: 80}, out, errOut
}

// Page shows text through a pager when both ends are a terminal and the
// text is longer than the screen: $KUBETUTOR_PAGER, else $PAGER, else
// `less` (with LESS=FRX, so short text is printed as is and long text stays
// on screen after quitting). Otherwise, or if the pager cannot start, the
// text is written as is. A pager that fails (a status other than 0, not
// from a signal) without having shown anything is reported on ErrOut and
// the text written as is; when Out is a terminal kubetutor cannot tell
// what the pager showed, so any failure counts as nothing shown. When ctx
// ends (SIGINT, SIGTERM) the pager is sent SIGTERM, killed if it is still
// there half a second later, and Page returns ctx's error.
func (s *IOStreams) Page(ctx context.Context, text string) error {
	if !s.Interactive() || strings.Count(text, "\n") < s.height()-2 {
		_, err := io.WriteString(s.Out, text)
		return err
	}
	pager := os.Getenv("KUBETUTOR_PAGER")
	if pager == "" {
		pager = os.Getenv("PAGER")
	}
	if pager == "" {
		if _, err := exec.LookPath("less"); err != nil {
			_, err := io.WriteString(s.Out, text)
			return err
		}
		pager = "less"
	}
	if f := strings.Fields(pager); len(f) == 0 || f[0] == "cat" {
		_, err := io.WriteString(s.Out, text)
		return err
	} else if _, err := exec.LookPath(f[0]); err != nil {
		_, err := io.WriteString(s.Out, text)
		return err
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", pager)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = pagerWaitDelay
	cmd.Stdin = strings.NewReader(text)
	// A terminal is handed to the pager as it is (a pager needs to know it
	// writes to one); anything else is counted on the way.
	out := &countWriter{w: s.Out}
	if _, ok := s.Out.(*os.File); ok {
		cmd.Stdout = s.Out
	} else {
		cmd.Stdout = out
	}
	cmd.Stderr = s.ErrOut
	cmd.Env = os.Environ()
	if os.Getenv("LESS") == "" {
		cmd.Env = append(cmd.Env, "LESS=FRX")
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() != 126 && ee.ExitCode() != 127 {
		if ee.ExitCode() < 0 || out.n > 0 {
			return nil // the pager was interrupted, or quit with a status after showing the text
		}
		fmt.Fprintf(s.ErrOut, "warning: the pager %q failed (%v) without showing anything; here is the text without a pager\n", pager, ee)
	}
	_, err = io.WriteString(s.Out, text)
	return err
}

// pagerWaitDelay is how long a pager has to end after SIGTERM (ctx ended)
// before it is killed.
const pagerWaitDelay = 500 * time.Millisecond

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Height is the terminal's height in lines, or 24.
func (s *IOStreams) Height() int { return s.height() }

func (s *IOStreams) height() int {
	if f, ok := s.Out.(*os.File); ok {
		if _, h, err := term.GetSize(int(f.Fd())); err == nil && h > 0 {
			return h
		}
	}
	return 24
}
