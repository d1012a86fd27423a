package room

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kubetutor/kubetutor/drills"
	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/textsafe"
)

// StateFile is the room file in the learner's state directory, next to the
// progress file. It holds the learner's secret: mode 0600.
const StateFile = "room.json"

// stateDirFlags names how to choose another state directory (as
// lessons.StateDirFlags, which this package cannot import).
const stateDirFlags = "--state-dir DIR or KUBETUTOR_STATE_DIR"

// SendTimeout bounds one report's trip to the room.
const SendTimeout = time.Second

// State is the room a learner joined.
type State struct {
	// URL is the room's base URL (scheme://host:port), without the token.
	URL  string `json:"url"`
	Name string `json:"name"`
	ID   string `json:"id"`
	// Secret is the learner's own; it proves the reports are theirs.
	Secret string `json:"secret"`
	// Fingerprint pins the room's certificate (SHA-256, hex) for https.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// LoadState reads the joined room from stateDir; nil when none was joined.
func LoadState(stateDir string) (*State, error) {
	path := filepath.Join(stateDir, StateFile)
	// The room file names where checks report and holds the secret: it is
	// only read from a directory nobody else can write.
	if err := fsutil.CheckPrivateDir(stateDir, stateDirFlags); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read the room file: the state directory: %w", err)
	}
	data, err := fsutil.ReadFile(path, fsutil.LimitSmall)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the room file: %w (kubetutor room leave removes it)", err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("read the room file %s: %w (kubetutor room leave removes it)", path, err)
	}
	if st.URL == "" || st.ID == "" || st.Secret == "" {
		return nil, fmt.Errorf("read the room file %s: it names no room (kubetutor room leave removes it)", path)
	}
	return &st, nil
}

// SaveState writes the joined room to stateDir, atomically and 0600 (it
// holds the learner's secret), in a directory of the user's own
// (fsutil.MkdirPrivate).
func SaveState(stateDir string, st *State) error {
	if err := fsutil.MkdirPrivate(stateDir, stateDirFlags); err != nil {
		return fmt.Errorf("save the room: the state directory: %w", err)
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the room file: %w", err)
	}
	if err := fsutil.WriteFile(filepath.Join(stateDir, StateFile), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save the room: %w", err)
	}
	return nil
}

// JoinKeyFile, in the learner's state directory, holds a random key that
// makes this learner's join nonce for each room (JoinNonce). Mode 0600.
const JoinKeyFile = "room-key"

// JoinNonce is the nonce a join from stateDir sends to the room of
// joinToken: an HMAC of the join token under the state directory's key,
// which it makes and saves first if there is none. Saving comes before
// the room is asked: a learner who cannot save gets this error and the
// room never hears of them; a learner whose join answer was lost or not
// saved later joins again with the same nonce and gets their row back
// (Store.JoinWith), whichever of the room's addresses they use.
func JoinNonce(stateDir, joinToken string) (string, error) {
	if err := fsutil.MkdirPrivate(stateDir, stateDirFlags); err != nil {
		return "", fmt.Errorf("join the room: nothing was sent, as the state directory cannot keep this learner's key: %w", err)
	}
	path := filepath.Join(stateDir, JoinKeyFile)
	data, err := fsutil.ReadFile(path, fsutil.LimitSmall)
	key, herr := hex.DecodeString(strings.TrimSpace(string(data)))
	switch {
	case err == nil && herr == nil && len(key) == 32:
	case err == nil || errors.Is(err, fs.ErrNotExist):
		// None yet, or not one kubetutor wrote: a new key (the rows it
		// would have reclaimed stay taken; the instructor can remove them).
		key = make([]byte, 32)
		_, _ = rand.Read(key)
		if err := fsutil.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("join the room: nothing was sent, as this learner's key could not be saved: %w (choose another state directory with %s)", err, stateDirFlags)
		}
	default:
		return "", fmt.Errorf("join the room: nothing was sent, as this learner's key could not be read: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("kubetutor room join nonce\x00" + joinToken))
	return hex.EncodeToString(mac.Sum(nil)), nil
}

// RemoveState forgets the joined room; false when none was joined.
func RemoveState(stateDir string) (bool, error) {
	path := filepath.Join(stateDir, StateFile)
	err := os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("remove the room file %s: %w", path, err)
	}
	return true, nil
}

