package crmhttp

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/core"
)

// consentChange is the body of a grant or withdrawal.
type consentChange struct {
	Purpose string          `json:"purpose"`
	Channel consent.Channel `json:"channel" enum:"email,phone,sms,post"`
	// Source says where the person said so ("form", "checkout").
	Source string `json:"source"`
}

func registerConsent(api huma.API) {
	tags := []string{"consent"}
	huma.Register(api, common(huma.Operation{OperationID: "define-purpose", Method: http.MethodPost, Path: "/purposes", Tags: tags,
		Summary: "Define a purpose", Description: "A purpose people consent to, with its legal basis, channels and wording (a new wording is a new version).",
		DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct{ Body consent.NewPurpose }) (*struct{ Body *consent.Purpose }, error) {
			p, err := crmOf(ctx).Consent.DefinePurpose(ctx, in.Body)
			if err != nil {
				return nil, problem(err, false)
			}
			return &struct{ Body *consent.Purpose }{Body: p}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "get-purpose", Method: http.MethodGet, Path: "/purposes/{key}", Tags: tags,
		Summary: "Get a purpose", Errors: []int{http.StatusNotFound}}),
		func(ctx context.Context, in *struct {
			Key string `path:"key"`
		}) (*struct{ Body *consent.Purpose }, error) {
			p, err := crmOf(ctx).Consent.Purpose(ctx, in.Key)
			if err != nil {
				return nil, problem(err, false)
			}
			return &struct{ Body *consent.Purpose }{Body: p}, nil
		})
	for _, op := range []struct {
		verb, doc string
		grant     bool
	}{{"grant", "Records that the contact consented, with its proof.", true}, {"withdraw", "Records that the contact withdrew consent.", false}} {
		huma.Register(api, common(huma.Operation{OperationID: op.verb + "-consent", Method: http.MethodPost, Path: "/contacts/{id}/consent/" + op.verb,
			Tags: tags, Summary: op.doc, Description: op.doc + " The request's address and user agent are kept as proof when the CRM records network details.",
			Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity}}),
			func(ctx context.Context, in *struct {
				ID        core.ID `path:"id"`
				UserAgent string  `header:"User-Agent"`
				Body      consentChange
			}) (*struct{ Body []*consent.Record }, error) {
				cs := crmOf(ctx).Consent
				proof := consent.Proof{Source: in.Body.Source, UserAgent: in.UserAgent}
				var recs []*consent.Record
				var err error
				if op.grant {
					var r *consent.Record
					r, err = cs.Grant(ctx, in.ID, in.Body.Purpose, in.Body.Channel, proof)
					if r != nil {
						recs = []*consent.Record{r}
					}
				} else {
					recs, err = cs.Withdraw(ctx, in.ID, in.Body.Purpose, in.Body.Channel, proof)
				}
				if err != nil {
					return nil, problem(err, false)
				}
				if recs == nil {
					recs = []*consent.Record{}
				}
				return &struct{ Body []*consent.Record }{Body: recs}, nil
			})
	}
	huma.Register(api, common(huma.Operation{OperationID: "consent-history", Method: http.MethodGet, Path: "/contacts/{id}/consent",
		Tags: tags, Summary: "A contact's consent log", Description: "Every grant, withdrawal and objection, with its proof, oldest first.",
		Errors: []int{http.StatusNotFound}}),
		func(ctx context.Context, in *idInput) (*struct{ Body []*consent.Record }, error) {
			recs, err := crmOf(ctx).Consent.History(ctx, in.ID)
			if err != nil {
				return nil, problem(err, false)
			}
			if recs == nil {
				recs = []*consent.Record{}
			}
			return &struct{ Body []*consent.Record }{Body: recs}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "export-contact", Method: http.MethodGet, Path: "/contacts/{id}/export",
		Tags: tags, Summary: "Subject access export", Description: "Everything crmkit holds about the person, every module's section (GDPR Art. 15).",
		Errors: []int{http.StatusNotFound}}),
		func(ctx context.Context, in *idInput) (*struct{ Body *consent.SubjectAccess }, error) {
			x, err := crmOf(ctx).Consent.Export(ctx, in.ID)
			if err != nil {
				return nil, problem(err, false)
			}
			return &struct{ Body *consent.SubjectAccess }{Body: x}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "erase-contact", Method: http.MethodPost, Path: "/contacts/{id}/erase",
		Tags: tags, Summary: "Erase a person", Description: "Anonymises the person across every module in one transaction (GDPR Art. 17) and returns the receipt.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			ID   core.ID `path:"id"`
			Body struct {
				Reason string `json:"reason"`
			}
		}) (*struct{ Body *consent.ErasureReceipt }, error) {
			r, err := crmOf(ctx).Consent.Erase(ctx, in.ID, in.Body.Reason)
			if err != nil {
				return nil, problem(err, false)
			}
			return &struct{ Body *consent.ErasureReceipt }{Body: r}, nil
		})
}
