package awsapi

import (
	"regexp"
	"sync"
	"testing"

	"github.com/google/uuid"
)

var requestIDForm = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// Request ids are version 4 UUIDs in their canonical text form, as
// google/uuid reads them, and distinct across goroutines.
func TestNewRequestID(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 2000 {
				id := NewRequestID()
				u, err := uuid.Parse(id)
				if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || !requestIDForm.MatchString(id) || u.String() != id {
					t.Errorf("request id %q: %v, version %d, variant %v", id, err, u.Version(), u.Variant())
					return
				}
				mu.Lock()
				if seen[id] {
					t.Errorf("request id %q given twice", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// BenchmarkNewRequestID beside what it replaced, google/uuid's NewString.
func BenchmarkNewRequestID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = NewRequestID()
	}
}

func BenchmarkUUIDNewStringBaseline(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = uuid.NewString()
	}
}
