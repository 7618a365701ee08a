// Package clocktest is the deterministic clock tests inject wherever time
// matters (recall windows, expiry, retention): it moves only when told.
package clocktest

import (
	"sync"
	"time"
)

// Clock is a domain.Clock that a test advances.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock standing at now.
func New(now time.Time) *Clock { return &Clock{now: now} }

// Now implements domain.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
