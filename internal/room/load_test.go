package room

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubetutor/kubetutor/steps"
)

// loadRoom is a room kept on disk (as with --data) served on loopback, with
// n learners joined.
type loadRoom struct {
	hs      *httptest.Server
	store   *Store
	client  *http.Client
	learner []JoinResponse
	stop    func()
}

func newLoadRoom(tb testing.TB, n int) *loadRoom {
	tb.Helper()
	store, err := OpenStore(filepath.Join(tb.TempDir(), "room"))
	if err != nil {
		tb.Fatal(err)
	}
	srv := NewServer(Config{Store: store, InstructorToken: itok, JoinToken: jtok, StuckAfter: 10 * time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	go srv.Run(ctx)
	hs := httptest.NewServer(srv)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = n
	r := &loadRoom{hs: hs, store: store, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	r.stop = func() { cancel(); hs.Close(); tr.CloseIdleConnections(); store.Close() }
	for i := range n {
		c, _ := NewClient(hs.URL, "")
		j, err := c.Join(context.Background(), jtok, JoinRequest{Name: fmt.Sprintf("learner %03d", i)})
		if err != nil {
			tb.Fatal(err)
		}
		r.learner = append(r.learner, j)
	}
	return r
}

// send posts learner i's k-th report (learners advance one step every few
// reports) and returns how long the room took.
func (r *loadRoom) send(i, k int) (time.Duration, Report, error) {
	passing := (k/3 + i) % (len(steps.IDs()) + 1)
	rp := rep(passing, "check-"+fmt.Sprint(passing), fmt.Sprintf("message %d from learner %d", k, i))
	body, _ := json.Marshal(rp)
	req, _ := http.NewRequest(http.MethodPost, r.hs.URL+"/api/report", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+r.learner[i].ID+"."+r.learner[i].Secret)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, rp, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if resp.StatusCode != http.StatusNoContent {
		return d, rp, fmt.Errorf("status %d", resp.StatusCode)
	}
	return d, rp, nil
}

// checkNothingLost compares every learner's record with the last report
// each sent and the number of reports.
func (r *loadRoom) checkNothingLost(tb testing.TB, last []Report, sent []int) {
	tb.Helper()
	byName := map[string]Learner{}
	for _, l := range r.store.Learners() {
		byName[l.Name] = l
	}
	// The API, as a script reads it, agrees.
	req, _ := http.NewRequest("GET", r.hs.URL+"/api/learners", nil)
	req.Header.Set("Authorization", "Bearer "+itok)
	resp, err := r.client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	var api []APILearner
	err = json.NewDecoder(resp.Body).Decode(&api)
	resp.Body.Close()
	if err != nil || len(api) != len(r.learner) {
		tb.Fatalf("api: %v, %d learners", err, len(api))
	}
	apiByName := map[string]APILearner{}
	for _, a := range api {
		apiByName[a.Name] = a
	}
	for i, j := range r.learner {
		l := byName[j.Name]
		if int(l.Seq) != sent[i] {
			tb.Errorf("%s: the room counted %d reports, %d were sent", j.Name, l.Seq, sent[i])
		}
		want := APILearners([]Learner{{Name: j.Name, Steps: last[i].Steps, Current: currentOf(last[i]), Updated: l.Updated}})[0]
		got := apiByName[j.Name]
		if mustJSON(got) != mustJSON(want) {
			tb.Errorf("%s: the room shows\n%s\nthe last report was\n%s", j.Name, mustJSON(got), mustJSON(want))
		}
	}
}

func currentOf(r Report) string {
	cur := ""
	for _, s := range r.Steps {
		if s.Status != steps.Pass {
			break
		}
		cur = s.ID
	}
	return cur
}

// TestBurst: 200 learners report at once, three times each: every report
// counts and every learner's last report is what the room shows.
func TestBurst(t *testing.T) {
	const n, rounds = 200, 3
	r := newLoadRoom(t, n)
	defer r.stop()
	last := make([]Report, n)
	sent := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range rounds {
				_, rp, err := r.send(i, k)
				if err != nil {
					t.Errorf("learner %d report %d: %v", i, k, err)
					return
				}
				last[i], sent[i] = rp, sent[i]+1
			}
		}()
	}
	wg.Wait()
	r.checkNothingLost(t, last, sent)
}

// BenchmarkRoomLoad is the workshop at its busiest: 200 learners, each
// checking every 2 s for a minute (KUBETUTOR_ROOM_LOAD_SECONDS changes the
// minute), on loopback against a room kept on disk, with a dashboard open.
// It fails if a report is lost and reports the ingest latency percentiles.
func BenchmarkRoomLoad(b *testing.B) {
	const n, every = 200, 2 * time.Second
	dur := time.Minute
	if s := os.Getenv("KUBETUTOR_ROOM_LOAD_SECONDS"); s != "" {
		d, err := time.ParseDuration(s + "s")
		if err != nil {
			b.Fatal(err)
		}
		dur = d
	}
	for b.Loop() {
		r := newLoadRoom(b, n)
		probe := make(chan probeMark, 1)
		views := watchViews(b, r, probe)
		last := make([]Report, n)
		sent := make([]int, n)
		lat := make([][]time.Duration, n)
		var failed sync.Map
		var wg sync.WaitGroup
		start := time.Now()
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Learners check at their own moments in the 2 s.
				next := start.Add(time.Duration(rand.Int64N(int64(every))))
				for k := 0; ; k++ {
					time.Sleep(time.Until(next))
					if time.Since(start) >= dur {
						return
					}
					sentAt := time.Now()
					d, rp, err := r.send(i, k)
					if err != nil {
						failed.Store(i, err)
						return
					}
					if i == 0 && rp.failingMessage() != "" {
						// Learner 0 is the probe: how soon does the open
						// dashboard show its report?
						select {
						case probe <- probeMark{name: r.learner[0].Name, message: rp.failingMessage(), at: sentAt}:
						default:
						}
					}
					last[i], sent[i] = rp, sent[i]+1
					lat[i] = append(lat[i], d)
					next = next.Add(every)
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		failed.Range(func(k, v any) bool { b.Errorf("learner %v: %v", k, v); return true })
		r.checkNothingLost(b, last, sent)
		var all []time.Duration
		total := 0
		for i := range n {
			all = append(all, lat[i]...)
			total += sent[i]
		}
		slices.Sort(all)
		pct := func(p float64) float64 {
			if len(all) == 0 {
				return 0
			}
			return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
		}
		r.stop()
		nViews, lags := views()
		slices.Sort(lags)
		b.ReportMetric(float64(total), "reports")
		b.ReportMetric(float64(total)/elapsed.Seconds(), "reports/s")
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
		b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "max-ms")
		b.ReportMetric(float64(nViews), "dashboard-updates")
		lagMax := 0.0
		if len(lags) > 0 {
			lagMax = float64(lags[len(lags)-1].Microseconds()) / 1000
		}
		b.ReportMetric(lagMax, "dashboard-lag-max-ms")
		b.Logf("%d learners, %d reports in %s, none lost; ingest latency p50 %.1f ms, p99 %.1f ms, max %.1f ms; the open dashboard got %d live updates; a check reached it in at most %.0f ms (%d probes)",
			n, total, elapsed.Round(time.Millisecond), pct(0.50), pct(0.99), float64(all[len(all)-1].Microseconds())/1000, nViews, lagMax, len(lags))
	}
}

// probeMark is a report whose arrival on the dashboard is timed.
type probeMark struct {
	name, message string
	at            time.Time
}

func (r Report) failingMessage() string {
	for _, s := range r.Steps {
		if s.Status == steps.Fail {
			return s.Message
		}
	}
	return ""
}

// watchViews keeps a dashboard's event stream open, counts its views and
// times how soon each probe report shows in them.
func watchViews(tb testing.TB, r *loadRoom, probe <-chan probeMark) func() (int, []time.Duration) {
	req, _ := http.NewRequest("GET", r.hs.URL+"/events?token="+itok, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	var lags []time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		var pending *probeMark
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 4<<20), 4<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			now := time.Now()
			mu.Lock()
			n++
			mu.Unlock()
			if pending == nil {
				select {
				case p := <-probe:
					pending = &p
				default:
					continue
				}
			}
			var v View
			if json.Unmarshal([]byte(data), &v) != nil {
				continue
			}
			for _, l := range v.Learners {
				if l.Name == pending.name && l.Failing != nil && l.Failing.Message == pending.message {
					mu.Lock()
					lags = append(lags, now.Sub(pending.at))
					mu.Unlock()
					pending = nil
					break
				}
			}
		}
	}()
	return func() (int, []time.Duration) {
		resp.Body.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return n, lags
	}
}
