// Package iostreams is where kubetutor decides, once, whether it talks to a
// terminal: every command gets its streams and that decision from here.
package iostreams

import (
	"bytes"
	"io"
	"os"
	"strconv"

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

// GlamourStyle is the lesson rendering style: GLAMOUR_STYLE if set, "notty"
// when not on a terminal or when NO_COLOR is set, "dark" otherwise.
func (s *IOStreams) GlamourStyle() string {
	if v := os.Getenv("GLAMOUR_STYLE"); v != "" && s.OutTTY {
		return v
	}
	if !s.Color {
		return "notty"
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
