package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/events"
	"github.com/nimbus-serverless/nimbus/internal/sqs"
)

// sqsTargets delivers EventBridge targets and dead letters to SQS queues
// (events.Deliverer for ARNs of service "sqs").
type sqsTargets struct{ s *sqs.Service }

func (q sqsTargets) Deliver(ctx context.Context, d *events.Delivery) error {
	// arn:aws:sqs:<region>:<account>:<name>
	p := strings.Split(d.TargetArn, ":")
	if len(p) != 6 || p[5] == "" {
		return fmt.Errorf("%w: %s is not a queue ARN", events.ErrUndeliverable, d.TargetArn)
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
			in.Attributes[k] = sqs.AttributeValue{DataType: "String", StringValue: &v}
		}
	}
	_, errs, err := q.s.Send(ctx, p[4], p[5], []*sqs.SendInput{in})
	if err == nil && len(errs) > 0 {
		err = errs[0]
	}
	var se *sqs.Error
	if errors.As(err, &se) && se.Status < 500 {
		return fmt.Errorf("%w: %w", events.ErrUndeliverable, err)
	}
	return err
}
