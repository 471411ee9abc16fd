package sns

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // G505: verifying SignatureVersion 1
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

const (
	region  = "us-east-1"
	account = "000000000000"
)

// recorder is a deliverer that records what reaches each ARN; fail makes
// the next n deliveries to an ARN fail in a way that may pass.
type recorder struct {
	mu   sync.Mutex
	got  map[string][]*deliver.Delivery
	fail map[string]int
	ch   chan struct{}
}

func newRecorder() *recorder {
	return &recorder{got: map[string][]*deliver.Delivery{}, fail: map[string]int{}, ch: make(chan struct{}, 1000)}
}

func (r *recorder) Deliver(_ context.Context, d *deliver.Delivery) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail[d.TargetArn] > 0 {
		r.fail[d.TargetArn]--
		return errors.New("busy")
	}
	if strings.HasSuffix(d.TargetArn, ":gone") {
		return deliver.Undeliverable("queue gone")
	}
	r.got[d.TargetArn] = append(r.got[d.TargetArn], d)
	r.ch <- struct{}{}
	return nil
}

// wait waits until arn has n deliveries and returns them.
func (r *recorder) wait(t *testing.T, arn string, n int) []*deliver.Delivery {
	t.Helper()
	timeout := time.After(30 * time.Second) // a hang guard, not a timing assertion
	for {
		r.mu.Lock()
		got := append([]*deliver.Delivery(nil), r.got[arn]...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.ch:
		case <-timeout:
			t.Fatalf("%s got %d deliveries, want %d", arn, len(got), n)
		}
	}
}

type harness struct {
	svc    *Service
	client *awssns.Client
	rec    *recorder
	url    string
}

