package cluster

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// The shares of every member add up to the total, differ by at most one,
// and a node outside the members keeps the whole (it has not heard of
// the others).
func TestShareAddsUpToTheTotal(t *testing.T) {
	for n := 1; n <= 5; n++ {
		var members []string
		for i := range n {
			members = append(members, fmt.Sprintf("node%d", i))
		}
		for total := range 12 {
			sum, lo, hi := 0, total, 0
			for _, m := range members {
				s := Share(total, members, m)
				sum += s
				lo, hi = min(lo, s), max(hi, s)
			}
			if sum != total || hi-lo > 1 {
				t.Errorf("%d among %d: shares add up to %d, range %d..%d", total, n, sum, lo, hi)
			}
		}
	}
	if got := Share(3, []string{"a", "b"}, "c"); got != 3 {
		t.Errorf("a node outside the members gets %d, want all 3", got)
	}
}

// Nodes learn each other from their adverts; a node whose adverts stop
// leaves the members after three intervals (Changed says so each time),
// and the allocations the others report add up on every node.
func TestMembershipFollowsAdverts(t *testing.T) {
	ns := natsServer(t)
	pa := &fakePool{name: "a"}
	a := node(t, ns, "a", pa)
	b, stopB := stoppableNode(t, ns, "b", map[string]int{"f:1": 2})
	_ = b
	waitMembers := func(want ...string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !slices.Equal(a.Members(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("members %v, want %v", a.Members(), want)
			}
			select {
			case <-a.Changed():
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	waitMembers("a", "b")
	if got := a.ProvisionedElsewhere("f:1"); got != 2 {
		t.Fatalf("b's provisioned f:1 seen from a: %d, want 2", got)
	}
	snap := a.Snapshot()
	if len(snap) != 2 || snap[0].Name != "a" || snap[1].Name != "b" || snap[1].Provisioned["f:1"] != 2 {
		t.Fatalf("snapshot %+v", snap)
	}
	for len(a.Changed()) > 0 {
		<-a.Changed()
	}
	stopB() // killed: its adverts stop
	select {
	case <-a.Changed():
	case <-time.After(10 * time.Second):
		t.Fatal("no change signalled after b's adverts stopped")
	}
	waitMembers("a")
	if got := a.ProvisionedElsewhere("f:1"); got != 0 {
		t.Fatalf("a dead node's allocation still counted: %d", got)
	}
}
