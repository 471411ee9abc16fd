package apigw

import "testing"

// TestSQSJSON: SQS's XML answers become the JSON API Gateway's SQS-*
// integrations answer with (every member of the shape, null when absent,
// "messages" for ReceiveMessage), as AWS's own examples show it.
func TestSQSJSON(t *testing.T) {
	for name, c := range map[string]struct{ xml, want string }{
		"send": {
			`<SendMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><SendMessageResult><MessageId>m-1</MessageId><MD5OfMessageBody>abc</MD5OfMessageBody></SendMessageResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></SendMessageResponse>`,
			`{"SendMessageResponse":{"ResponseMetadata":{"RequestId":"r-1"},"SendMessageResult":{"MD5OfMessageAttributes":null,"MD5OfMessageBody":"abc","MD5OfMessageSystemAttributes":null,"MessageId":"m-1","SequenceNumber":null}}}`,
		},
		"receive none": {
			`<ReceiveMessageResponse><ReceiveMessageResult/><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></ReceiveMessageResponse>`,
			`{"ReceiveMessageResponse":{"ReceiveMessageResult":{"messages":null},"ResponseMetadata":{"RequestId":"r-2"}}}`,
		},
		"receive": {
			`<ReceiveMessageResponse><ReceiveMessageResult><Message><MessageId>m-1</MessageId><ReceiptHandle>h</ReceiptHandle><MD5OfBody>d</MD5OfBody><Body>hi</Body>` +
				`<Attribute><Name>SenderId</Name><Value>000000000000</Value></Attribute></Message>` +
				`<Message><MessageId>m-2</MessageId><ReceiptHandle>h2</ReceiptHandle><MD5OfBody>d2</MD5OfBody><Body>yo</Body><MD5OfMessageAttributes>a</MD5OfMessageAttributes>` +
				`<MessageAttribute><Name>k</Name><Value><StringValue>v</StringValue><DataType>String</DataType></Value></MessageAttribute></Message>` +
				`</ReceiveMessageResult><ResponseMetadata><RequestId>r-3</RequestId></ResponseMetadata></ReceiveMessageResponse>`,
			`{"ReceiveMessageResponse":{"ReceiveMessageResult":{"messages":[` +
				`{"Attributes":{"SenderId":"000000000000"},"Body":"hi","MD5OfBody":"d","MD5OfMessageAttributes":null,"MessageAttributes":null,"MessageId":"m-1","ReceiptHandle":"h"},` +
				`{"Attributes":null,"Body":"yo","MD5OfBody":"d2","MD5OfMessageAttributes":"a","MessageAttributes":{"k":{"BinaryListValues":null,"BinaryValue":null,"DataType":"String","StringListValues":null,"StringValue":"v"}},"MessageId":"m-2","ReceiptHandle":"h2"}` +
				`]},"ResponseMetadata":{"RequestId":"r-3"}}}`,
		},
		"delete": {
			`<DeleteMessageResponse><ResponseMetadata><RequestId>r-4</RequestId></ResponseMetadata></DeleteMessageResponse>`,
			`{"DeleteMessageResponse":{"ResponseMetadata":{"RequestId":"r-4"}}}`,
		},
	} {
		got, err := sqsJSON([]byte(c.xml))
		if err != nil || string(got) != c.want {
			t.Errorf("%s:\n got %s (%v)\nwant %s", name, got, err, c.want)
		}
	}
	if _, err := sqsJSON([]byte("not xml")); err == nil {
		t.Error("sqsJSON accepted text that is not XML")
	}
}
