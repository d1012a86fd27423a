package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/internal/pki"
	"github.com/kubetutor/kubetutor/internal/shellquote"
	"github.com/kubetutor/kubetutor/internal/textsafe"
)

func newCertsCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Make the certificates and kubeconfigs with cfssl, or explain a certificate",
		Long: `Make the course's certificates and kubeconfig (what the certs lesson does with
openssl and kubectl config), or explain what a certificate means to Kubernetes.

  certs init      the CA, the API server's certificate, the ServiceAccount keys,
                  admin's certificate and admin.conf (optionally one identity per component)
  certs inspect   subject, Kubernetes user and groups, SANs, validity, usages, chain, key`,
		Example: `  # what the certs lesson makes, in one command
  kubetutor certs init

  # explain the API server's certificate, and the certificates in admin.conf
  kubetutor certs inspect certs/server.crt admin.conf`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCertsInitCmd(f), newCertsInspectCmd(f))
	return cmd
}

// CertsInitOptions are the options of `kubetutor certs init`.
type CertsInitOptions struct {
	f *Factory

	Dir          string
	SANs         []string
	Force        bool
	PerComponent bool
	Node         string
	KeyAlgo      string
	KeySize      int
}

func newCertsInitCmd(f *Factory) *cobra.Command {
	o := &CertsInitOptions{f: f}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Generate the CA, the certificates, the ServiceAccount keys and the kubeconfig",
		Long: `Generate, with cfssl, what the certs lesson makes with openssl and kubectl config:

  certs/ca.crt, ca.key                     the cluster's CA (CN=kubernetes-ca)
  certs/server.crt, server.key             kube-apiserver's serving certificate: CN=admin,
                                           O=system:masters as in the lesson, serverAuth and
                                           clientAuth, SANs kubernetes ... kubernetes.default.svc.cluster.local,
                                           127.0.0.1, 10.0.0.1 and --sans
  certs/service-account-key.pem, .pem      the ServiceAccount token key pair (RSA)
  certs/admin.crt, admin.key               admin's client certificate (O=system:masters)
  admin.conf                               the kubeconfig: cluster local-apiserver at
                                           https://127.0.0.1:6443 with the CA embedded,
                                           user admin, context default

The kubeconfig is written to --kubeconfig (the global flag) if given, else to
admin.conf in the work dir. With --per-component, each component also gets its
own client identity and kubeconfig, next to it, as in a real cluster:
controller-manager (system:kube-controller-manager), scheduler
(system:kube-scheduler), kubelet (system:node:NODE in system:nodes), and the API
server's kubelet client certificate (apiserver-kubelet-client.crt).

Private keys and kubeconfigs are written with mode 0600 and the certificates
directory with 0700. Existing files are not overwritten without --force.

Exit status: 0 when everything was written, 1 when generating or writing
failed, 2 on bad flags or when files exist and --force is not given.`,
		Example: `  # in the work dir, then point kubectl and kubetutor at the kubeconfig
  kubetutor certs init
  export KUBECONFIG=$PWD/admin.conf
  kubetutor check certs

  # more names for the API server, and one identity per component
  kubetutor certs init --sans 192.168.1.10,cp.example.com --per-component

  # ECDSA P-256 keys, replacing existing files
  kubetutor certs init --key-algo ecdsa --force`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCertsInit(o, cmd.Flags().Changed("node"))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Dir, "dir", pki.DefaultCertsDir, "where the certificates and keys go (relative to the work dir)")
	fl.StringSliceVar(&o.SANs, "sans", nil, "extra names and IP addresses for the API server's certificate (comma-separated)")
	fl.BoolVar(&o.Force, "force", false, "overwrite existing files")
	fl.BoolVar(&o.PerComponent, "per-component", false, "also make a client certificate and kubeconfig for the controller-manager, the scheduler and the kubelet, and the API server's kubelet client certificate")
	fl.StringVar(&o.Node, "node", "", "with --per-component, the kubelet's node name (default: the host name)")
	fl.StringVar(&o.KeyAlgo, "key-algo", pki.DefaultKeyAlgo, "key algorithm: rsa or ecdsa")
	fl.IntVar(&o.KeySize, "key-size", 0, "key size: RSA bits (default 2048) or ECDSA curve 256, 384 or 521 (default 256)")
	_ = cmd.RegisterFlagCompletionFunc("key-algo", cobra.FixedCompletions([]string{"rsa", "ecdsa"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagDirname("dir")
	return cmd
}

func runCertsInit(o *CertsInitOptions, nodeGiven bool) error {
	f := o.f
	if nodeGiven && !o.PerComponent {
		return usageErrorf("--node names the kubelet's identity, which only --per-component makes")
	}
	wd, err := workDir(f)
	if err != nil {
		return err
	}
	res, err := pki.Init(pki.Options{
		WorkDir:      wd,
		CertsDir:     o.Dir,
		Kubeconfig:   f.Kubeconfig,
		SANs:         o.SANs,
		Force:        o.Force,
		PerComponent: o.PerComponent,
		NodeName:     o.Node,
		KeyAlgo:      o.KeyAlgo,
		KeySize:      o.KeySize,
	})
	var exists *pki.ExistsError
	switch {
	case errors.As(err, &exists):
		if len(exists.Paths) == 1 {
			return usageErrorf("%s already exists: pass --force to overwrite it", exists.Paths[0])
		}
		return usageErrorf("%s already exist: pass --force to overwrite them", strings.Join(exists.Paths, ", "))
	case errors.Is(err, pki.ErrInvalidOptions):
		return usageErrorf("%v", err)
	case err != nil:
		if res != nil {
			for _, file := range res.Files {
				fmt.Fprintf(f.IO.Out, "wrote %s\n", file.Path)
			}
		}
		return fmt.Errorf("make the certificates: %w", err)
	}
	tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
	for _, file := range res.Files {
		fmt.Fprintf(tw, "wrote %s\t%04o\t%s\n", file.Path, file.Mode.Perm(), file.What)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	abs, err := filepath.Abs(res.Kubeconfig)
	if err != nil {
		abs = res.Kubeconfig
	}
	fmt.Fprintf(f.IO.ErrOut, "\nNext: export KUBECONFIG=%s, then kubetutor check certs\n", shellquote.Quote(abs))
	return nil
}

// workDir is the work dir as the user gave it, which must exist.
func workDir(f *Factory) (string, error) {
	wd := f.WorkDir
	if wd == "" {
		wd = "."
	}
	if err := checkWorkDir(wd); err != nil {
		return "", err
	}
	return wd, nil
}

// checkWorkDir says why the work dir cannot be used, if it cannot: it
// does not exist, is not a directory, cannot be looked up (a symlink loop,
// a parent without search permission) or cannot be read.
func checkWorkDir(wd string) error {
	abs, err := filepath.Abs(wd)
	if err != nil {
		return fmt.Errorf("resolve work dir %q: %w", wd, err)
	}
	why := func(err error) error {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usageErrorf("work dir %s does not exist", abs)
	case err != nil:
		return usageErrorf("work dir %s cannot be used: %v", abs, why(err))
	case !fi.IsDir():
		return usageErrorf("work dir %s is not a directory", abs)
	}
	// R_OK|X_OK: list it and reach its files (bin/, certs/).
	if err := syscall.Access(abs, 4|1); err != nil {
		return usageErrorf("work dir %s cannot be read: %v (ls -ld %s shows its owner and mode)", abs, err, shellquote.Quote(abs))
	}
	return nil
}

// CertsInspectOptions are the options of `kubetutor certs inspect`.
type CertsInspectOptions struct {
	f *Factory

	Files  []string
	CAFile string
	Output string
}

func newCertsInspectCmd(f *Factory) *cobra.Command {
	o := &CertsInspectOptions{f: f}
	cmd := &cobra.Command{
		Use:   "inspect FILE...",
		Short: "Explain a certificate, or the certificates in a kubeconfig",
		Long: `Explain each certificate in FILE (PEM), or each certificate a kubeconfig embeds
or refers to: its subject and what Kubernetes makes of it (user = CN, groups =
O), the issuer, the SANs, the validity (and whether it is valid now), the key
usages, whether it chains to the work dir's certs/ca.crt (--ca), and whether the
private key next to it (x.key for x.crt) or in the kubeconfig matches it.

Exit status: 0 when every file was inspected, 1 when a file cannot be read or
holds no certificate, 2 on bad flags.`,
		Example: `  kubetutor certs inspect certs/server.crt
  kubetutor certs inspect admin.conf -o json
  kubetutor certs inspect --ca /etc/kubernetes/pki/ca.crt /etc/kubernetes/pki/apiserver.crt`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("%s needs at least one FILE (see %s --help)", cmd.CommandPath(), cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Files = args
			return runCertsInspect(o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.CAFile, "ca", "", "the CA to verify against (default: certs/ca.crt in the work dir)")
	fl.StringVarP(&o.Output, "output", "o", "text", "output format: text or json")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagFilename("ca")
	return cmd
}

func runCertsInspect(o *CertsInspectOptions) error {
	f := o.f
	if o.Output != "text" && o.Output != "json" {
		return usageErrorf("unknown output format %q: use text or json", o.Output)
	}
	ca := o.CAFile
	if ca == "" {
		wd := f.WorkDir
		if wd == "" {
			wd = "."
		}
		ca = filepath.Join(wd, "certs", checks.CAFile)
	}
	opts := pki.InspectOptions{CAFile: ca, Now: f.Now()}
	all := []pki.Inspection{}
	failed := false
	for _, file := range o.Files {
		ins, err := pki.InspectFile(file, opts)
		if err != nil {
			fmt.Fprintf(f.IO.ErrOut, "error: %s\n", textsafe.Text(err.Error()))
			failed = true
		}
		if o.Output == "text" {
			for j := range ins {
				if len(all)+j > 0 {
					fmt.Fprintln(f.IO.Out)
				}
				if err := writeInspection(f, &ins[j]); err != nil {
					return err
				}
			}
		}
		all = append(all, ins...)
	}
	if o.Output == "json" {
		enc := json.NewEncoder(f.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Certificates []pki.Inspection `json:"certificates"`
		}{all}); err != nil {
			return err
		}
	}
	if failed {
		// Each failure was reported as it happened.
		return silentExit(1)
	}
	return nil
}

func writeInspection(f *Factory, in *pki.Inspection) error {
	w := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
	// Every value comes from the certificate (names, SANs, the issuer's
	// name in the chain's detail) or its file's name: shown with control
	// characters visible, never sent to the terminal raw.
	fmt.Fprintln(w, textsafe.Line(in.Source))
	row := func(k, v string) { fmt.Fprintf(w, "  %s\t%s\n", k, textsafe.Line(v)) }
	if in.Role != "" {
		row("found as", in.Role)
	}
	row("subject", in.Subject)
	groups := "none"
	if len(in.Groups) > 0 {
		groups = strings.Join(in.Groups, ", ")
	}
	if in.IsCA && !slices.Contains(in.ExtKeyUsages, "client auth") {
		row("kubernetes", "a CA: it vouches for identities, it is not one")
	} else {
		row("kubernetes", fmt.Sprintf("user %q (CN), groups %s (O)", in.User, groups))
	}
	issuer := in.Issuer
	if in.SelfSigned {
		issuer += " (self-signed)"
	}
	row("issuer", issuer)
	if in.IsCA {
		row("CA", "yes: it can sign certificates")
	}
	var sans []string
	for _, d := range in.DNSNames {
		sans = append(sans, "DNS:"+d)
	}
	for _, ip := range in.IPAddresses {
		sans = append(sans, "IP:"+ip)
	}
	if len(sans) == 0 {
		sans = []string{"none"}
	}
	row("SANs", strings.Join(sans, ", "))
	state := map[string]string{pki.ValidNow: "valid now", pki.Expired: "EXPIRED", pki.NotYetValid: "NOT YET VALID"}[in.Validity]
	row("validity", fmt.Sprintf("%s to %s: %s", in.NotBefore.UTC().Format("2006-01-02 15:04 MST"), in.NotAfter.UTC().Format("2006-01-02 15:04 MST"), state))
	row("public key", in.PublicKey+", signed with "+in.SignatureAlgorithm)
	row("key usage", orNone(in.KeyUsages))
	row("ext key usage", orNone(in.ExtKeyUsages))
	row("chain", chainText(in.Chain))
	row("private key", keyText(in.Key))
	if err := w.Flush(); err != nil {
		return err
	}
	for _, n := range in.Notes {
		fmt.Fprintf(f.IO.Out, "  - %s\n", textsafe.Line(n))
	}
	return nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func chainText(c pki.Chain) string {
	switch c.Status {
	case pki.ChainVerified:
		return "OK, " + c.Detail
	case pki.ChainIsCA:
		return "it is the CA (" + c.CAFile + ")"
	case pki.ChainNoCA:
		return "not checked: " + c.Detail
	default:
		return "NO, " + c.Detail
	}
}

func keyText(k pki.KeyCheck) string {
	switch k.Status {
	case pki.KeyMatches:
		return k.Path + " matches"
	case pki.KeyMismatch:
		return k.Path + " does NOT match: " + k.Detail
	case pki.KeyNotFound:
		return "not checked: " + k.Detail
	case pki.KeyUnreadable:
		return "not checked: " + k.Path + ": " + k.Detail
	default:
		return "not checked: " + k.Detail
	}
}
