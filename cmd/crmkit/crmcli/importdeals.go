package crmcli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/pipeline"
)

// defaultProbability is the win probability of an open stage an import
// makes when neither the preset nor the file gives one.
const defaultProbability = 50

// stageKind is what a stage's name says it is: the preset's stage of that
// name, else won for "Won" and "Closed Won", lost for "Lost" and "Closed
// Lost", else open.
func (ti *tableImport) stageKind(name string) (pipeline.StageKind, int) {
	key := stageKey(name)
	if ti.preset != nil {
		for _, s := range ti.preset.stages {
			if stageKey(s.Name) == key {
				return s.Kind, s.Probability
			}
		}
	}
	switch key {
	case "won", "closedwon":
		return pipeline.StageWon, 100
	case "lost", "closedlost":
		return pipeline.StageLost, 0
	}
	return pipeline.StageOpen, defaultProbability
}

// findPipeline returns the pipeline named name (case aside) among those
// known, "" naming the tenant's default (the first not archived).
func (ti *tableImport) findPipeline(name string) *pipeline.Pipeline {
	for _, p := range ti.pipelines {
		if name == "" && !p.Archived {
			return p
		}
		if name != "" && strings.EqualFold(strings.TrimSpace(p.Name), strings.TrimSpace(name)) {
			return p
		}
	}
	return nil
}

// findStage returns the stage of p with name (letters and digits
// compared, case aside).
func findStage(p *pipeline.Pipeline, name string) *pipeline.Stage {
	for i := range p.Stages {
		if !p.Stages[i].Archived && stageKey(p.Stages[i].Name) == stageKey(name) {
			return &p.Stages[i]
		}
	}
	return nil
}

// preparePipelines makes the pipelines and stages the deal rows name: a
// pipeline that does not exist is created with the preset's stages (when
// it is the preset's pipeline or names one of its stages) and the file's
// others, open ones before the won and lost; a pipeline that exists gets
// the open stages it lacks, before its won and lost ones. Companies the
// rows name are created too.
func (ti *tableImport) preparePipelines(ctx context.Context, c *crm.CRM, r refs) error {
	var err error
	if ti.pipelines, err = c.Pipelines.List(ctx); err != nil {
		return err
	}
	if slices.Contains(r.pipelines, "") && ti.findPipeline("") == nil {
		if _, err := c.Pipelines.Default(ctx); err != nil {
			return err
		}
		if ti.pipelines, err = c.Pipelines.List(ctx); err != nil {
			return err
		}
	}
	for _, name := range r.pipelines {
		p := ti.findPipeline(name)
		var named []pipeline.NewStage
		for _, st := range r.stages[name] {
			if st.name == "" || st.status == "won" || st.status == "lost" {
				continue
			}
			kind, prob := ti.stageKind(st.name)
			if n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(st.probability), "%")); err == nil && n >= 0 && n <= 100 && kind == pipeline.StageOpen {
				prob = n
			}
			if !slices.ContainsFunc(named, func(s pipeline.NewStage) bool { return stageKey(s.Name) == stageKey(st.name) }) {
				named = append(named, pipeline.NewStage{Name: st.name, Probability: prob, Kind: kind})
			}
		}
		if p == nil {
			var stages []pipeline.NewStage
			if ti.preset != nil && (strings.EqualFold(name, ti.preset.pipeline) || slices.ContainsFunc(named, func(s pipeline.NewStage) bool {
				return slices.ContainsFunc(ti.preset.stages, func(ps pipeline.NewStage) bool { return stageKey(ps.Name) == stageKey(s.Name) })
			})) {
				stages = slices.Clone(ti.preset.stages)
			}
			for _, s := range named {
				if slices.ContainsFunc(stages, func(x pipeline.NewStage) bool { return stageKey(x.Name) == stageKey(s.Name) }) {
					continue
				}
				if s.Kind != pipeline.StageOpen && slices.ContainsFunc(stages, func(x pipeline.NewStage) bool { return x.Kind == s.Kind }) {
					continue
				}
				at := slices.IndexFunc(stages, func(x pipeline.NewStage) bool { return x.Kind != pipeline.StageOpen })
				if at < 0 || s.Kind != pipeline.StageOpen {
					at = len(stages)
				}
				stages = slices.Insert(stages, at, s)
			}
			for _, k := range []pipeline.StageKind{pipeline.StageOpen, pipeline.StageWon, pipeline.StageLost} {
				if !slices.ContainsFunc(stages, func(x pipeline.NewStage) bool { return x.Kind == k }) {
					def := map[pipeline.StageKind]pipeline.NewStage{pipeline.StageOpen: {Name: "Open", Probability: defaultProbability, Kind: k},
						pipeline.StageWon: {Name: "Won", Probability: 100, Kind: k}, pipeline.StageLost: {Name: "Lost", Kind: k}}[k]
					if k == pipeline.StageOpen {
						stages = slices.Insert(stages, 0, def)
					} else {
						stages = append(stages, def)
					}
				}
			}
			created, err := c.Pipelines.Create(ctx, pipeline.NewPipeline{Name: name, Stages: stages})
			if err != nil {
				return fmt.Errorf("create pipeline %q: %w", name, err)
			}
			ti.pipelines = append(ti.pipelines, created)
			continue
		}
		for _, s := range named {
			if findStage(p, s.Name) != nil || s.Kind != pipeline.StageOpen {
				continue
			}
			at := slices.IndexFunc(p.Stages, func(x pipeline.Stage) bool { return x.Kind != pipeline.StageOpen })
			if at < 0 {
				at = len(p.Stages)
			}
			np, err := c.Pipelines.AddStage(ctx, p.ID, p.Version, s, at)
			if err != nil {
				return fmt.Errorf("add stage %q to pipeline %q: %w", s.Name, p.Name, err)
			}
			*p = *np
		}
	}
	return nil
}

