package pipeline

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/internal/store"
)

// LeadModel is a tenant's trained lead-scoring model: logistic regression
// of "the contact has a won deal" on the contact's features, learnt from
// the tenant's own history.
type LeadModel struct {
	// Features name the inputs, in the order of Weights.
	Features []string  `json:"features"`
	Weights  []float64 `json:"weights"`
	Bias     float64   `json:"bias"`
	// Means and Stds standardise the features.
	Means []float64 `json:"means"`
	Stds  []float64 `json:"stds"`
	// WindowDays is how far back activities count.
	WindowDays int          `json:"window_days"`
	Metrics    ModelMetrics `json:"metrics"`
	TrainedAt  time.Time    `json:"trained_at"`
	Version    int64        `json:"version"`
}

// ModelMetrics judge a model on the holdout contacts it did not learn from.
type ModelMetrics struct {
	TrainRows   int `json:"train_rows"`
	HoldoutRows int `json:"holdout_rows"`
	Positives   int `json:"positives"`
	// AUC is the chance a random buyer scores above a random non-buyer:
	// 0.5 is guessing, 1 is perfect.
	AUC float64 `json:"auc"`
	// Brier is the mean squared error of the probabilities (lower is
	// better).
	Brier float64 `json:"brier"`
	// Calibration compares predicted and observed rates in ten bins of
	// predicted probability (empty bins left out).
	Calibration []CalibrationBin `json:"calibration"`
}

// CalibrationBin is one bin of a calibration table.
type CalibrationBin struct {
	From      float64 `json:"from"`
	To        float64 `json:"to"`
	Predicted float64 `json:"predicted"`
	Observed  float64 `json:"observed"`
	Count     int     `json:"count"`
}

// TrainOptions tune training.
type TrainOptions struct {
	// HoldoutPercent of the contacts (chosen by id, so the same ones each
	// time) are kept out of training to measure the model (default 20).
	HoldoutPercent int
	// MinPositives is how many contacts with a won deal training needs, in
	// the training and in the holdout part each (default 20).
	MinPositives int
	// WindowDays: activities of the last WindowDays count (default 90).
	WindowDays int
	// MaxRows bounds the contacts kept in memory for training (a uniform
	// sample beyond it; default 500,000).
	MaxRows int
}

// Prediction is a contact's predicted chance to buy and why.
type Prediction struct {
	Probability float64 `json:"probability"`
	// Score is Probability in whole percent.
	Score int64 `json:"score"`
	// Reasons are the features that moved the prediction most, strongest
	// first (at most five).
	Reasons []Contribution `json:"reasons"`
}

// Contribution is one feature's part in a prediction: its value and how
// much it raised (positive) or lowered the log-odds against an average
// contact.
type Contribution struct {
	Feature string  `json:"feature"`
	Value   float64 `json:"value"`
	Effect  float64 `json:"effect"`
}

// ErrTooFewWins is returned (wrapping core.ErrInvalid) when a tenant's
// history has too few won deals to learn from.
var ErrTooFewWins = fmt.Errorf("%w: too few contacts with won deals to train a lead model", core.ErrInvalid)

