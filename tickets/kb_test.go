package tickets_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/tickets"
)

// publish creates an article in c's tenant and publishes it.
func publish(t *testing.T, c *crm.CRM, in tickets.NewArticle) *tickets.Article {
	t.Helper()
	ctx := context.Background()
	a, err := c.KnowledgeBase.Create(ctx, in)
	require.NoError(t, err)
	a, err = c.KnowledgeBase.Publish(ctx, a.ID, a.Version)
	require.NoError(t, err)
	return a
}

// hitIDs are the ids of hits, in order.
func hitIDs(hits []tickets.ArticleHit) []core.ID {
	out := []core.ID{}
	for _, h := range hits {
		out = append(out, h.Article.ID)
	}
	return out
}

// An article is created as a draft (author from the actor), read, changed
// field by field with its version (stale: ErrConflict; nothing changed:
// nothing written), published, unpublished, listed by status, category
// and locale, and deleted; each change emits its event. Bad input lists
// every problem and writes nothing.
func TestKnowledgeBaseArticles(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		kb := b.c.KnowledgeBase

		_, err := kb.Create(ctx, tickets.NewArticle{Title: "  ", Locale: "klingon", Category: "Not A Code", Body: "ok\x00"})
		require.ElementsMatch(t, []string{"title", "locale", "category", "body"}, fieldsOf(t, err))
		for _, bad := range []string{"xx", "und", "x-private", "de_DE_bogus_tag_too_long_for_anything", "zz-ZZ"} {
			_, err = kb.Create(ctx, tickets.NewArticle{Title: "T", Locale: bad})
			require.Equal(t, []string{"locale"}, fieldsOf(t, err), bad)
		}
		_, err = kb.Create(ctx, tickets.NewArticle{Title: "T"})
		require.Equal(t, []string{"locale"}, fieldsOf(t, err), "the locale is required")
		_, err = kb.Create(ctx, tickets.NewArticle{Title: strings.Repeat("t", tickets.MaxArticleTitleLen+1), Locale: "en"})
		require.Equal(t, []string{"title"}, fieldsOf(t, err))
		require.Zero(t, b.count(t, "crm_kb_articles"), "nothing written")

		body := "# Refunds\n\nOpen *Orders*, choose **Refund**.\n\t- within 30 days\n"
		a, err := kb.Create(core.WithActor(ctx, core.Actor{ID: "writer-1"}), tickets.NewArticle{Title: " Refunds ", Body: body, Category: "billing",
			Locale: "EN-gb", AuthorID: "ignored"})
		require.ErrorIs(t, err, core.ErrForbidden, "an actor needs tickets manage")
		a, err = kb.Create(ctx, tickets.NewArticle{Title: " Refunds ", Body: body, Category: "billing", Locale: "EN-gb", AuthorID: "writer-1"})
		require.NoError(t, err)
		require.Equal(t, "Refunds", a.Title)
		require.Equal(t, body, a.Body, "the body is stored as given")
		require.Equal(t, "en-GB", a.Locale)
		require.Equal(t, tickets.ArticleDraft, a.Status)
		require.Equal(t, "writer-1", a.AuthorID)
		require.Nil(t, a.PublishedAt)
		require.EqualValues(t, 1, a.Version)
		got, err := kb.Get(ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, a, got)

		// Changes take the version read.
		_, err = kb.Update(ctx, a.ID, tickets.ArticlePatch{Title: ptr("Refund policy")})
		require.Equal(t, []string{"version"}, fieldsOf(t, err))
		a, err = kb.Update(ctx, a.ID, tickets.ArticlePatch{Version: 1, Title: ptr("Refund policy"), Locale: ptr("en")})
		require.NoError(t, err)
		require.EqualValues(t, 2, a.Version)
		require.Equal(t, "en", a.Locale)
		_, err = kb.Update(ctx, a.ID, tickets.ArticlePatch{Version: 1, Body: ptr("stale")})
		require.ErrorIs(t, err, core.ErrConflict)
		same, err := kb.Update(ctx, a.ID, tickets.ArticlePatch{Version: 2, Title: ptr("Refund policy")})
		require.NoError(t, err)
		require.EqualValues(t, 2, same.Version, "no change, nothing written")
		_, err = kb.Update(ctx, a.ID, tickets.ArticlePatch{Version: 2, Title: ptr(""), Locale: ptr("nope")})
		require.ElementsMatch(t, []string{"title", "locale"}, fieldsOf(t, err))
		_, err = kb.Update(ctx, core.NewID(), tickets.ArticlePatch{Version: 1, Title: ptr("x")})
		require.ErrorIs(t, err, core.ErrNotFound)

		// Publishing needs a body.
		empty, err := kb.Create(ctx, tickets.NewArticle{Title: "Empty", Locale: "de"})
		require.NoError(t, err)
		_, err = kb.Publish(ctx, empty.ID, empty.Version)
		require.Equal(t, []string{"body"}, fieldsOf(t, err))
		_, err = kb.Publish(ctx, a.ID, 1)
		require.ErrorIs(t, err, core.ErrConflict)
		a, err = kb.Publish(ctx, a.ID, a.Version)
		require.NoError(t, err)
		require.Equal(t, tickets.ArticlePublished, a.Status)
		require.Equal(t, b.clock.Now(), *a.PublishedAt)
		again, err := kb.Publish(ctx, a.ID, a.Version)
		require.NoError(t, err)
		require.Equal(t, a.Version, again.Version, "published already: nothing written")

		de := publish(t, b.c, tickets.NewArticle{Title: "Rückerstattung", Body: "Geld zurück", Category: "billing", Locale: "de-CH"})
		deDE := publish(t, b.c, tickets.NewArticle{Title: "Lieferung", Body: "Paket", Category: "shipping", Locale: "de-DE"})
		list := func(opts tickets.ArticleListOptions) []core.ID {
			t.Helper()
			var out []core.ID
			opts.Limit = 2
			for range 10 {
				page, err := kb.List(ctx, opts)
				require.NoError(t, err)
				for _, x := range page.Items {
					out = append(out, x.ID)
				}
				if page.Next == "" {
					return sortedIDs(out)
				}
				opts.Cursor = page.Next
			}
			t.Fatal("the pages do not end")
			return nil
		}
		require.Equal(t, sortedIDs([]core.ID{a.ID, empty.ID, de.ID, deDE.ID}), list(tickets.ArticleListOptions{}))
		require.Equal(t, sortedIDs([]core.ID{empty.ID}), list(tickets.ArticleListOptions{Status: tickets.ArticleDraft}))
		require.Equal(t, sortedIDs([]core.ID{a.ID, de.ID}), list(tickets.ArticleListOptions{Category: "billing"}))
		require.Equal(t, sortedIDs([]core.ID{empty.ID, de.ID, deDE.ID}), list(tickets.ArticleListOptions{Locale: "de"}), "a bare language: all its locales")
		require.Equal(t, sortedIDs([]core.ID{de.ID}), list(tickets.ArticleListOptions{Locale: "de-ch"}), "a locale: exactly it")
		require.Equal(t, sortedIDs([]core.ID{de.ID}), list(tickets.ArticleListOptions{Locale: "de", Category: "billing", Status: tickets.ArticlePublished}))
		_, err = kb.List(ctx, tickets.ArticleListOptions{Status: "archived", Locale: "??", Sort: "body"})
		require.ElementsMatch(t, []string{"status", "locale"}, fieldsOf(t, err))
		page, err := kb.List(ctx, tickets.ArticleListOptions{Sort: "title"})
		require.NoError(t, err)
		require.Equal(t, []string{"Empty", "Lieferung", "Refund policy", "Rückerstattung"}, []string{page.Items[0].Title,
			page.Items[1].Title, page.Items[2].Title, page.Items[3].Title})

		a, err = kb.Unpublish(ctx, a.ID, a.Version)
		require.NoError(t, err)
		require.Equal(t, tickets.ArticleDraft, a.Status)
		require.Nil(t, a.PublishedAt)

		require.ErrorIs(t, kb.Delete(ctx, a.ID, 1), core.ErrConflict)
		require.Equal(t, []string{"version"}, fieldsOf(t, kb.Delete(ctx, a.ID, 0)))
		require.NoError(t, kb.Delete(ctx, a.ID, a.Version))
		_, err = kb.Get(ctx, a.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		require.ErrorIs(t, kb.Delete(ctx, a.ID, a.Version), core.ErrNotFound)
		require.Equal(t, []string{tickets.EventArticleCreated, tickets.EventArticleUpdated, tickets.EventArticlePublished,
			tickets.EventArticleUnpublished, tickets.EventArticleDeleted}, b.eventTypes(t, a.ID))
		evs, err := b.c.Events(ctx, crm.EventQuery{SubjectID: a.ID, Types: []string{tickets.EventArticleUpdated}})
		require.NoError(t, err)
		require.JSONEq(t, `["title","locale"]`, string(mustField(t, evs[0].Data, "changed")))
	})
}

