package tickets_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/store"
	"github.com/crmkit/crmkit/tickets"
)

// topic is one class of the synthetic tickets: its category, its team
// and its words in English and German.
type topic struct {
	category, team string
	en, de         []string
}

var topics = []topic{
	{"billing", "finance",
		[]string{"invoice", "charged", "payment", "credit card", "VAT", "receipt", "billing", "subscription", "price", "bank transfer", "overcharged", "discount", "debit"},
		[]string{"Rechnung", "Zahlung", "Kreditkarte", "abgebucht", "Mehrwertsteuer", "Quittung", "Abonnement", "Preis", "Überweisung", "Lastschrift", "Gutschrift", "Rabatt", "doppelt bezahlt"}},
	{"shipping", "logistics",
		[]string{"delivery", "package", "parcel", "courier", "tracking number", "shipped", "arrived", "delayed", "carrier", "dispatch", "postman", "shipment", "delivered"},
		[]string{"Lieferung", "Paket", "Sendungsverfolgung", "Zusteller", "versandt", "angekommen", "verspätet", "Lieferadresse", "Versand", "Paketdienst", "Briefträger", "zugestellt", "Lieferzeit"}},
	{"returns", "logistics",
		[]string{"return", "exchange", "send back", "return label", "wrong size", "replacement", "warranty", "refund", "withdrawal", "returned", "swap", "too small", "defective"},
		[]string{"Rücksendung", "Umtausch", "zurückschicken", "Rücksendeetikett", "falsche Größe", "Ersatz", "Garantie", "Erstattung", "Widerruf", "zurückgeben", "umtauschen", "zu klein", "defekt"}},
	{"technical", "it",
		[]string{"login", "password", "error message", "crash", "app", "bug", "website", "reset", "update", "browser", "sync", "two-factor", "timeout"},
		[]string{"Anmeldung", "Passwort", "Fehlermeldung", "Absturz", "App", "Fehler", "Webseite", "zurücksetzen", "Aktualisierung", "Browser", "Synchronisierung", "einloggen", "hängt"}},
}

// Words of no topic, in both languages, and glue of sentences.
var (
	neutralEN = []string{"order", "customer", "today", "yesterday", "week", "problem", "help", "need", "since", "again", "account", "urgent", "asap", "still"}
	neutralDE = []string{"Bestellung", "Kunde", "heute", "gestern", "Woche", "Problem", "Hilfe", "brauche", "seit", "wieder", "Konto", "dringend", "leider", "immer noch"}
	glueEN    = []string{"Hello,", "my", "the", "is", "and", "please", "with", "for", "thanks", "I", "have", "a", "of"}
	glueDE    = []string{"Hallo,", "mein", "die", "ist", "und", "bitte", "mit", "für", "danke", "ich", "habe", "eine", "der"}
)

// sample is one synthetic ticket: its text and its topic.
type sample struct {
	subject, body string
	topic         int
}

// synth makes n tickets (n/4 of each topic, interleaved), each in English
// or German: a subject of two topic words and a neutral one, and a body
// of 8 to 14 words of which about 55% are the topic's, 25% neutral or
// glue, and 20% another topic's (noise), plus an order number.
func synth(seed uint64, n int) []sample {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pick := func(words []string) string { return words[r.IntN(len(words))] }
	out := make([]sample, n)
	for i := range out {
		k := i % len(topics)
		de := r.IntN(2) == 1
		words := func(tp topic) []string {
			if de {
				return tp.de
			}
			return tp.en
		}
		neutral, glue := neutralEN, glueEN
		if de {
			neutral, glue = neutralDE, glueDE
		}
		subject := pick(words(topics[k])) + " " + pick(neutral) + " " + pick(words(topics[k]))
		var body []string
		for range 8 + r.IntN(7) {
			switch x := r.Float64(); {
			case x < 0.55:
				body = append(body, pick(words(topics[k])))
			case x < 0.80:
				body = append(body, pick(neutral), pick(glue))
			default:
				body = append(body, pick(words(topics[(k+1+r.IntN(len(topics)-1))%len(topics)])))
			}
		}
		body = append(body, fmt.Sprintf("#%d", 100000+r.IntN(900000)))
		out[i] = sample{subject: subject, body: strings.Join(body, " "), topic: k}
	}
	return out
}

