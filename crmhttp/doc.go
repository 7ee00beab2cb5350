// Package crmhttp is crmkit's HTTP API: an http.Handler a host mounts on
// its own server, under a prefix of its choice.
//
//	h, err := crmhttp.New(c, crmhttp.Options{Auth: func(r *http.Request) (string, core.Actor, error) {
//		u, err := myapp.UserOf(r) // the host's own login: crmkit does none
//		if err != nil {
//			return "", core.Actor{}, err
//		}
//		return u.Tenant, core.Actor{ID: u.ID}, nil
//	}})
//	mux.Handle("/crm/", http.StripPrefix("/crm", h))
//
// # The API
//
// REST/JSON on github.com/danielgtaylor/huma/v2 over the standard
// library's router, with its OpenAPI 3.1 document at /openapi.json. Every
// request of the API goes through Options.Auth, which names the tenant
// and the acting user (core.Actor, put in the context of every call).
// Lists take the filter language's JSON form (?filter=) and return signed
// cursors (next). A record's version is its ETag; an update needs If-Match
// with it (missing: 428, stale: 412). Errors are RFC 9457 problem details
// (application/problem+json): 422 lists every field problem, and no
// message carries personal data. A create (a POST to a collection) with
// an Idempotency-Key runs once per tenant and key: sent again with the
// same body it answers as the first time (Idempotent-Replayed: true),
// with another body 422 (keys kept 24 hours). GET /event-types is the event
// catalogue.
//
// The route groups (each also in the document, with its operations):
//
//	/contacts, /companies, /tasks, /notes, /deals  list, create, get, update, delete; POST /deals/{id}/stage moves a deal
//	/pipelines                                     the pipelines and their stages (GET)
//	/segments, /templates                          list, create, get, update, delete
//	/campaigns                                     list, create, get; start, pause, resume, cancel and stats
//	/tickets                                       list, create, get, update; status, assignment and messages (and the service desk's routes below)
//	/purposes, /contacts/{id}/consent/…            consent purposes (define, get); a contact's consent and log, grants, withdrawals
//	/contacts/{id}/export, /contacts/{id}/erase    the subject access export and erasure
//	/rules, /webhooks                              automation rules and webhook subscriptions
//	/contacts/{id}/activities, …/timeline          records a contact's activity (tracking); the contact's timeline
//	/search                                        full-text search of contacts and companies
//	/analytics/…                                   the dashboard's numbers, the funnel, service levels, forecast accuracy (JSON; the HTML pages are below)
//	/event-types                                   the event catalogue
//	/fields                                        custom field definitions
//	/users, /teams, /roles                         users (deactivated, not deleted), teams with their members, roles
//	POST /imports/contacts, GET /exports/contacts  the contacts' CSV import and export
//
// Every module checks the actor's permissions and record visibility (see
// package access): an action the actor's roles do not allow is 403, a
// record they do not see 404, and personal fields are masked as in the
// Go API. Changes to users, teams and roles need If-Match; reading them
// needs the access module's read permission and changing them its manage
// permission, as custom fields need the fields module's. POST
// /imports/contacts takes the file as a text/csv body or as the part
// "file" of a multipart form (at most Options.MaxImportBytes, 32 MiB by
// default; larger is 413), detects its delimiter and encoding unless told,
// and answers with the counts, the failed rows by line and the column
// mapping (it takes no Idempotency-Key: the import is an upsert, and the
// same file sent again changes nothing); GET /exports/contacts streams
// text/csv.
//
// # Service desk
//
// Besides the tickets' own routes, the tickets module's services:
//
//	/sla-calendars, /sla-policies     business-hours calendars and SLA policies (list, create, get, replace, delete)
//	/ticket-routing                   the routing rules and each team's assignment mode (get, replace); POST …/drain serves the queues (tickets update)
//	/macros                           canned replies with field changes (list, create, get, replace, delete)
//	POST /tickets/{id}/macros/{macro} applies a macro as the calling user's reply (If-Match: the ticket's version)
//	POST /tickets/inbound             takes a raw mail (message/rfc822, at most MaxInboundMailBytes; larger is 413): a new ticket, a reply, or ignored
//	/classifier/…                     train, models, settings (get, replace) and suggestions for a text; GET /tickets/{id}/suggestion for a ticket
//	/articles                         the knowledge base (list, create, get, update, delete, publish, unpublish); GET /articles/search?q=
//	GET /tickets/{id}/articles        published articles that match a ticket
//	POST /tickets/{id}/merge          merges a duplicate into a target ticket (If-Match: the duplicate's version)
//	POST /tickets/{id}/surveys        a signed satisfaction survey link (csat or nps) of a solved ticket; the score becomes the ticket's
//	GET /tickets/{id}/links           follow-ups and referring tickets
//
// Settings (calendars, policies, routing, macros, the classifier's
// training and threshold, articles) are read with "tickets" read and
// changed with "tickets" manage; replacing and deleting them needs
// If-Match, and the tenant-wide routing and classifier settings answer
// with ETag "0" until first set (If-Match: "0" sets them). A ticket the
// actor does not see is 404 on every route that names it, as in the Go
// API; a knowledge base draft is 404 to those who may not write it.
// Inbound mail is the host's mail intake: it usually calls without a
// user, and its query parameters are tickets.InboundOptions (team,
// closed, ticket_hook, own_address, …); attachments are kept as metadata
// whose storage key names their part of the mail.
//
// # Dashboard
//
// Under /dashboard/ the handler serves HTML pages for people: server-rendered
// (html/template, embedded; no JavaScript, no build step), with SVG bar charts
// drawn on the server by github.com/go-analyze/charts, each an <svg
// role="img"> with a <title> and <desc>, its values written at the bars and
// repeated in a table with a caption and scoped header cells:
//
//	/dashboard/                the overview: analytics.Dashboard's numbers for sales, marketing and service
//	/dashboard/pipeline        a pipeline's board (open deals and amounts per stage) and its forecast (?pipeline=ID)
//	/dashboard/funnel          the lifecycle funnel, each pipeline's win rate and stage conversion
//	/dashboard/cohorts         the retention matrix (a heat scale) and revenue per cohort (?tz=Europe/Berlin)
//	/dashboard/campaigns       each campaign's performance and the service desk's tickets (open, overdue, solved)
//	/dashboard/contacts/{id}   a contact's 360° page: details, company, deals, tickets, consent, the timeline
//
// The pages authenticate with the same Options.Auth as the API and read only
// through the modules' Go API with the actor in the context, so record
// access and masking are the modules': a report the actor may not read is a
// 403 page, a record they may not see (or another tenant's) a 404 page, and
// the contact's email, phone and personal custom fields are shown as the
// contacts module gives them to the actor (empty when masked). On the contact
// page a part the actor may not read (deals, tickets, consent) says so instead
// of failing the page. The period is ?from=YYYY-MM-DD&to=YYYY-MM-DD, days
// [from, to) in UTC as in the API's reports (at most three years; without
// them, a default that suits the page, taken from the wall clock); bad input
// is a 422 page listing every problem. URLs carry ids, days, a time zone's
// name and the timeline's opaque cursor, never personal data. Pages are sent
// with Cache-Control: no-store, Referrer-Policy: no-referrer and a
// Content-Security-Policy that allows no script. Links are relative, so the
// pages work under whatever prefix the host mounts the handler.
//
// # Public routes
//
// The links in mails reach /public/… without the host's authentication:
// their signed tokens name the tenant (and ids, never personal data), and
// each client address is rate limited (Options.PublicRate; math.Inf(1)
// lifts the limit, e.g. behind a proxy that limits). A GET never
// changes anything — mail scanners and previews follow links — so every
// action is a POST from the page's form (or RFC 8058's one-click POST):
//
//	GET  /public/unsubscribe/{token}  asks before unsubscribing
//	POST /public/unsubscribe/{token}  withdraws the consent (List-Unsubscribe=One-Click, or the page's button)
//	GET  /public/confirm/{token}      a double opt-in: the purpose and the wording the person was asked with
//	POST /public/confirm/{token}      confirms it (confirm=yes), then thanks; confirming again says it was done already
//	GET  /public/preferences/{token}  the preference centre: the tenant's purposes on consent or legitimate interest, per channel
//	POST /public/preferences/{token}  records the choices (grants and withdrawals of what changed, source "preference_centre")
//	GET  /public/survey/{token}       a ticket's survey: CSAT 1–5 or NPS 0–10, and an optional comment
//	POST /public/survey/{token}       records the answer (score=…&comment=…); a link answers once
//	GET  /public/t/o/{token}          the open pixel (a 1×1 GIF)
//	GET  /public/t/c/{token}          a tracked link: redirects (302), only to the URL the message held (HEAD too)
//
// Point crm.Config.Campaigns.UnsubscribeURL at <mount>/public/unsubscribe
// and TrackingURL at <mount>/public/t. The other links are the host's to
// send: <mount>/public/confirm/ + the token of consent's RequestOptIn
// (OptIn.Token), <mount>/public/preferences/ + the token of
// PreferencesToken, <mount>/public/survey/ + the token of tickets' Survey.
// The consent proofs these pages record carry the client's address and
// user agent only when crm.Config.RecordNetworkDetails is set.
//
// The pages are server-rendered HTML (html/template, no script, a lang
// attribute, labelled fields), sent with Cache-Control: no-store,
// Referrer-Policy: no-referrer and a Content-Security-Policy that allows
// no script. A forged or foreign token is a 404 page, an expired one 410,
// a survey that was answered, replaced or expired 410; a form that is not
// the page's (not application/x-www-form-urlencoded, over 64 KiB, a
// missing or out-of-range field) is 400 or 422 and writes nothing; a
// grant or confirmation for a suppressed address 409. No page names the
// person: the preference centre shows the purposes, not the address.
package crmhttp
