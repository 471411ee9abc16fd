package sqs

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

func TestPackRoundTrip(t *testing.T) {
	a := nats.NewMsg("sqs.q1")
	a.Data = []byte("one")
	a.Header.Set(hdrID, "id-1")
	a.Header.Add("Multi", "x")
	a.Header.Add("Multi", "y")
	b := &nats.Msg{Subject: "sqs.q2", Data: nil}
	data, err := encodePack([]*nats.Msg{a, b})
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodePack(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Subject != "sqs.q1" || string(got[0].Data) != "one" || got[0].Header.Get(hdrID) != "id-1" ||
		!slices.Equal(got[0].Header.Values("Multi"), []string{"x", "y"}) || got[1].Subject != "sqs.q2" || len(got[1].Data) != 0 {
		t.Fatalf("decoded %+v %+v", got[0], got[1])
	}
	if _, err := encodePack([]*nats.Msg{{Subject: "$JS.API.STREAM.DELETE.X"}}); err == nil {
		t.Fatal("a pack took a subject outside the queues'")
	}
	if _, err := decodePack(data[:len(data)-1]); err == nil {
		t.Fatal("a truncated pack decoded")
	}
}

// FuzzDecodePack: the intake's packs are read back after a crash; a
// damaged one must be refused, never panic or name a subject outside
// the queues'.
func FuzzDecodePack(f *testing.F) {
	m := nats.NewMsg("sqs.abc")
	m.Data = []byte("body")
	m.Header.Set("Sqs-Id", "x")
	good, _ := encodePack([]*nats.Msg{m, m})
	f.Add(good)
	f.Add([]byte{1, 3, 'a', 'b', 'c'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, err := decodePack(b)
		if err != nil {
			return
		}
		for _, m := range msgs {
			if len(m.Subject) < 4 || m.Subject[:4] != "sqs." {
				t.Fatalf("subject %q", m.Subject)
			}
		}
		again, err := encodePack(msgs)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) > 0 && len(again) == 0 {
			t.Fatal("re-encoded to nothing")
		}
	})
}

// TestConcurrentSendsArePackedAndDelivered: sixteen concurrent senders
// share packs on the intake; every message reaches its queue exactly
// once and the intake is left empty.
func TestConcurrentSendsArePackedAndDelivered(t *testing.T) {
	st := storetest.Open(t)
	s, err := New(t.Context(), Options{JetStream: st.JetStream(), Region: "us-east-1", AccountID: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"a", "b"} {
		if _, err := s.CreateQueue(t.Context(), testAccount, q, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	const senders, each = 16, 40
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				q := []string{"a", "b"}[(g+i)%2]
				if _, errs, err := s.Send(t.Context(), testAccount, q, []*SendInput{{Body: fmt.Sprintf("%d-%d", g, i)}}); err != nil || errs[0] != nil {
					t.Errorf("send: %v %v", err, errs)
					return
				}
			}
		})
	}
	wg.Wait()
	got := map[string]int{}
	for _, q := range []string{"a", "b"} {
		for {
			// Short polls: a client reads its own writes through this node.
			msgs, err := s.Receive(t.Context(), testAccount, q, ReceiveInput{Max: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				got[m.Body]++
				if err := s.Delete(t.Context(), testAccount, q, m.ReceiptHandle); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if len(got) != senders*each {
		t.Fatalf("%d distinct messages received, want %d", len(got), senders*each)
	}
	for b, n := range got {
		if n != 1 {
			t.Fatalf("%q received %d times", b, n)
		}
	}
	s.Close()
	intake, err := st.JetStream().Stream(t.Context(), intakeStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := intake.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Fatalf("%d packs left in the intake after every message was moved", info.State.Msgs)
	}
	if info.State.LastSeq == 0 {
		t.Fatal("no pack was written: sixteen concurrent senders never shared a commit")
	}
}

// TestIntakeLeftoversAreMovedAtStart: a pack stored but not moved (the
// node died between the two) is moved to its queue when a service opens
// the store again; a pack of a queue deleted meanwhile is dropped.
func TestIntakeLeftoversAreMovedAtStart(t *testing.T) {
	st := storetest.Open(t)
	s, err := New(t.Context(), Options{JetStream: st.JetStream(), Region: "us-east-1", AccountID: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateQueue(t.Context(), testAccount, "kept", nil, nil); err != nil {
		t.Fatal(err)
	}
	q, err := s.cached(t.Context(), testAccount, "kept")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*nats.Msg
	for i := range 3 {
		m, _, err := s.prepare(q, &SendInput{Body: fmt.Sprintf("left-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	gone := &nats.Msg{Subject: "sqs.deletedqueue", Data: []byte("x")}
	for _, p := range [][]*nats.Msg{msgs[:2], {gone, msgs[2]}} {
		data, err := encodePack(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.JetStream().PublishMsg(t.Context(), &nats.Msg{Subject: intakePrefix + "deadnode", Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	s2, err := New(t.Context(), Options{JetStream: st.JetStream(), Region: "us-east-1", AccountID: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	deadline := time.Now().Add(10 * time.Second)
	for len(bodies) < 3 && time.Now().Before(deadline) {
		got, err := s2.Receive(t.Context(), testAccount, "kept", ReceiveInput{Max: 10, Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range got {
			bodies = append(bodies, m.Body)
		}
	}
	slices.Sort(bodies)
	if !slices.Equal(bodies, []string{"left-0", "left-1", "left-2"}) {
		t.Fatalf("received %q after the restart", bodies)
	}
	intake, err := st.JetStream().Stream(t.Context(), intakeStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := intake.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Fatalf("%d packs left in the intake after the start moved them", info.State.Msgs)
	}
}

// TestSweepMovesOtherNodesPacks: a running node's sweep moves a pack
// another node left (it died) and leaves its own to its mover.
func TestSweepMovesOtherNodesPacks(t *testing.T) {
	st := storetest.Open(t)
	s, err := New(t.Context(), Options{JetStream: st.JetStream(), Region: "us-east-1", AccountID: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateQueue(t.Context(), testAccount, "q", nil, nil); err != nil {
		t.Fatal(err)
	}
	q, err := s.cached(t.Context(), testAccount, "q")
	if err != nil {
		t.Fatal(err)
	}
	for _, subject := range []string{intakePrefix + "deadnode", s.intake.subject} {
		m, _, err := s.prepare(q, &SendInput{Body: subject})
		if err != nil {
			t.Fatal(err)
		}
		data, err := encodePack([]*nats.Msg{m})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.JetStream().PublishMsg(t.Context(), &nats.Msg{Subject: subject, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.intake.sweep(t.Context(), 0, s.intake.subject)
	if err != nil || n != 1 {
		t.Fatalf("sweep moved %d packs (%v), want the dead node's one", n, err)
	}
	got, err := s.Receive(t.Context(), testAccount, "q", ReceiveInput{Max: 10, Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Body != intakePrefix+"deadnode" {
		t.Fatalf("received %+v, want the dead node's message only", got)
	}
	intake, err := st.JetStream().Stream(t.Context(), intakeStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := intake.Info(t.Context(), jetstream.WithSubjectFilter(intakePrefix+">"))
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 || info.State.Subjects[s.intake.subject] != 1 {
		t.Fatalf("intake holds %d packs %v, want this node's own one left", info.State.Msgs, info.State.Subjects)
	}
}
