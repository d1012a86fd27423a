package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/iostreams"
	"github.com/kubetutor/kubetutor/internal/room"
)

// nowhereEnv is an Env that finds nothing of a cluster: no programs, an
// empty host, every address refused. The drill commands run against it
// without touching this machine's cluster. Its host is a directory of the
// work dir that need not exist.
func nowhereEnv(wd string) func() (*checks.Env, error) {
	host := filepath.Join(wd, "nowhere")
	refused := errors.New("nowhere: refused")
	return func() (*checks.Env, error) {
		env := checks.NewEnv(wd)
		env.PathEnv = filepath.Join(host, "bin")
		env.HostRoot = host
		env.HomeDir = host
		env.Getenv = func(string) string { return "" }
		env.Kubeconfig = filepath.Join(host, "no-kubeconfig")
		env.ContainerdAddress = filepath.Join(host, "containerd.sock")
		env.APIServerURL = "https://127.0.0.1:1"
		env.EtcdURL = "http://127.0.0.1:1"
		env.KubeletURL = "https://127.0.0.1:1"
		env.CNIConfDir = filepath.Join(host, "cni")
		env.CNIBinDirs = []string{filepath.Join(host, "cni-bin")}
		env.Hostname = "nowhere"
		env.Timeout = time.Second
		for _, c := range course.Components() {
			env.SetHealthz(c.Name, "http://127.0.0.1:1/healthz")
		}
		env.Dial = func(context.Context, string, string) (net.Conn, error) { return nil, refused }
		env.Exec = func(context.Context, string, string, string, []string, io.Writer, io.Writer) error { return refused }
		env.KubeletGet = func(context.Context, string) ([]byte, error) { return nil, refused }
		return env, nil
	}
}

// drillRun runs kubetutor in-process against nowhereEnv(wd), at now.
func drillRun(t *testing.T, wd, state string, now time.Time, args ...string) run {
	t.Helper()
	ios, out, errOut := iostreams.Test("")
	f := &Factory{IO: ios, Now: func() time.Time { return now }, NewEnv: nowhereEnv(wd)}
	code := Execute(context.Background(), f, append([]string{"--workdir", wd, "--state-dir", state}, args...))
	return run{code: code, out: out.String(), errOut: errOut.String(), state: state}
}

// writeDrills writes the work dir's drills state: kubeconfig-port on since
// 90 s before now, node-tainted solved in 4 min; and what kubeconfig-port's
// start saved, an edit of a file in the work dir.
func writeDrills(t *testing.T, wd string, now time.Time) string {
	t.Helper()
	dir := filepath.Join(wd, "drills")
	saved := filepath.Join(dir, "kubeconfig-port")
	if err := os.MkdirAll(saved, 0o700); err != nil {
		t.Fatal(err)
	}
	state := `{"active":"kubeconfig-port","drills":{` +
		`"kubeconfig-port":{"started":"` + now.Add(-90*time.Second).Format(time.RFC3339) + `"},` +
		`"node-tainted":{"started":"` + now.Add(-time.Hour).Format(time.RFC3339) + `","solved":"` + now.Add(-56*time.Minute).Format(time.RFC3339) + `"}}}`
	edited := filepath.Join(wd, "admin.conf")
	for path, data := range map[string]string{
		filepath.Join(dir, "state.json"):   state,
		filepath.Join(saved, "fault.json"): `{"path":` + mustQuote(edited) + `,"mode":384}`,
		filepath.Join(saved, "original"):   "server: https://127.0.0.1:6443\n",
		edited:                             "server: https://127.0.0.1:6433\n",
	} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return edited
}

func mustQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// roomView reads the room's view as the instructor.
func roomView(t *testing.T, base string) room.View {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/view", nil)
	req.Header.Set("Authorization", "Bearer "+testInstructorToken)
	resp, err := insecureClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v room.View
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// learnerDrill is the drill the room shows on the learner's row.
func learnerDrill(t *testing.T, base, name string) *room.ViewLearnerDrill {
	t.Helper()
	for _, l := range roomView(t, base).Learners {
		if l.Name == name {
			return l.Drill
		}
	}
	t.Fatalf("%s is not in the room", name)
	return nil
}

// TestDrillReportsToTheRoom: drill status and restore tell the joined
// room which drill the learner is on, solved or not, and the time to fix,
// without printing anything of the room; a learner in no room gets the
// same output.
func TestDrillReportsToTheRoom(t *testing.T) {
	rs := startRoom(t, freeAddr(t), "--instructor-token", testInstructorToken, "--join-token", testJoinToken)
	now := time.Now()
	wd, state := t.TempDir(), t.TempDir()
	writeDrills(t, wd, now)
	alone := drillRun(t, wd, t.TempDir(), now, "drill", "status", "node-tainted")
	if r := drillRun(t, wd, state, now, "room", "join", rs.url+"/?token="+testJoinToken, "--name", "Ada"); r.code != 0 {
		t.Fatalf("join: %d %s", r.code, r.errOut)
	}
	if d := learnerDrill(t, rs.url, "Ada"); d != nil {
		t.Fatalf("a drill before any drill command: %+v", d)
	}

	// A drill solved before: graded again (the offline cluster fails), the
	// room hears it solved, with its time to fix.
	r := drillRun(t, wd, state, now, "drill", "status", "node-tainted")
	if r.code != alone.code || r.out != alone.out || r.errOut != alone.errOut {
		t.Fatalf("in a room, drill status printed\n%s%s(exit %d)\nalone:\n%s%s(exit %d)", r.out, r.errOut, r.code, alone.out, alone.errOut, alone.code)
	}
	d := learnerDrill(t, rs.url, "Ada")
	if d == nil || d.ID != "node-tainted" || d.State != room.DrillSolved || d.FixSeconds != 240 {
		t.Fatalf("after status node-tainted the room shows %+v", d)
	}

	// The drill on: not solved (exit 1), the room hears it on since 90 s.
	if r := drillRun(t, wd, state, now, "drill", "status"); r.code != 1 || !strings.Contains(r.out, "Not solved yet") {
		t.Fatalf("status: %d %s %s", r.code, r.out, r.errOut)
	}
	d = learnerDrill(t, rs.url, "Ada")
	if d == nil || d.ID != "kubeconfig-port" || d.State != room.DrillOn {
		t.Fatalf("after status the room shows %+v", d)
	}
	if ago := time.Since(d.Started); ago < 85*time.Second || ago > 2*time.Minute {
		t.Fatalf("the drill started %s ago, by the room's clock; want about 90 s", ago)
	}

	// Restore: the room hears it restored.
	if r := drillRun(t, wd, state, now.Add(time.Minute), "drill", "restore"); r.code != 0 || !strings.Contains(r.out, "Put ") {
		t.Fatalf("restore: %d %s %s", r.code, r.out, r.errOut)
	}
	if d := learnerDrill(t, rs.url, "Ada"); d == nil || d.ID != "kubeconfig-port" || d.State != room.DrillRestored {
		t.Fatalf("after restore the room shows %+v", d)
	}
	v := roomView(t, rs.url)
	if len(v.Drills) != 1 || v.Drills[0].ID != "kubeconfig-port" || len(v.Drills[0].Restored) != 1 {
		t.Fatalf("the room's drills: %+v", v.Drills)
	}

	// With the room gone, drill status prints and exits as alone, at once.
	rs.stop()
	start := time.Now()
	r = drillRun(t, wd, state, now, "drill", "status", "node-tainted")
	if r.code != alone.code || r.out != alone.out || r.errOut != alone.errOut {
		t.Fatalf("with the room gone, drill status printed\n%s%s(exit %d)", r.out, r.errOut, r.code)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a gone room held drill status for %s", took)
	}
}

// TestDrillResetReportsRestored: reset undoes the drill on, and the room
// hears it restored.
func TestDrillResetReportsRestored(t *testing.T) {
	rs := startRoom(t, freeAddr(t), "--instructor-token", testInstructorToken, "--join-token", testJoinToken)
	now := time.Now()
	wd, state := t.TempDir(), t.TempDir()
	edited := writeDrills(t, wd, now)
	if r := drillRun(t, wd, state, now, "room", "join", rs.url+"/?token="+testJoinToken, "--name", "Bob"); r.code != 0 {
		t.Fatalf("join: %d %s", r.code, r.errOut)
	}
	if r := drillRun(t, wd, state, now, "drill", "reset"); r.code != 0 {
		t.Fatalf("reset: %d %s %s", r.code, r.out, r.errOut)
	}
	if data, _ := os.ReadFile(edited); string(data) != "server: https://127.0.0.1:6443\n" {
		t.Fatalf("reset did not put the file back: %q", data)
	}
	if d := learnerDrill(t, rs.url, "Bob"); d == nil || d.ID != "kubeconfig-port" || d.State != room.DrillRestored {
		t.Fatalf("after reset the room shows %+v", d)
	}
}

// TestDrillStartFromRoom: drill start --from-room asks the joined room
// which drill it announces and starts that one, as drill start ID would
// (here it refuses: the offline cluster passes no step, and nothing is
// changed nor sent); without a room, an announcement or with an ID too,
// it says why.
func TestDrillStartFromRoom(t *testing.T) {
	rs := startRoom(t, freeAddr(t), "--instructor-token", testInstructorToken, "--join-token", testJoinToken)
	now := time.Now()
	wd, state := t.TempDir(), t.TempDir()

	r := drillRun(t, wd, state, now, "drill", "start", "--from-room")
	if r.code != 2 || !strings.Contains(r.errOut, "you are in no room") {
		t.Fatalf("--from-room in no room: %d %s", r.code, r.errOut)
	}
	if r := drillRun(t, wd, state, now, "room", "join", rs.url+"/?token="+testJoinToken, "--name", "Ada"); r.code != 0 {
		t.Fatalf("join: %d %s", r.code, r.errOut)
	}
	r = drillRun(t, wd, state, now, "drill", "start", "--from-room")
	if r.code != 1 || !strings.Contains(r.errOut, "announces no drill yet") {
		t.Fatalf("--from-room with nothing announced: %d %s", r.code, r.errOut)
	}
	announce(t, rs.url, `{"drill":"kubeconfig-port"}`)
	r = drillRun(t, wd, state, now, "drill", "start", "--from-room")
	if !strings.Contains(r.out, "The room announces drill kubeconfig-port: The kubeconfig points at the wrong port.") {
		t.Fatalf("--from-room did not say which drill: %s", r.out)
	}
	if r.code != 1 || !strings.Contains(r.errOut, "drill kubeconfig-port needs a cluster that passes the apiserver step; no step passes yet") {
		t.Fatalf("--from-room on an offline cluster: %d %s %s", r.code, r.out, r.errOut)
	}
	if _, err := os.Stat(filepath.Join(wd, "drills")); !os.IsNotExist(err) {
		t.Fatalf("a refused start left the drills' directory: %v", err)
	}
	if d := learnerDrill(t, rs.url, "Ada"); d != nil {
		t.Fatalf("a refused start reached the room: %+v", d)
	}
	for _, args := range [][]string{
		{"drill", "start", "kubeconfig-port", "--from-room"},
		{"drill", "start"},
	} {
		if r := drillRun(t, wd, state, now, args...); r.code != 2 {
			t.Errorf("%v: %d %s", args, r.code, r.errOut)
		}
	}
}

func announce(t *testing.T, base, body string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/announce", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testInstructorToken)
	resp, err := insecureClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("announce %s: %d", body, resp.StatusCode)
	}
}

// TestRoomServeAnnounce: room serve --announce announces a known drill and
// says how learners start it; an unknown one is a usage error.
func TestRoomServeAnnounce(t *testing.T) {
	rs := startRoom(t, freeAddr(t), "--instructor-token", testInstructorToken, "--announce", "etcd-frozen")
	if v := roomView(t, rs.url); v.Announced != "etcd-frozen" || len(v.Drills) != 1 || !v.Drills[0].Announced {
		t.Fatalf("announced %q, drills %+v", v.Announced, v.Drills)
	}
	rs.stop()
	if !strings.Contains(rs.out.String(), "Drill announced: etcd-frozen (etcd is frozen). Learners start it with: kubetutor drill start --from-room") {
		t.Fatalf("room serve printed:\n%s", rs.out)
	}
	r := execute(t, t.TempDir(), t.TempDir(), "", "room", "serve", "--addr", freeAddr(t), "--announce", "rm -rf /")
	if r.code != 2 || !strings.Contains(r.errOut, `--announce: unknown drill "rm -rf /"`) {
		t.Fatalf("--announce of an unknown drill: %d %s", r.code, r.errOut)
	}
}
