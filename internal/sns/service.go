package sns

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
)

// Bucket is the KV bucket of topics (key t.<account>.<name>) and
// subscriptions (key s.<account>.<topic name>.<id>); a topic name's "."
// (only in ".fifo") is "=" in keys.
const Bucket = "nimbus_sns"

// Stream layout: a pub message is one accepted Publish (or batch entry),
// fanned out once; a retry message is one delivery to one subscription
// not yet done.
const (
	StreamName    = "NIMBUS_SNS"
	subjectPub    = "nimbus.sns.pub"
	subjectRetry  = "nimbus.sns.retry"
	consumerName  = "nimbus-sns-fanout"
	dedupWindow   = 5 * time.Minute // FIFO topics' deduplication interval
	fanoutAckWait = 2 * time.Minute
)

// DefaultMaxBytes bounds the stream when Options.MaxBytes is 0.
const DefaultMaxBytes = 1 << 30

// Options configure New.
type Options struct {
	JetStream jetstream.JetStream // required
	// Targets delivers to Lambda functions and SQS queues (the node's
	// router; required).
	Targets   *deliver.Router
	Region    string
	AccountID string
	// Endpoint is the node's API URL as clients reach it (the base of
	// SubscribeURL, UnsubscribeURL and SigningCertURL).
	Endpoint string
	// AllowedHosts are the hosts (host or host:port) of http/https
	// endpoints that may be subscribed besides loopback ones.
	AllowedHosts []string
	// HTTPClient posts to http/https endpoints; a client with a 15 s
	// timeout (SNS's) when nil.
	HTTPClient *http.Client
	// MaxBytes bounds the stream of messages not yet fanned out; a full
	// stream refuses Publish rather than dropping messages.
	MaxBytes int64
	// Replicas of the bucket and the stream (0 means 1).
	Replicas int
	// FanoutAckWait is how long a message a node took for fan-out stays
	// its own before another node (or this one restarted) takes it again:
	// 2 minutes when 0 (tests shorten it). One value per cluster: the
	// consumer is shared.
	FanoutAckWait time.Duration
	// DelayScale multiplies retry delays (1 = AWS's timing; tests).
	DelayScale float64
	Logger     *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Service is one node's SNS: API and fan-out.
type Service struct {
	js       jetstream.JetStream
	kv       jetstream.KeyValue
	stream   jetstream.Stream
	cons     jetstream.Consumer
	targets  *deliver.Router
	region   string
	account  string
	endpoint string
	allowed  map[string]bool
	client   *http.Client
	scale    float64
	log      *slog.Logger
	now      func() time.Time
	signer   *signer
	filters  sync.Map // "<scope>\x00<policy>" -> *eventpattern.Pattern

	counters counters

	runMu   sync.Mutex
	running bool // guarded by runMu
}

// counters are the service's monotonic counts, named as SNS's CloudWatch
// metrics.
type counters struct {
	published, delivered, failed, filtered, deadLettered atomic.Uint64
}

// Stats are the counters (for /metrics and tests).
type Stats struct {
	NumberOfMessagesPublished, NumberOfNotificationsDelivered, NumberOfNotificationsFailed,
	NumberOfNotificationsFilteredOut, NumberOfNotificationsRedrivenToDlq uint64
}

// Stats reads the counters.
func (s *Service) Stats() Stats {
	return Stats{
		NumberOfMessagesPublished:          s.counters.published.Load(),
		NumberOfNotificationsDelivered:     s.counters.delivered.Load(),
		NumberOfNotificationsFailed:        s.counters.failed.Load(),
		NumberOfNotificationsFilteredOut:   s.counters.filtered.Load(),
		NumberOfNotificationsRedrivenToDlq: s.counters.deadLettered.Load(),
	}
}

// New opens (creating if needed) the bucket, the stream and the fan-out
// consumer. Nothing is fanned out until Run.
func New(ctx context.Context, o Options) (*Service, error) {
	if o.JetStream == nil || o.Targets == nil {
		return nil, errors.New("new sns service: JetStream and Targets are required")
	}
	s := &Service{
		js: o.JetStream, targets: o.Targets, region: o.Region, account: o.AccountID,
		endpoint: strings.TrimSuffix(o.Endpoint, "/"), allowed: map[string]bool{}, client: o.HTTPClient,
		scale: o.DelayScale, log: o.Logger, now: o.Now,
	}
	for _, h := range o.AllowedHosts {
		s.allowed[strings.ToLower(h)] = true
	}
	if s.client == nil {
		s.client = s.newHTTPClient()
	}
	if s.scale <= 0 {
		s.scale = 1
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	replicas := max(o.Replicas, 1)
	var err error
	s.kv, err = o.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: Bucket, Storage: jetstream.FileStorage, History: 1, Replicas: replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("new sns service: bucket: %w", err)
	}
	maxBytes := o.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	s.stream, err = o.JetStream.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "Nimbus SNS messages published and not yet delivered to every subscription",
		Subjects:    []string{"nimbus.sns.>"},
		Retention:   jetstream.WorkQueuePolicy,
		Discard:     jetstream.DiscardNew,
		MaxMsgs:     1_000_000,
		MaxBytes:    maxBytes,
		MaxMsgSize:  2 << 20,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Duplicates:  dedupWindow,
	})
	if err != nil {
		return nil, fmt.Errorf("new sns service: stream %s: %w", StreamName, err)
	}
	s.cons, err = s.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       consumerName,
		Description:   "Nimbus SNS fan-out",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cmp.Or(o.FanoutAckWait, fanoutAckWait),
		MaxDeliver:    -1,
		MaxAckPending: 10_000,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("new sns service: consumer: %w", err)
	}
	if s.signer, err = loadSigner(ctx, s.kv); err != nil {
		return nil, fmt.Errorf("new sns service: %w", err)
	}
	return s, nil
}

