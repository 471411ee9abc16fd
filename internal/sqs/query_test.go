package sqs

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

func queryServer(t *testing.T) *httptest.Server {
	t.Helper()
	svc, err := New(t.Context(), Options{JetStream: storetest.Open(t).JetStream(), Region: "us-east-1", AccountID: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(svc))
	t.Cleanup(srv.Close)
	return srv
}

func postForm(t *testing.T, target string, form url.Values) (int, string) {
	t.Helper()
	form.Set("Version", "2012-11-05")
	resp, err := http.Post(target, "application/x-www-form-urlencoded; charset=utf-8", strings.NewReader(form.Encode())) //nolint:noctx // test
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestQueryProtocol drives the old query protocol as older SDKs send it:
// form posts (some to the queue's URL), XML answers, legacy error codes.
func TestQueryProtocol(t *testing.T) {
	srv := queryServer(t)
	code, body := postForm(t, srv.URL, url.Values{"Action": {"CreateQueue"}, "QueueName": {"legacy"},
		"Attribute.1.Name": {"VisibilityTimeout"}, "Attribute.1.Value": {"45"}, "Tag.1.Key": {"team"}, "Tag.1.Value": {"a"}})
	var created struct {
		URL string `xml:"CreateQueueResult>QueueUrl"`
	}
	if code != 200 || xml.Unmarshal([]byte(body), &created) != nil || !strings.HasSuffix(created.URL, "/"+testAccount+"/legacy") {
		t.Fatalf("CreateQueue: %d %s", code, body)
	}
	code, body = postForm(t, srv.URL+"/"+testAccount+"/legacy", url.Values{"Action": {"SendMessage"}, "MessageBody": {"<hi & bye>"},
		"MessageAttribute.1.Name": {"k"}, "MessageAttribute.1.Value.DataType": {"String"}, "MessageAttribute.1.Value.StringValue": {"v"}})
	var sent struct {
		MD5   string `xml:"SendMessageResult>MD5OfMessageBody"`
		MD5A  string `xml:"SendMessageResult>MD5OfMessageAttributes"`
		MsgID string `xml:"SendMessageResult>MessageId"`
	}
	if code != 200 || xml.Unmarshal([]byte(body), &sent) != nil || sent.MD5 != md5Hex([]byte("<hi & bye>")) || sent.MD5A == "" || sent.MsgID == "" {
		t.Fatalf("SendMessage: %d %s", code, body)
	}
	// A long poll: a short one may sample no consumer that has the message
	// yet, as SQS's own short polls may.
	code, body = postForm(t, srv.URL, url.Values{"Action": {"ReceiveMessage"}, "QueueUrl": {created.URL},
		"AttributeName.1": {"All"}, "MessageAttributeName.1": {"All"}, "WaitTimeSeconds": {"10"}})
	var recv struct {
		Msgs []struct {
			Body   string                         `xml:"Body"`
			ID     string                         `xml:"MessageId"`
			MD5A   string                         `xml:"MD5OfMessageAttributes"`
			Attrs  []struct{ Name, Value string } `xml:"Attribute"`
			MAttrs []struct {
				Name  string
				Value struct{ StringValue, DataType string }
			} `xml:"MessageAttribute"`
		} `xml:"ReceiveMessageResult>Message"`
	}
	if code != 200 || xml.Unmarshal([]byte(body), &recv) != nil || len(recv.Msgs) != 1 {
		t.Fatalf("ReceiveMessage: %d %s", code, body)
	}
	m := recv.Msgs[0]
	if m.Body != "<hi & bye>" || m.ID != sent.MsgID || m.MD5A != sent.MD5A || len(m.MAttrs) != 1 || m.MAttrs[0].Value.StringValue != "v" || len(m.Attrs) < 3 {
		t.Fatalf("received %+v", m)
	}
	code, body = postForm(t, srv.URL, url.Values{"Action": {"GetQueueAttributes"}, "QueueUrl": {created.URL}, "AttributeName.1": {"VisibilityTimeout"}})
	if code != 200 || !strings.Contains(body, "<Attribute><Name>VisibilityTimeout</Name><Value>45</Value></Attribute>") {
		t.Fatalf("GetQueueAttributes: %d %s", code, body)
	}
	code, body = postForm(t, srv.URL, url.Values{"Action": {"SendMessageBatch"}, "QueueUrl": {created.URL},
		"SendMessageBatchRequestEntry.1.Id": {"a"}, "SendMessageBatchRequestEntry.1.MessageBody": {"1"},
		"SendMessageBatchRequestEntry.2.Id": {"b"}, "SendMessageBatchRequestEntry.2.MessageBody": {"2"},
		"SendMessageBatchRequestEntry.2.DelaySeconds": {"901"}})
	if code != 200 || strings.Count(body, "<SendMessageBatchResultEntry>") != 1 || !strings.Contains(body, "<BatchResultErrorEntry><Code>InvalidParameterValue</Code><Id>b</Id>") {
		t.Fatalf("SendMessageBatch: %d %s", code, body)
	}
	code, body = postForm(t, srv.URL, url.Values{"Action": {"GetQueueUrl"}, "QueueName": {"missing"}})
	if code != 400 || !strings.Contains(body, "<Code>AWS.SimpleQueueService.NonExistentQueue</Code>") || !strings.Contains(body, "<Type>Sender</Type>") {
		t.Fatalf("GetQueueUrl of a missing queue: %d %s", code, body)
	}
	code, body = postForm(t, srv.URL, url.Values{"Action": {"Frobnicate"}})
	if code != 400 || !strings.Contains(body, "<Code>InvalidAction</Code>") {
		t.Fatalf("unknown action: %d %s", code, body)
	}
}

// FuzzQueryInput: any form turns into a JSON input without panic.
func FuzzQueryInput(f *testing.F) {
	f.Add("Action=SendMessage&MessageBody=x&MessageAttribute.1.Name=a&MessageAttribute.1.Value.DataType=String&MessageAttribute.1.Value.StringValue=v")
	f.Add("SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageAttribute.2.Name=b&AttributeName.999=All")
	f.Add("Attribute.0.Name=x&Attribute.-1.Value=y&Tag.1.Key=k&DelaySeconds=abc")
	f.Fuzz(func(t *testing.T, s string) {
		form, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		if _, err := json.Marshal(queryInput(form)); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
	})
}
