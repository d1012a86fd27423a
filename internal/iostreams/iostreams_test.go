package iostreams

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pty opens a pseudo-terminal of cols×rows and returns its terminal end.
func pty(t *testing.T, cols, rows uint16) *os.File {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal to test a terminal with: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	mfd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pseudo-terminal: %v", err)
	}
	var tty *os.File
	if fd, err := unix.IoctlRetInt(mfd, unix.TIOCGPTPEER); err == nil {
		tty = os.NewFile(uintptr(fd), "pty")
	} else {
		n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
		if err != nil {
			t.Fatalf("pseudo-terminal number: %v", err)
		}
		if tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0); err != nil {
			t.Skipf("open the terminal end of the pseudo-terminal: %v", err)
		}
	}
	t.Cleanup(func() { tty.Close() })
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: rows}); err != nil {
		t.Fatalf("set the terminal size: %v", err)
	}
	return tty
}

func pipe(t *testing.T) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return w
}

func regular(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// system runs System with in and out as the process's stdin and stdout.
func system(in, out *os.File) *IOStreams {
	oldIn, oldOut := os.Stdin, os.Stdout
	os.Stdin, os.Stdout = in, out
	defer func() { os.Stdin, os.Stdout = oldIn, oldOut }()
	return System()
}

// env sets the variables of vars ("" unsets one) for the test.
func env(t *testing.T, vars map[string]string) {
	t.Helper()
	for _, k := range []string{"NO_COLOR", "TERM", "COLUMNS", "GLAMOUR_STYLE"} {
		t.Setenv(k, "")
		v, ok := vars[k]
		if ok && v != "" {
			os.Setenv(k, v)
		} else {
			os.Unsetenv(k)
		}
	}
}

func TestSystem(t *testing.T) {
	type want struct {
		inTTY, outTTY, color, interactive bool
		width                             int
		glamour                           string
	}
	tests := []struct {
		name    string
		in, out func(t *testing.T) *os.File
		env     map[string]string
		want    want
	}{
		{
			name: "piped both ways",
			in:   func(t *testing.T) *os.File { return pipe(t) },
			out:  func(t *testing.T) *os.File { return pipe(t) },
			env:  map[string]string{"TERM": "xterm-256color"},
			want: want{width: 80, glamour: "notty"},
		},
		{
			name: "output redirected to a file: COLUMNS sets the width",
			in:   func(t *testing.T) *os.File { return pipe(t) },
			out:  regular,
			env:  map[string]string{"TERM": "xterm-256color", "COLUMNS": "132"},
			want: want{width: 132, glamour: "notty"},
		},
		{
			name: "COLUMNS of 20 or less is ignored",
			in:   func(t *testing.T) *os.File { return pipe(t) },
			out:  regular,
			env:  map[string]string{"COLUMNS": "20"},
			want: want{width: 80, glamour: "notty"},
		},
		{
			name: "COLUMNS of 21 is used",
			in:   func(t *testing.T) *os.File { return pipe(t) },
			out:  regular,
			env:  map[string]string{"COLUMNS": "21"},
			want: want{width: 21, glamour: "notty"},
		},
		{
			name: "COLUMNS that is not a number is ignored",
			in:   func(t *testing.T) *os.File { return pipe(t) },
			out:  regular,
			env:  map[string]string{"COLUMNS": "wide"},
			want: want{width: 80, glamour: "notty"},
		},
		{
			name: "a terminal both ways: colour, and the terminal's width over COLUMNS",
			in:   func(t *testing.T) *os.File { return pty(t, 100, 30) },
			out:  func(t *testing.T) *os.File { return pty(t, 100, 30) },
			env:  map[string]string{"TERM": "xterm-256color", "COLUMNS": "132"},
			want: want{inTTY: true, outTTY: true, color: true, interactive: true, width: 100, glamour: "dark"},
		},
		{
			name: "a terminal with NO_COLOR",
			in:   func(t *testing.T) *os.File { return pty(t, 100, 30) },
			out:  func(t *testing.T) *os.File { return pty(t, 100, 30) },
			env:  map[string]string{"TERM": "xterm-256color", "NO_COLOR": "1"},
			want: want{inTTY: true, outTTY: true, interactive: true, width: 100, glamour: "notty"},
		},
		{
			name: "a dumb terminal: prompts, but no colour",
			in:   func(t *testing.T) *os.File { return pty(t, 100, 30) },
			out:  func(t *testing.T) *os.File { return pty(t, 100, 30) },
			env:  map[string]string{"TERM": "dumb"},
			want: want{inTTY: true, outTTY: true, interactive: true, width: 100, glamour: "notty"},
		},
		{
			name: "TERM unset on a terminal still colours",
			in:   func(t *testing.T) *os.File { return pty(t, 90, 30) },
			out:  func(t *testing.T) *os.File { return pty(t, 90, 30) },
			want: want{inTTY: true, outTTY: true, color: true, interactive: true, width: 90, glamour: "dark"},
		},
		{
			name: "GLAMOUR_STYLE on a colour terminal",
			in:   func(t *testing.T) *os.File { return pty(t, 100, 30) },
			out:  func(t *testing.T) *os.File { return pty(t, 100, 30) },
			env:  map[string]string{"TERM": "xterm", "GLAMOUR_STYLE": "light"},
			want: want{inTTY: true, outTTY: true, color: true, interactive: true, width: 100, glamour: "light"},
		},
		{
			name: "GLAMOUR_STYLE is not used without colour",
			in:   func(t *testing.T) *os.File { return pipe(t) },
			out:  func(t *testing.T) *os.File { return pipe(t) },
			env:  map[string]string{"TERM": "xterm", "GLAMOUR_STYLE": "light"},
			want: want{width: 80, glamour: "notty"},
		},
		{
			name: "a terminal that reports no size: 80, not COLUMNS",
			in:   func(t *testing.T) *os.File { return pty(t, 0, 0) },
			out:  func(t *testing.T) *os.File { return pty(t, 0, 0) },
			env:  map[string]string{"TERM": "xterm", "COLUMNS": "132"},
			want: want{inTTY: true, outTTY: true, color: true, interactive: true, width: 80, glamour: "dark"},
		},
		{
			name: "input from a terminal, output piped: not interactive, no colour",
			in:   func(t *testing.T) *os.File { return pty(t, 100, 30) },
			out:  func(t *testing.T) *os.File { return pipe(t) },
			env:  map[string]string{"TERM": "xterm"},
			want: want{inTTY: true, width: 80, glamour: "notty"},
		},
		{
			name: "input piped, output to a terminal: colour, but no prompts",
			in:   func(t *testing.T) *os.File { return pipe(t) },
			out:  func(t *testing.T) *os.File { return pty(t, 100, 30) },
			env:  map[string]string{"TERM": "xterm"},
			want: want{outTTY: true, color: true, width: 100, glamour: "dark"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env(t, tc.env)
			in, out := tc.in(t), tc.out(t)
			s := system(in, out)
			got := want{s.InTTY, s.OutTTY, s.Color, s.Interactive(), s.Width, s.GlamourStyle()}
			if got != tc.want {
				t.Errorf("System() = %+v, want %+v", got, tc.want)
			}
			if s.In != io.Reader(in) || s.Out != io.Writer(out) || s.ErrOut != io.Writer(os.Stderr) {
				t.Errorf("System() streams are not the process's stdin, stdout and stderr")
			}
		})
	}
}

func TestTest(t *testing.T) {
	s, out, errOut := Test("typed\n")
	if s.InTTY || s.OutTTY || s.Color || s.Interactive() || s.Width != 80 || s.GlamourStyle() != "notty" {
		t.Errorf("Test() = %+v, want no terminal, no colour, width 80", s)
	}
	in, err := io.ReadAll(s.In)
	if err != nil || string(in) != "typed\n" {
		t.Errorf("Test() input %q (%v), want %q", in, err, "typed\n")
	}
	io.WriteString(s.Out, "o")
	io.WriteString(s.ErrOut, "e")
	if out.String() != "o" || errOut.String() != "e" {
		t.Errorf("Test() buffers hold %q and %q, want o and e", out, errOut)
	}
}

func TestPage(t *testing.T) {
	long := strings.Repeat("line\n", 30) // longer than the 24-line default
	short := strings.Repeat("line\n", 21)
	tests := []struct {
		name        string
		interactive bool
		text        string
		env         map[string]string // KUBETUTOR_PAGER, PAGER, LESS
		want        string
		wantErrOut  string
	}{
		{"not a terminal: no pager", false, long, map[string]string{"KUBETUTOR_PAGER": "tr a-z A-Z"}, long, ""},
		{"text that fits: no pager", true, short, map[string]string{"KUBETUTOR_PAGER": "tr a-z A-Z"}, short, ""},
		{"KUBETUTOR_PAGER", true, long, map[string]string{"KUBETUTOR_PAGER": "tr a-z A-Z", "PAGER": "cat -n"}, strings.ToUpper(long), ""},
		{"PAGER", true, long, map[string]string{"PAGER": "tr a-z A-Z"}, strings.ToUpper(long), ""},
		{"cat is no pager: the text as is", true, long, map[string]string{"PAGER": "cat -n"}, long, ""},
		{"a pager that is not installed: the text as is", true, long, map[string]string{"PAGER": "kubetutor-no-such-pager -R"}, long, ""},
		{"a pager that cannot run its command (127): the text as is", true, long, map[string]string{"PAGER": "sh -c 'exit 127'"}, long, ""},
		{"a pager quit with a status: the text was shown", true, long, map[string]string{"PAGER": "sh -c 'echo shown; exit 1'"}, "shown\n", ""},
		// Issue 18 defect 13: PAGER=false showed nothing and exited 0.
		{"a pager that fails without showing anything (PAGER=false): the text, and why", true, long, map[string]string{"PAGER": "false"}, long,
			"warning: the pager \"false\" failed (exit status 1) without showing anything; here is the text without a pager\n"},
		{"the pager's stderr goes to ErrOut", true, long, map[string]string{"PAGER": "sh -c 'cat; echo note >&2'"}, long, "note\n"},
		{"LESS=FRX when LESS is unset", true, long, map[string]string{"PAGER": `echo "LESS=$LESS"`}, "LESS=FRX\n", ""},
		{"LESS as the user set it", true, long, map[string]string{"PAGER": `echo "LESS=$LESS"`, "LESS": "-R"}, "LESS=-R\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"KUBETUTOR_PAGER", "PAGER", "LESS"} {
				t.Setenv(k, tc.env[k])
				if tc.env[k] == "" {
					os.Unsetenv(k)
				}
			}
			s, out, errOut := Test("")
			s.InTTY, s.OutTTY = tc.interactive, tc.interactive
			if err := s.Page(context.Background(), tc.text); err != nil {
				t.Fatalf("Page: %v", err)
			}
			if out.String() != tc.want {
				t.Errorf("Page wrote %q, want %q", out, tc.want)
			}
			if errOut.String() != tc.wantErrOut {
				t.Errorf("Page wrote %q to ErrOut, want %q", errOut, tc.wantErrOut)
			}
		})
	}
}

// TestPageEndsWithContext: SIGINT or SIGTERM (ctx) ends a pager that is
// still showing the text; a pager that ignores SIGTERM is killed. Before
// issue 18 defect 7's fix, kubetutor waited for the pager, which never got
// the signal, until its watchdog gave up 5 seconds later.
func TestPageEndsWithContext(t *testing.T) {
	for _, pager := range []string{"sleep 30", `sh -c "trap '' TERM; sleep 30"`} {
		t.Run(pager, func(t *testing.T) {
			t.Setenv("KUBETUTOR_PAGER", pager)
			s, _, _ := Test("")
			s.InTTY, s.OutTTY = true, true
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			start := time.Now()
			err := s.Page(ctx, strings.Repeat("line\n", 30))
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Page = %v, want context.Canceled", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Page took %s after its context ended", d)
			}
		})
	}
}