// Search finds published articles by their words, whatever the case and
// the spelling of umlauts, and the endings the stemmer removes, each
// word also as a prefix; a title match ranks above a body match. Drafts,
// unpublished and deleted articles are not found, a change of a
// published article is found at once, and another tenant's articles
// never are.
func TestKnowledgeBaseSearch(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		kb := b.c.KnowledgeBase
		refund := publish(t, b.c, tickets.NewArticle{Title: "Rückerstattung beantragen", Locale: "de",
			Body: "So beantragen Sie eine Rückerstattung für Ihre Bestellung: Öffnen Sie »Meine Bestellungen« und wählen Sie Erstattung. Die Gutschrift erfolgt in 5–7 Tagen."})
		sizes := publish(t, b.c, tickets.NewArticle{Title: "Größentabelle", Locale: "de-AT",
			Body: "Welche Größe passt? Unsere Größen fallen klein aus; bei Rückerstattung wegen falscher Größe zahlen wir den Versand."})
		en := publish(t, b.c, tickets.NewArticle{Title: "Requesting a refund", Locale: "en",
			Body: "Open My orders and choose Refund. Refunds are credited within 5 to 7 days."})
		pwd := publish(t, b.c, tickets.NewArticle{Title: "Reset your password", Locale: "en",
			Body: "Use Forgot password on the login page; the e-mail with the link arrives within minutes."})
		draft, err := kb.Create(ctx, tickets.NewArticle{Title: "Rückerstattung (Entwurf)", Locale: "de", Body: "Rückerstattung geheim"})
		require.NoError(t, err)
		// Another tenant, the same words, published.
		acme := b.c.Tenant("acme")
		theirs := publish(t, acme, tickets.NewArticle{Title: "Rückerstattung", Locale: "de", Body: "Rückerstattung Rückerstattung Refund refund"})

		search := func(query, locale string) []core.ID {
			t.Helper()
			hits, err := kb.Search(ctx, query, locale)
			require.NoError(t, err, query)
			for _, h := range hits {
				require.Positive(t, h.Score)
				require.Equal(t, tickets.ArticlePublished, h.Article.Status)
			}
			return hitIDs(hits)
		}
		for _, q := range []string{"rückerstattung", "Rueckerstattung", "RÜCKERSTATTUNG", "Rückerstattungen", "rück", "RUECK", "Erstattung Gutschrift"} {
			ids := search(q, "")
			require.NotEmpty(t, ids, q)
			require.Equal(t, refund.ID, ids[0], "%s: the title match first", q)
			require.NotContains(t, ids, draft.ID, q)
			require.NotContains(t, ids, theirs.ID, q)
		}
		require.Equal(t, []core.ID{refund.ID, sizes.ID}, search("Rückerstattung", "de"))
		require.Equal(t, []core.ID{sizes.ID}, search("Rückerstattung", "de-AT"), "a locale: exactly it")
		require.Empty(t, search("Rückerstattung", "en"))
		require.Equal(t, []core.ID{sizes.ID}, search("groesse", ""), "ß and ö folded: Größe is groesse")
		require.Equal(t, []core.ID{en.ID}, search("refunds credited", ""), "every word")
		require.Equal(t, []core.ID{pwd.ID}, search("Passwords", "en"))
		require.Empty(t, search("refund password", ""), "no article has both")
		require.Empty(t, search("Entwurf", ""), "a draft is not searched")

		for q, field := range map[string]string{"the and of": "query", "12345": "query", " ?! ": "query", "bad\x00": "query"} {
			_, err := kb.Search(ctx, q, "")
			require.Equal(t, []string{field}, fieldsOf(t, err), "%q", q)
		}
		_, err = kb.Search(ctx, "refund", "xx-YY")
		require.Equal(t, []string{"locale"}, fieldsOf(t, err))

		// A change of a published article is searched at once; unpublished
		// and deleted ones are gone.
		en, err = kb.Update(ctx, en.ID, tickets.ArticlePatch{Version: en.Version, Body: ptr("Reimbursement within a week.")})
		require.NoError(t, err)
		require.Equal(t, []core.ID{en.ID}, search("reimbursement", ""))
		require.Empty(t, search("credited", ""))
		draft, err = kb.Publish(ctx, draft.ID, draft.Version)
		require.NoError(t, err)
		require.Contains(t, search("Entwurf", ""), draft.ID)
		_, err = kb.Unpublish(ctx, draft.ID, draft.Version)
		require.NoError(t, err)
		require.Empty(t, search("Entwurf", ""))
		require.NoError(t, kb.Delete(ctx, sizes.ID, sizes.Version))
		require.Empty(t, search("Größentabelle", ""))
		require.Equal(t, 3, b.count(t, "crm_kb_search")-1, "the index holds the published articles (and acme's)")

		// The other tenant finds its own only.
		hits, err := acme.KnowledgeBase.Search(ctx, "Rückerstattung", "")
		require.NoError(t, err)
		require.Equal(t, []core.ID{theirs.ID}, hitIDs(hits))
		_, err = acme.KnowledgeBase.Get(ctx, refund.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = acme.KnowledgeBase.Update(ctx, refund.ID, tickets.ArticlePatch{Version: refund.Version, Title: ptr("x")})
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

// SuggestArticles finds the articles for a ticket's text: any of its
// significant words, the best first.
func TestKnowledgeBaseSuggestArticles(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		kb := b.c.KnowledgeBase
		refund := publish(t, b.c, tickets.NewArticle{Title: "Rückerstattung beantragen", Locale: "de",
			Body: "So beantragen Sie eine Rückerstattung für Ihre Bestellung. Die Gutschrift erfolgt in wenigen Tagen."})
		delivery := publish(t, b.c, tickets.NewArticle{Title: "Wo ist mein Paket?", Locale: "de",
			Body: "Die Sendungsverfolgung zeigt, wo Ihr Paket ist. Bei Verspätung hilft der Paketdienst."})
		pwd := publish(t, b.c, tickets.NewArticle{Title: "Reset your password", Locale: "en",
			Body: "Use Forgot password on the login page."})
		_, err := kb.Create(ctx, tickets.NewArticle{Title: "Paket Rückerstattung Passwort (Entwurf)", Locale: "de", Body: "Paket Paket"})
		require.NoError(t, err)
		theirs := publish(t, b.c.Tenant("acme"), tickets.NewArticle{Title: "Paket Paket Paket", Locale: "de", Body: "Paket verspätet"})

		suggest := func(subject, body string, n int) []core.ID {
			t.Helper()
			hits, err := kb.SuggestArticles(ctx, subject, body, n)
			require.NoError(t, err)
			require.LessOrEqual(t, len(hits), n)
			require.NotContains(t, hitIDs(hits), theirs.ID)
			return hitIDs(hits)
		}
		require.Equal(t, refund.ID, suggest("Geld zurück", "Hallo, ich hätte gern eine Rückerstattung für meine Bestellung #4711, die Gutschrift fehlt.", 3)[0])
		require.Equal(t, []core.ID{delivery.ID}, suggest("Paket verspätet", "Mein Paket ist seit einer Woche unterwegs, die Sendungsverfolgung zeigt nichts.", 3))
		require.Equal(t, []core.ID{pwd.ID}, suggest("Cannot login", "I forgot my password", 1))
		ids := suggest("Paket und Rückerstattung", "Paket kam nie an, ich möchte eine Rückerstattung", 5)
		require.ElementsMatch(t, []core.ID{refund.ID, delivery.ID}, ids)
		require.Empty(t, suggest("Hallo", "danke, 12345", 5), "no significant word: nothing")
		require.Empty(t, suggest("Quux", "frobnicate", 5))

		_, err = kb.SuggestArticles(ctx, "x", "y", 0)
		require.Equal(t, []string{"n"}, fieldsOf(t, err))
		_, err = kb.SuggestArticles(ctx, "x\x00", "y", tickets.MaxArticleHits+1)
		require.ElementsMatch(t, []string{"subject", "n"}, fieldsOf(t, err))
	})
}