// classified is a bundle with the teams of the topics.
func classifiedBundle(t *testing.T, db *bun.DB) *bundle {
	t.Helper()
	b := setup(t, db)
	for _, name := range []string{"finance", "logistics", "it"} {
		_, err := b.c.Access.Teams.Create(context.Background(), access.TeamInput{Name: name})
		require.NoError(t, err)
	}
	return b
}

// solvedTickets creates the samples as solved tickets of c (with the
// topic's category and team, or those label gives), each with the
// sample's text as its first customer message, in one transaction.
func solvedTickets(t *testing.T, c *crm.CRM, contact core.ID, samples []sample, label func(i int, s sample) (category, team string)) {
	t.Helper()
	err := c.InTx(context.Background(), func(ctx context.Context, tx *crm.CRM) error {
		for i, s := range samples {
			category, team := topics[s.topic].category, topics[s.topic].team
			if label != nil {
				category, team = label(i, s)
			}
			tk, err := tx.Tickets.Create(ctx, tickets.NewTicket{Subject: s.subject, ContactID: contact, Category: category, Team: team,
				AssigneeID: "agent-1", Status: tickets.StatusOpen,
				Message: &tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorCustomer, Body: s.body}})
			if err != nil {
				return err
			}
			if _, err := tx.Tickets.AddMessage(ctx, tk.ID, tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorAgent, AuthorID: "agent-1",
				Body: "Thanks, we are on it: " + topics[(s.topic+1)%len(topics)].en[0]}); err != nil {
				return err
			}
			status := tickets.StatusSolved
			if i%3 == 0 {
				status = tickets.StatusClosed
			}
			if _, err := tx.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Version: tk.Version + 1, Status: status}); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
}

// modelOf returns the report's model of target.
func modelOf(t *testing.T, r *tickets.TrainReport, target tickets.ClassifierTarget) *tickets.ClassifierModel {
	t.Helper()
	for _, m := range r.Models {
		if m.Target == target {
			return m
		}
	}
	t.Fatalf("no %s model in the report", target)
	return nil
}

// checkMetrics holds a model's metrics to their own arithmetic.
func checkMetrics(t *testing.T, m *tickets.ClassifierModel, docs int64, classes int) {
	t.Helper()
	met := m.Metrics
	require.Equal(t, docs, met.Documents)
	require.Equal(t, met.Documents, met.TrainDocuments+met.HoldoutDocuments)
	require.Len(t, met.Classes, classes)
	require.Len(t, met.Confusion, classes)
	var train, hold, confused, diagonal int64
	for i, c := range met.Classes {
		train += c.Train
		hold += c.Holdout
		require.Len(t, met.Confusion[i], classes)
		var row int64
		for j, n := range met.Confusion[i] {
			row += n
			if i == j {
				diagonal += n
			}
		}
		require.LessOrEqual(t, row, c.Holdout, "a row counts the class's held-out tickets")
		confused += row
	}
	require.Equal(t, met.TrainDocuments, train)
	require.Equal(t, met.HoldoutDocuments, hold)
	require.NotNil(t, met.Accuracy)
	require.InDelta(t, float64(diagonal)/float64(met.HoldoutDocuments), *met.Accuracy, 1e-9)
	require.LessOrEqual(t, confused, met.HoldoutDocuments)
	require.GreaterOrEqual(t, met.Temperature, 1.0)
	require.NotNil(t, met.LogLoss)
	require.False(t, math.IsNaN(*met.LogLoss) || math.IsInf(*met.LogLoss, 0))
	require.Positive(t, met.Vocabulary)
}

