package checks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Binary checks that a program is found (work dir bin/ first, then PATH), is
// executable, and reports its version.
type Binary struct {
	// Program is the file name, e.g. "kube-apiserver".
	Program string
	// VersionArgs make the program print its version.
	VersionArgs []string
	// Install says where the program comes from, for the hint.
	Install string
}

// Name implements Checker.
func (b Binary) Name() string { return "binary-" + b.Program }

var versionRE = regexp.MustCompile(`v?\d+\.\d+\.\d+[0-9A-Za-z.+-]*`)

// Check implements Checker.
func (b Binary) Check(ctx context.Context, env *Env) (Result, error) {
	path, where, err := b.find(env)
	if err != nil {
		return failf("%s is not in %s nor on PATH.", b.Program, env.Path("bin")).
			saw("not found", "an executable "+b.Program).
			hint("%s", b.Install), nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return Result{}, fmt.Errorf("stat %s: %w", path, err)
	}
	if fi.Mode()&0o111 == 0 {
		return failf("%s exists but is not executable (mode %s).", path, fi.Mode().Perm()).
			saw(fi.Mode().Perm().String(), "executable").
			hint("chmod +x %s", path), nil
	}
	cmd := exec.CommandContext(ctx, path, b.VersionArgs...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A wrapper script may leave children holding the output pipe: kill the
	// whole process group at the deadline and stop waiting for the pipe soon after.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 500 * time.Millisecond
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(firstLine(out.String()))
		if ctx.Err() != nil {
			msg = "it did not answer in time"
		} else if msg == "" {
			msg = err.Error()
		}
		return failf("%s (%s) does not run: %s.", b.Program, path, strings.TrimSuffix(msg, ".")).
			saw("`"+b.Program+" "+strings.Join(b.VersionArgs, " ")+"` failed", "it prints its version").
			hint("run `%s %s` yourself to see why; a truncated download or another architecture fails like this: %s", path, strings.Join(b.VersionArgs, " "), b.Install), nil
	}
	version := versionRE.FindString(out.String())
	if version == "" {
		version = strings.TrimSpace(firstLine(out.String()))
	}
	return passf("%s %s (%s).", b.Program, version, where).saw(path, "").detail("version %s", version), nil
}

func (b Binary) find(env *Env) (path, where string, err error) {
	local := env.Path("bin", b.Program)
	if fi, err := os.Stat(local); err == nil && !fi.IsDir() {
		return local, "in the work dir's bin/", nil
	}
	pathEnv := env.PathEnv
	if pathEnv == "" {
		pathEnv = os.Getenv("PATH")
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, b.Program)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, "on PATH at " + p, nil
		}
	}
	return "", "", errors.New("not found")
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