func start(t *testing.T) *harness {
	t.Helper()
	st := storetest.Open(t)
	rec := newRecorder()
	targets := deliver.NewRouter()
	targets.Handle("sqs", rec)
	targets.Handle("lambda", rec)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	svc, err := New(t.Context(), Options{JetStream: st.JetStream(), Targets: targets, Region: region, AccountID: account,
		Endpoint: srv.URL, DelayScale: 0.001})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle(CertPath, svc.CertHandler())
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IsConfirmLink(r) {
			svc.ConfirmLinks().ServeHTTP(w, r)
			return
		}
		svc.ServeHTTP(w, r)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	c := awssns.New(awssns.Options{Region: region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	return &harness{svc: svc, client: c, rec: rec, url: srv.URL}
}

func (h *harness) topic(t *testing.T, name string, attrs map[string]string) string {
	t.Helper()
	out, err := h.client.CreateTopic(t.Context(), &awssns.CreateTopicInput{Name: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	return aws.ToString(out.TopicArn)
}

func (h *harness) subscribe(t *testing.T, topic, protocol, endpoint string, attrs map[string]string) string {
	t.Helper()
	out, err := h.client.Subscribe(t.Context(), &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String(protocol),
		Endpoint: aws.String(endpoint), Attributes: attrs, ReturnSubscriptionArn: true})
	if err != nil {
		t.Fatalf("subscribe %s %s: %v", protocol, endpoint, err)
	}
	return aws.ToString(out.SubscriptionArn)
}

// wantAPIError checks err is the SNS error code with a message containing msg.
func wantAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Fatalf("error %v, want %s containing %q", err, code, msg)
	}
}

func TestTopics(t *testing.T) {
	h := start(t)
	ctx := t.Context()
	arn := h.topic(t, "orders", map[string]string{"DisplayName": "Orders"})
	if arn != "arn:aws:sns:us-east-1:000000000000:orders" {
		t.Fatalf("topic ARN %s", arn)
	}
	if again := h.topic(t, "orders", map[string]string{"DisplayName": "Orders"}); again != arn {
		t.Fatalf("CreateTopic is not idempotent: %s", again)
	}
	_, err := h.client.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("orders"), Attributes: map[string]string{"DisplayName": "Other"}})
	wantAPIError(t, err, "InvalidParameter", "Topic already exists with different attributes")
	_, err = h.client.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("bad name")})
	wantAPIError(t, err, "InvalidParameter", "Invalid parameter: Topic Name")
	_, err = h.client.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("f.fifo")})
	wantAPIError(t, err, "InvalidParameter", "Fifo Topic names must end with .fifo")
	fifo := h.topic(t, "f.fifo", map[string]string{"FifoTopic": "true", "ContentBasedDeduplication": "true"})

	attrs, err := h.client.GetTopicAttributes(ctx, &awssns.GetTopicAttributesInput{TopicArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if a := attrs.Attributes; a["DisplayName"] != "Orders" || a["TopicArn"] != arn || a["Owner"] != account || a["SubscriptionsConfirmed"] != "0" {
		t.Fatalf("attributes %v", a)
	}
	if _, err := h.client.SetTopicAttributes(ctx, &awssns.SetTopicAttributesInput{TopicArn: aws.String(arn),
		AttributeName: aws.String("DisplayName"), AttributeValue: aws.String("New")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.SetTopicAttributes(ctx, &awssns.SetTopicAttributesInput{TopicArn: aws.String(arn),
		AttributeName: aws.String("Bogus"), AttributeValue: aws.String("x")})
	wantAPIError(t, err, "InvalidParameter", "AttributeName")
	_, err = h.client.GetTopicAttributes(ctx, &awssns.GetTopicAttributesInput{TopicArn: aws.String(arn + "x")})
	wantAPIError(t, err, "NotFound", "Topic does not exist")

	if _, err := h.client.TagResource(ctx, &awssns.TagResourceInput{ResourceArn: aws.String(arn),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := h.client.ListTagsForResource(ctx, &awssns.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Value) != "a" {
		t.Fatalf("tags %v %v", tags, err)
	}
	_, err = h.client.ListTagsForResource(ctx, &awssns.ListTagsForResourceInput{ResourceArn: aws.String(arn + "x")})
	wantAPIError(t, err, "ResourceNotFound", "Resource does not exist")

	list, err := h.client.ListTopics(ctx, &awssns.ListTopicsInput{})
	if err != nil || len(list.Topics) != 2 || aws.ToString(list.Topics[0].TopicArn) != fifo && aws.ToString(list.Topics[1].TopicArn) != fifo {
		t.Fatalf("ListTopics %+v %v", list, err)
	}
	if _, err := h.client.DeleteTopic(ctx, &awssns.DeleteTopicInput{TopicArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.DeleteTopic(ctx, &awssns.DeleteTopicInput{TopicArn: aws.String(arn)}); err != nil {
		t.Fatalf("deleting a deleted topic: %v", err)
	}
	_, err = h.client.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(arn), Message: aws.String("x")})
	wantAPIError(t, err, "NotFound", "Topic does not exist")
}

func TestFanOutShapes(t *testing.T) {
	h := start(t)
	ctx := t.Context()
	topic := h.topic(t, "events", nil)
	queue := "arn:aws:sqs:us-east-1:000000000000:q"
	rawQueue := "arn:aws:sqs:us-east-1:000000000000:raw"
	fn := "arn:aws:lambda:us-east-1:000000000000:function:f"
	filtered := "arn:aws:sqs:us-east-1:000000000000:filtered"
	bodyFiltered := "arn:aws:sqs:us-east-1:000000000000:body"
	qSub := h.subscribe(t, topic, "sqs", queue, nil)
	h.subscribe(t, topic, "sqs", rawQueue, map[string]string{"RawMessageDelivery": "true"})
	fnSub := h.subscribe(t, topic, "lambda", fn, nil)
	h.subscribe(t, topic, "sqs", filtered, map[string]string{"FilterPolicy": `{"color":["blue"],"size":[{"numeric":[">",10]}]}`})
	h.subscribe(t, topic, "sqs", bodyFiltered, map[string]string{"FilterPolicy": `{"order":{"kind":["big"]}}`, "FilterPolicyScope": "MessageBody"})

	out, err := h.client.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(`{"order":{"kind":"big"}}`),
		Subject: aws.String("hello"),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"color": {DataType: aws.String("String"), StringValue: aws.String("blue")},
			"size":  {DataType: aws.String("Number"), StringValue: aws.String("12")},
			"blob":  {DataType: aws.String("Binary"), BinaryValue: []byte{1, 2}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.MessageId)
	// A second message that only the unfiltered subscriptions take.
	if _, err := h.client.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("plain"),
		MessageAttributes: map[string]types.MessageAttributeValue{"color": {DataType: aws.String("String"), StringValue: aws.String("red")}}}); err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	got := h.rec.wait(t, queue, 2)
	for _, d := range got {
		var e map[string]any
		if err := json.Unmarshal(d.Body, &e); err != nil {
			t.Fatalf("envelope %s: %v", d.Body, err)
		}
		if e["MessageId"] == id {
			env = e
		}
	}
	if env == nil || env["Type"] != "Notification" || env["TopicArn"] != topic || env["Subject"] != "hello" ||
		env["Message"] != `{"order":{"kind":"big"}}` || env["SignatureVersion"] != "1" || env["SigningCertURL"] != h.url+CertPath ||
		!strings.Contains(env["UnsubscribeURL"].(string), url.QueryEscape(qSub)) {
		t.Fatalf("envelope %v", env)
	}
	if a := env["MessageAttributes"].(map[string]any)["blob"].(map[string]any); a["Type"] != "Binary" || a["Value"] != "AQI=" {
		t.Fatalf("binary attribute %v", a)
	}
	verifySignature(t, h, env)

	raw := h.rec.wait(t, rawQueue, 2)
	for _, d := range raw {
		if string(d.Body) == `{"order":{"kind":"big"}}` && (d.Attributes["color"].StringValue != "blue" || d.Attributes["size"].DataType != "Number") {
			t.Fatalf("raw delivery attributes %v", d.Attributes)
		}
	}
	ev := h.rec.wait(t, fn, 2)
	var lev struct {
		Records []struct {
			EventSource, EventVersion, EventSubscriptionArn string
			Sns                                             struct {
				Type, MessageID, TopicArn, Message, SigningCertURL, UnsubscribeURL string
				Subject                                                            *string
				MessageAttributes                                                  map[string]struct{ Type, Value string }
			}
		}
	}
	var sawPlain bool
	for _, d := range ev {
		if err := json.Unmarshal(d.Body, &lev); err != nil || len(lev.Records) != 1 {
			t.Fatalf("lambda event %s: %v", d.Body, err)
		}
		r := lev.Records[0]
		if r.EventSource != "aws:sns" || r.EventVersion != "1.0" || r.EventSubscriptionArn != fnSub || r.Sns.Type != "Notification" {
			t.Fatalf("lambda record %+v", r)
		}
		if r.Sns.Message == "plain" {
			sawPlain = true
			if r.Sns.Subject != nil {
				t.Errorf("Subject %q, want null", *r.Sns.Subject)
			}
		}
		if !strings.Contains(string(d.Body), `"SigningCertUrl"`) || !strings.Contains(string(d.Body), `"UnsubscribeUrl"`) {
			t.Errorf("lambda event lacks SigningCertUrl/UnsubscribeUrl: %s", d.Body)
		}
	}
	if !sawPlain {
		t.Error("the function did not get the second message")
	}
	// Filtered subscriptions got only the first message.
	if f := h.rec.wait(t, filtered, 1); len(f) != 1 {
		t.Fatalf("attribute-filtered subscription got %d", len(f))
	}
	if f := h.rec.wait(t, bodyFiltered, 1); len(f) != 1 {
		t.Fatalf("body-filtered subscription got %d", len(f))
	}
	// Both messages reached every unfiltered subscription, so the fan-out
	// is done with them: filtered counts are final.
	if st := h.svc.Stats(); st.NumberOfNotificationsFilteredOut != 2 || st.NumberOfMessagesPublished != 2 {
		t.Errorf("stats %+v: want 2 published, 2 filtered out", st)
	}
}

// verifySignature checks env's Signature with the served certificate.
func verifySignature(t *testing.T, h *harness, env map[string]any) {
	t.Helper()
	resp, err := http.Get(env["SigningCertURL"].(string)) //nolint:noctx // test
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("certificate %q", b)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var s strings.Builder
	keys := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	if env["Type"] != "Notification" { // SNS's canonical string of confirmation messages
		keys = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	for _, k := range keys {
		if v, ok := env[k].(string); ok {
			s.WriteString(k + "\n" + v + "\n")
		}
	}
	sig, _ := base64.StdEncoding.DecodeString(env["Signature"].(string))
	sum := sha1.Sum([]byte(s.String())) //nolint:gosec // SignatureVersion 1
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA1, sum[:], sig); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
}

// TestHTTPSubscription: the confirmation handshake (the endpoint GETs the
// SubscribeURL, unsigned), then a notification with AWS's headers.
func TestHTTPSubscription(t *testing.T) {
	h := start(t)
	ctx := t.Context()
	type hit struct {
		headers http.Header
		body    map[string]any
	}
	hits := make(chan hit, 10)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		hits <- hit{r.Header.Clone(), m}
		if m["Type"] == "SubscriptionConfirmation" {
			resp, err := http.Get(m["SubscribeURL"].(string)) //nolint:noctx // test
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("confirm: %v %v", err, resp)
			}
			if resp != nil {
				_ = resp.Body.Close()
			}
		}
	}))
	defer recv.Close()
	topic := h.topic(t, "web", nil)
	out, err := h.client.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("http"),
		Endpoint: aws.String(recv.URL + "/hook")})
	if err != nil || aws.ToString(out.SubscriptionArn) != "pending confirmation" {
		t.Fatalf("subscribe: %v %v", out, err)
	}
	next := func() hit {
		select {
		case x := <-hits:
			return x
		case <-time.After(30 * time.Second): // a hang guard
			t.Fatal("endpoint not called")
			return hit{}
		}
	}
	c := next()
	if c.headers.Get("x-amz-sns-message-type") != "SubscriptionConfirmation" || c.body["Token"] == "" {
		t.Fatalf("confirmation %v %v", c.headers, c.body)
	}
	// The list shows the subscription confirmed once the endpoint has
	// visited the link.
	var subArn string
	for range 100 {
		l, err := h.client.ListSubscriptionsByTopic(ctx, &awssns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Subscriptions) == 1 && aws.ToString(l.Subscriptions[0].SubscriptionArn) != "PendingConfirmation" {
			subArn = aws.ToString(l.Subscriptions[0].SubscriptionArn)
			break
		}
		time.Sleep(50 * time.Millisecond) // polling for the endpoint's confirmation, not a timing assertion
	}
	if subArn == "" {
		t.Fatal("subscription never confirmed")
	}
	if _, err := h.client.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi")}); err != nil {
		t.Fatal(err)
	}
	n := next()
	if n.headers.Get("x-amz-sns-message-type") != "Notification" || n.headers.Get("x-amz-sns-subscription-arn") != subArn ||
		n.headers.Get("x-amz-sns-topic-arn") != topic || n.body["Message"] != "hi" ||
		!strings.HasPrefix(n.headers.Get("Content-Type"), "text/plain") {
		t.Fatalf("notification %v %v", n.headers, n.body)
	}

	// The UnsubscribeURL, unsigned, removes the subscription; the endpoint
	// gets an UnsubscribeConfirmation whose SubscribeURL restores it.
	unsub := n.body["UnsubscribeURL"].(string)
	if code := get(t, unsub); code != http.StatusOK {
		t.Fatalf("GET UnsubscribeURL: %d", code)
	}
	if l, err := h.client.ListSubscriptionsByTopic(ctx, &awssns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)}); err != nil || len(l.Subscriptions) != 0 {
		t.Fatalf("after the UnsubscribeURL: %v %v", l, err)
	}
	u := next()
	if u.headers.Get("x-amz-sns-message-type") != "UnsubscribeConfirmation" || u.headers.Get("x-amz-sns-subscription-arn") != subArn ||
		u.body["Type"] != "UnsubscribeConfirmation" || u.body["Token"] == "" || !strings.Contains(u.body["Message"].(string), subArn) {
		t.Fatalf("unsubscribe confirmation %v %v", u.headers, u.body)
	}
	verifySignature(t, h, u.body)
	if code := get(t, u.body["SubscribeURL"].(string)); code != http.StatusOK {
		t.Fatalf("GET the UnsubscribeConfirmation's SubscribeURL: %d", code)
	}
	l, err := h.client.ListSubscriptionsByTopic(ctx, &awssns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)})
	if err != nil || len(l.Subscriptions) != 1 || aws.ToString(l.Subscriptions[0].SubscriptionArn) != subArn {
		t.Fatalf("after restoring: %v %v; want %s back", l, err, subArn)
	}
	if code := get(t, u.body["SubscribeURL"].(string)); code != http.StatusBadRequest {
		t.Errorf("the restoring link worked twice: %d", code)
	}
	if _, err := h.client.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("again")}); err != nil {
		t.Fatal(err)
	}
	if n := next(); n.body["Message"] != "again" {
		t.Fatalf("after restoring: %v", n.body)
	}

	// A subscription confirmed with AuthenticateOnUnsubscribe refuses the
	// unsigned link; a signed Unsubscribe works, and its restoring link
	// expires with its token.
	acct, tname, id, _ := h.svc.parseSubArn(subArn)
	sub, rev, err := h.svc.getSub(ctx, acct, tname, id)
	if err != nil {
		t.Fatal(err)
	}
	sub.Authenticated = true
	if err := h.svc.putSub(ctx, sub, rev); err != nil {
		t.Fatal(err)
	}
	if code := get(t, unsub); code != http.StatusForbidden {
		t.Fatalf("unsigned UnsubscribeURL of an AuthenticateOnUnsubscribe subscription: %d", code)
	}
	if _, err := h.client.Unsubscribe(ctx, &awssns.UnsubscribeInput{SubscriptionArn: aws.String(subArn)}); err != nil {
		t.Fatal(err)
	}
	u = next()
	if u.body["Type"] != "UnsubscribeConfirmation" {
		t.Fatalf("after a signed Unsubscribe: %v", u.body)
	}
	h.svc.now = func() time.Time { return time.Now().Add(tokenLifetime + time.Minute) }
	if code := get(t, u.body["SubscribeURL"].(string)); code != http.StatusBadRequest {
		t.Errorf("an expired restoring link: %d", code)
	}
	if l, _ := h.client.ListSubscriptionsByTopic(ctx, &awssns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)}); len(l.Subscriptions) != 0 {
		t.Errorf("an expired restoring link restored: %v", l.Subscriptions)
	}
}

