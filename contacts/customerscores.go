package contacts

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// CustomerScore is one contact's RFM scores and churn risk: the input of
// SetCustomerScores, stored as the contact's Facts.Customer.
type CustomerScore struct {
	ContactID core.ID `json:"contact_id"`
	// R, F and M are quintiles, 1 to 5.
	R int `json:"r"`
	F int `json:"f"`
	M int `json:"m"`
	// Segment is one of RFMSegments.
	Segment string `json:"segment"`
	// PAlive is a probability, 0 to 1; nil when not known.
	PAlive  *float64 `json:"p_alive,omitempty"`
	Overdue bool     `json:"overdue"`
}

// CustomerScoresResult is what SetCustomerScores did.
type CustomerScoresResult struct {
	// Stored contacts got the scores given; Cleared contacts, absent from
	// the scores given, lost the scores they had.
	Stored  int64 `json:"stored"`
	Cleared int64 `json:"cleared"`
}

// customerScoreBatch is how many contacts one statement of
// SetCustomerScores writes (7 parameters each: 3,584 per statement, well
// below both databases' limits).
var customerScoreBatch = 512

// maxScoreProblems is how many problems a refused SetCustomerScores lists
// one by one; the rest are counted in one more entry.
const maxScoreProblems = 100

// clearCustomerScores is the SET list that removes a contact's customer
// scores (SetCustomerScores for the contacts left out, and erasure).
const clearCustomerScores = `rfm_r = NULL, rfm_f = NULL, rfm_m = NULL, rfm_segment = '', p_alive = NULL, churn_overdue = NULL,
	customer_scored_at = NULL`

// SetCustomerScores replaces the tenant's stored customer scores with
// scores, all computed as of asOf (the end of the observation they
// describe, kept as CustomerFacts.ScoredAt): each contact listed gets its
// scores, and every other contact that has some loses them — a contact
// whose purchases were deleted keeps no stale segment. Passing no scores
// clears them all. It is
// one atomic change: in one transaction (or the caller's), in statements
// of 512 contacts in contact-id order, each writing its contacts and
// clearing the contacts between them, so readers see the old scores or
// the new, never a mix. On SQLite other writers wait for it.
//
// Restricted contacts (Restrict) are neither written nor cleared: their
// processing is restricted, and their scores stay as they were, as their
// lead score does. Erased contacts (consent.Service.Erase, which removes
// their scores) get none again: the profile is not rebuilt on the
// anonymous row, and an erasure that commits while scores are being
// stored still wins, since each statement checks the row it writes.
// Contacts that no longer exist are skipped. Like the
// other facts, scores do not change a contact's Version or UpdatedAt, and
// no event is emitted (as for SetPredictedScores: a refresh rewrites
// every customer).
//
// Bad input is core.ErrInvalid listing the problems (the first 100, and
// how many more): asOf zero or out of range, a nil or repeated contact
// id, R, F or M outside 1–5, a segment not in RFMSegments, a PAlive
// outside 0–1. Nothing is written then. Like SetPredictedScores it is a
// write over the tenant's contacts: an actor needs the update permission
// and to see every contact.
func (s *Scoring) SetCustomerScores(ctx context.Context, asOf time.Time, scores []CustomerScore) (_ CustomerScoresResult, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Scoring.SetCustomerScores")
	defer span.End(&err)

	var res CustomerScoresResult
	order, err := checkCustomerScores(asOf, scores)
	if err != nil {
		return res, err
	}
	g, err := check(ctx, s.sc, "contact", core.NilID, access.Update)
	if err != nil {
		return res, err
	}
	if !g.all() {
		return res, g.done(ctx, g.forbid("contact", core.NilID, access.Update, "set customer scores without seeing all contacts"))
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		res = CustomerScoresResult{}
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		types := q.D.Types()
		cast := func(token string) string { return "CAST(? AS " + types[token] + ")" }
		row := "(" + strings.Join([]string{cast("ID"), cast("BIGINT"), cast("BIGINT"), cast("BIGINT"), "?", cast("FLOAT"), cast("BOOL")}, ", ") + ")"
		clear := `UPDATE crm_contacts SET ` + clearCustomerScores + `
			WHERE tenant_id = ? AND customer_scored_at IS NOT NULL AND NOT restricted AND id > ?`
		after := core.NilID
		args := make([]any, 0, 7*customerScoreBatch+2)
		ids := make([]core.ID, 0, customerScoreBatch)
		for len(order) > 0 {
			n := min(customerScoreBatch, len(order))
			chunk := order[:n]
			order = order[n:]
			args, ids = args[:0], ids[:0]
			for _, i := range chunk {
				sc := &scores[i]
				var pAlive any
				if sc.PAlive != nil {
					pAlive = *sc.PAlive
				}
				args = append(args, sc.ContactID, sc.R, sc.F, sc.M, sc.Segment, pAlive, sc.Overdue)
				ids = append(ids, sc.ContactID)
			}
			args = append(args, asOf, tenant)
			r, err := q.Exec(ctx, `WITH s (id, r, f, m, segment, p_alive, overdue) AS (VALUES `+row+strings.Repeat(", "+row, n-1)+`)
				UPDATE crm_contacts SET rfm_r = s.r, rfm_f = s.f, rfm_m = s.m, rfm_segment = s.segment, p_alive = s.p_alive,
					churn_overdue = s.overdue, customer_scored_at = ?
				FROM s WHERE crm_contacts.tenant_id = ? AND crm_contacts.id = s.id AND NOT crm_contacts.restricted
					AND NOT crm_contacts.erased`, args...)
			if err != nil {
				return err
			}
			stored, err := r.RowsAffected()
			if err != nil {
				return err
			}
			res.Stored += stored
			// The contacts after the previous chunk, up to this chunk's
			// last, that had scores and are not in the chunk.
			last := ids[len(ids)-1]
			r, err = q.Exec(ctx, clear+` AND id <= ? AND NOT (`+q.D.InList("id", "uuid")+`)`, tenant, after, last, q.D.IDsArg(ids))
			if err != nil {
				return err
			}
			cleared, err := r.RowsAffected()
			if err != nil {
				return err
			}
			res.Cleared += cleared
			after = last
		}
		r, err := q.Exec(ctx, clear, tenant, after)
		if err != nil {
			return err
		}
		cleared, err := r.RowsAffected()
		res.Cleared += cleared
		return err
	})
	if err != nil {
		return CustomerScoresResult{}, store.Wrap(err, "set customer scores")
	}
	return res, nil
}

