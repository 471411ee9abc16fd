package stack

import (
	"strconv"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// BenchmarkAddEvent measures recording one event on a stack that already
// has the most events kept (the events key is rewritten each time).
func BenchmarkAddEvent(b *testing.B) {
	st := storetest.Open(b)
	svc, err := New(Options{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	ev := Event{
		EventID: newUUID(), StackID: stackARN("eu-west-1", "123456789012", "app", newUUID()), StackName: "app",
		LogicalID: "HelloFunction", PhysicalID: "app-HelloFunction-ABCDEFGHIJKLM", ResourceType: "AWS::Lambda::Function",
		Status: StatusCreateComplete, StatusReason: strings.Repeat("r", 40),
	}
	for range maxEvents / 100 {
		evs := make([]Event, 100)
		for i := range evs {
			evs[i] = ev
		}
		if err := svc.addEvents(b.Context(), "bench", evs...); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if err := svc.addEvents(b.Context(), "bench", ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateStack measures a create of three resources with the fake
// provider, start to CREATE_COMPLETE (store writes and evaluation).
func BenchmarkCreateStack(b *testing.B) {
	st := storetest.Open(b)
	prov := newFake()
	providers := map[string]Provider{}
	for _, typ := range testTypes {
		providers[typ] = prov
	}
	svc, err := New(Options{Store: st, Providers: providers})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(svc.shutdown)
	n := 0
	for b.Loop() {
		n++
		name := "app" + strings.Repeat("x", n%5) + string(rune('a'+n%26)) + "-" + strings.TrimLeft(newUUID()[:8], "0123456789")
		id, err := svc.CreateStack(b.Context(), CreateInput{StackName: "s" + name, TemplateBody: threeThings})
		if err != nil {
			b.Fatal(err)
		}
		for {
			sts, err := svc.DescribeStacks(b.Context(), id)
			if err != nil {
				b.Fatal(err)
			}
			if !inProgress(sts[0].Status) {
				break
			}
		}
	}
}

// TestEventsBounded records more events than are kept, one at a time and
// in batches: the newest maxEvents come back, newest first, each once.
func TestEventsBounded(t *testing.T) {
	st := storetest.Open(t)
	svc, err := New(Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	next := func() Event {
		n++
		return Event{EventID: newUUID(), LogicalID: strconv.Itoa(n)}
	}
	for n < 1234 {
		batch := []Event{next()}
		if n%7 == 0 {
			batch = append(batch, next(), next())
		}
		if err := svc.addEvents(t.Context(), "x", batch...); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := svc.events(t.Context(), "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != maxEvents {
		t.Fatalf("%d events, want %d", len(evs), maxEvents)
	}
	for i, e := range evs {
		if want := strconv.Itoa(n - i); e.LogicalID != want {
			t.Fatalf("event %d is %s, want %s", i, e.LogicalID, want)
		}
	}
}
