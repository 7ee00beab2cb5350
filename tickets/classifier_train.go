package tickets

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Training the classifier: a model of each target from the tenant's
// solved and closed tickets, measured against a held-out share of them,
// stored in place of the active model.

// trainingSQL streams the training rows: every solved or closed ticket of
// the tenant, not merged into another, with a category or team, and the
// first customer message, in the order of their ids.
const trainingSQL = `SELECT t.id, t.subject, t.category, t.team, COALESCE((SELECT m.body FROM crm_ticket_messages m
		WHERE m.tenant_id = t.tenant_id AND m.ticket_id = t.id AND m.author_kind = 'customer' ORDER BY m.created_at, m.id LIMIT 1), '')
	FROM crm_tickets t
	WHERE t.tenant_id = ? AND t.status IN ('solved', 'closed') AND t.merged_into_id IS NULL AND (t.category <> '' OR t.team <> '')
	ORDER BY t.id`

// trainRow is one training ticket.
type trainRow struct {
	id                      core.ID
	subject, category, team string
	body                    string
}

// label returns the row's label of target ("" for none).
func (r *trainRow) label(target ClassifierTarget) string {
	if target == TargetTeam {
		return r.team
	}
	return r.category
}

// eachTrainingRow streams the training rows to fn, one at a time.
func eachTrainingRow(ctx context.Context, q store.Q, tenant string, fn func(r *trainRow) error) error {
	rows, err := q.Query(ctx, trainingSQL, tenant)
	if err != nil {
		return err
	}
	var r trainRow
	return store.EachRow(rows, func(s store.Scanner) error {
		if err := s.Scan(&r.id, &r.subject, &r.category, &r.team, &r.body); err != nil {
			return err
		}
		return fn(&r)
	})
}

// heldOut reports whether ticket id is in the held-out share (percent of
// 100), by an FNV-1a hash of its id.
func heldOut(id core.ID, percent int) bool {
	h := fnv.New64a()
	h.Write(id[:])
	return int(h.Sum64()%100) < percent
}

// training is the state of one target's training.
type training struct {
	target        ClassifierTarget
	train, hold   *counts
	all           *counts
	vocab         []string
	split         *nbModel
	calib         calibration
	confusion     map[[2]string]int64
	right, scored int64
	baseRight     int64
	majority      string
}

// Train learns a model of each target from the tenant's solved and closed
// tickets (not merged into another) that have one: the words (Tokenize)
// of the subject and of the first customer message, labelled with the
// ticket's category, or team. It holds out a share of the tickets (by a
// hash of their ids), measures a model trained on the rest against them
// (accuracy, confusion matrix, calibration), then stores the model of
// all of them, replacing the target's active model: the models of one
// training replace the old ones in one transaction. It emits
// "ticket_classifier.trained" for each model. A target with no such
// tickets, only one class, or no word in two tickets is skipped
// (TrainReport.Skipped); when every target is, the error is
// ErrNotEnoughData. It needs "tickets" manage.
//
// The tickets are read twice in one pass each, streamed: memory grows
// with the vocabulary and the number of classes, not with the tickets.
func (s *Classifier) Train(ctx context.Context, opts TrainOptions) (_ *TrainReport, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Classifier.Train")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "ticket_classifier", core.NilID, access.Manage); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	targets := slices.Clone(opts.Targets)
	if len(targets) == 0 {
		targets = slices.Clone(ClassifierTargets)
	}
	slices.Sort(targets)
	targets = slices.Compact(targets)
	for _, t := range targets {
		if !slices.Contains(ClassifierTargets, t) {
			v.Add("targets", "%q is not one of category, team", t)
		}
	}
	percent := opts.HoldoutPercent
	if percent == 0 {
		percent = DefaultHoldoutPercent
	}
	if percent < 1 || percent > 50 {
		v.Add("holdout_percent", "must be 1 to 50 (0: %d)", DefaultHoldoutPercent)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}

	runs := make([]*training, len(targets))
	for i, t := range targets {
		runs[i] = &training{target: t, train: newCounts(), hold: newCounts(), all: newCounts(), confusion: map[[2]string]int64{}}
	}
	q := s.sc.Q()
	// First pass: the counts of each share, and of all.
	seen := map[string]bool{}
	var tokens []string
	err = eachTrainingRow(ctx, q, tenant, func(r *trainRow) error {
		tokens = appendTokens(appendTokens(tokens[:0], r.subject), r.body)
		hold := heldOut(r.id, percent)
		for _, run := range runs {
			label := r.label(run.target)
			if label == "" {
				continue
			}
			if hold {
				run.hold.add(label, tokens, seen)
			} else {
				run.train.add(label, tokens, seen)
			}
			run.all.add(label, tokens, seen)
		}
		return nil
	})
	if err != nil {
		return nil, store.Wrap(err, "train ticket classifier")
	}
	report := &TrainReport{Models: []*ClassifierModel{}, Skipped: map[ClassifierTarget]string{}}
	var live []*training
	for _, run := range runs {
		if why := run.prepare(); why != "" {
			report.Skipped[run.target] = why
			continue
		}
		live = append(live, run)
	}
	if len(live) == 0 {
		var why []string
		for _, t := range targets {
			why = append(why, report.Skipped[t])
		}
		return nil, fmt.Errorf("%w: %s", ErrNotEnoughData, strings.Join(why, "; "))
	}
	// Second pass: the split model of each target labels the held-out
	// tickets.
	var buf []float64
	err = eachTrainingRow(ctx, q, tenant, func(r *trainRow) error {
		if !heldOut(r.id, percent) {
			return nil
		}
		tokens = appendTokens(appendTokens(tokens[:0], r.subject), r.body)
		for _, run := range live {
			if label := r.label(run.target); label != "" {
				buf = run.evaluate(label, tokens, buf)
			}
		}
		return nil
	})
	if err != nil {
		return nil, store.Wrap(err, "train ticket classifier")
	}
	type stored struct {
		model *ClassifierModel
		blob  []byte
	}
	var out []stored
	for _, run := range live {
		m, metrics := run.finish()
		blob, err := m.marshal()
		if err != nil {
			return nil, store.Wrap(err, "train ticket classifier")
		}
		out = append(out, stored{&ClassifierModel{Target: run.target, Metrics: metrics}, blob})
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		now := tx.Runtime().Now()
		for _, st := range out {
			m := st.model
			m.TrainedAt = now
			if err := tx.Q().QueryRow(ctx, `INSERT INTO crm_ticket_classifiers (tenant_id, target, version, trained_at, metrics, model)
				VALUES (?, ?, 1, ?, ?, ?)
				ON CONFLICT (tenant_id, target) DO UPDATE SET version = crm_ticket_classifiers.version + 1,
					trained_at = excluded.trained_at, metrics = excluded.metrics, model = excluded.model
				RETURNING version`, tenant, string(m.Target), now, string(store.JSON(m.Metrics)), string(st.blob)).Scan(&m.Version); err != nil {
				return err
			}
			if err := tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventClassifierTrained, SubjectType: "ticket_classifier",
				SubjectID: core.NilID, OccurredAt: now, Data: store.JSON(m)}); err != nil {
				return err
			}
			report.Models = append(report.Models, m)
		}
		return nil
	})
	if err != nil {
		return nil, store.Wrap(err, "train ticket classifier")
	}
	if len(report.Skipped) == 0 {
		report.Skipped = nil
	}
	return report, nil
}