// The classifier learns clearly separated topics, in German and English
// with noise, from solved and closed tickets: at least 90% of the
// held-out tickets and of new texts are labelled right, by category and by
// team. Words it never saw are ignored; a text of only such words has no
// prediction. A new training replaces the model.
func TestClassifierLearnsTopics(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		b := classifiedBundle(t, db)
		ctx := context.Background()
		solvedTickets(t, b.c, b.contact.ID, synth(1, 400), nil)
		// Open tickets and merged ones are not learnt from.
		b.ticket(t, tickets.NewTicket{Subject: "invoice payment", Category: "shipping", Team: "it"})

		report, err := b.c.Classifier.Train(ctx, tickets.TrainOptions{})
		require.NoError(t, err)
		require.Empty(t, report.Skipped)
		require.Len(t, report.Models, 2)
		category, team := modelOf(t, report, tickets.TargetCategory), modelOf(t, report, tickets.TargetTeam)
		checkMetrics(t, category, 400, 4)
		checkMetrics(t, team, 400, 3)
		require.Equal(t, []string{"billing", "returns", "shipping", "technical"}, labels(category.Metrics.Classes))
		require.Equal(t, []string{"finance", "it", "logistics"}, labels(team.Metrics.Classes))
		// The held-out share is 20% by a hash of the ids: about 80 of 400.
		require.InDelta(t, 80, category.Metrics.HoldoutDocuments, 30)
		logMetrics(t, category)
		logMetrics(t, team)
		require.GreaterOrEqual(t, *category.Metrics.Accuracy, 0.9, "%+v", category.Metrics)
		require.GreaterOrEqual(t, *team.Metrics.Accuracy, 0.9, "%+v", team.Metrics)
		require.Less(t, *category.Metrics.Baseline, 0.5, "the majority class alone is far from it")
		require.EqualValues(t, 1, category.Version)
		require.Equal(t, 2, b.eventsOf(t, tickets.EventClassifierTrained))

		// New texts of the same topics.
		fresh := synth(2, 200)
		right := map[tickets.ClassifierTarget]int{}
		var conf float64
		for _, s := range fresh {
			sug, err := b.c.Classifier.Suggest(ctx, s.subject, s.body)
			require.NoError(t, err)
			require.NotNil(t, sug.Category)
			require.NotNil(t, sug.Team)
			require.Equal(t, int64(1), sug.Category.ModelVersion)
			for _, p := range []*tickets.Prediction{sug.Category, sug.Team} {
				require.True(t, p.Confidence > 0 && p.Confidence <= 1, "%v", p.Confidence)
			}
			conf += sug.Category.Confidence
			if sug.Category.Label == topics[s.topic].category {
				right[tickets.TargetCategory]++
			}
			if sug.Team.Label == topics[s.topic].team {
				right[tickets.TargetTeam]++
			}
		}
		acc := float64(right[tickets.TargetCategory]) / float64(len(fresh))
		require.GreaterOrEqual(t, acc, 0.9)
		require.GreaterOrEqual(t, float64(right[tickets.TargetTeam])/float64(len(fresh)), 0.9)
		// Calibrated-ish: the mean confidence is near the accuracy.
		require.InDelta(t, acc, conf/float64(len(fresh)), 0.1)

		// Unseen words are ignored; only unseen words predict nothing.
		sug, err := b.c.Classifier.Suggest(ctx, "Quux frobnicate", "zyzzyva plugh xyzzy")
		require.NoError(t, err)
		require.Nil(t, sug.Category)
		require.Nil(t, sug.Team)
		sug, err = b.c.Classifier.Suggest(ctx, "Zyzzyva Rückerstattung", "plugh xyzzy Rücksendeetikett frobnicate Umtausch")
		require.NoError(t, err)
		require.Equal(t, "returns", sug.Category.Label)
		require.Equal(t, "logistics", sug.Team.Label)
		// Both spellings of an umlaut are one word.
		sug, err = b.c.Classifier.Suggest(ctx, "Ruecksendeetikett", "Ruecksendung, falsche Groesse")
		require.NoError(t, err)
		require.Equal(t, "returns", sug.Category.Label)

		_, err = b.c.Classifier.Suggest(ctx, "x", "bad \x00 text")
		require.Equal(t, []string{"body"}, fieldsOf(t, err))

		// Training again replaces both models, atomically, with a new version.
		report, err = b.c.Classifier.Train(ctx, tickets.TrainOptions{HoldoutPercent: 30})
		require.NoError(t, err)
		require.EqualValues(t, 2, modelOf(t, report, tickets.TargetCategory).Version)
		require.InDelta(t, 120, modelOf(t, report, tickets.TargetCategory).Metrics.HoldoutDocuments, 35)
		models, err := b.c.Classifier.Models(ctx)
		require.NoError(t, err)
		require.Len(t, models, 2)
		for _, m := range models {
			require.EqualValues(t, 2, m.Version)
			require.Equal(t, modelOf(t, report, m.Target).Metrics, m.Metrics)
		}
		sug, err = b.c.Classifier.Suggest(ctx, fresh[0].subject, fresh[0].body)
		require.NoError(t, err)
		require.Equal(t, int64(2), sug.Category.ModelVersion)

		_, err = b.c.Classifier.Train(ctx, tickets.TrainOptions{Targets: []tickets.ClassifierTarget{"priority"}, HoldoutPercent: 90})
		require.ElementsMatch(t, []string{"targets", "holdout_percent"}, fieldsOf(t, err))
	})
}

