package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/kubetutor/kubetutor/internal/host"
	"github.com/kubetutor/kubetutor/internal/script"
	"github.com/kubetutor/kubetutor/steps"
)

// hostTags are the lesson variants that fit this machine: doctor's facts
// about it (bin/ of the work dir first on PATH, as the lessons set it),
// each overridden by a tag of --variant (for example "offline,containerd-2").
func (f *Factory) hostTags(ctx context.Context, variant string) (script.Set, error) {
	var override []string
	if variant != "" {
		for _, t := range strings.Split(variant, ",") {
			t = strings.TrimSpace(t)
			if !script.KnownTag(t) {
				var known []string
				for _, p := range script.Tags {
					known = append(known, p[0], p[1])
				}
				return nil, usageErrorf("unknown variant %q (variants: %s)", t, strings.Join(known, ", "))
			}
			override = append(override, t)
		}
	}
	wd := f.WorkDir
	if wd == "" {
		wd = "."
	}
	tags := script.Set{}
	for _, t := range host.DetectStack(ctx, filepath.Join(wd, "bin")).Tags() {
		tags[t] = true
	}
	for _, t := range override {
		delete(tags, script.Opposite(t))
		tags[t] = true
	}
	return tags, nil
}

// commandsText is a step's commands for a host, as the learner types them.
// A block that starts a long-running component is preceded by a comment
// saying so: pasted into one shell, it would hold the rest.
func commandsText(s steps.Step, tags script.Set) string {
	var parts []string
	for _, b := range s.CommandsFor(tags) {
		if b.Kind == script.Daemon {
			parts = append(parts, DaemonComment+"\n"+b.Text)
			continue
		}
		parts = append(parts, b.Text)
	}
	return strings.Join(parts, "\n")
}

// DaemonComment precedes a long-running block in `show --commands`.
const DaemonComment = "# In its own terminal (it runs in the foreground until Ctrl-C):"

// printVariants says which variant of the lessons' commands fits this
// machine, from the same facts.
func printVariants(ctx context.Context, f *Factory) error {
	tags, err := f.hostTags(ctx, "")
	if err != nil {
		return err
	}
	var fit []string
	for _, p := range script.Tags {
		for _, t := range p {
			if tags[t] {
				fit = append(fit, t)
			}
		}
	}
	_, err = fmt.Fprintf(f.IO.Out, "\nThe lessons show the commands for this machine: %s (kubetutor show STEP --commands; --variant for others).\n", strings.Join(fit, ", "))
	return err
}
