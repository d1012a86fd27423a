package images

import (
	"archive/tar"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/kubetutor/kubetutor/course"
)

// staticBinary builds a tiny static program for the test.
func staticBinary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "prog")
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestWriteTarballRoundTrip(t *testing.T) {
	bin := staticBinary(t)
	if err := RequireStatic(bin); err != nil {
		t.Fatalf("a CGO_ENABLED=0 binary is refused: %v", err)
	}
	path := filepath.Join(t.TempDir(), "images.tar")
	if err := WriteTarball(path, Sandbox(bin), Workload(bin), CoreDNS(bin)); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(bin)
	for _, tc := range []struct {
		ref        string
		entrypoint string
		file       string
		layers     int
	}{
		{SandboxImage, "/kubetutor pause", "kubetutor", 1},
		{WorkloadImage, "/kubetutor serve --addr :80", "kubetutor", 2}, // and /bin/getent
		{course.CoreDNSImage, "/coredns", "coredns", 1},
	} {
		tag, err := name.NewTag(tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		img, err := tarball.ImageFromPath(path, &tag)
		if err != nil {
			t.Fatalf("%s is not in the tarball: %v", tc.ref, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(cf.Config.Entrypoint, " "); got != tc.entrypoint || cf.OS != "linux" {
			t.Errorf("%s: entrypoint %q os %q", tc.ref, got, cf.OS)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != tc.layers {
			t.Fatalf("%s: %d layers, %v; want %d", tc.ref, len(layers), err, tc.layers)
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		found := false
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Name == tc.file {
				data, _ := io.ReadAll(tr)
				found = string(data) == string(want) && h.Mode&0o111 != 0
			}
		}
		rc.Close()
		if !found {
			t.Errorf("%s: /%s is missing, differs from the binary, or is not executable", tc.ref, tc.file)
		}
	}
}

func TestRequireStaticRefusesDynamicBinaries(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	real, _ := filepath.EvalSymlinks(sh)
	if err := RequireStatic(real); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("RequireStatic(%s) = %v, want a dynamic-linking error", real, err)
	}
}

// TestWorkloadCarriesBusybox: with a busybox given, the workload image has
// /bin/busybox and its applets linked to it (kubectl exec ... -- sh), on
// PATH.
func TestWorkloadCarriesBusybox(t *testing.T) {
	bin := staticBinary(t)
	w := Workload(bin)
	w.Busybox = bin // any static program stands in for busybox here
	path := filepath.Join(t.TempDir(), "images.tar")
	if err := WriteTarball(path, Sandbox(bin), w); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(WorkloadImage)
	img, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 3 {
		t.Fatalf("%d layers (%v), want the binary's, busybox's and the links'", len(layers), err)
	}
	links := map[string]string{}
	for _, l := range layers[1:] {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			links[h.Name] = h.Linkname
		}
		rc.Close()
	}
	if links["bin/getent"] != "/kubetutor" {
		t.Errorf("bin/getent links to %q, want /kubetutor (kubetutor's getent)", links["bin/getent"])
	}
	for _, a := range []string{"sh", "cat", "nslookup", "wget"} {
		if links["bin/"+a] != "busybox" {
			t.Errorf("bin/%s links to %q, want busybox", a, links["bin/"+a])
		}
	}
	if _, ok := links["bin/busybox"]; !ok {
		t.Error("no bin/busybox")
	}
	cf, _ := img.ConfigFile()
	if !strings.Contains(strings.Join(cf.Config.Env, " "), "PATH=/bin:") {
		t.Errorf("env %v does not put /bin on PATH", cf.Config.Env)
	}
	// The sandbox image carries no busybox.
	sb, _ := name.NewTag(SandboxImage)
	simg, _ := tarball.ImageFromPath(path, &sb)
	if l, _ := simg.Layers(); len(l) != 1 {
		t.Errorf("the sandbox image has %d layers, want 1", len(l))
	}
}
