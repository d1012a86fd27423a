package room

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kubetutor/kubetutor/drills"
	"github.com/kubetutor/kubetutor/internal/fetch"
)

//go:embed web
var webFS embed.FS

// Config sets up a room server.
type Config struct {
	Store *Store
	// InstructorToken guards the dashboard and the API; JoinToken lets
	// learners join.
	InstructorToken string
	JoinToken       string
	// StuckAfter is how long without advancing makes a learner stuck.
	StuckAfter time.Duration
	// MirrorDir, when set, is served read-only under /mirror/.
	MirrorDir string
	// Log receives one line per join and per refused request; nil for none.
	Log io.Writer
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Coalesce is how long the live view waits after a change to gather
	// more (default 150ms): every viewer gets an update within about that.
	Coalesce time.Duration
}

// Server serves a room.
type Server struct {
	cfg Config
	mux *http.ServeMux

	logMu sync.Mutex

	// Refused requests are logged at most one line per refusalEvery: the
	// first at once, the others counted and summed up at the end of each
	// period (a flood of wrong tokens must not flood the terminal).
	refusalEvery time.Duration
	refMu        sync.Mutex
	refWindow    bool
	refCount     int

	subMu sync.Mutex
	subs  map[chan []byte]struct{}
	last  []byte

	// stopped is closed when Run returns: the event streams end.
	stopOnce sync.Once
	stopped  chan struct{}
}

// NewServer builds the room's HTTP server; Run must run for live updates.
func NewServer(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Coalesce <= 0 {
		cfg.Coalesce = 150 * time.Millisecond
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), subs: map[chan []byte]struct{}{}, stopped: make(chan struct{}), refusalEvery: time.Second}
	static, _ := fs.Sub(webFS, "web")
	s.mux.HandleFunc("GET /{$}", s.instructor(s.page))
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /events", s.instructor(s.events))
	s.mux.HandleFunc("GET /api/learners", s.instructor(s.apiLearners))
	s.mux.HandleFunc("GET /api/view", s.instructor(s.apiView))
	s.mux.HandleFunc("DELETE /api/learners", s.instructor(s.removeLearner))
	s.mux.HandleFunc("POST /api/announce", s.instructor(s.announce))
	s.mux.HandleFunc("GET /api/announced", s.announced)
	s.mux.HandleFunc("POST /api/join", s.join)
	s.mux.HandleFunc("POST /api/report", s.report)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	if cfg.MirrorDir != "" {
		s.mux.Handle("/mirror/", http.StripPrefix("/mirror", fetch.Handler(cfg.MirrorDir, nil)))
	}
	return s
}

// ServeHTTP serves the room with headers that keep the page to its own
// assets and keep tokens out of referrers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) logf(format string, a ...any) {
	if s.cfg.Log == nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.cfg.Log, "%s "+format+"\n", append([]any{s.cfg.Now().Format("15:04:05")}, a...)...)
}

// bearer is the request's token: Authorization: Bearer, else ?token=. The
// scheme's name is case-insensitive (RFC 7235 section 2.1): bearer and
// BEARER are Bearer.
func bearer(r *http.Request, allowQuery bool) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if scheme, t, ok := strings.Cut(strings.TrimSpace(a), " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(t)
		}
		return ""
	}
	if allowQuery {
		return r.URL.Query().Get("token")
	}
	return ""
}

func sameToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// deny answers 401 for a missing token and 403 for a wrong one.
func (s *Server) deny(w http.ResponseWriter, r *http.Request, got, what string) {
	if got == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kubetutor room"`)
		http.Error(w, what+" token required", http.StatusUnauthorized)
		s.logRefusal("401 %s %s from %s: no token", r.Method, r.URL.Path, r.RemoteAddr)
		return
	}
	http.Error(w, "wrong "+what+" token", http.StatusForbidden)
	s.logRefusal("403 %s %s from %s: wrong %s token", r.Method, r.URL.Path, r.RemoteAddr, what)
}

// logRefusal logs a refused request, at most one line per refusalEvery:
// the first refusal at once, then, while refusals go on, one line per
// period counting those not shown.
func (s *Server) logRefusal(format string, a ...any) {
	if s.cfg.Log == nil {
		return
	}
	s.refMu.Lock()
	if s.refWindow {
		s.refCount++
		s.refMu.Unlock()
		return
	}
	s.refWindow = true
	s.refMu.Unlock()
	s.logf(format, a...)
	time.AfterFunc(s.refusalEvery, s.endRefusalPeriod)
}

