package room

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kubetutor/kubetutor/steps"
)

// requireChromium finds Debian's chromium. The browser test runs under
// `make test` (KUBETUTOR_REAL=1, whose deps install chromium) and fails there
// without it; elsewhere it is skipped.
func requireChromium(t *testing.T) string {
	t.Helper()
	if os.Getenv("KUBETUTOR_REAL") != "1" {
		t.Skip("skipping the real-browser test: it runs under `make test` (KUBETUTOR_REAL=1), which installs chromium")
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: make test installs it with hack/install-deps.sh (apt-get install chromium)")
	return ""
}

// newBrowser starts headless chromium with a fresh profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := requireChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	// Start the browser on a context without a deadline (see chromedp.Run).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// rowJS is a script that finds the row of a learner by its name, compared
// as text (data-name is set with dataset, never parsed).
func rowJS(name string) string {
	n, _ := json.Marshal(name)
	return fmt.Sprintf(`Array.from(document.querySelectorAll("#rows tr")).find(r => r.dataset.name === %s)`, n)
}

// TestDashboardInBrowser: the dashboard in a real browser shows a learner
// who joins, follows them as they advance without a reload, highlights a
// stuck learner, groups learners failing the same way, and shows hostile
// names as text.
func TestDashboardInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	store, _ := OpenStore("")
	srv := NewServer(Config{Store: store, InstructorToken: itok, JoinToken: jtok, StuckAfter: 10 * time.Minute})
	runCtx, stop := context.WithCancel(context.Background())
	go srv.Run(runCtx)
	hs := httptest.NewServer(srv)
	// Ending Run ends the page's event stream, so Close does not wait for it.
	defer func() { stop(); hs.Close() }()

	wait := func(what, expr string) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if _, err := chromedp.Run(wctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("%s: %v\nthe page shows:\n%s", what, err, body)
		}
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/?token="+itok)); err != nil {
		t.Fatal(err)
	}
	wait("the empty room", `document.getElementById("totals").textContent.startsWith("0 learners") && document.getElementById("conn").textContent === "live"`)
	// A mark that a reload would wipe.
	eval(`window.kubetutorMark = "same page"; "ok"`)

	ada := joinAs(t, hs.URL, "Ada")
	wait("Ada appears", rowJS("Ada")+` !== undefined`)
	if got := eval(rowJS("Ada") + `.querySelector("td.at").textContent`); got != "tools" {
		t.Fatalf("Ada works on %q", got)
	}
	post := func(who JoinResponse, r Report) {
		t.Helper()
		if code, body := do(t, "POST", hs.URL+"/api/report", "Bearer "+who.ID+"."+who.Secret, mustJSON(r)); code != 204 {
			t.Fatalf("report: %d %s", code, body)
		}
	}
	posted := time.Now()
	post(ada, rep(2, "etcd-health", "etcd does not answer on 127.0.0.1:2379"))
	wait("Ada advances to etcd", rowJS("Ada")+`.querySelector("td.at").textContent === "etcd"`)
	t.Logf("the page showed Ada's check %s after it was sent (measured, not asserted)", time.Since(posted).Round(time.Millisecond))
	if got := eval(rowJS("Ada") + `.querySelector("td.msg").textContent`); got != "etcd-health: etcd does not answer on 127.0.0.1:2379" {
		t.Fatalf("Ada's failing check: %q", got)
	}
	post(ada, rep(9, "node-ready", "node NotReady — cni plugin not initialized"))
	wait("Ada advances to cni", rowJS("Ada")+`.querySelector("td.at").textContent === "cni"`)
	if got := eval(`String(window.kubetutorMark)`); got != "same page" {
		t.Fatal("the page reloaded to show the change")
	}
	if got := eval(rowJS("Ada") + `.querySelectorAll("td.mark.pass").length.toString()`); got != "9" {
		t.Fatalf("Ada has %s pass marks", got)
	}

	// Hostile names are text.
	hostile := []string{
		`<img src=x onerror=alert(1)>`,
		`<img src=x onerror="window.kubetutorPwned=1">`,
		`<script>window.kubetutorPwned=2</script>`,
		`"><b id=injected>bold</b>`,
	}
	for _, name := range hostile {
		who := joinAs(t, hs.URL, name)
		post(who, rep(9, "node-ready", "node NotReady — cni plugin not initialized"))
	}
	for _, name := range hostile {
		wait("hostile name "+name, rowJS(name)+` !== undefined`)
		if got := eval(rowJS(name) + `.querySelector("td.name").textContent`); got != name {
			t.Fatalf("name shown as %q, want %q", got, name)
		}
	}
	if got := eval(`[document.querySelectorAll("img").length, document.querySelectorAll("#rows script, #groups script").length, document.getElementById("injected") === null, String(window.kubetutorPwned)].join(",")`); got != "0,0,true,undefined" {
		t.Fatalf("a name became markup: images,scripts,no-injected,pwned = %s", got)
	}
	// Five learners fail the same way: one group, names as text.
	wait("the cni group", `document.querySelector("#groups li.group .count") !== null && document.querySelector("#groups li.group .count").textContent === "5 learners: "`)
	if got := eval(`document.querySelector("#groups li.group .what").textContent`); got != "cni / node-ready — node NotReady — cni plugin not initialized" {
		t.Fatalf("group: %q", got)
	}
	if got := eval(`document.querySelector("#groups li.group .who").textContent`); got != `"><b id=injected>bold</b>, <img src=x onerror="window.kubetutorPwned=1">, <img src=x onerror=alert(1)>, <script>window.kubetutorPwned=2</script>, Ada` {
		t.Fatalf("group names: %q", got)
	}

	// A learner on the same step for an hour is highlighted.
	if _, _, err := store.Join("Slow", "", "", time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	wait("Slow is stuck", rowJS("Slow")+` !== undefined && `+rowJS("Slow")+`.classList.contains("stuck")`)
	if got := eval(rowJS("Slow") + `.querySelector("td.time").textContent`); got != "1 h 00 minstuck" {
		t.Fatalf("Slow's time: %q", got)
	}
	if got := eval(rowJS("Ada") + `.classList.contains("stuck").toString()`); got != "false" {
		t.Fatal("Ada is not stuck")
	}
	wait("the totals", `document.getElementById("totals").textContent === "6 learners · 0 done · 1 stuck"`)

	// The summary counts learners per step.
	// One entry per step ("<count><n>. <id>"), then those done.
	var want []string
	for i, id := range steps.IDs() {
		n := 0
		switch id {
		case "tools":
			n = 1
		case "cni":
			n = 5
		}
		want = append(want, fmt.Sprintf("%d%d. %s", n, i+1, id))
	}
	if got := eval(`Array.from(document.querySelectorAll("#summary li")).map(li => li.textContent).join("|")`); got != strings.Join(append(want, "0done"), "|") {
		t.Fatalf("summary: %q, want %q", got, strings.Join(append(want, "0done"), "|"))
	}

	// On a phone the table drops the step columns but keeps the essentials.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	wait("the phone layout", `getComputedStyle(document.querySelector("td.mark")).display === "none"`)
	if got := eval(`[getComputedStyle(document.querySelector("td.msg")).display !== "none", getComputedStyle(document.querySelector("td.time")).display !== "none", document.documentElement.scrollWidth <= window.innerWidth].join(",")`); got != "true,true,true" {
		t.Fatalf("on a phone: message shown, time shown, no sideways scrolling = %s", got)
	}
	if path := os.Getenv("KUBETUTOR_ROOM_SCREENSHOT"); path != "" {
		_ = chromedp.Do(ctx, chromedp.EmulateViewport(1400, 900))
		if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			_ = os.WriteFile(path, png, 0o644)
		}
	}
}

