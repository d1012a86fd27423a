package checks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/proc"
	"github.com/kubetutor/kubetutor/internal/shellquote"
	"github.com/kubetutor/kubetutor/internal/textsafe"
)

// Binary checks that a program is found (work dir bin/ first, then the work
// dir, then PATH; see find), is
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
		return failf("%s is not in %s, in the work dir itself, nor on PATH.", b.Program, env.Path("bin")).
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
			hint("chmod +x %s", shellquote.Quote(path)), nil
	}
	out, err := env.binaryOutput(ctx, path, fi, b.VersionArgs)
	if err != nil {
		msg := strings.TrimSpace(textsafe.FirstLine(out))
		if ctx.Err() != nil {
			msg = "it did not answer in time"
		} else if msg == "" {
			msg = err.Error()
		}
		return failf("%s (%s) does not run: %s.", b.Program, path, strings.TrimSuffix(msg, ".")).
			saw("`"+b.Program+" "+strings.Join(b.VersionArgs, " ")+"` failed", "it prints its version").
			hint("run `%s %s` yourself to see why; a truncated download or another architecture fails like this: %s", path, strings.Join(b.VersionArgs, " "), b.Install), nil
	}
	version := versionRE.FindString(out)
	if version == "" {
		version = strings.TrimSpace(textsafe.FirstLine(out))
	}
	return passf("%s %s (%s).", b.Program, version, where).saw(path, "").detail("version %s", version), nil
}

// binaryOutput is what `path args...` prints. A program's answer depends
// only on the file, so it is remembered by (path, size, mtime, inode): in
// this process (concurrent checks share one run) and on disk under
// CacheDir, so that `check --all` does not start six large binaries each time.
// A failure is not remembered: the next caller runs it again.
func (e *Env) binaryOutput(ctx context.Context, path string, fi os.FileInfo, args []string) (string, error) {
	key := fmt.Sprintf("%s|%d|%d|%s", path, fi.Size(), fi.ModTime().UnixNano(), strings.Join(args, " "))
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		key += fmt.Sprintf("|%d|%d", st.Dev, st.Ino)
	}
	return e.versions.do(ctx, key, func() (string, error) {
		sum := sha256.Sum256([]byte(key))
		cacheFile := ""
		if e.CacheDir != "" {
			cacheFile = filepath.Join(e.CacheDir, "tool-versions", hex.EncodeToString(sum[:16]))
			if data, err := fsutil.ReadFile(cacheFile, fsutil.LimitSmall); err == nil {
				return string(data), nil
			}
		}
		out, err := proc.Command{Path: path, Args: args}.Output(ctx)
		if err == nil && cacheFile != "" {
			if err := os.MkdirAll(filepath.Dir(cacheFile), 0o700); err == nil {
				_ = fsutil.WriteFile(cacheFile, []byte(out), 0o600)
			}
		}
		return out, err
	})
}

// find looks where learners put the programs: the work dir's bin/ (the
// lessons), the work dir itself (the talk's `curl -LO`), a directory named
// after the program (the talk's etcd/ from the release tarball), then PATH.
func (b Binary) find(env *Env) (path, where string, err error) {
	for _, c := range []struct{ path, where string }{
		{env.Path("bin", b.Program), "in the work dir's bin/"},
		{env.Path(b.Program), "in the work dir"},
		{env.Path(b.Program, b.Program), "in the work dir's " + b.Program + "/"},
	} {
		if fi, err := os.Stat(c.path); err == nil && fi.Mode().IsRegular() {
			return c.path, c.where, nil
		}
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
