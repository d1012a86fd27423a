package room

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	itok = "instructor-secret-token"
	jtok = "join-secret-token"
)

func newTestServer(t *testing.T, mirror string) (*httptest.Server, *Store) {
	t.Helper()
	store, err := OpenStore("")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Config{Store: store, InstructorToken: itok, JoinToken: jtok, StuckAfter: 10 * time.Minute, MirrorDir: mirror, Coalesce: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	go srv.Run(ctx)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { cancel(); hs.Close() })
	return hs, store
}

func do(t *testing.T, method, url, auth, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func joinAs(t *testing.T, base, name string) JoinResponse {
	t.Helper()
	code, body := do(t, "POST", base+"/api/join", "Bearer "+jtok, `{"name":`+mustJSON(name)+`}`)
	if code != 200 {
		t.Fatalf("join %q: %d %s", name, code, body)
	}
	var r JoinResponse
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestTokens: every guarded route says 401 without a token and 403 with a
// wrong one, and a refused request changes nothing.
func TestTokens(t *testing.T) {
	hs, store := newTestServer(t, "")
	ada := joinAs(t, hs.URL, "Ada")
	bob := joinAs(t, hs.URL, "Bob")
	report := mustJSON(rep(3, "apiserver-ready", "refused"))
	before := mustJSON(store.Learners())

	for _, tt := range []struct {
		name, method, path, auth, body string
		want                           int
	}{
		{"dashboard without token", "GET", "/", "", "", 401},
		{"dashboard with the join token", "GET", "/?token=" + jtok, "", "", 403},
		{"events without token", "GET", "/events", "", "", 401},
		{"events with a wrong token", "GET", "/events?token=x", "", "", 403},
		{"api without token", "GET", "/api/learners", "", "", 401},
		{"api with the join token", "GET", "/api/learners", "Bearer " + jtok, "", 403},
		{"api with a token in the query only", "GET", "/api/learners?token=" + itok, "", "", 401},
		{"api with basic auth", "GET", "/api/learners", "Basic " + itok, "", 401},
		{"join without token", "POST", "/api/join", "", `{"name":"Eve"}`, 401},
		{"join with the instructor token", "POST", "/api/join", "Bearer " + itok, `{"name":"Eve"}`, 403},
		{"join claiming Ada without her secret", "POST", "/api/join", "Bearer " + jtok, `{"name":"Ada","id":"` + ada.ID + `","secret":"guess"}`, 409},
		{"report without token", "POST", "/api/report", "", report, 401},
		{"report with a malformed token", "POST", "/api/report", "Bearer nodot", report, 403},
		{"report as Ada with Bob's secret", "POST", "/api/report", "Bearer " + ada.ID + "." + bob.Secret, report, 403},
		{"report with the instructor token", "POST", "/api/report", "Bearer " + itok, report, 403},
		{"report for nobody", "POST", "/api/report", "Bearer 0000." + ada.Secret, report, 403},
		{"wrong method", "GET", "/api/report", "", "", 405},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := do(t, tt.method, hs.URL+tt.path, tt.auth, tt.body)
			if code != tt.want {
				t.Fatalf("%d %s, want %d", code, body, tt.want)
			}
			if strings.Contains(body, ada.Secret) || strings.Contains(body, itok) {
				t.Fatalf("the answer leaks a secret: %s", body)
			}
		})
	}
	if after := mustJSON(store.Learners()); after != before {
		t.Fatalf("refused requests changed the room:\n%s\n%s", before, after)
	}
	// The right tokens work.
	if code, body := do(t, "POST", hs.URL+"/api/report", "Bearer "+ada.ID+"."+ada.Secret, report); code != 204 {
		t.Fatalf("report: %d %s", code, body)
	}
	code, body := do(t, "GET", hs.URL+"/api/learners", "Bearer "+itok, "")
	if code != 200 || !strings.Contains(body, `"current": "etcd"`) {
		t.Fatalf("api: %d %s", code, body)
	}
	if code, body := do(t, "GET", hs.URL+"/?token="+itok, "", ""); code != 200 || !strings.Contains(body, "app.js") {
		t.Fatalf("dashboard: %d %s", code, body)
	}
}

