package contacts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// ScoringRule gives points to a contact: a fit rule (When) for who the
// contact is, or an engagement rule (Activity) for what the contact did.
// Exactly one of When and Activity is set.
type ScoringRule struct {
	Name string `json:"name"`
	// Points may be negative (a competitor's domain, an unsubscribe).
	Points float64 `json:"points"`
	// When is a filter over the contact (the fields of List, custom fields
	// included): a contact that matches gets Points.
	When *filter.Expr `json:"when,omitempty"`
	// Activity gives Points for every activity of its kind (and name, when
	// set), halved every HalfLifeDays since it occurred.
	Activity *ActivityRule `json:"activity,omitempty"`
}

// ActivityRule selects activities: a kind, and optionally a name
// ("pricing_calculator_used") and property values.
type ActivityRule struct {
	Kind ActivityKind `json:"kind"`
	Name string       `json:"name,omitempty"`
	// Properties, when set, must all equal the activity's (as text):
	// {"plan": "pro"}.
	Properties map[string]string `json:"properties,omitempty"`
}

// ScoreThreshold moves a contact whose score reaches Score to Stage, if its
// lifecycle stage is earlier (stages never move back).
type ScoreThreshold struct {
	Score int64 `json:"score"`
	Stage Stage `json:"stage"`
}

// ScoringModel is a tenant's lead scoring: score = the points of the fit
// rules the contact matches + the decayed points of its activities, rounded
// to a whole number, + the points added with Scoring.Adjust.
type ScoringModel struct {
	Rules []ScoringRule `json:"rules"`
	// HalfLifeDays is how fast engagement fades: an activity counts half
	// after this many days (default 30).
	HalfLifeDays float64          `json:"half_life_days"`
	Thresholds   []ScoreThreshold `json:"thresholds,omitempty"`
	UpdatedAt    time.Time        `json:"updated_at"`
	// Version is 0 for a tenant without a model.
	Version int64 `json:"version"`
}

// Limits of scoring models.
const (
	MaxScoringRules = 100
	maxRulePoints   = 10000
)

// Scoring keeps the lead scores of one tenant's contacts (c.Scoring):
// Track rescores the contact it records an activity for; Rescore recomputes
// every contact (run it daily, engagement decays).
type Scoring struct {
	sc store.Scope
}

// newScoring returns the service for scope sc. Hosts use crm.CRM.Scoring.
func newScoring(sc store.Scope) *Scoring { return &Scoring{sc: sc} }

// Model returns the tenant's scoring model; Version 0 when none is set.
func (s *Scoring) Model(ctx context.Context) (_ *ScoringModel, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Scoring.Model")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if _, err := check(ctx, s.sc, "scoring_model", core.NilID, access.Read); err != nil {
		return nil, err
	}
	m, err := loadModel(ctx, s.sc.Q(), tenant)
	return m, store.Wrap(err, "scoring model")
}

// cachedModel is loadModel for writes in tx, kept per tenant for the
// runtime's SettingsTTL (store.Cached). The model is shared: callers must
// not change it.
func cachedModel(ctx context.Context, tx *store.Tx, tenant string) (*ScoringModel, error) {
	c := store.CacheOf[*ScoringModel](tx.Runtime(), "contacts.scoring_model", EventScoringModelChanged)
	return c.Get(tx, tenant, func() (*ScoringModel, error) { return loadModel(ctx, tx.Q(), tenant) })
}

