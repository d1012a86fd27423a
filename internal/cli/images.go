package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/fsutil"
	"github.com/kubetutor/kubetutor/internal/images"
)

// ImagesOptions are the options of `kubetutor images`.
type ImagesOptions struct {
	f             *Factory
	Output        string
	SandboxImage  string
	WorkloadImage string
	Snapshotter   string
	// CoreDNS is a coredns binary to pack as course.CoreDNSImage instead
	// of the sandbox and workload images.
	CoreDNS string
}

func newImagesCmd(f *Factory) *cobra.Command {
	o := &ImagesOptions{f: f}
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Images for a cluster without a registry (offline workshops)",
		Long: `Without a registry nothing can be pulled, and every pod needs at least the
sandbox ("pause") image. kubetutor makes the two images an offline cluster needs,
packed from its own (static) binary: a pod sandbox under the name containerd
expects (` + images.SandboxImage + ` for containerd 1.6) and a small HTTP server that
stands in for nginx (` + images.WorkloadImage + `). Load them into containerd's
k8s.io namespace, then create the Deployment with the stand-in:

  kubectl create deployment nginx --image=` + images.WorkloadImage,
		Example: `  # build the tarball (for ctr -n k8s.io images import, or another machine)
  kubetutor images build -o images.tar

  # build and load into the local containerd (root)
  sudo kubetutor images load

  # load a tarball made elsewhere
  sudo kubetutor images load images.tar

  # CoreDNS, from the binary kubetutor fetch --from-source coredns built
  sudo kubetutor images load --coredns bin/coredns`,
		Args: noArgs,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.SandboxImage, "sandbox-image", images.SandboxImage, "name of the pod sandbox image (containerd's sandbox_image)")
	pf.StringVar(&o.WorkloadImage, "workload-image", images.WorkloadImage, "name of the nginx stand-in")
	pf.StringVar(&o.CoreDNS, "coredns", "", "pack this static coredns binary (kubetutor fetch --from-source coredns) as "+course.CoreDNSImage+", instead of the sandbox and workload images")

	build := &cobra.Command{
		Use:     "build",
		Short:   "Write the sandbox and workload images into a tarball",
		Example: "  kubetutor images build -o images.tar",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Output == "" {
				return usageErrorf("-o/--output is empty: name the tarball to write, e.g. -o images.tar")
			}
			if fi, err := os.Stat(o.Output); err == nil && fi.IsDir() {
				return usageErrorf("-o %s is a directory: name a file, e.g. -o %s", o.Output, filepath.Join(o.Output, "images.tar"))
			}
			if err := fsutil.CheckRegular(o.Output); err != nil {
				return usageErrorf("-o %v: give the path of a regular file (kubetutor never writes over devices or pipes)", err)
			}
			path, err := o.build()
			if err != nil {
				return err
			}
			fi, _ := os.Stat(path)
			what := o.SandboxImage + ", " + o.WorkloadImage
			if o.CoreDNS != "" {
				what = course.CoreDNSImage
			}
			fmt.Fprintf(f.IO.Out, "Wrote %s (%s; %.1f MB).\n", path, what, float64(fi.Size())/1e6)
			return nil
		},
	}
	build.Flags().StringVarP(&o.Output, "output", "o", "images.tar", "the tarball to write")

	load := &cobra.Command{
		Use:   "load [TARBALL...]",
		Short: "Load image tarballs (default: freshly built ones) into containerd's k8s.io namespace",
		Example: `  sudo kubetutor images load
  sudo kubetutor images load images.tar --containerd-address /run/containerd/containerd.sock`,
		RunE: func(cmd *cobra.Command, args []string) error { return o.load(cmd.Context(), args) },
	}
	load.Flags().StringVar(&o.Snapshotter, "snapshotter", "overlayfs", "the snapshotter to unpack into")
	cmd.AddCommand(build, load)
	return cmd
}

func (o *ImagesOptions) specs() ([]images.Spec, error) {
	if o.CoreDNS != "" {
		if err := images.RequireStatic(o.CoreDNS); err != nil {
			return nil, fmt.Errorf("pack CoreDNS: %w", err)
		}
		return []images.Spec{images.CoreDNS(o.CoreDNS)}, nil
	}
	specs, err := images.FromSelf()
	if err != nil {
		return nil, err
	}
	specs[0].Ref, specs[1].Ref = o.SandboxImage, o.WorkloadImage
	return specs, nil
}

func (o *ImagesOptions) build() (string, error) {
	specs, err := o.specs()
	if err != nil {
		return "", err
	}
	path := o.Output
	if path == "" {
		path = "images.tar"
	}
	if err := images.WriteTarball(path, specs...); err != nil {
		return "", err
	}
	return path, nil
}

func (o *ImagesOptions) load(ctx context.Context, tarballs []string) error {
	f := o.f
	address := f.ContainerdAddress
	if address == "" {
		address = checks.DefaultContainerdAddress
	}
	// Ask containerd first, within --timeout, as `check containerd` does:
	// a missing socket, a file in its place or a silent listener is named
	// now, not after the import's minutes.
	env, err := f.Env()
	if err != nil {
		return err
	}
	env.ContainerdAddress = address
	res := checks.Run(ctx, env, checks.ContainerdRunning{})
	env.Close()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !res.Passed() {
		return fmt.Errorf("%s Next: %s", res.Message, res.Hint)
	}
	if len(tarballs) == 0 {
		dir, err := os.MkdirTemp("", "kubetutor-images-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.Output = filepath.Join(dir, "images.tar")
		path, err := o.build()
		if err != nil {
			return err
		}
		tarballs = []string{path}
	}
	for _, t := range tarballs {
		start := time.Now()
		ictx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		names, err := images.Import(ictx, address, t, o.Snapshotter)
		cancel()
		if err != nil {
			return err
		}
		for _, n := range names {
			fmt.Fprintf(f.IO.Out, "Loaded %s into containerd (namespace %s).\n", n, images.Namespace)
		}
		fmt.Fprintf(f.IO.ErrOut, "(%s in %s)\n", filepath.Base(t), time.Since(start).Round(10*time.Millisecond))
	}
	return nil
}