// checkCustomerScores validates SetCustomerScores' input and returns the
// indexes of scores in contact-id order.
func checkCustomerScores(asOf time.Time, scores []CustomerScore) ([]int32, error) {
	v := &core.ValidationError{}
	more := 0
	add := func(field, format string, args ...any) {
		if len(v.Fields) < maxScoreProblems {
			v.Add(field, format, args...)
		} else {
			more++
		}
	}
	if asOf.IsZero() {
		add("as_of", "is required")
	} else {
		v.CheckTime("as_of", asOf)
	}
	if len(scores) > math.MaxInt32 {
		return nil, core.Invalid("scores", "holds more than %d scores", math.MaxInt32)
	}
	order := make([]int32, len(scores))
	for i := range scores {
		order[i] = int32(i)
		sc := &scores[i]
		f := fmt.Sprintf("scores[%d]", i)
		if sc.ContactID == core.NilID {
			add(f+".contact_id", "is required")
		}
		for _, x := range []struct {
			name  string
			score int
		}{{"r", sc.R}, {"f", sc.F}, {"m", sc.M}} {
			if x.score < 1 || x.score > 5 {
				add(f+"."+x.name, "must be between 1 and 5 (contact %s)", sc.ContactID)
			}
		}
		if !slices.Contains(RFMSegments, sc.Segment) {
			add(f+".segment", "is not an RFM segment (one of %s; contact %s)", strings.Join(RFMSegments, ", "), sc.ContactID)
		}
		if p := sc.PAlive; p != nil && !(*p >= 0 && *p <= 1) {
			add(f+".p_alive", "must be between 0 and 1 (contact %s)", sc.ContactID)
		}
	}
	byID := func(a, b int32) int { return bytes.Compare(scores[a].ContactID[:], scores[b].ContactID[:]) }
	if !slices.IsSortedFunc(order, byID) {
		slices.SortStableFunc(order, byID)
	}
	for k := 1; k < len(order); k++ {
		if a, b := order[k-1], order[k]; byID(a, b) == 0 && scores[a].ContactID != core.NilID {
			add(fmt.Sprintf("scores[%d].contact_id", b), "repeats the contact of scores[%d] (%s)", a, scores[a].ContactID)
		}
	}
	if more > 0 {
		v.Add("scores", "have %d more problems", more)
	}
	return order, v.Err()
}
