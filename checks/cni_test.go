package checks_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubetutor/kubetutor/checks"
)

// bridgeConflist is the cni lesson's 10-bridge.conflist.
const bridgeConflist = `{
  "cniVersion": "1.0.0",
  "name": "bridge",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "10.88.0.0/16"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}`

const loopbackConf = `{"cniVersion": "1.0.0", "name": "lo", "type": "loopback"}`

const bridgeConf = `{
  "cniVersion": "0.4.0",
  "name": "mynet",
  "type": "bridge",
  "bridge": "cni0",
  "ipam": {"type": "host-local", "subnet": "10.22.0.0/16"}
}`

var allPlugins = []string{"bridge", "host-local", "portmap", "loopback"}

// fakeIptables is a host root (for Env.HostRoot) with an iptables in
// /usr/sbin: the bridge configuration uses ipMasq and portmap, for which
// CNIPluginsPresent wants iptables.
func fakeIptables(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "usr", "sbin", "iptables"), script("exit 0"), 0o755)
	return root
}

func TestCNIChecks(t *testing.T) {
	hostRoot := fakeIptables(t)

	type want struct {
		status checks.Status
		msg    []string
	}
	tests := []struct {
		name     string
		noDir    bool
		conf     map[string]string // file name → content; a name ending in / is a directory
		plugins  []string          // installed in the first bin dir
		plugins2 []string          // installed in the second bin dir
		noExec   []string          // installed in the first bin dir without the x bit
		config   want
		bins     want
		bug      string
	}{
		{
			name:   "no conf dir",
			noDir:  true,
			config: want{checks.Fail, []string{"There is no CNI configuration in"}},
			bins:   want{checks.Fail, []string{"No usable CNI configuration"}},
		},
		{
			name:   "empty conf dir",
			conf:   map[string]string{},
			config: want{checks.Fail, []string{"There is no CNI configuration in", "NotReady"}},
			bins:   want{checks.Fail, []string{"No usable CNI configuration"}},
		},
		{
			name:   "only files of other kinds",
			conf:   map[string]string{"README": "x", "10-bridge.conflist.bak": bridgeConflist, "99.conflist/": ""},
			config: want{checks.Fail, []string{"There is no CNI configuration in"}},
			bins:   want{checks.Fail, []string{"No usable CNI configuration"}},
		},
		{
			name:   "invalid JSON",
			conf:   map[string]string{"10-bridge.conflist": `{"name": "bridge", "plugins": [`},
			config: want{checks.Fail, []string{"cannot be used", "10-bridge.conflist is not valid JSON"}},
			bins:   want{checks.Fail, []string{"No usable CNI configuration"}},
		},
		{
			name:   "conflist without plugins",
			conf:   map[string]string{"10-bridge.conflist": `{"cniVersion": "1.0.0", "name": "bridge", "plugins": []}`},
			config: want{checks.Fail, []string{"10-bridge.conflist names no plugins"}},
			bins:   want{checks.Fail, []string{"No usable CNI configuration"}},
		},
		{
			name:    "bridge conflist, all plugins installed",
			conf:    map[string]string{"10-bridge.conflist": bridgeConflist},
			plugins: allPlugins,
			config:  want{checks.Pass, []string{`10-bridge.conflist configures network "bridge" with plugins bridge, host-local, portmap, loopback.`}},
			bins:    want{checks.Pass, []string{"All plugins of 10-bridge.conflist are installed"}},
		},
		{
			name:     "plugins split over two bin dirs",
			conf:     map[string]string{"10-bridge.conflist": bridgeConflist},
			plugins:  []string{"bridge", "portmap"},
			plugins2: []string{"host-local", "loopback"},
			config:   want{checks.Pass, nil},
			bins:     want{checks.Fail, []string{"are not in", "with the others", "single bin_dir"}},
		},
		{
			name:    "host-local missing",
			conf:    map[string]string{"10-bridge.conflist": bridgeConflist},
			plugins: []string{"bridge", "portmap", "loopback"},
			config:  want{checks.Pass, nil},
			bins:    want{checks.Fail, []string{"CNI plugin(s) host-local, named by 10-bridge.conflist, are not in", "failed to find plugin"}},
		},
		{
			name:    "plugin present but not executable",
			conf:    map[string]string{"10-bridge.conflist": bridgeConflist},
			plugins: []string{"bridge", "host-local", "loopback"},
			noExec:  []string{"portmap"},
			config:  want{checks.Pass, nil},
			bins:    want{checks.Fail, []string{"CNI plugin(s) portmap,"}},
		},
		{
			name:   "no plugins at all",
			conf:   map[string]string{"10-bridge.conflist": bridgeConflist},
			config: want{checks.Pass, nil},
			bins:   want{checks.Fail, []string{"bridge, host-local, portmap, loopback"}},
		},
		{
			name:    "single .conf file",
			conf:    map[string]string{"10-mynet.conf": bridgeConf},
			plugins: []string{"bridge", "host-local"},
			config:  want{checks.Pass, []string{`10-mynet.conf configures network "mynet" with plugins bridge, host-local.`}},
			bins:    want{checks.Pass, []string{"All plugins of 10-mynet.conf are installed"}},
		},
		{
			name:    "single .conf file, IPAM plugin missing",
			conf:    map[string]string{"10-mynet.conf": bridgeConf},
			plugins: []string{"bridge"},
			config:  want{checks.Pass, nil},
			bins:    want{checks.Fail, []string{"CNI plugin(s) host-local, named by 10-mynet.conf"}},
		},
		{
			name:    ".json file is a single configuration",
			conf:    map[string]string{"50-lo.json": loopbackConf},
			plugins: []string{"loopback"},
			config:  want{checks.Pass, []string{`50-lo.json configures network "lo" with plugins loopback.`}},
			bins:    want{checks.Pass, nil},
		},
		{
			name: "lexically first file is used",
			conf: map[string]string{
				"99-loopback.conf":   loopbackConf,
				"10-bridge.conflist": bridgeConflist,
				"20-mynet.conf":      bridgeConf,
				"00-notes.txt":       "not a configuration",
				"05-dir.conflist/":   "",
			},
			plugins: allPlugins,
			config:  want{checks.Pass, []string{"10-bridge.conflist configures"}},
			bins:    want{checks.Pass, []string{"10-bridge.conflist"}},
		},
		{
			name: "lexically first file is broken: it is the one reported",
			conf: map[string]string{
				"10-bridge.conflist": bridgeConflist,
				"01-typo.conf":       `{"name": "typo", "type": "bridge",}`,
			},
			plugins: allPlugins,
			config:  want{checks.Fail, []string{"01-typo.conf is not valid JSON"}},
			bins:    want{checks.Fail, nil},
		},
		{
			// A common slip: the lesson's conflist saved as 10-bridge.conf.
			// libcni reads a .conf as one plugin and rejects it with
			// "error parsing configuration: missing 'type'".
			name:    "conflist content in a .conf file",
			conf:    map[string]string{"10-bridge.conf": bridgeConflist},
			plugins: allPlugins,
			config:  want{checks.Fail, []string{"10-bridge.conf", "type"}},
			bins:    want{checks.Fail, nil},
		},
		{
			name: "a leftover .conf sorts before the conflist and hides it",
			conf: map[string]string{
				"10-bridge.conflist": bridgeConflist,
				"05-old.conf":        bridgeConf,
			},
			plugins: []string{"bridge", "host-local"},
			config:  want{checks.Pass, []string{"05-old.conf configures network \"mynet\""}},
			bins:    want{checks.Pass, []string{"05-old.conf"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.bug != "" {
				skipBug(t, tt.bug)
			}
			root := t.TempDir()
			confDir := filepath.Join(root, "net.d")
			bin1, bin2 := filepath.Join(root, "opt-cni-bin"), filepath.Join(root, "usr-lib-cni")
			if !tt.noDir {
				if err := os.MkdirAll(confDir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for name, data := range tt.conf {
				if strings.HasSuffix(name, "/") {
					if err := os.MkdirAll(filepath.Join(confDir, name), 0o755); err != nil {
						t.Fatal(err)
					}
					continue
				}
				writeFile(t, filepath.Join(confDir, name), []byte(data), 0o644)
			}
			for _, p := range tt.plugins {
				writeFile(t, filepath.Join(bin1, p), script("exit 0"), 0o755)
			}
			for _, p := range tt.plugins2 {
				writeFile(t, filepath.Join(bin2, p), script("exit 0"), 0o755)
			}
			for _, p := range tt.noExec {
				writeFile(t, filepath.Join(bin1, p), script("exit 0"), 0o644)
			}
			env := checks.NewEnv(root)
			env.CNIConfDir = confDir
			env.CNIBinDirs = []string{bin1, bin2}
			env.HostRoot = hostRoot

			for _, c := range []struct {
				checker checks.Checker
				name    string
				want    want
			}{
				{checks.CNIConfigPresent{}, "cni-config", tt.config},
				{checks.CNIPluginsPresent{}, "cni-plugins", tt.bins},
			} {
				res := runCheck(t, env, c.checker)
				t.Logf("%s: %s: %s (hint: %s; details %q)", res.Name, res.Status, res.Message, res.Hint, res.Details)
				if res.Name != c.name {
					t.Errorf("name = %q, want %q", res.Name, c.name)
				}
				if res.Status != c.want.status {
					t.Errorf("%s: status = %s, want %s: %s", c.name, res.Status, c.want.status, res.Message)
					continue
				}
				for _, m := range c.want.msg {
					if !strings.Contains(res.Message, m) {
						t.Errorf("%s: message %q does not contain %q", c.name, res.Message, m)
					}
				}
				if res.Status == checks.Fail && res.Hint == "" {
					t.Errorf("%s: fails without a hint", c.name)
				}
			}
		})
	}
}

// The bin dirs that hold the plugins are named in the pass message.
func TestCNIPluginsPresentNamesDirs(t *testing.T) {
	hostRoot := fakeIptables(t)
	root := t.TempDir()
	confDir, bin1, bin2 := filepath.Join(root, "net.d"), filepath.Join(root, "a"), filepath.Join(root, "b")
	writeFile(t, filepath.Join(confDir, "10-bridge.conflist"), []byte(bridgeConflist), 0o644)
	for _, p := range allPlugins {
		writeFile(t, filepath.Join(bin2, p), script("exit 0"), 0o755)
	}
	if err := os.MkdirAll(bin1, 0o755); err != nil {
		t.Fatal(err)
	}
	env := checks.NewEnv(root)
	env.CNIConfDir, env.CNIBinDirs = confDir, []string{bin1, bin2}
	env.HostRoot = hostRoot
	res := runCheck(t, env, checks.CNIPluginsPresent{})
	if res.Status != checks.Pass {
		t.Fatalf("status %s: %s", res.Status, res.Message)
	}
	if !strings.Contains(res.Message, "installed in "+bin2+".") || strings.Contains(res.Message, bin1+"/") || strings.Contains(res.Message, bin1+".") {
		t.Errorf("message %q should name only %s", res.Message, bin2)
	}
	if !strings.Contains(strings.Join(res.Details, "\n"), "iptables is installed") {
		t.Errorf("details %q do not mention iptables", res.Details)
	}
}

// Without ipMasq or portmap, iptables is not asked for.
func TestCNIPluginsPresentNoIptablesNeeded(t *testing.T) {
	root := t.TempDir()
	confDir, bin := filepath.Join(root, "net.d"), filepath.Join(root, "bin")
	writeFile(t, filepath.Join(confDir, "10-mynet.conf"), []byte(bridgeConf), 0o644)
	for _, p := range []string{"bridge", "host-local"} {
		writeFile(t, filepath.Join(bin, p), script("exit 0"), 0o755)
	}
	env := checks.NewEnv(root)
	env.CNIConfDir, env.CNIBinDirs = confDir, []string{bin}
	res := runCheck(t, env, checks.CNIPluginsPresent{})
	if res.Status != checks.Pass {
		t.Fatalf("status %s: %s", res.Status, res.Message)
	}
	if strings.Contains(strings.Join(res.Details, "\n"), "iptables") {
		t.Errorf("details %q mention iptables, which this configuration does not need", res.Details)
	}
}

// On a host without iptables, a configuration with ipMasq/portmap fails:
// the check looks under the host root, whatever this machine has.
func TestCNIPluginsPresentWithoutIptables(t *testing.T) {
	root := t.TempDir()
	confDir, bin := filepath.Join(root, "net.d"), filepath.Join(root, "bin")
	writeFile(t, filepath.Join(confDir, "10-bridge.conflist"), []byte(bridgeConflist), 0o644)
	for _, p := range allPlugins {
		writeFile(t, filepath.Join(bin, p), script("exit 0"), 0o755)
	}
	env := checks.NewEnv(root)
	env.CNIConfDir, env.CNIBinDirs = confDir, []string{bin}
	env.HostRoot = t.TempDir()
	res := runCheck(t, env, checks.CNIPluginsPresent{})
	if res.Status != checks.Fail || !strings.Contains(res.Message, "iptables is not installed") || !strings.Contains(res.Hint, "apt install iptables") {
		t.Fatalf("got %s %q (hint %q)", res.Status, res.Message, res.Hint)
	}
}

// A conflist without a name is refused by libcni, so by the check too.
func TestCNIConflistNeedsAName(t *testing.T) {
	root := t.TempDir()
	confDir := filepath.Join(root, "net.d")
	writeFile(t, filepath.Join(confDir, "10-bridge.conflist"), []byte(`{"cniVersion":"1.0.0","plugins":[{"type":"bridge"}]}`), 0o644)
	env := checks.NewEnv(root)
	env.CNIConfDir = confDir
	res := runCheck(t, env, checks.CNIConfigPresent{})
	if res.Status != checks.Fail || !strings.Contains(res.Message, `no "name"`) || res.Hint == "" {
		t.Errorf("%s %q (hint %q)", res.Status, res.Message, res.Hint)
	}
}
