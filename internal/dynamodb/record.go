package dynamodb

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// StreamRecord is a DynamoDB Streams record, as GetRecords and the Lambda
// event (Records[]) carry it.
type StreamRecord struct {
	EventID      string        `json:"eventID"`
	EventName    string        `json:"eventName"`
	EventVersion string        `json:"eventVersion"`
	EventSource  string        `json:"eventSource"`
	AwsRegion    string        `json:"awsRegion"`
	Dynamodb     StreamData    `json:"dynamodb"`
	UserIdentity *UserIdentity `json:"userIdentity,omitempty"`
}

// StreamData is a record's dynamodb member.
type StreamData struct {
	ApproximateCreationDateTime float64 `json:"ApproximateCreationDateTime"`
	Keys                        Item    `json:"Keys"`
	NewImage                    Item    `json:"NewImage,omitempty"`
	OldImage                    Item    `json:"OldImage,omitempty"`
	SequenceNumber              string  `json:"SequenceNumber"`
	SizeBytes                   int64   `json:"SizeBytes"`
	StreamViewType              string  `json:"StreamViewType"`
}

// UserIdentity marks a record written by the service itself (Time to
// Live deletions), in the Streams API's shape (Lambda's event writes it
// in lower case: LambdaEvent).
type UserIdentity struct {
	PrincipalID string `json:"PrincipalId"`
	Type        string `json:"Type"`
}

// outboxEntry is a stream record waiting in the store to be relayed to
// its JetStream stream.
type outboxEntry struct {
	StreamArn string       `json:"s"`
	Record    StreamRecord `json:"r"`
}

// regionOf reads the region from an ARN.
func regionOf(arn string) string {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) < 4 {
		return ""
	}
	return parts[3]
}

// appendRecord puts a change's stream record in the outbox, in the same
// transaction as the change itself.
func (w *wtx) appendRecord(t *tableDesc, c change) error {
	view := t.StreamSpecification.StreamViewType
	base := c.new
	if base == nil {
		base = c.old
	}
	s := t.schema()
	r := StreamRecord{
		EventID: strings.ReplaceAll(uuid.NewString(), "-", ""), EventVersion: "1.1", EventSource: "aws:dynamodb",
		AwsRegion: regionOf(t.TableArn),
		Dynamodb: StreamData{
			ApproximateCreationDateTime: float64(time.Now().Unix()),
			Keys:                        keyItem(s, base),
			StreamViewType:              view,
		},
	}
	switch {
	case c.old == nil:
		r.EventName = "INSERT"
	case c.new == nil:
		r.EventName = "REMOVE"
	default:
		r.EventName = "MODIFY"
	}
	if view == "NEW_IMAGE" || view == "NEW_AND_OLD_IMAGES" {
		r.Dynamodb.NewImage = c.new
	}
	if view == "OLD_IMAGE" || view == "NEW_AND_OLD_IMAGES" {
		r.Dynamodb.OldImage = c.old
	}
	if c.ttl {
		r.UserIdentity = &UserIdentity{PrincipalID: "dynamodb.amazonaws.com", Type: "Service"}
	}
	r.Dynamodb.SizeBytes = int64(itemSize(r.Dynamodb.Keys) + itemSize(r.Dynamodb.NewImage) + itemSize(r.Dynamodb.OldImage))
	b, err := json.Marshal(outboxEntry{StreamArn: t.LatestStreamArn, Record: r})
	if err != nil {
		return fmt.Errorf("encode stream record: %w", err)
	}
	ob := w.tx.Bucket(bucketOutbox)
	seq, err := ob.NextSequence()
	if err != nil {
		return fmt.Errorf("stream record sequence: %w", err)
	}
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return w.putIn(ob, bucketOutbox, k[:], b)
}

// lambdaRecord is a stream record as Lambda's DynamoDB event carries it
// (userIdentity in lower case, the stream's ARN added).
type lambdaRecord struct {
	EventID        string          `json:"eventID"`
	EventName      string          `json:"eventName"`
	EventVersion   string          `json:"eventVersion"`
	EventSource    string          `json:"eventSource"`
	AwsRegion      string          `json:"awsRegion"`
	Dynamodb       StreamData      `json:"dynamodb"`
	EventSourceARN string          `json:"eventSourceARN"`
	UserIdentity   *lambdaIdentity `json:"userIdentity,omitempty"`
}

type lambdaIdentity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
}

// LambdaEvent is the record as an element of Lambda's event Records,
// for a mapping of stream arn.
func (r *StreamRecord) LambdaEvent(arn string) ([]byte, error) {
	l := lambdaRecord{EventID: r.EventID, EventName: r.EventName, EventVersion: r.EventVersion, EventSource: r.EventSource,
		AwsRegion: r.AwsRegion, Dynamodb: r.Dynamodb, EventSourceARN: arn}
	if r.UserIdentity != nil {
		l.UserIdentity = &lambdaIdentity{Type: r.UserIdentity.Type, PrincipalID: r.UserIdentity.PrincipalID}
	}
	return json.Marshal(l)
}
