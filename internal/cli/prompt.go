package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/kubetutor/kubetutor/internal/iostreams"
)

// errInputClosed means the learner's input ended (EOF): treated as quit.
var errInputClosed = errors.New("input closed")

// errInterrupted means the learner pressed Ctrl-C in a form (the terminal
// was in raw mode, so no SIGINT came): kubetutor exits 130.
var errInterrupted = errors.New("interrupted")

// prompter asks the learner questions with huh: the full form on a terminal,
// accessible mode (numbered choices, line input) otherwise.
type prompter struct {
	ctx context.Context
	io  *iostreams.IOStreams
	in  *lineReader
}

// newPrompter asks on s; a question ends when ctx does (SIGINT, SIGTERM).
func newPrompter(ctx context.Context, s *iostreams.IOStreams) *prompter {
	return &prompter{ctx: ctx, io: s, in: &lineReader{ctx: ctx, r: s.In}}
}

// run asks fields, which need lines lines of the terminal to be seen
// whole: a smaller terminal gets the accessible prompt (numbered choices,
// line input), whose text scrolls, instead of a form it cannot show (a
// 20×5 terminal showed the title's first lines and no choice).
func (p *prompter) run(lines int, fields ...huh.Field) error {
	// No signal handler of bubbletea's own: SIGINT and SIGTERM cancel ctx
	// (Main), which ends the form. Bubbletea's handler, racing that
	// cancellation, could block sending its quit message to a program
	// that had already stopped reading, and its shutdown waited for it:
	// one run in three hung until Main's watchdog.
	form := huh.NewForm(huh.NewGroup(fields...)).WithShowHelp(true).
		WithProgramOptions(tea.WithoutSignalHandler(), tea.WithOutput(os.Stderr))
	// A blank line sets the prompt apart from what came before.
	_, _ = io.WriteString(p.io.Out, "\n")
	if p.io.Interactive() && lines <= p.io.Height() {
		// Each form reads from a descriptor of its own, closed when the form
		// ends: bubbletea can leave its input loop blocked in a read after a
		// program exits (after escape sequences such as the arrow keys), and
		// on a shared stdin that stale read would swallow the next form's
		// first key. Closing the descriptor ends it instead.
		var in io.Reader = p.io.In
		if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
			defer tty.Close()
			in = tty
		}
		form = form.WithInput(in).WithOutput(p.io.Out)
	} else {
		var out io.Writer = p.io.Out
		if !p.io.Color {
			out = &colorprofile.Writer{Forward: out, Profile: colorprofile.NoTTY}
		}
		form = form.WithAccessible(true).WithInput(p.in).WithOutput(out)
	}
	before := p.in.reads
	err := form.RunWithContext(p.ctx)
	// A signal ends the question; its answer (the default) must not be
	// acted on. bubbletea quits quietly on SIGTERM, so look at ctx first.
	if p.ctx.Err() != nil {
		return p.ctx.Err()
	}
	if errors.Is(err, huh.ErrUserAborted) {
		if p.io.Interactive() {
			return errInterrupted
		}
		return errInputClosed
	}
	if err != nil {
		return err
	}
	if p.in.eof && p.in.reads == before {
		return errInputClosed
	}
	return nil
}

// choice is one menu entry.
type choice[T comparable] struct {
	Label string
	Value T
}

// selectOne asks for one of the choices; the first is the default.
func selectOne[T comparable](p *prompter, title string, choices []choice[T]) (T, error) {
	opts := make([]huh.Option[T], len(choices))
	for i, c := range choices {
		opts[i] = huh.NewOption(c.Label, c.Value)
	}
	v := choices[0].Value
	// The title, wrapped inside the form's border, each choice, the help
	// line and the blank line before the form.
	lines := wrappedLines(title, p.io.Width-2) + len(choices) + 2
	err := p.run(lines, huh.NewSelect[T]().Title(title).Options(opts...).Value(&v))
	return v, err
}

// confirm asks a yes/no question; no is the default.
func (p *prompter) confirm(title string) (bool, error) {
	v := false
	err := p.run(wrappedLines(title, p.io.Width-2)+3, huh.NewConfirm().Title(title).Affirmative("Yes").Negative("No").Value(&v))
	return v, err
}

// wrappedLines is how many lines s takes wrapped at width columns, word by
// word (a word longer than a line is cut).
func wrappedLines(s string, width int) int {
	width = max(width, 1)
	lines, col := 1, 0
	for _, w := range strings.Fields(s) {
		n := utf8.RuneCountInString(w)
		switch {
		case col == 0:
		case col+1+n <= width:
			col++
		default:
			lines++
			col = 0
		}
		for n > width {
			lines++
			n -= width
		}
		col += n
	}
	return lines
}

// lineReader hands huh's accessible prompts one line per Read, so that each
// prompt's scanner consumes only its own answer, and remembers EOF so that
// closed input ends the walkthrough instead of repeating the default. A Read
// waiting for input ends with ctx's error when ctx ends.
type lineReader struct {
	ctx context.Context
	r   io.Reader
	eof bool
	// reads counts the reads that returned data.
	reads int

	buf     []byte
	pending chan readResult // a read of r under way, nil if none
	err     error           // r's error, once seen
}

type readResult struct {
	data []byte
	err  error
}

// fill gets more bytes from r, waiting at most until ctx ends. A read left
// waiting is picked up by the next fill.
func (l *lineReader) fill() error {
	if l.err != nil {
		return l.err
	}
	if l.pending == nil {
		l.pending = make(chan readResult, 1)
		go func(ch chan readResult) {
			b := make([]byte, 4096)
			n, err := l.r.Read(b)
			ch <- readResult{b[:n], err}
		}(l.pending)
	}
	ctx := l.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case res := <-l.pending:
		l.pending = nil
		l.buf = append(l.buf, res.data...)
		if res.err != nil {
			l.err = res.err
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *lineReader) Read(p []byte) (int, error) {
	if l.eof {
		return 0, io.EOF
	}
	for {
		if i := indexNL(l.buf); i >= 0 || (l.err != nil && len(l.buf) > 0) || len(l.buf) >= len(p) {
			end := len(l.buf)
			if i >= 0 {
				end = i + 1
			}
			if end > len(p) {
				end = len(p)
			}
			n := copy(p, l.buf[:end])
			l.buf = l.buf[n:]
			l.reads++
			return n, nil
		}
		if l.err != nil {
			if errors.Is(l.err, io.EOF) {
				l.eof = true
			}
			return 0, l.err
		}
		if err := l.fill(); err != nil && l.err == nil {
			return 0, err
		}
	}
}

func indexNL(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return -1
}
