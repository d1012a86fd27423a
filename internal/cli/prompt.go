package cli

import (
	"errors"
	"io"
	"os"

	"charm.land/huh/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/kubetutor/kubetutor/internal/iostreams"
)

// errInputClosed means the learner's input ended (EOF): treated as quit.
var errInputClosed = errors.New("input closed")

// prompter asks the learner questions with huh: the full form on a terminal,
// accessible mode (numbered choices, line input) otherwise.
type prompter struct {
	io *iostreams.IOStreams
	in *lineReader
}

func newPrompter(s *iostreams.IOStreams) *prompter {
	return &prompter{io: s, in: &lineReader{r: s.In}}
}

func (p *prompter) run(fields ...huh.Field) error {
	form := huh.NewForm(huh.NewGroup(fields...)).WithShowHelp(true)
	// A blank line sets the prompt apart from what came before.
	_, _ = io.WriteString(p.io.Out, "\n")
	if p.io.Interactive() {
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
	err := form.Run()
	if errors.Is(err, huh.ErrUserAborted) {
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
	err := p.run(huh.NewSelect[T]().Title(title).Options(opts...).Value(&v))
	return v, err
}

// confirm asks a yes/no question; no is the default.
func (p *prompter) confirm(title string) (bool, error) {
	v := false
	err := p.run(huh.NewConfirm().Title(title).Affirmative("Yes").Negative("No").Value(&v))
	return v, err
}

// lineReader hands huh's accessible prompts one line per Read, so that each
// prompt's scanner consumes only its own answer, and remembers EOF so that
// closed input ends the walkthrough instead of repeating the default.
type lineReader struct {
	r   io.Reader
	eof bool
	// reads counts the reads that returned data.
	reads int
}

func (l *lineReader) Read(p []byte) (int, error) {
	if l.eof {
		return 0, io.EOF
	}
	n := 0
	defer func() {
		if n > 0 {
			l.reads++
		}
	}()
	var b [1]byte
	for n < len(p) {
		m, err := l.r.Read(b[:])
		if m == 1 {
			p[n] = b[0]
			n++
			if b[0] == '\n' {
				return n, nil
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				l.eof = true
				if n > 0 {
					return n, nil
				}
			}
			return n, err
		}
	}
	return n, nil
}
