package script

import (
	"strings"
	"testing"
)

func TestParseInfo(t *testing.T) {
	cases := []struct {
		info string
		kind Kind
		when string
		err  string
	}{
		{"sh", Show, "", ""},
		{"", Show, "", ""},
		{"sh run", Run, "", ""},
		{"sh run=daemon", Daemon, "", ""},
		{"sh run when=offline", Run, "offline", ""},
		{"sh run=daemon when=no-systemd,cgroup-v1", Daemon, "no-systemd,cgroup-v1", ""},
		{"sh when=offline", "", "", "when= needs run"},
		{"sh run run", "", "", "run given twice"},
		{"sh run when=offline,online", "", "", "exclude each other"},
		{"sh run when=offline,offline", "", "", "given twice"},
		{"sh run when=mars", "", "", `unknown host tag "mars"`},
		{"sh run=later", "", "", `unknown annotation "run=later"`},
		{"sh run when=", "", "", `unknown annotation "when="`},
		{"sh run when=offline demo=import-images", Run, "offline", ""},
		{"sh demo=skip", "", "", "demo= needs run"},
		{"sh run demo=a demo=b", "", "", "demo given twice"},
		{"sh run demo=", "", "", `unknown annotation "demo="`},
	}
	for _, tc := range cases {
		_, kind, when, err := ParseInfo(tc.info)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseInfo(%q) error %v, want %q", tc.info, err, tc.err)
			}
			continue
		}
		if err != nil || kind != tc.kind || strings.Join(when, ",") != tc.when {
			t.Errorf("ParseInfo(%q) = %q %q %v", tc.info, kind, when, err)
		}
	}
}

func TestParseAndSelect(t *testing.T) {
	md := "# L\n\n## Commands\n\nText.\n\n```sh run\nmkdir -p x\n```\n\n```sh run when=offline\nkubetutor images load\n```\n\n```sh run=daemon\netcd --data-dir=d\n```\n\n## See it yourself\n\n```sh\nls\n```\n\n```\n```\n"
	blocks, err := Parse(md)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 5 {
		t.Fatalf("%d blocks: %+v", len(blocks), blocks)
	}
	if b := blocks[0]; b.Kind != Run || b.Text != "mkdir -p x\n" || b.Section != "Commands" || b.Line != 7 {
		t.Errorf("block 0: %+v", b)
	}
	if b := blocks[3]; b.Kind != Show || b.Section != "See it yourself" {
		t.Errorf("block 3: %+v", b)
	}
	if b := blocks[4]; b.Text != "" || b.Lang != "" {
		t.Errorf("empty block: %+v", b)
	}
	cmds := Commands(blocks)
	if len(cmds) != 3 {
		t.Fatalf("commands: %+v", cmds)
	}
	online := Text(For(cmds, Set{"online": true}))
	if online != "mkdir -p x\n\netcd --data-dir=d\n" {
		t.Errorf("online text %q", online)
	}
	offline := Text(For(cmds, Set{"offline": true}))
	if offline != "mkdir -p x\n\nkubetutor images load\n\netcd --data-dir=d\n" {
		t.Errorf("offline text %q", offline)
	}
}

func TestParseErrors(t *testing.T) {
	for md, want := range map[string]string{
		"```sh\nx\n":                    "never closed",
		"```sh\nx \n```\n":              "trailing blanks",
		"```sh\n\tx\n```\n":             "a tab",
		"- item\n  ```sh\n  x\n  ```\n": "indented fence",
		"```sh\nx\n```sh\ny\n```\n":     "closing fence has an info string",
		"```sh run when=mars\nx\n```\n": "unknown host tag",
		"```sh run=daemon x\nx\n```\n":  "unknown annotation",
	} {
		if _, err := Parse(md); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error %v, want %q", md, err, want)
		}
	}
}

func TestTagPairs(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Tags {
		for i, tag := range p {
			if seen[tag] {
				t.Errorf("tag %q twice", tag)
			}
			seen[tag] = true
			if Opposite(tag) != p[1-i] || !KnownTag(tag) {
				t.Errorf("Opposite(%q) = %q", tag, Opposite(tag))
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("# T\n\n```sh run\nls\n```\n")
	f.Add("```sh run=daemon when=offline\nx\n```\n```\n")
	f.Fuzz(func(t *testing.T, md string) {
		blocks, err := Parse(md)
		if err != nil {
			return
		}
		for _, b := range blocks {
			for _, l := range b.Lines() {
				if strings.HasPrefix(l, "```") {
					t.Fatalf("a fence inside a block: %q", b.Text)
				}
			}
			if b.Line < 1 || b.Line > strings.Count(md, "\n")+1 {
				t.Fatalf("line %d out of range", b.Line)
			}
		}
	})
}

// A block's demo= annotation reaches the parsed block.
func TestParseDemoAction(t *testing.T) {
	blocks, err := Parse("## Commands\n\n```sh run when=offline demo=import-images\nkubetutor images load\n```\n\n```sh run\nls\n```\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || blocks[0].Demo != "import-images" || blocks[1].Demo != "" || blocks[0].Line != 3 || blocks[0].Section != "Commands" {
		t.Fatalf("blocks %+v", blocks)
	}
}
