package sqs

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// BenchmarkSend measures durable sends through the HTTP API with
// aws-sdk-go-v2 from 16 concurrent clients, one message per request and
// batches of 10; msgs/s is the figure to compare with the goal.
func BenchmarkSend(b *testing.B) {
	for _, mode := range []string{"group", "pipelined"} {
		for _, batch := range []int{1, 10} {
			b.Run(mode+"/batch="+strconv.Itoa(batch), func(b *testing.B) {
				groupCommit = mode == "group"
				defer func() { groupCommit = true }()
				c := serve(b, storetest.Open(b))
				url := createQueue(b, c, "bench", nil)
				const clients = 16
				work := make(chan struct{}, clients)
				var wg sync.WaitGroup
				start := time.Now()
				for range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						entries := make([]types.SendMessageBatchRequestEntry, batch)
						for i := range entries {
							entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String("payload of a benchmark message")}
						}
						for range work {
							var err error
							if batch == 1 {
								_, err = c.SendMessage(b.Context(), &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("payload of a benchmark message")})
							} else {
								_, err = c.SendMessageBatch(b.Context(), &awssqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
							}
							if err != nil {
								b.Error(err)
							}
						}
					}()
				}
				for b.Loop() {
					work <- struct{}{}
				}
				close(work)
				wg.Wait()
				b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "msgs/s")
			})
		}
	}
}

// BenchmarkBackboneFloor is the floor under BenchmarkSend: 16 goroutines
// publishing straight to a stream configured as a queue's (SyncAlways
// store, each publish awaited), no HTTP, no SQS. Run the two together
// and compare msgs/s:
//
//	go test -run x -bench 'BenchmarkSend/group|BenchmarkBackboneFloor' -benchtime 3s ./internal/sqs
func BenchmarkBackboneFloor(b *testing.B) {
	st := storetest.Open(b)
	js := st.JetStream()
	q := &queue{ID: "floor", Attrs: defaultAttrs(false)}
	if _, err := js.CreateStream(b.Context(), streamConfig(q)); err != nil {
		b.Fatal(err)
	}
	const clients = 16
	work := make(chan struct{}, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for range work {
				if _, err := js.Publish(b.Context(), q.subject(), []byte("payload of a benchmark message")); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for b.Loop() {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
