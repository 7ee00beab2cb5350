package analytics

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// PeriodicStoreScores names the workers' refresh of the stored scores
// (StoreScores for every tenant with contacts, daily by default): a key
// of crm.Config.Periodic, where a negative interval turns it off.
const PeriodicStoreScores = "customer_scores"

// StoreScoresOptions select the purchases StoreScores scores.
type StoreScoresOptions struct {
	// Period bounds the purchases read, as in RFMOptions and
	// ChurnOptions: From may be zero (all history), To, the end of
	// observation, zero for now.
	Period Period
	// OverdueFactor and MaxFit are ChurnOptions'.
	OverdueFactor float64
	MaxFit        int
}

// StoredScores is what StoreScores did.
type StoredScores struct {
	// AsOf is the end of observation, stored with the scores
	// (contacts.CustomerFacts.ScoredAt).
	AsOf time.Time `json:"as_of"`
	// Customers counts the purchasing contacts scored; Stored of them got
	// their scores (restricted and erased contacts, on which the contacts
	// module writes none, do not count), and Cleared contacts lost the
	// scores they had: no purchase in the period any more.
	Customers int64 `json:"customers"`
	Stored    int64 `json:"stored"`
	Cleared   int64 `json:"cleared"`
	// Purchases is the BG/NBD fit P(alive) comes from; nil when the data
	// do not determine one, and P(alive) is then stored as unknown.
	Purchases *BGNBD `json:"purchases,omitempty"`
}

// StoreScores computes every purchasing contact's RFM scores and segment
// (as RFM does) and churn risk (P(alive) and overdue, as Churn does) and
// stores them on the contacts through the contacts module
// (contacts.Scoring.SetCustomerScores), replacing the scores stored
// before: contacts without a purchase in the period any more lose theirs.
// Segments, rules and lists then filter by them ("rfm_segment",
// "churn_overdue", "p_alive", …; see contacts.CustomerFacts). The
// workers run it daily for every tenant (PeriodicStoreScores).
//
// The scores stored are the values RFM and Churn return for the same
// options and data, computed from one stream of the purchases (the
// summary query of CustomerValue and Churn) rather than RFM's and
// Churn's two queries: one read, one end of observation and one state of
// the data for both, and neither report's rows held in memory, only a
// compact row per customer. Ranked, fitted and sampled as those reports
// do, over the same contacts, so that the stored values equal theirs:
//
//   - R, F and M are RFM's quintiles per currency (ties by contact id);
//     the segment is SegmentOf(R, F).
//   - P(alive) is Churn's, except that when the data do not determine a
//     BG/NBD fit (Churn then reports 0 for everyone) it is stored as
//     unknown (nil), which no "p_alive" condition matches.
//   - Overdue is Churn's, under OverdueFactor.
//
// Contacts that were erased (consent.Service.Erase) are ranked with the
// others, as in the reports (their purchases stay, anonymous), but the
// contacts module stores no scores on them: erasure removed the profile,
// and a refresh does not build it again. Restricted contacts keep the
// scores they had. A contact with purchases in several currencies (the
// contacts module refuses them; rows written around it may have them)
// gets the scores of its first currency in code order.
//
// It needs "analytics" read; storing needs what the contacts module
// asks (update, and seeing every contact: the quintiles are ranked over
// the contacts the actor sees), checked after computing. Bad options are
// core.ErrInvalid listing each problem, before anything is read.
func (s *Service) StoreScores(ctx context.Context, o StoreScoresOptions) (_ *StoredScores, err error) {
	ctx, span := s.sc.Span(ctx, "analytics.StoreScores")
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
	o.Period.checkOptional(v)
	checkOverdueFactor(v, &o.OverdueFactor)
	checkMaxFit(v, &o.MaxFit)
	if err := v.Err(); err != nil {
		return nil, err
	}
	end := s.asOf(o.Period)
	var ps []purchaser
	err = s.eachPurchaser(ctx, g, tenant, o.Period.From, end, func(p purchaser) error {
		ps = append(ps, p)
		return nil
	})
	if err != nil {
		return nil, store.Wrap(err, "store scores")
	}
	rfm := rankRFM(ps)
	bg := fitPurchases(sample(ps, o.MaxFit))
	out := &StoredScores{AsOf: end, Purchases: bg}
	scores := make([]contacts.CustomerScore, 0, len(ps))
	var pAlive []float64
	if bg != nil {
		pAlive = make([]float64, 0, len(ps))
	}
	for i, p := range ps {
		if i > 0 && ps[i-1].contactID == p.contactID {
			continue // another currency of the contact
		}
		q := rfm[i]
		sc := contacts.CustomerScore{ContactID: p.contactID, R: int(q[0]), F: int(q[1]), M: int(q[2]),
			Segment: string(SegmentOf(int(q[0]), int(q[1]))),
			Overdue: overdue(p.count, p.daysSince(), p.meanGap(), o.OverdueFactor)}
		if bg != nil {
			pAlive = append(pAlive, finite(bg.pAlive(p.summary())))
			sc.PAlive = &pAlive[len(pAlive)-1]
		}
		scores = append(scores, sc)
	}
	out.Customers = int64(len(scores))
	res, err := contacts.Module.Scoring(s.sc).SetCustomerScores(ctx, end, scores)
	if err != nil {
		return nil, err
	}
	out.Stored, out.Cleared = res.Stored, res.Cleared
	return out, nil
}

// rankRFM returns the R, F and M quintiles of each of ps (in contact
// order), ranked as RFM ranks them: among the purchasers of the same
// currency, by the time of the last purchase, the number of purchases and
// their sum, ties in contact-id order, into NTILE(5)'s groups.
func rankRFM(ps []purchaser) [][3]int8 {
	out := make([][3]int8, len(ps))
	byCurrency := map[string][]int32{}
	for i, p := range ps {
		byCurrency[p.currency] = append(byCurrency[p.currency], int32(i)) // in contact order
	}
	type key struct {
		v int64
		i int32 // the purchaser's position in contact order: the tie-break
	}
	var keys []key
	for _, idx := range byCurrency {
		keys = slices.Grow(keys[:0], len(idx))[:len(idx)]
		for s, value := range []func(p *purchaser) int64{
			func(p *purchaser) int64 { return p.last },
			func(p *purchaser) int64 { return p.count },
			func(p *purchaser) int64 { return p.total },
		} {
			for k, i := range idx {
				keys[k] = key{value(&ps[i]), i}
			}
			slices.SortFunc(keys, func(a, b key) int {
				if c := cmp.Compare(a.v, b.v); c != 0 {
					return c
				}
				return cmp.Compare(a.i, b.i)
			})
			for k, x := range keys {
				out[x.i][s] = int8(ntile(k, len(keys)))
			}
		}
	}
	return out
}