// TrainLeadModel learns the tenant's lead model from its contacts (a
// contact with a won deal is a positive), measures it on a holdout part,
// stores it (the next version) and emits "lead_model.trained". With fewer
// than MinPositives buyers in either part it returns ErrTooFewWins and
// keeps the current model. Training reads every contact once, keeping at
// most MaxRows in memory.
//
// Features are taken as of now, so activity after a deal was won counts
// too: a model of "who buys", not a forecast at the time of the lead.
//
// Training reads every contact and deal of the tenant: an actor needs the
// pipeline manage permission.
func (s *Deals) TrainLeadModel(ctx context.Context, opts TrainOptions) (_ *LeadModel, err error) {
	ctx, span := s.sc.Span(ctx, "pipeline.Deals.TrainLeadModel")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "lead_model", core.NilID, access.Manage); err != nil {
		return nil, err
	}
	if opts.HoldoutPercent == 0 {
		opts.HoldoutPercent = 20
	}
	if opts.MinPositives == 0 {
		opts.MinPositives = 20
	}
	if opts.WindowDays == 0 {
		opts.WindowDays = 90
	}
	if opts.MaxRows == 0 {
		opts.MaxRows = 500_000
	}
	v := &core.ValidationError{}
	if opts.HoldoutPercent < 5 || opts.HoldoutPercent > 50 {
		v.Add("holdout_percent", "must be between 5 and 50")
	}
	if opts.WindowDays < 1 || opts.WindowDays > 3650 || opts.MinPositives < 1 || opts.MaxRows < 100 {
		v.Add("options", "window_days must be 1-3650, min_positives positive, max_rows at least 100")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	defs, err := fields.Module.Service(s.sc).List(ctx, contacts.EntityContact)
	if err != nil {
		return nil, err
	}
	now := s.sc.Runtime().Now()
	fs := newFeatureSet(defs, opts.WindowDays)

	// Read once; reservoir-sample each part to at most its share of MaxRows.
	rng := rand.New(rand.NewPCG(1, 2))
	var train, test []row
	seen := [2]int{}
	keep := func(part *[]row, i int, limit int, r row) {
		seen[i]++
		if len(*part) < limit {
			*part = append(*part, r)
		} else if j := rng.IntN(seen[i]); j < limit {
			(*part)[j] = r
		}
	}
	testLimit := max(1, opts.MaxRows*opts.HoldoutPercent/100)
	err = fs.scan(ctx, s.sc.Q(), tenant, now, func(string) string { return "1 = 1" }, nil, func(r row) error {
		if holdout(r.id, opts.HoldoutPercent) {
			keep(&test, 1, testLimit, r)
		} else {
			keep(&train, 0, opts.MaxRows-testLimit, r)
		}
		return nil
	})
	if err != nil {
		return nil, store.Wrap(err, "train lead model")
	}
	positives := func(rows []row) int {
		n := 0
		for _, r := range rows {
			if r.label {
				n++
			}
		}
		return n
	}
	pTrain, pTest := positives(train), positives(test)
	if pTrain < opts.MinPositives || pTest < opts.MinPositives || len(train)-pTrain < opts.MinPositives || len(test)-pTest < opts.MinPositives {
		return nil, fmt.Errorf("%w (training: %d of %d contacts, holdout: %d of %d; %d needed in each, and as many without)",
			ErrTooFewWins, pTrain, len(train), pTest, len(test), opts.MinPositives)
	}

	m := fit(fs.names, train)
	m.WindowDays = opts.WindowDays
	m.Metrics = evaluate(m, test)
	m.Metrics.TrainRows, m.Metrics.Positives = len(train), pTrain+pTest

	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		q := tx.Q()
		var version int64
		err := q.QueryRow(ctx, `SELECT version FROM crm_lead_models WHERE tenant_id = ?`+q.D.LockRows(), tenant).Scan(&version)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		m.Version, m.TrainedAt = version+1, tx.Runtime().Now()
		raw := store.JSON(m)
		if version == 0 {
			_, err = q.Exec(ctx, `INSERT INTO crm_lead_models (tenant_id, model, trained_at, version) VALUES (?, ?, ?, ?)`, tenant, string(raw), m.TrainedAt, m.Version)
		} else {
			_, err = q.Exec(ctx, `UPDATE crm_lead_models SET model = ?, trained_at = ?, version = ? WHERE tenant_id = ?`, string(raw), m.TrainedAt, m.Version, tenant)
		}
		if err != nil {
			return err
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventLeadModelTrained, SubjectType: "lead_model", SubjectID: core.NilID,
			Data: store.JSON(LeadModelTrained{Version: m.Version, Metrics: m.Metrics})})
	})
	if err != nil {
		return nil, store.Wrap(err, "train lead model")
	}
	return m, nil
}

// fit learns standardised logistic regression with a little L2
// regularisation by full-batch gradient descent: deterministic, and fast
// enough for the few features a lead model has.
func fit(names []string, rows []row) *LeadModel {
	k := len(names)
	m := &LeadModel{Features: names, Weights: make([]float64, k), Means: make([]float64, k), Stds: make([]float64, k)}
	for _, r := range rows {
		for j, v := range r.x {
			m.Means[j] += v
		}
	}
	n := float64(len(rows))
	for j := range m.Means {
		m.Means[j] /= n
	}
	for _, r := range rows {
		for j, v := range r.x {
			d := v - m.Means[j]
			m.Stds[j] += d * d
		}
	}
	for j := range m.Stds {
		m.Stds[j] = math.Sqrt(m.Stds[j] / n)
		if m.Stds[j] < 1e-9 {
			m.Stds[j] = 1 // a constant feature: its weight stays 0
		}
	}
	z := make([]float64, k)
	grad := make([]float64, k)
	const rate, l2, steps = 0.5, 1e-3, 400
	for step := 0; step < steps; step++ {
		clear(grad)
		gb := 0.0
		for _, r := range rows {
			m.standardize(r.x, z)
			p := m.prob(z)
			y := 0.0
			if r.label {
				y = 1
			}
			for j := range z {
				grad[j] += (p - y) * z[j]
			}
			gb += p - y
		}
		for j := range m.Weights {
			m.Weights[j] -= rate * (grad[j]/n + l2*m.Weights[j])
		}
		m.Bias -= rate * gb / n
	}
	return m
}

