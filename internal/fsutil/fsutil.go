// Package fsutil is kubetutor's one way to read and write files that come
// from outside: a learner's kubeconfig, certificates, the progress file, CNI
// and containerd configs, the demo's state. Reading is bounded (regular files
// only, at most a size that fits the file's kind) and never blocks on a FIFO;
// writing goes through a temporary file renamed over the target, never
// replaces what is not a regular file, writes through the user's own
// symlinks to their target (never through one another user planted), and
// can write several files as one unit (Batch). Directories that hold
// secrets are checked with CheckPrivateDir.
package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Size limits per kind of file. A file larger than its limit is refused with
// a *TooLargeError rather than read into memory.
const (
	// LimitKubeconfig bounds a kubeconfig (embedded certificates included).
	LimitKubeconfig int64 = 16 << 20
	// LimitPEM bounds a PEM file: a certificate, a chain, a key.
	LimitPEM int64 = 1 << 20
	// LimitProgress bounds the learner's progress file.
	LimitProgress int64 = 1 << 20
	// LimitConfig bounds a configuration file: CNI conflist, containerd
	// config.toml, kubelet config, the demo's state.
	LimitConfig int64 = 4 << 20
	// LimitSmall bounds one-line files: pid files, version stamps.
	LimitSmall int64 = 64 << 10
	// LimitProc bounds a file under /proc or /sys.
	LimitProc int64 = 4 << 20
	// LimitBinary bounds an executable read whole into memory.
	LimitBinary int64 = 512 << 20
)

// NotRegularError says a path names something other than a regular file.
type NotRegularError struct {
	Path string
	Kind string // "directory", "named pipe (FIFO)", "character device", ...
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is a %s, not a regular file", e.Path, e.Kind)
}

// TooLargeError says a file is larger than its kind allows.
type TooLargeError struct {
	Path  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %s, too large for this kind of file", e.Path, human(e.Limit))
}

// ErrNotRegular is matched by errors.Is for every *NotRegularError.
var ErrNotRegular = errors.New("not a regular file")

// Is makes errors.Is(err, ErrNotRegular) true.
func (e *NotRegularError) Is(target error) bool { return target == ErrNotRegular }

// ErrTooLarge is matched by errors.Is for every *TooLargeError.
var ErrTooLarge = errors.New("file too large")

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

func human(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Kind names the type of a file mode for messages: "regular file",
// "directory", "named pipe (FIFO)", "character device", "block device",
// "socket", "symbolic link".
func Kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	}
	return "special file"
}

// Open opens path for reading if it is (or links to) a regular file. It never
// blocks on a FIFO: special files are refused with a *NotRegularError, both
// before opening and, against a swap in between, on the opened descriptor.
func Open(path string) (*os.File, error) {
	if fi, err := os.Stat(path); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, &NotRegularError{Path: path, Kind: Kind(fi.Mode())}
	}
	// Should path have become a FIFO since the Stat, OpenRegular returns
	// at once instead of waiting for a writer.
	return OpenRegular(path, os.O_RDONLY, 0)
}

// OpenRegular is os.OpenFile for a regular file only: it opens with
// O_NONBLOCK, so that it never blocks on a FIFO (the flag has no effect on
// a regular file's reads and writes), and refuses what the opened
// descriptor shows is not a regular file with a *NotRegularError.
func OpenRegular(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NONBLOCK, perm)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &NotRegularError{Path: path, Kind: Kind(fi.Mode())}
	}
	return f, nil
}

// ReadFile reads path, a regular file (or a symlink to one) of at most limit
// bytes. A FIFO, device, directory or socket is refused with a
// *NotRegularError; a larger file with a *TooLargeError. Errors from the file
// system (fs.ErrNotExist, fs.ErrPermission) are returned as os.ReadFile
// would, so errors.Is works on them.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, path, limit)
}

func readLimited(r io.Reader, path string, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &TooLargeError{Path: path, Limit: limit}
	}
	return data, nil
}

// CheckRegular returns nil if path is a regular file or does not exist, and a
// *NotRegularError naming what it is otherwise. Symlinks are followed.
func CheckRegular(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return &NotRegularError{Path: path, Kind: Kind(fi.Mode())}
	}
	return nil
}

// Resolve follows path through symlinks (also dangling ones) to the name a
// write should replace, so that writing to a symlinked file writes to its
// target and leaves the link in place. A path that is not a symlink is
// returned as it is.
func Resolve(path string) (string, error) {
	p := path
	for i := 0; i < 40; i++ {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return p, nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = target
	}
	return "", fmt.Errorf("resolve %s: too many levels of symbolic links", path)
}

// target resolves path and checks that it is a regular file or absent. It
// refuses to go through a symlink someone else (not the user, not root)
// made: in a directory others can write to, that is how a file of their
// choosing would be overwritten.
func target(path string) (string, error) {
	if err := checkLinks(path); err != nil {
		return "", err
	}
	real, err := Resolve(path)
	if err != nil {
		return "", err
	}
	fi, err := os.Lstat(real)
	if errors.Is(err, fs.ErrNotExist) {
		return real, nil
	}
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", &NotRegularError{Path: path, Kind: Kind(fi.Mode())}
	}
	return real, nil
}

