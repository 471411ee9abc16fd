package async

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// The queue benchmarks compare, in one run, durable enqueues through the
// group-commit publisher from 32 concurrent callers with plain JetStream
// publishes of the same messages on the same stream (SyncAlways: one fsync
// each), sequential and concurrent, and with JetStream's batch publishes:
//
//	go test -run '^$' -bench . -benchtime 20000x ./internal/async/
//
// Read the events/s metrics as ratios within the run.

var benchPayload = []byte(`{"action":"echo","value":1,"padding":"` + fmt.Sprintf("%0200d", 0) + `"}`)

func benchEvent(i int64) *Event {
	return &Event{RequestID: fmt.Sprintf("bench-%d", i), FunctionName: "f",
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:f", Payload: benchPayload}
}

func BenchmarkEnqueueGroupCommit(b *testing.B) {
	s := queueOnly(b)
	var n atomic.Int64
	b.SetParallelism(16) // x GOMAXPROCS(2) = 32 callers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Enqueue(context.Background(), benchEvent(n.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/float64(s.pub.commits.Load()), "events/commit")
}

func plainMsg(b *testing.B, s *Service, i int64) *nats.Msg {
	env := &envelope{RequestID: fmt.Sprintf("plain-%d", i), Function: "f", InvokedArn: "arn", Payload: benchPayload,
		Enqueued: s.now().UnixMilli(), DedupID: fmt.Sprintf("plain-%d", i)}
	m, err := env.message()
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func BenchmarkPublishSequentialBaseline(b *testing.B) {
	s := queueOnly(b)
	var i int64
	for b.Loop() {
		i++
		if _, err := s.js.PublishMsg(context.Background(), plainMsg(b, s, i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkPublishConcurrentBaseline(b *testing.B) {
	s := queueOnly(b)
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.js.PublishMsg(context.Background(), plainMsg(b, s, n.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// The batch publish APIs of nats-server (2.12 atomic, 2.14 fast) were
// measured as the group commit before the group message replaced them:
// an atomic batch pays a fixed cost (a staging store per batch) that only
// large batches repay, and a fast batch stores and fsyncs each message.
// Kept as baselines, on streams beside the queue with the same settings.
func batchStream(b *testing.B, s *Service, name string, atomic bool) {
	b.Helper()
	cfg := streamConfig(DefaultMaxMsgs, DefaultMaxBytes, 1)
	cfg.Name, cfg.Subjects = name, []string{"bench." + name}
	cfg.AllowAtomicPublish, cfg.AllowBatchPublish = atomic, !atomic
	if _, err := s.js.CreateStream(context.Background(), cfg); err != nil {
		b.Fatal(err)
	}
}

func benchAtomicBatch(b *testing.B, per int) {
	s := queueOnly(b)
	batchStream(b, s, "ATOMIC", true)
	b.ResetTimer()
	var n int64
	for n < int64(b.N) { // b.N events, per to a batch
		msgs := make([]*nats.Msg, per)
		for j := range msgs {
			n++
			msgs[j] = plainMsg(b, s, n)
			msgs[j].Subject = "bench.ATOMIC"
		}
		if _, err := jetstreamext.PublishMsgBatch(context.Background(), s.js, msgs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkAtomicBatch16Baseline(b *testing.B)  { benchAtomicBatch(b, 16) }
func BenchmarkAtomicBatch256Baseline(b *testing.B) { benchAtomicBatch(b, 256) }

func BenchmarkFastBatch16Baseline(b *testing.B) {
	s := queueOnly(b)
	batchStream(b, s, "FAST", false)
	ctx := context.Background()
	const per = 16
	b.ResetTimer()
	var n int64
	for n < int64(b.N) { // b.N events, per to a batch
		fp, err := jetstreamext.NewFastPublisher(s.js)
		if err != nil {
			b.Fatal(err)
		}
		for j := range per {
			n++
			m := plainMsg(b, s, n)
			m.Subject = "bench.FAST"
			if j == per-1 {
				_, err = fp.CommitMsg(ctx, m)
			} else {
				_, err = fp.AddMsg(m)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
