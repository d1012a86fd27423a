package checks

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/kubetutor/kubetutor/internal/fsutil"
)

// cniConfig is the part of a CNI network configuration the checks read.
type cniConfig struct {
	File    string
	Name    string
	Plugins []cniPlugin
}

type cniPlugin struct {
	Type   string `json:"type"`
	IPMasq bool   `json:"ipMasq"`
	IPAM   *struct {
		Type string `json:"type"`
	} `json:"ipam"`
}

// pluginTypes lists every binary the configuration needs, IPAM included.
func (c *cniConfig) pluginTypes() []string {
	var out []string
	for _, p := range c.Plugins {
		if p.Type != "" && !slices.Contains(out, p.Type) {
			out = append(out, p.Type)
		}
		if p.IPAM != nil && p.IPAM.Type != "" && !slices.Contains(out, p.IPAM.Type) {
			out = append(out, p.IPAM.Type)
		}
	}
	return out
}

func (c *cniConfig) needsIptables() bool {
	for _, p := range c.Plugins {
		if p.IPMasq || p.Type == "portmap" || p.Type == "firewall" {
			return true
		}
	}
	return false
}

// CNIConfigFile is the configuration file the runtime uses in dir: the
// first .conflist/.conf/.json file in lexical order, as libcni picks it; an
// error satisfying os.IsNotExist when there is none.
func CNIConfigFile(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var files []string
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".conflist", ".conf", ".json":
			if !e.IsDir() {
				files = append(files, e.Name())
			}
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return "", os.ErrNotExist
	}
	return filepath.Join(dir, files[0]), nil
}

// loadCNIConfig reads the configuration the runtime would use: the first
// .conflist/.conf/.json file in lexical order, as libcni picks it.
func loadCNIConfig(dir string) (*cniConfig, error) {
	path, err := CNIConfigFile(dir)
	if err != nil {
		return nil, err
	}
	data, err := fsutil.ReadFile(path, fsutil.LimitConfig)
	if err != nil {
		return &cniConfig{File: path}, err
	}
	var raw struct {
		Name    string      `json:"name"`
		Type    string      `json:"type"`
		Plugins []cniPlugin `json:"plugins"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return &cniConfig{File: path}, fmt.Errorf("%s is not valid JSON: %w", path, err)
	}
	cfg := &cniConfig{File: path, Name: raw.Name, Plugins: raw.Plugins}
	if filepath.Ext(path) == ".conflist" && raw.Name == "" {
		return cfg, fmt.Errorf("%s has no \"name\", which libcni requires of a network configuration list", path)
	}
	if filepath.Ext(path) != ".conflist" {
		var single cniPlugin
		_ = json.Unmarshal(data, &single)
		cfg.Plugins = []cniPlugin{single}
	}
	if len(cfg.Plugins) == 0 {
		return cfg, fmt.Errorf("%s names no plugins", path)
	}
	for _, p := range cfg.Plugins {
		if p.Type == "" {
			if filepath.Ext(path) != ".conflist" && len(raw.Plugins) > 0 {
				return cfg, fmt.Errorf("%s lists plugins, so it must be named .conflist (a .conf file is a single plugin with a \"type\")", path)
			}
			return cfg, fmt.Errorf("%s has a plugin without a \"type\"", path)
		}
	}
	return cfg, nil
}

// CNIConfigPresent checks that a CNI network configuration is in place.
type CNIConfigPresent struct{}

// Name implements Checker.
func (CNIConfigPresent) Name() string { return "cni-config" }

// Check implements Checker.
func (CNIConfigPresent) Check(_ context.Context, env *Env) (Result, error) {
	cfg, err := loadCNIConfig(env.CNIConfDir)
	if os.IsNotExist(err) {
		return failf("There is no CNI configuration in %s, so the runtime reports NetworkReady=false and the node stays NotReady.", env.CNIConfDir).
			saw("no .conflist/.conf file", "a network configuration in "+env.CNIConfDir).
			hint("write the bridge configuration of the cni lesson to %s/10-bridge.conflist (kubetutor show cni)", env.CNIConfDir), nil
	}
	if err != nil {
		return failf("The CNI configuration cannot be used: %v.", err).
			saw("broken configuration", "a valid network configuration").
			hint("compare it with the cni lesson's 10-bridge.conflist"), nil
	}
	return passf("%s configures network %q with plugins %s.", cfg.File, cfg.Name, strings.Join(cfg.pluginTypes(), ", ")), nil
}

// CNIPluginsPresent checks that every plugin the configuration names exists.
type CNIPluginsPresent struct{}

// Name implements Checker.
func (CNIPluginsPresent) Name() string { return "cni-plugins" }

// Check implements Checker.
func (CNIPluginsPresent) Check(_ context.Context, env *Env) (Result, error) {
	cfg, err := loadCNIConfig(env.CNIConfDir)
	if err != nil {
		return failf("No usable CNI configuration, so no plugins to look for.").
			saw("no configuration", "a configuration and its plugins").
			hint("kubetutor show cni"), nil
	}
	// containerd searches one bin_dir: every plugin must be in the same one.
	types := cfg.pluginTypes()
	best, bestMissing := "", types
	for _, dir := range env.CNIBinDirs {
		var missing []string
		for _, t := range types {
			if fi, err := os.Stat(filepath.Join(dir, t)); err != nil || fi.Mode()&0o111 == 0 {
				missing = append(missing, t)
			}
		}
		if len(missing) < len(bestMissing) {
			best, bestMissing = dir, missing
		}
	}
	dirs := strings.Join(env.CNIBinDirs, " or ")
	switch {
	case best == "":
		return failf("CNI plugin(s) %s, named by %s, are not in %s: pods will stay in ContainerCreating with \"failed to find plugin\".", strings.Join(types, ", "), filepath.Base(cfg.File), dirs).
			saw("missing: "+strings.Join(types, ", "), "every plugin of the configuration").
			hint("install the CNI plugins into /opt/cni/bin (or apt install containernetworking-plugins and set containerd's bin_dir to /usr/lib/cni)"), nil
	case len(bestMissing) > 0:
		return failf("CNI plugin(s) %s, named by %s, are not in %s with the others: containerd searches a single bin_dir, so pods will fail with \"failed to find plugin\".", strings.Join(bestMissing, ", "), filepath.Base(cfg.File), best).
			saw("missing in "+best+": "+strings.Join(bestMissing, ", "), "every plugin in one directory").
			hint("install the complete plugin set into one directory (the CNI release tarball or containernetworking-plugins) and point containerd's bin_dir at it"), nil
	}
	res := passf("All plugins of %s are installed in %s.", filepath.Base(cfg.File), best)
	res.Message += " " + CNIBinDirNote(env, best)
	if cfg.needsIptables() {
		if iptablesPath(env) == "" {
			return failf("The configuration uses ipMasq or portmap, which need iptables, and iptables is not installed: pod sandboxes will fail.").
				saw("no iptables", "iptables installed").
				hint("apt install iptables (see kubetutor show troubleshooting)"), nil
		}
		res = res.detail("iptables is installed (needed by ipMasq and portmap)")
	}
	return res, nil
}
