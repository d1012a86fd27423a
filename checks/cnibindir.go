package checks

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/kubetutor/kubetutor/internal/fsutil"
)

// ContainerdConfigFile is where containerd reads its configuration by
// default, and where the containerd lesson writes it.
const ContainerdConfigFile = "/etc/containerd/config.toml"

// DefaultCNIBinDir is where containerd's CRI plugin looks for the CNI
// plugins when its configuration names no directory.
const DefaultCNIBinDir = "/opt/cni/bin"

var (
	binDirRE  = regexp.MustCompile(`(?m)^[ \t]*bin_dir[ \t]*=[ \t]*["']([^"'\n]*)["']`)
	binDirsRE = regexp.MustCompile(`(?m)^[ \t]*bin_dirs[ \t]*=[ \t]*\[([^\]]*)\]`)
	quotedRE  = regexp.MustCompile(`["']([^"'\n]*)["']`)
)

// cniBinDirs reads the CNI plugin directories that containerd's
// configuration names (bin_dir, or containerd 2.x's bin_dirs list). ok is
// false when the file cannot be read; dirs is empty when it names none.
func cniBinDirs(path string) (dirs []string, ok bool) {
	data, err := fsutil.ReadFile(path, 1<<20)
	if err != nil {
		return nil, false
	}
	text := string(data)
	if m := binDirsRE.FindStringSubmatch(text); m != nil {
		for _, q := range quotedRE.FindAllStringSubmatch(m[1], -1) {
			dirs = append(dirs, q[1])
		}
	}
	if m := binDirRE.FindStringSubmatch(text); m != nil && len(dirs) == 0 {
		dirs = []string{m[1]}
	}
	return dirs, true
}

// CNIBinDirNote says, in one sentence, where this machine's containerd
// looks for the CNI plugins, according to its configuration file, and
// whether that is dir, the directory that holds them.
func CNIBinDirNote(env *Env, dir string) string {
	note, _ := cniBinDirVerdict(env, dir)
	return note
}

// ContainerdLooksIn says whether this machine's containerd, as its
// configuration file (or its default, without one) sets it, looks for the
// CNI plugins in dir.
func ContainerdLooksIn(env *Env, dir string) bool {
	_, looks := cniBinDirVerdict(env, dir)
	return looks
}

// debianCNIBinDir is where Debian's containernetworking-plugins installs
// the plugins, and the bin_dir the containerd lesson's file sets on such a
// host (its cni-usr-lib variant; the other variant sets /opt/cni/bin).
const debianCNIBinDir = "/usr/lib/cni"

// cniBinDirVerdict is CNIBinDirNote's sentence, and whether containerd
// looks in dir.
func cniBinDirVerdict(env *Env, dir string) (note string, looks bool) {
	dirs, ok := cniBinDirs(env.HostPath(ContainerdConfigFile))
	set := fmt.Sprintf("set bin_dir = %q", dir)
	if dir == debianCNIBinDir {
		set += " (the containerd lesson's configuration does)"
	}
	switch {
	case !ok && dir == DefaultCNIBinDir:
		return fmt.Sprintf("There is no %s, so containerd looks in %s, its default: there.", ContainerdConfigFile, DefaultCNIBinDir), true
	case !ok && dir == debianCNIBinDir:
		return fmt.Sprintf("There is no %s yet, so containerd would look in %s, its default; the containerd lesson's configuration sets bin_dir = %q.", ContainerdConfigFile, DefaultCNIBinDir, dir), false
	case !ok:
		return fmt.Sprintf("There is no %s yet, so containerd would look in %s, its default: when you write it (kubetutor show containerd), set bin_dir = %q in it.", ContainerdConfigFile, DefaultCNIBinDir, dir), false
	case len(dirs) == 0 && dir == DefaultCNIBinDir:
		return fmt.Sprintf("%s sets no bin_dir, so containerd looks in %s, its default: there.", ContainerdConfigFile, DefaultCNIBinDir), true
	case len(dirs) == 0:
		return fmt.Sprintf("%s sets no bin_dir, so containerd looks in %s, its default, not in %s: %s.", ContainerdConfigFile, DefaultCNIBinDir, dir, set), false
	}
	for _, d := range dirs {
		if strings.TrimRight(d, "/") == strings.TrimRight(dir, "/") {
			return fmt.Sprintf("%s sets the CNI plugin directory to %s: containerd looks there.", ContainerdConfigFile, strings.Join(dirs, ", ")), true
		}
	}
	return fmt.Sprintf("%s sets the CNI plugin directory to %s, not %s: pods will fail with \"failed to find plugin\" unless you set bin_dir = %q and restart containerd.", ContainerdConfigFile, strings.Join(dirs, ", "), dir, dir), false
}