// get GETs an unsigned link and answers its status.
func get(t *testing.T, link string) int {
	t.Helper()
	resp, err := http.Get(link) //nolint:noctx // test
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestAttacks: what an attacker (or a careless client) sends is refused.
func TestAttacks(t *testing.T) {
	h := start(t)
	ctx := t.Context()
	topic := h.topic(t, "t", nil)
	// An http subscription to a non-loopback host.
	for _, ep := range []string{"http://169.254.169.254/latest/meta-data", "http://10.0.0.1/", "http://example.com/", "https://[::ffff:10.0.0.1]/"} {
		proto := strings.SplitN(ep, ":", 2)[0]
		_, err := h.client.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String(proto), Endpoint: aws.String(ep)})
		wantAPIError(t, err, "InvalidParameter", "loopback")
	}
	// A name that resolves elsewhere is dialled only at loopback addresses.
	if err := h.svc.post(ctx, "http://localhost.example.invalid/", nil, nil); err == nil {
		t.Fatal("posted to a non-loopback name")
	}
	// FilterPolicy bombs: too many combinations, too many keys, deep nesting.
	var vals []string
	for i := range 200 {
		vals = append(vals, `"v`+string(rune('a'+i%26))+string(rune('a'+i/26))+`"`)
	}
	bombs := map[string]string{
		"combinations": `{"a":[` + strings.Join(vals, ",") + `]}`,
		"keys":         `{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}`,
		"nesting":      `{"a":` + strings.Repeat(`{"a":`, 200) + `["x"]` + strings.Repeat("}", 201),
	}
	for name, policy := range bombs {
		_, err := h.client.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("sqs"),
			Endpoint: aws.String("arn:aws:sqs:us-east-1:000000000000:q"), Attributes: map[string]string{"FilterPolicy": policy}})
		wantAPIError(t, err, "InvalidParameter", "FilterPolicy")
		_ = name
	}
	// A topic of another account.
	_, err := h.client.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:111111111111:t"), Message: aws.String("x")})
	wantAPIError(t, err, "AuthorizationError", "is not authorized to perform: SNS:Publish")
	// A Publish over 256 KiB.
	_, err = h.client.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(strings.Repeat("x", MaxMessageBytes+1))})
	wantAPIError(t, err, "InvalidParameter", "Message too long")
	// Attributes count toward the limit.
	_, err = h.client.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(strings.Repeat("x", MaxMessageBytes-10)),
		MessageAttributes: map[string]types.MessageAttributeValue{"a": {DataType: aws.String("String"), StringValue: aws.String(strings.Repeat("y", 20))}}})
	wantAPIError(t, err, "InvalidParameter", "Message too long")
	// A ConfirmSubscription with a forged token, signed and through the link.
	_, err = h.client.ConfirmSubscription(ctx, &awssns.ConfirmSubscriptionInput{TopicArn: aws.String(topic), Token: aws.String(strings.Repeat("0", 128))})
	wantAPIError(t, err, "InvalidParameter", "Token")
	resp, err := http.Get(h.url + "/?Action=ConfirmSubscription&TopicArn=" + url.QueryEscape(topic) + "&Token=forged") //nolint:noctx // test
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("forged link: status %d", resp.StatusCode)
	}
	// The link serves ConfirmSubscription only.
	w := httptest.NewRecorder()
	h.svc.ConfirmLinks().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/?Action=DeleteTopic&TopicArn="+url.QueryEscape(topic)+"&Token=x", nil))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "InvalidAction") {
		t.Fatalf("the confirmation link served another action: %d %s", w.Code, w.Body)
	}
	// Bad attributes and structure.
	_, err = h.client.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("x"),
		MessageAttributes: map[string]types.MessageAttributeValue{"a": {DataType: aws.String("Weird"), StringValue: aws.String("1")}}})
	wantAPIError(t, err, "ParameterValueInvalid", "supported type prefixes is Binary, Number, and String")
	_, err = h.client.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(`{"sqs":"x"}`), MessageStructure: aws.String("json")})
	wantAPIError(t, err, "InvalidParameter", "No default entry in JSON message body")
	_, err = h.client.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("application"), Endpoint: aws.String("x")})
	wantAPIError(t, err, "InvalidParameter", "Nimbus does not deliver to mobile push")
	_, err = h.client.Unsubscribe(ctx, &awssns.UnsubscribeInput{SubscriptionArn: aws.String(topic + ":00000000-0000-0000-0000-000000000000")})
	wantAPIError(t, err, "NotFound", "Subscription does not exist")
}

