package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/kubetutor/kubetutor/internal/shellquote"
)

// UnsafeDirError says a directory meant for secrets (the state directory,
// the room's data directory) is owned by someone else or writable by others,
// so that they could plant or swap files in it.
type UnsafeDirError struct {
	Path string
	// Owner is the directory's owner; Mode its permission bits.
	Owner, Self int
	Mode        fs.FileMode
	// Use names the flag or variable that chooses another directory.
	Use string
}

func (e *UnsafeDirError) Error() string {
	if e.Owner != e.Self {
		return fmt.Sprintf("%s is owned by uid %d, not by you (uid %d): another user could plant or swap files in it; "+
			"use a directory of your own (%s), or if it is yours: chown %d %s", e.Path, e.Owner, e.Self, e.Use, e.Self, shellquote.Quote(e.Path))
	}
	return fmt.Sprintf("%s is writable by others (mode %04o): they could plant or swap files in it; "+
		"run chmod go-w %s, or use another directory (%s)", e.Path, e.Mode.Perm(), shellquote.Quote(e.Path), e.Use)
}

// ErrUnsafeDir is matched by errors.Is for every *UnsafeDirError.
var ErrUnsafeDir = errors.New("unsafe directory")

// Is makes errors.Is(err, ErrUnsafeDir) true.
func (e *UnsafeDirError) Is(target error) bool { return target == ErrUnsafeDir }

// CheckPrivateDir checks that dir (symlinks followed) is a directory owned
// by the effective user and not writable by group or others: a directory
// where nobody else can plant a file or a symlink. use names how to choose
// another directory, for the message. A missing dir is fs.ErrNotExist.
func CheckPrivateDir(dir, use string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is a %s, not a directory", dir, Kind(fi.Mode()))
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	self := os.Geteuid()
	if int(st.Uid) != self || fi.Mode().Perm()&0o022 != 0 {
		return &UnsafeDirError{Path: dir, Owner: int(st.Uid), Self: self, Mode: fi.Mode(), Use: use}
	}
	return nil
}

// MkdirPrivate creates dir (and its parents) mode 0700 if it is missing,
// then checks it with CheckPrivateDir.
func MkdirPrivate(dir, use string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return CheckPrivateDir(dir, use)
}

// ForeignLinkError says a write would go through a symbolic link that
// someone other than the user (or root) made.
type ForeignLinkError struct {
	Path        string
	Owner, Self int
}

func (e *ForeignLinkError) Error() string {
	return fmt.Sprintf("%s is a symbolic link made by uid %d, not by you (uid %d): refusing to write through a link someone else planted; remove it", e.Path, e.Owner, e.Self)
}

// linkOwnerOK says whether a write may go through the symlink fi describes:
// only one made by the effective user or by root.
func linkOwnerOK(path string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	self := os.Geteuid()
	if int(st.Uid) != self && st.Uid != 0 {
		return &ForeignLinkError{Path: path, Owner: int(st.Uid), Self: self}
	}
	return nil
}
