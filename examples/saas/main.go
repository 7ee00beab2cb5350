// Command saas is a multi-tenant service on PostgreSQL: every customer
// company of the service is a crmkit tenant in one database, and several
// processes of the service share that database and its background work.
//
// Two CRMs opened on the same database stand for two processes (in
// production: two machines running the same binary, each calling crm.Open,
// RegisterAction and Start as here). Each tenant gets a rule: a new
// contact gets a welcome (a host action, registered in both processes,
// that notes which process ran it). Sign-ups arrive at either process, as
// behind a load balancer; the rule's jobs go to River's tables in the
// same transaction as the contact, and the workers of both processes take
// them. The program then shows how the jobs of every tenant were shared,
// and that no tenant sees another's rows: each has a contact with the same
// address, and none can read another's.
//
//	go run ./examples/saas -dsn 'postgres://postgres@127.0.0.1:5432/saas?sslmode=disable'
//
// It needs an empty PostgreSQL database (or schema, with search_path in the
// DSN). Tenants work the same on SQLite, but SQLite serves one process with
// several worker goroutines; sharing the work between processes is what
// PostgreSQL is for.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

var tenants = []string{"acme", "globex", "initech"}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("saas", flag.ContinueOnError)
	dsn := flags.String("dsn", "", "an empty PostgreSQL database: postgres://… (required)")
	signups := flags.Int("signups", 20, "sign-ups per tenant")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *signups < 1 {
		return errors.New("saas: -signups must be at least 1")
	}
	if !strings.HasPrefix(*dsn, "postgres://") && !strings.HasPrefix(*dsn, "postgresql://") {
		return errors.New("saas: -dsn must name a PostgreSQL database (postgres://…): the example is about processes sharing one")
	}

	// Two processes: each opens the database, migrates (the second finds
	// nothing to do), registers the host's action and runs workers.
	var procs []*crm.CRM
	for _, name := range []string{"A", "B"} {
		c, err := crm.Open(ctx, crm.Config{DSN: *dsn})
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Migrate(ctx); err != nil {
			return err
		}
		if err := c.RegisterAction("welcome", welcome(name), nil); err != nil {
			return err
		}
		procs = append(procs, c)
	}

	// Each tenant sets up its own rule (here through process A).
	for _, tenant := range tenants {
		_, err := procs[0].Tenant(tenant).Automation.Rules.Create(ctx, automation.Rule{Name: "Welcome", Enabled: true,
			Triggers: []string{contacts.EventContactCreated}, Actions: []automation.Action{{Type: "welcome"}}})
		if err != nil {
			return err
		}
	}
	for _, c := range procs {
		if err := c.Start(ctx); err != nil {
			return err
		}
	}

	// Sign-ups arrive at either process. Every tenant also gets a contact
	// ops@example.com: the same address, three tenants, three people.
	for i := range *signups {
		for _, tenant := range tenants {
			email := fmt.Sprintf("user%d@%s.example", i, tenant)
			if i == 0 {
				email = "ops@example.com"
			}
			if _, err := procs[i%2].Tenant(tenant).Contacts.Create(ctx, contacts.NewContact{Email: email}); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(stdout, "%d sign-ups in each of %d tenants, half at each process\n", *signups, len(tenants))

	// Wait for the welcomes, then count who did them.
	fmt.Fprintln(stdout, "tenant    contacts  welcomed by A  by B")
	for _, tenant := range tenants {
		c := procs[0].Tenant(tenant)
		notes, err := waitForNotes(ctx, c, *signups)
		if err != nil {
			return err
		}
		by := map[string]int{}
		for _, n := range notes {
			by[n.AuthorID]++
		}
		count, err := c.Contacts.Count(ctx, filter.Expr{})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-9s %8d  %13d  %4d\n", tenant, count, by["process-A"], by["process-B"])
	}

	// Isolation: each tenant's ops@example.com is its own contact, and
	// another tenant cannot read it, from either process.
	for i, tenant := range tenants {
		ops, err := procs[0].Tenant(tenant).Contacts.GetByEmail(ctx, "ops@example.com")
		if err != nil {
			return err
		}
		other := tenants[(i+1)%len(tenants)]
		_, err = procs[1].Tenant(other).Contacts.Get(ctx, ops.ID)
		if !errors.Is(err, core.ErrNotFound) {
			return fmt.Errorf("saas: tenant %s read a contact of %s: %v", other, tenant, err)
		}
		fmt.Fprintf(stdout, "%s reads %s's ops@example.com: %v\n", other, tenant, err)
	}

	for _, c := range procs {
		if err := c.Stop(ctx); err != nil {
			return err
		}
	}
	return nil
}

// welcome is the host's rule action in one process: it notes on the new
// contact which process welcomed them. It runs in the rule step's
// transaction, bound to the rule's tenant, so the note is written once.
func welcome(process string) func(ctx context.Context, tx *crm.CRM, call automation.Call) (any, error) {
	return func(ctx context.Context, tx *crm.CRM, call automation.Call) (any, error) {
		if call.ContactID == nil {
			return nil, errors.New("saas: welcome: the event names no contact")
		}
		_, err := tx.Notes.Create(ctx, contacts.NewNote{ContactID: *call.ContactID,
			Body: "Welcome pack sent", AuthorID: "process-" + process})
		return map[string]string{"process": process}, err
	}
}

// waitForNotes waits until the tenant has n welcome notes and returns them.
func waitForNotes(ctx context.Context, c *crm.CRM, n int) ([]*contacts.Note, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		page, err := c.Notes.List(ctx, contacts.NoteListOptions{Limit: 1000})
		if err != nil {
			return nil, err
		}
		if len(page.Items) >= n || time.Now().After(deadline) {
			if len(page.Items) < n {
				return nil, fmt.Errorf("saas: tenant %s: %d of %d welcomes after a minute", c.TenantID(), len(page.Items), n)
			}
			return page.Items, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}
