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
	"time"
)

func TestStagingModules(t *testing.T) {
	real, err := os.ReadFile("testdata/kubernetes-v1.37.2.mod")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		gomod string
		want  []string
	}{
		{
			name:  "a replace block",
			gomod: "module k8s.io/kubernetes\n\nreplace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n\tk8s.io/client-go => ./staging/src/k8s.io/client-go\n)\n",
			want:  []string{"k8s.io/api", "k8s.io/client-go"},
		},
		{
			name:  "single-line replaces",
			gomod: "replace k8s.io/api => ./staging/src/k8s.io/api\nreplace k8s.io/kubelet => ./staging/src/k8s.io/kubelet\n",
			want:  []string{"k8s.io/api", "k8s.io/kubelet"},
		},
		{
			name: "other replaces and requires are not staging",
			gomod: "require k8s.io/api v0.0.0\nreplace (\n\tgithub.com/a/b => github.com/c/d v1.0.0\n\tk8s.io/x => ../x\n" +
				"\tk8s.io/api => ./staging/src/k8s.io/api\n\t// k8s.io/old => ./staging/src/k8s.io/old\n)\n",
			want: []string{"k8s.io/api"},
		},
		{name: "none", gomod: "module x\n", want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := StagingModules([]byte(tc.gomod)); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("k8s.io/kubernetes v1.37.2", func(t *testing.T) {
		got := StagingModules(real)
		if len(got) != 33 || got[0] != "k8s.io/api" || got[32] != "k8s.io/streaming" || !slices.Contains(got, "k8s.io/component-base") {
			t.Errorf("got %d modules: %v", len(got), got)
		}
	})
}

func TestVersions(t *testing.T) {
	// What the recipe passes for v1.37.2.
	const scriptLD = "-s -w" +
		" -X k8s.io/component-base/version.gitVersion=v1.37.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 -X k8s.io/component-base/version.gitTreeState=clean" +
		" -X k8s.io/client-go/pkg/version.gitVersion=v1.37.2 -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=37 -X k8s.io/client-go/pkg/version.gitTreeState=clean"
	tests := []struct {
		ver, staging, ld, wantErr string
	}{
		{ver: "v1.37.2", staging: "v0.37.2", ld: scriptLD},
		{ver: "v1.36.0", staging: "v0.36.0"},
		{ver: "v1.38.0-rc.1", staging: "v0.38.0-rc.1"},
		{ver: "1.37.2", wantErr: "not like v1.37.2"},
		{ver: "v1.37", wantErr: "not like v1.37.2"},
	}
	for _, tc := range tests {
		t.Run(tc.ver, func(t *testing.T) {
			staging, err := StagingVersion(tc.ver)
			ld, lerr := LDFlags(tc.ver)
			if tc.wantErr != "" {
				if err == nil || lerr == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("errors %v, %v; want %q", err, lerr, tc.wantErr)
				}
				return
			}
			if err != nil || lerr != nil {
				t.Fatal(err, lerr)
			}
			if staging != tc.staging {
				t.Errorf("staging version %s, want %s", staging, tc.staging)
			}
			if tc.ld != "" && ld != tc.ld {
				t.Errorf("ldflags\n%s\nwant\n%s", ld, tc.ld)
			}
		})
	}
}

