// Package report prints check results: text for people (colored on a
// terminal, plain otherwise) and JSON for scripts. Every command that shows
// results uses it.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/internal/iostreams"
	"github.com/kubetutor/kubetutor/steps"
)

// Options tune the text output.
type Options struct {
	// Color adds ANSI colors.
	Color bool
	// Located says the report comes from locating the cluster (check without
	// a step): it begins with where the cluster stands.
	Located bool
	// Verbose shows passing checks' details too.
	Verbose bool
}

// cs is the colour scheme Color asks for.
func (o Options) cs() iostreams.ColorScheme { return iostreams.ColorScheme{Enabled: o.Color} }

func (o Options) mark(st checks.Status) string {
	switch st {
	case checks.Pass:
		return o.cs().SuccessIcon()
	case checks.Warn:
		return o.cs().WarningIcon()
	case checks.Error:
		return o.cs().ErrorIcon()
	}
	return o.cs().FailureIcon()
}

func (o Options) stepMark(r steps.Result) string {
	switch {
	case r.Status == steps.Pass:
		return o.cs().SuccessIcon()
	case r.Errored():
		return o.cs().ErrorIcon()
	case r.Status == steps.Skip:
		return o.cs().SkipIcon()
	}
	return o.cs().FailureIcon()
}

// Where says where the cluster stands, e.g. "at step 6 of 10 (controller-
// manager passes); next: start kube-scheduler".
func Where(rep steps.Report) string {
	all := steps.All()
	if rep.Current == "" {
		if next, ok := rep.NextStep(); ok {
			return fmt.Sprintf("at the start: no step passes yet; next: %s", all[next.Index].Next)
		}
		return "at the start"
	}
	_, idx, _ := steps.Lookup(rep.Current)
	if idx == len(all)-1 {
		return fmt.Sprintf("all %d steps pass: the cluster is complete", len(all))
	}
	s := fmt.Sprintf("at step %d of %d: %s passes", idx+1, len(all), rep.Current)
	if next, ok := rep.NextStep(); ok {
		s += fmt.Sprintf("; next: %s", all[next.Index].Next)
	}
	return s
}

// Text prints a report for people.
func Text(w io.Writer, rep steps.Report, o Options) error {
	var b strings.Builder
	if o.Located {
		fmt.Fprintf(&b, "%s\n", o.cs().Bold(capitalize(Where(rep))+"."))
		if rep.Current != "" {
			b.WriteString("\n")
		}
		for _, s := range rep.Steps {
			if s.Status == steps.Pass {
				fmt.Fprintf(&b, "%s %s %s\n", o.stepMark(s), s.ID, o.cs().Dim("— "+s.Title))
			}
		}
		for _, s := range rep.Steps {
			if s.Status == steps.Fail {
				b.WriteString("\n")
				writeStep(&b, s, o)
			}
		}
	} else {
		first := true
		for _, s := range rep.Evaluated() {
			if !first {
				b.WriteString("\n")
			}
			first = false
			writeStep(&b, s, o)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Step prints one step's verdict with its checks.
func Step(w io.Writer, r steps.Result, o Options) error {
	var b strings.Builder
	writeStep(&b, r, o)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeStep(b *strings.Builder, r steps.Result, o Options) {
	verdict := "passes"
	switch {
	case r.Errored():
		verdict = "could not be checked"
	case r.Status == steps.Fail:
		verdict = "not passing yet"
	}
	head := fmt.Sprintf("Step %d/%d %s (%s):", r.Index+1, len(steps.IDs()), r.ID, r.Title)
	if r.Index < 0 {
		head = fmt.Sprintf("%s (%s):", r.ID, r.Title)
	}
	fmt.Fprintf(b, "%s %s %s\n", o.stepMark(r), o.cs().Bold(head), verdict)
	for _, c := range r.Checks {
		fmt.Fprintf(b, "  %s %s\n", o.mark(c.Status), c.Name)
		writeIndented(b, "      ", c.Message)
		if c.Status != checks.Pass {
			if c.Observed != "" {
				writeIndented(b, "      ", o.cs().Dim("observed: ")+c.Observed)
			}
			if c.Expected != "" {
				writeIndented(b, "      ", o.cs().Dim("expected: ")+c.Expected)
			}
			if c.Hint != "" {
				writeIndented(b, "      ", o.cs().Yellow("hint: ")+c.Hint)
			}
		}
		if c.Status == checks.Pass && o.Verbose {
			for _, d := range c.Details {
				writeIndented(b, "      ", o.cs().Dim(d))
			}
		}
	}
}

func writeIndented(b *strings.Builder, indent, text string) {
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		b.WriteString(indent)
		b.WriteString(line)
		b.WriteByte('\n')
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// JSON prints a report as one JSON object:
// {"current": ..., "steps": [{"id", "title", "status", "checks": [...]}]}.
func JSON(w io.Writer, rep steps.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return nil
}
