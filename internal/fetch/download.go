package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/textsafe"
)

// HTTPOptions bound every request fetch makes.
type HTTPOptions struct {
	// ConnectTimeout bounds connecting (DNS, TCP, TLS). Default 15s.
	ConnectTimeout time.Duration
	// HeaderTimeout bounds the wait for the response headers. Default 30s.
	HeaderTimeout time.Duration
	// StallTimeout is the longest wait for the next bytes of a response
	// body: a server that stops sending fails the attempt. Default 30s.
	StallTimeout time.Duration
	// Retries is how many more attempts a transient failure (a network
	// error, a stall, a cut connection, a 5xx) gets. Default 2; negative: none.
	Retries int
	// RetryDelay is the pause before the first retry, doubled after each.
	// Default 1s.
	RetryDelay time.Duration
	// MaxSize bounds one download: a server that announces more, or sends
	// more, fails it (a release file is at most a few hundred MB). Default
	// DefaultMaxSize.
	MaxSize int64
	// Client replaces the HTTP client built from the timeouts above (the
	// stall timeout still applies; Fingerprint does not).
	Client *http.Client
	// Fingerprint, when set, pins every TLS connection to the certificate
	// with this SHA-256 (hex, colons allowed), self-signed or not, as
	// `room join` pins a room's: a room's mirror is trusted for being
	// served with the room's certificate.
	Fingerprint string
}

// DefaultMaxSize is the largest download fetch takes by default: 1 GB,
// several times the largest release binary (kube-apiserver, kubelet).
const DefaultMaxSize = 1_000_000_000

func (o *HTTPOptions) setDefaults() {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 15 * time.Second
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 30 * time.Second
	}
	// Waiting for the response headers is waiting for bytes too: the
	// stall timeout bounds it unless a shorter header timeout is given.
	if o.HeaderTimeout <= 0 || o.HeaderTimeout > o.StallTimeout {
		o.HeaderTimeout = o.StallTimeout
	}
	switch {
	case o.Retries == 0:
		o.Retries = 2
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = time.Second
	}
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
}

func newHTTPClient(o HTTPOptions) *http.Client {
	if o.Client != nil {
		return o.Client
	}
	dialer := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ResponseHeaderTimeout: o.HeaderTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          10,
		ForceAttemptHTTP2:     true,
	}
	if o.Fingerprint != "" {
		tr.TLSClientConfig = PinnedTLS(o.Fingerprint)
		tr.Proxy = nil // a room's mirror is on the workshop's network
	}
	return &http.Client{Transport: tr, CheckRedirect: keepHTTPS}
}

// keepHTTPS follows at most 10 redirects, and none from https to anything
// else: that would drop the connection's proof of who sends the file.
func keepHTTPS(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing the redirect from %s to %s: it leaves HTTPS", via[len(via)-1].URL.Redacted(), req.URL.Redacted())
	}
	return nil
}

// normalizeFingerprint is a SHA-256 certificate fingerprint as lowercase hex.
func normalizeFingerprint(fp string) string {
	return strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(strings.TrimPrefix(strings.TrimSpace(fp), "sha256:")))
}

// PinnedTLS is a TLS configuration that accepts exactly the certificate
// whose SHA-256 is fingerprint (hex, colons allowed) and no other, whoever
// signed it.
func PinnedTLS(fingerprint string) *tls.Config {
	want := normalizeFingerprint(fingerprint)
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The room's certificate is self-signed: trust comes from the
		// pinned fingerprint, checked below, not from a CA.
		InsecureSkipVerify: true, //nolint:gosec
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the mirror sent no certificate")
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if got := hex.EncodeToString(sum[:]); got != want {
				return fmt.Errorf("the mirror's certificate has fingerprint %s, not the room's pinned %s: this is not the instructor's room", got, want)
			}
			return nil
		},
	}
}

// ChecksumError is a download whose SHA-256 is not the published one.
type ChecksumError struct {
	URL, Got, Want string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("sha256 mismatch: got %s, want %s (from %s)", e.Got, e.Want, e.URL)
}

// StatusError is an HTTP response other than 200 OK.
type StatusError struct {
	URL    string
	Status string
	Code   int
}

// Error says what the server answered; its reason phrase is the server's,
// shown with its control characters visible.
func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: %s", e.URL, textsafe.Line(e.Status))
}

// transientError is a failure worth another attempt.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

var errStalled = errors.New("stalled")

// tempPrefix starts the name of every temporary file fetch makes, so that
// leftovers of a killed run can be recognized and swept.
const tempPrefix = ".kubetutor-fetch-"

