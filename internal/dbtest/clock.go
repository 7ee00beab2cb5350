package dbtest

import (
	"sync"
	"time"
)

// Clock is a test clock: each reading advances it by its step (1 ms unless
// set), so that records made one after the other get distinct times.
type Clock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

// NewClock returns a clock at t stepping 1 ms.
func NewClock(t time.Time) *Clock { return &Clock{now: t, step: time.Millisecond} }

// Now advances the clock by its step and returns the time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

// Set moves the clock to t with a new step.
func (c *Clock) Set(t time.Time, step time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now, c.step = t, step
}

// Jump moves the clock to t.
func (c *Clock) Jump(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
