package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Handler serves a mirror directory (what Run writes with MirrorDir) read
// only: GET and HEAD, ranges, no hidden files (temporary files, manifests).
// Each request is logged to log when it is not nil.
func Handler(dir string, log io.Writer) http.Handler {
	files := http.FileServer(http.Dir(dir))
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		switch {
		case req.Method != http.MethodGet && req.Method != http.MethodHead:
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(rec, "method not allowed", http.StatusMethodNotAllowed)
		case hiddenPath(req.URL.Path):
			http.NotFound(rec, req)
		default:
			files.ServeHTTP(rec, req)
		}
		if log != nil {
			mu.Lock()
			fmt.Fprintf(log, "%s %s %s %d %s %s\n", start.Format("15:04:05"), req.RemoteAddr, req.Method, rec.status, req.URL.Path, FormatSize(rec.n))
			mu.Unlock()
		}
	})
}

func hiddenPath(p string) bool {
	for part := range strings.SplitSeq(p, "/") {
		if strings.HasPrefix(part, ".") {
			return true
		}
	}
	return false
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	n      int64
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	n, err := r.ResponseWriter.Write(p)
	r.n += int64(n)
	return n, err
}

// CheckMirrorDir checks that dir exists and says what it holds: the
// components and versions found in the mirror layout.
func CheckMirrorDir(dir string) ([]string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("serve %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("serve %s: not a directory", dir)
	}
	var held []string
	for _, c := range []string{mirrorKubernetes, mirrorEtcd, mirrorCNI} {
		vers, _ := os.ReadDir(filepath.Join(dir, c))
		for _, v := range vers {
			if v.IsDir() && !strings.HasPrefix(v.Name(), ".") {
				held = append(held, c+" "+v.Name())
			}
		}
	}
	return held, nil
}

// Serve serves dir on addr until ctx ends. ready, when not nil, is called
// with the address it listens on once it does.
func Serve(ctx context.Context, dir, addr string, log io.Writer, ready func(net.Addr)) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           Handler(dir, log),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", addr, err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", addr, err)
	}
	return nil
}

// MirrorURLs are the URLs learners can give --mirror for a server listening
// on addr: one per address of this machine when it listens on all of them.
func MirrorURLs(addr net.Addr) []string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return []string{"http://" + addr.String()}
	}
	if !tcp.IP.IsUnspecified() {
		return []string{"http://" + net.JoinHostPort(tcp.IP.String(), fmt.Sprint(tcp.Port))}
	}
	var urls []string
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() || ipn.IP.To4() == nil {
			continue
		}
		urls = append(urls, "http://"+net.JoinHostPort(ipn.IP.String(), fmt.Sprint(tcp.Port)))
	}
	sort.Strings(urls)
	if len(urls) == 0 {
		urls = []string{"http://" + net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))}
	}
	return urls
}