func (m *LeadModel) standardize(x, z []float64) {
	for j, v := range x {
		z[j] = (v - m.Means[j]) / m.Stds[j]
	}
}

func (m *LeadModel) prob(z []float64) float64 {
	t := m.Bias
	for j, w := range m.Weights {
		t += w * z[j]
	}
	return 1 / (1 + math.Exp(-t))
}

// evaluate measures m on rows: AUC (by ranks, ties averaged), Brier score
// and a ten-bin calibration table.
func evaluate(m *LeadModel, rows []row) ModelMetrics {
	type scored struct {
		p float64
		y bool
	}
	z := make([]float64, len(m.Features))
	s := make([]scored, len(rows))
	met := ModelMetrics{HoldoutRows: len(rows)}
	bins := make([]CalibrationBin, 10)
	for i, r := range rows {
		m.standardize(r.x, z)
		s[i] = scored{m.prob(z), r.label}
		y := 0.0
		if r.label {
			y = 1
		}
		met.Brier += (s[i].p - y) * (s[i].p - y)
		b := min(int(s[i].p*10), 9)
		bins[b].Predicted += s[i].p
		bins[b].Observed += y
		bins[b].Count++
	}
	met.Brier /= float64(len(rows))
	for i, b := range bins {
		if b.Count == 0 {
			continue
		}
		b.From, b.To = float64(i)/10, float64(i+1)/10
		b.Predicted /= float64(b.Count)
		b.Observed /= float64(b.Count)
		met.Calibration = append(met.Calibration, b)
	}
	sort.Slice(s, func(i, j int) bool { return s[i].p < s[j].p })
	var rankSum, pos float64
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j].p == s[i].p {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1 … j
		for k := i; k < j; k++ {
			if s[k].y {
				rankSum += avg
				pos++
			}
		}
		i = j
	}
	neg := float64(len(s)) - pos
	met.AUC = (rankSum - pos*(pos+1)/2) / (pos * neg)
	return met
}

// LeadModel returns the tenant's trained model, or core.ErrNotFound.
func (s *Deals) LeadModel(ctx context.Context) (_ *LeadModel, err error) {
	ctx, span := s.sc.Span(ctx, "pipeline.Deals.LeadModel")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if _, err := check(ctx, s.sc, "lead_model", core.NilID, access.Read); err != nil {
		return nil, err
	}
	m, err := loadLeadModel(ctx, s.sc.Q(), tenant)
	return m, store.Wrap(err, "lead model")
}

// cachedLeadModel is the tenant's model, nil when none was trained, kept
// per tenant for the runtime's SettingsTTL (store.Cached) when s is bound
// to a transaction (the hooks that predict again after a change). The
// model is shared: callers must not change it.
func (s *Deals) cachedLeadModel(ctx context.Context, tenant string) (*LeadModel, error) {
	load := func() (*LeadModel, error) {
		m, err := loadLeadModel(ctx, s.sc.Q(), tenant)
		if errors.Is(err, core.ErrNotFound) {
			return nil, nil
		}
		return m, err
	}
	tx := s.sc.Tx()
	if tx == nil {
		return load()
	}
	return store.CacheOf[*LeadModel](tx.Runtime(), "pipeline.lead_model", EventLeadModelTrained).Get(tx, tenant, load)
}

func loadLeadModel(ctx context.Context, q store.Q, tenant string) (*LeadModel, error) {
	var raw []byte
	err := q.QueryRow(ctx, `SELECT model FROM crm_lead_models WHERE tenant_id = ?`, tenant).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no lead model has been trained", core.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var m LeadModel
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decode lead model: %w", err)
	}
	return &m, nil
}

