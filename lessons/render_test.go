package lessons

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kubetutor/kubetutor/internal/golden"
	"github.com/kubetutor/kubetutor/internal/script"
)

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// TestCodeBlocksVerbatim renders every lesson in every style at widths from
// 60 to 250 columns and finds each line of each code block, in order, as a
// whole output line: starting at column 0, not wrapped, not padded.
func TestCodeBlocksVerbatim(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, style := range []string{"notty", "ascii", "dark", "light", "dracula", "pink"} {
		for _, width := range []int{60, 79, 120, 121, 250} {
			r, err := NewRenderer(style, width)
			if err != nil {
				t.Fatal(err)
			}
			for _, host := range []script.Set{nil, {"offline": true}} {
				r.Host = host
				for _, l := range c.All() {
					t.Run(fmt.Sprintf("%s/%d/%s/host=%v", style, width, l.ID, host != nil), func(t *testing.T) {
						out, err := r.Render(l.Markdown)
						if err != nil {
							t.Fatal(err)
						}
						assertVerbatim(t, l.Markdown, ansi.ReplaceAllString(out, ""))
					})
				}
			}
		}
	}
}

// assertVerbatim finds every code block of md as consecutive whole lines of
// out (adjacent variants may be reordered for the host).
func assertVerbatim(t *testing.T, md, out string) {
	t.Helper()
	blocks, err := script.Parse(md)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	for _, b := range blocks {
		want := b.Lines()
		found := -1
		for i := 0; i+len(want) <= len(lines); i++ {
			match := true
			for j, w := range want {
				if lines[i+j] != w {
					match = false
					break
				}
			}
			if match {
				found = i
				break
			}
		}
		if found < 0 {
			t.Fatalf("block at line %d is not verbatim in the rendering:\n%s\n--- rendering ---\n%s", b.Line, b.Text, out)
		}
	}
}

func TestRenderLabelsVariants(t *testing.T) {
	r, err := NewRenderer("notty", 80)
	if err != nil {
		t.Fatal(err)
	}
	md := "# T\n\n## Commands\n\n```sh run when=offline\nkubetutor images load\n```\n\n```sh run when=online\ntrue\n```\n"
	out, err := r.Render(md)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "(only on a host with: offline)") {
		t.Errorf("no neutral label:\n%s", out)
	}
	r.Host = script.Set{"offline": true}
	out, _ = r.Render(md)
	if !strings.Contains(out, "(for this machine: offline)") || !strings.Contains(out, "(not for this machine: it needs online)") {
		t.Errorf("no host labels:\n%s", out)
	}
	// Adjacent variants: this machine's first.
	r.Host = script.Set{"online": true}
	out, _ = r.Render(md)
	if strings.Index(out, "\ntrue\n") > strings.Index(out, "\nkubetutor images load\n") {
		t.Errorf("the variant for this machine is not first:\n%s", out)
	}
}

func TestRenderRejectsBrokenBlocks(t *testing.T) {
	r, err := NewRenderer("notty", 80)
	if err != nil {
		t.Fatal(err)
	}
	for _, md := range []string{"```sh\nopen\n", "text\n  ```sh\nx\n  ```\n", "```sh run=sometimes\nx\n```\n"} {
		if _, err := r.Render(md); err == nil {
			t.Errorf("Render(%q) = nil error", md)
		}
	}
}

// TestFitsFirst orders the groups of alternative blocks: this machine's
// variant first, each with its lead-in paragraph and its notes, the others
// after it; prose outside a group and blocks of other families stay put.
func TestFitsFirst(t *testing.T) {
	const md = "# T\n\n## Commands\n\nIntro.\n\n```sh run\nmkdir x\n```\n\n- about mkdir\n\n" +
		"Online, download:\n\n```sh run when=online\ncurl o\n```\n\n- about curl\n\n" +
		"Offline, build:\n\n```sh run when=offline\nfetch\n```\n\n- about fetch\n\nThen the path:\n\n" +
		"```sh run\nexport P\n```\n\nWith systemd:\n\n```sh run when=systemd\nsystemctl s\n```\n\n" +
		"Without systemd:\n\n```sh run when=no-systemd\npgrep p\n```\n\n" +
		"Apart:\n\n```sh run when=offline\nload\n```\n\n### Heading\n\n```sh run when=online\npull\n```\n\nEnd.\n"
	order := func(host script.Set) string {
		segs, err := split(md)
		if err != nil {
			t.Fatal(err)
		}
		if host != nil {
			segs = fitsFirst(segs, host)
		}
		var words []string
		for _, s := range segs {
			if s.code != nil {
				words = append(words, "["+strings.TrimSpace(s.code.Text)+"]")
				continue
			}
			for _, p := range paragraphs(s.prose) {
				words = append(words, strings.TrimSpace(p))
			}
		}
		return strings.Join(words, " | ")
	}
	lesson := order(nil)
	tests := []struct {
		name string
		host script.Set
		want string
	}{
		{"lesson order fits this host", script.Set{"online": true, "systemd": true}, lesson},
		{"offline, no systemd", script.Set{"offline": true, "no-systemd": true},
			"# T | ## Commands | Intro. | [mkdir x] | - about mkdir | " +
				"Offline, build: | [fetch] | - about fetch | Online, download: | [curl o] | - about curl | Then the path: | [export P] | " +
				"Without systemd: | [pgrep p] | With systemd: | [systemctl s] | " +
				"Apart: | [load] | ### Heading | [pull] | End."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := order(tc.host); got != tc.want {
				t.Errorf("order\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestRenderVariantGroups renders the tools lesson for an offline machine
// without systemd: the offline block and its explanation come before the
// online one, the no-systemd block before the systemd one, both labelled.
func TestRenderVariantGroups(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Get("tools")
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRenderer("notty", 80)
	if err != nil {
		t.Fatal(err)
	}
	r.Host = script.Set{"offline": true, "no-systemd": true}
	out, err := r.Render(l.Markdown)
	if err != nil {
		t.Fatal(err)
	}
	assertVerbatim(t, l.Markdown, out)
	before := func(a, b string) {
		t.Helper()
		i, j := strings.Index(out, a), strings.Index(out, b)
		if i < 0 || j < 0 || i > j {
			t.Errorf("%q (at %d) is not before %q (at %d):\n%s", a, i, b, j, out)
		}
	}
	before("\nkubetutor fetch --from-source\n", "\ncurl -fLo bin/$b")
	before("Without internet access", "On a machine with internet access")
	before("(for this machine: offline)", "(not for this machine: it needs online)")
	before("The Kubernetes server binaries and kubectl are not packaged", "On a machine with internet access")
	before("On a machine with internet access", "curl -f fails on an HTTP error")
	before("\npgrep -a -x", "\nsystemctl disable --now etcd containerd")
	before("(not for this machine: it needs systemd)", "\nsystemctl disable --now etcd containerd")
	golden.Assert(t, filepath.Join("testdata", "golden", "tools.offline-no-systemd.txt"), out)
}
