package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// upstreamDir is where make upstream-stack (kubetutor fetch --from-source
// containerd crictl etcd cni) builds the upstream node stack: bin/ and cni/.
func upstreamDir() string {
	if d := os.Getenv("KUBETUTOR_UPSTREAM_DIR"); d != "" {
		return d
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = filepath.Join(os.Getenv("HOME"), ".cache")
	}
	return filepath.Join(cache, "kubetutor", "upstream-stack")
}

// TestRealDemoUpstream runs the whole demo, typing the lessons' blocks, on
// the second stack: upstream containerd 2.x (with its shim and ctr),
// etcd 3.6 and the CNI plugins in /opt/cni/bin, so that the lessons'
// containerd-2, etcd-3.6 and cni-opt variants run for real. What it puts in
// /opt/cni/bin it removes, also when it fails.
func TestRealDemoUpstream(t *testing.T) {
	d := newUpstreamDemo(t)
	start := time.Now()
	out, code := d.run("demo", "--auto", "--pause", "0", "--offline", "--bin-dir", kubeBinDir())
	if code != 0 {
		t.Fatalf("demo on the upstream stack: exit %d\n%s", code, out)
	}
	t.Logf("demo on the upstream stack (containerd 2.x, etcd 3.6, CNI plugins in /opt/cni/bin), from nothing to a Running pod: %s", time.Since(start).Round(time.Millisecond))
	for _, want := range []string{"containerd --config " + filepath.Join(d.dir, "containerd", "config.toml"), "CNI_BIN_DIR=/opt/cni/bin"} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo did not show %q:\n%s", want, out)
		}
	}
	final := d.checkAll()
	if final.Current != lastStep() {
		t.Errorf("after the demo: current step %q; not passing:\n%s", final.Current, final.failing())
	}
	ip := ""
	if c := findCheck(final, "cni", "pod-running"); c != nil && c.Status == "pass" {
		if i := strings.Index(c.Message, "with IP "); i >= 0 {
			ip = strings.TrimSuffix(c.Message[i+len("with IP "):], ".")
		}
	}
	if ip == "" {
		t.Fatalf("no running pod: %+v", final)
	}
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Get("http://" + ip + "/")
	if err != nil {
		t.Fatalf("GET the pod at %s: %v", ip, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Welcome to nginx") {
		t.Errorf("pod answered %d %q", resp.StatusCode, body)
	}
	// It was containerd 2.x that read the lesson's version = 2 file.
	if log, _ := os.ReadFile(filepath.Join(d.dir, "logs", "containerd.log")); !containerd2Started.Match(log) {
		t.Errorf("the demo's containerd is not 2.x; its log begins:\n%.1500s", log)
	}
	// The etcd lesson quotes what etcd 3.6 logs once it serves: the log says it.
	if want := lessonQuote(t, "etcd", "3.6: `"); !fileContains(filepath.Join(d.dir, "logs", "etcd.log"), want) {
		t.Errorf("the etcd lesson says etcd 3.6 logs %s; the demo's etcd log does not", want)
	}
	for _, b := range []string{"containerd", "etcd"} {
		ver, _ := exec.Command(filepath.Join(upstreamDir(), "bin", b), "--version").Output()
		t.Logf("upstream stack: %s", strings.TrimSpace(string(ver)))
	}
	assertBlocksCovered(t, d)
	down(t, d)
}

// newUpstreamDemo prepares a demo run on the upstream stack: the plugins of
// the CNI release in /opt/cni/bin (removed after the test), containerd 2.x,
// crictl and etcd 3.6 in the demo's bin/.
func newUpstreamDemo(t testing.TB) *demoRun {
	t.Helper()
	requireDemo(t)
	dir := upstreamDir()
	built := true
	for _, p := range []string{"bin/containerd", "bin/containerd-shim-runc-v2", "bin/ctr", "bin/crictl", "bin/etcd", "bin/etcdctl", "cni/bridge", "cni/host-local", "cni/loopback", "cni/portmap"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			built = false
		}
	}
	requireReal(t, "the upstream stack is not built in "+dir+" (make upstream-stack)", built)
	if _, err := os.Stat("/opt/cni/bin/bridge"); err == nil {
		t.Fatal("/opt/cni/bin already holds CNI plugins: this test installs its own there and needs a machine without them")
	}
	installCNI(t, filepath.Join(dir, "cni"), "/opt/cni/bin")

	d := newDemoRun(t)
	if err := os.MkdirAll(filepath.Join(d.dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"containerd", "containerd-shim-runc-v2", "ctr", "crictl", "etcd", "etcdctl"} {
		if err := os.Symlink(filepath.Join(dir, "bin", b), filepath.Join(d.dir, "bin", b)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

var containerd2Started = regexp.MustCompile(`msg="starting containerd".* version=v?2\.`)

// installCNI copies the plugins of src into dst, and removes them (and dst,
// and its parents, when it created them) after the test.
func installCNI(t testing.TB, src, dst string) {
	t.Helper()
	var created []string
	for p := dst; p != "/" && p != "."; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err != nil {
			created = append(created, p)
		}
	}
	var copied []string
	t.Cleanup(func() {
		for _, f := range copied {
			if err := os.Remove(f); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		for _, p := range created {
			if err := os.Remove(p); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil || len(entries) == 0 {
		t.Fatalf("the CNI plugins in %s: %v (%d files)", src, err, len(entries))
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dst, e.Name())
		if err := os.WriteFile(f, data, 0o755); err != nil {
			t.Fatal(err)
		}
		copied = append(copied, f)
	}
	t.Logf("installed %d CNI plugins into %s: %s", len(copied), dst, fmt.Sprint(len(entries)))
}

// lessonQuote is the text a lesson quotes in backquotes right after prefix
// (its prefix ending in "`"), for tests that check a lesson's quote against
// what the learner's screen shows.
func lessonQuote(t *testing.T, lesson, prefix string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "content", "lessons", lesson+".md"))
	if err != nil {
		t.Fatal(err)
	}
	md := strings.Join(strings.Fields(string(data)), " ") // quotes may wrap
	_, rest, ok := strings.Cut(md, prefix)
	if !ok {
		t.Fatalf("the %s lesson has no %q", lesson, prefix)
	}
	quote, _, ok := strings.Cut(rest, "`")
	if !ok || quote == "" {
		t.Fatalf("the %s lesson's quote after %q is not closed", lesson, prefix)
	}
	return quote
}

func fileContains(path, s string) bool {
	data, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(data), s)
}