type downloader struct {
	client  *http.Client
	o       HTTPOptions
	rep     Reporter
	verbose bool
	// creds are the user and password the sources' URLs held, by host
	// (Run takes them out of the URLs).
	creds credentials
}

// get downloads url into the writer newSink returns, a fresh one for every
// attempt, retrying transient failures. With bar, progress is reported under
// label.
func (d *downloader) get(ctx context.Context, label, url string, newSink func() (io.Writer, error), bar bool) (int64, error) {
	delay := d.o.RetryDelay
	for attempt := 0; ; attempt++ {
		n, err := d.once(ctx, label, url, newSink, bar)
		if err == nil {
			return n, nil
		}
		var te *transientError
		if !errors.As(err, &te) || attempt >= d.o.Retries || ctx.Err() != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if attempt > 0 {
				err = fmt.Errorf("%w (after %d attempts)", err, attempt+1)
			}
			return 0, err
		}
		d.rep.Line("%s: %v; retrying in %s", label, err, delay)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		delay *= 2
	}
}

// once is one attempt of get.
func (d *downloader) once(ctx context.Context, label, url string, newSink func() (io.Writer, error), bar bool) (int64, error) {
	w, err := newSink()
	if err != nil {
		return 0, err
	}
	reqCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	req.Header.Set("User-Agent", "kubetutor-fetch")
	if u := d.creds[req.URL.Host]; u != nil {
		// Sent as the URL's userinfo would be (basic auth), never shown:
		// url names the file without it.
		req.URL.User = u
	}
	if d.verbose {
		d.rep.Line("GET %s", url)
	}
	// The stall timer runs from the request on: a server that accepts the
	// connection and never answers stalls as surely as one that stops
	// sending half-way.
	a := &transfer{d: d, ctx: ctx, reqCtx: reqCtx, url: url, stall: time.AfterFunc(d.o.StallTimeout, func() { cancel(errStalled) })}
	defer a.stall.Stop()
	resp, err := a.do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	size := resp.ContentLength
	if size > d.o.MaxSize {
		return 0, fmt.Errorf("GET %s: the server announces %s, more than the %s a release file can be: not downloaded", url, FormatSize(size), FormatSize(d.o.MaxSize))
	}
	if bar {
		d.rep.Start(label, size)
		defer d.rep.Status("")
	}
	return a.copy(w, resp.Body, size, bar)
}

// transfer is one GET of a download, under a stall timer that cancels
// reqCtx with errStalled.
type transfer struct {
	d           *downloader
	ctx, reqCtx context.Context
	url         string
	stall       *time.Timer
}

// do sends the request: an answer other than 200 is an error (transient
// when worth another attempt), and so is no answer.
func (a *transfer) do(req *http.Request) (*http.Response, error) {
	resp, err := a.d.client.Do(req)
	if err != nil {
		if a.ctx.Err() != nil {
			return nil, a.ctx.Err()
		}
		var ne net.Error
		if errors.Is(context.Cause(a.reqCtx), errStalled) || (errors.As(err, &ne) && ne.Timeout()) {
			// Not retried: a server that takes a connection and says
			// nothing is broken, not busy; retrying only triples the wait.
			return nil, fmt.Errorf("GET %s: no answer within %s (--stall-timeout): the server accepted the connection but sent nothing; check the mirror (--mirror) or the network", a.url, a.d.o.StallTimeout)
		}
		return nil, &transientError{fmt.Errorf("GET %s: %w", a.url, unwrapURLError(err))}
	}
	a.stall.Reset(a.d.o.StallTimeout)
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		err := &StatusError{URL: a.url, Status: resp.Status, Code: resp.StatusCode}
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
			return nil, &transientError{err}
		}
		return nil, err
	}
	return resp, nil
}

