package crmcli

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/demo"
)

func newDemo(g *globals) *cobra.Command {
	var seed uint64
	var n int
	var until, mailDir, smtpAddr, smtpTLS string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Fill an empty tenant with a realistic, deterministic demo data set",
		Long: "demo migrates the database and fills the tenant (which must have no contacts) with two years of a small\n" +
			"business's CRM, made through crmkit's Go API: users, teams and the built-in roles; custom fields; consent\n" +
			"purposes and consents; companies; contacts imported in bulk week by week; calls, mails, meetings, web events and\n" +
			"purchases; two pipelines with deals in every stage, won and lost ones included; products; an SLA calendar and\n" +
			"policies; tickets with messages; two segments, a template and a campaign, which is sent.\n\n" +
			"The same --seed gives the same data: every time crmkit records is the demo's clock's (two years up to --until),\n" +
			"and the digest printed at the end (of the content, ids aside) is the same on every run, on SQLite and\n" +
			"PostgreSQL alike. The campaign goes to a mailer that only records (--mail-dir writes each message to a file);\n" +
			"--smtp sends it to a mail server instead. Every address is under the reserved .example domain.\n\n" +
			"serve then shows the data.",
		Example: "  crmkit --dsn file:demo.db demo --seed 42 --contacts 5000\n  crmkit --dsn file:demo.db serve --token secret",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			end := demo.DefaultUntil
			if until != "" {
				t, err := time.Parse("2006-01-02", until)
				if err != nil {
					return usagef("demo: --until %q is not a date (2026-12-01)", until)
				}
				end = t
			}
			if n < 20 || n > 1_000_000 {
				return usagef("demo: --contacts must be 20 to 1000000")
			}
			var mailer campaigns.Mailer
			rec := &demo.Recorder{Dir: mailDir}
			mailer = rec
			if smtpAddr != "" {
				host, port, err := net.SplitHostPort(smtpAddr)
				p, perr := strconv.Atoi(port)
				if err != nil || perr != nil {
					return usagef("demo: --smtp %q is not host:port", smtpAddr)
				}
				s := &campaigns.SMTP{Host: host, Port: p, TLS: smtpTLS}
				if err := s.Check(); err != nil {
					return usagef("demo: --smtp: %v", err)
				}
				defer s.Close()
				mailer = s
			}
			ctx := cmd.Context()
			clock := demo.NewClock(end)
			cfg := crm.Config{}
			demo.Configure(&cfg, clock, mailer)
			c, closeCRM, err := g.openWith(ctx, cfg)
			if err != nil {
				return err
			}
			defer closeCRM()
			if err := c.Migrate(ctx); err != nil {
				return err
			}
			errw := cmd.ErrOrStderr()
			started := time.Now()
			sum, err := demo.Fill(ctx, c, clock, demo.Options{Seed: seed, Contacts: n, Until: end, Progress: func(step string) {
				fmt.Fprintf(errw, "demo: %s (%s)\n", step, time.Since(started).Round(time.Second))
			}})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "demo data for tenant %q, %s to %s (seed %d):\n", c.TenantID(), sum.From.Format("2006-01-02"), sum.Until.Format("2006-01-02"), seed)
			fmt.Fprintf(out, "  %d users in %d teams, %d companies, %d contacts, %d consent records\n", sum.Users, sum.Teams, sum.Companies, sum.Contacts, sum.Consents)
			fmt.Fprintf(out, "  %d activities (%d purchases), %d deals in %d pipelines (%d won, %d lost)\n", sum.Activities, sum.Purchases, sum.Deals, sum.Pipelines, sum.Won, sum.Lost)
			fmt.Fprintf(out, "  %d tickets with %d messages, %d segments, %d template\n", sum.Tickets, sum.Messages, sum.Segments, sum.Templates)
			fmt.Fprintf(out, "  campaign %s: %d sent, %d skipped (no consent)\n", sum.Campaign, sum.Sent, sum.Skipped)
			if smtpAddr == "" {
				where := "recorded, not sent"
				if mailDir != "" {
					where = "written to " + mailDir
				}
				fmt.Fprintf(out, "  messages: %d %s\n", len(rec.Messages()), where)
			}
			fmt.Fprintf(out, "digest: %s\n", sum.Digest)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.Uint64Var(&seed, "seed", 1, "chooses the data set: the same seed, the same data")
	fl.IntVar(&n, "contacts", 5000, "how many people to make")
	fl.StringVar(&until, "until", "", "the last day of the two years of history (default "+demo.DefaultUntil.Format("2006-01-02")+")")
	fl.StringVar(&mailDir, "mail-dir", "", "write the campaign's messages to this folder as .eml files")
	fl.StringVar(&smtpAddr, "smtp", "", "send the campaign to this SMTP server (host:port) instead of recording it")
	fl.StringVar(&smtpTLS, "smtp-tls", "mandatory", "TLS with --smtp: mandatory, opportunistic or none")
	return cmd
}
