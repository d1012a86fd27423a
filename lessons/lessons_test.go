package lessons

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kubetutor/kubetutor/content"
	"github.com/kubetutor/kubetutor/internal/golden"
	"github.com/kubetutor/kubetutor/steps"
)

func TestContentValidates(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(c); err != nil {
		t.Fatalf("content does not validate:\n%v", err)
	}
	got := []string{}
	for _, l := range c.All() {
		got = append(got, l.ID)
	}
	want := append(append([]string{"welcome"}, steps.IDs()...), "troubleshooting")
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("lesson order %v, want %v", got, want)
	}
}

func TestStepIDsArePublicAndOrdered(t *testing.T) {
	want := "tools,certs,etcd,apiserver,deployment,controller-manager,scheduler,containerd,kubelet,cni,logs,service,kube-proxy,coredns,cluster-dns"
	if got := strings.Join(steps.IDs(), ","); got != want {
		t.Fatalf("step IDs %s, want %s", got, want)
	}
}

func TestTroubleshootingCoversTheCommonErrors(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Get(Troubleshooting)
	if err != nil {
		t.Fatal(err)
	}
	// The exact strings, as the components print them; the lesson may wrap them.
	text := strings.Join(strings.Fields(l.Markdown), " ")
	for _, want := range []string{
		"cni plugin not initialized", "failed to find plugin", "iptables", "failCgroupV1", "restrict_oom_score_adj", "Unauthorized",
		"neither iptables nor ip6tables usable", "Neither iptables nor ip6tables usable",
		"code = Unimplemented desc = unknown service runtime.v1.RuntimeService", `disabled_plugins = ["cri"]`,
		"running with swap on is not supported, please disable swap or set --fail-swap-on flag to false",
		`"Swap is on" /proc/swaps contents=`,
		"SystemdCgroup", `"Failed to start ContainerManager" err="systemd not running on this host, cannot use systemd cgroups manager"`,
		"Falling back to using cgroupDriver from kubelet config.", "etcdmain: listen tcp 127.0.0.1:2379: bind: address already in use",
		`failed to get sandbox image "registry.k8s.io/pause:3.6"`, "You must be logged in to the server",
		// Go's crypto/x509 HostnameError; kubectl's message without a
		// kubeconfig (k8s.io/kubectl pkg/cmd/util/helpers.go); the API
		// server's dialer; the kubelet's authorizer (pkg/kubelet/server);
		// the kubelet without --kubeconfig (pkg/kubelet/kubelet.go).
		"x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs",
		"The connection to the server localhost:8080 was refused - did you specify the right host or port?",
		"no such host", "Forbidden (user=NAME, verb=get, resource=nodes, subresource(s)=[proxy])",
		"No API server defined - no node status update will be sent", "Kubelet is running in standalone mode, will skip API server sync",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("troubleshooting lesson does not mention %q", want)
		}
	}
}

