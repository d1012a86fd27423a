package room

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/kubetutor/kubetutor/internal/fetch"
)

// ServeConfig says how to open a room for Open: where it listens, where
// it is kept, and what it serves.
type ServeConfig struct {
	// Addr is the listen address (host:port).
	Addr string
	// Data, when set, keeps the room (learners, tokens, TLS certificate)
	// in this directory; "" keeps it in memory.
	Data string
	// TLS serves HTTPS with a self-signed certificate (kept in Data);
	// NewCertificate replaces the one kept there.
	TLS            bool
	NewCertificate bool
	// InstructorToken and JoinToken are used when set; else the ones kept
	// in Data, else random ones (kept in Data).
	InstructorToken string
	JoinToken       string
	// Announce, when set, announces this drill to the room (Store.Announce);
	// else the one kept in Data stays announced.
	Announce string
	// StuckAfter, MirrorDir and Log are the server's (see Config).
	StuckAfter time.Duration
	MirrorDir  string
	Log        io.Writer
}

var (
	// ErrDataInMirror: the room's data directory and the mirror directory
	// overlap, so the mirror would serve the room's tokens and key.
	ErrDataInMirror = errors.New("the room's data directory and the mirror directory overlap")
	// ErrSameTokens: the instructor token and the join token are the same,
	// so a learner would see the dashboard.
	ErrSameTokens = errors.New("the instructor token and the join token are the same")
)

// Room is a room opened by Open: its store, its tokens and its listener.
// Serve serves it until its context ends; Close releases it.
type Room struct {
	cfg   ServeConfig
	store *Store
	ln    net.Listener

	instructorToken, joinToken string
	scheme, fingerprint        string
	certReplaced               bool
}

// Open opens the room's store, settles its tokens and listens on cfg.Addr
// (with TLS when asked). The room is closed again when Open fails.
func Open(ctx context.Context, cfg ServeConfig) (r *Room, err error) {
	r = &Room{cfg: cfg, scheme: "http"}
	defer func() {
		if err != nil {
			r.Close()
			r = nil
		}
	}()
	if r.store, err = OpenStore(cfg.Data); err != nil {
		return r, err
	}
	if cfg.MirrorDir != "" && cfg.Data != "" {
		m, merr := fetch.RealPath(cfg.MirrorDir)
		d, derr := fetch.RealPath(cfg.Data)
		if merr == nil && derr == nil && (fetch.Within(d, m) || fetch.Within(m, d)) {
			return r, ErrDataInMirror
		}
	}
	if err := r.settleTokens(); err != nil {
		return r, err
	}
	if cfg.Announce != "" {
		if err := r.store.Announce(cfg.Announce); err != nil {
			return r, err
		}
	}
	if r.ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Addr); err != nil {
		return r, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if cfg.TLS {
		return r, r.serveTLS()
	}
	return r, nil
}

// settleTokens chooses the instructor and join tokens (see ServeConfig).
func (r *Room) settleTokens() error {
	var err error
	if r.instructorToken, err = r.token("instructor-token", r.cfg.InstructorToken); err != nil {
		return err
	}
	if r.joinToken, err = r.token("join-token", r.cfg.JoinToken); err != nil {
		return err
	}
	if r.instructorToken == r.joinToken {
		return ErrSameTokens
	}
	return nil
}

// token is the given token, else the one kept with the room, else a new
// random one (kept with the room when it has a data directory).
func (r *Room) token(key, given string) (string, error) {
	t := given
	if t == "" {
		t = r.store.Meta(key)
	}
	if t == "" {
		t = RandomToken()
	}
	if err := r.store.SetMeta(key, t); err != nil {
		return "", err
	}
	return t, nil
}

// serveTLS puts the room's certificate (kept in Data, or made) on the
// listener.
func (r *Room) serveTLS() error {
	cert, made, err := Certificate(r.cfg.Data, hosts(r.ln.Addr()), r.cfg.NewCertificate)
	if err != nil {
		return err
	}
	r.certReplaced = made && r.cfg.NewCertificate
	r.fingerprint = Fingerprint(cert.Certificate[0])
	r.ln = tls.NewListener(r.ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	r.scheme = "https"
	return nil
}

// hosts are the names the room's certificate is made for.
func hosts(addr net.Addr) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	for _, u := range fetch.MirrorURLs(addr) {
		if host, _, err := net.SplitHostPort(strings.TrimPrefix(u, "http://")); err == nil {
			hosts = append(hosts, host)
		}
	}
	return hosts
}

// Addr is the address the room listens on.
func (r *Room) Addr() net.Addr { return r.ln.Addr() }

// Scheme is "https" with TLS, else "http".
func (r *Room) Scheme() string { return r.scheme }

// URLs are the room's base URLs: one per address of this machine when it
// listens on all of them.
func (r *Room) URLs() []string {
	urls := fetch.MirrorURLs(r.ln.Addr())
	for i, u := range urls {
		urls[i] = r.scheme + strings.TrimPrefix(u, "http")
	}
	return urls
}

// Fingerprint is the TLS certificate's SHA-256 fingerprint; "" without TLS.
func (r *Room) Fingerprint() string { return r.fingerprint }

// CertificateReplaced says NewCertificate made a new certificate: learners
// who joined before must join again.
func (r *Room) CertificateReplaced() bool { return r.certReplaced }

// InstructorToken guards the dashboard and the API.
func (r *Room) InstructorToken() string { return r.instructorToken }

// JoinToken lets learners join.
func (r *Room) JoinToken() string { return r.joinToken }

// Announced is the drill announced to the room, "" when none.
func (r *Room) Announced() string { return r.store.Announced() }

// Serve serves the room until ctx ends, then shuts it down: open
// dashboards get a grace of two seconds, and the store is closed (its
// last reports written). It returns nil once the room is closed after ctx
// ended, and the error when serving failed first.
func (r *Room) Serve(ctx context.Context) error {
	srv := NewServer(Config{
		Store: r.store, InstructorToken: r.instructorToken, JoinToken: r.joinToken, StuckAfter: r.cfg.StuckAfter,
		MirrorDir: r.cfg.MirrorDir, Log: r.cfg.Log,
	})
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10,
		ErrorLog: log.New(r.cfg.Log, "", log.Ltime)}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.Run(runCtx) }()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(r.ln) }()
	select {
	case err := <-errc:
		cancel()
		wg.Wait()
		return fmt.Errorf("serve the room on %s: %w", r.cfg.Addr, err)
	case <-ctx.Done():
	}
	cancel()
	shutCtx, stop := context.WithTimeout(context.Background(), 2*time.Second)
	defer stop()
	// Open dashboards hold their event streams: close them after a grace.
	if err := hs.Shutdown(shutCtx); err != nil {
		_ = hs.Close()
	}
	wg.Wait()
	return r.store.Close()
}

// Close closes the listener and the store; it may be called again after
// Serve.
func (r *Room) Close() error {
	if r.ln != nil {
		_ = r.ln.Close()
	}
	if r.store != nil {
		return r.store.Close()
	}
	return nil
}
