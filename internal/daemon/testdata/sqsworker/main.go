// Command sqsworker is a test function for SQS event source mappings: it
// reports as failed every record whose body's kind is "fail", and every
// record that is not shaped as Lambda's SQS records are.
package main

import (
	"context"
	"crypto/md5" //nolint:gosec // SQS's digest
	"encoding/hex"
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var out events.SQSEventResponse
	for _, r := range ev.Records {
		var body struct{ Kind string }
		_ = json.Unmarshal([]byte(r.Body), &body)
		sum := md5.Sum([]byte(r.Body)) //nolint:gosec // SQS's digest
		ok := body.Kind != "fail" && r.EventSource == "aws:sqs" && r.EventSourceARN != "" && r.AWSRegion != "" &&
			r.MessageId != "" && r.ReceiptHandle != "" && r.Md5OfBody == hex.EncodeToString(sum[:]) &&
			r.Attributes["ApproximateReceiveCount"] != "" && r.MessageAttributes["n"].DataType == "Number"
		if !ok {
			out.BatchItemFailures = append(out.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
	}
	return out, nil
}

func main() { lambda.Start(handle) }