func TestDefaultBuildDir(t *testing.T) {
	t.Setenv("KUBETUTOR_BUILD_DIR", "")
	t.Setenv("XDG_CACHE_HOME", "/c")
	if d, _ := DefaultBuildDir("v1.37.2"); d != "/c/kubetutor/build-v1.37.2" {
		t.Errorf("with XDG_CACHE_HOME: %s", d)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/h")
	if d, _ := DefaultBuildDir("v1.37.2"); d != "/h/.cache/kubetutor/build-v1.37.2" {
		t.Errorf("without: %s", d)
	}
	t.Setenv("KUBETUTOR_BUILD_DIR", "/b")
	if d, _ := DefaultBuildDir("v1.37.2"); d != "/b" {
		t.Errorf("with KUBETUTOR_BUILD_DIR: %s", d)
	}
}

// fakeGo writes a go command that logs each invocation (CGO_ENABLED,
// GOWORK, working directory, arguments) and plays the part of each step:
// mod download -json names the real v1.37.2 go.mod; build writes binaries
// that report version (or fails when mode is "fail").
func fakeGo(t *testing.T, version, mode string) (goCmd, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "log")
	gomod, err := filepath.Abs("testdata/kubernetes-v1.37.2.mod")
	if err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`#!/bin/sh
echo "$CGO_ENABLED|$GOWORK|$(pwd)|$*" >> %[1]q
case "$1 $2" in
"mod download") echo '{"Path": "k8s.io/kubernetes", "Version": "v1.37.2", "GoMod": %[2]q}' ;;
"mod "*) ;;
"list -deps") printf 'internal/abi\nk8s.io/api/core/v1\nk8s.io/kubernetes/cmd/kubelet\n' ;;
build*)
	if [ %[4]q = fail ]; then echo "# k8s.io/kubernetes/cmd/kubelet" >&2; echo "cmd/kubelet/app/server.go:1:1: compile error xyz" >&2; exit 1; fi
	out=""; prev=""
	for a in "$@"; do [ "$prev" = "-o" ] && out=$a; prev=$a; done
	for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
		printf '#!/bin/sh\necho "Kubernetes %[3]s"\n' > "$out$b"; chmod 755 "$out$b"
	done
	printf '#!/bin/sh\necho "Client Version: %[3]s"\necho "Kustomize Version: v5.8.1"\n' > "${out}kubectl"; chmod 755 "${out}kubectl"
	echo "internal/abi" >&2
	[ -n "$FAKE_GO_SLOW" ] && sleep "$FAKE_GO_SLOW"
	echo "k8s.io/kubernetes/cmd/kubelet" >&2
	;;
*) echo "fake go: unexpected $*" >&2; exit 2 ;;
esac
`, log, gomod, version, mode)
	goCmd = filepath.Join(dir, "go")
	if err := os.WriteFile(goCmd, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return goCmd, log
}

