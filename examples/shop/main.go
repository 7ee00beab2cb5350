// Command shop is a small web shop backend that embeds crmkit in its own
// database. It shows the three things a shop asks of a CRM:
//
//   - an order and the CRM's record of the purchase commit together: the
//     order handler begins a transaction, writes the shop's own row
//     (shop_orders) and tracks the purchase in crmkit inside it (WithTx),
//     so a purchase crmkit refuses leaves no order behind, and no order is
//     ever missing from the CRM;
//   - a cart that waits too long gets a reminder mail: an automation rule
//     waits (-remind-after), and if the cart is still open sends an
//     automated campaign's mail over SMTP, to customers who agreed to
//     cart reminders;
//   - a customer page: lifetime value (crmkit's analytics) and timeline.
//
// Run it on an SQLite file, or on PostgreSQL with -dsn (or SHOP_DSN), with
// an SMTP server to catch the mail (Mailpit or MailHog listen on 1025):
//
//	go run ./examples/shop -remind-after 10s
//	go run ./examples/shop -dsn 'postgres://postgres@127.0.0.1:5432/shop?sslmode=disable'
//
//	curl -d '{"email":"ada@example.com","first_name":"Ada","total":"49.90","currency":"EUR","reminders":true}' localhost:8080/cart
//	curl -d '{"email":"ada@example.com","first_name":"Ada","total":"49.90","currency":"EUR"}' localhost:8080/orders
//	curl localhost:8080/customers/<customer_id from the answer>
//
// Leave the order out, and Ada gets the reminder ten seconds after her
// cart. The first run sets the CRM up (the rule keeps that run's
// -remind-after). Set SHOP_SECRET (32 bytes or more) to keep the mail's
// unsubscribe links valid across restarts.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run serves the shop until ctx ends.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("shop", flag.ContinueOnError)
	dsn := flags.String("dsn", envOr("SHOP_DSN", "file:shop.db"), "the shop's database: an SQLite file or postgres://… (env SHOP_DSN)")
	addr := flags.String("addr", "localhost:8080", "address to serve HTTP on")
	publicURL := flags.String("public-url", "https://shop.example", "the shop's public https address (behind a TLS proxy), for unsubscribe links")
	smtpAddr := flags.String("smtp", "localhost:1025", "SMTP server (host:port) the shop's mail goes to")
	remindAfter := flags.Duration("remind-after", time.Hour, "how long a cart waits before its reminder")
	if err := flags.Parse(args); err != nil {
		return err
	}
	smtpHost, smtpPort, err := net.SplitHostPort(*smtpAddr)
	if err != nil {
		return fmt.Errorf("-smtp: %w", err)
	}
	port, err := strconv.Atoi(smtpPort)
	if err != nil {
		return fmt.Errorf("-smtp: %w", err)
	}

	// The shop owns the database: crmkit's tables (crm_*, river_*) live
	// beside the shop's own.
	db, err := crm.OpenDB(ctx, crm.Config{DSN: *dsn})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.NewCreateTable().Model((*order)(nil)).IfNotExists().Exec(ctx); err != nil {
		return err
	}
	// The secret signs the unsubscribe links in the mail: keep it across
	// restarts. Without one crmkit picks a random secret, and the links of
	// mail sent before a restart stop working.
	var secret []byte
	if v := os.Getenv("SHOP_SECRET"); v != "" {
		secret = []byte(v) // at least 32 bytes
	}
	c, err := crm.New(db, crm.Config{Secret: secret, Campaigns: campaigns.Options{
		Mailer:         &campaigns.SMTP{Host: smtpHost, Port: port, TLS: "opportunistic", Timeout: 10 * time.Second},
		UnsubscribeURL: *publicURL + "/unsubscribe",
	}})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Migrate(ctx); err != nil {
		return err
	}
	if err := setUp(ctx, c, *remindAfter); err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil { // workers: the rule's waits and the mail
		return err
	}

	s := &shop{db: db, crm: c}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "shop listening on http://%s\n", ln.Addr())
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// Let the requests under way finish before the CRM and the database
	// close.
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// order is a row of the shop's own table.
type order struct {
	bun.BaseModel `bun:"table:shop_orders"`

	ID         int64     `bun:"id,pk,autoincrement"`
	Email      string    `bun:"email,notnull"`
	TotalMinor int64     `bun:"total_minor,notnull"` // cents
	Currency   string    `bun:"currency,notnull"`
	CreatedAt  time.Time `bun:"created_at,notnull"`
}

// The CRM's settings for cart reminders.
const (
	purposeReminders = "cart_reminders"
	reminderCampaign = "Cart reminder"
	cartOpen         = "cart_open" // a contact attribute: a cart is waiting
)

