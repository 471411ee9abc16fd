package sqs

import (
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// TestDeletedElsewhereLeavesTheCache: a queue deleted through another
// node's service leaves this node's record cache at once (the bucket
// watch), so its sends are refused rather than packed and dropped.
func TestDeletedElsewhereLeavesTheCache(t *testing.T) {
	st := storetest.Open(t)
	open := func() *Service {
		s, err := New(t.Context(), Options{JetStream: st.JetStream(), Region: "us-east-1", AccountID: testAccount})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	a, b := open(), open()
	if _, err := a.CreateQueue(t.Context(), testAccount, "gone", nil, nil); err != nil {
		t.Fatal(err)
	}
	cached := func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		_, ok := a.records[testAccount+"/gone"]
		return ok
	}
	// A send caches the record (the watch's news of the creation may
	// drop it once: send again until it stays).
	for deadline := time.Now().Add(30 * time.Second); !cached(); {
		if time.Now().After(deadline) {
			t.Fatal("sends did not cache the queue's record")
		}
		if _, _, err := a.Send(t.Context(), testAccount, "gone", []*SendInput{{Body: "x"}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := b.DeleteQueue(t.Context(), testAccount, "gone"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); cached(); {
		if time.Now().After(deadline) {
			t.Fatal("the record of a queue deleted through another service stayed cached")
		}
		time.Sleep(5 * time.Millisecond) // polling the watch's effect
	}
	if _, _, err := a.Send(t.Context(), testAccount, "gone", []*SendInput{{Body: "y"}}); !isCode(err, "QueueDoesNotExist") {
		t.Fatalf("send to the deleted queue: %v, want QueueDoesNotExist", err)
	}
}