func loadModel(ctx context.Context, q store.Q, tenant string) (*ScoringModel, error) {
	var raw []byte
	var updated time.Time
	var version int64
	err := q.QueryRow(ctx, `SELECT model, updated_at, version FROM crm_scoring_models WHERE tenant_id = ?`, tenant).Scan(&raw, &updated, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return &ScoringModel{HalfLifeDays: 30, Rules: []ScoringRule{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var m ScoringModel
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decode scoring model: %w", err)
	}
	m.UpdatedAt, m.Version = updated.UTC(), version
	return &m, nil
}

// SetModel replaces the tenant's model if version is still its version (0
// for the first model), and emits "scoring.model_changed". Scores change
// with the next Rescore.
func (s *Scoring) SetModel(ctx context.Context, version int64, m ScoringModel) (_ *ScoringModel, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Scoring.SetModel")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "scoring_model", core.NilID, access.Manage); err != nil {
		return nil, err
	}
	var out *ScoringModel
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		cur, err := loadModel(ctx, q, tenant)
		if err != nil {
			return err
		}
		if cur.Version != version {
			return fmt.Errorf("%w: the scoring model is at version %d, not %d; read it again", core.ErrConflict, cur.Version, version)
		}
		if m.HalfLifeDays == 0 {
			m.HalfLifeDays = 30
		}
		if err := checkModel(ctx, s.sc.WithTx(tx), &m); err != nil {
			return err
		}
		m.UpdatedAt = tx.Runtime().Now()
		m.Version = version + 1
		raw := store.JSON(ScoringModel{Rules: m.Rules, HalfLifeDays: m.HalfLifeDays, Thresholds: m.Thresholds})
		if version == 0 {
			_, err = q.Exec(ctx, `INSERT INTO crm_scoring_models (tenant_id, model, updated_at, version) VALUES (?, ?, ?, ?)`,
				tenant, string(raw), m.UpdatedAt, m.Version)
		} else {
			_, err = q.Exec(ctx, `UPDATE crm_scoring_models SET model = ?, updated_at = ?, version = ? WHERE tenant_id = ? AND version = ?`,
				string(raw), m.UpdatedAt, m.Version, tenant, version)
		}
		if dialect.IsUniqueViolation(err) {
			return fmt.Errorf("%w: the scoring model was set concurrently; read it again", core.ErrConflict)
		}
		if err != nil {
			return err
		}
		out = &m
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventScoringModelChanged, SubjectType: "scoring_model", SubjectID: core.NilID,
			OccurredAt: m.UpdatedAt, Data: store.JSON(out)})
	})
	if err != nil {
		return nil, store.Wrap(err, "set scoring model")
	}
	return out, nil
}

// checkModel checks m, reading the custom fields its rules may name in sc
// (the scope of SetModel's transaction).
func checkModel(ctx context.Context, sc store.Scope, m *ScoringModel) error {
	v := &core.ValidationError{}
	if len(m.Rules) > MaxScoringRules {
		v.Add("rules", "has more than %d rules", MaxScoringRules)
	}
	if m.HalfLifeDays < 0.01 || m.HalfLifeDays > 3650 {
		v.Add("half_life_days", "must be between 0.01 and 3650")
	}
	schema, err := schemaOf(ctx, sc, EntityContact)
	if err != nil {
		return err
	}
	for i := range m.Rules {
		r := &m.Rules[i]
		f := fmt.Sprintf("rules[%d]", i)
		r.Name = strings.TrimSpace(r.Name)
		if r.Name == "" {
			v.Add(f+".name", "is required")
		}
		v.CheckText(f+".name", r.Name, MaxNameLen)
		if math.IsNaN(r.Points) || math.Abs(r.Points) > maxRulePoints {
			v.Add(f+".points", "must be between -%d and %d", maxRulePoints, maxRulePoints)
		}
		switch {
		case (r.When == nil) == (r.Activity == nil):
			v.Add(f, "needs exactly one of when and activity")
		case r.When != nil:
			if err := schema.Check(*r.When); err != nil {
				v.Add(f+".when", "%s", strings.TrimPrefix(err.Error(), core.ErrInvalid.Error()+": "))
			}
		default:
			if !slices.Contains(ActivityKinds, r.Activity.Kind) {
				v.Add(f+".activity.kind", "%q is not an activity kind", r.Activity.Kind)
			}
			v.CheckText(f+".activity.name", r.Activity.Name, MaxActivityName)
			for k, val := range r.Activity.Properties {
				if !filter.ValidAttributeKey(k) || !core.StorableText(val) {
					v.Add(f+".activity.properties", "%q must be a key of lower-case letters, digits and _ with a text value", k)
				}
			}
		}
	}
	for i, t := range m.Thresholds {
		f := fmt.Sprintf("thresholds[%d]", i)
		if !slices.Contains(Stages, t.Stage) || t.Stage == StageOther {
			v.Add(f+".stage", "%q is not a lifecycle stage a score can reach", t.Stage)
		}
		if i > 0 && t.Score <= m.Thresholds[i-1].Score {
			v.Add(f+".score", "must be higher than the threshold before it")
		}
	}
	return v.Err()
}

