// Package demo fills a CRM with a realistic, deterministic data set: two
// years of a small software business's customers, made through crmkit's
// public Go API (bulk imports where there are), for trying crmkit out,
// for the dashboard and for tests that want a CRM that looks used.
//
//	clock := demo.NewClock(time.Now())
//	rec := &demo.Recorder{} // the campaign's mail is recorded, not sent
//	cfg := crm.Config{DSN: "file:demo.db"}
//	demo.Configure(&cfg, clock, rec)
//	c, _ := crm.Open(ctx, cfg)
//	_ = c.Migrate(ctx)
//	sum, _ := demo.Fill(ctx, c, clock, demo.Options{Seed: 42, Contacts: 5000})
//	fmt.Println(sum.Digest) // the same for seed 42 on every run
//
// Determinism: every choice comes from a PRNG seeded with Options.Seed,
// nothing is ranged over in map order, and crmkit's clock is the demo's
// Clock, which Fill sets to the time of each thing it does (the history
// runs in time order), so the times crmkit records are the same on every
// run too. Ids are UUIDv7 and new on every run; Digest hashes the content
// (names, addresses, amounts, stages, times, events by type and time) and
// is the same for the same seed on SQLite and PostgreSQL. The campaign is
// sent by crmkit's workers with the clock standing still, and Fill waits
// until no job is due, so their work is part of the digest too. Periodic
// work (retention, rescoring, sweeps) is off in a demo's configuration
// (Configure): it would run at times of its own.
//
// Every address the demo makes is under the reserved .example domain.
//
// The package is internal, and sits above crm (it fills a CRM through its
// API), as internal/modules sits above the modules: the command line's
// demo command (cmd/crmkit/crmcli) and crmkit's own tests use it; hosts
// run the command (or mount it with package crmcli). Its data set may
// change between versions of crmkit.
package demo
