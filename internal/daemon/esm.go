package daemon

import (
	"context"
	"strconv"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/esm"
	"github.com/nimbus-serverless/nimbus/internal/sqs"
)

// sqsSource is the SQS service as the event source mappings' pollers see
// it (esm.Queues).
type sqsSource struct{ s *sqs.Service }

func (q sqsSource) IsFIFO(ctx context.Context, account, name string) (bool, error) {
	return q.s.IsFIFO(ctx, account, name)
}

func (q sqsSource) Delete(ctx context.Context, account, name, handle string) error {
	return q.s.Delete(ctx, account, name, handle)
}

func (q sqsSource) Receive(ctx context.Context, account, name string, n int, wait time.Duration) ([]esm.Message, error) {
	got, err := q.s.Receive(ctx, account, name, sqs.ReceiveInput{Max: n, Wait: wait})
	if err != nil {
		return nil, err
	}
	out := make([]esm.Message, len(got))
	for i, m := range got {
		sys := map[string]string{}
		for k, v := range m.System {
			if v != "" {
				sys[k] = v
			}
		}
		attrs := make(map[string]esm.MessageAttribute, len(m.Attributes))
		for k, v := range m.Attributes {
			attrs[k] = esm.MessageAttribute{DataType: v.DataType, StringValue: v.StringValue, BinaryValue: v.BinaryValue}
		}
		out[i] = esm.Message{MessageID: m.MessageID, ReceiptHandle: m.ReceiptHandle, Body: m.Body, MD5OfBody: m.MD5OfBody,
			MD5OfAttributes: m.MD5OfAttrs, Attributes: sys, MessageAttributes: attrs}
	}
	return out, nil
}

// Depth is the queue's visible messages, by which mappings scale their
// pollers (esm.QueueDepth).
func (q sqsSource) Depth(ctx context.Context, account, name string) (int, error) {
	a, err := q.s.Attributes(ctx, account, name, []string{"ApproximateNumberOfMessages"})
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(a["ApproximateNumberOfMessages"])
}
