package fetch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSourceCommands(t *testing.T) {
	const stage = "/s"
	tests := []struct {
		part Component
		ver  string
		want []string
	}{
		{Containerd, "v2.4.2", []string{"install -tags no_btrfs github.com/containerd/containerd/v2/cmd/containerd@v2.4.2 " +
			"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@v2.4.2 github.com/containerd/containerd/v2/cmd/ctr@v2.4.2"}},
		{CNI, "v1.10.0", []string{"install github.com/containernetworking/plugins/plugins/main/bridge@v1.10.0 " +
			"github.com/containernetworking/plugins/plugins/ipam/host-local@v1.10.0 github.com/containernetworking/plugins/plugins/main/loopback@v1.10.0 " +
			"github.com/containernetworking/plugins/plugins/meta/portmap@v1.10.0"}},
		{Crictl, "v1.37.0", []string{"install sigs.k8s.io/cri-tools/cmd/crictl@v1.37.0"}},
		{Etcd, "v3.6.17", []string{
			"get go.etcd.io/etcd/server/v3@v3.6.17 go.etcd.io/etcd/etcdctl/v3@v3.6.17",
			"mod tidy",
			"build -o /s/etcd go.etcd.io/etcd/server/v3",
			"build -o /s/etcdctl go.etcd.io/etcd/etcdctl/v3",
		}},
	}
	for _, tc := range tests {
		t.Run(string(tc.part), func(t *testing.T) {
			var got []string
			for _, args := range sourceCommands(findSourcePart(tc.part), tc.ver, stage) {
				got = append(got, strings.Join(args, " "))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("commands\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
	if got := sourceEnv(stage); !slices.Equal(got, []string{"CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOBIN=/s"}) {
		t.Errorf("env %v", got)
	}
	const tools = "//go:build tools\n\npackage tools\n\nimport (\n\t_ \"go.etcd.io/etcd/server/v3\"\n\t_ \"go.etcd.io/etcd/etcdctl/v3\"\n)\n"
	if got := etcdWrapperTools(findSourcePart(Etcd)); got != tools {
		t.Errorf("etcd tools.go\n%s\nwant\n%s", got, tools)
	}
}

// fakeBuildInfo makes readBuildInfo read the "# mod MODULE VERSION" line the
// fake go writes into its fake binaries, instead of a Go binary's build info.
func fakeBuildInfo(t *testing.T) {
	old := readBuildInfo
	t.Cleanup(func() { readBuildInfo = old })
	readBuildInfo = func(path, _ string) (string, string, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", "", err
		}
		for l := range strings.SplitSeq(string(data), "\n") {
			if f := strings.Fields(l); len(f) == 4 && f[0] == "#" && f[1] == "mod" {
				return f[2], f[3], nil
			}
		}
		return "", "", fmt.Errorf("%s: not a Go binary", path)
	}
}

// fakeUpstreamGo writes a go command that logs each invocation (CGO_ENABLED,
// GOFLAGS, GOBIN, working directory, arguments) and writes fake binaries
// carrying "# mod MODULE VERSION": go install into $GOBIN, go build to -o.
// go get copies the wrapper module's files next to the log. version, when
// set, replaces the version the binaries claim; mode "fail" fails builds.
func fakeUpstreamGo(t *testing.T, version, mode string) (goCmd, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "log")
	script := fmt.Sprintf(`#!/bin/sh
echo "$CGO_ENABLED|$GOFLAGS|$GOBIN|$(pwd)|$*" >> %[1]q
module() {
	case "$1" in
	github.com/containerd/containerd/v2/*) echo github.com/containerd/containerd/v2 ;;
	github.com/containernetworking/plugins/*) echo github.com/containernetworking/plugins ;;
	sigs.k8s.io/cri-tools/*) echo sigs.k8s.io/cri-tools ;;
	*) echo "$1" ;;
	esac
}
fake() { # path module version
	v=$3; [ -n %[2]q ] && v=%[2]q
	printf '#!/bin/sh\n# mod %%s %%s\n' "$2" "$v" > "$1"; chmod 755 "$1"
}
if [ %[3]q = fail ] && [ "$1" != get ] && [ "$1" != mod ]; then
	echo "# github.com/containerd/containerd/v2/cmd/ctr" >&2; echo "compile error xyz" >&2; exit 1
fi
case "$1" in
install)
	for a in "$@"; do
		case "$a" in *@*) p=${a%%@*}; fake "$GOBIN/$(basename "$p")" "$(module "$p")" "${a#*@}" ;; esac
	done ;;
get) cat go.mod tools.go > %[1]q.wrapper; for a in "$@"; do case "$a" in *@*) echo "${a#*@}" > ver ;; esac; done ;;
mod) ;;
build)
	out=""; prev=""; last=""
	for a in "$@"; do [ "$prev" = "-o" ] && out=$a; prev=$a; last=$a; done
	fake "$out" "$last" "$(cat ver)" ;;
*) echo "fake go: unexpected $*" >&2; exit 2 ;;
esac
`, log, version, mode)
	goCmd = filepath.Join(dir, "go")
	if err := os.WriteFile(goCmd, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return goCmd, log
}

// TestFromSourceUpstream builds the upstream stack with a fake go: the go
// commands of the recipe, the binaries in place, nothing rebuilt that is
// there and built from the wanted version.
func TestFromSourceUpstream(t *testing.T) {
	fakeBuildInfo(t)
	goCmd, log := fakeUpstreamGo(t, "", "")
	bin := filepath.Join(t.TempDir(), "bin")
	cni := filepath.Join(t.TempDir(), "cni")
	var out bytes.Buffer
	o := Options{
		BinDir: bin, CNIDir: cni, FromSource: true,
		Components:  []Component{Containerd, Crictl, Etcd, CNI},
		EtcdVersion: "v3.6.17", CNIVersion: "v1.10.0",
		Build:    BuildOptions{Go: goCmd, Etcd: true, CNI: true},
		Reporter: NewReporter(&out, false, 80),
	}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	lines := readLog(t, log)
	want := []string{
		"install -tags no_btrfs github.com/containerd/containerd/v2/cmd/containerd@v2.4.2 ",
		"get go.etcd.io/etcd/server/v3@v3.6.17 go.etcd.io/etcd/etcdctl/v3@v3.6.17",
		"mod tidy",
		"build -o ",
		"build -o ",
		"install github.com/containernetworking/plugins/plugins/main/bridge@v1.10.0 ",
		"install sigs.k8s.io/cri-tools/cmd/crictl@v1.37.0",
	}
	if len(lines) != len(want) {
		t.Fatalf("go ran %d times, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, l := range lines {
		f := strings.SplitN(l, "|", 5)
		if f[0] != "0" || f[1] != "-mod=mod" {
			t.Errorf("go %s ran with CGO_ENABLED=%q GOFLAGS=%q", f[4], f[0], f[1])
		}
		dest := bin
		if strings.Contains(f[4], "containernetworking") {
			dest = cni
		}
		if filepath.Dir(f[2]) != dest || !strings.HasPrefix(filepath.Base(f[2]), buildStagePrefix) {
			t.Errorf("go %s: GOBIN=%s, want a staging directory in %s", f[4], f[2], dest)
		}
		if strings.HasPrefix(f[3], bin) || strings.HasPrefix(f[3], cni) {
			t.Errorf("go %s ran in %s", f[4], f[3])
		}
		if !strings.HasPrefix(f[4], want[i]) {
			t.Errorf("go invocation %d:\n%s\nwant\n%s", i, f[4], want[i])
		}
	}
	if got := string(mustRead(t, log+".wrapper")); got != partWrapperGoMod+etcdWrapperTools(findSourcePart(Etcd)) {
		t.Errorf("etcd's wrapper module:\n%s", got)
	}
	for _, c := range []struct{ dir, name, ver string }{
		{bin, "containerd", "v2.4.2"}, {bin, "containerd-shim-runc-v2", "v2.4.2"}, {bin, "ctr", "v2.4.2"},
		{bin, "crictl", "v1.37.0"}, {bin, "etcd", "v3.6.17"}, {bin, "etcdctl", "v3.6.17"},
		{cni, "bridge", "v1.10.0"}, {cni, "host-local", "v1.10.0"}, {cni, "loopback", "v1.10.0"}, {cni, "portmap", "v1.10.0"},
	} {
		it, _ := res.Item(c.name)
		if it.Status != Built || it.Version != c.ver || it.Path != filepath.Join(c.dir, c.name) {
			t.Errorf("%s: %+v", c.name, it)
		}
		if fi, err := os.Stat(filepath.Join(c.dir, c.name)); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v %v", c.name, fi, err)
		}
	}
	for _, d := range []string{bin, cni} {
		if left := leftovers(t, d); len(left) > 0 {
			t.Errorf("left in %s: %v", d, left)
		}
	}
	for _, w := range []string{"Building containerd, containerd-shim-runc-v2, ctr v2.4.2 from source with ", "  go mod tidy\n",
		"etcd: built, ", "from go.etcd.io/etcd/server/v3 v3.6.17\n", "Built in "} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}

	// Everything there, built from the wanted versions: no go command.
	out.Reset()
	res, err = Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(readLog(t, log)); n != len(want) {
		t.Errorf("the second run ran go %d more times; want none", n-len(want))
	}
	if it, _ := res.Item("portmap"); it.Status != UpToDate {
		t.Errorf("second run: portmap %+v", it)
	}
	if !strings.Contains(out.String(), "ctr: up to date (built from github.com/containerd/containerd/v2 v2.4.2)\n") {
		t.Errorf("second run:\n%s", out.String())
	}

	// ctr gone and crictl from another version: those two parts only.
	if err := os.Remove(filepath.Join(bin, "ctr")); err != nil {
		t.Fatal(err)
	}
	o.CrictlVersion = "v1.36.0"
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	lines = readLog(t, log)[len(want):]
	if len(lines) != 2 || !strings.Contains(lines[0], "|install -tags no_btrfs ") || !strings.HasSuffix(lines[1], "|install sigs.k8s.io/cri-tools/cmd/crictl@v1.36.0") {
		t.Errorf("third run: %q", lines)
	}
}

func TestFromSourceUpstreamFailures(t *testing.T) {
	tests := []struct {
		name, version, mode string
		want                []string
	}{
		{name: "a failing build shows go's last lines", mode: "fail",
			want: []string{"build containerd from source: go install -tags no_btrfs ", ": exit status 1", "\n    compile error xyz"}},
		{name: "a binary built from another version", version: "v0.0.0-dev",
			want: []string{`containerd: built, but its build info names github.com/containerd/containerd/v2 version "v0.0.0-dev", not v2.4.2`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fakeBuildInfo(t)
			goCmd, _ := fakeUpstreamGo(t, tc.version, tc.mode)
			bin := filepath.Join(t.TempDir(), "bin")
			_, err := Run(context.Background(), Options{
				BinDir: bin, FromSource: true, Components: []Component{Containerd},
				Build: BuildOptions{Go: goCmd},
			})
			if err == nil {
				t.Fatal("Run succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
			if left := leftovers(t, bin); len(left) > 0 {
				t.Errorf("left: %v", left)
			}
			assertAbsent(t, filepath.Join(bin, "containerd"))
		})
	}
}

func TestFromSourceOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"containerd is never downloaded", Options{BinDir: "b", Components: []Component{Containerd}}, "containerd is never downloaded"},
		{"building etcd needs from-source", Options{BinDir: "b", Components: []Component{Etcd}, Build: BuildOptions{Etcd: true}}, "needs --from-source"},
		{"a bad crictl version", Options{BinDir: "b", FromSource: true, CrictlVersion: "1.37"}, `crictl version "1.37" is not a release version`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(context.Background(), tc.o)
			if err == nil || !IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want a usage error with %q", err, tc.want)
			}
		})
	}
}

// TestBuiltVersion reads a real Go binary's build info: the test binary's
// own main module.
func TestBuiltVersion(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	mod, _, err := readBuildInfo(exe, "")
	if err != nil {
		t.Fatal(err)
	}
	if mod == "" {
		t.Skip("the test binary has no main module in its build info")
	}
	if got := builtVersion(exe, sourceBinary{Module: "example.com/other"}); got != "" {
		t.Errorf("another module: %q", got)
	}
	if got := builtVersion(filepath.Join(t.TempDir(), "none"), sourceBinary{Module: mod}); got != "" {
		t.Errorf("a missing file: %q", got)
	}
	script := filepath.Join(t.TempDir(), "sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := builtVersion(script, sourceBinary{Module: mod}); got != "" {
		t.Errorf("a shell script: %q", got)
	}
}
