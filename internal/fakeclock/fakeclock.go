// Package fakeclock is a clock tests move by hand, for the services whose
// loops wait on a clock (the event bus's schedules and archives, the
// scheduler). A loop asks the clock for a channel that fires after a
// duration; the test advances the clock and the channels that came due
// fire. It imports only the standard library.
package fakeclock

import (
	"sync"
	"testing"
	"time"
)

// Clock is a clock that moves only when Advance is called.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// New returns a clock that reads now until it is advanced.
func New(now time.Time) *Clock { return &Clock{now: now} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the clock's time once the clock
// has been advanced by at least d (at once when d is not positive).
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

// Advance moves the clock by d and fires the waiters that came due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
}

// Waiting counts the waiters due no later than by; a zero by counts them
// all.
func (c *Clock) Waiting(by time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, w := range c.waiters {
		if by.IsZero() || !w.at.After(by) {
			n++
		}
	}
	return n
}

// WaitFor waits until at least n waiters are due no later than by (a zero
// by: due at any time), polling the clock's state; a hang guard of a
// minute of real time fails the test. Nothing is asserted on time.
func (c *Clock) WaitFor(t testing.TB, n int, by time.Time) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for c.Waiting(by) < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d loops waited on the clock (for %s or earlier)", n, by)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