// TestFIFOAndBatch: FIFO publishes need a group, deduplicate, and answer
// sequence numbers; PublishBatch answers per entry.
func TestFIFOAndBatch(t *testing.T) {
	h := start(t)
	ctx := t.Context()
	topic := h.topic(t, "o.fifo", map[string]string{"FifoTopic": "true"})
	q := "arn:aws:sqs:us-east-1:000000000000:q.fifo"
	h.subscribe(t, topic, "sqs", q, map[string]string{"RawMessageDelivery": "true"})
	_, err := h.client.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("a"), MessageDeduplicationId: aws.String("1")})
	wantAPIError(t, err, "InvalidParameter", "MessageGroupId parameter is required")
	_, err = h.client.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("a"), MessageGroupId: aws.String("g")})
	wantAPIError(t, err, "InvalidParameter", "ContentBasedDeduplication")
	first, err := h.client.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("a"), MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d1")})
	if err != nil || aws.ToString(first.SequenceNumber) == "" {
		t.Fatalf("publish: %v %v", first, err)
	}
	dup, err := h.client.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("a"), MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d1")})
	if err != nil || aws.ToString(dup.MessageId) != aws.ToString(first.MessageId) {
		t.Fatalf("duplicate answered %v %v, want the original's id %s", dup, err, aws.ToString(first.MessageId))
	}
	b, err := h.client.PublishBatch(ctx, &awssns.PublishBatchInput{TopicArn: aws.String(topic), PublishBatchRequestEntries: []types.PublishBatchRequestEntry{
		{Id: aws.String("x"), Message: aws.String("b"), MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d2")},
		{Id: aws.String("y"), Message: aws.String("c"), MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d3")},
		{Id: aws.String("z"), Message: aws.String("d"), MessageDeduplicationId: aws.String("d4")},
	}})
	if err != nil || len(b.Successful) != 2 || len(b.Failed) != 1 || aws.ToString(b.Failed[0].Id) != "z" || aws.ToString(b.Failed[0].Code) != "InvalidParameter" {
		t.Fatalf("batch %+v %v", b, err)
	}
	got := h.rec.wait(t, q, 3)
	var order []string
	for _, d := range got {
		order = append(order, string(d.Body))
		if d.GroupID != "g" {
			t.Errorf("FIFO delivery without its group: %+v", d)
		}
	}
	if strings.Join(order, "") != "abc" {
		t.Fatalf("FIFO order %v", order)
	}
	_, err = h.client.PublishBatch(ctx, &awssns.PublishBatchInput{TopicArn: aws.String(topic), PublishBatchRequestEntries: []types.PublishBatchRequestEntry{
		{Id: aws.String("x"), Message: aws.String("b")}, {Id: aws.String("x"), Message: aws.String("c")}}})
	wantAPIError(t, err, "BatchEntryIdsNotDistinct", "same Id")
	_, err = h.client.PublishBatch(ctx, &awssns.PublishBatchInput{TopicArn: aws.String(topic), PublishBatchRequestEntries: []types.PublishBatchRequestEntry{}})
	wantAPIError(t, err, "EmptyBatchRequest", "doesn't contain any entries")
	// A standard queue cannot subscribe to... a FIFO queue to a standard topic.
	std := h.topic(t, "std", nil)
	_, err = h.client.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: aws.String(std), Protocol: aws.String("sqs"), Endpoint: aws.String(q)})
	wantAPIError(t, err, "InvalidParameter", "FIFO SQS Queues can not be subscribed to standard SNS topics")
}