// setUp gives a new CRM what the shop needs: a consent purpose, the
// reminder mail, and the rule that sends it. A CRM that has them (a
// restart) is left as it is.
func setUp(ctx context.Context, c *crm.CRM, remindAfter time.Duration) error {
	if _, err := c.Consent.Purpose(ctx, purposeReminders); err == nil {
		return nil
	} else if !errors.Is(err, core.ErrNotFound) {
		return err
	}
	return c.InTx(ctx, func(ctx context.Context, tx *crm.CRM) error {
		if _, err := tx.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: purposeReminders, Label: "Cart reminders",
			LegalBasis: consent.BasisConsent, Channels: []consent.Channel{consent.Email},
			Wording: "Remind me by email of a cart I left"}); err != nil {
			return err
		}
		tmpl, err := tx.Templates.Create(ctx, campaigns.NewTemplate{Name: "Cart reminder",
			Subject: "Your cart is waiting",
			HTML: `<p>Hello {{.Contact.FirstName | default "there"}},</p>
<p>you left something in your cart. It is still there for you.</p>
<p><a href="{{.UnsubscribeURL}}">No more reminders</a></p>`})
		if err != nil {
			return err
		}
		camp, err := tx.Campaigns.Create(ctx, campaigns.NewCampaign{Name: reminderCampaign, Kind: campaigns.Automated,
			TemplateID: tmpl.ID, Purpose: purposeReminders, FromName: "The Shop", FromAddress: "hello@shop.example"})
		if err != nil {
			return err
		}
		if _, err := tx.Campaigns.Start(ctx, camp.ID, camp.Version); err != nil {
			return err
		}
		// A cart event waits; if the cart is still open then (no order
		// closed it), the reminder goes.
		_, err = tx.Automation.Rules.Create(ctx, automation.Rule{Name: "Abandoned cart", Enabled: true,
			Triggers:  []string{contacts.EventActivityTracked},
			Condition: automation.Condition{Event: filter.Eq("data.name", "cart_updated")},
			Actions: []automation.Action{
				{Type: automation.ActionWait, For: remindAfter.String()},
				{Type: automation.ActionBranch, If: &automation.Condition{Contact: filter.Eq("attributes."+cartOpen, true)},
					Then: []automation.Action{{Type: campaigns.ActionSendEmail,
						Params: json.RawMessage(`{"campaign": "` + reminderCampaign + `"}`)}}},
			}})
		return err
	})
}

type shop struct {
	db  *bun.DB
	crm *crm.CRM
}

func (s *shop) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cart", s.cart)
	mux.HandleFunc("POST /orders", s.placeOrder)
	mux.HandleFunc("GET /customers/{id}", s.customer)
	mux.HandleFunc("GET /unsubscribe/{token}", confirmUnsubscribe)
	mux.HandleFunc("POST /unsubscribe/{token}", s.unsubscribe)
	return mux
}

// basket is what the shop's front end posts to /cart and /orders.
type basket struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	Total     string `json:"total"`
	Currency  string `json:"currency"`
	Reminders bool   `json:"reminders"` // the customer ticked "remind me of my cart"
}

// cart records that the customer's cart changed, marks it open and, when
// they asked for it, their consent to reminders: one transaction.
func (s *shop) cart(w http.ResponseWriter, r *http.Request) {
	var in basket
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, "bad JSON", http.StatusBadRequest)
		return
	}
	var customer core.ID
	err := s.crm.InTx(r.Context(), func(ctx context.Context, tx *crm.CRM) error {
		a, err := tx.Contacts.Track(ctx, contacts.ByEmail(in.Email), contacts.NewActivity{
			Kind: contacts.KindWeb, Name: "cart_updated", Properties: map[string]any{"total": in.Total, "currency": in.Currency},
			CreateContact: &contacts.NewContact{FirstName: in.FirstName}})
		if err != nil {
			return err
		}
		customer = a.ContactID
		if in.Reminders {
			if _, err := tx.Consent.Grant(ctx, customer, purposeReminders, consent.Email, consent.Proof{Source: "cart"}); err != nil {
				return err
			}
		}
		return markCart(ctx, tx, customer, true)
	})
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"customer_id": customer})
}

