package checks_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubetutor/kubetutor/checks"
)

// TestCNIBinDirNote: the cni-plugins messages say which directory this
// machine's containerd configuration makes it search, not "unless".
func TestCNIBinDirNote(t *testing.T) {
	for _, tc := range []struct {
		name, config, dir, want string
		looks                   bool
	}{
		{"no config, plugins in the default", "", "/opt/cni/bin", "There is no /etc/containerd/config.toml, so containerd looks in /opt/cni/bin, its default: there.", true},
		{"no config, Debian's plugins", "", "/usr/lib/cni", `There is no /etc/containerd/config.toml yet, so containerd would look in /opt/cni/bin, its default; the containerd lesson's configuration sets bin_dir = "/usr/lib/cni".`, false},
		// The lesson's file sets /usr/lib/cni or /opt/cni/bin, never the
		// work dir's bin/cni that kubetutor fetch fills.
		{"no config, plugins fetched into the work dir", "", "/home/learner/k8s/bin/cni", `There is no /etc/containerd/config.toml yet, so containerd would look in /opt/cni/bin, its default: when you write it (kubetutor show containerd), set bin_dir = "/home/learner/k8s/bin/cni" in it.`, false},
		{"the lesson's version 2 file", "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".cni]\n    bin_dir = \"/usr/lib/cni\"\n    conf_dir = \"/etc/cni/net.d\"\n", "/usr/lib/cni", "/etc/containerd/config.toml sets the CNI plugin directory to /usr/lib/cni: containerd looks there.", true},
		{"a 2.x bin_dirs list", "version = 3\n[plugins.'io.containerd.cri.v1.runtime'.cni]\n  bin_dirs = ['/opt/cni/bin', '/usr/lib/cni']\n", "/usr/lib/cni", "/etc/containerd/config.toml sets the CNI plugin directory to /opt/cni/bin, /usr/lib/cni: containerd looks there.", true},
		{"a file without bin_dir", "version = 2\n", "/usr/lib/cni", `/etc/containerd/config.toml sets no bin_dir, so containerd looks in /opt/cni/bin, its default, not in /usr/lib/cni: set bin_dir = "/usr/lib/cni" (the containerd lesson's configuration does).`, false},
		{"a file without bin_dir, plugins in the work dir", "version = 2\n", "/home/learner/k8s/bin/cni", `/etc/containerd/config.toml sets no bin_dir, so containerd looks in /opt/cni/bin, its default, not in /home/learner/k8s/bin/cni: set bin_dir = "/home/learner/k8s/bin/cni".`, false},
		{"a file without bin_dir, plugins in the default", "version = 2\n", "/opt/cni/bin", "/etc/containerd/config.toml sets no bin_dir, so containerd looks in /opt/cni/bin, its default: there.", true},
		{"another directory", "bin_dir = \"/opt/cni/bin\"\n", "/usr/lib/cni", `/etc/containerd/config.toml sets the CNI plugin directory to /opt/cni/bin, not /usr/lib/cni: pods will fail with "failed to find plugin" unless you set bin_dir = "/usr/lib/cni" and restart containerd.`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := checks.NewEnv(t.TempDir())
			env.HostRoot = t.TempDir()
			if tc.config != "" {
				p := filepath.Join(env.HostRoot, "etc", "containerd", "config.toml")
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(tc.config), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := checks.CNIBinDirNote(env, tc.dir); got != tc.want {
				t.Errorf("CNIBinDirNote(%s) =\n%s\nwant\n%s", tc.dir, got, tc.want)
			}
			if got := checks.ContainerdLooksIn(env, tc.dir); got != tc.looks {
				t.Errorf("ContainerdLooksIn(%s) = %v, want %v", tc.dir, got, tc.looks)
			}
			// The doctor's check says the same.
			plugins := filepath.Join(env.HostRoot, strings.TrimPrefix(tc.dir, "/"))
			if err := os.MkdirAll(plugins, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(plugins, "bridge"), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			env.CNIBinDirs = []string{tc.dir}
			res := runCheck(t, env, checks.CNIPluginsInstalled{})
			if want := "The CNI plugins are in " + tc.dir + ". " + tc.want; res.Message != want {
				t.Errorf("cni-plugins-installed says\n%s\nwant\n%s", res.Message, want)
			}
		})
	}
}
