package crmcli

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/crmkit/crmkit/crm"
)

func newCopy(g *globals) *cobra.Command {
	var from, to string
	var batch int
	var asJSON, tables bool
	cmd := &cobra.Command{
		Use:   "copy",
		Short: "Copy a whole CRM to another database (SQLite to PostgreSQL, or back)",
		Long: "copy moves every tenant's data, and the background jobs not yet done, from --from (default --dsn) to --to,\n" +
			"through crm.Copy: it migrates the destination, which must hold no crmkit data, copies every crm_ table in the\n" +
			"order of its foreign keys in one transaction, and before committing reads every table back and compares its\n" +
			"rows and checksum with the source's. Stop the processes that write to the source first.",
		Example: "  crmkit copy --from file:crm.db --to 'postgres://crm@db.internal/crm'",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return usagef("copy: --to is required")
			}
			if from == "" {
				from = g.resolveDSN()
			}
			if from == to {
				return usagef("copy: --from and --to name the same database")
			}
			ctx := cmd.Context()
			src, err := crm.OpenDB(ctx, crm.Config{DSN: from})
			if err != nil {
				return fmt.Errorf("crmkit: copy: the source: %w", err)
			}
			defer src.Close()
			dst, err := crm.OpenDB(ctx, crm.Config{DSN: to})
			if err != nil {
				return fmt.Errorf("crmkit: copy: the destination: %w", err)
			}
			defer dst.Close()
			errw := cmd.ErrOrStderr()
			started := time.Now()
			res, err := crm.Copy(ctx, src, dst, crm.CopyOptions{BatchSize: batch, Progress: func(table string, rows int64) {
				if g.terminal(errw) {
					fmt.Fprintf(errw, "copied %-32s %9d rows\n", table, rows)
				}
			}})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			var rows int64
			for _, t := range res.Tables {
				rows += t.Rows
				if tables {
					fmt.Fprintf(out, "  %-32s %9d rows  %s\n", t.Name, t.Rows, t.Checksum)
				}
			}
			if tables {
				fmt.Fprintf(out, "  %-32s %9d jobs  %s\n", res.Jobs.Name, res.Jobs.Rows, res.Jobs.Checksum)
			}
			fmt.Fprintf(out, "copied %d rows of %d tables and %d unfinished jobs for %d tenants in %s; counts and checksums match\n",
				rows, len(res.Tables), res.Jobs.Rows, len(res.Tenants), time.Since(started).Round(time.Millisecond))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&from, "from", "", "the source database (default --dsn)")
	fl.StringVar(&to, "to", "", "the destination database: an empty one, or one without crmkit data")
	fl.IntVar(&batch, "batch-size", 0, "rows written at a time (default 1000)")
	fl.BoolVar(&tables, "tables", false, "list every table with its rows and checksum")
	fl.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
