package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

// The offline images run kubetutor itself: `pause` as the pod sandbox and
// `serve` as the nginx stand-in. Both are hidden; they are not for people.

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
