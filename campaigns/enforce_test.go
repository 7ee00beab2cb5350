package campaigns_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/mailtest"
	"github.com/crmkit/crmkit/internal/store"
)

// team is a tenant with the built-in roles, users holding them, two
// teams, contacts owned by some of them (all consenting to the
// newsletter), a segment of them all, a template and a draft campaign.
type team struct {
	c    *crm.CRM
	seg  *campaigns.Segment
	tmpl *campaigns.Template
	camp *campaigns.Campaign
	// byOwner are the contacts' ids by owner ("" for none).
	byOwner map[string][]core.ID
	email   map[core.ID]string
}

// as is the context of user id.
func as(id string) context.Context {
	return core.WithActor(context.Background(), core.Actor{ID: id})
}

func newTeam(t *testing.T, c *crm.CRM) *team {
	t.Helper()
	ctx := context.Background()
	w := &team{c: c, byOwner: map[string][]core.ID{}, email: map[core.ID]string{}}
	_, err := c.Access.Roles.InstallBuiltins(ctx)
	require.NoError(t, err)
	// A sales rep who also reads and sends campaigns: their "contacts"
	// visibility is own.
	_, err = c.Access.Roles.Create(ctx, access.RoleInput{Name: "mailer", Permissions: access.Permissions{
		"campaigns": {Actions: []access.Action{access.Read, access.Create, access.Update}, Visibility: access.VisibilityAll}}})
	require.NoError(t, err)
	for _, u := range []struct {
		id    string
		roles []string
	}{
		{"root", []string{access.RoleAdmin}}, {"carol", []string{access.RoleManager}}, {"alice", []string{access.RoleSales}},
		{"bob", []string{access.RoleSales}}, {"dave", []string{access.RoleSupport}}, {"erin", []string{access.RoleMarketing}},
		{"rita", []string{access.RoleReadOnly}}, {"nobody", nil}, {"mia", []string{access.RoleSales, "mailer"}},
	} {
		_, err := c.Access.Users.Create(ctx, access.UserInput{ID: u.id, DisplayName: u.id, TimeZone: "UTC", Roles: u.roles})
		require.NoError(t, err)
	}
	for name, members := range map[string][]string{"east": {"alice", "carol", "dave"}, "west": {"bob"}} {
		tm, err := c.Access.Teams.Create(ctx, access.TeamInput{Name: name})
		require.NoError(t, err)
		for _, m := range members {
			tm, err = c.Access.Teams.AddMember(ctx, tm.ID, tm.Version, access.Member{UserID: m})
			require.NoError(t, err)
		}
	}
	_, err = c.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "Newsletter", LegalBasis: consent.BasisConsent,
		Channels: []consent.Channel{consent.Email}, Wording: "Send me the newsletter"})
	require.NoError(t, err)
	for i, owner := range []string{"alice", "alice", "mia", "bob", "carol", "", "bob"} {
		email := strings.Repeat(string(rune('a'+i)), 3) + "@example.com"
		ct, err := c.Contacts.Create(ctx, contacts.NewContact{Email: email, OwnerID: owner, Tags: []string{"news"}})
		require.NoError(t, err)
		_, err = c.Consent.Grant(ctx, ct.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
		require.NoError(t, err)
		w.byOwner[owner] = append(w.byOwner[owner], ct.ID)
		w.email[ct.ID] = email
	}
	w.seg, err = c.Segments.Create(ctx, campaigns.NewSegment{Name: "News", Filter: filter.Contains("tags", "news")})
	require.NoError(t, err)
	w.tmpl, err = c.Templates.Create(ctx, campaigns.NewTemplate{Name: "Issue", Subject: "News",
		HTML: `<p>Hello {{.Contact.FirstName | default "there"}}</p><p><a href="{{.UnsubscribeURL}}">Unsubscribe</a></p>`})
	require.NoError(t, err)
	w.camp = w.campaign(t, "Issue")
	return w
}

func (w *team) campaign(t *testing.T, name string) *campaigns.Campaign {
	t.Helper()
	camp, err := w.c.Campaigns.Create(context.Background(), campaigns.NewCampaign{Name: name, SegmentID: w.seg.ID, TemplateID: w.tmpl.ID,
		Purpose: "newsletter", FromName: "Shop", FromAddress: "news@shop.example"})
	require.NoError(t, err)
	return camp
}