// TestValidateCatchesBrokenContent feeds Validate content with one defect each.
func TestValidateCatchesBrokenContent(t *testing.T) {
	good, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	base := fstest.MapFS{}
	for _, l := range good.All() {
		base["lessons/"+l.ID+".md"] = &fstest.MapFile{Data: []byte(l.Markdown)}
	}
	cases := []struct {
		name    string
		mutate  func(fstest.MapFS)
		loadErr string
		valErr  string
	}{
		{"lesson missing", func(m fstest.MapFS) { delete(m, "lessons/etcd.md") }, `load lesson "etcd"`, ""},
		{"no title", func(m fstest.MapFS) { m["lessons/cni.md"] = &fstest.MapFile{Data: []byte("no heading\n")} }, "level-1 heading", ""},
		{"section missing", func(m fstest.MapFS) {
			md := string(m["lessons/scheduler.md"].Data)
			m["lessons/scheduler.md"] = &fstest.MapFile{Data: []byte(strings.Replace(md, "## What just happened inside", "## Inside", 1))}
		}, "", `lesson "scheduler": sections`},
		{"command missing", func(m fstest.MapFS) {
			md := string(m["lessons/deployment.md"].Data)
			m["lessons/deployment.md"] = &fstest.MapFile{Data: []byte(strings.ReplaceAll(md, "kubectl create deployment nginx --image=nginx", "kubectl run nginx"))}
		}, "", `lesson "deployment": line 16: block differs from step "deployment"'s command 1`},
		{"run block becomes an illustration", func(m fstest.MapFS) {
			md := string(m["lessons/scheduler.md"].Data)
			m["lessons/scheduler.md"] = &fstest.MapFile{Data: []byte(strings.Replace(md, "```sh run=daemon\n", "```sh\n", 1))}
		}, "", `lesson "scheduler": 0 runnable blocks, but step "scheduler" has 1 commands`},
		{"runnable block outside Commands", func(m fstest.MapFS) {
			md := string(m["lessons/etcd.md"].Data)
			m["lessons/etcd.md"] = &fstest.MapFile{Data: []byte(md + "\n## More\n\n```sh run\nls\n```\n")}
		}, "", `a runnable block outside the Commands section (in "More")`},
		{"two components for one host", func(m fstest.MapFS) {
			md := string(m["lessons/etcd.md"].Data)
			m["lessons/etcd.md"] = &fstest.MapFile{Data: []byte(strings.Replace(md, "```sh run=daemon\n", "```sh run=daemon\netcd\n```\n\n```sh run=daemon\n", 1))}
		}, "", `2 long-running blocks for a host`},
		{"a variant leaves a host without commands", func(m fstest.MapFS) {
			md := string(m["lessons/scheduler.md"].Data)
			m["lessons/scheduler.md"] = &fstest.MapFile{Data: []byte(strings.Replace(md, "```sh run=daemon\n", "```sh run=daemon when=offline\n", 1))}
		}, "", `lesson "scheduler": no command for a host with online`},
		{"unknown host tag", func(m fstest.MapFS) {
			md := string(m["lessons/scheduler.md"].Data)
			m["lessons/scheduler.md"] = &fstest.MapFile{Data: []byte(strings.Replace(md, "```sh run=daemon\n", "```sh run=daemon when=windows\n", 1))}
		}, "", `unknown host tag "windows"`},
		{"trailing blank in a block", func(m fstest.MapFS) {
			md := string(m["lessons/scheduler.md"].Data)
			m["lessons/scheduler.md"] = &fstest.MapFile{Data: []byte(strings.Replace(md, "kube-scheduler --kubeconfig=admin.conf\n", "kube-scheduler --kubeconfig=admin.conf \n", 1))}
		}, "", `trailing blanks in a code block`},
		{"non-step lesson with a runnable block", func(m fstest.MapFS) {
			md := string(m["lessons/troubleshooting.md"].Data)
			m["lessons/troubleshooting.md"] = &fstest.MapFile{Data: []byte(md + "\n```sh run\nls\n```\n")}
		}, "", `lesson "troubleshooting": line`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := fstest.MapFS{}
			for k, v := range base {
				m[k] = v
			}
			tc.mutate(m)
			c, err := LoadFS(m, "lessons")
			if tc.loadErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.loadErr) {
					t.Fatalf("LoadFS error %v, want %q", err, tc.loadErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := Validate(c); err == nil || !strings.Contains(err.Error(), tc.valErr) {
				t.Fatalf("Validate error %v, want %q", err, tc.valErr)
			}
		})
	}
}

