package s3

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// recorder is a Deliverer that records deliveries, or fails them while
// failing is set.
type recorder struct {
	mu      sync.Mutex
	failing bool
	got     []delivery
	arrived chan struct{}
}

type delivery struct {
	arn, dedup string
	body       []byte
}

func newRecorder() *recorder { return &recorder{arrived: make(chan struct{}, 100)} }

func (r *recorder) Deliver(_ context.Context, arn, dedup string, body []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing {
		return errors.New("destination down")
	}
	r.got = append(r.got, delivery{arn, dedup, body})
	r.arrived <- struct{}{}
	return nil
}

func (r *recorder) Check(context.Context, string) error { return nil }

func (r *recorder) wait(t *testing.T, n int) []delivery {
	t.Helper()
	for {
		r.mu.Lock()
		if len(r.got) >= n {
			out := append([]delivery(nil), r.got...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		select {
		case <-r.arrived:
		case <-t.Context().Done():
			t.Fatalf("waited for %d deliveries", n)
		}
	}
}

// call sends an (already authenticated) request to s.
func call(t *testing.T, s *Service, method, target, body string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "http://127.0.0.1:4566"+target, strings.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

const notificationXML = `<NotificationConfiguration>
 <CloudFunctionConfiguration><Id>uploads</Id><CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:thumb</CloudFunction>
  <Event>s3:ObjectCreated:*</Event>
  <Filter><S3Key><FilterRule><Name>prefix</Name><Value>in/</Value></FilterRule><FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule></S3Key></Filter>
 </CloudFunctionConfiguration>
 <QueueConfiguration><Id>removals</Id><Queue>arn:aws:sqs:us-east-1:000000000000:gone</Queue><Event>s3:ObjectRemoved:*</Event></QueueConfiguration>
</NotificationConfiguration>`

// TestNotificationsSurviveRestart: notifications recorded with their
// writes are delivered after the service is closed and reopened while
// its destination was down, in order, with S3's record shape.
func TestNotificationsSurviveRestart(t *testing.T) {
	st := storetest.Open(t)
	dir := t.TempDir()
	rec := newRecorder()
	rec.failing = true
	open := func() (*Service, context.CancelFunc, chan struct{}) {
		s, err := New(Options{Dir: dir, Store: st, Node: "n1", Region: "us-east-1", AccountID: "000000000000", Deliverer: rec})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Run(ctx) }()
		return s, cancel, done
	}
	s, cancel, done := open()
	if w := call(t, s, "PUT", "/pics", "", nil); w.Code != 200 {
		t.Fatalf("create bucket: %d %s", w.Code, w.Body)
	}
	if w := call(t, s, "PUT", "/pics?notification", notificationXML, nil); w.Code != 200 {
		t.Fatalf("put notification: %d %s", w.Code, w.Body)
	}
	for _, k := range []string{"in/a b.jpg", "in/skip.png", "out/skip.jpg", "in/c.jpg"} {
		if w := call(t, s, "PUT", "/pics/"+url.PathEscape(k), "data-"+k, nil); w.Code != 200 {
			t.Fatalf("put %s: %d %s", k, w.Code, w.Body)
		}
	}
	if w := call(t, s, "DELETE", "/pics/in/c.jpg", "", nil); w.Code != 204 {
		t.Fatalf("delete: %d", w.Code)
	}
	cancel()
	<-done
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	rec.failing = false
	rec.mu.Unlock()
	s, cancel, done = open()
	defer func() { _ = s.Close() }()
	got := rec.wait(t, 4) // the queue's test event, two uploads, one removal
	var names, keys, arns []string
	for _, d := range got {
		arns = append(arns, d.arn)
		var m struct {
			Event   string
			Records []eventRecord
		}
		if err := json.Unmarshal(d.body, &m); err != nil {
			t.Fatal(err)
		}
		if m.Event == "s3:TestEvent" {
			names = append(names, m.Event)
			continue
		}
		r := m.Records[0]
		names = append(names, r.EventName)
		keys = append(keys, r.S3.Object.Key)
		if r.EventVersion != "2.1" || r.EventSource != "aws:s3" || r.S3.Bucket.Arn != "arn:aws:s3:::pics" || r.S3.Object.Sequencer == "" {
			t.Errorf("record %+v", r)
		}
		if r.EventName == "ObjectCreated:Put" && (r.S3.Object.Size == nil || r.S3.Object.ETag == "" || r.S3.ConfigurationID != "uploads") {
			t.Errorf("created record %+v", r.S3.Object)
		}
	}
	if strings.Join(names, ",") != "s3:TestEvent,ObjectCreated:Put,ObjectCreated:Put,ObjectRemoved:Delete" {
		t.Errorf("events %v", names)
	}
	if strings.Join(keys, ",") != "in/a+b.jpg,in/c.jpg,in/c.jpg" {
		t.Errorf("keys %v", keys)
	}
	if arns[1] != "arn:aws:lambda:us-east-1:000000000000:function:thumb" || arns[3] != "arn:aws:sqs:us-east-1:000000000000:gone" {
		t.Errorf("destinations %v", arns)
	}
	// Delivered entries leave the outbox.
	cancel()
	<-done
	left := 0
	_ = s.meta.db.View(func(tx *bolt.Tx) error { left = tx.Bucket(rootOutbox).Stats().KeyN; return nil })
	if left != 0 {
		t.Errorf("%d delivered notifications are still in the outbox", left)
	}
}

// TestConditionalPutRace: of concurrent If-None-Match: * puts of one key,
// exactly one succeeds.
func TestConditionalPutRace(t *testing.T) {
	st := storetest.Open(t)
	s, err := New(Options{Dir: t.TempDir(), Store: st, Node: "n1", Region: "us-east-1", AccountID: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	call(t, s, "PUT", "/race", "", nil)
	var wg sync.WaitGroup
	codes := make(chan int, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- call(t, s, "PUT", "/race/k", strings.Repeat("x", i), map[string]string{"If-None-Match": "*"}).Code
		}()
	}
	wg.Wait()
	close(codes)
	ok := 0
	for c := range codes {
		switch c {
		case http.StatusOK:
			ok++
		case http.StatusPreconditionFailed:
		default:
			t.Errorf("status %d", c)
		}
	}
	if ok != 1 {
		t.Fatalf("%d conditional puts succeeded", ok)
	}
}
