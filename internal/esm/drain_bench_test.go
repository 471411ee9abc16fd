package esm

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/sqs"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// BenchmarkDrain measures a queue drained through a QueueSource into a
// handler that does nothing (the poller's receive, record encoding and
// delete path without a function's invoke), batches of 10, five and 20
// workers, with the workers' deletes under way while they poll again
// (the default) and awaited before (as before): msgs/s is the figure
// beside the 2,000. BenchmarkDrain/await-deletes is the baseline
// of the same run.
//
//	go test -run x -bench BenchmarkDrain -benchtime 3000x ./internal/esm
func BenchmarkDrain(b *testing.B) {
	for _, mode := range []string{"async-deletes", "await-deletes"} {
		for _, workers := range []int{5, 20} {
			b.Run(mode+"/workers="+strconv.Itoa(workers), func(b *testing.B) {
				awaitDeletes = mode == "await-deletes"
				defer func() { awaitDeletes = false }()
				drain(b, workers)
			})
		}
	}
}

func drain(b *testing.B, workers int) {
	st := storetest.Open(b)
	ctx := b.Context()
	q, err := sqs.New(ctx, sqs.Options{JetStream: st.JetStream(), Region: "us-east-1", AccountID: "000000000000"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := q.CreateQueue(ctx, "000000000000", "work", map[string]string{"VisibilityTimeout": "300"}, nil); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i += 10 {
		var batch []*sqs.SendInput
		for j := range min(10, b.N-i) {
			batch = append(batch, &sqs.SendInput{Body: fmt.Sprint(i + j)})
		}
		if _, _, err := q.Send(ctx, "000000000000", "work", batch); err != nil {
			b.Fatal(err)
		}
	}
	var handled atomic.Int64
	done := make(chan struct{})
	src := &QueueSource{Queues: realQueues{q}, Arn: "arn:aws:sqs:us-east-1:000000000000:work", Region: "us-east-1",
		BatchSize: 10, Concurrency: workers}
	b.ResetTimer()
	start := time.Now()
	rctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		src.Run(rctx, func(ctx context.Context, records []json.RawMessage) ([]string, error) {
			if handled.Add(int64(len(records))) >= int64(b.N) {
				select {
				case <-done:
				default:
					close(done)
				}
			}
			return nil, nil
		})
	}()
	<-done
	// Drained once every delete is in as well.
	for {
		attrs, err := q.Attributes(ctx, "000000000000", "work", []string{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"})
		if err != nil {
			b.Fatal(err)
		}
		if attrs["ApproximateNumberOfMessages"] == "0" && attrs["ApproximateNumberOfMessagesNotVisible"] == "0" {
			break
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-stopped
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}
