package crmcli

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crmhttp"
)

// envToken is the environment variable --token defaults to.
const envToken = "CRMKIT_TOKEN"

func newServe(g *globals) *cobra.Command {
	var addr, token string
	var workers bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API, for trying crmkit out (not for production)",
		Long: "serve runs crmkit's HTTP API (package crmhttp; its OpenAPI document at /openapi.json) on --addr.\n\n" +
			"It is for trying crmkit out, not for production: one shared token (--token, $" + envToken + ", or a random one\n" +
			"printed at start) stands for every caller, each request acts in --tenant as the host's trusted code (no actor,\n" +
			"so no roles are checked), and there is no TLS. A real host mounts crmhttp.New in its own server, behind its own\n" +
			"login, and maps each request to its tenant and user.\n\n" +
			"Requests send the token as \"Authorization: Bearer <token>\". With --workers (the default) the process also runs\n" +
			"crmkit's background work: automation rules, webhooks, campaign sends, SLA timers.",
		Example: "  crmkit serve --addr 127.0.0.1:8080 --token secret\n  curl -H 'Authorization: Bearer secret' http://127.0.0.1:8080/contacts",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if token == "" {
				token = os.Getenv(envToken)
			}
			generated := false
			if token == "" {
				b := make([]byte, 16)
				_, _ = rand.Read(b)
				token, generated = hex.EncodeToString(b), true
			}
			c, closeCRM, err := g.open(ctx)
			if err != nil {
				return err
			}
			defer closeCRM()
			h, err := crmhttp.New(c, crmhttp.Options{Auth: tokenAuth(token, g.tenant)})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("crmkit: %w", err)
			}
			if workers {
				if err := c.Start(ctx); err != nil {
					ln.Close()
					return err
				}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "serving crmkit's API for tenant %q on http://%s (for trying crmkit, not for production)\n", g.tenant, ln.Addr())
			if generated {
				fmt.Fprintf(out, "token: %s\n", token)
			}
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ln) }()
			select {
			case err = <-done:
			case <-ctx.Done():
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err = srv.Shutdown(sctx)
				cancel()
				<-done
			}
			if workers {
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if serr := c.Stop(sctx); err == nil {
					err = serr
				}
				cancel()
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			fmt.Fprintln(out, "stopped")
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "the address to listen on")
	cmd.Flags().StringVar(&token, "token", "", "the bearer token callers send (default $"+envToken+", else a random one)")
	cmd.Flags().BoolVar(&workers, "workers", true, "run crmkit's background work in this process")
	return cmd
}

// tokenAuth is serve's authentication: every request with the token acts
// in tenant as the trusted host (the zero Actor).
func tokenAuth(token, tenant string) crmhttp.Auth {
	want := []byte("Bearer " + token)
	return func(r *http.Request) (string, core.Actor, error) {
		got := []byte(strings.TrimSpace(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			return "", core.Actor{}, errors.New("crmkit: wrong or missing token")
		}
		return tenant, core.Actor{}, nil
	}
}
