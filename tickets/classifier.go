package tickets

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// ClassifierTarget is what the classifier predicts of a ticket.
type ClassifierTarget string

// Targets of the classifier: each has a model of its own.
const (
	TargetCategory ClassifierTarget = "category"
	TargetTeam     ClassifierTarget = "team"
)

// ClassifierTargets lists the classifier's targets.
var ClassifierTargets = []ClassifierTarget{TargetCategory, TargetTeam}

// DefaultHoldoutPercent is the share of training tickets held out to
// measure a model when TrainOptions set none.
const DefaultHoldoutPercent = 20

// ErrNotEnoughData is the error of a training that found nothing to learn
// from: no target has solved or closed tickets of two classes or more. It
// is an ErrInvalid; its message says what each target lacks.
var ErrNotEnoughData = fmt.Errorf("%w: not enough training data", core.ErrInvalid)

// TrainOptions choose what Classifier.Train learns.
type TrainOptions struct {
	// Targets are the targets to train; empty trains both
	// (ClassifierTargets).
	Targets []ClassifierTarget
	// HoldoutPercent is the share of the training tickets, chosen by a
	// hash of their ids (the same tickets every time), held out of the
	// split model to measure it and calibrate its confidences: 1 to 50;
	// 0 is DefaultHoldoutPercent.
	HoldoutPercent int
}

// ClassCount is how many training tickets of one class each share had.
type ClassCount struct {
	Label   string `json:"label"`
	Train   int64  `json:"train"`
	Holdout int64  `json:"holdout"`
}

// ClassifierMetrics describe a trained model: what it learnt from and how
// well the model trained on the training share predicted the held-out
// share.
type ClassifierMetrics struct {
	// Documents are the training tickets (TrainDocuments +
	// HoldoutDocuments); the stored model learnt from all of them.
	Documents        int64 `json:"documents"`
	TrainDocuments   int64 `json:"train_documents"`
	HoldoutDocuments int64 `json:"holdout_documents"`
	// Vocabulary is the number of words the model knows.
	Vocabulary int `json:"vocabulary"`
	// Classes are the labels, sorted, with their counts.
	Classes []ClassCount `json:"classes"`
	// Accuracy is the share of held-out tickets the split model labelled
	// right; nil when none was held out.
	Accuracy *float64 `json:"accuracy"`
	// Baseline is the accuracy of always answering the most frequent
	// class of the training share: what Accuracy must beat. Nil when none
	// was held out.
	Baseline *float64 `json:"baseline"`
	// Confusion counts the held-out tickets by true class (rows) and
	// predicted class (columns), both in the order of Classes. A ticket
	// with no word the model knows is counted as predicted none, in no
	// column.
	Confusion [][]int64 `json:"confusion"`
	// Temperature is the calibration of the confidences (see the package
	// doc, "Classifier"); 1 when too few tickets were held out to fit it.
	Temperature float64 `json:"temperature"`
	// LogLoss is the mean negative log-likelihood of the held-out classes
	// at that temperature; nil when it was not fitted.
	LogLoss *float64 `json:"log_loss"`
}

// ClassifierModel is the tenant's active model of one target.
type ClassifierModel struct {
	Target ClassifierTarget `json:"target"`
	// Version counts the trainings of the target: each replaces the
	// model.
	Version   int64             `json:"version"`
	TrainedAt time.Time         `json:"trained_at"`
	Metrics   ClassifierMetrics `json:"metrics"`
}

// TrainReport is what Classifier.Train did.
type TrainReport struct {
	// Models are the models trained (and now active), by target.
	Models []*ClassifierModel `json:"models"`
	// Skipped says why a target asked for was not trained (its active
	// model, if any, stays).
	Skipped map[ClassifierTarget]string `json:"skipped,omitempty"`
}

// Prediction is the classifier's answer for one target.
type Prediction struct {
	Label string `json:"label"`
	// Confidence is the calibrated posterior probability of Label (see
	// the package doc, "Classifier"): 0 to 1.
	Confidence float64 `json:"confidence"`
	// ModelVersion is the version of the model that answered.
	ModelVersion int64 `json:"model_version"`
	// Applied is set on a ticket's suggestion when the label was given to
	// the ticket (the tenant's threshold was met).
	Applied bool `json:"applied,omitempty"`
}

