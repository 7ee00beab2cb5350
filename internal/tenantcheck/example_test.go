package tenantcheck_test

import (
	"fmt"
	"strings"

	"github.com/crmkit/crmkit/internal/tenantcheck"
)

func ExampleCheck() {
	tenantScoped := func(table string) bool { return strings.HasPrefix(table, "crm_") }
	for _, sql := range []string{
		`SELECT d.id FROM crm_deals d JOIN crm_contacts c ON c.id = d.contact_id WHERE d.tenant_id = $1`,
		`SELECT d.id FROM crm_deals d JOIN crm_contacts c ON c.tenant_id = d.tenant_id AND c.id = d.contact_id WHERE d.tenant_id = $1`,
	} {
		problems, err := tenantcheck.Check(sql, tenantScoped)
		fmt.Println(problems, err)
	}
	// Output:
	// [crm_contacts: joined without equating tenant_id] <nil>
	// [] <nil>
}