// checkLinks walks the symlinks Resolve would follow from path and refuses
// any not made by the effective user or root.
func checkLinks(path string) error {
	p := path
	for i := 0; i < 40; i++ {
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return nil
		}
		if err := linkOwnerOK(p, fi); err != nil {
			return err
		}
		target, err := os.Readlink(p)
		if err != nil {
			return nil
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = target
	}
	return nil
}

// File is a file being written atomically: data goes to a temporary file
// beside the target, which Commit renames over the target. Until Commit the
// target is untouched; Abort (or a failed Commit) removes the temporary file.
type File struct {
	*os.File
	path   string // as given, for messages
	target string // resolved through symlinks
	perm   fs.FileMode
	done   bool
}

// Create starts writing path atomically. It refuses at once (before any byte
// is written) a path that is, or links to, something other than a regular
// file: a directory, a device, a FIFO. The file gets exactly perm.
func Create(path string, perm fs.FileMode) (*File, error) {
	real, err := target(path)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(real), "."+filepath.Base(real)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("set the mode of %s: %w", path, err)
	}
	return &File{File: tmp, path: path, target: real, perm: perm}, nil
}

// Commit syncs the data and renames it over the target.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("write %s: already committed or aborted", f.path)
	}
	f.done = true
	if err := f.finish(); err != nil {
		os.Remove(f.File.Name())
		return err
	}
	// The target may have been replaced by a special file since Create.
	if err := CheckRegular(f.target); err != nil {
		os.Remove(f.File.Name())
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	if err := os.Rename(f.File.Name(), f.target); err != nil {
		os.Remove(f.File.Name())
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	syncDir(filepath.Dir(f.target))
	return nil
}

func (f *File) finish() error {
	if err := f.File.Sync(); err != nil {
		f.File.Close()
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	if err := f.File.Close(); err != nil {
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	return nil
}

// Abort discards what was written; the target is left as it was. It is safe
// to call after Commit (it then does nothing), so `defer f.Abort()` works.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	os.Remove(f.File.Name())
}

// WriteFile writes data to path atomically (temporary file, fsync, rename)
// with exactly perm. A symlink is written through to its target; a path that
// is a directory, device, FIFO or socket is refused and left alone.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Batch writes several files as one unit: either all of them get their new
// content or none does (each keeps its old content, or stays absent). Use it
// for files that belong together, such as a CA certificate and its key.
type Batch struct {
	files []batchFile
}

type batchFile struct {
	path string
	data []byte
	perm fs.FileMode
}

// Add queues path for writing; nothing is written before Commit.
func (b *Batch) Add(path string, data []byte, perm fs.FileMode) {
	b.files = append(b.files, batchFile{path: path, data: data, perm: perm})
}

// Commit writes every queued file. It first checks every target and writes
// every temporary file; only when all of that succeeded does it rename them
// into place, keeping a backup of each old file, and should a rename fail it
// puts back what it had already replaced.
func (b *Batch) Commit() (err error) {
	type staged struct {
		f      *File
		backup string // hard link to (or copy of) the old file; "" if there was none
		placed bool
	}
	st := make([]*staged, 0, len(b.files))
	defer func() {
		for _, s := range st {
			s.f.Abort()
			if s.backup != "" {
				os.Remove(s.backup)
			}
		}
	}()
	for _, bf := range b.files {
		f, err := Create(bf.path, bf.perm)
		if err != nil {
			return err
		}
		st = append(st, &staged{f: f})
		if _, err := f.Write(bf.data); err != nil {
			return fmt.Errorf("write %s: %w", bf.path, err)
		}
		if err := f.finish(); err != nil {
			return err
		}
	}
	rollback := func() {
		for i := len(st) - 1; i >= 0; i-- {
			s := st[i]
			if !s.placed {
				continue
			}
			if s.backup != "" {
				if os.Rename(s.backup, s.f.target) == nil {
					s.backup = ""
				}
			} else {
				os.Remove(s.f.target)
			}
		}
	}
	for _, s := range st {
		if hookBeforeRename != nil {
			hookBeforeRename(s.f.target)
		}
		if _, err := os.Lstat(s.f.target); err == nil {
			bk, err := backup(s.f.target)
			if err != nil {
				rollback()
				return fmt.Errorf("write %s: keep the old file: %w", s.f.path, err)
			}
			s.backup = bk
		}
		if err := os.Rename(s.f.File.Name(), s.f.target); err != nil {
			rollback()
			return fmt.Errorf("write %s: %w", s.f.path, err)
		}
		s.placed = true
		s.f.done = true
	}
	for _, s := range st {
		syncDir(filepath.Dir(s.f.target))
	}
	return nil
}

// hookBeforeRename lets a test change the file system in the middle of a
// Batch.Commit.
var hookBeforeRename func(target string)

// backup makes a second name for the file at path (a hard link, or a copy
// where links are not possible) so that it can be put back.
func backup(path string) (string, error) {
	name := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".old-"+fmt.Sprint(os.Getpid()))
	os.Remove(name)
	if err := os.Link(path, name); err == nil {
		return name, nil
	}
	src, err := Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return "", err
	}
	dst, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		os.Remove(name)
		return "", err
	}
	if err := dst.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}