// prepareCompanies looks up (and, unless asked not to, creates) the
// companies the rows name; a name that cannot be a company fails its
// rows.
func (ti *tableImport) prepareCompanies(ctx context.Context, c *crm.CRM, r refs) (map[string]error, error) {
	failed := map[string]error{}
	for _, name := range r.companies {
		if _, err := ti.company(ctx, c, name, true); err != nil {
			if !rowFailure(err) {
				return nil, err
			}
			failed[name] = fieldError("company", err)
		}
	}
	for _, ref := range r.companyRefs {
		if _, err := ti.companyRef(ctx, c, ref[0], ref[1]); err != nil {
			return nil, err
		}
	}
	return failed, nil
}

// target is the stage a deal row goes to.
func (ti *tableImport) target(rec record) (*pipeline.Pipeline, *pipeline.Stage, error) {
	name := ti.pipelineOf(rec)
	p := ti.findPipeline(name)
	if p == nil {
		return nil, nil, core.Invalid("pipeline", "%q is not a pipeline", name)
	}
	first := func(k pipeline.StageKind) (*pipeline.Pipeline, *pipeline.Stage, error) {
		if st := p.FirstStage(k); st != nil {
			return p, st, nil
		}
		return nil, nil, core.Invalid("stage", "pipeline %q has no %s stage", p.Name, k)
	}
	switch status := strings.ToLower(rec.get("status")); status {
	case "won":
		return first(pipeline.StageWon)
	case "lost":
		return first(pipeline.StageLost)
	case "", "open":
	default:
		return nil, nil, core.Invalid("status", "%q is not open, won or lost", rec.get("status"))
	}
	stage := rec.get("stage")
	if stage == "" {
		return first(pipeline.StageOpen)
	}
	if st := findStage(p, stage); st != nil {
		return p, st, nil
	}
	if kind, _ := ti.stageKind(stage); kind != pipeline.StageOpen {
		return first(kind)
	}
	return nil, nil, core.Invalid("stage", "%q is not a stage of pipeline %q", stage, p.Name)
}

// nameWithEmail is a contact as HubSpot's association columns write one:
// "Ada Lovelace (ada@example.com)".
var nameWithEmail = regexp.MustCompile(`\(([^()\s]+@[^()\s]+)\)\s*$`)

// dealContact returns the contact a deal row names: by external id, by
// email, by "Name (email)", or by a full name only one contact has; nil
// when none is found (import contacts first).
func (ti *tableImport) dealContact(ctx context.Context, c *crm.CRM, rec record) (*core.ID, error) {
	for f, v := range rec.values {
		if src, ok := strings.CutPrefix(f, "contact_id:"); ok {
			ct, err := c.Contacts.GetByExternalID(ctx, src, firstOf(v))
			if err == nil {
				return &ct.ID, nil
			}
			if !errors.Is(err, core.ErrNotFound) {
				return nil, fieldError("contact_id", err)
			}
		}
	}
	email := firstOf(rec.get("contact_email"))
	name := rec.get("contact_name")
	if m := nameWithEmail.FindStringSubmatch(name); m != nil && email == "" {
		email, name = m[1], strings.TrimSpace(name[:len(name)-len(m[0])])
	}
	if email != "" {
		ct, err := c.Contacts.GetByEmail(ctx, email)
		if err == nil {
			return &ct.ID, nil
		}
		if !errors.Is(err, core.ErrNotFound) {
			return nil, fieldError("contact_email", err)
		}
	}
	if i := strings.LastIndex(name, " "); i > 0 {
		page, err := c.Contacts.List(ctx, contacts.ListOptions{Limit: 2, Filter: filter.And(
			filter.Eq("first_name", strings.TrimSpace(name[:i])), filter.Eq("last_name", strings.TrimSpace(name[i+1:])))})
		if err != nil {
			return nil, err
		}
		if len(page.Items) == 1 {
			return &page.Items[0].ID, nil
		}
	}
	return nil, nil
}