// PredictLead returns the contact's predicted chance to buy under the
// tenant's model, with the features that moved it most. An actor needs
// the pipeline read permission and to see the contact (the contacts
// module's access: a contact hidden from them is ErrNotFound).
func (s *Deals) PredictLead(ctx context.Context, contactID core.ID) (_ *Prediction, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Deals.PredictLead", contactID)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	g, err := check(ctx, s.sc, "contact", contactID, access.Read)
	if err != nil {
		return nil, err
	}
	if !g.trusted() {
		if _, err := contacts.Module.Contacts(s.sc).Get(ctx, contactID); err != nil {
			return nil, err
		}
	}
	q := s.sc.Q()
	m, err := loadLeadModel(ctx, q, tenant)
	if err != nil {
		return nil, store.Wrap(err, "predict lead")
	}
	fs, err := s.features(ctx, m)
	if err != nil {
		return nil, err
	}
	var out *Prediction
	err = fs.scan(ctx, q, tenant, s.sc.Runtime().Now(), func(col string) string { return col + " = ?" }, []any{contactID}, func(r row) error {
		out = m.predict(r.x)
		return nil
	})
	if err == nil && out == nil {
		err = core.NotFound("contact", contactID)
	}
	return out, store.Wrap(err, "predict lead")
}

func (m *LeadModel) predict(x []float64) *Prediction {
	z := make([]float64, len(x))
	m.standardize(x, z)
	p := m.prob(z)
	pred := &Prediction{Probability: p, Score: int64(math.Round(p * 100))}
	for j, w := range m.Weights {
		if e := w * z[j]; math.Abs(e) > 1e-9 {
			pred.Reasons = append(pred.Reasons, Contribution{Feature: m.Features[j], Value: x[j], Effect: e})
		}
	}
	slices.SortFunc(pred.Reasons, func(a, b Contribution) int {
		return -cmpFloat(math.Abs(a.Effect), math.Abs(b.Effect))
	})
	if len(pred.Reasons) > 5 {
		pred.Reasons = pred.Reasons[:5]
	}
	return pred
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ScoreLeads predicts every contact of the tenant with its model and stores
// the percentages (contacts.Facts.PredictedScore, filterable as
// "predicted_score"), in writes of 1,000 contacts. It returns how many it
// scored. It writes every contact's score: an actor needs the pipeline
// manage permission (and the contacts module's, which stores them).
func (s *Deals) ScoreLeads(ctx context.Context) (_ int64, err error) {
	ctx, span := s.sc.Span(ctx, "pipeline.Deals.ScoreLeads")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return 0, err
	}
	if _, err := check(ctx, s.sc, "lead_model", core.NilID, access.Manage); err != nil {
		return 0, err
	}
	m, err := loadLeadModel(ctx, s.sc.Q(), tenant)
	if err != nil {
		return 0, store.Wrap(err, "score leads")
	}
	fs, err := s.features(ctx, m)
	if err != nil {
		return 0, err
	}
	now := s.sc.Runtime().Now()
	q := s.sc.Q()
	var n int64
	after := core.NilID
	for {
		// The next 1,000 contacts.
		rng, err := store.NextIDRange(ctx, q, "crm_contacts", tenant, after, 1000)
		if err != nil {
			return n, store.Wrap(err, "score leads")
		}
		var batch []contacts.PredictedScore
		err = fs.scan(ctx, q, tenant, now, rng.SQL, rng.Args(), func(r row) error {
			batch = append(batch, contacts.PredictedScore{ContactID: r.id, Score: m.predict(r.x).Score})
			return nil
		})
		if err != nil {
			return n, store.Wrap(err, "score leads")
		}
		if err := contacts.Module.Scoring(s.sc).SetPredictedScores(ctx, batch); err != nil {
			return n, err
		}
		n += int64(len(batch))
		if rng.Final {
			return n, nil
		}
		after = rng.Last
	}
}

// predictAgain updates one contact's predicted score, if the tenant has a
// model.
func (s *Deals) predictAgain(ctx context.Context, contactID core.ID) error {
	tenant, _ := s.sc.Tenant()
	m, err := s.cachedLeadModel(ctx, tenant)
	if err != nil || m == nil {
		return err
	}
	fs, err := s.features(ctx, m)
	if err != nil {
		return err
	}
	var batch []contacts.PredictedScore
	err = fs.scan(ctx, s.sc.Q(), tenant, s.sc.Runtime().Now(), func(col string) string { return col + " = ?" }, []any{contactID}, func(r row) error {
		batch = append(batch, contacts.PredictedScore{ContactID: r.id, Score: m.predict(r.x).Score})
		return nil
	})
	if err != nil {
		return err
	}
	return contacts.Module.Scoring(s.sc).SetPredictedScores(ctx, batch)
}