// ScoreResult is what a Rescore did.
type ScoreResult struct {
	// Contacts were scored; Changed of them got a new score; Advanced
	// reached a threshold and moved to a later lifecycle stage.
	Contacts, Changed, Advanced int64
}

// rescoreBatch is how many contacts one Rescore transaction scores.
var rescoreBatch = 5000

// Rescore recomputes the score of every contact of the tenant, in SQL, in
// transactions of 5,000 contacts (memory stays flat, other writers wait at
// most one batch), and applies the thresholds.
func (s *Scoring) Rescore(ctx context.Context) (_ ScoreResult, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Scoring.Rescore")
	defer span.End(&err)

	var res ScoreResult
	tenant, err := s.sc.Tenant()
	if err != nil {
		return res, err
	}
	if _, err := check(ctx, s.sc, "scoring_model", core.NilID, access.Manage); err != nil {
		return res, err
	}
	m, err := loadModel(ctx, s.sc.Q(), tenant)
	if err != nil || m.Version == 0 {
		return res, store.Wrap(err, "rescore")
	}
	err = s.sc.InIDRanges(ctx, "crm_contacts", rescoreBatch, "rescore", func(ctx context.Context, sc store.Scope, batch store.IDRange) error {
		q := sc.Q()
		if batch.Final {
			var n int64
			if err := q.QueryRow(ctx, `SELECT count(*) FROM crm_contacts c WHERE c.tenant_id = ? AND c.id > ?`, tenant, batch.After).Scan(&n); err != nil {
				return err
			}
			res.Contacts += n
		} else {
			res.Contacts += int64(rescoreBatch)
		}
		changed, advanced, err := s.score(ctx, sc, m, batch.SQL("c.id"), batch.Args()...)
		res.Changed += changed
		res.Advanced += advanced
		return err
	})
	return res, err
}

// ScoreContact recomputes one contact's score now (Track does this for the
// contact of each activity).
func (s *Scoring) ScoreContact(ctx context.Context, id core.ID) (_ *Contact, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Scoring.ScoreContact", id)
	defer span.End(&err)

	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	var out *Contact
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		if _, err := (&Service{sc: s.sc, repo: sqlRepository{}}).writable(ctx, g, tx.Q(), tenant, id, access.Update); err != nil {
			return err
		}
		sc := s.sc.WithTx(tx)
		m, err := loadModel(ctx, tx.Q(), tenant)
		if err != nil {
			return err
		}
		if _, _, err := s.score(ctx, sc, m, "c.id = ?", id); err != nil {
			return err
		}
		out, err = sqlRepository{}.getContact(ctx, tx.Q(), tenant, "c.id = ?", id)
		return err
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, "score contact"))
	}
	return g.mask(out), nil
}