// TestDrillsInBrowser: the dashboard shows the announced drill with the
// learners on it and those who solved it (with the time to fix), each
// learner's drill on their row, hostile names as text; its buttons
// announce and withdraw a drill.
func TestDrillsInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	store, _ := OpenStore("")
	srv := NewServer(Config{Store: store, InstructorToken: itok, JoinToken: jtok, StuckAfter: 10 * time.Minute})
	runCtx, stop := context.WithCancel(context.Background())
	go srv.Run(runCtx)
	hs := httptest.NewServer(srv)
	defer func() { stop(); hs.Close() }()
	wait := func(what, expr string) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if _, err := chromedp.Run(wctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("%s: %v\nthe page shows:\n%s", what, err, body)
		}
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	post := func(who JoinResponse, d DrillReport) {
		t.Helper()
		if code, body := do(t, "POST", hs.URL+"/api/report", "Bearer "+who.ID+"."+who.Secret, mustJSON(Report{Drill: &d})); code != 204 {
			t.Fatalf("report: %d %s", code, body)
		}
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/?token="+itok)); err != nil {
		t.Fatal(err)
	}
	wait("no drill yet", `document.querySelector("#drills li.none") !== null && document.getElementById("announced").textContent === "No drill announced."`)
	if err := store.Announce("scheduler-stopped"); err != nil {
		t.Fatal(err)
	}
	wait("the announced drill", `document.querySelector("#drills li.drill.announced") !== null`)
	if got := eval(`document.querySelector("#drills li.drill .head").textContent`); got != "scheduler-stopped — kube-scheduler has stoppedannounced" {
		t.Fatalf("head %q", got)
	}
	ada := joinAs(t, hs.URL, "Ada")
	evil := `<img src=x onerror="window.kubetutorPwned=1">`
	mallory := joinAs(t, hs.URL, evil)
	post(ada, DrillReport{ID: "scheduler-stopped", State: DrillOn, Seconds: 65})
	post(mallory, DrillReport{ID: "scheduler-stopped", State: DrillSolved, Seconds: 300, FixSeconds: 187})
	wait("both learners on the drill", `document.querySelector("#drills li.drill .state.solved") !== null && document.querySelector("#drills li.drill .state.on") !== null`)
	if got := eval(`document.querySelector("#drills li.drill .state.solved").textContent`); got != "solved (1): "+evil+" in 3 min 07 s" {
		t.Fatalf("solved %q", got)
	}
	if got := eval(`document.querySelector("#drills li.drill .state.on").textContent`); !strings.HasPrefix(got, "on it (1): Ada 1 min 0") {
		t.Fatalf("on %q", got)
	}
	if got := eval(rowJS("Ada") + `.querySelector("td.drill").textContent`); !strings.HasPrefix(got, "scheduler-stopped: on for 1 min 0") {
		t.Fatalf("Ada's drill %q", got)
	}
	if got := eval(rowJS(evil) + `.querySelector("td.drill").textContent`); got != "scheduler-stopped: solved in 3 min 07 s" {
		t.Fatalf("the solver's drill %q", got)
	}
	if got := eval(`[document.querySelectorAll("img").length, String(window.kubetutorPwned)].join(",")`); got != "0,undefined" {
		t.Fatalf("a name became markup: images,pwned = %s", got)
	}

	// The buttons: withdraw, then announce another drill.
	eval(`document.getElementById("withdraw").click(); "ok"`)
	wait("withdrawn", `document.getElementById("announced").textContent === "No drill announced." && document.getElementById("withdraw").hidden`)
	if a := store.Announced(); a != "" {
		t.Fatalf("still announced: %q", a)
	}
	eval(`document.getElementById("drill-choice").value = "etcd-frozen"; document.getElementById("announce").click(); "ok"`)
	wait("etcd-frozen announced", `document.querySelector("#drills li.drill.announced") !== null && document.querySelector("#drills li.drill.announced").dataset.drill === "etcd-frozen"`)
	if a := store.Announced(); a != "etcd-frozen" {
		t.Fatalf("announced %q", a)
	}

	// On a phone nothing scrolls sideways.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	wait("the phone layout", `getComputedStyle(document.querySelector("td.mark")).display === "none"`)
	if got := eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`); got != "true" {
		t.Fatal("the page scrolls sideways on a phone")
	}
}