func (s *Server) endRefusalPeriod() {
	s.refMu.Lock()
	n := s.refCount
	s.refCount = 0
	if n == 0 {
		s.refWindow = false
		s.refMu.Unlock()
		return
	}
	s.refMu.Unlock()
	plural := "s"
	if n == 1 {
		plural = ""
	}
	s.logf("%d more refused request%s (401/403) in the last %s, not shown one by one", n, plural, s.refusalEvery)
	time.AfterFunc(s.refusalEvery, s.endRefusalPeriod)
}

// instructor guards h with the instructor token: the Bearer header, or
// ?token= for the page and its events (a browser cannot set headers there).
func (s *Server) instructor(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		allowQuery := r.URL.Path == "/" || r.URL.Path == "/events"
		got := bearer(r, allowQuery)
		if !sameToken(got, s.cfg.InstructorToken) {
			s.deny(w, r, got, "instructor")
			return
		}
		h(w, r)
	}
}

func (s *Server) page(w http.ResponseWriter, _ *http.Request) {
	data, err := webFS.ReadFile("web/index.html")
	if err != nil {
		http.Error(w, "dashboard missing from this build", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(data)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (s *Server) apiLearners(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, APILearners(s.cfg.Store.Learners()))
}

func (s *Server) view() View {
	return BuildView(s.cfg.Store.Learners(), s.cfg.Now(), s.cfg.StuckAfter).WithAnnounced(s.cfg.Store.Announced())
}

func (s *Server) apiView(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.view())
}

// JoinRequest is the body of POST /api/join. ID and Secret, or Nonce
// (JoinNonce), when given, claim a record joined before.
type JoinRequest struct {
	Name   string `json:"name"`
	ID     string `json:"id,omitempty"`
	Secret string `json:"secret,omitempty"`
	Nonce  string `json:"nonce,omitempty"`
}

// JoinResponse is the answer to a join: the learner's own credentials.
type JoinResponse struct {
	Name   string `json:"name"`
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	// The server has no ReadTimeout (the live view is a long response), so
	// bodies get their own deadline.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(10 * time.Second))
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("request body larger than %d bytes", limit), http.StatusRequestEntityTooLarge)
			return false
		}
		http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	if dec.More() {
		http.Error(w, "bad request body: more than one JSON value", http.StatusBadRequest)
		return false
	}
	return true
}

func (s *Server) join(w http.ResponseWriter, r *http.Request) {
	got := bearer(r, true)
	if !sameToken(got, s.cfg.JoinToken) {
		s.deny(w, r, got, "join")
		return
	}
	var req JoinRequest
	if !decodeBody(w, r, MaxJoinBytes, &req) {
		return
	}
	resp, err := s.cfg.Store.JoinWith(req, s.cfg.Now())
	var invalid *InvalidJoinError
	switch {
	case errors.Is(err, ErrNameTaken):
		http.Error(w, err.Error(), http.StatusConflict)
		return
	case errors.Is(err, ErrRoomFull):
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	case errors.As(err, &invalid):
		http.Error(w, "bad "+invalid.What+": "+err.Error(), http.StatusBadRequest)
		return
	case err != nil:
		s.logf("join %q: %v", clipTo(req.Name, MaxNameRunes), err)
		http.Error(w, "could not save the learner: nothing was kept, join again", http.StatusInternalServerError)
		return
	}
	s.logf("joined: %q from %s", resp.Name, r.RemoteAddr)
	writeJSON(w, http.StatusOK, resp)
}

// removeLearner is DELETE /api/learners?name=NAME (or ?id=ID): the
// instructor takes a learner's row out of the room.
func (s *Server) removeLearner(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id, name := q.Get("id"), q.Get("name")
	if (id == "") == (name == "") {
		http.Error(w, "name the learner to remove: ?name=NAME or ?id=ID", http.StatusBadRequest)
		return
	}
	l, err := s.cfg.Store.Remove(id, name)
	switch {
	case errors.Is(err, ErrUnknownLearner) && id != "":
		http.Error(w, fmt.Sprintf("no learner %q in this room", clipTo(id, 40)), http.StatusNotFound)
		return
	case errors.Is(err, ErrUnknownLearner):
		http.Error(w, fmt.Sprintf("no learner named %q in this room", clipTo(name, MaxNameRunes)), http.StatusNotFound)
		return
	case err != nil:
		s.logf("remove the learner %q: %v", clipTo(id+name, MaxNameRunes), err)
		http.Error(w, "could not remove the learner: the room is as it was", http.StatusInternalServerError)
		return
	}
	s.logf("removed: %q (%s), by the instructor from %s", l.Name, l.ID, r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]string{"removed": l.Name, "id": l.ID})
}

