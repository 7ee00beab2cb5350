package campaigns_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
)

// A segment's filter may name a personal field — email, phone, or a
// contact's custom field marked personal, or a part of one — only for an
// actor who sees the contacts' personal data: creating or changing such a
// segment, and counting or listing the members of one the host made, is
// ErrForbidden (audited) for others, since the counts would tell them the
// values they are not shown. Filters on other fields are theirs to use.
func TestSegmentsRefusePersonalFields(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		c := newCRM(t, db, walkConfig())
		w := newTeam(t, c)
		ctx := context.Background()
		for _, d := range []fields.Definition{
			{Entity: contacts.EntityContact, Key: "salary", Label: "Salary", Type: fields.Money, Personal: true},
			{Entity: contacts.EntityContact, Key: "plan", Label: "Plan", Type: fields.Text},
		} {
			_, err := c.Fields.Define(ctx, d)
			require.NoError(t, err)
		}
		personal := []filter.Expr{
			filter.Gt("attributes.salary.amount", 50000),
			filter.Not(filter.Exists("attributes.salary")),
			filter.And(filter.Contains("tags", "news"), filter.Or(filter.Eq("attributes.plan", "pro"), filter.Prefix("phone", "+49"))),
			filter.Prefix("email", "aaa"),
		}
		plain := filter.And(filter.Contains("tags", "news"), filter.Eq("attributes.plan", "pro"))

		// Segments the host made, on a personal field and on another.
		var hostPersonal []*campaigns.Segment
		for i, f := range personal {
			seg, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: "Personal " + string(rune('a'+i)), Filter: f})
			require.NoError(t, err)
			hostPersonal = append(hostPersonal, seg)
		}
		plainSeg, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: "Plain", Filter: plain})
		require.NoError(t, err)
		// Campaigns on a personal segment and on the plain one: who the
		// first chose tells the value as the segment's members would.
		tmpl, err := c.Templates.Create(ctx, campaigns.NewTemplate{Name: "T", Subject: "News",
			HTML: `<p>News</p><p><a href="{{.UnsubscribeURL}}">Unsubscribe</a></p>`})
		require.NoError(t, err)
		campaignOn := func(seg *campaigns.Segment) *campaigns.Campaign {
			camp, err := c.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "On " + seg.Name, SegmentID: seg.ID, TemplateID: tmpl.ID,
				Purpose: "newsletter", FromAddress: "news@shop.example"})
			require.NoError(t, err)
			return camp
		}
		personalCamp, plainCamp := campaignOn(hostPersonal[0]), campaignOn(plainSeg)

		for _, tc := range []struct {
			user  string
			sees  bool // personal data of contacts
			write bool // creates and updates segments
		}{
			{"root", true, true},
			{"mia", true, true},   // sales (personal data, own) and mailer
			{"erin", false, true}, // marketing: all contacts, no personal data
			{"rita", false, false},
			{"carol", true, false}, // manager: reads campaigns, personal data
		} {
			t.Run(tc.user, func(t *testing.T) {
				as := as(tc.user)
				outcome := func(err error, what string) {
					t.Helper()
					if tc.sees {
						require.NoError(t, err, what)
						return
					}
					require.ErrorIs(t, err, core.ErrForbidden, what)
					require.NotContains(t, err.Error(), "50000", what)
				}
				for _, seg := range hostPersonal {
					_, err := c.Segments.Count(as, seg.ID)
					outcome(err, "count "+seg.Name)
					_, err = c.Segments.Members(as, seg.ID, core.NilID, 10)
					outcome(err, "members "+seg.Name)
					got, err := c.Segments.Get(as, seg.ID)
					require.NoError(t, err, "the segment itself is readable")
					require.Equal(t, seg.ID, got.ID)
				}
				_, err := c.Campaigns.Recipients(as, personalCamp.ID, "", core.NilID, 10)
				outcome(err, "recipients of a campaign on a personal segment")
				if tc.user == "erin" {
					_, err = c.Campaigns.Recipients(as, plainCamp.ID, "", core.NilID, 10)
					require.NoError(t, err, "recipients of a campaign on a plain segment")
				}
				_, err = c.Segments.Count(as, plainSeg.ID)
				require.NoError(t, err)
				_, err = c.Segments.Members(as, plainSeg.ID, core.NilID, 10)
				require.NoError(t, err)
				if !tc.write {
					return
				}
				for i, f := range personal {
					_, err := c.Segments.Create(as, campaigns.NewSegment{Name: tc.user + " personal " + string(rune('a'+i)), Filter: f})
					outcome(err, "create")
					cur, err := c.Segments.Get(ctx, plainSeg.ID)
					require.NoError(t, err)
					_, err = c.Segments.Update(as, plainSeg.ID, campaigns.SegmentPatch{Version: cur.Version, Filter: &f})
					outcome(err, "update")
					if tc.sees { // put it back
						_, err = c.Segments.Update(ctx, plainSeg.ID, campaigns.SegmentPatch{Version: cur.Version + 1, Filter: &plain})
						require.NoError(t, err)
					}
				}
				_, err = c.Segments.Create(as, campaigns.NewSegment{Name: tc.user + " plain", Filter: plain})
				require.NoError(t, err)
			})
		}
		require.Contains(t, w.denied(t, "erin"), "campaigns:read")
		require.Contains(t, w.denied(t, "erin"), "campaigns:create")
		require.Contains(t, w.denied(t, "erin"), "campaigns:update")
		require.Contains(t, w.denied(t, "rita"), "campaigns:read")
		require.Empty(t, w.denied(t, "mia"))
	})
}
