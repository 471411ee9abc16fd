package apigw

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
)

// sqsJSON is an SQS answer (query protocol, XML) as API Gateway hands it
// to the client of an SQS-* service integration: the JSON SQS's query API
// gives a caller that asks for JSON. Every member of the result's shape is
// present, absent ones as null, in name order; ReceiveMessage's list is
// "messages" (null when empty), its attributes maps. For example:
//
//	{"SendMessageResponse":{"ResponseMetadata":{"RequestId":"…"},
//	 "SendMessageResult":{"MD5OfMessageAttributes":null,"MD5OfMessageBody":"…",
//	 "MD5OfMessageSystemAttributes":null,"MessageId":"…","SequenceNumber":null}}}
//
// Other answers (DeleteMessage, PurgeQueue, errors) take the general
// conversion, xmlToJSON.
func sqsJSON(b []byte) ([]byte, error) {
	var root struct{ XMLName xml.Name }
	if err := xml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("sqs answer: %w", err)
	}
	switch root.XMLName.Local {
	case "SendMessageResponse":
		var x struct {
			Result struct {
				MD5OfMessageAttributes       *string
				MD5OfMessageBody             *string
				MD5OfMessageSystemAttributes *string
				MessageID                    *string `xml:"MessageId" json:"MessageId"`
				SequenceNumber               *string
			} `xml:"SendMessageResult"`
			Meta sqsMetadata `xml:"ResponseMetadata"`
		}
		if err := xml.Unmarshal(b, &x); err != nil {
			return nil, fmt.Errorf("sqs answer: %w", err)
		}
		return json.Marshal(map[string]any{"SendMessageResponse": map[string]any{"ResponseMetadata": x.Meta, "SendMessageResult": x.Result}})
	case "ReceiveMessageResponse":
		var x struct {
			Messages []sqsXMLMessage `xml:"ReceiveMessageResult>Message"`
			Meta     sqsMetadata     `xml:"ResponseMetadata"`
		}
		if err := xml.Unmarshal(b, &x); err != nil {
			return nil, fmt.Errorf("sqs answer: %w", err)
		}
		var msgs []sqsJSONMessage
		for _, m := range x.Messages {
			msgs = append(msgs, m.json())
		}
		return json.Marshal(map[string]any{"ReceiveMessageResponse": map[string]any{
			"ReceiveMessageResult": map[string]any{"messages": msgs}, "ResponseMetadata": x.Meta}})
	}
	return xmlToJSON(b)
}

type sqsMetadata struct {
	RequestID string `xml:"RequestId" json:"RequestId"`
}

type sqsXMLMessage struct {
	Attributes []struct {
		Name  string
		Value string
	} `xml:"Attribute"`
	Body                   *string
	MD5OfBody              *string
	MD5OfMessageAttributes *string
	MessageAttributes      []struct {
		Name  string
		Value struct {
			BinaryValue *string
			DataType    string
			StringValue *string
		}
	} `xml:"MessageAttribute"`
	MessageID     *string `xml:"MessageId"`
	ReceiptHandle *string
}

// sqsJSONMessage is a received message in the JSON answer.
type sqsJSONMessage struct {
	Attributes             map[string]string                `json:"Attributes"`
	Body                   *string                          `json:"Body"`
	MD5OfBody              *string                          `json:"MD5OfBody"`
	MD5OfMessageAttributes *string                          `json:"MD5OfMessageAttributes"`
	MessageAttributes      map[string]sqsJSONAttributeValue `json:"MessageAttributes"`
	MessageID              *string                          `json:"MessageId"`
	ReceiptHandle          *string                          `json:"ReceiptHandle"`
}

type sqsJSONAttributeValue struct {
	BinaryListValues []string `json:"BinaryListValues"`
	BinaryValue      *string  `json:"BinaryValue"`
	DataType         string   `json:"DataType"`
	StringListValues []string `json:"StringListValues"`
	StringValue      *string  `json:"StringValue"`
}

func (m sqsXMLMessage) json() sqsJSONMessage {
	out := sqsJSONMessage{Body: m.Body, MD5OfBody: m.MD5OfBody, MD5OfMessageAttributes: m.MD5OfMessageAttributes,
		MessageID: m.MessageID, ReceiptHandle: m.ReceiptHandle}
	for _, a := range m.Attributes {
		if out.Attributes == nil {
			out.Attributes = map[string]string{}
		}
		out.Attributes[a.Name] = a.Value
	}
	for _, a := range m.MessageAttributes {
		if out.MessageAttributes == nil {
			out.MessageAttributes = map[string]sqsJSONAttributeValue{}
		}
		out.MessageAttributes[a.Name] = sqsJSONAttributeValue{BinaryValue: a.Value.BinaryValue, DataType: a.Value.DataType,
			StringValue: a.Value.StringValue}
	}
	return out
}