// JoinURL is a parsed join URL: http(s)://HOST:PORT/?token=JOIN[&fingerprint=HEX].
type JoinURL struct {
	Base        string
	Token       string
	Fingerprint string
}

// ParseJoinURL reads the URL `room serve` prints inside its join command.
func ParseJoinURL(raw string) (JoinURL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return JoinURL{}, fmt.Errorf("read the room URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return JoinURL{}, fmt.Errorf("the room URL %q is not an http:// or https:// URL", raw)
	}
	q := u.Query()
	j := JoinURL{Base: u.Scheme + "://" + u.Host, Token: q.Get("token")}
	if j.Token == "" {
		return JoinURL{}, fmt.Errorf("the room URL has no ?token=: copy the whole join command that kubetutor room serve printed")
	}
	if fp := q.Get("fingerprint"); fp != "" {
		if j.Fingerprint, err = NormalizeFingerprint(fp); err != nil {
			return JoinURL{}, err
		}
	}
	return j, nil
}

// Fingerprint is a certificate's SHA-256, as openssl prints it (AB:CD:...).
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// NormalizeFingerprint accepts a SHA-256 fingerprint with or without colons,
// in either case, and returns it as lowercase hex.
func NormalizeFingerprint(fp string) (string, error) {
	h := strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(strings.TrimPrefix(strings.TrimSpace(fp), "sha256:")))
	if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("%q is not a SHA-256 certificate fingerprint (64 hex digits, colons allowed)", fp)
	}
	return h, nil
}

// Client talks to a room.
type Client struct {
	base string
	http *http.Client
}

// NewClient is a client for the room at base. For https, fingerprint
// (hex SHA-256) pins the room's certificate, which is self-signed.
func NewClient(base, fingerprint string) (*Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the room is on the workshop's network
	if strings.HasPrefix(base, "https://") {
		if fingerprint == "" {
			return nil, fmt.Errorf("the room at %s uses TLS: give its certificate fingerprint (the join command kubetutor room serve --tls printed carries it, or --fingerprint)", base)
		}
		want, err := NormalizeFingerprint(fingerprint)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = &tls.Config{
			MinVersion: tls.VersionTLS12,
			// The certificate is self-signed: trust comes from the pinned
			// fingerprint, checked below, not from a CA.
			InsecureSkipVerify: true, //nolint:gosec
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("the room sent no certificate")
				}
				got, _ := NormalizeFingerprint(Fingerprint(cs.PeerCertificates[0].Raw))
				if got != want {
					return fmt.Errorf("the room's certificate has fingerprint %s, not the one given: this is not the instructor's room", Fingerprint(cs.PeerCertificates[0].Raw))
				}
				_, err := x509.ParseCertificate(cs.PeerCertificates[0].Raw)
				return err
			},
		}
	}
	return &Client{base: strings.TrimRight(base, "/"), http: &http.Client{Transport: tr, CheckRedirect: sameOrigin}}, nil
}

// sameOrigin follows a redirect only within the room's own scheme, host
// and port: every request carries a token (join, or the learner's secret),
// which Go's client would forward to another port of the same host.
func sameOrigin(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || !strings.EqualFold(req.URL.Host, first.Host) {
		return fmt.Errorf("the room redirected to %s://%s, not itself (%s://%s): refused, the request carries your token", req.URL.Scheme, req.URL.Host, first.Scheme, first.Host)
	}
	if len(via) >= 10 {
		return errors.New("the room redirected 10 times: stopped")
	}
	return nil
}

// StatusError is a room's refusal.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string {
	// The body is the server's: shown with its control characters visible.
	msg := textsafe.Line(strings.TrimSpace(e.Body))
	if msg == "" {
		msg = http.StatusText(e.Code)
	}
	return fmt.Sprintf("the room answered %d: %s", e.Code, msg)
}

