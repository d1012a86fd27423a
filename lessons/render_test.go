package lessons

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

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
