package crm_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/tickets"
)

// serviceAPIs pairs each module service with its interface (the api.go of
// its package). The compile-time checks there hold every interface method
// to the service's; the test below holds every exported method of the
// service to the interface.
var serviceAPIs = map[reflect.Type]reflect.Type{
	reflect.TypeFor[*contacts.Service]():      reflect.TypeFor[contacts.ContactsAPI](),
	reflect.TypeFor[*contacts.Companies]():    reflect.TypeFor[contacts.CompaniesAPI](),
	reflect.TypeFor[*contacts.Notes]():        reflect.TypeFor[contacts.NotesAPI](),
	reflect.TypeFor[*contacts.Tasks]():        reflect.TypeFor[contacts.TasksAPI](),
	reflect.TypeFor[*contacts.Scoring]():      reflect.TypeFor[contacts.ScoringAPI](),
	reflect.TypeFor[*fields.Service]():        reflect.TypeFor[fields.FieldsAPI](),
	reflect.TypeFor[*consent.Service]():       reflect.TypeFor[consent.ConsentAPI](),
	reflect.TypeFor[*pipeline.Pipelines]():    reflect.TypeFor[pipeline.PipelinesAPI](),
	reflect.TypeFor[*pipeline.Deals]():        reflect.TypeFor[pipeline.DealsAPI](),
	reflect.TypeFor[*pipeline.Products]():     reflect.TypeFor[pipeline.ProductsAPI](),
	reflect.TypeFor[*automation.Rules]():      reflect.TypeFor[automation.RulesAPI](),
	reflect.TypeFor[*automation.Runs]():       reflect.TypeFor[automation.RunsAPI](),
	reflect.TypeFor[*automation.Webhooks]():   reflect.TypeFor[automation.WebhooksAPI](),
	reflect.TypeFor[*campaigns.Segments]():    reflect.TypeFor[campaigns.SegmentsAPI](),
	reflect.TypeFor[*campaigns.Templates]():   reflect.TypeFor[campaigns.TemplatesAPI](),
	reflect.TypeFor[*campaigns.Campaigns]():   reflect.TypeFor[campaigns.CampaignsAPI](),
	reflect.TypeFor[*tickets.Tickets]():       reflect.TypeFor[tickets.TicketsAPI](),
	reflect.TypeFor[*tickets.Calendars]():     reflect.TypeFor[tickets.CalendarsAPI](),
	reflect.TypeFor[*tickets.Policies]():      reflect.TypeFor[tickets.PoliciesAPI](),
	reflect.TypeFor[*tickets.Routing]():       reflect.TypeFor[tickets.RoutingAPI](),
	reflect.TypeFor[*tickets.Macros]():        reflect.TypeFor[tickets.MacrosAPI](),
	reflect.TypeFor[*tickets.Classifier]():    reflect.TypeFor[tickets.ClassifierAPI](),
	reflect.TypeFor[*tickets.KnowledgeBase](): reflect.TypeFor[tickets.KnowledgeBaseAPI](),
	reflect.TypeFor[*access.Service]():        reflect.TypeFor[access.AccessAPI](),
	reflect.TypeFor[*access.Users]():          reflect.TypeFor[access.UsersAPI](),
	reflect.TypeFor[*access.Teams]():          reflect.TypeFor[access.TeamsAPI](),
	reflect.TypeFor[*access.Roles]():          reflect.TypeFor[access.RolesAPI](),
	reflect.TypeFor[*analytics.Service]():     reflect.TypeFor[analytics.AnalyticsAPI](),
}

// missing returns the exported methods of svc that api lacks.
func missing(svc, api reflect.Type) []string {
	var out []string
	for m := range svc.Methods() {
		if _, ok := api.MethodByName(m.Name); !ok {
			out = append(out, m.Name)
		}
	}
	return out
}

// services returns the module services reachable from the exported
// fields of ty (a pointer to a struct) — c.Contacts, c.Access.Users —
// named by their path.
func services(path string, ty reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range ty.Elem().Fields() {
		ft := f.Type
		if !f.IsExported() || ft.Kind() != reflect.Pointer || ft.Elem().Kind() != reflect.Struct ||
			!strings.HasPrefix(ft.Elem().PkgPath(), "github.com/crmkit/crmkit/") {
			continue
		}
		if ft.NumMethod() > 0 {
			out[path+"."+f.Name] = ft
		}
		for p, t := range services(path+"."+f.Name, ft) {
			out[p] = t
		}
	}
	return out
}

// Every module service crm.CRM binds (and the services they hold, as
// c.Access.Users) has an interface, and every exported method of the
// service is in it: a method added to a service and not to its interface
// fails here, so the interfaces cannot drift.
func TestServiceInterfacesListEveryMethod(t *testing.T) {
	t.Parallel()
	bound := services("c", reflect.TypeFor[*crm.CRM]())
	require.Greater(t, len(bound), 20)
	for path, svc := range bound {
		api, ok := serviceAPIs[svc]
		require.True(t, ok, "%s (%s) has no interface: add one to its package's api.go and to serviceAPIs", path, svc)
		require.Empty(t, missing(svc, api), "%s (%s): methods missing from %s", path, svc, api)
		require.True(t, svc.Implements(api))
	}
	for svc := range serviceAPIs {
		found := false
		for _, b := range bound {
			found = found || b == svc
		}
		require.True(t, found, "%s is no service of crm.CRM", svc)
	}
}

type twoMethods struct{}

func (*twoMethods) Get(context.Context) error  { return nil }
func (*twoMethods) List(context.Context) error { return nil }

type oneMethod interface{ Get(context.Context) error }

// The check above finds a method missing from an interface.
func TestMissingFindsAMethodLeftOut(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"List"}, missing(reflect.TypeFor[*twoMethods](), reflect.TypeFor[oneMethod]()))
	require.Empty(t, missing(reflect.TypeFor[*contacts.Companies](), reflect.TypeFor[contacts.CompaniesAPI]()))
}
