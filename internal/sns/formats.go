package sns

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"time"
)

// envelope is the JSON document SNS delivers to SQS queues (without raw
// delivery) and HTTP endpoints, members in AWS's order.
type envelope struct {
	Type              string               `json:"Type"`
	MessageID         string               `json:"MessageId"`
	Token             string               `json:"Token,omitempty"`
	SequenceNumber    string               `json:"SequenceNumber,omitempty"`
	TopicArn          string               `json:"TopicArn"`
	Subject           *string              `json:"Subject,omitempty"`
	Message           string               `json:"Message"`
	SubscribeURL      string               `json:"SubscribeURL,omitempty"`
	Timestamp         string               `json:"Timestamp"`
	SignatureVersion  string               `json:"SignatureVersion"`
	Signature         string               `json:"Signature"`
	SigningCertURL    string               `json:"SigningCertURL"`
	UnsubscribeURL    string               `json:"UnsubscribeURL,omitempty"`
	MessageAttributes map[string]attrValue `json:"MessageAttributes,omitempty"`
}

// attrValue is a message attribute as envelopes and Lambda events carry
// it (Binary values base64).
type attrValue struct {
	Type  string `json:"Type"`
	Value string `json:"Value"`
}

func envelopeAttrs(attrs map[string]msgAttr) map[string]attrValue {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string]attrValue, len(attrs))
	for k, a := range attrs {
		v := a.String
		if a.Binary != nil {
			v = base64.StdEncoding.EncodeToString(a.Binary)
		}
		out[k] = attrValue{Type: a.Type, Value: v}
	}
	return out
}

func timestamp(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

// bodyFor is the message a protocol receives: with MessageStructure json,
// the protocol's own member if it is a string, else "default".
func bodyFor(m *message, protocol string) string {
	if m.Structure != "json" {
		return m.Message
	}
	var obj map[string]json.RawMessage
	_ = json.Unmarshal([]byte(m.Message), &obj)
	var s string
	if raw, ok := obj[protocol]; ok && json.Unmarshal(raw, &s) == nil {
		return s
	}
	_ = json.Unmarshal(obj["default"], &s)
	return s
}

// delivery is one message on its way to one subscription.
type delivery struct {
	msg      *message
	sub      *subscription
	msgID    string
	seq      string // FIFO SequenceNumber
	topicArn string
	subArn   string
}

func (s *Service) signatureVersion(t *topic) string {
	if t != nil && t.Attrs["SignatureVersion"] == "2" {
		return "2"
	}
	return "1"
}

func (s *Service) unsubscribeURL(subArn string) string {
	return s.endpoint + "/?Action=Unsubscribe&SubscriptionArn=" + url.QueryEscape(subArn)
}

// notification is the envelope of d (Type Notification), signed.
func (s *Service) notification(d *delivery, version string) *envelope {
	e := &envelope{
		Type: "Notification", MessageID: d.msgID, SequenceNumber: d.seq, TopicArn: d.topicArn,
		Message: bodyFor(d.msg, d.sub.Protocol), Timestamp: timestamp(d.msg.Timestamp),
		SignatureVersion: version, SigningCertURL: s.endpoint + CertPath,
		UnsubscribeURL: s.unsubscribeURL(d.subArn), MessageAttributes: envelopeAttrs(d.msg.Attrs),
	}
	if d.msg.Subject != "" {
		subj := d.msg.Subject
		e.Subject = &subj
	}
	e.Signature = s.signer.sign(e, version)
	return e
}

// lambdaEvent is the event a subscribed function receives (as AWS sends
// it: github.com/aws/aws-lambda-go/events.SNSEvent).
type lambdaEvent struct {
	Records []lambdaRecord `json:"Records"`
}

type lambdaRecord struct {
	EventVersion         string    `json:"EventVersion"`
	EventSubscriptionArn string    `json:"EventSubscriptionArn"`
	EventSource          string    `json:"EventSource"`
	Sns                  lambdaSNS `json:"Sns"`
}

type lambdaSNS struct {
	SignatureVersion  string               `json:"SignatureVersion"`
	Timestamp         string               `json:"Timestamp"`
	Signature         string               `json:"Signature"`
	SigningCertURL    string               `json:"SigningCertUrl"`
	MessageID         string               `json:"MessageId"`
	Message           string               `json:"Message"`
	MessageAttributes map[string]attrValue `json:"MessageAttributes"`
	Type              string               `json:"Type"`
	UnsubscribeURL    string               `json:"UnsubscribeUrl"`
	TopicArn          string               `json:"TopicArn"`
	Subject           *string              `json:"Subject"`
}

func (s *Service) lambdaPayload(d *delivery, version string) []byte {
	e := s.notification(d, version)
	attrs := e.MessageAttributes
	if attrs == nil {
		attrs = map[string]attrValue{}
	}
	ev := lambdaEvent{Records: []lambdaRecord{{
		EventVersion: "1.0", EventSubscriptionArn: d.subArn, EventSource: "aws:sns",
		Sns: lambdaSNS{
			SignatureVersion: e.SignatureVersion, Timestamp: e.Timestamp, Signature: e.Signature,
			SigningCertURL: e.SigningCertURL, MessageID: e.MessageID, Message: e.Message,
			MessageAttributes: attrs, Type: e.Type, UnsubscribeURL: e.UnsubscribeURL,
			TopicArn: e.TopicArn, Subject: e.Subject,
		},
	}}}
	b, _ := json.Marshal(ev)
	return b
}
