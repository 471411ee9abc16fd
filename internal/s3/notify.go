package s3

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Deliverer hands a notification to its destination (a Lambda function
// invoked asynchronously, an SQS queue, an EventBridge bus) durably.
type Deliverer interface {
	// Deliver hands body to arn. dedupID is the same for every attempt of
	// one notification. An error wrapping ErrUndeliverable can never
	// succeed; any other is retried.
	Deliver(ctx context.Context, arn, dedupID string, body []byte) error
	// Check reports why arn cannot be a destination (nil when it can):
	// the service is not served, or the resource does not exist.
	Check(ctx context.Context, arn string) error
}

// ErrUndeliverable marks a notification that can never be delivered (its
// destination is gone); it is dropped.
var ErrUndeliverable = errors.New("undeliverable")

// FilterRule is one key filter rule (prefix or suffix).
type FilterRule struct {
	Name  string `xml:"Name" json:"name"`
	Value string `xml:"Value" json:"value"`
}

// Filter is a configuration's key filter.
type Filter struct {
	Rules []FilterRule `xml:"S3Key>FilterRule" json:"rules,omitempty"`
}

// destination is one notification configuration (topic, queue or
// function).
type destination struct {
	ID     string   `xml:"Id,omitempty" json:"id"`
	Events []string `xml:"Event" json:"events"`
	Filter *Filter  `xml:"Filter,omitempty" json:"filter,omitempty"`
}

// TopicConfiguration notifies an SNS topic.
type TopicConfiguration struct {
	destination
	Topic string `xml:"Topic" json:"topic"`
}

// QueueConfiguration notifies an SQS queue.
type QueueConfiguration struct {
	destination
	Queue string `xml:"Queue" json:"queue"`
}

// LambdaConfiguration notifies a Lambda function (its XML element is
// CloudFunctionConfiguration).
type LambdaConfiguration struct {
	destination
	Function string `xml:"CloudFunction" json:"function"`
}

// NotificationConfiguration is a bucket's notification configuration.
type NotificationConfiguration struct {
	XMLName     xml.Name              `xml:"NotificationConfiguration" json:"-"`
	Xmlns       string                `xml:"xmlns,attr,omitempty" json:"-"`
	Topics      []TopicConfiguration  `xml:"TopicConfiguration" json:"topics,omitempty"`
	Queues      []QueueConfiguration  `xml:"QueueConfiguration" json:"queues,omitempty"`
	Functions   []LambdaConfiguration `xml:"CloudFunctionConfiguration" json:"functions,omitempty"`
	EventBridge *struct{}             `xml:"EventBridgeConfiguration" json:"eventBridge,omitempty"`
}

// eventTypes are the event names a configuration may name.
var eventTypes = map[string]bool{
	"s3:ObjectCreated:*": true, "s3:ObjectCreated:Put": true, "s3:ObjectCreated:Post": true, "s3:ObjectCreated:Copy": true,
	"s3:ObjectCreated:CompleteMultipartUpload": true, "s3:ObjectRemoved:*": true, "s3:ObjectRemoved:Delete": true,
	"s3:ObjectRemoved:DeleteMarkerCreated": true, "s3:ObjectRestore:*": true, "s3:ObjectRestore:Post": true,
	"s3:ObjectRestore:Completed": true, "s3:ObjectRestore:Delete": true, "s3:ReducedRedundancyLostObject": true,
	"s3:Replication:*": true, "s3:Replication:OperationFailedReplication": true, "s3:Replication:OperationMissedThreshold": true,
	"s3:Replication:OperationReplicatedAfterThreshold": true, "s3:Replication:OperationNotTracked": true,
	"s3:LifecycleExpiration:*": true, "s3:LifecycleExpiration:Delete": true, "s3:LifecycleExpiration:DeleteMarkerCreated": true,
	"s3:LifecycleTransition": true, "s3:IntelligentTiering": true, "s3:ObjectTagging:*": true, "s3:ObjectTagging:Put": true,
	"s3:ObjectTagging:Delete": true, "s3:ObjectAcl:Put": true,
}

// matches reports whether a configuration wants event (e.g.
// "ObjectCreated:Put") for key.
func (d *destination) matches(event, key string) bool {
	ok := false
	for _, e := range d.Events {
		e = strings.TrimPrefix(e, "s3:")
		if e == event || (strings.HasSuffix(e, ":*") && strings.HasPrefix(event, strings.TrimSuffix(e, "*"))) {
			ok = true
			break
		}
	}
	if !ok || d.Filter == nil {
		return ok
	}
	for _, r := range d.Filter.Rules {
		switch strings.ToLower(r.Name) {
		case "prefix":
			if !strings.HasPrefix(key, r.Value) {
				return false
			}
		case "suffix":
			if !strings.HasSuffix(key, r.Value) {
				return false
			}
		}
	}
	return true
}

func (d *destination) check(arn string) error {
	if len(d.Events) == 0 {
		return invalidArgument("The event is not supported for notifications").with("ArgumentName", "Event")
	}
	for _, e := range d.Events {
		if !eventTypes[e] {
			return invalidArgument("The event is not supported for notifications").with("ArgumentName", "Event").with("ArgumentValue", e)
		}
	}
	if d.Filter != nil {
		seen := map[string]bool{}
		for _, r := range d.Filter.Rules {
			n := strings.ToLower(r.Name)
			if n != "prefix" && n != "suffix" {
				return invalidArgument("filter rule name must be either prefix or suffix").with("ArgumentName", "FilterRule.Name").
					with("ArgumentValue", r.Name)
			}
			if seen[n] {
				return invalidArgument("Cannot specify more than one %s rule in a filter.", n).with("ArgumentName", "FilterRule.Name")
			}
			seen[n] = true
		}
	}
	if !strings.HasPrefix(arn, "arn:") {
		return invalidArgument("The ARN is not well formed").with("ArgumentName", "ARN").with("ArgumentValue", arn)
	}
	return nil
}

func (s *Service) putNotification(w http.ResponseWriter, r *http.Request, name string) error {
	if _, err := s.bucket(r.Context(), name); err != nil {
		return err
	}
	var cfg NotificationConfiguration
	if err := readXML(r, &cfg, false); err != nil {
		return err
	}
	type dest struct {
		d   *destination
		arn string
	}
	var all []dest
	for i := range cfg.Topics {
		all = append(all, dest{&cfg.Topics[i].destination, cfg.Topics[i].Topic})
	}
	for i := range cfg.Queues {
		all = append(all, dest{&cfg.Queues[i].destination, cfg.Queues[i].Queue})
	}
	for i := range cfg.Functions {
		all = append(all, dest{&cfg.Functions[i].destination, cfg.Functions[i].Function})
	}
	ids := map[string]bool{}
	for _, d := range all {
		if err := d.d.check(d.arn); err != nil {
			return err
		}
		if d.d.ID == "" {
			d.d.ID = newID()
		}
		if ids[d.d.ID] {
			return invalidArgument("Configuration Id must be unique").with("ArgumentName", "Id").with("ArgumentValue", d.d.ID)
		}
		ids[d.d.ID] = true
		var cerr error
		if s.opts.Deliverer == nil {
			cerr = errors.New("this node delivers no notifications")
		} else {
			cerr = s.opts.Deliverer.Check(r.Context(), d.arn)
		}
		if cerr != nil {
			return invalidArgument("Unable to validate the following destination configurations: %s: %v", d.arn, cerr).
				with("ArgumentName", d.arn).with("ArgumentValue", cerr.Error())
		}
	}
	if cfg.EventBridge != nil && s.opts.Deliverer != nil {
		if err := s.opts.Deliverer.Check(r.Context(), s.busArn()); err != nil {
			return invalidArgument("Unable to validate the EventBridge configuration: %v", err)
		}
	}
	stored := &cfg
	if len(all) == 0 && cfg.EventBridge == nil {
		stored = nil
	}
	if err := s.updateBucket(r.Context(), name, func(b *bucketRecord) error { b.Notification = stored; return nil }); err != nil {
		return err
	}
	// S3 tells each queue and topic it was configured with a test event.
	if stored != nil {
		if err := s.sendTestEvents(name, stored); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) busArn() string {
	return "arn:aws:events:" + s.opts.Region + ":" + s.opts.AccountID + ":event-bus/default"
}

func (s *Service) sendTestEvents(bucket string, cfg *NotificationConfiguration) error {
	var arns []string
	for _, q := range cfg.Queues {
		arns = append(arns, q.Queue)
	}
	for _, t := range cfg.Topics {
		arns = append(arns, t.Topic)
	}
	if len(arns) == 0 {
		return nil
	}
	now := s.now()
	body, _ := json.Marshal(map[string]string{"Service": "Amazon S3", "Event": "s3:TestEvent",
		"Time": now.Format(timeFormatXML), "Bucket": bucket, "RequestId": newID()[:16], "HostId": newID()})
	err := s.meta.db.Update(func(tx *bolt.Tx) error {
		for _, a := range arns {
			if err := appendOutbox(tx, a, body); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record test events: %w", err)
	}
	s.kick()
	return nil
}

func (s *Service) getNotification(w http.ResponseWriter, r *http.Request, name string) error {
	b, err := s.bucket(r.Context(), name)
	if err != nil {
		return err
	}
	out := NotificationConfiguration{}
	if b.Notification != nil {
		out = *b.Notification
	}
	out.Xmlns = xmlns
	return writeXML(w, http.StatusOK, out)
}

// outboxEntry is a notification waiting for delivery.
type outboxEntry struct {
	Arn  string          `json:"arn"`
	Body json.RawMessage `json:"body"`
	// Dedup is the same for every attempt.
	Dedup string `json:"dedup"`
}

func appendOutbox(tx *bolt.Tx, arn string, body []byte) error {
	ob := tx.Bucket(rootOutbox)
	seq, err := ob.NextSequence()
	if err != nil {
		return err
	}
	v, _ := json.Marshal(outboxEntry{Arn: arn, Body: body, Dedup: fmt.Sprintf("s3/%s/%d", newID()[:8], seq)})
	return ob.Put(seqKey(seq), v)
}

// eventRecord is one record of S3's event message (eventVersion 2.1).
type eventRecord struct {
	EventVersion      string            `json:"eventVersion"`
	EventSource       string            `json:"eventSource"`
	AwsRegion         string            `json:"awsRegion"`
	EventTime         string            `json:"eventTime"`
	EventName         string            `json:"eventName"`
	UserIdentity      map[string]string `json:"userIdentity"`
	RequestParameters map[string]string `json:"requestParameters"`
	ResponseElements  map[string]string `json:"responseElements"`
	S3                eventS3           `json:"s3"`
}

type eventS3 struct {
	SchemaVersion   string      `json:"s3SchemaVersion"`
	ConfigurationID string      `json:"configurationId"`
	Bucket          eventBucket `json:"bucket"`
	Object          eventObject `json:"object"`
}

type eventBucket struct {
	Name          string            `json:"name"`
	OwnerIdentity map[string]string `json:"ownerIdentity"`
	Arn           string            `json:"arn"`
}

type eventObject struct {
	Key       string `json:"key"`
	Size      *int64 `json:"size,omitempty"`
	ETag      string `json:"eTag,omitempty"`
	VersionID string `json:"versionId,omitempty"`
	Sequencer string `json:"sequencer"`
}

// recordEvent records, in the write's own transaction, the notifications
// b's configuration asks for event on key (om is the new object, nil for
// a removal; a delete marker, or a version removed, names the version).
func (s *Service) recordEvent(tx *bolt.Tx, b *bucketRecord, event, key string, om *objectMeta, reqID string, r *http.Request) error {
	cfg := b.Notification
	if cfg == nil {
		return nil
	}
	type target struct{ id, arn string }
	var ts []target
	for _, t := range cfg.Topics {
		if t.matches(event, key) {
			ts = append(ts, target{t.ID, t.Topic})
		}
	}
	for _, q := range cfg.Queues {
		if q.matches(event, key) {
			ts = append(ts, target{q.ID, q.Queue})
		}
	}
	for _, f := range cfg.Functions {
		if f.matches(event, key) {
			ts = append(ts, target{f.ID, f.Function})
		}
	}
	if len(ts) == 0 && cfg.EventBridge == nil {
		return nil
	}
	seq, err := tx.Bucket(rootOutbox).NextSequence()
	if err != nil {
		return err
	}
	now := s.now()
	src := "s3.amazonaws.com" // the lifecycle's own removals have no request
	if r != nil {
		src = r.RemoteAddr
		if h, _, err := net.SplitHostPort(src); err == nil {
			src = h
		}
	}
	rec := eventRecord{EventVersion: "2.1", EventSource: "aws:s3", AwsRegion: s.opts.Region, EventTime: now.Format(timeFormatXML),
		EventName: event, UserIdentity: map[string]string{"principalId": "AWS:" + s.opts.AccountID},
		RequestParameters: map[string]string{"sourceIPAddress": src},
		ResponseElements:  map[string]string{"x-amz-request-id": reqID, "x-amz-id-2": reqID},
		S3: eventS3{SchemaVersion: "1.0", Bucket: eventBucket{Name: b.Name, OwnerIdentity: map[string]string{"principalId": s.opts.AccountID},
			Arn: "arn:aws:s3:::" + b.Name},
			Object: eventObject{Key: eventKey(key), Sequencer: fmt.Sprintf("%016X", seq)}}}
	if om != nil && !om.DeleteMarker {
		size := om.Size
		rec.S3.Object.Size, rec.S3.Object.ETag = &size, om.ETag
	}
	if om != nil && om.VersionID != "" {
		rec.S3.Object.VersionID = om.VersionID
	}
	for _, t := range ts {
		rec.S3.ConfigurationID = t.id
		body, err := json.Marshal(map[string][]eventRecord{"Records": {rec}})
		if err != nil {
			return err
		}
		if err := appendOutbox(tx, t.arn, body); err != nil {
			return err
		}
	}
	if cfg.EventBridge != nil {
		if err := appendOutbox(tx, s.busArn(), s.eventBridgeEvent(b, event, key, om, reqID, src, seq, now)); err != nil {
			return err
		}
	}
	return nil
}

// eventKey is a key as S3's event records write it: form-encoded (a
// space is '+'), slashes kept.
func eventKey(k string) string { return strings.ReplaceAll(url.QueryEscape(k), "%2F", "/") }

// eventBridgeEvent is the event S3 puts on the default bus (PutEvents
// entry shape: Source, DetailType, Detail, Resources, Time).
func (s *Service) eventBridgeEvent(b *bucketRecord, event, key string, om *objectMeta, reqID, src string, seq uint64, now time.Time) []byte {
	detailType, reason := "Object Created", "PutObject"
	switch event {
	case "ObjectCreated:Copy":
		reason = "CopyObject"
	case "ObjectCreated:CompleteMultipartUpload":
		reason = "CompleteMultipartUpload"
	case "ObjectRemoved:Delete":
		detailType, reason = "Object Deleted", "DeleteObject"
	}
	obj := map[string]any{"key": key, "sequencer": fmt.Sprintf("%016X", seq)}
	if om != nil && !om.DeleteMarker {
		obj["size"], obj["etag"] = om.Size, om.ETag
	}
	if om != nil && om.VersionID != "" {
		obj["version-id"] = om.VersionID
	}
	detail := map[string]any{"version": "0", "bucket": map[string]string{"name": b.Name}, "object": obj,
		"request-id": reqID, "requester": s.opts.AccountID, "source-ip-address": src, "reason": reason}
	switch {
	case event == "ObjectRemoved:DeleteMarkerCreated":
		detailType, reason = "Object Deleted", "DeleteObject"
		detail["reason"], detail["deletion-type"] = reason, "Delete Marker Created"
	case om == nil || om.DeleteMarker:
		detail["deletion-type"] = "Permanently Deleted"
	}
	d, _ := json.Marshal(detail)
	e, _ := json.Marshal(map[string]any{"Source": "aws.s3", "DetailType": detailType, "Detail": string(d),
		"Resources": []string{"arn:aws:s3:::" + b.Name}, "Time": now.Format(time.RFC3339)})
	return e
}

// kick wakes the dispatcher.
func (s *Service) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run delivers the outbox's notifications and applies lifecycle rules
// (runLifecycle, which it waits for) until ctx ends. Notifications go in order,
// each at least once (an entry leaves the outbox only once its
// destination accepted it, or refused it for good), retrying with
// backoff. Entries left by a previous run (a crash) go first. It also
// serves the requests other nodes relay to this one for the buckets it
// holds (relay.go).
func (s *Service) Run(ctx context.Context) error {
	stopRelays, err := s.serveRelays(ctx)
	if err != nil {
		return err
	}
	defer stopRelays()
	lifecycleDone := make(chan struct{})
	go func() {
		defer close(lifecycleDone)
		s.runLifecycle(ctx)
	}()
	defer func() { <-lifecycleDone }()
	backoff := time.Duration(0)
	for {
		n, err := s.deliverSome(ctx)
		switch {
		case err != nil:
			backoff = min(max(2*backoff, 100*time.Millisecond), 30*time.Second)
			s.log.Warn("deliver s3 notifications", "err", err, "retry_in", backoff.String())
		case n > 0:
			backoff = 0
			continue
		default:
			backoff = 0
		}
		wait := backoff
		if wait == 0 {
			wait = time.Minute
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.wake:
			if backoff > 0 {
				<-t.C // a failing destination: keep the backoff
			}
		case <-t.C:
		}
		t.Stop()
	}
}

// deliverSome delivers up to 64 entries in order and removes those done.
// It stops at the first that fails (to be retried).
func (s *Service) deliverSome(ctx context.Context) (int, error) {
	type item struct {
		k []byte
		e outboxEntry
	}
	var items []item
	err := s.meta.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(rootOutbox).Cursor()
		for k, v := c.First(); k != nil && len(items) < 64; k, v = c.Next() {
			var e outboxEntry
			if err := json.Unmarshal(v, &e); err != nil {
				s.log.Error("drop undecodable s3 notification", "err", err)
				items = append(items, item{k: append([]byte(nil), k...), e: outboxEntry{}})
				continue
			}
			items = append(items, item{k: append([]byte(nil), k...), e: e})
		}
		return nil
	})
	if err != nil || len(items) == 0 {
		return 0, err
	}
	var done [][]byte
	var ferr error
	for _, it := range items {
		if it.e.Arn != "" {
			if s.opts.Deliverer == nil {
				ferr = errors.New("no deliverer")
				break
			}
			err := s.opts.Deliverer.Deliver(ctx, it.e.Arn, it.e.Dedup, it.e.Body)
			if errors.Is(err, ErrUndeliverable) {
				s.log.Warn("drop undeliverable s3 notification", "destination", it.e.Arn, "err", err)
			} else if err != nil {
				ferr = err
				break
			}
		}
		done = append(done, it.k)
	}
	if len(done) > 0 {
		if err := s.meta.db.Update(func(tx *bolt.Tx) error {
			ob := tx.Bucket(rootOutbox)
			for _, k := range done {
				if err := ob.Delete(k); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return 0, fmt.Errorf("remove delivered notifications: %w", err)
		}
	}
	return len(done), ferr
}
