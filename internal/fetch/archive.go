package fetch

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kubetutor/kubetutor/internal/fsutil"
)

// maxMember bounds one extracted file.
const maxMember = 1 << 30

// extracted is one file taken out of an archive.
type extracted struct {
	Name   string
	SHA256 string
	Size   int64
}

// pickFunc selects an archive member and names the file it becomes.
type pickFunc func(h *tar.Header) (string, bool)

// extract writes the regular files of the gzip'd tar archive at archive that
// pick accepts (pick returns the file name to use) into dir, each through a
// synced temporary file renamed into place with mode 0755. All or nothing:
// every member is staged first, and only when the whole archive was read and
// holds every name in required are they put in place; otherwise dir is left
// as it was.
func extract(archive, dir string, pick pickFunc, required []string) ([]extracted, error) {
	f, err := fsutil.Open(archive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("not a gzip archive: %w", err)
	}
	tr := tar.NewReader(zr)
	type staged struct {
		e   extracted
		tmp string
	}
	var st []staged
	defer func() {
		for _, s := range st {
			if s.tmp != "" {
				os.Remove(s.tmp)
			}
		}
	}()
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read the archive: %w (nothing was installed)", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name, ok := pick(h)
		if !ok {
			continue
		}
		if !plainFileName(name) {
			// A newline or an escape in a name would reach the terminal
			// and the learner's shell (ls, tab completion) from a file.
			return nil, fmt.Errorf("the archive holds a program named %q, not a plain file name (letters, digits and . _ + -): nothing was installed", name)
		}
		if h.Size > maxMember {
			return nil, fmt.Errorf("%s is %s, more than a program should be", h.Name, FormatSize(h.Size))
		}
		e, tmp, err := stageMember(tr, dir, name)
		if err != nil {
			return nil, fmt.Errorf("extract %s: %w (nothing was installed)", h.Name, err)
		}
		st = append(st, staged{e, tmp})
	}
	for _, want := range required {
		found := false
		for _, s := range st {
			found = found || s.e.Name == want
		}
		if !found {
			return nil, fmt.Errorf("the archive has no %s: nothing was installed", want)
		}
	}
	var out []extracted
	for i := range st {
		if err := commit(st[i].tmp, filepath.Join(dir, st[i].e.Name), 0o755); err != nil {
			st[i].tmp = ""
			return out, err
		}
		st[i].tmp = ""
		out = append(out, st[i].e)
	}
	return out, nil
}

// plainFileName says name is a file name of letters, digits and . _ + -,
// not starting with a dot or a dash: what a release's program is called.
func plainFileName(name string) bool {
	if name == "" || len(name) > 255 || name[0] == '.' || name[0] == '-' {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._+-", r)) {
			return false
		}
	}
	return true
}

// stageMember writes r to a synced temporary file in dir and returns it.
func stageMember(r io.Reader, dir, name string) (extracted, string, error) {
	f, err := os.CreateTemp(dir, tempPrefix+name+"-*.tmp")
	if err != nil {
		return extracted{}, "", fmt.Errorf("create a temporary file: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, maxMember))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return extracted{}, "", err
	}
	return extracted{Name: name, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, f.Name(), nil
}

// pickNames accepts the files whose base name is one of names, at most one
// directory deep (etcd-v3.6.4-linux-amd64/etcd).
func pickNames(names ...string) pickFunc {
	return func(h *tar.Header) (string, bool) {
		p := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if strings.Count(p, "/") > 1 {
			return "", false
		}
		base := path.Base(p)
		for _, n := range names {
			if base == n {
				return n, true
			}
		}
		return "", false
	}
}

// pickExecutables accepts the executable files at the top of the archive
// (the CNI plugins tarball's ./bridge, ./host-local, ...), not LICENSE or README.md.
func pickExecutables(h *tar.Header) (string, bool) {
	p := path.Clean(strings.TrimPrefix(h.Name, "./"))
	if strings.Contains(p, "/") || p == "." || p == ".." || strings.HasPrefix(p, ".") || h.Mode&0o111 == 0 {
		return "", false
	}
	return p, true
}

// manifestName is the file, in each directory fetch extracts archives into,
// that records what came from which verified archive: the archives' members
// have no published checksums of their own, so this is how a re-run knows
// they are up to date.
const manifestName = ".kubetutor-fetch.json"

type manifest struct {
	Files map[string]manifestEntry `json:"files"`
}

type manifestEntry struct {
	SHA256        string `json:"sha256"`
	Archive       string `json:"archive"`
	ArchiveSHA256 string `json:"archiveSHA256"`
	URL           string `json:"url"`
}

func loadManifest(dir string) manifest {
	m := manifest{Files: map[string]manifestEntry{}}
	data, err := fsutil.ReadFile(filepath.Join(dir, manifestName), fsutil.LimitConfig)
	if err == nil {
		_ = json.Unmarshal(data, &m)
	}
	if m.Files == nil {
		m.Files = map[string]manifestEntry{}
	}
	return m
}

func (m manifest) save(dir string) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, manifestName), append(data, '\n'), 0o644)
}

// fromArchive lists the files of dir the manifest says came from the archive
// with digest sum, sorted, if every one of them is still intact and
// executable (and, when names is given, they are all there); otherwise nil.
func (m manifest) fromArchive(dir, archive, sum string, names []string) []string {
	var got []string
	for name, e := range m.Files {
		if e.Archive == archive && e.ArchiveSHA256 == sum {
			got = append(got, name)
		}
	}
	sort.Strings(got)
	if len(got) == 0 {
		return nil
	}
	for _, n := range names {
		if e, ok := m.Files[n]; !ok || e.Archive != archive || e.ArchiveSHA256 != sum {
			return nil
		}
	}
	for _, name := range got {
		p := filepath.Join(dir, name)
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 || fileDigest(p) != m.Files[name].SHA256 {
			return nil
		}
	}
	return got
}