func (w *team) ids(owners ...string) []core.ID {
	var out []core.ID
	for _, o := range owners {
		out = append(out, w.byOwner[o]...)
	}
	slices.SortFunc(out, func(a, b core.ID) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// denied returns the details of the refused attempts actor made.
func (w *team) denied(t *testing.T, actor string) []string {
	t.Helper()
	entries, err := w.c.Consent.Audit(context.Background(), consent.AuditQuery{Limit: store.MaxLimit})
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if e.Action == campaigns.AuditDenied && e.ActorID == actor {
			out = append(out, e.Detail)
		}
	}
	return out
}

// campaignRights are what the built-in roles (and mia's) allow on
// "campaigns" (see access.Builtins).
var campaignRights = map[string][]access.Action{
	"root":   {access.Read, access.Create, access.Update, access.Delete},
	"carol":  {access.Read},
	"alice":  nil,
	"bob":    nil,
	"dave":   nil,
	"erin":   {access.Read, access.Create, access.Update, access.Delete},
	"rita":   {access.Read},
	"nobody": nil,
	"mia":    {access.Read, access.Create, access.Update},
}

// walkConfig sends nowhere (no workers run): Start only queues.
func walkConfig() crm.Config {
	return crm.Config{Campaigns: campaigns.Options{
		Mailer:         campaigns.MailerFunc(func(context.Context, *campaigns.Message) error { return nil }),
		UnsubscribeURL: "https://shop.example/crm/unsubscribe",
	}}
}

// Every public method of segments, templates and campaigns, for every
// built-in role, a user without one and a custom one: ErrForbidden and an
// audit entry "campaigns:<action>" without the permission, the method's
// own result with it.
func TestCampaignsRecordAccessWalk(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		c := newCRM(t, db, walkConfig())
		w := newTeam(t, c)
		bg := context.Background()
		started := func(t *testing.T) *campaigns.Campaign {
			camp, err := c.Campaigns.Start(bg, w.campaign(t, "Walk "+core.NewID().String()).ID, 1)
			require.NoError(t, err)
			return camp
		}
		type op struct {
			name   string
			action access.Action
			// ok is what the method returns when allowed (nil: no error).
			ok  error
			run func(t *testing.T, ctx context.Context) error
		}
		ops := []op{
			{"Segments.Get", access.Read, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Segments.Get(ctx, w.seg.ID)
				return err
			}},
			{"Segments.List", access.Read, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Segments.List(ctx)
				return err
			}},
			{"Segments.Count", access.Read, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Segments.Count(ctx, w.seg.ID)
				return err
			}},
			{"Segments.Members", access.Read, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Segments.Members(ctx, w.seg.ID, core.NilID, 0)
				return err
			}},
			{"Segments.Create", access.Create, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: "New " + core.NewID().String(), Filter: filter.Contains("tags", "vip")})
				return err
			}},
			{"Segments.Update", access.Update, nil, func(t *testing.T, ctx context.Context) error {
				seg, err := c.Segments.Create(bg, campaigns.NewSegment{Name: "Upd " + core.NewID().String(), Filter: filter.Contains("tags", "vip")})
				require.NoError(t, err)
				name := seg.Name + "!"
				_, err = c.Segments.Update(ctx, seg.ID, campaigns.SegmentPatch{Version: 1, Name: &name})
				return err
			}},
			{"Segments.Recompute", access.Update, nil, func(t *testing.T, ctx context.Context) error {
				seg, err := c.Segments.Create(bg, campaigns.NewSegment{Name: "Rec " + core.NewID().String(), Filter: filter.Contains("tags", "vip"),
					Tracked: true})
				require.NoError(t, err)
				_, _, err = c.Segments.Recompute(ctx, seg.ID)
				return err
			}},
			{"Segments.Delete", access.Delete, nil, func(t *testing.T, ctx context.Context) error {
				seg, err := c.Segments.Create(bg, campaigns.NewSegment{Name: "Del " + core.NewID().String(), Filter: filter.Contains("tags", "vip")})
				require.NoError(t, err)
				return c.Segments.Delete(ctx, seg.ID)
			}},
			{"Templates.Get", access.Read, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Templates.Get(ctx, w.tmpl.ID)
				return err
			}},
			{"Templates.Version", access.Read, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Templates.Version(ctx, w.tmpl.ID, 1)
				return err
			}},
			{"Templates.List", access.Read, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Templates.List(ctx)
				return err
			}},
			{"Templates.Preview", access.Read, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Templates.Preview(ctx, w.tmpl.ID, core.NilID)
				return err
			}},
			{"Templates.Create", access.Create, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Templates.Create(ctx, campaigns.NewTemplate{Name: "T " + core.NewID().String(), Subject: "s", HTML: "<p>x</p>"})
				return err
			}},
			{"Templates.Update", access.Update, nil, func(t *testing.T, ctx context.Context) error {
				tm, err := c.Templates.Create(bg, campaigns.NewTemplate{Name: "U " + core.NewID().String(), Subject: "s", HTML: "<p>x</p>"})
				require.NoError(t, err)
				subject := "t"
				_, err = c.Templates.Update(ctx, tm.ID, campaigns.TemplatePatch{Version: 1, Subject: &subject})
				return err
			}},
			{"Templates.Delete", access.Delete, nil, func(t *testing.T, ctx context.Context) error {
				tm, err := c.Templates.Create(bg, campaigns.NewTemplate{Name: "D " + core.NewID().String(), Subject: "s", HTML: "<p>x</p>"})
				require.NoError(t, err)
				return c.Templates.Delete(ctx, tm.ID)
			}},
			{"Campaigns.Get", access.Read, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Campaigns.Get(ctx, w.camp.ID)
				return err
			}},
			{"Campaigns.List", access.Read, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Campaigns.List(ctx)
				return err
			}},
			{"Campaigns.Stats", access.Read, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Campaigns.Stats(ctx, w.camp.ID)
				return err
			}},
			{"Campaigns.Recipients", access.Read, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Campaigns.Recipients(ctx, w.camp.ID, "", core.NilID, 0)
				return err
			}},
			{"Campaigns.InboundReports", access.Read, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Campaigns.InboundReports(ctx, 0)
				return err
			}},
			{"Campaigns.Create", access.Create, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "C " + core.NewID().String(), SegmentID: w.seg.ID, TemplateID: w.tmpl.ID,
					Purpose: "newsletter", FromName: "Shop", FromAddress: "news@shop.example"})
				return err
			}},
			{"Campaigns.Start", access.Update, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Campaigns.Start(ctx, w.campaign(t, "S "+core.NewID().String()).ID, 1)
				return err
			}},
			{"Campaigns.Pause", access.Update, nil, func(t *testing.T, ctx context.Context) error {
				camp := started(t)
				_, err := c.Campaigns.Pause(ctx, camp.ID, camp.Version)
				return err
			}},
			{"Campaigns.Resume", access.Update, nil, func(t *testing.T, ctx context.Context) error {
				camp, err := c.Campaigns.Pause(bg, started(t).ID, 2)
				require.NoError(t, err)
				_, err = c.Campaigns.Resume(ctx, camp.ID, camp.Version)
				return err
			}},
			{"Campaigns.Cancel", access.Update, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Campaigns.Cancel(ctx, w.campaign(t, "X "+core.NewID().String()).ID, 1)
				return err
			}},
			{"Campaigns.Record", access.Update, core.ErrNotFound, func(t *testing.T, ctx context.Context) error {
				return c.Campaigns.Record(ctx, campaigns.Bounce{RecipientID: core.NewID(), Kind: campaigns.BounceHard})
			}},
			{"Campaigns.Inbound", access.Update, nil, func(t *testing.T, ctx context.Context) error {
				_, err := c.Campaigns.Inbound(ctx, strings.NewReader("Subject: hello\r\n\r\nnot a report"), "")
				return err
			}},
		}
		for _, user := range slices.Sorted(func(yield func(string) bool) {
			for u := range campaignRights {
				if !yield(u) {
					return
				}
			}
		}) {
			rights := campaignRights[user]
			ctx := as(user)
			var want []string
			for _, o := range ops {
				err := o.run(t, ctx)
				if slices.Contains(rights, o.action) {
					if o.ok == nil {
						require.NoError(t, err, "%s as %s", o.name, user)
					} else {
						require.ErrorIs(t, err, o.ok, "%s as %s", o.name, user)
					}
					continue
				}
				require.ErrorIs(t, err, core.ErrForbidden, "%s as %s", o.name, user)
				require.True(t, strings.HasPrefix(err.Error(), "crm: "), err.Error())
				require.Contains(t, err.Error(), user)
				want = append(want, "campaigns:"+string(o.action))
			}
			require.ElementsMatch(t, want, w.denied(t, user), "audit of %s", user)
		}
	})
}

