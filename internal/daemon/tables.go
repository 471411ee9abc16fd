package daemon

import (
	"context"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/dynamodb"
	"github.com/nimbus-serverless/nimbus/internal/esm"
)

// tableStreams is DynamoDB Streams as the event source mappings see it
// (esm.Streams): the node's own tables' streams.
type tableStreams struct{ s *dynamodb.Service }

func (t tableStreams) Exists(arn string) bool { return t.s.StreamExists(arn) }

func (t tableStreams) Latest(ctx context.Context, arn string) (uint64, error) {
	return t.s.LatestSequence(ctx, arn)
}

func (t tableStreams) Read(ctx context.Context, arn string, from uint64, n int) ([]esm.StreamRecord, uint64, error) {
	recs, next, err := t.s.ReadStream(ctx, arn, from, n)
	if err != nil {
		return nil, from, err
	}
	out := make([]esm.StreamRecord, 0, len(recs))
	shard := dynamodb.ShardID(arn)
	for i := range recs {
		ev, err := recs[i].LambdaEvent(arn)
		if err != nil {
			return nil, from, err
		}
		seq := recs[i].Dynamodb.SequenceNumber
		out = append(out, esm.StreamRecord{Sequence: dynamodb.SequenceOf(seq), SequenceNumber: seq, Event: ev,
			Created: time.Unix(int64(recs[i].Dynamodb.ApproximateCreationDateTime), 0), ShardID: shard})
	}
	return out, next, nil
}

// onFailureTo sends stream mappings' failure records through the node's
// delivery router (SQS queues, SNS topics when served) as Lambda acting
// as the mapping's function's execution role, as AWS sends them: the
// role must allow sqs:SendMessage or sns:Publish on the destination. A
// function that is gone has no role, and its records reach nothing.
func (d *Daemon) onFailureTo(r *deliver.Router) func(ctx context.Context, functionArn, arn string, body []byte) error {
	return func(ctx context.Context, functionArn, arn string, body []byte) error {
		src := &deliver.Source{Service: "lambda.amazonaws.com", Arn: functionArn, Account: d.cfg.AccountID}
		if name, q, ok := deliver.FunctionName(functionArn); ok {
			if fn, err := d.reg.Resolve(ctx, name, q); err == nil {
				src.RoleArn = fn.Role
			}
		}
		return r.Deliver(ctx, &deliver.Delivery{TargetArn: arn, Body: body, Source: src})
	}
}
