package sqs

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzReceiptHandle: a receipt handle is the caller's text; whatever it
// is, an accepted one names an ack subject of the queue's own consumer,
// never another subject of the backbone.
func FuzzReceiptHandle(f *testing.F) {
	q := &queue{ID: "abc123"}
	good := "$JS.ACK.SQS_abc123.sqs.1.7.7.1700000000000000000.0"
	f.Add(receiptHandle(q, good))
	f.Add(receiptHandle(q, "$JS.ACK.SQS_abc123.sqs.1.7.7.1700000000000000000.0.>"))
	f.Add(receiptHandle(q, "$JS.ACK.dom.acc.SQS_abc123.sqs.1.7.7.17.0.tok"))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte("SQS_abc123 $JS.API.STREAM.DELETE.SQS_abc123")))
	f.Add("!!!")
	f.Fuzz(func(t *testing.T, h string) {
		subj, err := ackSubject(q, h)
		if err != nil {
			if !isCode(err, "ReceiptHandleIsInvalid") {
				t.Fatalf("error %v", err)
			}
			return
		}
		toks := strings.Split(subj, ".")
		if !strings.HasPrefix(subj, "$JS.ACK.") || strings.ContainsAny(subj, " *>\r\n\t") {
			t.Fatalf("accepted %q -> %q", h, subj)
		}
		ours := len(toks) == 9 && toks[2] == q.streamName() && toks[3] == consumerName ||
			len(toks) >= 12 && toks[4] == q.streamName() && toks[5] == consumerName
		if !ours {
			t.Fatalf("accepted %q naming another consumer: %q", h, subj)
		}
	})
}

// FuzzMessageAttributes decodes a MessageAttributes map as the API does
// and validates it: no panic, and an accepted map has a digest and
// fits the limits.
func FuzzMessageAttributes(f *testing.F) {
	f.Add(`{"a":{"DataType":"String","StringValue":"x"}}`)
	f.Add(`{"n":{"DataType":"Number.int","StringValue":"-1.5e3"}}`)
	f.Add(`{"b":{"DataType":"Binary","BinaryValue":"AAE="}}`)
	f.Add(`{"AWS.x":{"DataType":"String","StringValue":"x"}}`)
	f.Add(`{"a":{"DataType":"String"}}`)
	f.Fuzz(func(t *testing.T, s string) {
		var attrs map[string]AttributeValue
		if json.Unmarshal([]byte(s), &attrs) != nil {
			return
		}
		size, err := checkMessageAttributes(attrs)
		if err != nil {
			if !isCode(err, "InvalidParameterValue") {
				t.Fatalf("error %v", err)
			}
			return
		}
		if len(attrs) > maxAttributes || size < 0 {
			t.Fatalf("accepted %d attributes, size %d", len(attrs), size)
		}
		if len(attrs) > 0 && len(md5OfAttributes(attrs)) != 32 {
			t.Fatal("no digest for accepted attributes")
		}
	})
}
