package events

import (
	"testing"

	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// BenchmarkPutEvents measures durable PutEvents (one entry per call, the
// answer after the fsynced publish) from 16 concurrent aws-sdk-go-v2
// clients; routing is off so only the write path is timed. Report
// entries/s as b.N / elapsed (ns/op is per entry).
func BenchmarkPutEvents(b *testing.B) {
	st := storetest.Open(b)
	h := startBench(b, st)
	entry := []ebtypes.PutEventsRequestEntry{{Source: aws.String("bench"), DetailType: aws.String("b"),
		Detail: aws.String(`{"order":{"id":"1234","amount":42.5,"items":["a","b"]}}`)}}
	b.SetParallelism(8) // 16 clients on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			out, err := h.PutEvents(b.Context(), &eventbridge.PutEventsInput{Entries: entry})
			if err != nil || out.FailedEntryCount != 0 {
				b.Errorf("PutEvents: %v", err)
				return
			}
		}
	})
}

// startBench serves a Service that stores events without routing them.
func startBench(b *testing.B, st interface {
	JetStream() jetstream.JetStream
}) *eventbridge.Client {
	b.Helper()
	svc, err := New(b.Context(), Options{JetStream: st.JetStream(), Functions: functions{}, Async: newRecorder(),
		Region: region, AccountID: account, SingleNode: true})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	b.Cleanup(srv.Close)
	return eventbridge.New(eventbridge.Options{Region: region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
}
