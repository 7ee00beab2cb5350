package crmtest

import (
	"sync"
	"time"

	"github.com/crmkit/crmkit/core"
)

// Clock is a core.Clock that stands still until the test moves it: every
// reading between two moves returns the same time, so a job scheduled for
// later is not due until Advance or Set passes its time. crmkit and River
// both read it (River schedules waits, retries and snoozes by it). Times
// are kept in UTC at crmkit's storage precision (core.TimePrecision).
// It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{now: core.NormalizeTime(t)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (back, if d is negative) and
// returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = core.NormalizeTime(c.now.Add(d))
	return c.now
}

// Set moves the clock to t. Moving it back is allowed: what was due stays
// due, what is scheduled waits for the clock again.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = core.NormalizeTime(t)
}

var _ core.Clock = (*Clock)(nil)
