// Package pipeline is crmkit's sales module: pipelines of stages, deals
// that move through them, a product catalogue and the line items of deals,
// the board, forecasts and sales statistics.
//
//   - Pipelines (c.Pipelines): several per tenant, each with ordered stages
//     that carry a win probability and a kind (open, won, lost). Default
//     creates a "Sales" pipeline with DefaultStages on first use, so hosts
//     can create deals without any setup. Stages are added, renamed,
//     reordered, archived and deleted with the pipeline's version
//     (optimistic concurrency); a stage that holds deals is deleted only by
//     moving them to another stage of the same kind.
//   - Deals (c.Deals): title, amount (exact Money), contact, company, owner,
//     stage, expected close date, source, commit flag and custom fields
//     (package fields, entity "deal"). MoveStage, Win, Lose and Reopen
//     take the version the caller read: of two writers one gets
//     core.ErrConflict. Every stay in a stage is recorded (History: time in
//     stage; Velocity: average and median stay per stage). Events: deal.created, deal.updated,
//     deal.stage_changed, deal.won, deal.lost, deal.reopened, deal.deleted.
//   - Products (c.Products) and line items (Deals.SetLineItems): quantity,
//     unit price, discount percent and amount, tax rate. Each line's net and
//     tax are rounded to the currency's minor unit (half away from zero);
//     the deal's amount is the exact sum of the nets.
//   - Board, Forecast and Stats: counts and sums per stage; won, weighted,
//     best-case and commit amounts per month or quarter (and owner,
//     pipeline, currency); win rate, average deal size and sales cycle —
//     each one SQL query with exact integer sums on both databases.
//   - Forecast snapshots (Deals.SnapshotForecast): the forecast as it
//     stands on a day — won, weighted, best-case and commit amounts with
//     their counts, per month, pipeline, owner and currency, for the
//     months of the day's quarter and the three quarters after it
//     (SnapshotRange) — kept in crm_forecast_snapshots and
//     crm_forecast_snapshot_lines so that analytics can measure the
//     forecast's accuracy once the months are over. The module's periodic
//     work "forecast_snapshot" takes it daily for every tenant with deals
//     (crm.Config.Periodic overrides the interval); hosts and tests call
//     it too. One snapshot per tenant and day: taking it again replaces
//     it in one transaction (the day's row is updated first, so two
//     processes take turns), so a repeated or retried run changes nothing
//     but its time. Weighted sums are kept unrounded (amount × percent),
//     so sums over owners and months stay exact. Snapshots are not
//     pruned; they emit no event.
//   - Next best action (NextActions, LeadActions): ranked suggestions with
//     reasons from explainable signals — no activity for N days (follow up),
//     longer in the stage than its median (escalate), expected close date
//     passed, no owner, a qualified lead without an open deal.
//   - Lead scoring by a trained model (TrainLeadModel, PredictLead,
//     ScoreLeads): logistic regression of "has a won deal" on each contact's
//     activity counts by kind (last 90 days), recency, purchases and number
//     and boolean custom fields, learnt from the tenant's own history, with
//     a holdout part (20%, chosen by id) for AUC, Brier score and a
//     calibration table. The model is stored per tenant with its version and
//     training date; predictions come with the features that moved them
//     most; ScoreLeads stores every contact's percentage
//     (contacts.Facts.PredictedScore, filterable as "predicted_score") and a
//     tracked activity updates its contact's. Too few won deals is
//     ErrTooFewWins, and no model is stored.
//
// Lead scoring by rules is contacts.Scoring (c.Scoring): it reads and
// writes contacts and activities only.
//
// A sketch:
//
//	deal, _ := c.Deals.Create(ctx, pipeline.NewDeal{
//		Title: "Acme rollout", Amount: core.MustMoney("12000", "EUR"),
//		ContactID: &ada.ID, ExpectedClose: core.NewDate(2026, time.June, 30),
//	})
//	deal, _ = c.Deals.MoveStage(ctx, deal.ID, deal.Version, stageID)
//	rows, _ := c.Deals.Forecast(ctx, pipeline.ForecastOptions{
//		From: core.NewDate(2026, 1, 1), To: core.NewDate(2027, 1, 1), Period: pipeline.Quarter})
//
// # Record access
//
// With an actor in the context (core.WithActor) every public method checks
// the actor's permissions on "pipeline" (package access; no actor is the
// host's own trusted code, which may do everything, as before roles
// existed). Lacking the permission is core.ErrForbidden:
//
//   - read: Deals.Get, List, History, LineItems, Board, Forecast, Stats,
//     Velocity, NextActions, LeadActions, LeadModel, PredictLead;
//     Pipelines.Get, List, Default (which makes the first pipeline of a
//     tenant without one, as Deals.Create does); Products.Get, GetBySKU,
//     List.
//   - create: Deals.Create.
//   - update: Deals.Update, MoveStage, Win, Lose, Reopen, SetLineItems.
//   - delete: Deals.Delete.
//   - manage: Pipelines.Create, Rename, Archive, AddStage, UpdateStage,
//     ReorderStages, ArchiveStage, DeleteStage (which moves every deal of
//     the stage, seen or not); Products.Create, Update; TrainLeadModel and
//     ScoreLeads (they read, and score, every contact of the tenant);
//     SnapshotForecast (it keeps every owner's deals, whatever the actor
//     sees).
//
// Deals are visible by their owner_id: own (the actor's), team (owned by a
// member of one of the actor's teams, or the actor) or all, as the role
// grants. The condition is part of the SQL of every list, board, forecast,
// stats, velocity and count (LeadActions' open deals), so pages and totals
// cover only the deals the actor sees; Deals.List binds its cursor to the
// actor (another actor's cursor is core.ErrInvalid). A deal the actor may
// not see is core.ErrNotFound for every get and change, like a missing
// one; one they see but may not change is core.ErrForbidden. With own or
// team visibility a deal is created and updated only with an owner whose
// deals the actor sees (an empty owner on create becomes the actor).
// NextActions' stage medians are over the deals the actor sees.
// PredictLead and LeadActions read the contact through the contacts
// module, whose access applies (a hidden contact is core.ErrNotFound).
//
// Pipelines, stages and products have no owner: anyone allowed to read the
// module reads them all. Amounts are not personal data and are not
// masked; a deal's title or source may name a person and is not masked
// either (only the contacts module masks personal fields), so a host that
// puts names there should give such roles no pipeline read.
//
// Refused attempts are written to the audit log through
// store.Runtime.Audit (the consent module's crm_audit, when wired): action
// AuditDenied ("access.denied"), the record kind and id ("deal", "product",
// "pipeline", "contact", "lead_model"; core.NilID when the call named
// none) and the detail "pipeline:<action>" — ids only, never titles.
//
// Decisions worth knowing:
//   - A deal's status follows the kind of its stage; won stages have
//     probability 100 and lost ones 0. Reaching a won or lost stage sets
//     ClosedAt and ClosedOn (UTC day); reopening clears them.
//   - Days are core.Date, not time.Time: a deal's ExpectedClose and ClosedOn
//     and the bounds of Forecast, Stats and Velocity are calendar days
//     without a time zone (stored as "2026-06-30", compared as days), so a
//     host's midnight in Berlin cannot become the day before in UTC. Build
//     one with core.NewDate, core.DateOf(t) or core.ParseDate("2026-06-30");
//     the zero Date means "none". Report ranges are [From, To) and need both.
//   - Moving a deal to another pipeline is not supported yet: MoveStage
//     refuses a stage of another pipeline.
//   - Forecasts put won deals in the period they closed and open deals in
//     the period of their expected close date; open deals without one, and
//     lost deals, are in no period. Amounts in several currencies are
//     reported per currency unless the host passes Rates.
//   - The trained model takes features as of training time, so activity
//     after a deal was won counts too: it models who buys, not the lead at
//     the time it came in. Gradient boosting is not offered.
//   - A deal's amount excludes tax; with line items it is their net sum and
//     cannot be set directly.
//   - Deleting a contact or company keeps its deals and clears the link;
//     merging contacts moves the losers' deals to the winner. Each such
//     change is a new version of the deal with a "deal.updated" event
//     (hooks of the module's declaration, Module, which crm wires).
//   - Event types are the Event* constants; EventTypes lists them with
//     their payload types. Events about a deal with a contact carry it in
//     core.Event.ContactID.
package pipeline