// logMetrics logs what a model measured.
func logMetrics(t *testing.T, m *tickets.ClassifierModel) {
	met := m.Metrics
	t.Logf("%s: %d held out of %d, accuracy %.3f (baseline %.3f), temperature %.2f, log-loss %.3f, vocabulary %d, confusion %v",
		m.Target, met.HoldoutDocuments, met.Documents, *met.Accuracy, *met.Baseline, met.Temperature, *met.LogLoss, met.Vocabulary, met.Confusion)
}

func labels(cs []tickets.ClassCount) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Label
	}
	return out
}

// With the labels shuffled among the same texts, the words say nothing of
// the class: held-out accuracy is chance, 1/4 for four balanced classes.
// It is binomial over the n held-out tickets (sd √(¼·¾/n), about 0.05 at
// n ≈ 80), so it lies within 0.25 ± 4 sd: far below the 0.9 the true
// labels reach. The calibration learns that the words do not help: the
// confidences fall to near chance instead of the near-certainty of an
// uncalibrated naive Bayes.
func TestClassifierShuffledLabels(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		b := classifiedBundle(t, db)
		ctx := context.Background()
		samples := synth(1, 400)
		perm := rand.New(rand.NewPCG(7, 7)).Perm(len(samples))
		solvedTickets(t, b.c, b.contact.ID, samples, func(i int, s sample) (string, string) {
			tp := topics[samples[perm[i]].topic]
			return tp.category, tp.team
		})
		report, err := b.c.Classifier.Train(ctx, tickets.TrainOptions{})
		require.NoError(t, err)
		m := modelOf(t, report, tickets.TargetCategory)
		checkMetrics(t, m, 400, 4)
		logMetrics(t, m)
		n := float64(m.Metrics.HoldoutDocuments)
		band := 4 * math.Sqrt(0.25*0.75/n)
		require.InDelta(t, 0.25, *m.Metrics.Accuracy, band, "n=%v", n)

		var conf float64
		fresh := synth(2, 100)
		for _, s := range fresh {
			sug, err := b.c.Classifier.Suggest(ctx, s.subject, s.body)
			require.NoError(t, err)
			conf += sug.Category.Confidence
		}
		require.Less(t, conf/float64(len(fresh)), 0.6, "temperature %v", m.Metrics.Temperature)
		require.Greater(t, m.Metrics.Temperature, 1.5)
	})
}

