package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kubetutor/kubetutor/internal/fsutil"
)

// Handler serves a mirror directory (what Run writes with MirrorDir) read
// only: GET and HEAD (ranges too) of the regular files of the mirror layout
// (see MirrorFile) and nothing else: no directory listings, no hidden or
// other files, never through a symlink that leads out of dir. Each request
// is logged to log when it is not nil.
func Handler(dir string, log io.Writer) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(rec, "method not allowed", http.StatusMethodNotAllowed)
		} else {
			serveMirrorFile(rec, req, dir)
		}
		if log != nil {
			note := ""
			if rec.note != "" {
				note = " (" + rec.note + ")"
			}
			mu.Lock()
			fmt.Fprintf(log, "%s %s %s %d %s %s%s\n", start.Format("15:04:05"), req.RemoteAddr, req.Method, rec.status, req.URL.Path, FormatSize(rec.n), note)
			mu.Unlock()
		}
	})
}

// serveMirrorFile serves the mirror file the request names. The file is
// opened through an os.Root on dir, which refuses any path (a symlink
// included) that leads out of it, and without blocking on a FIFO. A file
// with more than one hard link is served only when every link is inside
// dir: another name outside it would make it a file of elsewhere (a hard
// link cannot be told from the file it links to).
func serveMirrorFile(w *statusRecorder, req *http.Request, dir string) {
	rel, ok := MirrorFile(req.URL.Path)
	if !ok {
		http.NotFound(w, req)
		return
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		http.Error(w, "the mirror directory cannot be opened", http.StatusInternalServerError)
		return
	}
	defer root.Close()
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		http.NotFound(w, req)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, req)
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		if inside := linksInside(dir, st); inside < int(st.Nlink) {
			w.note = fmt.Sprintf("refused: the file has %d hard links and only %d in the mirror, so it is also a file outside it; copy it into the mirror instead of linking it", st.Nlink, inside)
			http.NotFound(w, req)
			return
		}
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, req, "", fi.ModTime(), f)
}

// MirrorFile maps a request path to the file of the mirror layout it names,
// relative to the mirror directory; false for any other path:
//
//	/kubernetes/<ver>/bin/linux/<arch>/<binary>       and <binary>.sha256
//	/etcd/<ver>/etcd-<ver>-linux-<arch>.tar.gz         and /etcd/<ver>/SHA256SUMS
//	/cni/<ver>/cni-plugins-linux-<arch>-<ver>.tgz      and <tgz>.sha256
//
// <ver> is a release version (v1.2.3), <arch> amd64 or arm64, <binary> one
// of KubernetesBinaries.
func MirrorFile(urlPath string) (string, bool) {
	rest, ok := strings.CutPrefix(urlPath, "/")
	if !ok {
		return "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 3 || !versionFlagRE.MatchString(parts[1]) {
		return "", false
	}
	ver := parts[1]
	isArch := func(a string) bool { return a == "amd64" || a == "arm64" }
	ok = false
	switch parts[0] {
	case mirrorKubernetes:
		if len(parts) == 6 && parts[2] == "bin" && parts[3] == "linux" && isArch(parts[4]) {
			ok = slices.Contains(KubernetesBinaries, strings.TrimSuffix(parts[5], ".sha256"))
		}
	case mirrorEtcd:
		if len(parts) == 3 {
			ok = parts[2] == "SHA256SUMS" || parts[2] == EtcdArchive(ver, "amd64") || parts[2] == EtcdArchive(ver, "arm64")
		}
	case mirrorCNI:
		if len(parts) == 3 {
			f := strings.TrimSuffix(parts[2], ".sha256")
			ok = f == CNIArchive(ver, "amd64") || f == CNIArchive(ver, "arm64")
		}
	}
	if !ok {
		return "", false
	}
	return rest, true
}

// maxMirrorEntries bounds the walk linksInside makes of a mirror.
const maxMirrorEntries = 10000

// linksInside counts the names under dir (not following symlinks) of the
// file st describes: at most maxMirrorEntries entries are looked at.
func linksInside(dir string, st *syscall.Stat_t) int {
	n, seen := 0, 0
	_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if seen++; seen > maxMirrorEntries {
			return filepath.SkipAll
		}
		if !e.Type().IsRegular() {
			return nil
		}
		var other syscall.Stat_t
		if syscall.Lstat(p, &other) == nil && other.Dev == st.Dev && other.Ino == st.Ino {
			n++
		}
		return nil
	})
	return n
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	n      int64
	// note says, in the log, why a request was refused.
	note string
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

// CheckMirrorDir checks that dir exists, is a directory fit to be served
// (not /, not a home directory nor one that holds a home), and says what it
// holds: the components and versions found in the mirror layout.
func CheckMirrorDir(dir string) ([]string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("serve %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("serve %s: not a directory", dir)
	}
	if err := checkNotSystemDir(dir); err != nil {
		return nil, err
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

// checkNotSystemDir refuses / and any directory that is, or holds, a home
// directory: a mirror directory holds the mirror, which fetch --mirror-dir
// fills, and nothing else.
func checkNotSystemDir(dir string) error {
	real, err := RealPath(dir)
	if err != nil {
		return fmt.Errorf("serve %s: %w", dir, err)
	}
	if real == "/" {
		return fmt.Errorf("serve %s: that is the whole file system; give the directory kubetutor fetch --mirror-dir filled", dir)
	}
	for _, home := range homeDirs() {
		if Within(home, real) {
			what := "a home directory"
			if home != real {
				what = "a directory that holds the home directory " + home
			}
			return fmt.Errorf("serve %s: it is %s, with keys and secrets; give the directory kubetutor fetch --mirror-dir filled (such as %s)", dir, what, filepath.Join(home, "kubetutor-mirror"))
		}
	}
	return nil
}

// RealPath is path made absolute with every symlink resolved.
func RealPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// Within says path is dir or inside it (both absolute and clean).
func Within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// homeDirs are the home directories of people on this machine: the user's
// own ($HOME and the user database), root's, and those of the accounts of
// /etc/passwd with a uid from 1000 on (system accounts' "homes", such as
// /usr/sbin, are left out), resolved through symlinks.
func homeDirs() []string {
	cands := []string{os.Getenv("HOME"), "/root"}
	if u, err := user.Current(); err == nil {
		cands = append(cands, u.HomeDir)
	}
	if data, err := fsutil.ReadFile("/etc/passwd", fsutil.LimitConfig); err == nil {
		cands = append(cands, passwdHomes(data)...)
	}
	var out []string
	for _, h := range cands {
		if h == "" || !filepath.IsAbs(h) {
			continue
		}
		if real, err := filepath.EvalSymlinks(h); err == nil && real != "/" && !slices.Contains(out, real) {
			out = append(out, real)
		}
	}
	return out
}

// passwdHomes reads the home directories of /etc/passwd's accounts with a
// uid from 1000 on, except nobody (65534).
func passwdHomes(data []byte) []string {
	var out []string
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 7 {
			continue
		}
		uid, err := strconv.Atoi(f[2])
		if err != nil || uid < 1000 || uid == 65534 {
			continue
		}
		out = append(out, f[5])
	}
	return out
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
