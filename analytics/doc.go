// Package analytics is crmkit's reporting module: sales pipeline
// analytics, revenue attribution, customer value (historical and
// predicted), RFM segments, purchase cohorts and churn risk, the service
// desk's KPIs and the accuracy of sales forecasts. It reads the other
// modules' tables (deals and their stage history, forecast snapshots,
// contacts and their activities, tickets and their surveys) and writes
// no table: it owns none and emits no event. The one thing it keeps, the
// customer scores StoreScores puts on the contacts, is written by the
// contacts module (contacts.Scoring.SetCustomerScores).
//
// Every report reads its rows with SQL on SQLite and PostgreSQL alike —
// sums of money are exact integer sums of the stored 1/10,000 units,
// grouped per currency, never added across currencies — and returns a
// typed result that writes itself as CSV (WriteCSV). Where SQL would need
// a window over every row (ranks, each contact's first purchase, the
// order of a history), one query streams the rows in an index's order
// instead and Go does that part as they pass: RFM's quintiles, cohorts,
// the customer summaries, the funnel and the pipelines' stage conversion.
// At 1M contacts, 5.5M activities and 200k deals that took SQLite from
// 8–19 s per report to 1–3 s (README, Performance). Go also does the
// attribution weights and fits the purchase models.
//
//	c, _ := crm.Open(ctx, crm.Config{DSN: "file:crm.db"})
//	q1 := analytics.Period{From: core.NewDate(2026, 1, 1), To: core.NewDate(2026, 4, 1)}
//	sales, _ := c.Analytics.Pipelines(ctx, analytics.PipelineOptions{Period: q1})
//	credit, _ := c.Analytics.Attribution(ctx, analytics.AttributionOptions{Period: q1, Model: analytics.WShaped})
//	value, _ := c.Analytics.CustomerValue(ctx, analytics.CustomerValueOptions{Horizon: 365 * 24 * time.Hour})
//	segments, _ := c.Analytics.RFM(ctx, analytics.RFMOptions{})
//	_, _ = c.Analytics.StoreScores(ctx, analytics.StoreScoresOptions{}) // then filter contacts by "rfm_segment"
//	berlin, _ := time.LoadLocation("Europe/Berlin")
//	cohorts, _ := c.Analytics.Cohorts(ctx, analytics.CohortOptions{Period: q1, Location: berlin})
//	desk, _ := c.Analytics.ServiceLevels(ctx, analytics.ServiceOptions{Period: q1, Location: berlin, By: analytics.ByTeam})
//	accuracy, _ := c.Analytics.ForecastAccuracy(ctx, analytics.ForecastAccuracyOptions{Period: q1, Interval: pipeline.Month})
//	_ = credit.WriteCSV(os.Stdout)
//
// # Periods and input
//
// A Period is days [From, To), core.Date as pipeline's forecasts take
// them. Pipelines, Attribution, Cohorts, Funnel, Dashboard,
// ServiceLevels and ForecastAccuracy need both ends; CustomerValue, RFM,
// Churn and StoreScores take an optional From (zero: all history) and an
// optional To, the end of observation (zero: now). Bad input is core.ErrInvalid
// with every problem listed (*core.ValidationError): a period ending
// before it starts, a negative half-life or overdue factor, a horizon that
// is not positive, an unknown model, breakdown or interval. An unknown
// pipeline or team is core.ErrNotFound naming its id. Results never hold NaN or infinities; a
// tenant without deals or purchases gets empty results.
//
// # Pipelines
//
// Per pipeline: win rate = won / (won + lost) among the deals closed in
// the period (their UTC close day); average won deal size per currency;
// average sales cycle = mean time from creation to close of the deals won
// in the period; open deals (now, whatever the period); sales velocity per
// currency = open deals × win rate × average size ÷ average cycle (days),
// money per day. Stage conversion reads crm_deal_stage_history: of the
// deals that entered a stage in the period, how many afterwards entered a
// stage of a higher position that is not a lost stage (deals may skip
// stages; reopened deals count once per stage).
//
// # Attribution
//
// The revenue of the deals won in the period is shared among each deal's
// touchpoints: the activities of the deal's contact, of any kind, at or
// before the win, that name a channel. A touchpoint's channel is the
// activity's properties.channel, else properties.utm_source; its campaign
// properties.campaign, else properties.utm_campaign, else None ("(none)").
// The host's own classification wins over a raw UTM tag; empty strings and
// non-strings count as missing. The contacts module stores the properties
// a host tracks as they are and sets none of these keys itself.
//
// Models: FirstTouch and LastTouch (100% to one touch), Linear (equal
// shares), UShaped (40% first touch, 40% lead-creation touch, 20% the
// rest), WShaped (30% each first touch, lead-creation touch, deal-creation
// touch, 10% the rest), TimeDecay (weight 2^(-age/half-life), age = time
// from the touch to the win, half-life 7 days unless set). The
// lead-creation touch is the one nearest the contact's creation time, the
// deal-creation touch the one nearest the deal's creation time (the
// earlier of two equally near). A touch holding several roles adds their
// shares; the rest's share goes equally to the touches without a role, and
// when every touch holds a role the role shares are scaled to the whole:
// one touch gets 100%, two touches 50/50 (or 80/20 U-shaped when the first
// touch is also the lead-creation touch). A deal without touchpoints (no
// contact, or none with a channel) credits None, so the totals still hold.
// Under time decay, touches so much older than the half-life that every
// weight underflows to zero leave the deal to its latest touch.
//
// Each deal's amount is shared in its currency's minor unit (in 1/10,000
// units when the amount is finer) by largest remainder — shares rounded
// down, the units left one each to the largest remainders, ties to the
// name first in byte order — so the credits per channel and per campaign
// add up exactly to the revenue, per currency. One query streams the deals
// with their touchpoints; memory holds one deal's touchpoints at a time.
//
// # Customer value and churn
//
// The per-contact summary comes from one SQL query streaming the purchase
// activities (kind "purchase" with an amount) in contact order from the
// contacts module's purchases index, summed per contact as they pass: the
// number of purchases, the first and last purchase time, the sum, and the
// sum of the repeat purchases (all but the first). Memory grows with the
// contacts, not with their activities. Historical value is the sum.
//
// Predicted value uses BG/NBD (Fader, Hardie & Lee 2005, "Counting your
// customers the easy way: an alternative to the Pareto/NBD model",
// Marketing Science 24(2)) for the number of purchases and P(alive), and
// Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value
// curves for customer base analysis", JMR 42(4)) for the value of a
// purchase, each fitted per tenant by maximum likelihood (Nelder-Mead from
// gonum/optimize on the logs of the parameters, which keeps them positive;
// log-likelihoods summed in log space, stable for large counts). Times are
// in weeks: x = purchases after the first, tx = weeks from the first
// purchase to the last, T = weeks from the first to the end of
// observation. Purchases at the same instant count separately. The
// conditional expectation E[Y(t) | x, tx, T] is computed through Euler's
// transformation of its hypergeometric function, so customers with
// hundreds of purchases neither overflow nor lose precision. Gamma-Gamma
// is fitted per currency to the contacts with repeat purchases, on the
// mean of those (as the lifetimes library does); its Correlation reports
// how far the model's assumption — spend independent of frequency —
// holds. Expected value = expected purchases × expected spend,
// undiscounted. A fit takes about 70 µs per contact here, so above
// MaxFit contacts (default 50,000) the models are fitted to an evenly
// spaced sample of them and predict for all. When the data do not
// determine BG/NBD (fewer than two purchasing contacts, or no repeat
// purchase) Purchases is nil and the predictions are zero; without a spend
// model for a currency, expected spend is the contact's own mean purchase.
//
// Churn reports P(alive) and "overdue": the time since the last purchase
// exceeds the contact's mean gap between purchases × OverdueFactor
// (default 2). A contact with one purchase has no usual gap and is never
// overdue.
//
// # RFM
//
// Recency (last purchase), frequency (number of purchases) and monetary
// value (their sum) are scored 1–5 as NTILE(5) would, over the contacts
// of each currency: SQL sums each contact's purchases, Go ranks them
// (three NTILE windows cost SQLite ten times the sums). Ties are ranked by
// contact id, so equal values may straddle a quintile boundary,
// identically on both databases. Segments
// are named from R and F by the table at SegmentOf (champions, loyal,
// potential loyalist, new, promising, need attention, about to sleep, at
// risk, can't lose, hibernating, lost). RFM returns the scores;
// StoreScores stores them on the contacts (below).
//
// # Stored scores
//
// StoreScores computes every purchasing contact's R, F, M, segment,
// P(alive) and overdue flag and stores them on the contact through the
// contacts module (contacts.Facts.Customer), where lists, segments and
// rule conditions filter by them: "rfm_segment" = "at_risk",
// "churn_overdue" = true, "p_alive" < 0.3, "rfm_r", "rfm_f", "rfm_m",
// "customer_scored_at". The values are RFM's and Churn's for the same
// options (a test holds them equal on both databases, P(alive) to the
// bit), computed from one stream of the purchases — the customer summary
// query — rather than those reports' two queries, so that both parts see
// one state of the data and one end of observation, and a million
// customers need about half the memory. Where Churn reports P(alive) 0
// because the data determine no fit, the stored P(alive) is unknown
// (nil), which no "p_alive" condition selects. Each call replaces the
// tenant's stored scores in one transaction: contacts without a
// purchase in the period any more lose theirs; restricted contacts keep
// theirs; erased contacts — ranked with the others, as in the reports —
// get none (see the contacts package). A contact with purchases in
// several currencies (which the contacts module refuses) takes its first
// currency's scores.
//
// The workers can refresh the stored scores for every tenant with
// contacts (periodic work PeriodicStoreScores, "customer_scores"): it is
// off until crm.Config.Periodic["customer_scores"] sets an interval
// (24h for nightly); otherwise call StoreScores yourself. A refresh reads
// every purchase and rewrites every customer's row in one transaction
// (statements of 512 contacts); on SQLite other writers wait for it. It
// is not yet fit for 1M contacts on SQLite: a refresh of the benchmark
// tenant (1M contacts, 675k customers) ran over 10 minutes and was
// stopped, where 20,000 contacts take 0.8 s — something in it grows
// faster than the customers, not yet found. Hence off by default.
//
// # Cohorts
//
// Contacts are grouped by the month of their first purchase ever (a
// contact whose first purchase precedes the period is in no cohort);
// Active[n] counts those who purchased n months later, Retention[n] is
// Active[n] / Size (1 for month 0 by definition), and Revenue holds the
// cohort's purchases per month and currency. Months are calendar months in
// the caller's time zone (default UTC) on both databases: SQLite has no
// time zones and PostgreSQL's would depend on the server's zone database,
// so the month boundaries — local midnight of each 1st, from time.Date in
// the zone, exact across daylight-saving changes — are computed in Go.
// One SQL query streams the purchases before the period's end in contact
// order; each is placed among the boundaries as it passes, and each
// contact's first month makes its cohort. A period spans at most
// MaxCohortMonths months.
//
// # Funnel
//
// Funnel counts, for each stage of the funnel (by default subscriber to
// customer), the contacts that entered it in the period and those of them
// that later entered a later stage, with the hours that took (median and
// 90th percentile), overall and per owner. It reads the stage history the
// contacts module keeps from its own events (crm_contact_stages; the
// history before that table existed starts with each contact's stage at
// its creation).
//
// # Dashboard
//
// Dashboard gives the numbers a sales, marketing and service lead look at
// first, one query each: the period's new contacts, won and lost deals,
// won revenue (per currency) and win rate, campaign mails sent and opened,
// tickets solved; and, as of now, the open pipeline and the open and
// overdue tickets.
//
// # Campaigns
//
// Campaigns reports each campaign started in the period: its recipients
// by state, the people who opened and clicked (programs left out, a click
// counting as an opening), bounces, complaints, unsubscribes through its
// links, and its revenue: per currency, the purchases its recipients made
// after their first click and within CampaignOptions.RevenueWindow (7
// days by default) of it — one campaign's credit, without sharing it
// between campaigns (Attribution shares revenue between touchpoints).
//
// # Service levels
//
// ServiceLevels reports the service desk over a period of days in a time
// zone (ServiceOptions.Location, default UTC; the days' bounds are local
// midnights from time.Date, bound as UTC instants as Cohorts does), for
// every ticket or those of one team (TeamID; the tickets module files a
// ticket under its team's name), in total and, when asked, per team,
// priority, channel or assignee (the ticket's value now):
//
//   - Created and Solved: tickets created in the period; tickets resolved
//     (solved or closed) in it, by their latest resolution. A duplicate
//     closed by a merge is not resolved work and is left out of Solved,
//     resolution times and resolution SLAs.
//   - First response and resolution times: from creation to the first
//     public agent reply, of the tickets first answered in the period,
//     and to resolution, of those Solved; count, mean, and 50th and 90th
//     percentiles by linear interpolation between closest ranks (as
//     Funnel's), in minutes. They are wall-clock time, pauses included:
//     the tickets module stores the business time of pauses
//     (paused_seconds) but not the business time a response or a
//     resolution took, which would need each policy's calendar, in Go,
//     for every ticket. The SLA compliance below is in business time, as
//     the module measures it. The percentiles are computed in SQL: by
//     PostgreSQL's percentile_cont, and on SQLite, which has no such
//     aggregate, from each duration's rank and its group's size as window
//     functions (ROW_NUMBER, COUNT), the two ranks around q·(n−1) picked
//     with integer arithmetic and interpolated — the same quantile.
//   - SLA compliance per policy (the ticket's policy now), and over every
//     policy: the first response and resolution targets decided in the
//     period — met (when met, at or before the due time) or breached
//     (dated at the due time) — and Rate = met / (met + breached). A
//     target is breached as the tickets module shows it (Ticket.SLA): met
//     late, or not met and past due at the reference time, which is now,
//     or the start of the clock's current stop (pending, on hold,
//     resolved), so a stopped clock breaches nothing new. Targets not yet
//     decided count in neither.
//   - Backlog: the tickets open (not solved or closed; pending and on
//     hold count) at the end of each day or week (Monday to Sunday) of
//     the period, local midnight; a day or week not over yet is measured
//     now and those after it are left out. A ticket is open from its
//     creation to its latest resolution (solved_at) less the stretches it
//     was resolved before, which its status history gives: the tickets
//     module records every change of status as a "ticket.status_changed"
//     event (from, to) in crm_events, and each reopening (from solved or
//     closed to another status) ends a stretch that began at the latest
//     resolution before it (to solved or closed from another status). So a
//     ticket solved, reopened and solved again is open only between.
//     History the events no longer hold (an erasure empties the data of a
//     person's ticket events; rows a host wrote without events) leaves the
//     ticket open from creation to latest resolution, as does a
//     reopening at the very instant of the latest resolution (the events
//     read for a resolved ticket end before it). At most
//     MaxBacklogPoints points. One query counts the creations, latest
//     resolutions and the resolved stretches' starts and ends before each
//     point: those before the first point in one count (most tickets),
//     the rest placed among the points by nested CASEs (log₂ comparisons
//     per row); Go adds them up. The history is read only for the tickets
//     that can have reopened since the first point: those resolved since,
//     and those not resolved and changed since (updated_at, which the
//     tickets module stamps with every change, events included). The
//     tickets module's indexes on (tenant_id, solved_at, …) and
//     (tenant_id, first_response_at, …) let the resolutions, the first
//     responses and these tickets be read as ranges of an index alone.
//   - CSAT and NPS: every survey answer given in the period (a ticket
//     rated twice counts twice). CSAT: the average (1–5) and the share of
//     4 and 5; NPS: promoters (9–10), passives, detractors (0–6) and the
//     score, the share of promoters minus that of detractors in points.
//
// Four queries over the tenant's tickets created before the period ends,
// and one for the names of the policies. Counts, rates and averages over
// no tickets are zero.
//
// # Forecast accuracy
//
// The pipeline module keeps the forecast as it stood on each day it was
// taken (pipeline.Deals.SnapshotForecast; the workers take it daily):
// per month, pipeline, owner and currency, the amount won, the open
// amount weighted by stage probability, committed and in all, for the
// months of the day's quarter and the three quarters after it.
// ForecastAccuracy compares each snapshot with what was won in the
// periods it forecast: the months (or quarters, the sums of their months)
// that start in the period and are over by today, each against every
// snapshot that covers all of its months and was taken before it ended.
// Per period, snapshot and currency (never summed across currencies) it
// reports the forecasts — Weighted (won so far + weighted open), Commit
// (won so far + committed open), BestCase (won so far + all open) — the
// actual (deals won in the period, by close day, as of now), the error
// (forecast − actual) and the absolute percentage error (|error| /
// actual; nil when nothing was won), with how far ahead the snapshot was
// taken in days and calendar months. ByLead sums them up per months ahead
// and currency: the mean absolute percentage error over the comparisons
// with an actual, and the mean error (bias). A snapshot without a line in
// a currency that was won forecast zero in it. Three queries: the
// snapshots, their lines summed per day, month and currency, and the
// won deals per month and currency.
//
// # Record access
//
// With an actor in the context (core.WithActor) every report — Pipelines,
// Attribution, CustomerValue, Churn, RFM, Cohorts, Funnel, Dashboard,
// Campaigns, ServiceLevels and ForecastAccuracy — and StoreScores need
// "analytics" read (package access; no actor is the
// host's own trusted code, which sees everything, as before roles
// existed). Without it the report is core.ErrForbidden, written to the
// audit log through store.Runtime.Audit: action AuditDenied
// ("access.denied"), subject type "report", detail "analytics:read".
//
// A report then aggregates only the records the actor sees in the module
// that owns them, as that module decides, in the SQL of its queries (so
// sums, counts and rates are of those records alone):
//
//   - deals by the pipeline module's visibility of their owner_id (own,
//     team, all): Pipelines (the deal figures and the stage conversion),
//     Attribution, the Dashboard's open pipeline, won and lost deals,
//     revenue and win rate, and ForecastAccuracy, whose snapshots are
//     kept per owner: a snapshot's lines count by their owner then, the
//     won deals by their owner now. A sales rep with own visibility gets
//     the report, the dashboard and the forecast accuracy of their own
//     deals.
//   - contacts by the contacts module's visibility of their owner_id: the
//     Dashboard's new contacts, the Funnel, and the purchases (activities
//     of a contact) that CustomerValue, Churn, RFM, Cohorts and the
//     Campaigns report's revenue sum. The models and the RFM quintiles are
//     fitted and ranked over the contacts the actor sees. StoreScores
//     ranks them so too, but stores for an actor only when they see
//     every contact and may update contacts (the contacts module's
//     check, made once the scores are computed): else ErrForbidden.
//   - tickets by the condition the tickets module writes for them
//     (tickets.Module.Narrow, the one its own lists and Count apply): the
//     tickets assigned to the actor (own); with team visibility those
//     assigned to a member of one of the actor's teams or filed under one
//     of those teams by name, whoever they are assigned to; or all. It
//     narrows the Dashboard's open, overdue and solved tickets and every
//     figure of ServiceLevels, whose survey answers are those of the
//     tickets seen; so a team lead's report counts the tickets of their
//     ticket list.
//   - campaigns, which have no owner, for actors who read the campaigns
//     module: the Dashboard's mails sent and opened and the Campaigns
//     report's rows, whose recipient, opening, bounce and unsubscribe
//     counts are the whole campaign's (as campaigns.Campaigns.Stats).
//
// A module the actor may not read contributes nothing (zeros, no rows,
// and Pipelines lists no pipeline), never an error. Attribution narrows
// the deals; the touchpoints of a deal the actor sees are its contact's,
// whoever owns the contact (channel and campaign names). Revenue figures
// hold no personal data, and the rows that list people (RFM,
// CustomerValue, Churn) carry contact ids and figures only — no email or
// phone, the fields the contacts module masks — so nothing in a report is
// masked; Funnel's owners are users' ids.
package analytics
