package analytics

import (
	"cmp"
	"context"
	"database/sql"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Model is an attribution model: how a won deal's revenue is shared
// among its touchpoints.
type Model string

// Attribution models (HubSpot's definitions).
const (
	// FirstTouch gives everything to the earliest touchpoint.
	FirstTouch Model = "first_touch"
	// LastTouch gives everything to the latest touchpoint.
	LastTouch Model = "last_touch"
	// Linear shares equally among the touchpoints.
	Linear Model = "linear"
	// UShaped gives 40% to the first touch, 40% to the lead-creation touch
	// and spreads 20% over the others.
	UShaped Model = "u_shaped"
	// WShaped gives 30% each to the first touch, the lead-creation touch
	// and the deal-creation touch and spreads 10% over the others.
	WShaped Model = "w_shaped"
	// TimeDecay weights each touchpoint 2^(-age/half-life), age being the
	// time from the touch to the win.
	TimeDecay Model = "time_decay"
)

// Models lists every attribution model.
var Models = []Model{FirstTouch, LastTouch, Linear, UShaped, WShaped, TimeDecay}

// None is the channel and campaign of revenue without a touchpoint (a deal
// without contact, or whose contact has no activity with a channel before
// the win), and the campaign of touches without one.
const None = "(none)"

// DefaultHalfLife is TimeDecay's half-life when AttributionOptions leaves
// it zero.
const DefaultHalfLife = 7 * 24 * time.Hour

// AttributionOptions select the deals and the model of Attribution.
type AttributionOptions struct {
	// Period (both ends required) selects the deals won in it (their
	// ClosedOn day).
	Period Period
	// PipelineID narrows the deals to one pipeline; zero: every pipeline.
	PipelineID core.ID
	// Model is the attribution model; default Linear.
	Model Model
	// HalfLife is TimeDecay's half-life; default DefaultHalfLife (7
	// days); negative is invalid.
	HalfLife time.Duration
}

// Attribution is the won revenue of a period shared among channels and
// campaigns by one model. Per currency, the amounts of Channels add up
// exactly to Revenue, and so do those of Campaigns.
type Attribution struct {
	Period   Period        `json:"period"`
	Model    Model         `json:"model"`
	HalfLife time.Duration `json:"half_life,omitempty"`
	// Revenue is the won revenue per currency, Deals the deals won.
	Revenue []core.Money `json:"revenue"`
	Deals   int64        `json:"deals"`
	// Channels and Campaigns are the credit per channel (campaign) and
	// currency, by currency then name.
	Channels  []Credit `json:"channels"`
	Campaigns []Credit `json:"campaigns"`
}

// Credit is the revenue a model credits to one channel or campaign, in one
// currency.
type Credit struct {
	Name   string     `json:"name"`
	Amount core.Money `json:"amount"`
	// Deals counts the won deals that credited it anything; Touches the
	// touchpoints that named it (credited or not: first touch credits
	// only one of a deal's touches).
	Deals   int64 `json:"deals"`
	Touches int64 `json:"touches"`
}

// touch is one touchpoint of a won deal.
type touch struct {
	at                time.Time
	channel, campaign string
}

// wonDeal is a won deal with its touchpoints, oldest first.
type wonDeal struct {
	id               core.ID
	amount           int64 // storage units
	currency         string
	closedAt         time.Time
	createdAt        time.Time
	contactCreatedAt time.Time
	touches          []touch
}

// Attribution shares the revenue of the deals won in the period among the
// touchpoints of each deal's contact — the contact's activities at or
// before the win that carry a channel — by o.Model. One SQL query streams
// the deals with their touchpoints; the weighting is done here, deal by
// deal, so memory holds one deal's touchpoints at a time.
//
// A touchpoint's channel is its activity's properties.channel, else
// properties.utm_source (a host's own classification wins over a raw UTM
// tag); its campaign is properties.campaign, else properties.utm_campaign,
// else None. Empty strings count as missing. Activities of every kind
// count.
//
// Each deal's amount is shared in the currency's minor unit (in 1/10,000
// units when the amount is finer), by largest remainder: every share is
// rounded down, and the units left go one each to the largest remainders,
// ties to the name first in byte order. So every deal is credited exactly
// its amount, and per currency the credits add up exactly to the revenue.
func (s *Service) Attribution(ctx context.Context, o AttributionOptions) (_ *Attribution, err error) {
	ctx, span := s.sc.Span(ctx, "analytics.Attribution")
	defer span.End(&err)

	g, err := s.guard(ctx)
	if err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	o.Period.checkRequired(v)
	switch o.Model {
	case "":
		o.Model = Linear
	case FirstTouch, LastTouch, Linear, UShaped, WShaped, TimeDecay:
	default:
		v.Add("model", "%q is not one of first_touch, last_touch, linear, u_shaped, w_shaped, time_decay", o.Model)
	}
	switch {
	case o.HalfLife < 0:
		v.Add("half_life", "must be positive")
	case o.HalfLife == 0:
		o.HalfLife = DefaultHalfLife
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	q := s.sc.Q()
	if o.PipelineID != core.NilID {
		if err := pipelineExists(ctx, q, tenant, o.PipelineID); err != nil {
			return nil, err
		}
	}
	a := newAttributor(o)
	err = s.eachWonDeal(ctx, g, tenant, o, func(d *wonDeal) { a.add(d) })
	if err != nil {
		return nil, store.Wrap(err, "attribution")
	}
	return a.result(), nil
}

// attributionSQL returns the query streaming the won deals of o with their
// touchpoints (one row per touchpoint, one row with NULLs for a deal
// without), ordered by deal then time.
func attributionSQL(s *Service, g *guard, tenant string, o AttributionOptions) (string, []any) {
	d := s.sc.Q().D
	channel := "COALESCE(NULLIF(" + d.JSONText("a.properties", "channel") + ", ''), NULLIF(" + d.JSONText("a.properties", "utm_source") + ", ''))"
	campaign := "COALESCE(NULLIF(" + d.JSONText("a.properties", "campaign") + ", ''), NULLIF(" + d.JSONText("a.properties", "utm_campaign") + ", ''))"
	where, args := "", []any{tenant, o.Period.From.String(), o.Period.To.String()}
	if o.PipelineID != core.NilID {
		where, args = " AND d.pipeline_id = ?", append(args, o.PipelineID)
	}
	vis, vargs := g.deals("d")
	where, args = where+vis, append(args, vargs...)
	// The contact's creation is a role of the U- and W-shaped models
	// only, and the times and the touchpoints' order matter to every
	// model but the linear one: the others are spared the join, the sort
	// and the times (SQLite's driver parses each).
	times, contacts, order := "d.closed_at, d.created_at, NULL, a.occurred_at", "", "d.id, a.occurred_at, a.id"
	switch o.Model {
	case UShaped, WShaped:
		times = "d.closed_at, d.created_at, c.created_at, a.occurred_at"
		contacts = `
		LEFT JOIN crm_contacts c ON c.tenant_id = d.tenant_id AND c.id = d.contact_id`
	case Linear:
		times, order = "NULL, NULL, NULL, NULL", "d.id"
	}
	return `SELECT d.id, d.amount, d.currency, ` + times + `, ` + channel + `, ` + campaign + `
		FROM crm_deals d` + contacts + `
		LEFT JOIN crm_activities a ON a.tenant_id = d.tenant_id AND a.contact_id = d.contact_id
			AND a.occurred_at <= d.closed_at AND ` + channel + ` IS NOT NULL
		WHERE d.tenant_id = ? AND d.status = 'won' AND d.closed_on >= ? AND d.closed_on < ?` + where + `
		ORDER BY ` + order, args
}

// eachWonDeal streams the won deals of o with their touchpoints to fn.
func (s *Service) eachWonDeal(ctx context.Context, g *guard, tenant string, o AttributionOptions, fn func(*wonDeal)) error {
	query, args := attributionSQL(s, g, tenant, o)
	rows, err := s.sc.Q().PlanPerCall().Query(ctx, query, args...)
	if err != nil {
		return err
	}
	var cur *wonDeal
	err = store.EachRow(rows, func(r store.Scanner) error {
		var id core.ID
		var amount int64
		var currency string
		var closedAt, createdAt, contactCreated, at sql.NullTime
		var channel, campaign sql.NullString
		if err := r.Scan(&id, &amount, &currency, &closedAt, &createdAt, &contactCreated, &at, &channel, &campaign); err != nil {
			return err
		}
		if cur == nil || cur.id != id {
			if cur != nil {
				fn(cur)
			}
			cur = &wonDeal{id: id, amount: amount, currency: currency, closedAt: closedAt.Time, createdAt: createdAt.Time, contactCreatedAt: contactCreated.Time}
		}
		if channel.Valid { // a touchpoint joined: its channel is never NULL
			t := touch{at: at.Time, channel: channel.String, campaign: None}
			if campaign.Valid {
				t.campaign = campaign.String
			}
			cur.touches = append(cur.touches, t)
		}
		return nil
	})
	if err == nil && cur != nil {
		fn(cur)
	}
	return err
}

// attributor accumulates the credits of deals.
type attributor struct {
	o         AttributionOptions
	revenue   map[string]int64
	deals     int64
	channels  map[creditKey]*creditSum
	campaigns map[creditKey]*creditSum
}

type creditKey struct{ currency, name string }

type creditSum struct {
	units          int64 // storage units
	deals, touches int64
}

func newAttributor(o AttributionOptions) *attributor {
	return &attributor{o: o, revenue: map[string]int64{}, channels: map[creditKey]*creditSum{}, campaigns: map[creditKey]*creditSum{}}
}

// add credits one deal.
func (a *attributor) add(d *wonDeal) {
	a.deals++
	a.revenue[d.currency] += d.amount
	w := weights(a.o.Model, a.o.HalfLife, d)
	channel := func(t touch) string { return t.channel }
	campaign := func(t touch) string { return t.campaign }
	for _, x := range []struct {
		into map[creditKey]*creditSum
		name func(touch) string
	}{{a.channels, channel}, {a.campaigns, campaign}} {
		names, shares, touches := group(d, w, x.name)
		units := allocate(d.amount, d.currency, names, shares)
		for i, name := range names {
			k := creditKey{d.currency, name}
			c := x.into[k]
			if c == nil {
				c = &creditSum{}
				x.into[k] = c
			}
			c.units += units[i]
			c.touches += touches[i]
			if units[i] != 0 {
				c.deals++
			}
		}
	}
}

// group sums the weights of d's touchpoints by name (None for a deal
// without touchpoints), names in byte order.
func group(d *wonDeal, w []float64, name func(touch) string) (names []string, shares []float64, touches []int64) {
	if len(d.touches) == 0 {
		return []string{None}, []float64{1}, []int64{0}
	}
	for i, t := range d.touches {
		n := name(t)
		j := slices.Index(names, n) // a deal has a few names: no map
		if j < 0 {
			j = len(names)
			names, shares, touches = append(names, n), append(shares, 0), append(touches, 0)
		}
		shares[j] += w[i]
		touches[j]++
	}
	perm := make([]int, len(names))
	for i := range perm {
		perm[i] = i
	}
	slices.SortFunc(perm, func(i, j int) int { return strings.Compare(names[i], names[j]) })
	n2, s2, t2 := make([]string, len(perm)), make([]float64, len(perm)), make([]int64, len(perm))
	for i, p := range perm {
		n2[i], s2[i], t2[i] = names[p], shares[p], touches[p]
	}
	return n2, s2, t2
}

// weights returns the weight of each of d's touchpoints under model (they
// need not add up to 1: allocate normalises).
//
// U- and W-shaped give each role (first touch; lead creation: the touch
// nearest the contact's creation, the earlier of two equally near; deal
// creation: the touch nearest the deal's creation, likewise) its share; a
// touch holding several roles gets their shares added. The rest's share is
// spread equally over the touches holding no role; when every touch holds
// one, there is no rest and the role shares are scaled up to the whole
// (so one touch gets 100%, two distinct touches 50% each).
func weights(model Model, halfLife time.Duration, d *wonDeal) []float64 {
	n := len(d.touches)
	w := make([]float64, n)
	if n == 0 {
		return w
	}
	switch model {
	case FirstTouch:
		w[0] = 1
	case LastTouch:
		w[n-1] = 1
	case Linear:
		for i := range w {
			w[i] = 1
		}
	case TimeDecay:
		h := halfLife.Seconds()
		for i, t := range d.touches {
			age := d.closedAt.Sub(t.at).Seconds()
			if age < 0 {
				age = 0
			}
			w[i] = math.Exp2(-age / h)
		}
		// Touches far older than the half-life underflow to 0; the
		// newest touch then carries the deal.
		if sum(w) == 0 {
			w[n-1] = 1
		}
	case UShaped:
		roles(w, d, []int{0, nearest(d.touches, d.contactCreatedAt)}, []float64{0.4, 0.4}, 0.2)
	case WShaped:
		roles(w, d, []int{0, nearest(d.touches, d.contactCreatedAt), nearest(d.touches, d.createdAt)}, []float64{0.3, 0.3, 0.3}, 0.1)
	}
	return w
}

// roles fills w: each role's touch gets the role's share, the rest share
// goes equally to the touches without a role (see weights).
func roles(w []float64, d *wonDeal, holders []int, shares []float64, rest float64) {
	held := make([]bool, len(w))
	for i, h := range holders {
		w[h] += shares[i]
		held[h] = true
	}
	others := 0
	for _, h := range held {
		if !h {
			others++
		}
	}
	if others == 0 {
		return
	}
	for i, h := range held {
		if !h {
			w[i] = rest / float64(others)
		}
	}
}

// nearest is the index of the touch nearest to t, the earlier of two
// equally near.
func nearest(ts []touch, t time.Time) int {
	best, bestD := 0, time.Duration(math.MaxInt64)
	for i, x := range ts {
		dist := x.at.Sub(t)
		if dist < 0 {
			dist = -dist
		}
		if dist < bestD {
			best, bestD = i, dist
		}
	}
	return best
}

func sum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}

// allocate shares amount (storage units) in proportion to shares, in the
// currency's minor unit when amount is a whole number of them (else in
// storage units), by largest remainder with ties to the earlier name
// (names are in byte order). The result adds up exactly to amount.
func allocate(amount int64, currency string, names []string, shares []float64) []int64 {
	out := make([]int64, len(shares))
	total := sum(shares)
	if len(shares) == 1 || total <= 0 {
		out[0] = amount
		return out
	}
	unit := int64(1)
	if minor := pow10(int(4 - core.CurrencyDecimals(currency))); minor > 0 && amount%minor == 0 {
		unit = minor
	}
	units := amount / unit // may be negative: a refund shares like revenue
	sign := int64(1)
	if units < 0 {
		sign, units = -1, -units
	}
	type rem struct {
		i int
		r float64
	}
	rems := make([]rem, len(shares))
	var given int64
	for i, sh := range shares {
		exact := float64(units) * sh / total
		f := math.Floor(exact)
		out[i] = int64(f)
		given += out[i]
		rems[i] = rem{i, exact - f}
	}
	// Remainders equal in exact arithmetic can differ in the last bits
	// (43,684,600 units in fifteenths: 5/15 left .333333334, 2/15
	// .333333333), which would decide the tie by rounding noise: closer
	// than the error a product of units carries, they are a tie.
	eps := math.Max(1e-9, float64(units)*1e-14)
	slices.SortStableFunc(rems, func(a, b rem) int {
		if math.Abs(a.r-b.r) > eps {
			return cmp.Compare(b.r, a.r)
		}
		return strings.Compare(names[a.i], names[b.i])
	})
	// Floating error can leave the floors a unit off either way; the
	// correction keeps the sum exact.
	for k := 0; given < units; k++ {
		out[rems[k%len(rems)].i]++
		given++
	}
	for k := len(rems) - 1; given > units; k-- {
		i := rems[(k%len(rems)+len(rems))%len(rems)].i
		if out[i] > 0 {
			out[i]--
			given--
		}
	}
	for i := range out {
		out[i] *= unit * sign
	}
	return out
}

func pow10(n int) int64 {
	if n < 0 {
		return 0
	}
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// result sorts the credits into an Attribution.
func (a *attributor) result() *Attribution {
	out := &Attribution{Period: a.o.Period, Model: a.o.Model, Deals: a.deals, Revenue: []core.Money{}, Channels: credits(a.channels), Campaigns: credits(a.campaigns)}
	if a.o.Model == TimeDecay {
		out.HalfLife = a.o.HalfLife
	}
	for c, units := range a.revenue {
		out.Revenue = append(out.Revenue, store.MoneyFromStorage(units, c))
	}
	sort.Slice(out.Revenue, func(i, j int) bool { return out.Revenue[i].Currency < out.Revenue[j].Currency })
	return out
}

func credits(m map[creditKey]*creditSum) []Credit {
	out := make([]Credit, 0, len(m))
	for k, c := range m {
		out = append(out, Credit{Name: k.name, Amount: store.MoneyFromStorage(c.units, k.currency), Deals: c.deals, Touches: c.touches})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Amount.Currency != out[j].Amount.Currency {
			return out[i].Amount.Currency < out[j].Amount.Currency
		}
		return out[i].Name < out[j].Name
	})
	return out
}
