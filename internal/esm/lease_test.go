package esm

import (
	"context"
	"log/slog"
	"testing"
)

// TestKinesisMappingsRunUnderALease: a Kinesis stream is the cluster's, so
// its mapping's reader runs only inside the mapping's lease (one node at a
// time); without the lease every node of a cluster would deliver every
// batch.
func TestKinesisMappingsRunUnderALease(t *testing.T) {
	var names []string
	s := &Service{log: slog.New(slog.DiscardHandler),
		lease: func(_ context.Context, name string, _ func(context.Context) error) error {
			names = append(names, name) // not held: the reader never starts here
			return nil
		}}
	m := &stored{Mapping: Mapping{UUID: "4f2c6d1e-0000-4000-8000-000000000001",
		EventSourceArn: "arn:aws:kinesis:us-east-1:000000000000:stream/orders"}}
	s.workStream(t.Context(), m, nil)
	if len(names) != 1 || names[0] != "esm-"+m.UUID {
		t.Fatalf("leases taken: %q, want [esm-%s]", names, m.UUID)
	}
}
