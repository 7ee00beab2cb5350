package crm_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/crm"
)

// Copy moves a CRM to another database: here from one SQLite file to
// another; a postgres:// DSN for the destination moves it to PostgreSQL.
func ExampleCopy() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "crmkit-copy")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	from, to := "file:"+filepath.Join(dir, "crm.db"), "file:"+filepath.Join(dir, "moved.db")

	c, err := crm.Open(ctx, crm.Config{DSN: from})
	if err != nil {
		panic(err)
	}
	if err := c.Migrate(ctx); err != nil {
		panic(err)
	}
	ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com", FirstName: "Ada"})
	if err != nil {
		panic(err)
	}
	c.Close()

	src, err := crm.OpenDB(ctx, crm.Config{DSN: from})
	if err != nil {
		panic(err)
	}
	defer src.Close()
	dst, err := crm.OpenDB(ctx, crm.Config{DSN: to})
	if err != nil {
		panic(err)
	}
	defer dst.Close()
	res, err := crm.Copy(ctx, src, dst, crm.CopyOptions{})
	if err != nil {
		panic(err)
	}
	for _, t := range res.Tables {
		if t.Name == "crm_contacts" {
			fmt.Println(t.Name, t.Rows)
		}
	}

	moved, err := crm.Open(ctx, crm.Config{DSN: to})
	if err != nil {
		panic(err)
	}
	defer moved.Close()
	same, err := moved.Contacts.Get(ctx, ada.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println(same.Email)
	_, err = crm.Copy(ctx, src, dst, crm.CopyOptions{})
	fmt.Println(err != nil)
	// Output:
	// crm_contacts 1
	// ada@example.com
	// true
}
