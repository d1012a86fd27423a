package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/internal/demo"
)

// DownOptions are the options of `kubetutor down`.
type DownOptions struct {
	f   *Factory
	Yes bool
	// CNIConfDir is where the CNI lesson wrote its network configuration.
	CNIConfDir string
}

func newDownCmd(f *Factory) *cobra.Command {
	o := &DownOptions{f: f}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Take down the cluster you built by hand, leaving the machine clean",
		Long: `Find the cluster the lessons built on this machine (its components running
from your terminals, the node side in the system's default paths), list what
it will stop and remove, and with --yes do it: the components in reverse
course order, as Ctrl-C twice in their terminals; kube-proxy's rules
(kube-proxy --cleanup); the pods' containers and shims; the kubelet's and the
containers' mounts; the pod network namespaces, their iptables chains, the
kubelet's chains and the cni0 bridge; the network configuration, the kubelet's
state and the work dir's etcd-data, so that the course starts again from
the first step. It keeps your certificates, kubeconfig, binaries,
/etc/containerd/config.toml and containerd's images.

Processes a demo or a systemd unit runs are left alone, with the command
that stops them. Without --yes on a terminal it asks; otherwise it only lists.`,
		Example: `  # what would be stopped and removed
  sudo kubetutor down
  # do it
  sudo kubetutor down --yes`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDown(cmd.Context(), o) },
	}
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "do it, without asking")
	cmd.Flags().StringVar(&o.CNIConfDir, "cni-conf-dir", checks.DefaultCNIConfDir, "where the CNI lesson wrote 10-bridge.conflist")
	return cmd
}

func runDown(ctx context.Context, o *DownOptions) error {
	f := o.f
	if os.Geteuid() != 0 {
		return fmt.Errorf("kubetutor down needs root: the cluster's processes, mounts and iptables chains are root's (sudo kubetutor down)")
	}
	wd := f.WorkDir
	if wd == "" {
		wd = "."
	}
	abs, err := filepath.Abs(wd)
	if err != nil {
		return fmt.Errorf("resolve work dir %q: %w", wd, err)
	}
	if _, err := os.Stat(demo.Layout{WorkDir: abs}.StatePath()); err == nil {
		return usageErrorf("%s holds a demo's cluster (run/demo.json): take it down with kubetutor demo down --workdir %s", abs, abs)
	}
	sock := f.ContainerdAddress
	if sock == "" {
		sock = checks.DefaultContainerdAddress
	}
	h := demo.FindHost(ctx, demo.HostOptions{WorkDir: abs, Socket: sock, CNIConfDir: o.CNIConfDir})
	out := f.IO.Out
	if h.Empty() {
		fmt.Fprintln(out, "Nothing of a hand-built cluster runs or remains on this machine.")
		h.Describe(out)
		return nil
	}
	fmt.Fprintf(out, "The cluster built by hand on this machine (work dir %s):\n", abs)
	h.Describe(out)
	if !o.Yes {
		if !f.IO.Interactive() {
			fmt.Fprintln(out, "\nNothing done yet: run kubetutor down --yes to do it.")
			return nil
		}
		ok, err := newPrompter(ctx, f.IO).confirm("Stop and remove all of the above?")
		if err != nil && !errors.Is(err, errInputClosed) {
			return err
		}
		if !ok {
			fmt.Fprintln(out, "Nothing changed.")
			return nil
		}
	}
	fmt.Fprintln(out)
	if err := h.TakeDown(ctx, out); err != nil {
		return fmt.Errorf("take down the cluster: %w (run kubetutor down again to see what is left)", err)
	}
	fmt.Fprintln(out, "The cluster is down and the machine clean: the course starts again from its first step.")
	return nil
}