// announce is POST /api/announce {"drill": "ID"}: the instructor announces
// a drill to the room; {"drill": ""} withdraws it. Learners start it with
// their own drill start --from-room.
func (s *Server) announce(w http.ResponseWriter, r *http.Request) {
	var a Announcement
	if !decodeBody(w, r, MaxJoinBytes, &a) {
		return
	}
	err := s.cfg.Store.Announce(a.Drill)
	switch {
	case errors.Is(err, ErrUnknownDrill):
		http.Error(w, fmt.Sprintf("%v (drills: %s)", err, strings.Join(drills.IDs(), ", ")), http.StatusBadRequest)
		return
	case err != nil:
		s.logf("announce: %v", err)
		http.Error(w, "could not keep the announcement: the room is as it was", http.StatusInternalServerError)
		return
	}
	if a.Drill == "" {
		s.logf("the instructor withdrew the announced drill, from %s", r.RemoteAddr)
	} else {
		s.logf("announced drill %s, by the instructor from %s", a.Drill, r.RemoteAddr)
	}
	writeJSON(w, http.StatusOK, announcement(a.Drill))
}

// announced is GET /api/announced, for a learner (their ID.SECRET token):
// the drill announced to the room, which their drill start --from-room
// starts.
func (s *Server) announced(w http.ResponseWriter, r *http.Request) {
	got := bearer(r, false)
	id, secret, ok := strings.Cut(got, ".")
	if !ok || s.cfg.Store.Check(id, secret) != nil {
		s.deny(w, r, got, "learner")
		return
	}
	writeJSON(w, http.StatusOK, announcement(s.cfg.Store.Announced()))
}

func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	got := bearer(r, false)
	id, secret, ok := strings.Cut(got, ".")
	if got == "" {
		s.deny(w, r, "", "learner")
		return
	}
	if !ok {
		s.deny(w, r, got, "learner")
		return
	}
	var rep Report
	if !decodeBody(w, r, MaxReportBytes, &rep) {
		return
	}
	err := s.cfg.Store.Report(id, secret, rep, s.cfg.Now())
	switch {
	case errors.Is(err, ErrUnknownLearner), errors.Is(err, ErrBadSecret):
		s.deny(w, r, got, "learner")
	case err != nil && rep.Validate() != nil:
		http.Error(w, "bad report: "+err.Error(), http.StatusBadRequest)
	case err != nil:
		s.logf("report from %s: %v", id, err)
		http.Error(w, "could not save the report", http.StatusInternalServerError)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// Run keeps the live view: after each change of the room (gathered for
// Coalesce) and every 30 s, it sends the whole view to every open
// dashboard. It returns when ctx ends.
func (s *Server) Run(ctx context.Context) {
	defer s.stopOnce.Do(func() { close(s.stopped) })
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		changed := s.cfg.Store.Changed()
		s.broadcast()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := s.cfg.Store.Err(); err != nil {
				s.logf("warning: %v", err)
			}
		case <-changed:
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.cfg.Coalesce):
			}
		}
	}
}

func (s *Server) broadcast() {
	data, err := json.Marshal(s.view())
	if err != nil {
		return
	}
	s.subMu.Lock()
	defer s.subMu.Unlock()
	s.last = data
	for ch := range s.subs {
		// Each viewer holds at most the newest view.
		select {
		case <-ch:
		default:
		}
		ch <- data
	}
}

func (s *Server) subscribe() (chan []byte, func()) {
	ch := make(chan []byte, 1)
	s.subMu.Lock()
	s.subs[ch] = struct{}{}
	s.subMu.Unlock()
	return ch, func() {
		s.subMu.Lock()
		delete(s.subs, ch)
		s.subMu.Unlock()
	}
}

// events streams the view as server-sent events: the whole view at once,
// then again on every change.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	ch, cancel := s.subscribe()
	defer cancel()
	send := func(data []byte) bool {
		if _, err := fmt.Fprintf(w, "event: view\ndata: %s\n\n", data); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// The first view is built now: the broadcast one may be older.
	first, err := json.Marshal(s.view())
	if err != nil || !send(first) {
		return
	}
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.stopped:
			return
		case data := <-ch:
			if !send(data) {
				return
			}
		case <-keep.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}