func TestBadInput(t *testing.T) {
	hs, store := newTestServer(t, "")
	ada := joinAs(t, hs.URL, "Ada")
	auth := "Bearer " + ada.ID + "." + ada.Secret
	big := `{"steps":[{"id":"tools","status":"fail","message":"` + strings.Repeat("x", MaxReportBytes) + `"}]}`
	for _, tt := range []struct {
		name, path, auth, body string
		want                   int
	}{
		{"join body too big", "/api/join", "Bearer " + jtok, `{"name":"` + strings.Repeat("a", MaxJoinBytes) + `"}`, 413},
		{"name too long", "/api/join", "Bearer " + jtok, `{"name":"` + strings.Repeat("a", MaxNameRunes+1) + `"}`, 400},
		{"empty name", "/api/join", "Bearer " + jtok, `{"name":" "}`, 400},
		{"control characters", "/api/join", "Bearer " + jtok, `{"name":"a\u001b[2Jb"}`, 400},
		{"taken name", "/api/join", "Bearer " + jtok, `{"name":"Ada"}`, 409},
		{"unknown field", "/api/join", "Bearer " + jtok, `{"name":"Bo","admin":true}`, 400},
		{"report too big", "/api/report", auth, big, 413},
		{"not JSON", "/api/report", auth, `hello`, 400},
		{"two values", "/api/report", auth, `{} {}`, 400},
		{"unknown step", "/api/report", auth, `{"steps":[{"id":"../../etc","status":"pass"}]}`, 400},
		{"unknown status", "/api/report", auth, `{"steps":[{"id":"tools","status":"great"}]}`, 400},
		{"step twice", "/api/report", auth, `{"steps":[{"id":"tools","status":"pass"},{"id":"tools","status":"fail"}]}`, 400},
		{"text too long", "/api/report", auth, `{"steps":[{"id":"tools","status":"fail","message":"` + strings.Repeat("é", MaxTextRunes+1) + `"}]}`, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := do(t, "POST", hs.URL+tt.path, tt.auth, tt.body); code != tt.want {
				t.Fatalf("%d %s, want %d", code, body, tt.want)
			}
		})
	}
	ls := store.Learners()
	if len(ls) != 1 || !ls[0].Updated.IsZero() {
		t.Fatalf("bad input changed the room: %+v", ls)
	}
}

// TestEventsLive: an open event stream gets the new view after a report.
func TestEventsLive(t *testing.T) {
	hs, _ := newTestServer(t, "")
	ada := joinAs(t, hs.URL, "<b>Ada</b>")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", hs.URL+"/events?token="+itok, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	views := make(chan View, 10)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var v View
				if json.Unmarshal([]byte(d), &v) == nil {
					views <- v
				}
			}
		}
		close(views)
	}()
	next := func() View {
		select {
		case v, ok := <-views:
			if !ok {
				t.Fatal("the stream ended")
			}
			return v
		case <-ctx.Done():
			t.Fatal("no view in time")
		}
		return View{}
	}
	v := next()
	if len(v.Learners) != 1 || v.Learners[0].Name != "<b>Ada</b>" || v.Learners[0].At != "tools" {
		t.Fatalf("first view %+v", v.Learners)
	}
	if code, body := do(t, "POST", hs.URL+"/api/report", "Bearer "+ada.ID+"."+ada.Secret, mustJSON(rep(4, "apiserver-ready", "503"))); code != 204 {
		t.Fatal(code, body)
	}
	for {
		v = next()
		if v.Learners[0].Current == "apiserver" {
			break
		}
	}
	if v.Learners[0].Failing == nil || v.Learners[0].Failing.Check != "apiserver-ready" {
		t.Fatalf("%+v", v.Learners[0])
	}
}

func TestHeadersAndMirror(t *testing.T) {
	mirror := t.TempDir()
	if err := os.MkdirAll(filepath.Join(mirror, "etcd", "v3.6.4"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mirror, "etcd", "v3.6.4", "SHA256SUMS"), []byte("abc  etcd.tar.gz\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hs, _ := newTestServer(t, mirror)
	resp, err := http.Get(hs.URL + "/?token=" + itok)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	if resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Error("the token could leak through Referer")
	}
	for _, p := range []string{"/static/app.js", "/static/app.css"} {
		if code, body := do(t, "GET", hs.URL+p, "", ""); code != 200 || len(body) < 100 {
			t.Errorf("%s: %d", p, code)
		}
	}
	if code, body := do(t, "GET", hs.URL+"/mirror/etcd/v3.6.4/SHA256SUMS", "", ""); code != 200 || !bytes.Contains([]byte(body), []byte("etcd.tar.gz")) {
		t.Errorf("mirror: %d %s", code, body)
	}
	if code, _ := do(t, "POST", hs.URL+"/mirror/etcd/v3.6.4/SHA256SUMS", "", ""); code != 405 {
		t.Errorf("mirror POST: %d", code)
	}
}

// The page builds every learner-given string with textContent.
func TestScriptNeverUsesMarkup(t *testing.T) {
	js, err := webFS.ReadFile("web/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
		if bytes.Contains(js, []byte(bad)) {
			t.Errorf("app.js uses %s", bad)
		}
	}
	html, _ := webFS.ReadFile("web/index.html")
	if bytes.Contains(html, []byte("http://")) || bytes.Contains(html, []byte("https://")) || bytes.Contains(js, []byte("https://")) {
		t.Error("the page loads something from elsewhere: workshops are offline")
	}
}
