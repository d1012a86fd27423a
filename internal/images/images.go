// Package images makes and loads the two images an offline cluster needs: a
// pod-sandbox ("pause") image under the name the runtime expects, and a small
// HTTP workload that stands in for nginx. Both are packed from the kubetutor
// binary itself (static), so no registry and no toolchain are needed.
package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/fsutil"
)

// epoch is the time stamp of every file and image packed: the same binary
// always gives the same image.
var epoch = time.Unix(0, 0)

// Default image names.
const (
	// SandboxImage is containerd 1.6's default sandbox_image.
	SandboxImage = "registry.k8s.io/pause:3.6"
	// WorkloadImage stands in for nginx; it has a tag, so the kubelet's pull
	// policy is IfNotPresent and it never tries a registry.
	WorkloadImage = course.WorkloadImage
	// Namespace is the containerd namespace of the CRI plugin.
	Namespace = "k8s.io"
)

// Spec describes an image packed from one static binary.
type Spec struct {
	Ref        string
	Binary     string   // path of the static binary to pack
	Entrypoint []string // e.g. ["/kubetutor", "pause"]
	Ports      []string // exposed ports, e.g. "80/tcp"
	// Busybox is a static busybox to add as /bin/busybox, with its usual
	// commands linked to it (a shell for kubectl exec); empty: none.
	Busybox string
	// File is the binary's path in the image; default "kubetutor".
	File string
	// Links are commands in /bin linked to the binary, which acts on the
	// name it was called by (getent: a name lookup through the pod's
	// /etc/resolv.conf, as glibc's getent in nginx's image does).
	Links []string
}

// file is where the binary goes in the image.
func (s Spec) file() string {
	if s.File == "" {
		return "kubetutor"
	}
	return s.File
}

// Sandbox is the pause image.
func Sandbox(binary string) Spec {
	return Spec{Ref: SandboxImage, Binary: binary, Entrypoint: []string{"/kubetutor", "pause"}}
}

// Workload is the HTTP stand-in for nginx, listening on port 80.
func Workload(binary string) Spec {
	return Spec{Ref: WorkloadImage, Binary: binary, Entrypoint: []string{"/kubetutor", "serve", "--addr", ":80"}, Ports: []string{"80/tcp"}, Links: []string{"getent"}}
}

// CoreDNS is the CoreDNS image, packed from a static coredns binary
// (`kubetutor fetch --from-source coredns`) under the name kubeadm's
// manifests use, so that the lesson's manifest is the same online and
// offline.
func CoreDNS(binary string) Spec {
	return Spec{Ref: course.CoreDNSImage, Binary: binary, File: "coredns", Entrypoint: []string{"/coredns"},
		Ports: []string{"53/tcp", "53/udp", "9153/tcp"}}
}

// FromSelf is the sandbox and workload images packed from the running
// kubetutor binary, which must be static; the workload carries the host's
// static busybox when it has one (StaticBusybox).
func FromSelf() ([]Spec, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find kubetutor's own binary: %w", err)
	}
	if err := RequireStatic(self); err != nil {
		return nil, err
	}
	w := Workload(self)
	w.Busybox = StaticBusybox()
	return []Spec{Sandbox(self), w}, nil
}

// BusyboxPaths are where a static busybox is looked for: Debian's
// busybox-static package installs /bin/busybox.
var BusyboxPaths = []string{"/bin/busybox", "/usr/bin/busybox"}

// BusyboxApplets are the commands the workload image links to busybox:
// a shell and what a learner types in one.
var BusyboxApplets = []string{"sh", "cat", "ls", "ps", "env", "hostname", "echo", "sleep", "id", "grep", "head", "tail", "wget", "nslookup", "ip", "ping", "nc"}

// StaticBusybox is the path of a statically linked busybox on this host,
// or "" when there is none (a dynamically linked one would not run in the
// image).
func StaticBusybox() string {
	for _, p := range BusyboxPaths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && RequireStatic(p) == nil {
			return p
		}
	}
	return ""
}

// busyboxLayer holds /bin/busybox and a symbolic link to it for each of
// BusyboxApplets.
func busyboxLayer(path string) (v1.Layer, error) {
	bin, err := fsutil.ReadFile(path, fsutil.LimitBinary)
	if err != nil {
		return nil, fmt.Errorf("read busybox %s: %w", path, err)
	}
	files := []layerFile{dir("bin/"), {tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, bin}}
	for _, a := range BusyboxApplets {
		files = append(files, layerFile{tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil})
	}
	return storedLayer(files)
}

// binaryLayer is the first layer of an image packed from a static binary:
// the binary at /file, with /tmp and /etc.
func binaryLayer(binary, file string) (v1.Layer, error) {
	bin, err := fsutil.ReadFile(binary, fsutil.LimitBinary)
	if err != nil {
		return nil, fmt.Errorf("read binary %s: %w", binary, err)
	}
	return storedLayer([]layerFile{dir("tmp/"), dir("etc/"), {tar.Header{Name: file, Typeflag: tar.TypeReg, Mode: 0o755}, bin}})
}