// Suggestion is the classifier's category and team for a ticket's text.
// A nil prediction: the tenant has no model of that target, or the text
// has no word the model knows.
type Suggestion struct {
	Category *Prediction `json:"category,omitempty"`
	Team     *Prediction `json:"team,omitempty"`
}

// ClassifierSettings are the tenant's classifier settings.
type ClassifierSettings struct {
	// Threshold is the confidence at which a new ticket without a
	// category (team) is given the suggested one: 0 (off, the default) or
	// more than 0 up to 1.
	Threshold float64   `json:"threshold"`
	UpdatedAt time.Time `json:"updated_at"`
	// Version is 0 before the first SetSettings.
	Version int64 `json:"version"`
}

// ClassifierSettingsInput is what SetSettings takes: it replaces the
// settings.
type ClassifierSettingsInput struct {
	Threshold float64
}

// Classifier learns each tenant's categories and teams from its solved
// tickets and suggests them for new ones (c.Classifier).
type Classifier struct {
	sc store.Scope
}

func newClassifier(sc store.Scope) *Classifier { return &Classifier{sc: sc} }

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

// Models returns the tenant's active models (none before the first
// training), by target. It needs "tickets" read.
func (s *Classifier) Models(ctx context.Context) (_ []*ClassifierModel, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Classifier.Models")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "ticket_classifier", core.NilID, access.Read); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	rows, err := s.sc.Q().Query(ctx, `SELECT target, version, trained_at, metrics FROM crm_ticket_classifiers WHERE tenant_id = ? ORDER BY target`, tenant)
	if err != nil {
		return nil, store.Wrap(err, "list ticket classifier models")
	}
	out := []*ClassifierModel{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		m := &ClassifierModel{}
		var metrics []byte
		if err := r.Scan(&m.Target, &m.Version, &m.TrainedAt, &metrics); err != nil {
			return err
		}
		m.TrainedAt = m.TrainedAt.UTC()
		if err := json.Unmarshal(metrics, &m.Metrics); err != nil {
			return fmt.Errorf("decode metrics of the %s model: %w", m.Target, err)
		}
		out = append(out, m)
		return nil
	})
	return out, store.Wrap(err, "list ticket classifier models")
}

// Suggest returns the category and team the tenant's models give a
// ticket with subject and body (its first customer message), each with
// its confidence. A target without a model, or a text with no word its
// model knows, has no prediction (nil). It needs "tickets" read.
func (s *Classifier) Suggest(ctx context.Context, subject, body string) (_ *Suggestion, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Classifier.Suggest")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "ticket_classifier", core.NilID, access.Read); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	if !core.StorableText(subject) {
		v.Add("subject", "is not storable text (valid UTF-8 without NUL)")
	} else if len(subject) > MaxBodyLen {
		v.Add("subject", "is longer than %d bytes", MaxBodyLen)
	}
	if !core.StorableText(body) {
		v.Add("body", "is not storable text (valid UTF-8 without NUL)")
	} else if len(body) > MaxBodyLen {
		v.Add("body", "is longer than %d bytes", MaxBodyLen)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	models, err := loadModels(ctx, s.sc, s.sc.Q(), tenant)
	if err != nil {
		return nil, store.Wrap(err, "suggest ticket category and team")
	}
	return models.suggest(appendTokens(appendTokens(make([]string, 0, (len(subject)+len(body))/8+1), subject), body)), nil
}

// activeModels are a tenant's models as predicting needs them.
type activeModels map[ClassifierTarget]*cachedModel

// suggest predicts each target for tokens.
func (a activeModels) suggest(tokens []string) *Suggestion {
	out := &Suggestion{}
	for target, cm := range a {
		label, conf, ok := cm.model.predict(tokens)
		if !ok {
			continue
		}
		p := &Prediction{Label: label, Confidence: conf, ModelVersion: cm.version}
		if target == TargetTeam {
			out.Team = p
		} else {
			out.Category = p
		}
	}
	return out
}