// TestRetryAndDeadLetter: a delivery that fails transiently is retried
// until it passes; one that cannot pass goes to the subscription's DLQ.
func TestRetryAndDeadLetter(t *testing.T) {
	h := start(t)
	ctx := t.Context()
	topic := h.topic(t, "r", nil)
	flaky := "arn:aws:sqs:us-east-1:000000000000:flaky"
	dlq := "arn:aws:sqs:us-east-1:000000000000:dlq"
	h.rec.mu.Lock()
	h.rec.fail[flaky] = 6 // past the 3 immediate retries and into the delayed ones
	h.rec.mu.Unlock()
	h.subscribe(t, topic, "sqs", flaky, nil)
	gone := h.subscribe(t, topic, "sqs", "arn:aws:sqs:us-east-1:000000000000:gone",
		map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"` + dlq + `"}`})
	if _, err := h.client.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("m")}); err != nil {
		t.Fatal(err)
	}
	h.rec.wait(t, flaky, 1)
	d := h.rec.wait(t, dlq, 1)[0]
	if d.Attributes["SubscriptionArn"].StringValue != gone || d.Attributes["ErrorCode"].StringValue == "" {
		t.Fatalf("dead letter attributes %v", d.Attributes)
	}
	var env map[string]any
	if err := json.Unmarshal(d.Body, &env); err != nil || env["Message"] != "m" {
		t.Fatalf("dead letter %s", d.Body)
	}
}

func TestRetryPolicyDelays(t *testing.T) {
	p := managedPolicy
	for n, want := range map[int]time.Duration{1: 0, 3: 0, 4: time.Second, 5: time.Second, 15: 20 * time.Second, 100_000: 20 * time.Second} {
		if got := p.delay(n).Round(time.Millisecond); got != want {
			t.Errorf("managed delay(%d) = %v, want %v", n, got, want)
		}
	}
	if d := p.delay(10); d <= time.Second || d >= 20*time.Second {
		t.Errorf("managed delay(10) = %v, want between 1 s and 20 s", d)
	}
	if got := httpPolicy.delay(1); got != 20*time.Second {
		t.Errorf("http delay(1) = %v", got)
	}
}
