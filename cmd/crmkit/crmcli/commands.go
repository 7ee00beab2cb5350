package crmcli

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

func newMigrate(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or bring up to date crmkit's tables",
		Long:  "migrate runs crmkit's migrations on the database: safe to run again, and from several processes at once.",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, closeCRM, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer closeCRM()
			if err := c.Migrate(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "the database is up to date")
			return nil
		},
	}
}

func newExport(g *globals) *cobra.Command {
	var out, where string
	var escape bool
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export the tenant's contacts as CSV",
		Long: "export writes the tenant's contacts (or those --filter selects) as CSV with a header, as import reads it back:\n" +
			"the fixed columns, one column per custom field, then the other attributes as JSON.",
		Example: "  crmkit export --out contacts.csv\n  crmkit export --filter '{\"field\":\"tags\",\"op\":\"contains\",\"value\":\"vip\"}'",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := contacts.ExportOptions{EscapeFormulas: escape}
			if where != "" {
				f, err := filter.Parse([]byte(where))
				if err != nil {
					return &usageError{err: fmt.Errorf("crmkit export: --filter: %w", err)}
				}
				opts.Filter = f
			}
			c, closeCRM, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer closeCRM()
			w := cmd.OutOrStdout()
			var file *os.File
			if out != "" && out != "-" {
				file, err = os.Create(out)
				if err != nil {
					return fmt.Errorf("crmkit: %w", err)
				}
				w = file
			}
			n, err := c.Contacts.ExportCSV(cmd.Context(), w, opts)
			if file != nil {
				if cerr := file.Close(); err == nil && cerr != nil {
					err = fmt.Errorf("crmkit: %w", cerr)
				}
			}
			if err != nil {
				return err
			}
			if file != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "exported %d contacts to %s\n", n, out)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "the file to write (default standard output)")
	cmd.Flags().StringVar(&where, "filter", "", "a filter in the filter language's JSON form")
	cmd.Flags().BoolVar(&escape, "escape-formulas", false, "prefix cells a spreadsheet would run as formulas with '")
	return cmd
}

func newErase(g *globals) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "erase CONTACT-ID",
		Short: "Erase a person: anonymise the contact across every module",
		Long: "erase anonymises the contact across every module in one transaction (GDPR Art. 17) through the consent\n" +
			"module's erasure, and prints the receipt (it holds no personal data).",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := core.ParseID(a[0])
			if err != nil {
				return usagef("erase: %q is not a contact id", a[0])
			}
			c, closeCRM, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer closeCRM()
			r, err := c.Consent.Erase(cmd.Context(), id, reason)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(r)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "request", "a short code of why (request, retention)")
	return cmd
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print crmkit's version",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "crmkit %s (%s)\n", version(), runtime.Version())
			return nil
		},
	}
}

// version is the version of the crmkit module in the binary: its tag when
// built with go install …@version, (devel) from a checkout.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	if info.Main.Path == modulePath && info.Main.Version != "" {
		return info.Main.Version
	}
	for _, d := range info.Deps {
		if d.Path == modulePath {
			return d.Version
		}
	}
	return "(devel)"
}

const modulePath = "github.com/crmkit/crmkit"
