package pipeline_test

import (
	"context"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/pipeline"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// roundHalfAway rounds r to places decimals, half away from zero, with
// math/big: an independent check of crmkit's decimal arithmetic.
func roundHalfAway(r *big.Rat, places int) *big.Rat {
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil))
	x := new(big.Rat).Mul(r, scale)
	neg := x.Sign() < 0
	x.Abs(x)
	x.Add(x, big.NewRat(1, 2))
	q := new(big.Int).Quo(x.Num(), x.Denom())
	if neg {
		q.Neg(q)
	}
	return new(big.Rat).Quo(new(big.Rat).SetInt(q), scale)
}

func rat(d decimal.Decimal) *big.Rat { return d.Rat() }

func TestLineItemsAreExact(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		widget, err := b.products.Create(ctx, pipeline.NewProduct{SKU: "W-1", Name: "Widget", UnitPrice: eur("19.99"), TaxRate: dec("19")})
		require.NoError(t, err)
		_, err = b.products.Create(ctx, pipeline.NewProduct{SKU: "W-1", Name: "Again", UnitPrice: eur("1"), TaxRate: dec("0")})
		require.ErrorIs(t, err, core.ErrConflict)
		got, err := b.products.GetBySKU(ctx, "W-1")
		require.NoError(t, err)
		require.Equal(t, widget.ID, got.ID)

		d, err := b.deals.Create(ctx, pipeline.NewDeal{Title: "Order", Amount: eur("0")})
		require.NoError(t, err)

		// Bad lines: every problem listed, nothing written.
		usd := core.Money{Amount: dec("5"), Currency: "USD"}
		_, _, _, err = b.deals.SetLineItems(ctx, d.ID, d.Version, []pipeline.NewLineItem{
			{ProductID: &widget.ID, Quantity: dec("-1")},
			{Name: "Consulting", Quantity: dec("1"), UnitPrice: ptr(eur("100")), DiscountPercent: dec("120")},
			{Name: "Import", Quantity: dec("1"), UnitPrice: &usd},
			{Name: "Gift", Quantity: dec("1"), UnitPrice: ptr(eur("10")), DiscountAmount: dec("10.01")},
			{ProductID: ptr(core.NewID()), Quantity: dec("1")},
		})
		require.ErrorIs(t, err, core.ErrInvalid)
		for _, f := range []string{"items[0].quantity", "items[1].discount_percent", "items[2].unit_price", "items[3].discount_amount", "items[4].product_id"} {
			require.Contains(t, err.Error(), f)
		}
		same, err := b.deals.Get(ctx, d.ID)
		require.NoError(t, err)
		require.Equal(t, d.Version, same.Version)

		// Random lines: the deal's amount and totals are the exact sums of
		// the lines, each line rounded to the cent, checked with math/big.
		rng := rand.New(rand.NewPCG(7, 11))
		var items []pipeline.NewLineItem
		wantNet, wantTax := new(big.Rat), new(big.Rat)
		for i := 0; i < 40; i++ {
			qty := decimal.New(int64(rng.IntN(5000)+1), -int32(rng.IntN(3)))      // 0.01 … 5000
			price := decimal.New(int64(rng.IntN(1_000_000)), -int32(rng.IntN(5))) // up to 4 decimals
			pct := decimal.New(int64(rng.IntN(3001)), -2)                         // 0 … 30.00 %
			rate := []decimal.Decimal{dec("0"), dec("7"), dec("19"), dec("8.1")}[rng.IntN(4)]
			items = append(items, pipeline.NewLineItem{Name: "Line", Quantity: qty, UnitPrice: &core.Money{Amount: price, Currency: "EUR"},
				DiscountPercent: pct, TaxRate: &rate})
			gross := new(big.Rat).Mul(rat(qty), rat(price))
			net := new(big.Rat).Sub(gross, new(big.Rat).Quo(new(big.Rat).Mul(gross, rat(pct)), big.NewRat(100, 1)))
			net = roundHalfAway(net, 2)
			tax := roundHalfAway(new(big.Rat).Quo(new(big.Rat).Mul(net, rat(rate)), big.NewRat(100, 1)), 2)
			wantNet.Add(wantNet, net)
			wantTax.Add(wantTax, tax)
		}
		items = append(items, pipeline.NewLineItem{ProductID: &widget.ID, Quantity: dec("3")})
		wantNet.Add(wantNet, big.NewRat(5997, 100))                        // 3 × 19.99
		wantTax.Add(wantTax, roundHalfAway(big.NewRat(5997*19, 10000), 2)) // 19% of 59.97 = 11.3943 → 11.39

		deal, lines, totals, err := b.deals.SetLineItems(ctx, d.ID, d.Version, items)
		require.NoError(t, err)
		require.Len(t, lines, 41)
		require.Equal(t, wantNet.FloatString(2), totals.Net.Amount.StringFixed(2))
		require.Equal(t, wantTax.FloatString(2), totals.Tax.Amount.StringFixed(2))
		require.True(t, totals.Total.Amount.Equal(totals.Net.Amount.Add(totals.Tax.Amount)))
		require.True(t, deal.Amount.Amount.Equal(totals.Net.Amount), "the deal's amount is the net sum")
		require.Equal(t, "Widget", lines[40].Name)

		// Read back: the same lines, the same totals.
		back, backTotals, err := b.deals.LineItems(ctx, d.ID)
		require.NoError(t, err)
		require.Len(t, back, 41)
		require.True(t, backTotals.Total.Amount.Equal(totals.Total.Amount))
		for i := range back {
			require.True(t, back[i].Net.Amount.Equal(lines[i].Net.Amount))
			require.True(t, back[i].Quantity.Equal(lines[i].Quantity))
		}

		// With lines, the amount is computed, not set.
		_, err = b.deals.Update(ctx, d.ID, pipeline.DealPatch{Version: deal.Version, Amount: ptr(eur("1"))})
		require.ErrorIs(t, err, core.ErrInvalid)
		// Removing the lines keeps the last amount and allows setting it again.
		deal, _, _, err = b.deals.SetLineItems(ctx, d.ID, deal.Version, nil)
		require.NoError(t, err)
		require.Zero(t, deal.LineItems)
		_, err = b.deals.Update(ctx, d.ID, pipeline.DealPatch{Version: deal.Version, Amount: ptr(eur("1"))})
		require.NoError(t, err)
	})
}

