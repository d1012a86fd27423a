package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kubetutor/kubetutor/drills"
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