func (s *Service) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.scale)
}

// keyName is a topic name as a key token ("." is not one).
func keyName(name string) string { return strings.ReplaceAll(name, ".", "=") }

func topicKey(account, name string) string { return "t." + account + "." + keyName(name) }

func subKey(account, topic, id string) string {
	return "s." + account + "." + keyName(topic) + "." + id
}

// topic is a topic's record.
type topic struct {
	Name    string            `json:"name"`
	Account string            `json:"account"`
	Attrs   map[string]string `json:"attrs,omitempty"` // settable attributes as given
	Tags    []tag             `json:"tags,omitempty"`
	Created int64             `json:"created"`
}

func (t *topic) fifo() bool { return strings.EqualFold(t.Attrs["FifoTopic"], "true") }

// subscription is a subscription's record.
type subscription struct {
	ID       string            `json:"id"`
	Account  string            `json:"account"`
	Topic    string            `json:"topic"` // topic name
	Protocol string            `json:"protocol"`
	Endpoint string            `json:"endpoint"`
	Attrs    map[string]string `json:"attrs,omitempty"`
	// Confirmed is false until an http/https endpoint confirms.
	Confirmed bool `json:"confirmed"`
	// Token confirms a pending subscription until TokenExpires (Unix ms).
	Token         string `json:"token,omitempty"`
	TokenExpires  int64  `json:"tokenExpires,omitempty"`
	Authenticated bool   `json:"authenticated,omitempty"`
}

func (s *Service) topicArn(account, name string) string {
	return "arn:aws:sns:" + s.region + ":" + account + ":" + name
}

func (s *Service) subArn(sub *subscription) string {
	return s.topicArn(sub.Account, sub.Topic) + ":" + sub.ID
}

// parseTopicArn reads a topic ARN of this region and account.
func (s *Service) parseTopicArn(arn string) (account, name string, ok bool) {
	a, ok := deliver.Parse(arn)
	if !ok || a.Service != "sns" || a.Region != s.region || a.Account != s.account || !validTopicName(a.Resource) {
		return "", "", false
	}
	return a.Account, a.Resource, true
}

// parseSubArn reads a subscription ARN (topic ARN + ":" + id).
func (s *Service) parseSubArn(arn string) (account, topic, id string, ok bool) {
	i := strings.LastIndexByte(arn, ':')
	if i < 0 {
		return "", "", "", false
	}
	account, topic, ok = s.parseTopicArn(arn[:i])
	id = arn[i+1:]
	if !ok || !validSubID(id) {
		return "", "", "", false
	}
	return account, topic, id, true
}

func validSubID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for _, c := range id {
		if !isHexOrDash(c) {
			return false
		}
	}
	return true
}

// validTopicName: 1–256 of [A-Za-z0-9_-], a FIFO topic's with ".fifo".
func validTopicName(n string) bool {
	base := strings.TrimSuffix(n, ".fifo")
	if base == "" || len(n) > 256 {
		return false
	}
	for _, c := range base {
		if !isNameChar(c) {
			return false
		}
	}
	return true
}