// A tenant with nothing to learn from gets a clear error and no model: no
// tickets, open ones only, or one class only; a target with one class is
// skipped while the other is trained.
func TestClassifierNotEnoughData(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		b := classifiedBundle(t, db)
		ctx := context.Background()

		_, err := b.c.Classifier.Train(ctx, tickets.TrainOptions{})
		require.ErrorIs(t, err, tickets.ErrNotEnoughData)
		require.ErrorIs(t, err, core.ErrInvalid)
		require.Contains(t, err.Error(), "category: no solved or closed ticket has one")
		require.Contains(t, err.Error(), "team: no solved or closed ticket has one")
		models, err := b.c.Classifier.Models(ctx)
		require.NoError(t, err)
		require.Empty(t, models)
		sug, err := b.c.Classifier.Suggest(ctx, "invoice", "payment")
		require.NoError(t, err)
		require.Equal(t, &tickets.Suggestion{}, sug)

		// Open tickets only.
		for _, s := range synth(3, 8) {
			b.ticket(t, tickets.NewTicket{Subject: s.subject, Category: topics[s.topic].category, Team: topics[s.topic].team})
		}
		_, err = b.c.Classifier.Train(ctx, tickets.TrainOptions{})
		require.ErrorIs(t, err, tickets.ErrNotEnoughData)

		// One class of each.
		billing := synth(4, 40)
		solvedTickets(t, b.c, b.contact.ID, billing, func(int, sample) (string, string) { return "billing", "finance" })
		_, err = b.c.Classifier.Train(ctx, tickets.TrainOptions{})
		require.ErrorIs(t, err, tickets.ErrNotEnoughData)
		require.Contains(t, err.Error(), `all 40 tickets have the one category "billing"`)
		models, err = b.c.Classifier.Models(ctx)
		require.NoError(t, err)
		require.Empty(t, models)

		// Two categories, still one team: the team is skipped.
		solvedTickets(t, b.c, b.contact.ID, synth(5, 40), func(int, sample) (string, string) { return "shipping", "finance" })
		report, err := b.c.Classifier.Train(ctx, tickets.TrainOptions{})
		require.NoError(t, err)
		require.Len(t, report.Models, 1)
		require.Equal(t, tickets.TargetCategory, report.Models[0].Target)
		require.Contains(t, report.Skipped[tickets.TargetTeam], `the one team "finance"`)
		b2, err := json.Marshal(report)
		require.NoError(t, err, "the report has no NaN")
		require.NotContains(t, string(b2), "NaN")
		sug, err = b.c.Classifier.Suggest(ctx, "invoice", "payment")
		require.NoError(t, err)
		require.NotNil(t, sug.Category)
		require.Nil(t, sug.Team, "no team model")

		// Few tickets: nothing held out to measure or calibrate with.
		other := b.c.Tenant("tiny")
		p := b.contactIn(t, other)
		solvedTickets(t, other, p, []sample{{"invoice payment", "invoice payment", 0}, {"invoice receipt", "invoice", 0},
			{"parcel delivery", "parcel delivery", 1}, {"parcel courier", "parcel", 1}}, func(_ int, s sample) (string, string) {
			return topics[s.topic].category, ""
		})
		report, err = other.Classifier.Train(ctx, tickets.TrainOptions{HoldoutPercent: 1})
		require.NoError(t, err)
		m := report.Models[0].Metrics
		require.EqualValues(t, 4, m.Documents)
		require.Equal(t, 1.0, m.Temperature)
		require.Nil(t, m.LogLoss)
		if m.HoldoutDocuments == 0 {
			require.Nil(t, m.Accuracy)
		}
		sug, err = other.Classifier.Suggest(ctx, "invoice", "")
		require.NoError(t, err)
		require.Equal(t, "billing", sug.Category.Label)
		require.False(t, math.IsNaN(sug.Category.Confidence))
		// Each tenant has its own models.
		require.EqualValues(t, 1, sug.Category.ModelVersion)
		require.Nil(t, sug.Team, "the default tenant's models are not this tenant's")
		models, err = other.Classifier.Models(ctx)
		require.NoError(t, err)
		require.Len(t, models, 1)
		require.EqualValues(t, 4, models[0].Metrics.Documents)
	})
}

// eventsOf counts the events of type typ.
func (b *bundle) eventsOf(t *testing.T, typ string) int {
	t.Helper()
	evs, err := b.c.Events(context.Background(), crm.EventQuery{Types: []string{typ}, Limit: 1000})
	require.NoError(t, err)
	return len(evs)
}

// contactIn creates a contact in c's tenant.
func (b *bundle) contactIn(t *testing.T, c *crm.CRM) core.ID {
	t.Helper()
	p, err := c.Contacts.Create(context.Background(), contacts.NewContact{Email: "someone@" + c.TenantID() + ".example.com"})
	require.NoError(t, err)
	return p.ID
}