// writeDeal creates or updates one deal: a row whose vendor id a deal
// already carries (an earlier import of the file) updates that deal and
// moves it to the row's stage.
func (ti *tableImport) writeDeal(ctx context.Context, c *crm.CRM, rec record) (outcome, error) {
	v := &core.ValidationError{}
	p, st, err := ti.target(rec)
	if err != nil {
		return 0, err
	}
	currency := rec.get("currency")
	if currency == "" {
		currency = ti.flags.currency
	}
	amountText := rec.get("amount")
	if amountText == "" {
		amountText = "0"
	}
	amount, err := parseMoney(amountText, currency)
	if err != nil {
		v.Add("amount", "%v", err)
	}
	var closeDay core.Date
	if s := rec.get("expected_close"); s != "" {
		if closeDay, err = parseDate(s); err != nil {
			v.Add("expected_close", "%v", err)
		}
	}
	attrs, err := ti.attributes(rec)
	var ve *core.ValidationError
	if errors.As(err, &ve) {
		v.Fields = append(v.Fields, ve.Fields...)
	}
	if name := rec.get("company"); name != "" && ti.companyErr[name] != nil {
		return 0, ti.companyErr[name]
	}
	if err := v.Err(); err != nil {
		return 0, err
	}
	companyID := ti.knownCompany(rec)
	contactID, err := ti.dealContact(ctx, c, rec)
	if err != nil {
		return 0, err
	}
	reason := rec.get("lost_reason")

	var found *pipeline.Deal
	if key, id := ti.vendorKey(rec); id != "" {
		page, err := c.Deals.List(ctx, pipeline.DealListOptions{Filter: filter.Eq(filter.AttributePrefix+key, id), Limit: 1})
		if err != nil {
			return 0, err
		}
		if len(page.Items) > 0 {
			found = page.Items[0]
		}
	}
	if found == nil {
		in := pipeline.NewDeal{Title: rec.get("title"), Amount: amount, ContactID: contactID, CompanyID: companyID, OwnerID: rec.get("owner_id"),
			PipelineID: p.ID, StageID: st.ID, ExpectedClose: closeDay, Source: rec.get("source"), Attributes: attrs}
		lose := st.Kind == pipeline.StageLost && reason != ""
		if lose {
			in.StageID = p.FirstStage(pipeline.StageOpen).ID
		}
		d, err := c.Deals.Create(ctx, in)
		if err != nil {
			return 0, err
		}
		if lose {
			if _, err := c.Deals.Lose(ctx, d.ID, d.Version, reason); err != nil {
				return 0, err
			}
		}
		return created, nil
	}

	if found.PipelineID != p.ID {
		return 0, core.Invalid("pipeline", "deal %s is in another pipeline: move it there first", found.ID)
	}
	patch := pipeline.DealPatch{Version: found.Version}
	changed := false
	if t := rec.get("title"); t != "" && t != found.Title {
		patch.Title, changed = &t, true
	}
	if rec.get("amount") != "" && found.LineItems == 0 && !(amount.Amount.Equal(found.Amount.Amount) && amount.Currency == found.Amount.Currency) {
		patch.Amount, changed = &amount, true
	}
	if !closeDay.IsZero() && closeDay != found.ExpectedClose {
		patch.ExpectedClose, changed = &closeDay, true
	}
	if companyID != nil && (found.CompanyID == nil || *found.CompanyID != *companyID) {
		patch.CompanyID, changed = companyID, true
	}
	if contactID != nil && (found.ContactID == nil || *found.ContactID != *contactID) {
		patch.ContactID, changed = contactID, true
	}
	if s := rec.get("source"); s != "" && s != found.Source {
		patch.Source, changed = &s, true
	}
	if o := rec.get("owner_id"); o != "" && o != found.OwnerID {
		patch.OwnerID, changed = &o, true
	}
	for k, val := range attrs {
		if fmt.Sprint(found.Attributes[k]) != fmt.Sprint(val) {
			if patch.Attributes == nil {
				patch.Attributes = map[string]any{}
			}
			patch.Attributes[k], changed = val, true
		}
	}
	d := found
	if changed {
		if d, err = c.Deals.Update(ctx, found.ID, patch); err != nil {
			return 0, err
		}
	}
	if d.StageID != st.ID || (st.Kind == pipeline.StageLost && reason != "" && reason != d.LostReason) {
		changed = true
		if st.Kind == pipeline.StageLost && reason != "" {
			if d.Status != pipeline.DealOpen {
				if d, err = c.Deals.Reopen(ctx, d.ID, d.Version, p.FirstStage(pipeline.StageOpen).ID); err != nil {
					return 0, err
				}
			}
			_, err = c.Deals.Lose(ctx, d.ID, d.Version, reason)
		} else {
			_, err = c.Deals.MoveStage(ctx, d.ID, d.Version, st.ID)
		}
		if err != nil {
			return 0, err
		}
	}
	if !changed {
		return unchanged, nil
	}
	return updated, nil
}
