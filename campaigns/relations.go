package campaigns

import (
	"github.com/crmkit/crmkit/filter"
)

// Relations the campaigns module offers on contacts (for segments and
// lists): whether the contact opened or clicked a campaign's message (as
// a person: programs left out) and whether the contact is in a tracked
// segment — as last computed, so one segment can build on another without
// inlining its filter.
//
//	{"related": "clicked_campaign", "params": {"campaign": "0190…"}, "op": "exists", "value": true}
//	{"related": "in_segment", "params": {"segment": "0190…"}, "op": "exists", "value": false}
const (
	RelationOpenedCampaign  = "opened_campaign"
	RelationClickedCampaign = "clicked_campaign"
	RelationInSegment       = "in_segment"
)

func relations() []filter.Relation {
	interacted := func(clicked bool) func(d filter.Dialect, p map[string]any) (string, []any) {
		return func(d filter.Dialect, p map[string]any) (string, []any) {
			kind := ""
			if clicked {
				kind = " AND i.kind = 'click'"
			}
			return `EXISTS (SELECT 1 FROM crm_campaign_recipients r JOIN crm_campaign_interactions i
				ON i.tenant_id = r.tenant_id AND i.recipient_id = r.id AND i.machine = ''` + kind + `
				WHERE r.tenant_id = c.tenant_id AND r.contact_id = c.id AND r.campaign_id = ?)`, []any{p["campaign"]}
		}
	}
	campaign := []filter.Param{{Name: "campaign", Type: filter.ParamID, Required: true}}
	return []filter.Relation{
		{Name: RelationOpenedCampaign, Result: filter.Bool, Params: campaign, SQL: interacted(false),
			Doc: "the contact opened (or clicked) a message of the campaign"},
		{Name: RelationClickedCampaign, Result: filter.Bool, Params: campaign, SQL: interacted(true),
			Doc: "the contact clicked a link of a message of the campaign"},
		{Name: RelationInSegment, Result: filter.Bool, Params: []filter.Param{{Name: "segment", Type: filter.ParamID, Required: true}},
			Doc: "the contact is in the tracked segment, as last computed",
			SQL: func(d filter.Dialect, p map[string]any) (string, []any) {
				return `EXISTS (SELECT 1 FROM crm_segment_members m WHERE m.tenant_id = c.tenant_id AND m.segment_id = ? AND m.contact_id = c.id)`,
					[]any{p["segment"]}
			}},
	}
}
