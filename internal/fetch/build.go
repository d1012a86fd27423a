package fetch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/textsafe"
)

// BuildOptions configure --from-source: building the Kubernetes binaries
// from the k8s.io/kubernetes module through the Go module proxy, as
// the recipe in ../shared/real-cluster.md does.
type BuildOptions struct {
	// Go is the go command. Default: go on PATH, else /usr/local/go/bin/go.
	Go string
	// Dir is the wrapper module's directory. Default: DefaultBuildDir.
	Dir string
	// GoOutput, when set, receives go's own output as it runs (go build
	// runs with -v: it names every package it compiles).
	GoOutput io.Writer
	// Etcd and CNI build etcd (and etcdctl) and the CNI plugins from their
	// modules at Options.EtcdVersion / CNIVersion instead of taking the OS's.
	Etcd, CNI bool
	// ProgressEvery is how often a long go command prints how far it got
	// when the output is not a terminal (a terminal's status line is redrawn
	// every second). Default 30s.
	ProgressEvery time.Duration
	// Timeout bounds the build of one part other than Kubernetes
	// (containerd, crictl, etcd, the CNI plugins). Default 30 minutes.
	Timeout time.Duration
}

// buildStagePrefix names the directory, inside the bin dir, go build writes
// into before the binaries are renamed into place.
const buildStagePrefix = ".kubetutor-build-"

// readyStamp marks a wrapper module whose set-up finished.
const readyStamp = ".kubetutor-ready"

// wrapperGoMod is the wrapper module, as the recipe in
// ../shared/real-cluster.md describes it.
const wrapperGoMod = "module kubetutor.local/kubebuild\n\ngo 1.26\n"

// wrapperTools is the wrapper module's tools.go: it imports every program
// fetch builds (the course's table's FromKubernetes programs), so that go
// mod tidy records what each needs.
func wrapperTools() string {
	var b strings.Builder
	b.WriteString("//go:build tools\npackage tools\n\nimport (\n")
	for _, p := range BuildPackages() {
		fmt.Fprintf(&b, "\t_ %q\n", p)
	}
	b.WriteString(")\n")
	return b.String()
}

// DefaultBuildDir is the wrapper module's directory for version ver:
// $KUBETUTOR_BUILD_DIR, else ${XDG_CACHE_HOME:-~/.cache}/kubetutor/build-<ver>.
func DefaultBuildDir(ver string) (string, error) {
	if d := os.Getenv("KUBETUTOR_BUILD_DIR"); d != "" {
		return d, nil
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the cache directory: %w", err)
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "kubetutor", "build-"+ver), nil
}

var kubeVersionRE = regexp.MustCompile(`^v(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.]+)?$`)

// StagingVersion is the version of the published staging modules
// (k8s.io/api, k8s.io/client-go, ...) that match Kubernetes ver: v1.37.2 → v0.37.2.
func StagingVersion(ver string) (string, error) {
	m := kubeVersionRE.FindStringSubmatch(ver)
	if m == nil {
		return "", invalidf("Kubernetes version %q is not like v1.37.2", ver)
	}
	return "v0." + m[2] + "." + m[3] + m[4], nil
}

// VersionPackages are the packages whose variables -X sets, so that the
// binaries report their version (kubectl refuses to talk to a server that
// reports v0.0.0-master+$Format:%H$).
var VersionPackages = []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"}

// LDFlags is go build's -ldflags value for Kubernetes ver: stripped, with
// the version variables set, as the recipe sets them.
func LDFlags(ver string) (string, error) {
	m := kubeVersionRE.FindStringSubmatch(ver)
	if m == nil {
		return "", invalidf("Kubernetes version %q is not like v1.37.2", ver)
	}
	ld := "-s -w"
	for _, p := range VersionPackages {
		ld += fmt.Sprintf(" -X %[1]s.gitVersion=%[2]s -X %[1]s.gitMajor=%[3]s -X %[1]s.gitMinor=%[4]s -X %[1]s.gitTreeState=clean", p, ver, m[1], m[2])
	}
	return ld, nil
}

var stagingReplaceRE = regexp.MustCompile(`^\s*(?:replace\s+)?(k8s\.io/[a-z0-9-]+)\s+=>\s+\./staging/`)

// StagingModules lists the modules a k8s.io/kubernetes go.mod replaces with
// its ./staging/... directories: those must come from the proxy instead.
func StagingModules(gomod []byte) []string {
	var mods []string
	seen := map[string]bool{}
	for line := range strings.SplitSeq(string(gomod), "\n") {
		if m := stagingReplaceRE.FindStringSubmatch(line); m != nil && !seen[m[1]] {
			seen[m[1]] = true
			mods = append(mods, m[1])
		}
	}
	return mods
}

// BuildPackages are the packages go build builds, in the script's order.
func BuildPackages() []string {
	pkgs := make([]string, len(KubernetesBinaries))
	for i, b := range KubernetesBinaries {
		pkgs[i] = "k8s.io/kubernetes/cmd/" + b
	}
	return pkgs
}