// prepare checks what the first pass counted and builds the split model;
// it returns why the target cannot be trained, or "".
func (run *training) prepare() string {
	n := run.all.total()
	switch {
	case n == 0:
		return fmt.Sprintf("%s: no solved or closed ticket has one", run.target)
	case len(run.all.labels) < 2:
		return fmt.Sprintf("%s: all %d tickets have the one %s %q; a classifier needs two or more", run.target, n, run.target, run.all.labels[0])
	}
	run.vocab = vocabulary(run.all)
	if len(run.vocab) == 0 {
		return fmt.Sprintf("%s: no word occurs in %d of the %d tickets", run.target, minDocFreq, n)
	}
	run.split = build(run.all, run.train, run.vocab)
	// The majority class of the training share is the baseline.
	var most int64 = -1
	for _, l := range slices.Sorted(slices.Values(run.train.labels)) {
		if d := run.train.docs[run.train.classes[l]]; d > most {
			run.majority, most = l, d
		}
	}
	return ""
}

// evaluate labels one held-out ticket of class truth with the split
// model.
func (run *training) evaluate(truth string, tokens []string, buf []float64) []float64 {
	m := run.split
	run.scored++
	if truth == run.majority {
		run.baseRight++
	}
	buf, known := m.scores(tokens, buf)
	if known == 0 {
		run.confusion[[2]string{truth, ""}]++
		return buf
	}
	b := best(buf)
	run.confusion[[2]string{truth, m.Classes[b]}]++
	if m.Classes[b] == truth {
		run.right++
	}
	if k, ok := slices.BinarySearch(m.Classes, truth); ok {
		run.calib.add(buf, k)
	}
	return buf
}

// finish returns the model of all the tickets, calibrated, and the
// metrics.
func (run *training) finish() (*nbModel, ClassifierMetrics) {
	m := build(run.all, run.all, run.vocab)
	temp, loss := run.calib.fit()
	m.Temperature = temp
	met := ClassifierMetrics{Documents: run.all.total(), TrainDocuments: run.train.total(), HoldoutDocuments: run.hold.total(),
		Vocabulary: len(m.Words), Temperature: temp, Classes: make([]ClassCount, len(m.Classes)), Confusion: make([][]int64, len(m.Classes))}
	for i, l := range m.Classes {
		met.Classes[i] = ClassCount{Label: l}
		if k, ok := run.train.classes[l]; ok {
			met.Classes[i].Train = run.train.docs[k]
		}
		if k, ok := run.hold.classes[l]; ok {
			met.Classes[i].Holdout = run.hold.docs[k]
		}
		met.Confusion[i] = make([]int64, len(m.Classes))
		for j, p := range m.Classes {
			met.Confusion[i][j] = run.confusion[[2]string{l, p}]
		}
	}
	if run.scored > 0 {
		acc := float64(run.right) / float64(run.scored)
		base := float64(run.baseRight) / float64(run.scored)
		met.Accuracy, met.Baseline = &acc, &base
	}
	if !math.IsNaN(loss) {
		met.LogLoss = &loss
	}
	return m, met
}
