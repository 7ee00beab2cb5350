package tickets

import (
	"context"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Suggesting a category and team: on request (Suggest), and on every
// ticket created (classify), which may apply them.

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