// A new ticket stores the classifier's suggestion; at the tenant's
// threshold it takes the suggested category if it has none and the team if
// it has neither team nor agent, and routing then assigns it within the
// team. Below the threshold, or with the setting off, nothing is applied.
func TestClassifierAutoRouting(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		b := classifiedBundle(t, db)
		ctx := context.Background()
		b.team(t, "routed", member{id: "ann"}, member{id: "ben"})

		// No model: nothing stored.
		tk := b.ticket(t, tickets.NewTicket{Subject: "invoice payment"})
		require.Nil(t, tk.Suggestion)

		solvedTickets(t, b.c, b.contact.ID, synth(1, 200), nil)
		_, err := b.c.Classifier.Train(ctx, tickets.TrainOptions{})
		require.NoError(t, err)
		set, err := b.c.Classifier.Settings(ctx)
		require.NoError(t, err)
		require.Equal(t, tickets.ClassifierSettings{}, *set, "off by default")

		billing := tickets.NewTicket{Subject: "Rechnung doppelt abgebucht", ContactID: b.contact.ID,
			Message: &tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorCustomer, Body: "Meine Kreditkarte wurde zweimal belastet, bitte Gutschrift"}}
		tk, err = b.c.Tickets.Create(ctx, billing)
		require.NoError(t, err)
		require.NotNil(t, tk.Suggestion)
		require.Equal(t, "billing", tk.Suggestion.Category.Label)
		require.Equal(t, "finance", tk.Suggestion.Team.Label)
		require.False(t, tk.Suggestion.Category.Applied)
		require.Empty(t, tk.Category, "the setting is off")
		require.Empty(t, tk.Team)
		got, err := b.c.Tickets.Get(ctx, tk.ID)
		require.NoError(t, err)
		require.Equal(t, tk.Suggestion, got.Suggestion, "stored with the ticket")

		_, err = b.c.Classifier.SetSettings(ctx, 0, tickets.ClassifierSettingsInput{Threshold: 1.5})
		require.Equal(t, []string{"threshold"}, fieldsOf(t, err))
		_, err = b.c.Classifier.SetSettings(ctx, 0, tickets.ClassifierSettingsInput{Threshold: math.NaN()})
		require.Equal(t, []string{"threshold"}, fieldsOf(t, err))
		set, err = b.c.Classifier.SetSettings(ctx, 0, tickets.ClassifierSettingsInput{Threshold: 0.6})
		require.NoError(t, err)
		require.EqualValues(t, 1, set.Version)
		_, err = b.c.Classifier.SetSettings(ctx, 0, tickets.ClassifierSettingsInput{Threshold: 0.7})
		require.ErrorIs(t, err, core.ErrConflict)
		require.Equal(t, 1, b.eventsOf(t, tickets.EventClassifierUpdated))

		// The finance team assigns round robin: the applied team is routed.
		cur, err := b.c.Routing.Get(ctx)
		require.NoError(t, err)
		_, err = b.c.Routing.Set(ctx, cur.Version, tickets.RoutingInput{Teams: map[string]tickets.AssignMode{"finance": tickets.AssignRoundRobin}})
		require.NoError(t, err)
		_, err = b.c.Access.Users.Create(ctx, access.UserInput{ID: "fin-1", DisplayName: "fin-1", TimeZone: "UTC"})
		require.NoError(t, err)
		fin, err := b.c.Access.Teams.List(ctx)
		require.NoError(t, err)
		for _, team := range fin {
			if team.Name == "finance" {
				_, err = b.c.Access.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: "fin-1"})
				require.NoError(t, err)
			}
		}

		tk, err = b.c.Tickets.Create(ctx, billing)
		require.NoError(t, err)
		require.GreaterOrEqual(t, tk.Suggestion.Category.Confidence, 0.6)
		require.Equal(t, "billing", tk.Category)
		require.Equal(t, "finance", tk.Team)
		require.True(t, tk.Suggestion.Category.Applied)
		require.True(t, tk.Suggestion.Team.Applied)
		require.Equal(t, "fin-1", tk.AssigneeID, "routing assigns within the applied team")
		require.Contains(t, b.eventTypes(t, tk.ID), tickets.EventTicketAssigned)

		// A category or team given stays.
		given := billing
		given.Category, given.Team = "returns", "routed"
		tk, err = b.c.Tickets.Create(ctx, given)
		require.NoError(t, err)
		require.Equal(t, "returns", tk.Category)
		require.Equal(t, "routed", tk.Team)
		require.False(t, tk.Suggestion.Category.Applied)
		require.False(t, tk.Suggestion.Team.Applied)
		withAgent := billing
		withAgent.AssigneeID = "agent-9"
		tk, err = b.c.Tickets.Create(ctx, withAgent)
		require.NoError(t, err)
		require.Equal(t, "billing", tk.Category)
		require.Empty(t, tk.Team, "an agent given keeps the ticket out of routing")

		// An agent's first message is not the customer's text: only the
		// subject is read.
		agentFirst := billing
		agentFirst.Subject = "Zyzzyva"
		agentFirst.Message = &tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorAgent, AuthorID: "agent-1", Body: "Rechnung Zahlung Kreditkarte"}
		tk, err = b.c.Tickets.Create(ctx, agentFirst)
		require.NoError(t, err)
		require.Nil(t, tk.Suggestion)

		// Below the threshold nothing is applied.
		set, err = b.c.Classifier.SetSettings(ctx, set.Version, tickets.ClassifierSettingsInput{Threshold: 1})
		require.NoError(t, err)
		vague := tickets.NewTicket{Subject: "Problem", ContactID: b.contact.ID,
			Message: &tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorCustomer, Body: "Hilfe, Bestellung Paket Rechnung Passwort Umtausch"}}
		tk, err = b.c.Tickets.Create(ctx, vague)
		require.NoError(t, err)
		require.Less(t, tk.Suggestion.Category.Confidence, 1.0)
		require.Empty(t, tk.Category)
		require.Empty(t, tk.Team)
	})
}