type fixedRates map[string]decimal.Decimal

func (r fixedRates) Rate(_ context.Context, from, _ string) (decimal.Decimal, error) {
	return r[from], nil
}

func TestBoardForecastAndStats(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		p, err := b.pipelines.Default(ctx)
		require.NoError(t, err)
		qual, demo, proposal := p.Stages[0], p.Stages[1], p.Stages[2]
		create := func(title, amount, currency, owner, expected string, stage pipeline.Stage, commit bool) *pipeline.Deal {
			m, err := core.NewMoney(amount, currency)
			require.NoError(t, err)
			var day core.Date
			if expected != "" {
				day = core.MustDate(expected)
			}
			d, err := b.deals.Create(ctx, pipeline.NewDeal{Title: title, Amount: m, OwnerID: owner, ExpectedClose: day, StageID: stage.ID, Commit: commit})
			require.NoError(t, err)
			return d
		}
		b.clock.Jump(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
		a := create("A", "1000", "EUR", "ann", "2026-03-20", qual, false)  // 10%
		create("B", "2000.50", "EUR", "ann", "2026-03-31", proposal, true) // 50%, commit
		create("C", "333.33", "EUR", "bob", "2026-04-02", demo, false)     // 25%, Q2
		create("D", "500", "USD", "bob", "2026-03-01", demo, true)         // 25%, commit
		e := create("E", "800", "EUR", "bob", "2026-06-30", qual, false)   // to be won
		f := create("F", "120", "EUR", "ann", "2026-02-10", qual, false)   // to be lost
		create("G", "999", "EUR", "ann", "", qual, false)                  // no expected close
		b.clock.Jump(time.Date(2026, 3, 15, 9, 0, 0, 0, time.UTC))
		_, err = b.deals.Win(ctx, e.ID, e.Version)
		require.NoError(t, err)
		_, err = b.deals.Lose(ctx, f.ID, f.Version, "budget")
		require.NoError(t, err)

		board, err := b.deals.Board(ctx, p.ID, pipeline.BoardOptions{})
		require.NoError(t, err)
		require.Len(t, board.Columns, 4, "the open stages")
		require.Equal(t, int64(2), board.Columns[0].Count) // A, G
		require.Equal(t, "1999 EUR", board.Columns[0].Totals[0].String())
		require.Equal(t, int64(2), board.Columns[1].Count) // C, D
		require.Equal(t, "333.33 EUR", board.Columns[1].Totals[0].String())
		require.Equal(t, "500 USD", board.Columns[1].Totals[1].String())
		annBoard, err := b.deals.Board(ctx, p.ID, pipeline.BoardOptions{OwnerID: "ann", Closed: true})
		require.NoError(t, err)
		require.Len(t, annBoard.Columns, 6)
		require.Equal(t, int64(1), annBoard.Columns[5].Count, "F, lost")

		rows, err := b.deals.Forecast(ctx, pipeline.ForecastOptions{From: core.MustDate("2026-01-01"), To: core.MustDate("2026-07-01")})
		require.NoError(t, err)
		type row struct{ period, currency, won, weighted, best, commit string }
		var got []row
		for _, r := range rows {
			got = append(got, row{r.Period, r.Currency, r.Won.Amount.String(), r.Weighted.Amount.StringFixed(2), r.BestCase.Amount.String(), r.Commit.Amount.String()})
		}
		require.Equal(t, []row{
			{"2026-03", "EUR", "800", "1100.25", "3000.5", "2000.5"}, // won E; A 100 + B 1000.25
			{"2026-03", "USD", "0", "125.00", "500", "500"},
			{"2026-04", "EUR", "0", "83.33", "333.33", "0"}, // 25% of 333.33 = 83.3325
		}, got)

		q, err := b.deals.Forecast(ctx, pipeline.ForecastOptions{From: core.MustDate("2026-01-01"), To: core.MustDate("2026-07-01"), Period: pipeline.Quarter, ByOwner: true,
			Currency: "EUR", Rates: fixedRates{"USD": dec("0.9")}})
		require.NoError(t, err)
		got = nil
		for _, r := range q {
			got = append(got, row{r.Period + "/" + r.OwnerID, r.Currency, r.Won.Amount.String(), r.Weighted.Amount.StringFixed(2), r.BestCase.Amount.String(), r.Commit.Amount.String()})
		}
		require.Equal(t, []row{
			{"2026-Q1/ann", "EUR", "0", "1100.25", "3000.5", "2000.5"},
			{"2026-Q1/bob", "EUR", "800", "112.50", "450", "450"}, // D in EUR: 500 × 0.9
			{"2026-Q2/bob", "EUR", "0", "83.33", "333.33", "0"},
		}, got)
		_, err = b.deals.Forecast(ctx, pipeline.ForecastOptions{From: core.MustDate("2026-07-01"), To: core.MustDate("2026-01-01"), Period: "week"})
		require.ErrorIs(t, err, core.ErrInvalid)
		require.Contains(t, err.Error(), "to must be after from")
		require.Contains(t, err.Error(), "period")

		st, err := b.deals.Stats(ctx, pipeline.StatsOptions{From: core.MustDate("2026-03-01"), To: core.MustDate("2026-04-01")})
		require.NoError(t, err)
		require.Equal(t, int64(1), st.Won)
		require.Equal(t, int64(1), st.Lost)
		require.Equal(t, 0.5, st.WinRate)
		require.Len(t, st.AverageDealSize, 1)
		require.Equal(t, "800 EUR", st.AverageDealSize[0].String())
		require.InDelta(t, (69 * 24 * time.Hour).Seconds(), st.AverageCycle.Seconds(), 1, "created Jan 5, won Mar 15")
		_ = a
	})
}