func readLog(t *testing.T, log string) []string {
	data, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// TestFromSource runs the from-source build against a fake go:
// the same go commands in the same order, in the wrapper module, the same files.
func TestFromSource(t *testing.T) {
	goCmd, log := fakeGo(t, "v1.37.2", "")
	buildDir := filepath.Join(t.TempDir(), "build-v1.37.2")
	bin := filepath.Join(t.TempDir(), "bin")
	var out bytes.Buffer
	o := Options{
		BinDir: bin, FromSource: true, Components: []Component{Kubernetes},
		Build:    BuildOptions{Go: goCmd, Dir: buildDir},
		Reporter: NewReporter(&out, false, 80),
	}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}

	var replaces []string
	for _, m := range StagingModules(mustRead(t, "testdata/kubernetes-v1.37.2.mod")) {
		replaces = append(replaces, "-replace="+m+"="+m+"@v0.37.2")
	}
	ld, _ := LDFlags("v1.37.2")
	lines := readLog(t, log)
	if len(lines) != 6 {
		t.Fatalf("go ran %d times, want 6:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	want := []string{
		"mod download -json k8s.io/kubernetes@v1.37.2",
		"mod edit -require=k8s.io/kubernetes@v1.37.2",
		"mod edit " + strings.Join(replaces, " "),
		"mod tidy",
		"list -deps -f {{.ImportPath}} " + strings.Join(BuildPackages(), " "),
		"build -trimpath -ldflags=" + ld + " -o " + bin + "/" + buildStagePrefix,
	}
	for i, l := range lines {
		parts := strings.SplitN(l, "|", 4)
		if parts[1] != "off" || parts[2] != buildDir {
			t.Errorf("go %s ran with GOWORK=%q in %s; want GOWORK=off in %s", parts[3], parts[1], parts[2], buildDir)
		}
		if !strings.HasPrefix(parts[3], want[i]) {
			t.Errorf("go invocation %d:\n%s\nwant\n%s", i, parts[3], want[i])
		}
		if i >= 4 && parts[0] != "0" {
			t.Errorf("go %s ran with CGO_ENABLED=%q: the packages listed must be the ones built", parts[3], parts[0])
		}
		if i == 5 {
			if !strings.HasSuffix(parts[3], "/ -v "+strings.Join(BuildPackages(), " ")) {
				t.Errorf("go build arguments: %s", parts[3])
			}
		}
	}
	if got := string(mustRead(t, filepath.Join(buildDir, "go.mod"))); got != "module kubetutor.local/kubebuild\n\ngo 1.26\n" {
		t.Errorf("wrapper go.mod %q", got)
	}
	if got := string(mustRead(t, filepath.Join(buildDir, "tools.go"))); !strings.Contains(got, "\t_ \"k8s.io/kubernetes/cmd/kubectl\"\n") || !strings.Contains(got, "\t_ \"k8s.io/kubernetes/cmd/kube-proxy\"\n") {
		t.Errorf("wrapper tools.go %q", got)
	}
	for _, name := range KubernetesBinaries {
		if it, _ := res.Item(name); it.Status != Built || it.Version != "v1.37.2" {
			t.Errorf("%s: %+v", name, it)
		}
	}
	if left := leftovers(t, bin); len(left) > 0 {
		t.Errorf("left: %v", left)
	}
	for _, w := range []string{"about 6 minutes on a fresh Go cache", "  go mod edit -replace (33 staging modules pinned to v0.37.2)\n  go mod tidy\n", "kubectl: built, ", "reports v1.37.2\n", "Built in "} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}

	// Everything there and reporting v1.37.2: no go command at all.
	res, err = Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(readLog(t, log)); n != 6 {
		t.Errorf("the second run ran go %d more times; want none", n-6)
	}
	if it, _ := res.Item("kubelet"); it.Status != UpToDate {
		t.Errorf("second run: kubelet %+v", it)
	}

	// One binary gone: build again, but the wrapper module is ready.
	if err := os.Remove(filepath.Join(bin, "kube-scheduler")); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	lines = readLog(t, log)
	if len(lines) != 8 || !strings.Contains(lines[6], "|list -deps") || !strings.Contains(lines[7], "|build -trimpath") {
		t.Errorf("third run: %v", lines[6:])
	}

	// A binary that reports another version is rebuilt.
	fakeProgram(t, bin, "kube-apiserver", "Kubernetes v0.0.0-master+$Format:%H$")
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if n := len(readLog(t, log)); n != 10 {
		t.Errorf("a wrong version did not trigger a build (%d go runs)", n)
	}

	// A wrapper module made before kube-proxy joined the programs (its
	// tools.go imports five): its go.sum lacks kube-proxy's requirements,
	// so it is set up again (download, edits, tidy), then built.
	old := strings.Replace(wrapperTools(), "\t_ \"k8s.io/kubernetes/cmd/kube-proxy\"\n", "", 1)
	if old == wrapperTools() {
		t.Fatal("the wrapper's tools.go does not import cmd/kube-proxy")
	}
	if err := os.WriteFile(filepath.Join(buildDir, "tools.go"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(bin, "kube-proxy")); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	lines = readLog(t, log)
	if len(lines) != 16 || !strings.Contains(lines[13], "|mod tidy") || !strings.Contains(lines[15], "|build -trimpath") {
		t.Errorf("a stale wrapper module: go ran %v", lines[10:])
	}
	if got := string(mustRead(t, filepath.Join(buildDir, "tools.go"))); got != wrapperTools() {
		t.Errorf("tools.go after the set-up:\n%s", got)
	}
}

func TestFromSourceFailures(t *testing.T) {
	tests := []struct {
		name, version, mode string
		want                []string
	}{
		{name: "a failing build shows go's last lines", version: "v1.37.2", mode: "fail",
			want: []string{"build from source: go build in ", ": exit status 1", "\n    cmd/kubelet/app/server.go:1:1: compile error xyz"}},
		{name: "binaries that do not report the version", version: "v0.0.0-master+unknown",
			want: []string{`kube-apiserver: built, but it reports version "v0.0.0-master+unknown", not v1.37.2`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			goCmd, _ := fakeGo(t, tc.version, tc.mode)
			bin := filepath.Join(t.TempDir(), "bin")
			_, err := Run(context.Background(), Options{
				BinDir: bin, FromSource: true, Components: []Component{Kubernetes},
				Build: BuildOptions{Go: goCmd, Dir: filepath.Join(t.TempDir(), "build")},
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
			if tc.mode == "fail" {
				assertAbsent(t, filepath.Join(bin, "kubelet"))
			}
		})
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestFromSourceProgress: off a terminal, a long go build prints how many of
// the packages it needs it has compiled, every ProgressEvery.
func TestFromSourceProgress(t *testing.T) {
	goCmd, _ := fakeGo(t, "v1.37.2", "")
	t.Setenv("FAKE_GO_SLOW", "0.5")
	var out bytes.Buffer
	o := Options{
		BinDir: filepath.Join(t.TempDir(), "bin"), FromSource: true, Components: []Component{Kubernetes},
		Build:    BuildOptions{Go: goCmd, Dir: filepath.Join(t.TempDir(), "build"), ProgressEvery: 100 * time.Millisecond},
		Reporter: NewReporter(&out, false, 80),
	}
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "  go build … 0s, 1 of 3 packages compiled\n") {
		t.Errorf("no progress line while go build ran:\n%s", out.String())
	}
}
