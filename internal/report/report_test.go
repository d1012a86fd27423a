package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/internal/golden"
	"github.com/kubetutor/kubetutor/steps"
)

// located builds the report of a cluster that passes the first n steps and
// fails step n+1 with the given check result.
func located(n int, failing checks.Result) steps.Report {
	var rep steps.Report
	for i, s := range steps.All() {
		r := steps.Result{ID: s.ID, Title: s.Title, Index: i, Status: steps.Skip, Checks: []checks.Result{}}
		switch {
		case i < n:
			r.Status = steps.Pass
			r.Checks = []checks.Result{{Name: s.Checks[0].Name(), Status: checks.Pass, Message: "fine.", Details: []string{"version v1.37.2"}}}
		case i == n:
			r.Status = steps.Fail
			r.Checks = []checks.Result{failing}
		}
		rep.Steps = append(rep.Steps, r)
		if i < n {
			rep.Current = s.ID
		}
	}
	return rep
}

var schedulerFails = checks.Result{
	Name: "pods-scheduled-or-attempted", Status: checks.Fail,
	Message:  "Pod nginx-7c5ddbdf54-abcde is Pending and no scheduler has looked at it.",
	Observed: "pod unscheduled, untouched", Expected: "a node assigned, or FailedScheduling",
	Hint: "start kube-scheduler: kube-scheduler --kubeconfig=admin.conf",
}

func TestTextGolden(t *testing.T) {
	cases := []struct {
		name string
		rep  steps.Report
		opts Options
	}{
		{"located-at-controller-manager", located(6, schedulerFails), Options{Located: true}},
		{"located-at-start", located(0, checks.Result{Name: "binary-kubelet", Status: checks.Fail, Message: "kubelet is not in bin nor on PATH.", Hint: "download it"}), Options{Located: true}},
		{"located-complete", located(len(steps.IDs()), checks.Result{}), Options{Located: true}},
		{"one-step-error", func() steps.Report {
			rep := located(3, checks.Result{Name: "deployment-exists", Status: checks.Error, Message: "could not run check deployment-exists: boom"})
			return rep
		}(), Options{}},
		{"verbose", located(2, schedulerFails), Options{Verbose: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Text(&b, tc.rep, tc.opts); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(b.String(), "\x1b[") {
				t.Errorf("uncolored output has escapes")
			}
			golden.Assert(t, filepath.Join("testdata", tc.name+".txt"), b.String())
		})
	}
}

func TestColor(t *testing.T) {
	var b bytes.Buffer
	if err := Text(&b, located(6, schedulerFails), Options{Located: true, Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), red+"✗"+reset) || !strings.Contains(b.String(), green+"✓"+reset) {
		t.Errorf("colored output lacks colored marks:\n%q", b.String())
	}
}

func TestWhere(t *testing.T) {
	cases := []struct {
		rep  steps.Report
		want string
	}{
		{located(6, schedulerFails), fmt.Sprintf("at step 6 of %d: controller-manager passes; next: start kube-scheduler", len(steps.IDs()))},
		{located(0, schedulerFails), "at the start: no step passes yet; next: put the Kubernetes binaries, etcd and kubectl in bin/"},
		{located(len(steps.IDs()), checks.Result{}), fmt.Sprintf("all %d steps pass: the cluster is complete", len(steps.IDs()))},
	}
	for _, tc := range cases {
		if got := Where(tc.rep); got != tc.want {
			t.Errorf("Where = %q, want %q", got, tc.want)
		}
	}
}

func TestJSONShape(t *testing.T) {
	var b bytes.Buffer
	if err := JSON(&b, located(6, schedulerFails)); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Current string `json:"current"`
		Steps   []struct {
			ID     string `json:"id"`
			Title  string `json:"title"`
			Status string `json:"status"`
			Checks []struct {
				Name, Status, Message, Hint string
			} `json:"checks"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Current != "controller-manager" || len(got.Steps) != len(steps.IDs()) {
		t.Fatalf("current %q, %d steps", got.Current, len(got.Steps))
	}
	s := got.Steps[6]
	if s.ID != "scheduler" || s.Status != "fail" || s.Checks[0].Name != "pods-scheduled-or-attempted" || s.Checks[0].Hint == "" {
		t.Errorf("scheduler step: %+v", s)
	}
	if got.Steps[7].Status != "skip" || got.Steps[7].Checks == nil {
		t.Errorf("unevaluated step: %+v (want status skip and an empty checks list)", got.Steps[7])
	}
	golden.Assert(t, filepath.Join("testdata", "located-at-controller-manager.json"), b.String())
}
