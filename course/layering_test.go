package course_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/kubetutor/kubetutor/"

// TestLayering asserts which packages may not be among another's transitive
// (non-test) dependencies, as go list -deps reports them: the checks stay
// free of image packing, pki of the checks, the steps of the CLI, the
// certificate helpers both checks and pki share of either, and this
// package of anything outside the standard library.
func TestLayering(t *testing.T) {
	rules := []struct {
		pkg       string
		forbidden []string // import paths, or prefixes ending in "/"
	}{
		{"checks", []string{module + "internal/images", "github.com/google/go-containerregistry/"}},
		{"internal/pki", []string{module + "checks"}},
		{"steps", []string{module + "internal/cli"}},
		{"internal/kubeclient", []string{module + "checks", module + "steps", module + "lessons"}},
		{"internal/certutil", []string{module + "checks", module + "internal/pki", module + "internal/images", "k8s.io/"}},
	}
	pkgs := []string{module + "course"}
	for _, r := range rules {
		pkgs = append(pkgs, module+r.pkg)
	}
	deps := goListDeps(t, pkgs...)

	for _, r := range rules {
		t.Run(r.pkg, func(t *testing.T) {
			d, ok := deps[module+r.pkg]
			if !ok {
				t.Fatalf("go list did not report %s", r.pkg)
			}
			if len(d) == 0 {
				t.Fatalf("go list reports no dependencies for %s: the test would prove nothing", r.pkg)
			}
			for _, dep := range d {
				for _, f := range r.forbidden {
					if dep == f || strings.HasSuffix(f, "/") && strings.HasPrefix(dep, f) {
						t.Errorf("%s depends on %s (forbidden: %s); to see which package imports it: go list -deps -f '{{.ImportPath}}: {{.Imports}}' ./%s | grep %s", r.pkg, dep, f, r.pkg, dep)
					}
				}
			}
		})
	}

	t.Run("course", func(t *testing.T) {
		for _, dep := range deps[module+"course"] {
			if first, _, _ := strings.Cut(dep, "/"); strings.Contains(first, ".") {
				t.Errorf("course depends on %s: it must stay a leaf of the standard library, so that every layer can import it", dep)
			}
		}
	})
}

// goListDeps maps each package to its transitive dependencies.
func goListDeps(t *testing.T, pkgs ...string) map[string][]string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go tool is not in PATH (%v): cannot list the packages' dependencies", err)
	}
	cmd := exec.Command(goTool, append([]string{"list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}"}, pkgs...)...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s: %v\n%s", cmd, err, stderr)
	}
	deps := make(map[string][]string)
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) > 0 {
			deps[fields[0]] = fields[1:]
		}
	}
	return deps
}