// placeOrder writes the shop's order and crmkit's purchase in one
// transaction the shop began: both commit, or neither.
func (s *shop) placeOrder(w http.ResponseWriter, r *http.Request) {
	var in basket
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, "bad JSON", http.StatusBadRequest)
		return
	}
	total, err := core.NewMoney(in.Total, in.Currency)
	if err != nil {
		fail(w, err)
		return
	}
	minor, err := total.Minor()
	if err != nil {
		fail(w, err)
		return
	}
	ctx := r.Context()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		fail(w, err)
		return
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	o := &order{Email: in.Email, TotalMinor: minor, Currency: total.Currency, CreatedAt: time.Now().UTC()}
	if _, err := tx.NewInsert().Model(o).Returning("id").Exec(ctx); err != nil {
		fail(w, err)
		return
	}
	txc := s.crm.WithTx(tx) // crmkit's writes join the shop's transaction
	a, err := txc.Contacts.Track(ctx, contacts.ByEmail(in.Email), contacts.NewActivity{
		Kind: contacts.KindPurchase, IdempotencyKey: fmt.Sprintf("order-%d", o.ID),
		Purchase:      &contacts.Purchase{OrderID: strconv.FormatInt(o.ID, 10), Total: total},
		CreateContact: &contacts.NewContact{FirstName: in.FirstName}})
	if err != nil {
		fail(w, err) // the deferred Rollback drops the order too
		return
	}
	if err := markCart(ctx, txc, a.ContactID, false); err != nil {
		fail(w, err)
		return
	}
	if err := tx.Commit(); err != nil {
		fail(w, err)
		return
	}
	txc.Committed(ctx) // subscribers see crmkit's events now
	writeJSON(w, http.StatusCreated, map[string]any{"order_id": o.ID, "customer_id": a.ContactID})
}

// markCart sets or clears the contact's cart_open attribute, which the
// reminder rule reads when its wait is over.
func markCart(ctx context.Context, tx *crm.CRM, id core.ID, open bool) error {
	ct, err := tx.Contacts.Get(ctx, id)
	if err != nil {
		return err
	}
	if (ct.Attributes[cartOpen] == true) == open {
		return nil
	}
	var v any // nil removes the attribute
	if open {
		v = true
	}
	_, err = tx.Contacts.Update(ctx, id, contacts.ContactPatch{Version: ct.Version, Attributes: map[string]any{cartOpen: v}})
	return err
}

var customerPage = template.Must(template.New("customer").Parse(`<!doctype html>
<title>{{.Contact.Name}}</title>
<h1>{{.Contact.Name}}</h1>
<p>Orders: {{.Contact.Facts.PurchaseCount}}.
{{with .Value}}Lifetime value: {{template "money" .Total}}; expected in the next year: {{template "money" .ExpectedValue}}.{{else}}No purchase yet.{{end}}</p>
<h2>Timeline</h2>
<ul>
{{range .Timeline}}<li>{{.At.Format "2006-01-02 15:04"}} {{with .Activity}}{{.Kind}} {{.Name}}{{with .Purchase}}order {{.OrderID}}: {{template "money" .Total}}{{end}}{{end}}{{with .Event}}{{.Type}}{{end}}</li>
{{end}}</ul>
{{define "money"}}{{.Amount.StringFixed 2}} {{.Currency}}{{end}}`))

// customer shows a customer's lifetime value and timeline.
func (s *shop) customer(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := core.ParseID(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	ct, err := s.crm.Contacts.Get(ctx, id)
	if err != nil {
		fail(w, err)
		return
	}
	// Customer value is computed for every customer at once (the models
	// are fitted to all of them); the page shows this customer's row.
	cv, err := s.crm.Analytics.CustomerValue(ctx, analytics.CustomerValueOptions{Horizon: 365 * 24 * time.Hour})
	if err != nil {
		fail(w, err)
		return
	}
	var value *analytics.CustomerValueRow
	for i := range cv.Customers {
		if cv.Customers[i].ContactID == id {
			value = &cv.Customers[i]
		}
	}
	timeline, err := s.crm.Contacts.Timeline(ctx, id, contacts.TimelineOptions{Limit: 20})
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	err = customerPage.Execute(w, map[string]any{
		"Contact": ct, "Value": value, "Timeline": timeline.Items})
	if err != nil {
		log.Printf("shop: customer page: %v", err)
	}
}

var unsubscribeForm = template.Must(template.New("unsubscribe").Parse(`<!doctype html>
<form method="post"><button>Send me no more cart reminders</button></form>
`))

// confirmUnsubscribe answers the link in a reminder mail with a button:
// mail scanners follow links, people press buttons.
func confirmUnsubscribe(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = unsubscribeForm.Execute(w, nil)
}

// unsubscribe withdraws the consent to reminders: the button, or the mail
// program's one-click unsubscribe (RFC 8058), posts here.
func (s *shop) unsubscribe(w http.ResponseWriter, r *http.Request) {
	if _, err := s.crm.Consent.Unsubscribe(r.Context(), r.PathValue("token"), consent.Proof{Source: "unsubscribe_link"}); err != nil {
		fail(w, err)
		return
	}
	fmt.Fprintln(w, "You will get no more cart reminders.")
}

// fail answers an error: crmkit's sentinels say which status.
func fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, core.ErrInvalid):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case errors.Is(err, core.ErrNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
	case errors.Is(err, core.ErrConflict):
		http.Error(w, err.Error(), http.StatusConflict)
	default:
		log.Printf("shop: %v", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
