package content

import (
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name, in  string
		title     string
		hints     int
		body, err string
	}{
		{"none", "# Welcome\n\ntext\n", "", 0, "# Welcome\n\ntext\n", ""},
		{"front matter", "---\ntitle: \"Start etcd\"\nnext: x\nhints:\n  - \"a: b\"\n  - c\npassed: p\n---\n# etcd\n", "Start etcd", 2, "# etcd\n", ""},
		{"a comment", "---\n# the step\ntitle: t\n---\n# L\n", "t", 0, "# L\n", ""},
		{"never closed", "---\ntitle: t\n# L\n", "", 0, "", "never closed"},
		{"unknown key", "---\ntitel: t\n---\n# L\n", "", 0, "", "unknown field"},
		{"not YAML", "---\ntitle: [\n---\n# L\n", "", 0, "", "front matter"},
		{"a rule later is Markdown", "# L\n\n---\n\ntext\n", "", 0, "# L\n\n---\n\ntext\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, body, err := Split(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Title != tc.title || len(m.Hints) != tc.hints || body != tc.body {
				t.Errorf("got %+v and %q, want title %q, %d hints and %q", m, body, tc.title, tc.hints, tc.body)
			}
		})
	}
}

// FuzzSplit: any text either splits into front matter and a body that is a
// suffix of it, or is refused; never a panic.
func FuzzSplit(f *testing.F) {
	f.Add("---\ntitle: t\nhints:\n  - a\n---\n# L\n")
	f.Add("---\n---\n")
	f.Add("---\n")
	f.Add("# L\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, body, err := Split(s)
		if err == nil && !strings.HasSuffix(s, body) {
			t.Fatalf("body %q is not the end of %q", body, s)
		}
	})
}
