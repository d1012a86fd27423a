package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/drills"
	"github.com/kubetutor/kubetutor/lessons"
	"github.com/kubetutor/kubetutor/steps"
)

// TestDrillCommands: what the drill commands say without a cluster, each
// with its exit status.
func TestDrillCommands(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"list", []string{"drill", "list"}, 0, "after scheduler; breaks kube-scheduler-running"},
		{"unknown drill", []string{"drill", "start", "no-such-drill"}, 2, `unknown drill "no-such-drill"`},
		{"start needs an ID", []string{"drill", "start"}, 2, "takes 1 argument(s), got 0"},
		{"bad output", []string{"drill", "list", "-o", "yaml"}, 2, "the only output format is json"},
		{"status without a drill", []string{"drill", "status"}, 1, "no drill is on: start one with kubetutor drill start ID"},
		{"hint without a drill", []string{"drill", "hint"}, 1, "no drill is on"},
		{"restore never started", []string{"drill", "restore", "kubelet-stopped"}, 1, "drill kubelet-stopped was never started"},
		{"start on an empty machine", []string{"drill", "start", "kubelet-stopped", "--timeout", "1s"}, 1, "needs a cluster that passes the kubelet step"},
		{"reset", []string{"drill", "reset"}, 0, "Forgot every drill"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r := execute(t, dir, t.TempDir(), "", tc.args...)
			if r.code != tc.code || !strings.Contains(r.out+r.errOut, tc.want) {
				t.Fatalf("exit %d (want %d), want %q in:\n%s%s", r.code, tc.code, tc.want, r.out, r.errOut)
			}
		})
	}
}

// TestDrillListJSON: -o json is [{"id","title","after","checks"}], every
// drill, nothing else.
func TestDrillListJSON(t *testing.T) {
	r := execute(t, t.TempDir(), t.TempDir(), "", "drill", "list", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.errOut)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(r.out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(drills.IDs()) {
		t.Fatalf("%d drills listed, want %d", len(got), len(drills.IDs()))
	}
	for _, d := range got {
		if len(d) != 4 || d["id"] == "" || d["title"] == "" || d["after"] == "" || len(d["checks"].([]any)) == 0 {
			t.Fatalf("entry %v: want exactly id, title, after, checks", d)
		}
	}
}

// TestWalkthroughPractise: once every step is done or skipped, the
// walkthrough offers drills; a drill the cluster is not ready for is
// refused with its reason and the menu comes back.
func TestWalkthroughPractise(t *testing.T) {
	wd, state := t.TempDir(), t.TempDir()
	p := lessons.NewProgress()
	for _, id := range steps.IDs() {
		p.Mark(id, lessons.Skipped, time.Now())
	}
	if err := lessons.NewStore(state).Save(p); err != nil {
		t.Fatal(err)
	}
	r := execute(t, wd, state, "1\n1\n2\n", "start", "--timeout", "1s")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	first := drills.All()[0]
	for _, want := range []string{
		"Every step is done or skipped",
		"Practise: a drill breaks your cluster",
		"1. Start a drill",
		"Which drill?",
		first.ID + ": " + first.Title,
		"drill " + first.ID + " needs a cluster that passes the " + first.After + " step",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Count(r.out, "Practise: a drill breaks your cluster") != 2 {
		t.Errorf("the menu does not come back after the refusal:\n%s", r.out)
	}
}
