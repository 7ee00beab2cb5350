package crmcli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// The command line on an SQLite file: migrate, then import a CSV file
// with a broken row (exit code 1, the line in the summary).
func Example() {
	dir, err := os.MkdirTemp("", "crmkit-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	dsn := "file:" + filepath.Join(dir, "crm.db")
	csv := filepath.Join(dir, "contacts.csv")
	if err := os.WriteFile(csv, []byte("email,first_name\nada@example.com,Ada\nnot-an-email,Bob\n"), 0o600); err != nil {
		panic(err)
	}
	ctx := context.Background()
	code := run(ctx, []string{"--dsn", dsn, "migrate"}, nil, os.Stdout, os.Stderr)
	fmt.Println("exit", code)
	var out bytes.Buffer
	code = run(ctx, []string{"--dsn", dsn, "import", csv}, nil, &out, os.Stderr)
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !strings.HasPrefix(line, "import id:") { // a new id each run
			fmt.Println(line)
		}
	}
	fmt.Println("exit", code)
	// Output:
	// the database is up to date
	// exit 0
	// imported 2 rows: 1 created, 0 updated, 0 unchanged, 1 failed
	// failed lines:
	//   line 3: email: is not a valid address
	// exit 1
}

// A host adds crmkit's commands to its own command line, here as "shop
// crm", and exits with their codes.
func ExampleCommand() {
	dir, err := os.MkdirTemp("", "crmkit-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	root := &cobra.Command{Use: "shop", SilenceErrors: true, SilenceUsage: true}
	root.AddCommand(Command(Options{Use: "crm"}))
	root.SetOut(os.Stdout)
	for _, args := range [][]string{
		{"crm", "--dsn", "file:" + filepath.Join(dir, "crm.db"), "migrate"},
		{"crm", "import"},
	} {
		root.SetArgs(args)
		code := Report(os.Stdout, root.ExecuteContext(context.Background()))
		fmt.Println("exit", code)
	}
	// Output:
	// the database is up to date
	// exit 0
	// shop crm import: accepts 1 arg(s), received 0
	// Run 'shop crm import --help' for usage.
	// exit 2
}
