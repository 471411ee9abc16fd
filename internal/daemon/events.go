package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/sqs"
)

// sqsTargets delivers to SQS queues (the deliver.Deliverer of ARNs of
// service "sqs"): EventBridge targets and dead letters, async
// destinations and DeadLetterConfig, SNS subscriptions.
type sqsTargets struct{ s *sqs.Service }

func (q sqsTargets) Deliver(ctx context.Context, d *deliver.Delivery) error {
	// arn:aws:sqs:<region>:<account>:<name>
	p := strings.Split(d.TargetArn, ":")
	if len(p) != 6 || p[5] == "" {
		return deliver.Undeliverable("%s is not a queue ARN", d.TargetArn)
	}
	in := &sqs.SendInput{Body: string(d.Body), GroupID: d.GroupID}
	if strings.HasSuffix(p[5], ".fifo") {
		// A repeated attempt of one (event, rule, target) is sent once.
		sum := sha256.Sum256([]byte(d.DedupID))
		in.DeduplicationID = hex.EncodeToString(sum[:])
	}
	if len(d.Attributes) > 0 {
		in.Attributes = map[string]sqs.AttributeValue{}
		for k, v := range d.Attributes {
			av := sqs.AttributeValue{DataType: v.DataType}
			if strings.HasPrefix(v.DataType, "Binary") {
				av.BinaryValue = v.BinaryValue
			} else {
				av.StringValue = &v.StringValue
			}
			in.Attributes[k] = av
		}
	}
	_, errs, err := q.s.Send(ctx, p[4], p[5], []*sqs.SendInput{in})
	if err == nil && len(errs) > 0 {
		err = errs[0]
	}
	var se *sqs.Error
	if errors.As(err, &se) && se.Status < 500 {
		return fmt.Errorf("%w: %w", deliver.ErrUndeliverable, err)
	}
	return err
}