// Reading published articles needs "tickets" read; drafts and every
// change need "tickets" manage. A draft is not found by a reader.
func TestKnowledgeBaseAccess(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		b := setup(t, db)
		ctx := context.Background()
		_, err := b.c.Access.Roles.InstallBuiltins(ctx)
		require.NoError(t, err)
		for id, role := range map[string]string{"root": access.RoleAdmin, "dave": access.RoleSupport, "erin": access.RoleMarketing} {
			_, err := b.c.Access.Users.Create(ctx, access.UserInput{ID: id, DisplayName: id, TimeZone: "UTC", Roles: []string{role}})
			require.NoError(t, err)
		}
		kb := b.c.KnowledgeBase
		root, dave, erin := as("root"), as("dave"), as("erin")
		pub, err := kb.Create(root, tickets.NewArticle{Title: "Refunds", Body: "refund within days", Locale: "en", AuthorID: "someone"})
		require.NoError(t, err)
		require.Equal(t, "root", pub.AuthorID, "the actor is the author")
		pub, err = kb.Publish(root, pub.ID, pub.Version)
		require.NoError(t, err)
		draft, err := kb.Create(root, tickets.NewArticle{Title: "Refund draft", Body: "refund soon", Locale: "en"})
		require.NoError(t, err)

		// The support role reads published articles only.
		got, err := kb.Get(dave, pub.ID)
		require.NoError(t, err)
		require.Equal(t, pub.ID, got.ID)
		_, err = kb.Get(dave, draft.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		entries, err := b.c.Consent.Audit(ctx, consent.AuditQuery{SubjectID: draft.ID, Limit: 10})
		require.NoError(t, err)
		require.Len(t, entries, 1, "the hidden draft is a refused attempt")
		require.Equal(t, "dave", entries[0].ActorID)
		require.Equal(t, "tickets:read", entries[0].Detail)
		page, err := kb.List(dave, tickets.ArticleListOptions{})
		require.NoError(t, err)
		require.Equal(t, []core.ID{pub.ID}, []core.ID{page.Items[0].ID})
		require.Len(t, page.Items, 1)
		page, err = kb.List(dave, tickets.ArticleListOptions{Status: tickets.ArticleDraft})
		require.NoError(t, err)
		require.Empty(t, page.Items)
		page, err = kb.List(root, tickets.ArticleListOptions{})
		require.NoError(t, err)
		require.Len(t, page.Items, 2)
		hits, err := kb.Search(dave, "refund", "")
		require.NoError(t, err)
		require.Equal(t, []core.ID{pub.ID}, hitIDs(hits))
		hits, err = kb.SuggestArticles(dave, "refund", "", 5)
		require.NoError(t, err)
		require.Len(t, hits, 1)

		// A reader's cursor is not a writer's.
		for range 3 {
			publish(t, b.c, tickets.NewArticle{Title: "More", Body: "more", Locale: "en"})
		}
		page, err = kb.List(dave, tickets.ArticleListOptions{Limit: 2})
		require.NoError(t, err)
		require.NotEmpty(t, page.Next)
		_, err = kb.List(root, tickets.ArticleListOptions{Limit: 2, Cursor: page.Next})
		require.ErrorIs(t, err, core.ErrInvalid)

		// Writing needs manage; no tickets permission reads nothing.
		for name, call := range map[string]func(ctx context.Context) error{
			"create": func(ctx context.Context) error {
				_, err := kb.Create(ctx, tickets.NewArticle{Title: "x", Locale: "en"})
				return err
			},
			"update": func(ctx context.Context) error {
				_, err := kb.Update(ctx, pub.ID, tickets.ArticlePatch{Version: pub.Version, Title: ptr("y")})
				return err
			},
			"publish":   func(ctx context.Context) error { _, err := kb.Publish(ctx, draft.ID, draft.Version); return err },
			"unpublish": func(ctx context.Context) error { _, err := kb.Unpublish(ctx, pub.ID, pub.Version); return err },
			"delete":    func(ctx context.Context) error { return kb.Delete(ctx, pub.ID, pub.Version) },
		} {
			require.ErrorIs(t, call(dave), core.ErrForbidden, name)
			require.ErrorIs(t, call(erin), core.ErrForbidden, name)
		}
		for name, call := range map[string]func(ctx context.Context) error{
			"get":     func(ctx context.Context) error { _, err := kb.Get(ctx, pub.ID); return err },
			"list":    func(ctx context.Context) error { _, err := kb.List(ctx, tickets.ArticleListOptions{}); return err },
			"search":  func(ctx context.Context) error { _, err := kb.Search(ctx, "refund", ""); return err },
			"suggest": func(ctx context.Context) error { _, err := kb.SuggestArticles(ctx, "refund", "", 3); return err },
		} {
			require.ErrorIs(t, call(erin), core.ErrForbidden, name)
		}
		got, err = kb.Get(ctx, pub.ID)
		require.NoError(t, err)
		require.Equal(t, pub.Version, got.Version, "nothing changed")
	})
}

// mustField returns the value of key in a JSON object.
func mustField(t *testing.T, data []byte, key string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &m))
	return m[key]
}
