package crmcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
)

// Exit codes of the command line.
const (
	// ExitOK: the command did its work.
	ExitOK = 0
	// ExitFailure: the command failed (an import with a failed row
	// included).
	ExitFailure = 1
	// ExitUsage: the command line does not make sense.
	ExitUsage = 2
)

// EnvDSN is the environment variable --dsn defaults to.
const EnvDSN = "CRMKIT_DSN"

// Options configure the command Command returns. The zero Options is the
// crmkit program's own.
type Options struct {
	// Use is the command's name: default "crmkit". A host that mounts the
	// command under its own root may call it "crm".
	Use string
	// Open opens the CRM a command works on. cfg.DSN is --dsn (else
	// $CRMKIT_DSN, else file:crm.db); demo sets cfg.Clock to its clock
	// and cfg.Campaigns.Mailer to the mailer it sends with. Default:
	// crm.Open(ctx, cfg). A host sets it to add its own settings (a
	// logger, a secret, a mailer for serve) to cfg, or to use a database
	// it already holds with crm.New; the command calls Close on the CRM
	// when it ends, which does not close a database crm.New was given.
	// copy opens its two databases itself (crm.OpenDB), from --from and
	// --to.
	Open func(ctx context.Context, cfg crm.Config) (*crm.CRM, error)
}

// usageError is a command line that does not make sense: exit code 2.
type usageError struct {
	err error
	// path is the command to ask for help ("crmkit"), "" when unknown.
	path string
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf("crmkit: "+format, args...)}
}

// args wraps a cobra argument check so that its refusal is a usage error.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return &usageError{err: fmt.Errorf("%s: %w", cmd.CommandPath(), err), path: cmd.CommandPath()}
		}
		return nil
	}
}

// globals are the flags every command takes, and what the commands share.
type globals struct {
	dsn    string
	tenant string
	opts   Options
	// terminal reports whether a writer is a terminal (the progress bar
	// shows only there).
	terminal func(io.Writer) bool
}

// resolveDSN is --dsn, else $CRMKIT_DSN, else file:crm.db.
func (g *globals) resolveDSN() string {
	if g.dsn != "" {
		return g.dsn
	}
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn
	}
	return "file:crm.db"
}

// open opens the CRM of the global flags, bound to their tenant.
func (g *globals) open(ctx context.Context) (*crm.CRM, func(), error) {
	return g.openWith(ctx, crm.Config{})
}

