package fakeclock

import (
	"testing"
	"time"
)

func TestAdvanceFiresOnlyWhatCameDue(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	c := New(t0)
	if got := <-c.After(0); !got.Equal(t0) {
		t.Fatalf("After(0) fired with %s", got)
	}
	soon, later := c.After(time.Minute), c.After(time.Hour)
	if n := c.Waiting(t0.Add(time.Minute)); n != 1 {
		t.Fatalf("%d waiters due within a minute, want 1", n)
	}
	c.WaitFor(t, 2, time.Time{})
	c.Advance(time.Minute)
	select {
	case got := <-soon:
		if !got.Equal(t0.Add(time.Minute)) {
			t.Errorf("the minute's waiter fired with %s", got)
		}
	default:
		t.Fatal("the waiter due after a minute did not fire")
	}
	select {
	case <-later:
		t.Fatal("the waiter due after an hour fired after a minute")
	default:
	}
	if n := c.Waiting(time.Time{}); n != 1 {
		t.Errorf("%d waiters left, want 1", n)
	}
}
