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
// each), sequential and concurrent:
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

// BenchmarkFastBatchBaseline writes the same events with JetStream's fast
// (non-atomic) batch publish, 16 per batch like the group commit above
// sees under 32 callers, on a stream beside the queue with the same
// settings: the other batch API of nats-server 2.14+, for comparison.
func BenchmarkFastBatchBaseline(b *testing.B) {
	s := queueOnly(b)
	ctx := context.Background()
	cfg := streamConfig(DefaultMaxMsgs, DefaultMaxBytes)
	cfg.Name, cfg.Subjects, cfg.AllowAtomicPublish, cfg.AllowBatchPublish = "BENCH_FAST", []string{"bench.fast"}, false, true
	if _, err := s.js.CreateStream(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	const per = 16
	var i int64
	for b.Loop() {
		i++
		if i%per != 1 {
			continue
		}
		fp, err := jetstreamext.NewFastPublisher(s.js)
		if err != nil {
			b.Fatal(err)
		}
		for j := range per {
			m := plainMsg(b, s, i*per+int64(j))
			m.Subject = "bench.fast"
			if j == per-1 {
				if _, err := fp.CommitMsg(ctx, m); err != nil {
					b.Fatal(err)
				}
			} else if _, err := fp.AddMsg(m); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