func (c *Client) post(ctx context.Context, path, auth string, body, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode the request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("build the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+auth)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("reach the room at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return &StatusError{Code: resp.StatusCode, Body: string(msg)}
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(out); err != nil {
		return fmt.Errorf("read the room's answer: %w", err)
	}
	return nil
}

// Announced asks the room, as the learner of st, which drill it announces:
// a drill this kubetutor has, or "" when none. What the room answers is
// only read: starting the drill is the learner's own command.
func (c *Client) Announced(ctx context.Context, st *State) (Announcement, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/announced", nil)
	if err != nil {
		return Announcement{}, fmt.Errorf("build the request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+st.ID+"."+st.Secret)
	resp, err := c.http.Do(req)
	if err != nil {
		return Announcement{}, fmt.Errorf("reach the room at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return Announcement{}, &StatusError{Code: resp.StatusCode, Body: string(msg)}
	}
	var a Announcement
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<10)).Decode(&a); err != nil {
		return Announcement{}, fmt.Errorf("read the room's answer: %w", err)
	}
	if a.Drill == "" {
		return Announcement{}, nil
	}
	if err := CheckDrillID(a.Drill); err != nil {
		return Announcement{}, fmt.Errorf("the room announces a drill this kubetutor does not have: %w (drills: %s)", err, strings.Join(drills.IDs(), ", "))
	}
	// The title shown is this kubetutor's own, not the room's.
	return announcement(a.Drill), nil
}

// Join asks the room for a learner record.
func (c *Client) Join(ctx context.Context, joinToken string, req JoinRequest) (JoinResponse, error) {
	var resp JoinResponse
	err := c.post(ctx, "/api/join", joinToken, req, &resp)
	return resp, err
}

// Send posts one report as the learner of st.
func (c *Client) Send(ctx context.Context, st *State, rep Report) error {
	return c.post(ctx, "/api/report", st.ID+"."+st.Secret, rep, nil)
}

// Sender sends a process's reports in the background, one at a time, the
// newest winning: a check never waits for the room, and Wait bounds how
// long the process waits for the last report at exit.
type Sender struct {
	client *Client
	state  *State

	mu       sync.Mutex
	pending  *Report
	busy     bool
	idle     chan struct{}
	lastSent []byte
	lastAt   time.Time
	// Err is the last send's error, for `room status` and tests.
	err error
}

// NewSender is a background sender for the room of st.
func NewSender(st *State) (*Sender, error) {
	c, err := NewClient(st.URL, st.Fingerprint)
	if err != nil {
		return nil, err
	}
	idle := make(chan struct{})
	close(idle)
	return &Sender{client: c, state: st, idle: idle}, nil
}

// Send queues a report and returns at once.
func (s *Sender) Send(rep Report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = &rep
	if s.busy {
		return
	}
	s.busy = true
	s.idle = make(chan struct{})
	go s.loop(s.idle)
}

// resendAfter is how soon an unchanged report is sent again (check --watch
// re-checks every second).
const resendAfter = 20 * time.Second

func (s *Sender) loop(idle chan struct{}) {
	for {
		s.mu.Lock()
		rep := s.pending
		s.pending = nil
		if rep == nil {
			s.busy = false
			close(idle)
			s.mu.Unlock()
			return
		}
		data, _ := json.Marshal(rep)
		if bytes.Equal(data, s.lastSent) && time.Since(s.lastAt) < resendAfter {
			s.mu.Unlock()
			continue
		}
		s.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), SendTimeout)
		err := s.client.Send(ctx, s.state, *rep)
		cancel()

		s.mu.Lock()
		s.err = err
		if err == nil {
			s.lastSent, s.lastAt = data, time.Now()
		}
		s.mu.Unlock()
	}
}

// Wait waits until the queued reports are sent or failed, at most max.
func (s *Sender) Wait(max time.Duration) {
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
}

// Err is the last send's error.
func (s *Sender) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