// findGo returns the go command: the given one, go on PATH, or /usr/local/go/bin/go.
func findGo(given string) (string, error) {
	if given != "" {
		return given, nil
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if fi, err := os.Stat("/usr/local/go/bin/go"); err == nil && fi.Mode()&0o111 != 0 {
		return "/usr/local/go/bin/go", nil
	}
	return "", errors.New("no go command on PATH nor at /usr/local/go/bin/go: --from-source needs the Go toolchain (https://go.dev/dl)")
}

type builder struct {
	goCmd    string
	dir      string
	ver      string
	out      string
	rep      Reporter
	tty      bool
	goOutput io.Writer
	// every is how often progress is printed off a terminal.
	every time.Duration
}

// upToDate reports whether every binary is in the bin dir and reports ver.
func (b *builder) upToDate(ctx context.Context) bool {
	ok := make([]bool, len(KubernetesBinaries))
	var wg sync.WaitGroup
	for i, name := range KubernetesBinaries {
		wg.Go(func() {
			v, _ := binaryVersion(ctx, filepath.Join(b.out, name))
			ok[i] = v == b.ver
		})
	}
	wg.Wait()
	return !slices.Contains(ok, false)
}

// binaryVersion asks a Kubernetes binary for its version: `--version`, or
// `version --client` for kubectl.
func binaryVersion(ctx context.Context, path string) (string, error) {
	args := course.VersionArgs(filepath.Base(path))
	if _, err := os.Stat(path); err != nil {
		return "", err
	}
	out, err := runQuiet(ctx, path, args...)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", path, strings.Join(args, " "), err, strings.TrimSpace(textsafe.FirstLine(out)))
	}
	return osVersionRE.FindString(out), nil
}

// prepare sets up the wrapper module, unless an earlier run finished it.
func (b *builder) prepare(ctx context.Context) error {
	stamp := filepath.Join(b.dir, readyStamp)
	if data, err := fsutil.ReadFile(stamp, fsutil.LimitSmall); err == nil && strings.TrimSpace(string(data)) == b.ver {
		_, modErr := os.Stat(filepath.Join(b.dir, "go.mod"))
		// A wrapper tidied for fewer programs (before kube-proxy joined
		// the table) lacks the new ones' requirements: set it up again.
		tools, toolsErr := fsutil.ReadFile(filepath.Join(b.dir, "tools.go"), fsutil.LimitConfig)
		if modErr == nil && toolsErr == nil && string(tools) == wrapperTools() {
			b.rep.Line("  wrapper module %s: ready", b.dir)
			return nil
		}
	}
	staging, err := StagingVersion(b.ver)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return fmt.Errorf("create the build directory: %w", err)
	}
	for _, f := range []string{readyStamp, "go.mod", "go.sum", "tools.go"} {
		if err := os.Remove(filepath.Join(b.dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("reset the wrapper module: %w", err)
		}
	}
	b.rep.Line("  wrapper module %s", b.dir)
	if err := fsutil.WriteFile(filepath.Join(b.dir, "go.mod"), []byte(wrapperGoMod), 0o644); err != nil {
		return fmt.Errorf("write the wrapper module: %w", err)
	}
	if err := fsutil.WriteFile(filepath.Join(b.dir, "tools.go"), []byte(wrapperTools()), 0o644); err != nil {
		return fmt.Errorf("write the wrapper module: %w", err)
	}

	mod := "k8s.io/kubernetes@" + b.ver
	out, err := b.goRun(ctx, "go mod download "+mod, nil, "mod", "download", "-json", mod)
	var info struct{ GoMod, Error string }
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return fmt.Errorf("go mod download %s: %s", mod, info.Error)
	}
	if err != nil {
		return err
	}
	if info.GoMod == "" {
		return fmt.Errorf("go mod download -json %s named no go.mod file", mod)
	}
	gomod, err := fsutil.ReadFile(info.GoMod, fsutil.LimitConfig)
	if err != nil {
		return fmt.Errorf("read k8s.io/kubernetes's go.mod: %w", err)
	}
	mods := StagingModules(gomod)
	if len(mods) == 0 {
		return fmt.Errorf("%s replaces no module with ./staging: not the k8s.io/kubernetes go.mod this build expects", info.GoMod)
	}
	if _, err := b.goRun(ctx, "go mod edit -require="+mod, nil, "mod", "edit", "-require="+mod); err != nil {
		return err
	}
	args := []string{"mod", "edit"}
	for _, m := range mods {
		args = append(args, "-replace="+m+"="+m+"@"+staging)
	}
	if _, err := b.goRun(ctx, fmt.Sprintf("go mod edit -replace (%d staging modules pinned to %s)", len(mods), staging), nil, args...); err != nil {
		return err
	}
	if _, err := b.goRun(ctx, "go mod tidy", nil, "mod", "tidy"); err != nil {
		return err
	}
	return fsutil.WriteFile(stamp, []byte(b.ver+"\n"), 0o644)
}