// loadModels returns tenant's active models, read through q: the models'
// versions are looked up every time (another process may have trained),
// their contents decoded once per version and kept in the runtime's
// cache.
func loadModels(ctx context.Context, sc store.Scope, q store.Q, tenant string) (activeModels, error) {
	rows, err := q.Query(ctx, `SELECT target, version FROM crm_ticket_classifiers WHERE tenant_id = ?`, tenant)
	if err != nil {
		return nil, err
	}
	type ver struct {
		target  ClassifierTarget
		version int64
	}
	var vers []ver
	if err := store.EachRow(rows, func(r store.Scanner) error {
		var v ver
		err := r.Scan(&v.target, &v.version)
		vers = append(vers, v)
		return err
	}); err != nil {
		return nil, err
	}
	if len(vers) == 0 {
		return nil, nil
	}
	cache := optionsOf(sc).models
	out := activeModels{}
	for _, v := range vers {
		if cm := cache.get(tenant, v.target, v.version); cm != nil {
			out[v.target] = cm
			continue
		}
		var blob []byte
		cm := &cachedModel{}
		err := q.QueryRow(ctx, `SELECT version, model FROM crm_ticket_classifiers WHERE tenant_id = ? AND target = ?`, tenant, string(v.target)).
			Scan(&cm.version, &blob)
		if errors.Is(err, sql.ErrNoRows) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		if cm.model, err = unmarshalModel(blob); err != nil {
			return nil, fmt.Errorf("decode the %s model (version %d): %w", v.target, cm.version, err)
		}
		cache.put(tenant, v.target, cm)
		out[v.target] = cm
	}
	return out, nil
}

// cachedModel is a decoded model of one version.
type cachedModel struct {
	version int64
	model   *nbModel
}

// maxCachedModels bounds the models the cache holds (two per tenant).
const maxCachedModels = 256

// modelCache keeps the decoded models of one runtime, by tenant and
// target; a nil cache keeps nothing.
type modelCache struct {
	mu     sync.Mutex
	models map[string]*cachedModel
}

func newModelCache() *modelCache { return &modelCache{models: map[string]*cachedModel{}} }

func cacheKey(tenant string, target ClassifierTarget) string { return tenant + "\x00" + string(target) }

// get returns the cached model of tenant's target at version, or nil.
func (c *modelCache) get(tenant string, target ClassifierTarget, version int64) *cachedModel {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cm := c.models[cacheKey(tenant, target)]; cm != nil && cm.version == version {
		return cm
	}
	return nil
}

// put caches cm, evicting another model when the cache is full.
func (c *modelCache) put(tenant string, target ClassifierTarget, cm *cachedModel) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := cacheKey(tenant, target)
	if cur := c.models[key]; cur != nil && cur.version > cm.version {
		return
	}
	if _, ok := c.models[key]; !ok && len(c.models) >= maxCachedModels {
		for k := range c.models {
			delete(c.models, k)
			break
		}
	}
	c.models[key] = cm
}

// Settings returns the tenant's classifier settings (threshold 0,
// version 0 before the first SetSettings). It needs "tickets" read.
func (s *Classifier) Settings(ctx context.Context) (_ *ClassifierSettings, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Classifier.Settings")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "ticket_classifier", core.NilID, access.Read); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	set, err := readClassifierSettings(ctx, s.sc.Q(), tenant, false)
	return set, store.Wrap(err, "get ticket classifier settings")
}

// readClassifierSettings reads tenant's settings (locked when lock is
// set); the defaults when it has none.
func readClassifierSettings(ctx context.Context, q store.Q, tenant string, lock bool) (*ClassifierSettings, error) {
	query := `SELECT settings, updated_at, version FROM crm_ticket_classifier_settings WHERE tenant_id = ?`
	if lock {
		query += q.D.LockRows()
	}
	set := &ClassifierSettings{}
	var raw []byte
	err := q.QueryRow(ctx, query, tenant).Scan(&raw, &set.UpdatedAt, &set.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return &ClassifierSettings{}, nil
	}
	if err != nil {
		return nil, err
	}
	set.UpdatedAt = set.UpdatedAt.UTC()
	if err := json.Unmarshal(raw, set); err != nil {
		return nil, fmt.Errorf("decode ticket classifier settings: %w", err)
	}
	return set, nil
}

