package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// ResetOptions are the options of `kubetutor reset`.
type ResetOptions struct {
	f   *Factory
	Yes bool
}

func newResetCmd(f *Factory) *cobra.Command {
	o := &ResetOptions{f: f}
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Forget progress (the cluster is not touched)",
		Long: `Forget which steps are done or skipped and which hints were shown. On a
terminal kubetutor asks first; otherwise pass --yes.`,
		Example: `  kubetutor reset
  kubetutor reset --yes`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runReset(cmd.Context(), o) },
	}
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "do not ask")
	return cmd
}

func runReset(ctx context.Context, o *ResetOptions) error {
	f := o.f
	store, err := f.Store()
	if err != nil {
		return err
	}
	if !o.Yes {
		if !f.IO.Interactive() {
			return usageErrorf("not a terminal: pass --yes to forget progress in %s", store.Path)
		}
		ok, err := newPrompter(ctx, f.IO).confirm("Forget all progress (" + store.Path + ")?")
		if err != nil && !errors.Is(err, errInputClosed) {
			return err
		}
		if !ok {
			fmt.Fprintln(f.IO.Out, "Nothing changed.")
			return nil
		}
	}
	if err := store.Reset(); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.Out, "Progress forgotten (%s).\n", store.Path)
	return nil
}
