package steps_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/steps"
)

// TestDoctorHintsNameTheLessonsCommands: a doctor warning whose setting a
// lesson's commands write points at those commands (kubetutor show STEP
// --commands), and that step's commands do write it; no hint sends the
// learner to the demo for it (issue 19: "(kubetutor demo does it)").
func TestDoctorHintsNameTheLessonsCommands(t *testing.T) {
	show := regexp.MustCompile(`kubetutor show (\S+) --commands`)
	for _, tc := range []struct {
		check   checks.Checker
		host    map[string]string // files under the fake host root
		step    string            // the step whose commands write setting
		setting string
	}{
		{checks.SwapOff{}, map[string]string{"proc/swaps": "Filename Type Size Used Priority\n/swapfile file 1024 0 -2\n"}, "kubelet", "failSwapOn: false"},
		{checks.CgroupVersion{}, map[string]string{"sys/fs/cgroup/memory/tasks": ""}, "kubelet", "failCgroupV1: false"},
		{checks.OOMScoreAdj{CanLower: func() bool { return false }}, nil, "containerd", "restrict_oom_score_adj = true"},
		{checks.CNIPluginsInstalled{}, nil, "cni", "tar -xz -C /opt/cni/bin"},
	} {
		t.Run(tc.check.Name(), func(t *testing.T) {
			env := checks.NewEnv(t.TempDir())
			env.HostRoot = t.TempDir()
			for name, data := range tc.host {
				p := filepath.Join(env.HostRoot, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r := checks.Run(context.Background(), env, tc.check)
			if r.Status == checks.Pass {
				t.Fatalf("passes on the fake host: %s", r.Message)
			}
			if strings.Contains(r.Hint, "demo") {
				t.Errorf("the hint sends the learner to the demo: %s", r.Hint)
			}
			m := show.FindStringSubmatch(r.Hint)
			if m == nil || m[1] != tc.step {
				t.Fatalf("hint %q does not name kubetutor show %s --commands", r.Hint, tc.step)
			}
			s, _, err := steps.Lookup(m[1])
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			for _, b := range s.Commands {
				text.WriteString(b.Text)
			}
			if !strings.Contains(text.String(), tc.setting) {
				t.Errorf("the hint names step %s's commands, which do not contain %q", m[1], tc.setting)
			}
		})
	}
}