// SetSettings replaces the tenant's classifier settings if version is
// still theirs (0 before the first; stale is ErrConflict) and emits
// "ticket_classifier.updated". A threshold outside 0 to 1 is ErrInvalid.
// It needs "tickets" manage.
func (s *Classifier) SetSettings(ctx context.Context, version int64, in ClassifierSettingsInput) (_ *ClassifierSettings, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Classifier.SetSettings")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "ticket_classifier", core.NilID, access.Manage); err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	if version < 0 {
		v.Add("version", "must be 0 (no settings yet) or the version read")
	}
	if math.IsNaN(in.Threshold) || in.Threshold < 0 || in.Threshold > 1 {
		v.Add("threshold", "must be 0 (off) or more than 0 up to 1")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *ClassifierSettings
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		now := tx.Runtime().Now()
		cur, err := readClassifierSettings(ctx, q, tenant, true)
		if err != nil {
			return err
		}
		if cur.Version != version {
			return fmt.Errorf("%w: the ticket classifier settings are at version %d, not %d; read them again", core.ErrConflict, cur.Version, version)
		}
		set := &ClassifierSettings{Threshold: in.Threshold, UpdatedAt: now, Version: version + 1}
		raw := string(store.JSON(struct {
			Threshold float64 `json:"threshold"`
		}{set.Threshold}))
		if version == 0 {
			_, err = q.Exec(ctx, `INSERT INTO crm_ticket_classifier_settings (tenant_id, settings, updated_at, version) VALUES (?, ?, ?, ?)`,
				tenant, raw, now, set.Version)
		} else {
			_, err = q.Exec(ctx, `UPDATE crm_ticket_classifier_settings SET settings = ?, updated_at = ?, version = ? WHERE tenant_id = ? AND version = ?`,
				raw, now, set.Version, tenant, version)
		}
		if dialect.IsUniqueViolation(err) {
			return fmt.Errorf("%w: the ticket classifier settings were set concurrently; read them again", core.ErrConflict)
		}
		if err != nil {
			return err
		}
		out = set
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventClassifierUpdated, SubjectType: "ticket_classifier",
			SubjectID: core.NilID, OccurredAt: now, Data: store.JSON(out)})
	})
	if err != nil {
		return nil, store.Wrap(err, "set ticket classifier settings")
	}
	return out, nil
}

// classify runs on a ticket being created (in its transaction, before
// routing): it stores the suggestion of the tenant's models for the
// subject and the first message, when it is the customer's, on t, and —
// when the tenant's threshold is met — gives t the suggested category, if
// it has none, and the suggested team, if it has neither team nor
// assignee (and the team still exists). A tenant without models costs one
// indexed lookup.
func classify(ctx context.Context, sc store.Scope, tx *store.Tx, tenant string, t *Ticket, msg *NewMessage) error {
	q := tx.Q()
	models, err := loadModels(ctx, sc, q, tenant)
	if err != nil || len(models) == 0 {
		return err
	}
	tokens := appendTokens(nil, t.Subject)
	if msg != nil && msg.AuthorKind == AuthorCustomer {
		tokens = appendTokens(tokens, msg.Body)
	}
	sug := models.suggest(tokens)
	if sug.Category == nil && sug.Team == nil {
		return nil
	}
	t.Suggestion = sug
	set, err := readClassifierSettings(ctx, q, tenant, false)
	if err != nil || set.Threshold <= 0 {
		return err
	}
	if p := sug.Category; p != nil && t.Category == "" && p.Confidence >= set.Threshold && core.ValidCode(p.Label) {
		t.Category, p.Applied = p.Label, true
	}
	if p := sug.Team; p != nil && t.Team == "" && t.AssigneeID == "" && p.Confidence >= set.Threshold {
		ok, err := access.Module.TeamExists(ctx, q, tenant, p.Label)
		if err != nil {
			return err
		}
		if ok {
			t.Team, p.Applied = p.Label, true
		}
	}
	return nil
}

// suggestionColumn is s as stored on a ticket: JSON, or NULL.
func suggestionColumn(s *Suggestion) any {
	if s == nil {
		return nil
	}
	return string(store.JSON(s))
}