// Training and the settings need "tickets" manage; suggestions, models
// and reading the settings "tickets" read.
func TestClassifierAccess(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		b := classifiedBundle(t, db)
		ctx := context.Background()
		a := b.c.Access
		_, err := a.Roles.InstallBuiltins(ctx)
		require.NoError(t, err)
		for id, role := range map[string]string{"root": access.RoleAdmin, "dave": access.RoleSupport, "erin": access.RoleMarketing} {
			_, err := a.Users.Create(ctx, access.UserInput{ID: id, DisplayName: id, TimeZone: "UTC", Roles: []string{role}})
			require.NoError(t, err)
		}
		solvedTickets(t, b.c, b.contact.ID, synth(1, 60), nil)

		_, err = b.c.Classifier.Train(as("dave"), tickets.TrainOptions{})
		require.ErrorIs(t, err, core.ErrForbidden)
		_, err = b.c.Classifier.SetSettings(as("dave"), 0, tickets.ClassifierSettingsInput{Threshold: 0.5})
		require.ErrorIs(t, err, core.ErrForbidden)
		_, err = b.c.Classifier.Train(as("root"), tickets.TrainOptions{})
		require.NoError(t, err)
		_, err = b.c.Classifier.SetSettings(as("root"), 0, tickets.ClassifierSettingsInput{Threshold: 0.5})
		require.NoError(t, err)

		sug, err := b.c.Classifier.Suggest(as("dave"), "invoice", "payment receipt")
		require.NoError(t, err)
		require.Equal(t, "billing", sug.Category.Label)
		_, err = b.c.Classifier.Models(as("dave"))
		require.NoError(t, err)
		set, err := b.c.Classifier.Settings(as("dave"))
		require.NoError(t, err)
		require.Equal(t, 0.5, set.Threshold)

		for _, call := range []func(ctx context.Context) error{
			func(ctx context.Context) error { _, err := b.c.Classifier.Suggest(ctx, "invoice", ""); return err },
			func(ctx context.Context) error { _, err := b.c.Classifier.Models(ctx); return err },
			func(ctx context.Context) error { _, err := b.c.Classifier.Settings(ctx); return err },
		} {
			require.ErrorIs(t, call(as("erin")), core.ErrForbidden, "marketing has no tickets read")
			require.ErrorIs(t, call(as("stranger")), core.ErrForbidden)
		}
		// Refusals are audited: who, and what they lacked.
		denied := map[string]int{}
		entries, err := b.c.Consent.Audit(ctx, consent.AuditQuery{Limit: store.MaxLimit})
		require.NoError(t, err)
		for _, e := range entries {
			if e.Action == tickets.AuditDenied && e.SubjectType == "ticket_classifier" {
				denied[e.ActorID+" "+e.Detail]++
			}
		}
		require.Equal(t, map[string]int{"dave tickets:manage": 2, "erin tickets:read": 3, "stranger tickets:read": 3}, denied)
	})
}