func (s *Service) getTopic(ctx context.Context, account, name string) (*topic, uint64, error) {
	e, err := s.kv.Get(ctx, topicKey(account, name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, topicNotFound()
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read topic %s: %w", name, err)
	}
	var t topic
	if err := json.Unmarshal(e.Value(), &t); err != nil {
		return nil, 0, fmt.Errorf("decode topic %s: %w", name, err)
	}
	return &t, e.Revision(), nil
}

func (s *Service) putTopic(ctx context.Context, t *topic, rev uint64) error {
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode topic %s: %w", t.Name, err)
	}
	if rev == 0 {
		_, err = s.kv.Create(ctx, topicKey(t.Account, t.Name), b)
	} else {
		_, err = s.kv.Update(ctx, topicKey(t.Account, t.Name), b, rev)
	}
	if err != nil {
		return fmt.Errorf("write topic %s: %w", t.Name, err)
	}
	return nil
}

func (s *Service) getSub(ctx context.Context, account, topicName, id string) (*subscription, uint64, error) {
	e, err := s.kv.Get(ctx, subKey(account, topicName, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, subscriptionNotFound()
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read subscription %s: %w", id, err)
	}
	var sub subscription
	if err := json.Unmarshal(e.Value(), &sub); err != nil {
		return nil, 0, fmt.Errorf("decode subscription %s: %w", id, err)
	}
	return &sub, e.Revision(), nil
}

func (s *Service) putSub(ctx context.Context, sub *subscription, rev uint64) error {
	b, err := json.Marshal(sub)
	if err != nil {
		return fmt.Errorf("encode subscription %s: %w", sub.ID, err)
	}
	key := subKey(sub.Account, sub.Topic, sub.ID)
	if rev == 0 {
		_, err = s.kv.Create(ctx, key, b)
	} else {
		_, err = s.kv.Update(ctx, key, b, rev)
	}
	if err != nil {
		return fmt.Errorf("write subscription %s: %w", sub.ID, err)
	}
	return nil
}

// entries reads the current values of the bucket's keys matching filter
// (one pass of a watcher over the last values).
func (s *Service) entries(ctx context.Context, filter string) ([][]byte, error) {
	w, err := s.kv.WatchFiltered(ctx, []string{filter}, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", filter, err)
	}
	defer func() { _ = w.Stop() }()
	var out [][]byte
	for {
		select {
		case e := <-w.Updates():
			if e == nil {
				return out, nil // all current values seen
			}
			out = append(out, e.Value())
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// subscriptions reads the subscriptions of a topic ("*": of every topic).
func (s *Service) subscriptions(ctx context.Context, account, topicName string) ([]*subscription, error) {
	filter := "s." + account + ".*.*"
	if topicName != "*" {
		filter = "s." + account + "." + keyName(topicName) + ".*"
	}
	vals, err := s.entries(ctx, filter)
	if err != nil {
		return nil, err
	}
	out := make([]*subscription, 0, len(vals))
	for _, v := range vals {
		var sub subscription
		if err := json.Unmarshal(v, &sub); err != nil {
			return nil, fmt.Errorf("decode subscription: %w", err)
		}
		out = append(out, &sub)
	}
	return out, nil
}

func isHexOrDash(c rune) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == '-' }

func isNameChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// badTopicArn is the error for a member that names no topic of this node:
// AuthorizationError for a topic of another account or region (as AWS
// answers a caller without access to it), InvalidParameter otherwise.
func (s *Service) badTopicArn(arn, member, action string) error {
	if a, ok := deliver.Parse(arn); ok && a.Service == "sns" && validTopicName(a.Resource) && (a.Account != s.account || a.Region != s.region) {
		return authorizationError("User: arn:aws:iam::%s:root is not authorized to perform: SNS:%s on resource: %s", s.account, action, arn)
	}
	return invalidParameter("%s", member)
}

// TopicPolicy is the access policy set on the topic arn ("" when none was
// set or the topic does not exist), for IAM's evaluation of calls on it.
func (s *Service) TopicPolicy(ctx context.Context, arn string) string {
	account, name, ok := s.parseTopicArn(arn)
	if !ok {
		return ""
	}
	t, _, err := s.getTopic(ctx, account, name)
	if err != nil {
		return ""
	}
	return t.Attrs["Policy"]
}