// score recomputes the scores of the contacts where selects (alias c) in
// sc's transaction, then advances the stages of those that reached a
// threshold. A tenant without a model leaves scores as they are.
func (s *Scoring) score(ctx context.Context, sc store.Scope, m *ScoringModel, where string, args ...any) (changed, advanced int64, err error) {
	if m.Version == 0 {
		return 0, 0, nil
	}
	tenant, _ := sc.Tenant()
	tx := sc.Tx()
	q := tx.Q()
	now := tx.Runtime().Now()
	expr, exprArgs, err := s.scoreSQL(ctx, sc, m, now)
	if err != nil {
		return 0, 0, err
	}
	// Scores are computed once per contact; only those that move are
	// written.
	// Restricted contacts are not processed (their score stays as it was).
	res, err := q.Exec(ctx, `WITH s AS (SELECT c.tenant_id, c.id, `+expr+` AS score FROM crm_contacts c WHERE c.tenant_id = ? AND NOT c.restricted AND `+where+`)
		UPDATE crm_contacts SET score = s.score, scored_at = ?
		FROM s WHERE crm_contacts.tenant_id = ? AND crm_contacts.tenant_id = s.tenant_id AND crm_contacts.id = s.id AND crm_contacts.score <> s.score`,
		append(append(append(exprArgs, tenant), args...), now, tenant)...)
	if err != nil {
		return 0, 0, err
	}
	if changed, err = res.RowsAffected(); err != nil {
		return 0, 0, err
	}
	if len(m.Thresholds) == 0 {
		return changed, 0, nil
	}
	// Contacts at or above the lowest threshold whose stage is earlier than
	// the stage their score reaches.
	rows, err := q.Query(ctx, `SELECT c.id, c.score, c.lifecycle_stage FROM crm_contacts c
		WHERE c.tenant_id = ? AND NOT c.restricted AND `+where+` AND c.score >= ?`, append(append([]any{tenant}, args...), m.Thresholds[0].Score)...)
	if err != nil {
		return 0, 0, err
	}
	type move struct {
		id    core.ID
		score int64
		to    Stage
	}
	var moves []move
	err = store.EachRow(rows, func(r store.Scanner) error {
		var id core.ID
		var score int64
		var stage string
		if err := r.Scan(&id, &score, &stage); err != nil {
			return err
		}
		to := Stage(stage)
		for _, t := range m.Thresholds {
			if score >= t.Score && stageIndex(t.Stage) > stageIndex(to) {
				to = t.Stage
			}
		}
		if to != Stage(stage) {
			moves = append(moves, move{id, score, to})
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	svc := &Service{sc: sc, repo: sqlRepository{}}
	for _, mv := range moves {
		cur, err := svc.repo.getContact(ctx, q, tenant, "c.id = ?"+q.D.LockRows(), mv.id)
		if err != nil {
			return 0, 0, err
		}
		from := cur.LifecycleStage
		next := applyPatch(cur, ContactPatch{LifecycleStage: &mv.to})
		if _, err := svc.save(ctx, tx, cur, next, nil); err != nil {
			return 0, 0, err
		}
		if err := tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventContactThresholdCrossed, SubjectType: "contact", SubjectID: mv.id,
			OccurredAt: now, Data: store.JSON(ThresholdCrossed{Score: mv.score, FromStage: from, ToStage: mv.to})}); err != nil {
			return 0, 0, err
		}
		advanced++
	}
	return changed, advanced, nil
}

// stageIndex orders lifecycle stages; StageOther is never advanced from or
// to by a score.
func stageIndex(s Stage) int {
	if s == StageOther {
		return math.MaxInt
	}
	return slices.Index(Stages, s)
}

// scoreSQL is the SQL expression of a contact's score (alias c) under m, at
// now, and its arguments.
func (s *Scoring) scoreSQL(ctx context.Context, sc store.Scope, m *ScoringModel, now time.Time) (string, []any, error) {
	d := sc.Runtime().Dialect
	var fit, engagement []string
	var fitArgs, engArgs []any
	var schema *filter.Schema
	for _, r := range m.Rules {
		if r.When != nil {
			if schema == nil {
				var err error
				if schema, err = schemaOf(ctx, sc, EntityContact); err != nil {
					return "", nil, err
				}
			}
			w, err := schema.Compile(*r.When, filter.Dialect(d.Kind), now)
			if err != nil {
				return "", nil, fmt.Errorf("scoring rule %q: %w", r.Name, err)
			}
			fit = append(fit, fmt.Sprintf("(CASE WHEN %s THEN %s ELSE 0 END)", w.Where, floatLiteral(r.Points)))
			fitArgs = append(fitArgs, w.Args...)
			continue
		}
		cond := "a.kind = ?"
		engArgs = append(engArgs, string(r.Activity.Kind))
		if r.Activity.Name != "" {
			cond += " AND a.name = ?"
			engArgs = append(engArgs, r.Activity.Name)
		}
		for _, k := range slices.Sorted(maps.Keys(r.Activity.Properties)) {
			cond += " AND " + d.JSONText("a.properties", k) + " = ?"
			engArgs = append(engArgs, r.Activity.Properties[k])
		}
		engagement = append(engagement, fmt.Sprintf("(CASE WHEN %s THEN %s ELSE 0 END)", cond, floatLiteral(r.Points)))
	}
	terms := append([]string{"0"}, fit...)
	args := fitArgs
	if len(engagement) > 0 {
		// Each activity's points, halved every half-life: exp(-ln 2 · age / half-life).
		decay := fmt.Sprintf("exp(-0.6931471805599453 * %s / %s)", d.SecondsBetween("a.occurred_at", d.TimeParam()), floatLiteral(m.HalfLifeDays*86400))
		terms = append(terms, `COALESCE((SELECT SUM((`+strings.Join(engagement, " + ")+`) * `+decay+`)
			FROM crm_activities a WHERE a.tenant_id = c.tenant_id AND a.contact_id = c.id), 0)`)
		args = append(append(args, engArgs...), now)
	}
	return "(CAST(ROUND(" + strings.Join(terms, " + ") + ") AS BIGINT) + c.score_adjustment)", args, nil
}

// MaxScoreAdjustment bounds the points one Adjust call adds or takes.
const MaxScoreAdjustment = 100_000

// Adjust adds points (negative: takes them) to a contact's score, by hand
// or by an automation rule. The adjustment is kept as part of the score
// when the scoring rules recompute it; like other scoring facts it does
// not change the contact's Version. It emits contact.score_adjusted.
func (s *Scoring) Adjust(ctx context.Context, id core.ID, points int64, reason string) (_ *Contact, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Scoring.Adjust", id)
	defer span.End(&err)

	v := &core.ValidationError{}
	if points == 0 || points > MaxScoreAdjustment || points < -MaxScoreAdjustment {
		v.Add("points", "must be between -%d and %d and not 0", MaxScoreAdjustment, MaxScoreAdjustment)
	}
	v.CheckText("reason", reason, 500)
	if err := v.Err(); err != nil {
		return nil, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	var out *Contact
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		if _, err := (&Service{sc: s.sc, repo: sqlRepository{}}).writable(ctx, g, tx.Q(), tenant, id, access.Update); err != nil {
			return err
		}
		res, err := tx.Q().Exec(ctx, `UPDATE crm_contacts SET score_adjustment = score_adjustment + ?, score = score + ?
			WHERE tenant_id = ? AND id = ?`, points, points, tenant, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return core.NotFound("contact", id)
		}
		if out, err = (sqlRepository{}).getContact(ctx, tx.Q(), tenant, "c.id = ?", id); err != nil {
			return err
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventContactScoreAdjusted, SubjectType: "contact", SubjectID: id,
			Data: store.JSON(ScoreAdjusted{ContactID: id, Points: points, Reason: reason, Score: out.Facts.Score})})
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, "adjust score"))
	}
	return g.mask(out), nil
}

