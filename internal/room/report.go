// Package room is the instructor's room: a server that keeps every
// learner's last check report and shows them on a live dashboard, and the
// learner's side that joins a room and sends reports to it in the
// background.
//
// What travels is what `kubetutor check` decides, never what it read: step
// statuses and, for a failing step, the first failing check's name, message
// and hint; from the drill commands, which drill the learner is on, its
// state and its times. No file contents, keys or kubeconfigs.
package room

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/kubetutor/kubetutor/steps"
)

// Limits on what a learner may send or be called.
const (
	// MaxNameRunes is the longest learner name, in characters.
	MaxNameRunes = 64
	// MaxTextRunes bounds each check name, message and hint in a report.
	MaxTextRunes = 1000
	// MaxReportBytes bounds a report request's body.
	MaxReportBytes = 64 << 10
	// MaxJoinBytes bounds a join request's body.
	MaxJoinBytes = 4 << 10
)

// Report is what a learner sends after a check.
type Report struct {
	// Full says every step was considered (check, check --all): a step left
	// as skip is "not reached". Otherwise (check STEP, --watch, the
	// walkthrough) only the evaluated steps are news and the others keep
	// what the room knew.
	Full  bool         `json:"full"`
	Steps []StepReport `json:"steps"`
	// Drill, sent by the drill commands, is the learner's drill; a report
	// without it leaves the room's record of their drill as it was.
	Drill *DrillReport `json:"drill,omitempty"`
}

// StepReport is one step's verdict; Check, Message and Hint are the first
// failing check's when the step fails.
type StepReport struct {
	ID      string       `json:"id"`
	Status  steps.Status `json:"status"`
	Check   string       `json:"check,omitempty"`
	Message string       `json:"message,omitempty"`
	Hint    string       `json:"hint,omitempty"`
}

// FromReport is the room's report of a check run: statuses and first
// problems only.
func FromReport(rep steps.Report, full bool) Report {
	out := Report{Full: full, Steps: make([]StepReport, 0, len(rep.Steps))}
	for _, s := range rep.Steps {
		sr := StepReport{ID: s.ID, Status: s.Status}
		if s.Status == steps.Fail {
			if c, ok := s.FirstProblem(); ok {
				sr.Check = clip(c.Name)
				sr.Message = clip(c.Message)
				sr.Hint = clip(c.Hint)
			}
		}
		out.Steps = append(out.Steps, sr)
	}
	return out
}

// Validate checks a report from the network: known step IDs, each once,
// known statuses, bounded texts, and a valid drill part (DrillReport.Validate).
func (r Report) Validate() error {
	if r.Drill != nil {
		if err := r.Drill.Validate(); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, s := range r.Steps {
		if _, _, err := steps.Lookup(s.ID); err != nil {
			return fmt.Errorf("unknown step %q", clipTo(s.ID, 40))
		}
		if seen[s.ID] {
			return fmt.Errorf("step %s reported twice", s.ID)
		}
		seen[s.ID] = true
		switch s.Status {
		case steps.Pass, steps.Fail, steps.Skip:
		default:
			return fmt.Errorf("step %s: unknown status %q", s.ID, clipTo(string(s.Status), 20))
		}
		for _, t := range []string{s.Check, s.Message, s.Hint} {
			if !utf8.ValidString(t) {
				return fmt.Errorf("step %s: text is not UTF-8", s.ID)
			}
			if utf8.RuneCountInString(t) > MaxTextRunes {
				return fmt.Errorf("step %s: text longer than %d characters", s.ID, MaxTextRunes)
			}
		}
	}
	return nil
}

func clip(s string) string { return clipTo(s, MaxTextRunes) }

// clipTo cuts s to at most n characters, marking the cut, and makes it
// valid UTF-8.
func clipTo(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