// The people of a segment and of a campaign are shown to an actor as the
// contacts module shows them: only those they see (own, team, all), in
// the counts too, and without addresses when they do not see personal
// data. A filter on a personal field is refused to such an actor.
func TestCampaignsShowPeopleByContactsVisibility(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		c := newCRM(t, db, walkConfig())
		w := newTeam(t, c)
		for _, tc := range []struct {
			user   string
			owners []string
			masked bool
		}{
			{"root", []string{"alice", "mia", "bob", "carol", ""}, false},
			{"carol", []string{"alice", "carol"}, false}, // team east: alice, carol, dave
			{"mia", []string{"mia"}, false},              // own
			{"erin", []string{"alice", "mia", "bob", "carol", ""}, true},
			{"rita", []string{"alice", "mia", "bob", "carol", ""}, true},
		} {
			ctx := as(tc.user)
			want := w.ids(tc.owners...)
			n, err := c.Segments.Count(ctx, w.seg.ID)
			require.NoError(t, err)
			require.EqualValues(t, len(want), n, tc.user)

			// Paged two at a time.
			var got []core.ID
			after := core.NilID
			for {
				page, err := c.Segments.Members(ctx, w.seg.ID, after, 2)
				require.NoError(t, err)
				if len(page) == 0 {
					break
				}
				for _, m := range page {
					got = append(got, m.ContactID)
					if tc.masked {
						require.Empty(t, m.Email, tc.user)
					} else {
						require.Equal(t, w.email[m.ContactID], m.Email, tc.user)
					}
				}
				after = page[len(page)-1].ContactID
			}
			require.Equal(t, want, got, tc.user)

			// A personal field in a filter is refused to those who do not see
			// it.
			_, err = c.Segments.Create(ctx, campaigns.NewSegment{Name: "By mail " + tc.user, Filter: filter.Prefix("email", "aaa")})
			switch {
			case !slices.Contains(campaignRights[tc.user], access.Create):
				require.ErrorIs(t, err, core.ErrForbidden)
			case tc.masked:
				require.ErrorIs(t, err, core.ErrForbidden)
				require.NotContains(t, err.Error(), "aaa")
			default:
				require.NoError(t, err)
			}
		}
		// The host's own code sees every member.
		n, err := c.Segments.Count(context.Background(), w.seg.ID)
		require.NoError(t, err)
		require.EqualValues(t, 7, n)

		// Preview of a contact mia does not see is not found, as in the
		// contacts module; of her own it renders.
		tmpl := w.tmpl
		_, err = c.Templates.Preview(as("mia"), tmpl.ID, w.byOwner["bob"][0])
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = c.Templates.Preview(as("mia"), tmpl.ID, w.byOwner["mia"][0])
		require.NoError(t, err)
	})
}

