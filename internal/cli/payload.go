package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// The offline images run kubetutor itself: `pause` as the pod sandbox,
// `serve` as the nginx stand-in, and `getent` (the image's /bin/getent links
// to kubetutor) for a name lookup inside a pod, as in nginx's Debian-based
// image. All are hidden; they are not for people at their own shell.

func newPauseCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "pause",
		Short:  "Sleep until signalled (the pod sandbox of the offline images)",
		Hidden: true,
		Args:   noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			<-cmd.Context().Done()
			return nil
		},
	}
}

func newServeCmd() *cobra.Command {
	addr := ":80"
	cmd := &cobra.Command{
		Use:    "serve",
		Short:  "Serve a welcome page over HTTP (the nginx stand-in of the offline images)",
		Hidden: true,
		Args:   noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, _ := os.Hostname()
			out := cmd.OutOrStdout()
			mux := http.NewServeMux()
			mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				body := fmt.Sprintf("Welcome to nginx! (kubetutor stand-in, pod %s)\n", host)
				fmt.Fprint(w, body)
				// One line per request, as nginx's access log, so that
				// kubectl logs shows the pod at work.
				fmt.Fprintln(out, accessLine(r, http.StatusOK, len(body), time.Now()))
			})
			srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
			fmt.Fprintf(out, "kubetutor stand-in for nginx: listening on %s\n", addr)
			go func() {
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			}()
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serve on %s: %w", addr, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", addr, "listen address")
	return cmd
}

// accessLine is an nginx "combined" access log line for a request.
func accessLine(r *http.Request, status, size int, now time.Time) string {
	client := r.RemoteAddr
	if h, _, err := net.SplitHostPort(client); err == nil {
		client = h
	}
	quote := func(s string) string {
		if s == "" {
			return `"-"`
		}
		return strconv.Quote(s)
	}
	return fmt.Sprintf(`%s - - [%s] %s %d %d %s %s`, client, now.Format("02/Jan/2006:15:04:05 -0700"),
		quote(r.Method+" "+r.URL.RequestURI()+" "+r.Proto), status, size, quote(r.Referer()), quote(r.UserAgent()))
}

// getentTimeout bounds one lookup (the resolver's own retries included).
const getentTimeout = 15 * time.Second

// newGetentCmd is `getent hosts NAME...` as glibc's getent prints it: the
// address, then the canonical name, one line per name; exit 2 when a name
// is not found. It resolves with Go's resolver, which reads the pod's
// /etc/resolv.conf (nameserver, search, ndots) as glibc does.
func newGetentCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "getent hosts NAME...",
		Short:  "Look names up through /etc/resolv.conf (getent hosts, in the offline workload image)",
		Hidden: true,
		Args:   cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "hosts" {
				return usageErrorf("only the hosts database is supported, not %q", args[0])
			}
			var missing []string
			for _, n := range args[1:] {
				ctx, cancel := context.WithTimeout(cmd.Context(), getentTimeout)
				addrs, err := net.DefaultResolver.LookupHost(ctx, n)
				canon, cerr := net.DefaultResolver.LookupCNAME(ctx, n)
				cancel()
				if err != nil || len(addrs) == 0 {
					missing = append(missing, n)
					continue
				}
				if cerr != nil || canon == "" {
					canon = n
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-15s %s\n", addrs[0], strings.TrimSuffix(canon, "."))
			}
			if len(missing) > 0 {
				return &ExitError{Code: 2, Err: fmt.Errorf("not found: %s", strings.Join(missing, ", "))}
			}
			return nil
		},
	}
}
