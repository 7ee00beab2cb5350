package crm

import "github.com/crmkit/crmkit/automation"

// JobWorker does the work of crmkit's River jobs for an executor other
// than the workers Start runs: package crmtest works due jobs with it,
// synchronously and one at a time, under River's own executor. Hosts that
// run workers never need it.
func (c *CRM) JobWorker() automation.JobWorker { return c.shared.engine.JobWorker() }
