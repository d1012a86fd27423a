package host

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseVersion feeds ParseVersion what a containerd or etcd binary
// might print for --version (outside input: any binary on PATH): it never
// panics, and the numbers it finds are ones the output holds.
func FuzzParseVersion(f *testing.F) {
	for _, seed := range []string{
		"containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1\n",
		"containerd github.com/containerd/containerd/v2 v2.4.2 0123abcd\n",
		"etcd Version: 3.4.23\nGit SHA: Not provided (use ./build instead of go build)\nGo Version: go1.19.8\n",
		"etcd Version: 3.6.16\nAPI Version: 3.6\n",
		"containerd x v99999999999999999999999.1\n",
		"",
		"\x00\xff containerd",
	} {
		f.Add(seed)
	}
	patterns := []string{`containerd \S+ v?(\d+)\.(\d+)`, `etcd Version: (\d+)\.(\d+)`}
	f.Fuzz(func(t *testing.T, out string) {
		for _, p := range patterns {
			major, minor := ParseVersion(out, p)
			if major < 0 || minor < 0 {
				t.Fatalf("ParseVersion(%q) = %d.%d: negative", out, major, minor)
			}
			if major > 0 && !strings.Contains(out, strconv.Itoa(major)) {
				t.Fatalf("ParseVersion(%q) = major %d, not in the output", out, major)
			}
		}
	})
}

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		out, pattern string
		major, minor int
	}{
		{"containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1\n", `containerd \S+ v?(\d+)\.(\d+)`, 1, 6},
		{"containerd github.com/containerd/containerd/v2 v2.4.2 0123abcd\n", `containerd \S+ v?(\d+)\.(\d+)`, 2, 4},
		{"etcd Version: 3.6.16\n", `etcd Version: (\d+)\.(\d+)`, 3, 6},
		{"something else\n", `etcd Version: (\d+)\.(\d+)`, 0, 0},
	} {
		if major, minor := ParseVersion(tc.out, tc.pattern); major != tc.major || minor != tc.minor {
			t.Errorf("ParseVersion(%q) = %d.%d, want %d.%d", tc.out, major, minor, tc.major, tc.minor)
		}
	}
}
