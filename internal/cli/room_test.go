package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/internal/iostreams"
	"github.com/kubetutor/kubetutor/internal/room"
	"github.com/kubetutor/kubetutor/steps"
)

const (
	testInstructorToken = "instructor-token-for-tests"
	testJoinToken       = "join-token-for-tests"
)

// insecureClient reads the test's own rooms, TLS ones included (the
// learners' side pins the certificate; the test reads the API).
var insecureClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

// roomServer is `kubetutor room serve` running in-process.
type roomServer struct {
	url    string
	cancel context.CancelFunc
	done   chan struct{}
	code   int
	out    *strings.Builder
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func startRoom(t *testing.T, addr string, args ...string) *roomServer {
	t.Helper()
	scheme := "http"
	if slices.Contains(args, "--tls") {
		scheme = "https"
	}
	ios, out, errOut := iostreams.Test("")
	f := &Factory{IO: ios, Now: time.Now}
	ctx, cancel := context.WithCancel(context.Background())
	rs := &roomServer{url: scheme + "://" + addr, cancel: cancel, done: make(chan struct{}), out: &strings.Builder{}}
	go func() {
		defer close(rs.done)
		rs.code = Execute(ctx, f, append([]string{"room", "serve", "--addr", addr}, args...))
		rs.out.WriteString(out.String() + errOut.String())
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := insecureClient.Get(rs.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case <-rs.done:
			t.Fatalf("room serve ended (%d): %s", rs.code, rs.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("room serve did not answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(rs.stop)
	return rs
}

func (rs *roomServer) stop() {
	rs.cancel()
	<-rs.done
}

func apiLearners(t *testing.T, base, token string) (int, []room.APILearner) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/learners", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := insecureClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var ls []room.APILearner
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(body, &ls); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
	}
	return resp.StatusCode, ls
}

// learnerKind lays out a work dir so that `check` stands somewhere
// different: nothing, the tools, the tools and the certificates, a broken
// tool, a missing tool.
type learnerKind int

func layOut(t *testing.T, kind learnerKind, wd, certs string) {
	t.Helper()
	switch kind {
	case 0:
	case 1:
		fakeTools(t, wd)
	case 2:
		fakeTools(t, wd)
		if err := os.CopyFS(filepath.Join(wd, "certs"), os.DirFS(certs)); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(wd, "certs", "admin.conf"), filepath.Join(wd, "admin.conf")); err != nil {
			t.Fatal(err)
		}
	case 3:
		fakeTools(t, wd)
		if err := os.WriteFile(filepath.Join(wd, "bin", "kube-scheduler"), []byte("#!/bin/sh\necho broken >&2\nexit 3\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	case 4:
		fakeTools(t, wd)
		if err := os.Remove(filepath.Join(wd, "bin", "kubelet")); err != nil {
			t.Fatal(err)
		}
	}
}

type ownReport struct {
	Current string `json:"current"`
	Steps   []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Checks []struct {
			Name    string `json:"name"`
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"checks"`
	} `json:"steps"`
}

// TestRoomThirtyLearners: 30 learners with separate state dirs join a room
// served by `kubetutor room serve`; each runs `check -o json`, whose output
// and exit status are those of a learner in no room; the API then shows
// each learner's own current step, statuses and first failing check. A
// restart with --data has the room back, tokens included.
func TestRoomThirtyLearners(t *testing.T) {
	addr := freeAddr(t)
	data := filepath.Join(t.TempDir(), "room")
	rs := startRoom(t, addr, "--instructor-token", testInstructorToken, "--join-token", testJoinToken, "--data", data)
	joinURL := rs.url + "/?token=" + testJoinToken

	// One set of certificates for the learners of kind 2 (RSA keys are slow).
	certsWD := t.TempDir()
	if r := execute(t, certsWD, t.TempDir(), "", "certs", "init"); r.code != 0 {
		t.Fatalf("certs init: %s", r.errOut)
	}
	certs := filepath.Join(certsWD, "certs")
	if err := os.Rename(filepath.Join(certsWD, "admin.conf"), filepath.Join(certs, "admin.conf")); err != nil {
		t.Fatal(err)
	}

	type learner struct {
		name, wd, state string
		own             ownReport
	}
	var learners []*learner
	for i := range 30 {
		name := fmt.Sprintf("learner %02d", i)
		if i == 7 {
			name = `<img src=x onerror=alert(1)>`
		}
		l := &learner{name: name, wd: t.TempDir(), state: t.TempDir()}
		layOut(t, learnerKind(i%5), l.wd, certs)
		learners = append(learners, l)
	}
	kinds := map[string]bool{}
	for i, l := range learners {
		alone := execute(t, l.wd, l.state, "", "check", "-o", "json")
		if r := execute(t, l.wd, l.state, "", "room", "join", joinURL, "--name", l.name); r.code != 0 {
			t.Fatalf("join %s: %d %s", l.name, r.code, r.errOut)
		}
		fi, err := os.Stat(filepath.Join(l.state, room.StateFile))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("room file: %v %v", fi, err)
		}
		r := execute(t, l.wd, l.state, "", "check", "-o", "json")
		if r.code != alone.code || r.out != alone.out || r.errOut != alone.errOut {
			t.Fatalf("learner %d: in a room, check printed\n%s%s(exit %d)\nalone:\n%s%s(exit %d)", i, r.out, r.errOut, r.code, alone.out, alone.errOut, alone.code)
		}
		if err := json.Unmarshal([]byte(r.out), &l.own); err != nil {
			t.Fatalf("learner %d: %v\n%s", i, err, r.out)
		}
		kinds[l.own.Current] = true
	}
	t.Logf("currents: %v", kinds)
	if len(kinds) < 3 {
		t.Fatalf("the learners should stand at different steps; currents: %v", kinds)
	}

	compare := func(base string) {
		t.Helper()
		code, ls := apiLearners(t, base, testInstructorToken)
		if code != 200 || len(ls) != len(learners) {
			t.Fatalf("api: %d, %d learners", code, len(ls))
		}
		byName := map[string]room.APILearner{}
		for _, a := range ls {
			byName[a.Name] = a
		}
		for _, l := range learners {
			a, ok := byName[l.name]
			if !ok {
				t.Fatalf("%q is not in the API", l.name)
			}
			if a.Current != l.own.Current {
				t.Errorf("%s: the room says current %q, the learner's check says %q", l.name, a.Current, l.own.Current)
			}
			if len(a.Steps) != len(l.own.Steps) || a.Updated == nil {
				t.Fatalf("%s: %+v", l.name, a)
			}
			var firstFail *room.APIFailing
			for i, s := range l.own.Steps {
				if a.Steps[i].ID != s.ID || string(a.Steps[i].Status) != s.Status {
					t.Errorf("%s step %s: room %s, own %s", l.name, s.ID, a.Steps[i].Status, s.Status)
				}
				if s.Status == "fail" && firstFail == nil {
					for _, c := range s.Checks {
						if c.Status != "pass" && c.Status != "warn" {
							firstFail = &room.APIFailing{Step: s.ID, Check: c.Name, Message: c.Message}
							break
						}
					}
				}
			}
			if (firstFail == nil) != (a.Failing == nil) || (firstFail != nil && *firstFail != *a.Failing) {
				t.Errorf("%s: failing %+v, own %+v", l.name, a.Failing, firstFail)
			}
		}
	}
	compare(rs.url)

	// Restart on the same data without token flags: same room, same tokens.
	rs.stop()
	if rs.code != 130 && rs.code != 0 {
		t.Fatalf("room serve ended with %d: %s", rs.code, rs.out)
	}
	// With the room gone, a check is unchanged.
	l0 := learners[1]
	gone := execute(t, l0.wd, l0.state, "", "check", "-o", "json")
	if gone.code != 1 || gone.errOut != "" || !strings.Contains(gone.out, `"current": "tools"`) {
		t.Fatalf("check with the room gone: %d %s %s", gone.code, gone.out, gone.errOut)
	}
	rs2 := startRoom(t, addr, "--data", data)
	compare(rs2.url)
	// Old secrets still work: learner 1 gets the certificates and advances.
	layOut(t, 2, t.TempDir(), certs)
	if err := os.CopyFS(filepath.Join(l0.wd, "certs"), os.DirFS(certs)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(l0.wd, "certs", "admin.conf"), filepath.Join(l0.wd, "admin.conf")); err != nil {
		t.Fatal(err)
	}
	r := execute(t, l0.wd, l0.state, "", "check", "certs", "-o", "json")
	if r.code != 0 {
		t.Fatalf("check certs: %d %s %s", r.code, r.out, r.errOut)
	}
	_, ls := apiLearners(t, rs2.url, testInstructorToken)
	for _, a := range ls {
		if a.Name == l0.name && a.Current != "certs" {
			t.Fatalf("after check certs the room says %q", a.Current)
		}
	}
	// Leaving stops the reports.
	if r := execute(t, l0.wd, l0.state, "", "room", "leave"); r.code != 0 || !strings.Contains(r.out, "Left the room") {
		t.Fatalf("leave: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(l0.state, room.StateFile)); !os.IsNotExist(err) {
		t.Fatal("the room file is still there")
	}
	if err := os.RemoveAll(filepath.Join(l0.wd, "bin")); err != nil {
		t.Fatal(err)
	}
	_ = execute(t, l0.wd, l0.state, "", "check", "-o", "json")
	_, ls = apiLearners(t, rs2.url, testInstructorToken)
	for _, a := range ls {
		if a.Name == l0.name && a.Current != "certs" {
			t.Fatalf("a learner who left still reports: %q", a.Current)
		}
	}
}

// TestRoomTokens: the printed tokens are the only way in; wrong ones get
// 401 or 403 and change nothing; the join command fails clearly.
func TestRoomTokens(t *testing.T) {
	addr := freeAddr(t)
	rs := startRoom(t, addr)
	wd, state := t.TempDir(), t.TempDir()
	r := execute(t, wd, state, "", "room", "join", rs.url+"/?token=wrong-token", "--name", "Eve")
	if r.code == 0 || !strings.Contains(r.errOut, "refused the join token") {
		t.Fatalf("join with a wrong token: %d %s", r.code, r.errOut)
	}
	if _, err := os.Stat(filepath.Join(state, room.StateFile)); !os.IsNotExist(err) {
		t.Fatal("a refused join left a room file")
	}
	if code, _ := apiLearners(t, rs.url, "wrong-token"); code != http.StatusForbidden {
		t.Fatalf("api with a wrong token: %d", code)
	}
	if code, _ := apiLearners(t, rs.url, ""); code != http.StatusUnauthorized {
		t.Fatalf("api without a token: %d", code)
	}
	for _, args := range [][]string{
		{"room", "join", rs.url + "/", "--name", "Eve"},
		{"room", "join", rs.url + "/?token=x"},
		{"room", "join", rs.url + "/?token=x", "--name", strings.Repeat("n", 65)},
		{"room", "serve", "--instructor-token", "short"},
		{"room", "serve", "--instructor-token", "same-token", "--join-token", "same-token"},
	} {
		if r := execute(t, wd, state, "", args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", args, r.code, r.errOut)
		}
	}
}

// TestRoomSendsFromWatchAndWalkthrough: check --watch and the walkthrough
// report too.
func TestRoomSendsFromWatchAndWalkthrough(t *testing.T) {
	addr := freeAddr(t)
	rs := startRoom(t, addr, "--instructor-token", testInstructorToken, "--join-token", testJoinToken)
	var wg sync.WaitGroup
	for i, args := range [][]string{
		{"check", "tools", "--watch", "-o", "json"},
		{"start"},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wd, state := t.TempDir(), t.TempDir()
			fakeTools(t, wd)
			name := fmt.Sprintf("way %d", i)
			if r := execute(t, wd, state, "", "room", "join", rs.url+"/?token="+testJoinToken, "--name", name); r.code != 0 {
				t.Errorf("join: %s", r.errOut)
				return
			}
			input := ""
			if args[0] == "start" {
				input = "1\n2\n" // check now, then quit instead of the next lesson
			}
			if r := execute(t, wd, state, input, args...); r.code != 0 {
				t.Errorf("%v: %d %s", args, r.code, r.errOut)
			}
		}()
	}
	wg.Wait()
	_, ls := apiLearners(t, rs.url, testInstructorToken)
	if len(ls) != 2 {
		t.Fatalf("%+v", ls)
	}
	for _, a := range ls {
		if a.Current != "tools" || a.Steps[0].Status != steps.Pass || a.Steps[1].Status != steps.Skip {
			t.Errorf("%s: %+v", a.Name, a)
		}
	}
}

// TestRoomTLS: --tls serves HTTPS with a self-signed certificate whose
// fingerprint the join URL carries; join pins it (a wrong one is refused
// before anything is sent), checks report over it, and a restart with
// --data keeps the certificate, so the pin stays valid.
func TestRoomTLS(t *testing.T) {
	addr := freeAddr(t)
	data := filepath.Join(t.TempDir(), "room")
	rs := startRoom(t, addr, "--tls", "--data", data, "--instructor-token", testInstructorToken, "--join-token", testJoinToken)
	pair, err := tls.LoadX509KeyPair(filepath.Join(data, "tls.crt"), filepath.Join(data, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	fp := room.Fingerprint(pair.Certificate[0])
	hexFP, _ := room.NormalizeFingerprint(fp)
	if fi, err := os.Stat(filepath.Join(data, "tls.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	base := "https://" + addr + "/?token=" + testJoinToken

	wd, state := t.TempDir(), t.TempDir()
	fakeTools(t, wd)
	if r := execute(t, wd, state, "", "room", "join", base, "--name", "Ada"); r.code != 2 || !strings.Contains(r.errOut, "fingerprint") {
		t.Fatalf("join https without a fingerprint: %d %s", r.code, r.errOut)
	}
	wrong := strings.Repeat("ab", 32)
	if r := execute(t, wd, state, "", "room", "join", base+"&fingerprint="+wrong, "--name", "Ada"); r.code != 1 || !strings.Contains(r.errOut, "not the instructor's room") {
		t.Fatalf("join with a wrong fingerprint: %d %s", r.code, r.errOut)
	}
	if r := execute(t, wd, state, "", "room", "join", base+"&fingerprint="+hexFP, "--name", "Ada"); r.code != 0 {
		t.Fatalf("join: %d %s", r.code, r.errOut)
	}
	if r := execute(t, wd, state, "", "check", "-o", "json"); r.code != 1 {
		t.Fatalf("check: %d %s", r.code, r.errOut)
	}
	_, ls := apiLearners(t, rs.url, testInstructorToken)
	if len(ls) != 1 || ls[0].Name != "Ada" || ls[0].Current != "tools" {
		t.Fatalf("%+v", ls)
	}
	rs.stop()
	if !strings.Contains(rs.out.String(), "TLS certificate fingerprint (SHA-256): "+fp) ||
		!strings.Contains(rs.out.String(), "kubetutor room join 'https://"+addr+"/?token="+testJoinToken+"&fingerprint="+hexFP+"' --name") {
		t.Fatalf("room serve printed:\n%s", rs.out)
	}
	// The restarted room has the same certificate: Ada's pin holds (it
	// stops at the test's end).
	startRoom(t, addr, "--tls", "--data", data)
	if r := execute(t, wd, state, "", "room", "status"); r.code != 0 || !strings.Contains(r.out, "takes your reports") {
		t.Fatalf("status after a restart: %d %s %s", r.code, r.out, r.errOut)
	}
}

// TestRoomDeadOrSilent: a room that is gone, or that takes connections and
// never answers, changes neither a check's output nor its exit status, and
// the check ends (the background send gives up after a second).
func TestRoomDeadOrSilent(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	for _, url := range []string{"http://" + silent.Addr().String(), "http://" + freeAddr(t)} {
		wd, state := t.TempDir(), t.TempDir()
		fakeTools(t, wd)
		alone := execute(t, wd, state, "", "check")
		if err := room.SaveState(state, &room.State{URL: url, Name: "Ada", ID: "0011", Secret: "s"}); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"check"}, {"check", "-o", "json"}, {"check", "tools", "--watch"}} {
			r := execute(t, wd, state, "", args...)
			if args[0] == "check" && len(args) == 1 && (r.out != alone.out || r.code != alone.code || r.errOut != alone.errOut) {
				t.Fatalf("%s: in a dead room check printed\n%s%s(exit %d), alone\n%s%s(exit %d)", url, r.out, r.errOut, r.code, alone.out, alone.errOut, alone.code)
			}
			if len(args) > 1 && (r.errOut != "" && !strings.HasPrefix(r.errOut, "Waiting for step")) {
				t.Fatalf("%s %v: stderr %q", url, args, r.errOut)
			}
		}
		if r := execute(t, wd, state, "", "room", "status"); r.code != 1 || !strings.Contains(r.errOut, "does not take your reports") {
			t.Fatalf("status of a dead room: %d %s %s", r.code, r.out, r.errOut)
		}
	}
}
