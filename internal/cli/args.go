package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubetutor/kubetutor/lessons"
	"github.com/kubetutor/kubetutor/steps"
)

// maxArgs is cobra.MaximumNArgs with exit status 2.
func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usageErrorf("%s takes at most %d argument(s), got %d: %s (see %s --help)", cmd.CommandPath(), n, len(args), strings.Join(args, " "), cmd.CommandPath())
		}
		return nil
	}
}

// exactArgs is cobra.ExactArgs with exit status 2.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s takes %d argument(s), got %d (see %s --help)", cmd.CommandPath(), n, len(args), cmd.CommandPath())
		}
		return nil
	}
}

// noArgs rejects arguments, naming unknown commands, with exit status 2.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("unknown command %q for %s (see %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath())
	}
	return nil
}

// stepIDCompletion completes step IDs.
func stepIDCompletion(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, s := range steps.All() {
		out = append(out, s.ID+"\t"+s.Title)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// optionalStep lets cmd take one optional STEP argument, completed from the
// course's step IDs: run runs with *step set to it (left as is without one).
// An empty STEP is a usage error (exit status 2).
func optionalStep(cmd *cobra.Command, step *string, run func(context.Context) error) {
	cmd.Args = maxArgs(1)
	cmd.ValidArgsFunction = stepIDCompletion
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 1 {
			if args[0] == "" {
				return usageErrorf("STEP is empty: name a step (%s) or leave it out", stepList())
			}
			*step = args[0]
		}
		return run(cmd.Context())
	}
}

// lessonIDCompletion completes lesson IDs.
func lessonIDCompletion(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return lessons.Order(), cobra.ShellCompDirectiveNoFileComp
}

// lookupStep resolves a step ID given on the command line.
func lookupStep(id string) (steps.Step, error) {
	s, _, err := steps.Lookup(id)
	if err != nil {
		return steps.Step{}, &ExitError{Code: 2, Err: err}
	}
	return s, nil
}

// wrapList is label and items, comma-separated and ended by a full stop,
// wrapped for a help text: no line longer than width unless one item is.
func wrapList(label string, items []string, width int) string {
	var b strings.Builder
	line := label
	for i, it := range items {
		word := it + ","
		if i == len(items)-1 {
			word = it + "."
		}
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) > width:
			b.WriteString(line + "\n")
			line = word
		default:
			line += " " + word
		}
	}
	return b.String() + line
}

// stepList is the course's step IDs, comma-separated, for messages.
func stepList() string { return strings.Join(steps.IDs(), ", ") }
