package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRealContainerdConfigFormats feeds the containerd lesson's two
// configuration files, the version 2 one every stack types and the
// version 4 one it offers for containerd 2.3 and newer, to the upstream
// containerd (2.4) as the lesson writes them, and asserts what the lesson
// says: 2.x reads the version 2 file by migrating it (and says so), reads
// the version 4 file as it is, and the two come to the same configuration
// (containerd config dump), with the lesson's settings where it says.
func TestRealContainerdConfigFormats(t *testing.T) {
	ctrd := filepath.Join(upstreamDir(), "bin", "containerd")
	_, err := os.Stat(ctrd)
	requireReal(t, ctrd+" not built (make upstream-stack builds it)", err == nil)
	var files []string
	for _, b := range lessonBlocks(t, "containerd") {
		if strings.HasPrefix(b.Text, "cat > /etc/containerd/config.toml <<EOF\n") || strings.Contains(b.Text, "\ncat > /etc/containerd/config.toml <<EOF\n") {
			files = append(files, b.Text)
		}
	}
	if len(files) != 2 || !strings.Contains(files[0], "version = 2\n") || !strings.Contains(files[1], "version = 4\n") {
		t.Fatalf("the containerd lesson's configuration files: %q, want the version 2 one, then the version 4 one", files)
	}
	dir := t.TempDir()
	var dumps, logs []string
	for i, text := range files {
		path := filepath.Join(dir, []string{"v2.toml", "v4.toml"}[i])
		text = strings.ReplaceAll(text, "mkdir -p /etc/containerd\n", "")
		text = strings.ReplaceAll(text, "/etc/containerd/config.toml", path)
		sh := exec.Command("bash", "-euo", "pipefail", "-c", "CNI_BIN_DIR=/opt/cni/bin\nSYSTEMD_CGROUP=true\n"+text)
		if out, err := sh.CombinedOutput(); err != nil {
			t.Fatalf("typing the lesson's file: %v\n%s", err, out)
		}
		cmd := exec.Command(ctrd, "--config", path, "config", "dump")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("containerd --config %s config dump: %v\n%s", filepath.Base(path), err, stderr.String())
		}
		dumps = append(dumps, string(out))
		logs = append(logs, stderr.String())
	}
	if !strings.Contains(logs[0], "Configuration migrated from version 2") {
		t.Errorf("containerd 2.x on the version 2 file said %q, want it to say it migrated it", logs[0])
	}
	if strings.Contains(logs[1], "migrated") {
		t.Errorf("containerd 2.x migrated the version 4 file: %q", logs[1])
	}
	if dumps[0] != dumps[1] {
		t.Errorf("the two files give different configurations:\nversion 2:\n%s\nversion 4:\n%s", dumps[0], dumps[1])
	}
	for _, want := range []string{"sandbox = 'registry.k8s.io/pause:3.6'", "restrict_oom_score_adj = true",
		"bin_dirs = ['/opt/cni/bin']", "conf_dir = '/etc/cni/net.d'", "snapshotter = 'overlayfs'", "default_runtime_name = 'runc'", "SystemdCgroup = true"} {
		if !strings.Contains(dumps[1], want) {
			t.Errorf("containerd config dump of the version 4 file has no %q", want)
		}
	}
}