// build runs go build into a staging directory inside the bin dir, then
// renames each binary into place.
func (b *builder) build(ctx context.Context) error {
	ld, err := LDFlags(b.ver)
	if err != nil {
		return err
	}
	stage, err := os.MkdirTemp(b.out, buildStagePrefix)
	if err != nil {
		return fmt.Errorf("create a staging directory: %w", err)
	}
	defer os.RemoveAll(stage)
	env := []string{"CGO_ENABLED=0"}
	// go build -v names each package as it compiles it: with the number of
	// packages the binaries need, that is the build's progress.
	total := 0
	if out, err := b.goRun(ctx, "go list -deps (what the build needs)", env, append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, BuildPackages()...)...); err == nil {
		total = bytes.Count(out, []byte("\n"))
	}
	args := append([]string{"build", "-trimpath", "-ldflags=" + ld, "-o", stage + "/", "-v"}, BuildPackages()...)
	if _, err := b.goRunProgress(ctx, "go build (about 5 minutes on a fresh Go cache, seconds when cached)", total, env, args...); err != nil {
		return err
	}
	for _, name := range KubernetesBinaries {
		if err := commit(filepath.Join(stage, name), filepath.Join(b.out, name), 0o755); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// goRun runs one go command in the wrapper module, showing the phase (with
// the time spent) and, when asked, go's output. It returns go's standard
// output; on failure the error ends with go's last lines.
func (b *builder) goRun(ctx context.Context, phase string, env []string, args ...string) ([]byte, error) {
	return b.goRunProgress(ctx, phase, 0, env, args...)
}

// goRunProgress is goRun for a command that names one package per line as
// it works (go build -v): its status says how many of total it has done.
// On a terminal the status line is redrawn every second; otherwise a line is
// printed every b.every, so a log (CI, a pipe) shows the build moving.
func (b *builder) goRunProgress(ctx context.Context, phase string, total int, env []string, args ...string) ([]byte, error) {
	b.rep.Line("  %s", phase)
	cmd := exec.CommandContext(ctx, b.goCmd, args...)
	cmd.Dir = b.dir
	cmd.Env = append(append(os.Environ(), "GOWORK=off"), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var stdout bytes.Buffer
	tail := &tailWriter{max: 30}
	var errOut io.Writer = tail
	if b.goOutput != nil {
		errOut = io.MultiWriter(tail, b.goOutput)
	}
	cmd.Stdout, cmd.Stderr = &stdout, errOut
	if args[0] != "list" && (args[0] != "mod" || args[1] != "download") {
		// Only go list's and go mod download -json's standard output is data.
		cmd.Stdout = errOut
	}
	name := strings.SplitN(phase, " (", 2)[0]
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	if b.goOutput == nil {
		wg.Go(func() { b.showProgress(done, name, start, total, tail) })
	}
	err := cmd.Run()
	close(done)
	wg.Wait()
	b.rep.Status("")
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return stdout.Bytes(), fmt.Errorf("%s in %s: %w%s", name, b.dir, err, tail.String())
	}
	return stdout.Bytes(), nil
}

// showProgress reports a running go command until done: its elapsed time
// and, when total is known, how many of its packages it has compiled.
func (b *builder) showProgress(done <-chan struct{}, name string, start time.Time, total int, tail *tailWriter) {
	every := time.Second
	if !b.tty {
		every = b.every
		if every <= 0 {
			every = 30 * time.Second
		}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		line := fmt.Sprintf("  %s … %s", name, time.Since(start).Round(time.Second))
		if total > 0 {
			line += fmt.Sprintf(", %d of %d packages compiled", min(tail.count(), total), total)
		}
		if b.tty {
			b.rep.Status(line)
		} else {
			b.rep.Line("%s", line)
		}
	}
}

type tailWriter struct {
	mu    sync.Mutex
	max   int
	lines []string
	part  []byte
	n     int // lines written in all
}

// count is how many whole lines were written.
func (t *tailWriter) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, p...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		t.lines = append(t.lines, string(t.part[:i]))
		t.part = t.part[i+1:]
		t.n++
		if len(t.lines) > t.max {
			t.lines = t.lines[len(t.lines)-t.max:]
		}
	}
	return len(p), nil
}

// String is the kept lines, indented, after a newline; "" when there are none.
func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if len(t.part) > 0 {
		lines = append(lines[:len(lines):len(lines)], string(t.part))
	}
	if len(lines) == 0 {
		return ""
	}
	var sb strings.Builder
	sc := bufio.NewScanner(strings.NewReader(strings.Join(lines, "\n")))
	for sc.Scan() {
		sb.WriteString("\n    " + sc.Text())
	}
	return sb.String()
}
