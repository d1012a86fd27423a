package checks

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzCNIConfig reads a fuzzed file as the first CNI configuration of the
// conf dir, as a .conflist and as a single .conf.
func FuzzCNIConfig(f *testing.F) {
	seeds := []string{
		`{"cniVersion":"1.0.0","name":"bridge","plugins":[{"type":"bridge","bridge":"cni0","ipam":{"type":"host-local","ranges":[[{"subnet":"10.22.0.0/16"}]]}},{"type":"portmap","capabilities":{"portMappings":true}}]}`,
		`{"cniVersion":"0.4.0","name":"single","type":"bridge"}`,
		`{"plugins":[]}`,
		`{"name":"x","plugins":[null, 1, "s", {"type": 5}]}`,
		`[]`, `null`, `{`, ``,
	}
	for _, s := range seeds {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, list bool) {
		dir := t.TempDir()
		name := "10-x.conf"
		if list {
			name = "10-x.conflist"
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadCNIConfig(dir)
		if cfg != nil {
			_ = cfg.pluginTypes()
			_ = cfg.needsIptables()
		}
		if err == nil && cfg == nil {
			t.Fatal("no configuration and no error")
		}
	})
}
