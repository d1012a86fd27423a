package kubeclient

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kubetutor/kubetutor/internal/fsutil"
)

// KubeconfigPath is the kubeconfig file in use: the first file that was
// loaded, else the first place looked at (--kubeconfig, the first entry of
// KUBECONFIG, ~/.kube/config). Messages and hints name it.
func (c *Client) KubeconfigPath() string {
	r := c.ResolveKubeconfig()
	if len(r.Files) > 0 {
		return r.Files[0]
	}
	if len(r.Searched) > 0 {
		return r.Searched[0]
	}
	return filepath.Join(".kube", "config")
}

// MaxKubeconfigSize bounds what is read as a kubeconfig: real ones are a few
// kilobytes; this keeps a wrong path (a disk image, a log) from eating memory.
const MaxKubeconfigSize = fsutil.LimitKubeconfig

// KubeconfigResolution says where the kubeconfig comes from, as kubectl
// would find it, and with the work directory's files as a fallback.
type KubeconfigResolution struct {
	// Files are the files loaded, merged in this order (first wins).
	Files []string
	// Searched are the places looked at, in order of precedence.
	Searched []string
	// Source says why these files: "--kubeconfig", "KUBECONFIG",
	// "~/.kube/config" or "work dir" (the fallback).
	Source string
	// Err says why no kubeconfig can be loaded (nil when Files is set).
	Err error
	// kubectlPlaces is how many of Searched are kubectl's own places.
	kubectlPlaces int
}

// Describe names the files used, for messages: "admin.conf (found in the
// work dir; neither KUBECONFIG nor ~/.kube/config exists)".
func (r KubeconfigResolution) Describe() string {
	switch {
	case len(r.Files) == 0:
		return "no kubeconfig"
	case r.Source == "work dir":
		return fmt.Sprintf("%s (from the work dir: %s does not exist)", r.Files[0], strings.Join(r.Searched[:r.kubectlPlaces], ", "))
	case len(r.Files) > 1:
		return fmt.Sprintf("%s (%s, merged)", strings.Join(r.Files, " + "), r.Source)
	}
	return fmt.Sprintf("%s (%s)", r.Files[0], r.Source)
}

// workDirKubeconfigs are the fallbacks in the work dir: the certs lesson's
// file and the talk's.
var workDirKubeconfigs = []string{"admin.conf", "kubeconfig"}

// ResolveKubeconfig finds the kubeconfig files the way kubectl does
// (clientcmd's loading rules: --kubeconfig, else every file of the
// KUBECONFIG list that exists, merged, else ~/.kube/config), falling back
// to the work dir's admin.conf, then kubeconfig, when none exists. Every
// file is checked to be a regular file of sane size before anything reads
// it, so a FIFO or /dev/zero cannot hang or exhaust the tutor. It looks at
// the disk on every call: a file created later is found.
func (c *Client) ResolveKubeconfig() KubeconfigResolution {
	s := c.settings()
	var r KubeconfigResolution
	if s.Kubeconfig != "" {
		r.Source, r.Searched = "--kubeconfig", []string{s.Kubeconfig}
		if err := checkKubeconfigFile(s.Kubeconfig); errors.Is(err, os.ErrNotExist) {
			r.Err = &KubeconfigError{Path: s.Kubeconfig, Err: err, Missing: true, Searched: r.Searched}
			return r
		} else if err != nil {
			r.Err = err
			return r
		}
		r.Files = []string{s.Kubeconfig}
		return r
	}
	if v := s.Getenv("KUBECONFIG"); v != "" {
		r.Source = "KUBECONFIG"
		seen := map[string]bool{}
		for _, p := range filepath.SplitList(v) {
			if p != "" && !seen[p] {
				seen[p] = true
				r.Searched = append(r.Searched, p)
			}
		}
	}
	if len(r.Searched) == 0 {
		r.Source = "~/.kube/config"
		home := s.HomeDir
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		r.Searched = []string{filepath.Join(home, ".kube", "config")}
	}
	for _, p := range r.Searched {
		err := checkKubeconfigFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // kubectl skips missing entries too
		}
		if err != nil {
			r.Files, r.Err = nil, err
			return r
		}
		r.Files = append(r.Files, p)
	}
	if len(r.Files) > 0 {
		return r
	}
	r.kubectlPlaces = len(r.Searched)
	for _, name := range workDirKubeconfigs {
		p := filepath.Join(s.WorkDir, name)
		r.Searched = append(r.Searched, p)
		err := checkKubeconfigFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			r.Err = err
			return r
		}
		r.Source, r.Files = "work dir", []string{p}
		return r
	}
	r.Err = &KubeconfigError{Path: r.Searched[0], Err: os.ErrNotExist, Missing: true, Searched: r.Searched}
	return r
}

// checkKubeconfigFile returns nil for a regular file of sane size; an
// error wrapping os.ErrNotExist when there is no file; a *KubeconfigError
// otherwise.
func checkKubeconfigFile(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err != nil {
		return &KubeconfigError{Path: path, Err: err}
	}
	if !fi.Mode().IsRegular() {
		return &KubeconfigError{Path: path, Err: fmt.Errorf("it is %s, not a regular file", fileKind(fi.Mode()))}
	}
	if fi.Size() > MaxKubeconfigSize {
		return &KubeconfigError{Path: path, Err: fmt.Errorf("it is %d bytes, more than any kubeconfig (limit %d)", fi.Size(), MaxKubeconfigSize)}
	}
	return nil
}

func fileKind(m os.FileMode) string { return "a " + fsutil.Kind(m) }

// KubeconfigError says why the kubeconfig cannot be used. It is a learner's
// problem, not an internal error, so checks turn it into a failing result.
type KubeconfigError struct {
	Path string
	Err  error
	// Missing is set when no kubeconfig file exists at all; Searched lists
	// where it was looked for.
	Missing  bool
	Searched []string
}

func (c *KubeconfigError) Error() string {
	if c.Missing {
		if len(c.Searched) > 1 {
			return fmt.Sprintf("no kubeconfig: none of %s exists", strings.Join(c.Searched, ", "))
		}
		return fmt.Sprintf("no kubeconfig at %s", c.Path)
	}
	return fmt.Sprintf("kubeconfig %s: %v", c.Path, c.Err)
}

func (c *KubeconfigError) Unwrap() error { return c.Err }
