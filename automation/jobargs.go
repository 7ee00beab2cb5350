package automation

import (
	"encoding/json"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/crmkit/crmkit/internal/store"
)

// argsVersion is the version of the job payloads; a job with another is
// cancelled (logged), not retried.
const argsVersion = 1

// payload is embedded in job arguments: the payload version, the tenant,
// and — when the payload does not parse — the error, so the worker can
// cancel the job instead of River retrying a job that can never run.
type payload struct {
	V        int    `json:"v"`
	Tenant   string `json:"tenant,omitempty"`
	parseErr error
}

// header is the payload header of a job of tenant.
func header(tenant string) payload { return payload{V: argsVersion, Tenant: tenant} }

func (p *payload) check() error {
	if p.parseErr != nil {
		return river.JobCancel(fmt.Errorf("crm: job payload does not parse (written by another crmkit version?): %w", p.parseErr))
	}
	if p.V != argsVersion {
		return river.JobCancel(fmt.Errorf("crm: job payload version %d is not %d", p.V, argsVersion))
	}
	return nil
}

// open checks the payload and returns the scope of its tenant.
func (p *payload) open(rt *store.Runtime) (store.Scope, error) {
	if err := p.check(); err != nil {
		return store.Scope{}, err
	}
	sc := store.NewScope(rt).WithTenant(p.Tenant)
	if _, err := sc.Tenant(); err != nil {
		return sc, river.JobCancel(err)
	}
	return sc, nil
}

// lenient decodes data into v, recording an error in p instead of
// failing.
func lenient[T any](data []byte, v *T, p *payload) error {
	if err := json.Unmarshal(data, v); err != nil {
		p.parseErr = err
	}
	return nil
}