// openWith opens the CRM of the global flags with cfg (its DSN set here).
func (g *globals) openWith(ctx context.Context, cfg crm.Config) (*crm.CRM, func(), error) {
	if g.tenant == "" {
		return nil, nil, usagef("--tenant must not be empty")
	}
	cfg.DSN = g.resolveDSN()
	open := g.opts.Open
	if open == nil {
		open = crm.Open
	}
	root, err := open(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return root.Tenant(g.tenant), func() { _ = root.Close() }, nil
}

// Command returns crmkit's command line as one cobra command with its
// subcommands (migrate, import, export, erase, demo, copy, serve,
// version), for a host to add to its own root:
//
//	root := &cobra.Command{Use: "shop"}
//	root.AddCommand(crmcli.Command(crmcli.Options{Use: "crm"}))
//	err := root.ExecuteContext(ctx)
//	os.Exit(crmcli.Report(os.Stderr, err))
//
// The command takes --dsn (default $CRMKIT_DSN, else file:crm.db) and
// --tenant for all its subcommands. Its subcommands print no usage text
// and no error themselves: Report writes the error and gives the exit
// code.
func Command(opts Options) *cobra.Command {
	return newRoot(opts, terminal)
}

// newRoot is Command with the terminal check given.
func newRoot(opts Options, isTerminal func(io.Writer) bool) *cobra.Command {
	if opts.Use == "" {
		opts.Use = "crmkit"
	}
	g := &globals{terminal: isTerminal, opts: opts}
	root := &cobra.Command{
		Use:   opts.Use,
		Short: "crmkit's command line: migrate, import, export, erase, demo, copy, serve",
		Long: "crmkit's command line works on a crmkit database: it migrates it, imports contacts, companies and deals from\n" +
			"CSV (crmkit's own columns, or HubSpot's, Salesforce's and Pipedrive's exports), exports contacts, erases a person,\n" +
			"fills a database with a demo data set, copies a whole CRM to another database and serves the HTTP API for trying\n" +
			"crmkit out.\n\n" +
			"The database is --dsn (or $" + EnvDSN + "): an SQLite file (file:crm.db, the default) or a postgres:// URL.",
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_ = cmd.Help()
			return &usageError{err: fmt.Errorf("crmkit: a command is required"), path: cmd.CommandPath()}
		},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{err: fmt.Errorf("%s: %w", cmd.CommandPath(), err), path: cmd.CommandPath()}
	})
	// The default is resolved in open, not shown in the help: a DSN may
	// hold a password.
	root.PersistentFlags().StringVar(&g.dsn, "dsn", "", "the database: an SQLite file or URI, or a postgres:// URL (default $"+EnvDSN+", else file:crm.db)")
	root.PersistentFlags().StringVar(&g.tenant, "tenant", crm.DefaultTenant, "the tenant to work in")
	root.AddCommand(newMigrate(g), newImport(g), newExport(g), newErase(g), newDemo(g), newCopy(g), newServe(g), newVersion())
	// Mounted under a host's root, cobra prints errors and usage unless
	// the command that ran (or the root) says not to: each of ours says
	// so.
	// Usage errors name the command to ask for help.
	var prepare func(*cobra.Command)
	prepare = func(c *cobra.Command) {
		c.SilenceErrors, c.SilenceUsage = true, true
		if run := c.RunE; run != nil {
			c.RunE = func(cmd *cobra.Command, a []string) error {
				err := run(cmd, a)
				var ue *usageError
				if errors.As(err, &ue) && ue.path == "" {
					ue.path = cmd.CommandPath()
				}
				return err
			}
		}
		for _, sub := range c.Commands() {
			prepare(sub)
		}
	}
	prepare(root)
	return root
}

// Main runs crmkit's command line as the crmkit program does, with args
// (without the program's name), and returns the exit code: 0 done, 1
// failed, 2 a usage error. Errors go to stderr, one message each.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(ctx, args, stdin, stdout, stderr)
}

// run is Main.
func run(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(Options{}, terminal)
	root.SetIn(stdin)
	root.SetArgs(argv)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	return Report(stderr, err)
}

// ExitCode is the exit code of a command's error: 0 for nil, 2 for a
// command line that does not make sense (a usage error, an unknown
// command or flag), 1 for any other.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case isUsage(err):
		return ExitUsage
	}
	return ExitFailure
}

func isUsage(err error) bool {
	var ue *usageError
	return errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag")
}

// Report writes err to w as the command line does — one message, the
// fields of a *core.ValidationError one per line, a hint at --help for a
// usage error, nothing for a failure the command already described (an
// import's failed lines) — and returns its exit code (ExitCode).
func Report(w io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	if isUsage(err) {
		path := "crmkit"
		var ue *usageError
		if errors.As(err, &ue) && ue.path != "" {
			path = ue.path
		}
		fmt.Fprintln(w, err)
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", path)
		return ExitUsage
	}
	if errors.Is(err, errReported) {
		return ExitFailure
	}
	msg := err.Error()
	var ve *core.ValidationError
	if errors.As(err, &ve) {
		msg = "crm: the input is not valid:"
		for _, f := range ve.Fields {
			msg += "\n  " + f.Field + ": " + f.Message
		}
	}
	fmt.Fprintln(w, msg)
	return ExitFailure
}

// errReported ends a command that wrote its own account of what failed.
var errReported = errors.New("crmkit: failed")
