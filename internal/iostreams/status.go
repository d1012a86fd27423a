package iostreams

import (
	"fmt"
	"io"
	"time"
)

// Status writes kind-style status lines to W, each indented by one space:
// " • what ..." while an action runs, then " ✓ what (took)" or
// " ✗ what (took)" once it ends, the icons coloured by CS.
type Status struct {
	W  io.Writer
	CS ColorScheme

	// Since measures an action's duration; time.Since when nil.
	Since func(time.Time) time.Duration
}

// Run announces what, runs fn, and reports its outcome with the time it
// took (rounded to 10 ms). It returns fn's error.
func (s Status) Run(what string, fn func() error) error {
	since := s.Since
	if since == nil {
		since = time.Since
	}
	start := time.Now()
	s.line("•", what+" ...")
	err := fn()
	took := since(start).Round(10 * time.Millisecond)
	if err != nil {
		s.line(s.CS.FailureIcon(), fmt.Sprintf("%s (%s)", what, took))
		return err
	}
	s.line(s.CS.SuccessIcon(), fmt.Sprintf("%s (%s)", what, took))
	return nil
}

// Info writes " • " and the formatted text: a step taken or skipped.
func (s Status) Info(format string, a ...any) { s.line("•", fmt.Sprintf(format, a...)) }

// Done writes " ✓ " and the formatted text.
func (s Status) Done(format string, a ...any) { s.line(s.CS.SuccessIcon(), fmt.Sprintf(format, a...)) }

// Failed writes " ✗ " and the formatted text.
func (s Status) Failed(format string, a ...any) {
	s.line(s.CS.FailureIcon(), fmt.Sprintf(format, a...))
}

func (s Status) line(icon, text string) { fmt.Fprintf(s.W, " %s %s\n", icon, text) }