// TestValidateErrorsNameTheFilesLines: a block's line in a validation
// error is its line in the lesson's .md file, front matter included (the
// lessons are read as they are embedded, front matter and all).
func TestValidateErrorsNameTheFilesLines(t *testing.T) {
	read := func(m fstest.MapFS, id string) string { return string(m["lessons/"+id+".md"].Data) }
	write := func(m fstest.MapFS, id, md string) { m["lessons/"+id+".md"] = &fstest.MapFile{Data: []byte(md)} }
	cases := []struct {
		name   string
		lesson string
		mutate func(md string) string
		// at finds, in the mutated file, the line the error must name.
		at      string
		fenceOf bool // the error names the fence above the line of at
		valErr  string
	}{
		{
			name: "block differs", lesson: "deployment",
			mutate: func(md string) string {
				return strings.Replace(md, "\nkubectl create deployment nginx --image=nginx\n", "\nkubectl run nginx\n", 1)
			},
			at: "kubectl run nginx", fenceOf: true,
			valErr: `block differs from step "deployment"'s command 1`,
		},
		{
			name: "runnable block outside Commands", lesson: "etcd",
			mutate: func(md string) string { return md + "\n## More\n\n```sh run\nls-outside\n```\n" },
			at:     "ls-outside", fenceOf: true,
			valErr: `a runnable block outside the Commands section (in "More")`,
		},
		{
			name: "trailing blank in a block", lesson: "scheduler",
			mutate: func(md string) string {
				return strings.Replace(md, "kube-scheduler --kubeconfig=admin.conf\n", "kube-scheduler --kubeconfig=admin.conf \n", 1)
			},
			at:     "kube-scheduler --kubeconfig=admin.conf ",
			valErr: "trailing blanks in a code block",
		},
		{
			name: "unknown host tag", lesson: "scheduler",
			mutate: func(md string) string {
				return strings.Replace(md, "```sh run=daemon\n", "```sh run=daemon when=windows\n", 1)
			},
			at:     "```sh run=daemon when=windows",
			valErr: `info "sh run=daemon when=windows": unknown host tag "windows"`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := fstest.MapFS{}
			for _, id := range Order() {
				data, err := fs.ReadFile(content.Lessons, "lessons/"+id+".md")
				if err != nil {
					t.Fatal(err)
				}
				m["lessons/"+id+".md"] = &fstest.MapFile{Data: data}
			}
			md := read(m, tc.lesson)
			if !strings.HasPrefix(md, "---\n") {
				t.Fatalf("lesson %s has no front matter: the test proves nothing", tc.lesson)
			}
			md = tc.mutate(md)
			write(m, tc.lesson, md)
			lines := strings.Split(md, "\n")
			want := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, tc.at) })
			if want < 0 {
				t.Fatalf("%q is not in the mutated lesson", tc.at)
			}
			for tc.fenceOf && !strings.HasPrefix(lines[want], "```") {
				want--
			}
			c, err := LoadFS(m, "lessons")
			if err != nil {
				t.Fatal(err)
			}
			wantErr := fmt.Sprintf("lesson %q: line %d: ", tc.lesson, want+1)
			if err := Validate(c); err == nil || !strings.Contains(err.Error(), wantErr+tc.valErr) {
				t.Fatalf("Validate error %v, want %q", err, wantErr+tc.valErr)
			}
		})
	}
}

// TestLessonsRenderGolden renders every lesson in the notty style, as a
// non-terminal sees it, and compares with testdata/golden.
func TestLessonsRenderGolden(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRenderer("notty", 80)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range c.All() {
		t.Run(l.ID, func(t *testing.T) {
			out, err := r.Render(l.Markdown)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out, "\x1b[") {
				t.Errorf("notty rendering contains ANSI escapes")
			}
			if !strings.Contains(out, l.Title) {
				t.Errorf("rendering lacks the title %q", l.Title)
			}
			golden.Assert(t, filepath.Join("testdata", "golden", l.ID+".txt"), out)
		})
	}
}

func TestDarkStyleColors(t *testing.T) {
	r, err := NewRenderer("dark", 80)
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Render("# Title\n\nSome `code`.\n")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "\x1b[") {
		t.Errorf("dark style rendered without ANSI escapes: %q", out)
	}
	if _, err := NewRenderer("no-such-style", 80); err == nil {
		t.Errorf("an unknown style was accepted")
	}
}