// copy copies body (size bytes; -1: unknown) into w, resetting the stall
// timer on every read and reporting progress with bar.
func (a *transfer) copy(w io.Writer, body io.Reader, size int64, bar bool) (int64, error) {
	var n int64
	buf := make([]byte, 64<<10)
	for {
		m, rerr := body.Read(buf)
		if m > 0 {
			if n+int64(m) > a.d.o.MaxSize {
				return n, fmt.Errorf("GET %s: the server sent more than the %s a release file can be: stopped", a.url, FormatSize(a.d.o.MaxSize))
			}
			a.stall.Reset(a.d.o.StallTimeout)
			if _, werr := w.Write(buf[:m]); werr != nil {
				return n, werr
			}
			n += int64(m)
			if bar {
				a.d.rep.Progress(n)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return n, a.readError(rerr, n, size)
		}
	}
	if size >= 0 && n != size {
		return n, &transientError{fmt.Errorf("GET %s: got %d of %d bytes", a.url, n, size)}
	}
	return n, nil
}

// readError says why reading the body failed after n bytes.
func (a *transfer) readError(rerr error, n, size int64) error {
	switch {
	case errors.Is(context.Cause(a.reqCtx), errStalled):
		return &transientError{fmt.Errorf("GET %s: no data for %s after %s: the server stopped sending", a.url, a.d.o.StallTimeout, FormatSize(n))}
	case a.ctx.Err() != nil:
		return a.ctx.Err()
	case size >= 0:
		return &transientError{fmt.Errorf("GET %s: the transfer broke off after %s of %s: %w", a.url, FormatSize(n), FormatSize(size), rerr)}
	default:
		return &transientError{fmt.Errorf("GET %s: the transfer broke off after %s: %w", a.url, FormatSize(n), rerr)}
	}
}

// unwrapURLError drops *url.Error's `Get "URL":` prefix, which the callers say themselves.
func unwrapURLError(err error) error {
	var ue *neturl.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// small downloads a checksum file (at most 1 MiB) into memory.
func (d *downloader) small(ctx context.Context, label, url string) ([]byte, error) {
	var buf limitedBuffer
	buf.limit = 1 << 20
	_, err := d.get(ctx, label, url, func() (io.Writer, error) { buf.Reset(); return &buf, nil }, false)
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type limitedBuffer struct {
	bytes.Buffer
	limit int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.limit {
		return 0, fmt.Errorf("more than %s: not a checksum file", FormatSize(int64(b.limit)))
	}
	return b.Buffer.Write(p)
}

// checksum fetches a checksum file and finds name's digest in it. It
// returns the digest and the file as published.
func (d *downloader) checksum(ctx context.Context, url, name string) (string, []byte, error) {
	data, err := d.small(ctx, name, url)
	if err != nil {
		return "", nil, fmt.Errorf("get the checksum: %w", err)
	}
	sum, err := ParseChecksum(data, name)
	if err != nil {
		return "", nil, fmt.Errorf("read the checksum %s: %w", url, err)
	}
	return sum, data, nil
}

// verified downloads url into a temporary file in dir and checks its SHA-256
// against want. It returns the temporary file's path, which the caller
// renames into place or removes; on error nothing is left in dir.
func (d *downloader) verified(ctx context.Context, label, url, want, dir string) (string, int64, error) {
	var (
		f *os.File
		h hash.Hash
	)
	drop := func() {
		if f != nil {
			f.Close()
			os.Remove(f.Name())
			f = nil
		}
	}
	newSink := func() (io.Writer, error) {
		drop()
		var err error
		f, err = os.CreateTemp(dir, tempPrefix+filepath.Base(label)+"-*.tmp")
		if err != nil {
			return nil, fmt.Errorf("create a temporary file: %w", err)
		}
		h = sha256.New()
		return io.MultiWriter(f, h), nil
	}
	n, err := d.get(ctx, label, url, newSink, true)
	if err != nil {
		drop()
		return "", 0, err
	}
	if err := f.Sync(); err != nil {
		drop()
		return "", 0, fmt.Errorf("sync %s: %w", f.Name(), err)
	}
	name := f.Name()
	if err := f.Close(); err != nil {
		f = nil
		os.Remove(name)
		return "", 0, fmt.Errorf("close %s: %w", name, err)
	}
	f = nil
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		os.Remove(name)
		return "", 0, &ChecksumError{URL: url, Got: got, Want: want}
	}
	return name, n, nil
}

// install downloads url to dir/name, verified against want before it is
// given mode and its name.
func (d *downloader) install(ctx context.Context, label, url, want, dir, name string, mode os.FileMode) (int64, error) {
	tmp, n, err := d.verified(ctx, label, url, want, dir)
	if err != nil {
		return 0, err
	}
	if err := commit(tmp, filepath.Join(dir, name), mode); err != nil {
		return 0, err
	}
	return n, nil
}

// commit gives a verified temporary file its mode and then its name, and
// makes the rename durable. On error the temporary file is removed.
func commit(tmp, dest string, mode os.FileMode) error {
	// Never put a download in place of a directory, device or FIFO.
	if err := fsutil.CheckRegular(dest); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %s in place: %w", dest, err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %s in place: %w", dest, err)
	}
	syncDir(filepath.Dir(dest))
	return nil
}

// writeFileAtomic writes data to path through a synced temporary file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	return fsutil.WriteFile(path, data, mode)
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// fileDigest is the SHA-256 of a file, or "" when it cannot be read.
func fileDigest(path string) string {
	f, err := fsutil.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sweepTemps removes temporary files a killed run left in dir, an hour old or more.
func sweepTemps(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tempPrefix) && !strings.HasPrefix(e.Name(), buildStagePrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}
