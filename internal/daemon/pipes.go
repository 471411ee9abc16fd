package daemon

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/esm"
	nimbusinvoke "github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/kinesis"
	"github.com/nimbus-serverless/nimbus/internal/pipes"
	"github.com/nimbus-serverless/nimbus/internal/sqs"
)

// pipesLease is the lease whose holder runs EventBridge Pipes (each pipe
// on one node of a cluster; docs/design/pipes.md).
const pipesLease = "pipes"

// newPipes builds EventBridge Pipes over the node's sources and targets.
func (d *Daemon) newPipes(ctx context.Context, queues *sqs.Service, streams esm.Streams, targets *deliver.Router) error {
	var lease func(context.Context, func(context.Context) error) error
	if d.leases != nil {
		lease = func(ctx context.Context, fn func(context.Context) error) error {
			return d.leases.Run(ctx, pipesLease, func(ctx context.Context, _ uint64) error { return fn(ctx) })
		}
	}
	var err error
	d.pipes, err = pipes.New(ctx, pipes.Options{
		JetStream: d.st.JetStream(), Queues: sqsSource{queues}, Streams: streams, Invoker: syncInvoker{d},
		Targets: targets, Bus: d.events, Lease: lease, Authorize: d.pipeAccess, Region: d.cfg.Region, AccountID: d.cfg.AccountID,
		Logger: d.log.With("component", "pipes"),
	})
	if err != nil {
		return fmt.Errorf("create pipes service: %w", err)
	}
	return nil
}

// syncInvoker invokes functions synchronously for pipes' enrichments and
// REQUEST_RESPONSE targets.
type syncInvoker struct{ d *Daemon }

func (s syncInvoker) InvokeSync(ctx context.Context, arn string, payload []byte) ([]byte, string, error) {
	ref, err := awsapi.ParseFunctionRef(arn)
	if err != nil {
		return nil, "", err
	}
	cfg, err := s.d.reg.Resolve(ctx, ref.Name, ref.Qualifier)
	if err != nil {
		return nil, "", fmt.Errorf("resolve function: %w", err)
	}
	res, err := s.d.pool.Invoke(ctx, cfg, &nimbusinvoke.Request{RequestID: uuid.NewString(), InvokedFunctionArn: arn, Payload: payload, Enqueued: time.Now()})
	if err != nil {
		return nil, "", fmt.Errorf("invoke: %w", err)
	}
	return res.Payload, res.FunctionError, nil
}

// streamSources are the stream sources of event source mappings and
// pipes (esm.Streams): DynamoDB Streams of the node's tables and Kinesis
// streams, told apart by ARN.
type streamSources struct {
	tables  tableStreams
	kinesis *kinesis.Service
	region  string
}

func (s streamSources) Exists(arn string) bool {
	if esm.IsKinesisArn(arn) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return s.kinesis.StreamExists(ctx, arn)
	}
	return s.tables.Exists(arn)
}

func (s streamSources) Latest(ctx context.Context, arn string) (uint64, error) {
	if esm.IsKinesisArn(arn) {
		return s.kinesis.LatestSequence(ctx, arn)
	}
	return s.tables.Latest(ctx, arn)
}

func (s streamSources) Read(ctx context.Context, arn string, from uint64, n int) ([]esm.StreamRecord, uint64, error) {
	if !esm.IsKinesisArn(arn) {
		return s.tables.Read(ctx, arn, from, n)
	}
	recs, next, err := s.kinesis.ReadRecords(ctx, arn, from, n)
	if err != nil {
		return nil, from, err
	}
	out := make([]esm.StreamRecord, 0, len(recs))
	for _, r := range recs {
		ev, err := json.Marshal(kinesisEvent{
			Kinesis: kinesisData{SchemaVersion: "1.0", PartitionKey: r.PartitionKey, SequenceNumber: r.SequenceNumber,
				Data: base64.StdEncoding.EncodeToString(r.Data), Arrival: float64(r.Arrival.UnixMilli()) / 1000},
			EventSource: "aws:kinesis", EventVersion: "1.0", EventID: r.ShardID + ":" + r.SequenceNumber,
			EventName: "aws:kinesis:record", InvokeIdentityArn: "arn:aws:iam::" + accountOf(arn) + ":role/nimbus",
			AWSRegion: s.region, EventSourceARN: arn,
		})
		if err != nil {
			return nil, from, fmt.Errorf("encode kinesis record: %w", err)
		}
		out = append(out, esm.StreamRecord{Sequence: r.Sequence, SequenceNumber: r.SequenceNumber, Event: ev, Created: r.Arrival, ShardID: r.ShardID})
	}
	return out, next, nil
}

func accountOf(arn string) string {
	if p := strings.Split(arn, ":"); len(p) > 4 {
		return p[4]
	}
	return ""
}

// kinesisEvent is a record of Lambda's Kinesis event.
type kinesisEvent struct {
	Kinesis           kinesisData `json:"kinesis"`
	EventSource       string      `json:"eventSource"`
	EventVersion      string      `json:"eventVersion"`
	EventID           string      `json:"eventID"`
	EventName         string      `json:"eventName"`
	InvokeIdentityArn string      `json:"invokeIdentityArn"`
	AWSRegion         string      `json:"awsRegion"`
	EventSourceARN    string      `json:"eventSourceARN"`
}

type kinesisData struct {
	SchemaVersion  string  `json:"kinesisSchemaVersion"`
	PartitionKey   string  `json:"partitionKey"`
	SequenceNumber string  `json:"sequenceNumber"`
	Data           string  `json:"data"`
	Arrival        float64 `json:"approximateArrivalTimestamp"`
}

// esmLease runs a Kinesis event source mapping's reader on one node of a
// cluster at a time (nil without leases: every mapping runs here).
func (d *Daemon) esmLease() func(context.Context, string, func(context.Context) error) error {
	if d.leases == nil {
		return nil
	}
	return func(ctx context.Context, name string, fn func(context.Context) error) error {
		return d.leases.Run(ctx, name, func(ctx context.Context, _ uint64) error { return fn(ctx) })
	}
}
