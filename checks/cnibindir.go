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
	dirs, ok := cniBinDirs(env.HostPath(ContainerdConfigFile))
	switch {
	case !ok && dir == DefaultCNIBinDir:
		return fmt.Sprintf("There is no %s, so containerd looks in %s, its default: there.", ContainerdConfigFile, DefaultCNIBinDir)
	case !ok:
		return fmt.Sprintf("There is no %s yet, so containerd would look in %s, its default; the containerd lesson's configuration sets bin_dir = %q.", ContainerdConfigFile, DefaultCNIBinDir, dir)
	case len(dirs) == 0 && dir == DefaultCNIBinDir:
		return fmt.Sprintf("%s sets no bin_dir, so containerd looks in %s, its default: there.", ContainerdConfigFile, DefaultCNIBinDir)
	case len(dirs) == 0:
		return fmt.Sprintf("%s sets no bin_dir, so containerd looks in %s, its default, not in %s: set bin_dir = %q (the containerd lesson's configuration does).", ContainerdConfigFile, DefaultCNIBinDir, dir, dir)
	}
	for _, d := range dirs {
		if strings.TrimRight(d, "/") == strings.TrimRight(dir, "/") {
			return fmt.Sprintf("%s sets the CNI plugin directory to %s: containerd looks there.", ContainerdConfigFile, strings.Join(dirs, ", "))
		}
	}
	return fmt.Sprintf("%s sets the CNI plugin directory to %s, not %s: pods will fail with \"failed to find plugin\" unless you set bin_dir = %q and restart containerd.", ContainerdConfigFile, strings.Join(dirs, ", "), dir, dir)
}