// linksLayer holds /bin/NAME, a symbolic link to /file, for each link.
func linksLayer(file string, links []string) (v1.Layer, error) {
	files := []layerFile{dir("bin/")}
	for _, l := range links {
		files = append(files, layerFile{tar.Header{Name: "bin/" + l, Typeflag: tar.TypeSymlink, Linkname: "/" + file, Mode: 0o777}, nil})
	}
	return storedLayer(files)
}

// layerFile is one entry of a layer: its header and, for a regular file,
// its content.
type layerFile struct {
	hdr  tar.Header
	data []byte
}

func dir(name string) layerFile {
	return layerFile{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}}
}

// storedLayer packs files into a layer, stored, not compressed: a layer here
// is mostly a static binary, gzip would spend seconds of CPU (while the
// demo starts the control plane) to save disk space on this very machine,
// and containerd reads a stored layer as fast as it copies it. Every entry
// has the same time stamp, so the same files always give the same layer.
func storedLayer(files []layerFile) (v1.Layer, error) {
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	for _, f := range files {
		hdr := f.hdr
		hdr.ModTime, hdr.Size = epoch, int64(len(f.data))
		if err := tw.WriteHeader(&hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := layerTar.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithCompressionLevel(gzip.NoCompression))
}

// buildWith makes the image of s around its layer (binaryLayer).
func buildWith(s Spec, layer v1.Layer) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("make image %s: %w", s.Ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = s.Entrypoint
	cf.Config.Env = []string{"PATH=/bin:/"}
	if len(s.Ports) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range s.Ports {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	return mutate.ConfigFile(img, cf)
}

// WriteTarball writes images into one docker-archive tarball, the format
// `ctr images import` and `docker load` read.
func WriteTarball(path string, specs ...Spec) error {
	refs := map[name.Reference]v1.Image{}
	// Images packed from the same binary share its layer: it is made once.
	layers := map[string]v1.Layer{}
	for _, s := range specs {
		ref, err := name.ParseReference(s.Ref)
		if err != nil {
			return fmt.Errorf("parse image name %q: %w", s.Ref, err)
		}
		key := s.Binary + "\x00" + s.file()
		layer, ok := layers[key]
		if !ok {
			if layer, err = binaryLayer(s.Binary, s.file()); err != nil {
				return fmt.Errorf("make layer for %s: %w", s.Ref, err)
			}
			layers[key] = layer
		}
		img, err := buildWith(s, layer)
		if err != nil {
			return err
		}
		if img, err = s.appendLayers(img); err != nil {
			return err
		}
		refs[ref] = img
	}
	f, err := fsutil.Create(path, 0o644)
	if err != nil {
		return fmt.Errorf("write image tarball: %w", err)
	}
	defer f.Abort()
	if err := tarball.MultiRefWrite(refs, f); err != nil {
		return fmt.Errorf("write image tarball %s: %w", path, err)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("write image tarball: %w", err)
	}
	return nil
}

// appendLayers adds the busybox and links layers s asks for.
func (s Spec) appendLayers(img v1.Image) (v1.Image, error) {
	var extra []v1.Layer
	if s.Busybox != "" {
		bl, err := busyboxLayer(s.Busybox)
		if err != nil {
			return nil, fmt.Errorf("make layer for %s: %w", s.Ref, err)
		}
		extra = append(extra, bl)
	}
	if len(s.Links) > 0 {
		ll, err := linksLayer(s.file(), s.Links)
		if err != nil {
			return nil, fmt.Errorf("make layer for %s: %w", s.Ref, err)
		}
		extra = append(extra, ll)
	}
	if len(extra) == 0 {
		return img, nil
	}
	img, err := mutate.AppendLayers(img, extra...)
	if err != nil {
		return nil, fmt.Errorf("make image %s: %w", s.Ref, err)
	}
	return img, nil
}

// Import loads an image tarball into containerd's k8s.io namespace and
// unpacks it for the snapshotter, as `ctr -n k8s.io images import` does. It
// returns the names of the imported images.
func Import(ctx context.Context, address, tarPath, snapshotter string) ([]string, error) {
	f, err := fsutil.Open(tarPath)
	if err != nil {
		return nil, fmt.Errorf("open image tarball: %w", err)
	}
	defer f.Close()
	c, err := containerd.New(address, containerd.WithDefaultNamespace(Namespace), containerd.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", address, err)
	}
	defer c.Close()
	// Something that accepts connections but does not speak containerd's
	// API would otherwise surface as "use of closed network connection"
	// after the import's whole timeout.
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = c.Version(vctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("containerd at %s did not answer (%v): is containerd running and listening there? (kubetutor check containerd)", address, err)
	}
	imgs, err := c.Import(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("import %s into containerd: %w", tarPath, err)
	}
	if snapshotter == "" {
		snapshotter = "overlayfs"
	}
	var names []string
	for _, im := range imgs {
		image := containerd.NewImage(c, im)
		if err := image.Unpack(ctx, snapshotter); err != nil {
			return names, fmt.Errorf("unpack %s: %w", im.Name, err)
		}
		names = append(names, im.Name)
	}
	return names, nil
}

// RequireStatic refuses a dynamically linked binary: it would not run in an
// image that holds nothing else.
func RequireStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked, so it cannot be packed into an image; rebuild it with CGO_ENABLED=0 (make build)", path)
		}
	}
	return nil
}
