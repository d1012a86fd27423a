package room

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/drills"
	"github.com/kubetutor/kubetutor/steps"
)

func TestBuildView(t *testing.T) {
	s, _ := OpenStore("")
	add := func(name string, r *Report, at time.Time) {
		id, sec, err := s.Join(name, "", "", t0)
		if err != nil {
			t.Fatal(err)
		}
		if r != nil {
			if err := s.Report(id, sec, *r, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	cni := rep(9, "node-ready", "node NotReady — cni plugin not initialized")
	etcd := rep(2, "etcd-health", "connection refused")
	done := rep(len(steps.IDs()), "", "")
	for _, n := range []string{"n1", "n2", "n3"} {
		add(n, &cni, t0.Add(time.Minute))
	}
	add("e1", &etcd, t0.Add(20*time.Minute))
	add("e2", &etcd, t0.Add(20*time.Minute))
	other := rep(2, "etcd-health", "certificate signed by unknown authority")
	add("e3", &other, t0.Add(20*time.Minute))
	add("d1", &done, t0.Add(time.Minute))
	add("quiet", nil, t0)

	v := BuildView(s.Learners(), t0.Add(25*time.Minute), 10*time.Minute)
	if len(v.Learners) != 8 || v.Done != 1 {
		t.Fatalf("%d learners, %d done", len(v.Learners), v.Done)
	}
	at := map[string]int{}
	for _, st := range v.Steps {
		at[st.ID] = st.At
	}
	if at["cni"] != 3 || at["etcd"] != 3 || at["tools"] != 1 || at["certs"] != 0 {
		t.Fatalf("summary %v", at)
	}
	// The 3 on cni (24 min) and the one who never checked (25 min) are
	// stuck; etcd (5 min) and done are not.
	if v.Stuck != 4 {
		t.Fatalf("stuck %d", v.Stuck)
	}
	for _, l := range v.Learners {
		wantStuck := strings.HasPrefix(l.Name, "n") || l.Name == "quiet"
		if l.Stuck != wantStuck {
			t.Errorf("%s stuck=%v", l.Name, l.Stuck)
		}
	}
	// Same step and check, one group; the most common message shows.
	if len(v.Groups) != 2 {
		t.Fatalf("groups %+v", v.Groups)
	}
	// Equal groups go in course order.
	g := v.Groups[1]
	if g.Step != "cni" || g.Check != "node-ready" || strings.Join(g.Names, ",") != "n1,n2,n3" || g.Variants != 0 {
		t.Fatalf("first group %+v", g)
	}
	if g := v.Groups[0]; g.Step != "etcd" || g.Message != "connection refused" || strings.Join(g.Names, ",") != "e1,e2,e3" || g.Variants != 1 {
		t.Fatalf("second group %+v", g)
	}
}

func TestAPILearnersShape(t *testing.T) {
	s, _ := OpenStore("")
	id, sec, _ := s.Join("Ada", "", "", t0)
	_, _, _ = s.Join("Bob", "", "", t0)
	if err := s.Report(id, sec, rep(1, "cert-files", "ca.crt is missing"), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(APILearners(s.Learners()))
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]json.RawMessage
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatal(string(data))
	}
	for _, l := range got {
		if len(l) != 5 {
			t.Errorf("keys %v, want name current steps failing updated", l)
		}
		for _, k := range []string{"name", "current", "steps", "failing", "updated"} {
			if _, ok := l[k]; !ok {
				t.Errorf("no %q in %s", k, data)
			}
		}
	}
	want := `{"name":"Ada","current":"tools","steps":[{"id":"tools","status":"pass"},{"id":"certs","status":"fail"}`
	if !strings.HasPrefix(string(data), "["+want) {
		t.Errorf("got %s", data)
	}
	if !strings.Contains(string(data), `"failing":{"step":"certs","check":"cert-files","message":"ca.crt is missing"},"updated":"2026-12-01T09:01:00Z"`) {
		t.Errorf("got %s", data)
	}
	if !strings.Contains(string(data), `{"name":"Bob","current":"","steps":[{"id":"tools","status":"skip"}`) ||
		!strings.HasSuffix(string(data), `"failing":null,"updated":null}]`) {
		t.Errorf("got %s", data)
	}
}

func TestFromReport(t *testing.T) {
	in := steps.Report{Current: "tools"}
	for i, s := range steps.All() {
		r := steps.Result{ID: s.ID, Title: s.Title, Index: i, Status: steps.Skip}
		switch i {
		case 0:
			r.Status = steps.Pass
		case 1:
			r.Status = steps.Fail
		}
		in.Steps = append(in.Steps, r)
	}
	in.Steps[1].Checks = append(in.Steps[1].Checks,
		checkResult("cert-files", "pass", "ok", ""),
		checkResult("cert-key", "fail", strings.Repeat("é", 3000), "run openssl"),
		checkResult("cert-san", "fail", "second", ""))
	out := FromReport(in, true)
	if !out.Full || len(out.Steps) != len(steps.IDs()) {
		t.Fatalf("%+v", out)
	}
	c := out.Steps[1]
	if c.Check != "cert-key" || c.Hint != "run openssl" || len([]rune(c.Message)) != MaxTextRunes || !strings.HasSuffix(c.Message, "…") {
		t.Fatalf("%+v", c)
	}
	if out.Steps[0].Check != "" || out.Steps[0].Status != steps.Pass {
		t.Fatalf("%+v", out.Steps[0])
	}
	if err := out.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestBuildViewDrills: learners are grouped by their last drill and its
// state, the drills with most learners first; those on it longest first,
// the fastest fix first; the announced drill comes first, even with nobody
// on it.
func TestBuildViewDrills(t *testing.T) {
	s, _ := OpenStore("")
	drill := func(name, id string, state DrillState, secs, fix int64) {
		lid, sec, err := s.Join(name, "", "", t0)
		if err != nil {
			t.Fatal(err)
		}
		if id == "" {
			return
		}
		if err := s.Report(lid, sec, Report{Drill: &DrillReport{ID: id, State: state, Seconds: secs, FixSeconds: fix}}, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	drill("on-short", "node-tainted", DrillOn, 60, 0)
	drill("on-long", "node-tainted", DrillOn, 600, 0)
	drill("slow", "node-tainted", DrillSolved, 900, 800)
	drill("fast", "node-tainted", DrillSolved, 900, 120)
	drill("quit", "node-tainted", DrillRestored, 900, 0)
	drill("alone", "kubelet-stopped", DrillOn, 30, 0)
	drill("also-alone", "coredns-scaled-down", DrillSolved, 30, 20)
	drill("no-drill", "", "", 0, 0)

	names := func(ls []ViewDrillLearner) string {
		var out []string
		for _, l := range ls {
			out = append(out, l.Name)
		}
		return strings.Join(out, ",")
	}
	ids := func(v View) string {
		var out []string
		for _, d := range v.Drills {
			out = append(out, d.ID)
		}
		return strings.Join(out, ",")
	}
	v := BuildView(s.Learners(), t0.Add(2*time.Hour), 10*time.Minute)
	if got := ids(v); got != "node-tainted,coredns-scaled-down,kubelet-stopped" {
		t.Fatalf("drills %s", got)
	}
	g := v.Drills[0]
	if g.Title != "The node has a NoExecute taint" || g.Announced {
		t.Fatalf("group %+v", g)
	}
	if names(g.On) != "on-long,on-short" || names(g.Solved) != "fast,slow" || names(g.Restored) != "quit" {
		t.Fatalf("on %s, solved %s, restored %s", names(g.On), names(g.Solved), names(g.Restored))
	}
	if g.Solved[0].FixSeconds != 120 || !g.On[0].Started.Equal(t0.Add(50*time.Minute)) {
		t.Fatalf("times: solved %+v, on %+v", g.Solved[0], g.On[0])
	}
	for _, l := range v.Learners {
		if (l.Drill == nil) != (l.Name == "no-drill") {
			t.Errorf("%s's drill: %+v", l.Name, l.Drill)
		}
	}
	if len(v.Catalog) != len(drills.IDs()) || v.Catalog[0].Title == "" {
		t.Fatalf("catalog %+v", v.Catalog)
	}

	// The announced drill comes first, with or without learners.
	a := v.WithAnnounced("kubelet-stopped")
	if got := ids(a); got != "kubelet-stopped,node-tainted,coredns-scaled-down" || !a.Drills[0].Announced || a.Drills[1].Announced || names(a.Drills[0].On) != "alone" {
		t.Fatalf("announced kubelet-stopped: %s %+v", got, a.Drills[0])
	}
	a = v.WithAnnounced("etcd-frozen")
	if got := ids(a); got != "etcd-frozen,node-tainted,coredns-scaled-down,kubelet-stopped" || a.Announced != "etcd-frozen" {
		t.Fatalf("announced etcd-frozen: %s", got)
	}
	if e := a.Drills[0]; e.Title != "etcd is frozen" || e.On == nil || e.Solved == nil || e.Restored == nil || e.count() != 0 {
		t.Fatalf("an announced drill nobody is on: %+v", e)
	}
	if ids(v) != "node-tainted,coredns-scaled-down,kubelet-stopped" || ids(v.WithAnnounced("")) != ids(v) {
		t.Fatal("WithAnnounced changed the view it was given")
	}
	// No drill at all: an empty list, not null.
	if data, _ := json.Marshal(BuildView(nil, t0, 0)); !strings.Contains(string(data), `"drills":[]`) {
		t.Fatalf("%s", data)
	}
}
