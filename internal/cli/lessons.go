package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kubetutor/kubetutor/lessons"
)

// LessonsOptions are the options of `kubetutor lessons`.
type LessonsOptions struct {
	f      *Factory
	Output string
}

func newLessonsCmd(f *Factory) *cobra.Command {
	o := &LessonsOptions{f: f}
	cmd := &cobra.Command{
		Use:   "lessons",
		Short: "List every lesson in order with its state",
		Long: `List the lessons in course order with their state: done, current, locked or
skipped. The welcome and troubleshooting lessons are always open.`,
		Example: `  kubetutor lessons
  kubetutor lessons -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLessons(o) },
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "text", "output format: text or json")
	return cmd
}

type lessonRow struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	State string `json:"state"`
}

func lessonRows(course *lessons.Course, p *lessons.Progress) []lessonRow {
	var rows []lessonRow
	for _, l := range course.All() {
		state := "open"
		if l.Step {
			state = string(p.StateOf(l.ID))
		}
		rows = append(rows, lessonRow{ID: l.ID, Title: l.Title, State: state})
	}
	return rows
}

func runLessons(o *LessonsOptions) error {
	f := o.f
	if o.Output != "text" && o.Output != "json" {
		return usageErrorf("unknown output format %q: use text or json", o.Output)
	}
	course, err := lessons.Load()
	if err != nil {
		return err
	}
	p, err := f.LoadProgress()
	if err != nil {
		return err
	}
	rows := lessonRows(course, p)
	if o.Output == "json" {
		enc := json.NewEncoder(f.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  \tLESSON\tSTATE\tTITLE")
	for _, r := range rows {
		marker := " "
		switch r.State {
		case string(lessons.Done):
			marker = "✓"
		case string(lessons.Current):
			marker = "▸"
		case string(lessons.Skipped):
			marker = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", marker, r.ID, r.State, r.Title)
	}
	return tw.Flush()
}