// floatLiteral writes f as an SQL number literal (points and half-lives are
// checked numbers, not input text).
func floatLiteral(f float64) string {
	return fmt.Sprintf("%.6f", f)
}

// PredictedScore is a contact's predicted score (percent, 0-100).
type PredictedScore struct {
	ContactID core.ID
	Score     int64
}

// SetPredictedScores stores predicted scores in one write; contacts that no
// longer exist are skipped. The pipeline package's trained lead model
// writes them; like the other facts they do not change a contact's Version.
func (s *Scoring) SetPredictedScores(ctx context.Context, scores []PredictedScore) (err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Scoring.SetPredictedScores")
	defer span.End(&err)

	for _, p := range scores {
		if p.Score < 0 || p.Score > 100 {
			return core.Invalid("predicted_score", "must be between 0 and 100 (contact %s: %d)", p.ContactID, p.Score)
		}
	}
	// A bulk write over the tenant's contacts (a trained model's output):
	// it takes the update permission and seeing every contact.
	g, err := check(ctx, s.sc, "contact", core.NilID, access.Update)
	if err != nil {
		return err
	}
	if !g.all() {
		return g.done(ctx, g.forbid("contact", core.NilID, access.Update, "set predicted scores without seeing all contacts"))
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		for _, p := range scores {
			if _, err := tx.Q().Exec(ctx, `UPDATE crm_contacts SET predicted_score = ? WHERE tenant_id = ? AND id = ?`, p.Score, tenant, p.ContactID); err != nil {
				return err
			}
		}
		return nil
	})
	return store.Wrap(err, "set predicted scores")
}