// A campaign started by an actor who sees only their own contacts goes to
// every consenting member of the segment: the send is the host's
// background work, checked once when started. Its recipients are then
// listed to that actor as the contacts module shows them, and the public
// tracking link, which has no actor, still counts.
func TestCampaignStartedByAnActorReachesEveryone(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		srv := mailtest.Start(t)
		cfg := sendingConfig(srv)
		cfg.Campaigns.TrackingURL = "https://shop.example/t"
		c := newCRM(t, db, cfg)
		w := newTeam(t, c)
		require.NoError(t, c.Start(context.Background()))

		_, err := c.Campaigns.Start(as("alice"), w.camp.ID, w.camp.Version)
		require.ErrorIs(t, err, core.ErrForbidden, "sales may not send")
		camp, err := c.Campaigns.Start(as("mia"), w.camp.ID, w.camp.Version)
		require.NoError(t, err)
		waitFinished(t, c, camp.ID)
		require.Len(t, srv.Messages(), 7, "every consenting member, not only mia's")
		for id, email := range w.email {
			require.Len(t, srv.To(email), 1, "%s", id)
		}

		// mia is shown her own recipient; the host all seven.
		mine, err := c.Campaigns.Recipients(as("mia"), camp.ID, "", core.NilID, 0)
		require.NoError(t, err)
		require.Len(t, mine, 1)
		require.Equal(t, w.byOwner["mia"][0], *mine[0].ContactID)
		require.Equal(t, w.email[*mine[0].ContactID], mine[0].Email)
		all, err := c.Campaigns.Recipients(context.Background(), camp.ID, "", core.NilID, 0)
		require.NoError(t, err)
		require.Len(t, all, 7)
		masked, err := c.Campaigns.Recipients(as("erin"), camp.ID, campaigns.RecipientSent, core.NilID, 0)
		require.NoError(t, err)
		require.Len(t, masked, 7)
		for _, r := range masked {
			require.Empty(t, r.Email)
		}
		st, err := c.Campaigns.Stats(as("mia"), camp.ID)
		require.NoError(t, err)
		require.EqualValues(t, 7, st.Sent, "a campaign's stats count all its recipients")

		// The open pixel of a message, tracked without an actor.
		p, err := srv.To(w.email[w.byOwner["bob"][0]])[0].Parse()
		require.NoError(t, err)
		i := strings.Index(p.HTML, "https://shop.example/t/o/")
		require.GreaterOrEqual(t, i, 0, p.HTML)
		token := p.HTML[i+len("https://shop.example/t/o/"):]
		token = token[:strings.IndexAny(token, `"'`)]
		require.NoError(t, c.Campaigns.Open(context.Background(), token, campaigns.Visit{UserAgent: "Mozilla/5.0", IP: "192.0.2.1"}))
		st, err = c.Campaigns.Stats(context.Background(), camp.ID)
		require.NoError(t, err)
		require.EqualValues(t, 1, st.Opened)
	})
}
