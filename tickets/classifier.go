package tickets

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
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
