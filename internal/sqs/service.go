package sqs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// Bucket is the KV bucket holding queue records (key q.<account>.<name>)
// and deletion markers (key del.<account>.<name>).
const Bucket = "nimbus_sqs"

const consumerName = "sqs"

// Options configure a Service.
type Options struct {
	JetStream jetstream.JetStream
	Region    string
	AccountID string
	Logger    *slog.Logger
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
	// Replicas of the bucket and of every queue's stream (0 means 1; 3
	// on a three-server cluster).
	Replicas int
}

// Service is the SQS engine of a node: queues in a KV bucket, messages
// in one work-queue stream per queue. Every node of a cluster may run
// one over the same JetStream.
type Service struct {
	js      jetstream.JetStream
	nc      *nats.Conn
	kv      jetstream.KeyValue
	region  string
	account string
	log     *slog.Logger
	now     func() time.Time
	// replicas of every queue's stream.
	replicas int

	mu        sync.Mutex
	consumers map[string]jetstream.Consumer // by stream name; guarded by mu
	streams   map[string]jetstream.Stream   // by stream name; guarded by mu
	// holds counts the deliveries of FIFO messages held back behind
	// their group's earlier messages (fifo.go).
	holds jetstream.KeyValue
	// counters are this node's per-queue counters (stats.go), by
	// "<account>/<name>"; guarded by mu.
	counters map[string]*counters
	// records caches queue records for the message paths (cached);
	// guarded by mu.
	records map[string]cachedRecord
	// committers group concurrent sends per standard queue (commit.go).
	committers map[string]*store.Group[*nats.Msg] // by stream name; guarded by mu
	// intake group-commits single sends to standard queues (intake.go).
	intake *intake
	// trim purges deleted messages of layoutFloor queues (trim.go).
	trim *trimmer
	// wg owns the record watcher (watch.go); stopWatch ends it.
	wg        sync.WaitGroup
	stopWatch context.CancelFunc
}

// New opens (creating if needed) the queue bucket.
func New(ctx context.Context, o Options) (*Service, error) {
	kv, err := o.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: Bucket, Storage: jetstream.FileStorage, History: 1, Replicas: max(o.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("open sqs bucket: %w", err)
	}
	holds, err := o.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: HoldsBucket, Storage: jetstream.FileStorage, History: 1, Replicas: max(o.Replicas, 1),
		TTL: holdsTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("open sqs holds bucket: %w", err)
	}
	s := &Service{
		js: o.JetStream, nc: o.JetStream.Conn(), kv: kv, region: o.Region, account: o.AccountID,
		log: o.Logger, now: o.Now, replicas: max(o.Replicas, 1), consumers: map[string]jetstream.Consumer{}, streams: map[string]jetstream.Stream{}, holds: holds, counters: map[string]*counters{}, records: map[string]cachedRecord{},
		committers: map[string]*store.Group[*nats.Msg]{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.intake, err = newIntake(ctx, s); err != nil {
		return nil, err
	}
	s.trim = newTrimmer(s)
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopWatch = cancel
	if err := s.watchRecords(wctx); err != nil {
		cancel()
		s.Close()
		return nil, fmt.Errorf("watch sqs bucket: %w", err)
	}
	return s, nil
}

// Close waits for the intake's mover to finish what it holds (what it
// does not finish is moved at the next start), for the trimmer's round
// and for the record watcher.
func (s *Service) Close() {
	s.intake.close()
	s.trim.close()
	s.stopWatch()
	s.wg.Wait()
}

func queueKey(account, name string) string   { return "q." + account + "." + name }
func deletedKey(account, name string) string { return "del." + account + "." + name }

func (s *Service) arn(account, name string) string {
	return "arn:aws:sqs:" + s.region + ":" + account + ":" + name
}

// get reads a queue's record and its revision.
func (s *Service) get(ctx context.Context, account, name string) (*queue, uint64, error) {
	e, err := s.kv.Get(ctx, queueKey(account, name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, errQueueDoesNotExist()
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read queue %s: %w", name, err)
	}
	var q queue
	if err := json.Unmarshal(e.Value(), &q); err != nil {
		return nil, 0, fmt.Errorf("decode queue %s: %w", name, err)
	}
	return &q, e.Revision(), nil
}

func (s *Service) put(ctx context.Context, q *queue, rev uint64) error {
	s.uncache(q.Account, q.Name)
	b, err := json.Marshal(q)
	if err != nil {
		return fmt.Errorf("encode queue %s: %w", q.Name, err)
	}
	if rev == 0 {
		_, err = s.kv.Create(ctx, queueKey(q.Account, q.Name), b)
	} else {
		_, err = s.kv.Update(ctx, queueKey(q.Account, q.Name), b, rev)
	}
	if err != nil {
		return fmt.Errorf("write queue %s: %w", q.Name, err)
	}
	return nil
}

func (s *Service) resolveDLQ(ctx context.Context) func(string) (bool, bool) {
	return func(arn string) (bool, bool) {
		acct, name, ok := parseARN(arn)
		if !ok {
			return false, false
		}
		q, _, err := s.get(ctx, acct, name)
		if err != nil {
			return false, false
		}
		return true, q.fifo()
	}
}

// streamConfig is q's stream with this node's replica count.
func (s *Service) streamConfig(q *queue) jetstream.StreamConfig {
	cfg := streamConfig(q)
	cfg.Replicas = s.replicas
	return cfg
}

func streamConfig(q *queue) jetstream.StreamConfig {
	retention := time.Duration(q.intAttr("MessageRetentionPeriod")) * time.Second
	dup := min(dedupWindow, retention)
	if !q.fifo() {
		dup = min(2*time.Minute, retention)
	}
	retain := jetstream.WorkQueuePolicy
	if q.Layout == layoutFloor {
		retain = jetstream.LimitsPolicy // deletes are acks; the trimmer purges (trim.go)
	}
	return jetstream.StreamConfig{
		Name:       q.streamName(),
		Subjects:   []string{q.subject(), q.subject() + ".>"},
		Retention:  retain,
		Storage:    jetstream.FileStorage,
		Discard:    jetstream.DiscardNew,
		MaxAge:     retention,
		Duplicates: dup,
		MaxMsgSize: 2 << 20, // 1 MiB body plus attributes and headers
		// Group commit of standard queues' batches (commit.go).
		AllowAtomicPublish: !q.fifo(),
	}
}

// ackWait is the consumer's AckWait for a visibility timeout: JetStream
// needs a positive one, so 0 is served by naking at receive.
func ackWait(visibility int) time.Duration {
	return time.Duration(max(visibility, 1)) * time.Second
}

func consumerConfig(q *queue) jetstream.ConsumerConfig {
	filter := q.subject()
	if q.fifo() {
		filter = "" // every group's subject (fifo.go)
	}
	return jetstream.ConsumerConfig{
		Durable:         consumerName,
		AckPolicy:       jetstream.AckExplicitPolicy,
		AckWait:         ackWait(q.intAttr("VisibilityTimeout")),
		MaxDeliver:      -1,
		MaxAckPending:   120000, // SQS's in-flight limit
		MaxWaiting:      4096,
		MaxRequestBatch: maxBatchEntries,
		FilterSubject:   filter,
	}
}

// CreateQueue creates a queue, or returns the URL of an existing one
// created with the same attributes.
func (s *Service) CreateQueue(ctx context.Context, account, name string, attrs, tags map[string]string) (*queue, error) {
	fifo := strings.HasSuffix(name, ".fifo")
	if fifo && !fifoNameRE.MatchString(name) || !fifo && !queueNameRE.MatchString(name) {
		return nil, errInvalidParameter("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	if fifo && attrs["FifoQueue"] != "true" {
		return nil, errInvalidParameter("The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.")
	}
	if err := checkAttrs(attrs, fifo, true, s.resolveDLQ(ctx)); err != nil {
		return nil, err
	}
	if err := checkTags(tags, nil); err != nil {
		return nil, err
	}
	want := defaultAttrs(fifo)
	for k, v := range attrs {
		if k == "RedrivePolicy" {
			v = normaliseRedrive(v)
		}
		want[k] = v
	}
	if old, _, err := s.get(ctx, account, name); err == nil {
		for k, v := range want {
			if old.Attrs[k] != v {
				return nil, newErr(http.StatusBadRequest, "QueueNameExists", "A queue already exists with the same name and a different value for attribute %s", k)
			}
		}
		return old, nil
	} else if !isCode(err, "QueueDoesNotExist") {
		return nil, err
	}
	if e, err := s.kv.Get(ctx, deletedKey(account, name)); err == nil {
		at, _ := strconv.ParseInt(string(e.Value()), 10, 64)
		if s.now().Sub(time.UnixMilli(at)) < deletedRecently {
			return nil, newErr(http.StatusBadRequest, "QueueDeletedRecently", "You must wait 60 seconds after deleting a queue before you can create another with the same name.")
		}
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	now := s.now().Unix()
	q := &queue{Account: account, Name: name, ID: hex.EncodeToString(id[:]), Attrs: want, Tags: tags, Created: now, Updated: now}
	if !fifo {
		q.Layout = layoutFloor
	}
	// The stream first: a record is only written for a queue whose
	// messages have somewhere to go. A crash in between leaves an
	// unreferenced stream.
	st, err := s.js.CreateStream(ctx, s.streamConfig(q))
	if err != nil {
		return nil, fmt.Errorf("create queue stream: %w", err)
	}
	if _, err := st.CreateOrUpdateConsumer(ctx, consumerConfig(q)); err != nil {
		return nil, fmt.Errorf("create queue consumer: %w", err)
	}
	if err := s.put(ctx, q, 0); err != nil {
		_ = s.js.DeleteStream(ctx, q.streamName())
		if errors.Is(err, jetstream.ErrKeyExists) {
			// Another node created it meanwhile: answer as for an existing queue.
			return s.CreateQueue(ctx, account, name, attrs, tags)
		}
		return nil, err
	}
	return q, nil
}

func isCode(err error, code string) bool { return awsapi.HasCode(err, code) }

// DeleteQueue deletes a queue and its messages.
func (s *Service) DeleteQueue(ctx context.Context, account, name string) error {
	q, rev, err := s.get(ctx, account, name)
	if err != nil {
		return err
	}
	s.uncache(account, name)
	if err := s.kv.Delete(ctx, queueKey(account, name), jetstream.LastRevision(rev)); err != nil {
		return fmt.Errorf("delete queue %s: %w", name, err)
	}
	_, _ = s.kv.Put(ctx, deletedKey(account, name), []byte(strconv.FormatInt(s.now().UnixMilli(), 10)))
	if err := s.js.DeleteStream(ctx, q.streamName()); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		s.log.Warn("delete queue stream", "queue", name, "err", err)
	}
	s.mu.Lock()
	delete(s.consumers, q.streamName())
	delete(s.streams, q.streamName())
	delete(s.counters, account+"/"+name)
	delete(s.committers, q.streamName())
	s.mu.Unlock()
	s.trim.forget(q.streamName())
	return nil
}

// ListQueues lists an account's queue names with a prefix, sorted.
func (s *Service) ListQueues(ctx context.Context, account, prefix string) ([]string, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, "q."+account+".>")
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	var out []string
	for k := range lister.Keys() {
		name := strings.TrimPrefix(k, "q."+account+".")
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// SetAttributes changes a queue's attributes.
func (s *Service) SetAttributes(ctx context.Context, account, name string, attrs map[string]string) error {
	for {
		q, rev, err := s.get(ctx, account, name)
		if err != nil {
			return err
		}
		if err := checkAttrs(attrs, q.fifo(), false, s.resolveDLQ(ctx)); err != nil {
			return err
		}
		oldVis, oldRet := q.Attrs["VisibilityTimeout"], q.Attrs["MessageRetentionPeriod"]
		for k, v := range attrs {
			switch {
			case k == "RedrivePolicy":
				v = normaliseRedrive(v)
			case v == "" && (k == "Policy" || k == "RedriveAllowPolicy"):
				delete(q.Attrs, k)
				continue
			}
			q.Attrs[k] = v
		}
		q.Updated = s.now().Unix()
		if q.Attrs["MessageRetentionPeriod"] != oldRet {
			if _, err := s.js.UpdateStream(ctx, s.streamConfig(q)); err != nil {
				return fmt.Errorf("update queue stream: %w", err)
			}
		}
		if q.Attrs["VisibilityTimeout"] != oldVis {
			if err := s.updateConsumer(ctx, q); err != nil {
				return err
			}
		}
		err = s.put(ctx, q, rev)
		if errors.Is(err, jetstream.ErrKeyExists) || isWrongSequence(err) {
			continue // another writer: read again
		}
		return err
	}
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

func (s *Service) updateConsumer(ctx context.Context, q *queue) error {
	st, err := s.js.Stream(ctx, q.streamName())
	if err != nil {
		return fmt.Errorf("open queue stream: %w", err)
	}
	c, err := st.CreateOrUpdateConsumer(ctx, consumerConfig(q))
	if err != nil {
		return fmt.Errorf("update queue consumer: %w", err)
	}
	s.mu.Lock()
	s.consumers[q.streamName()] = c
	s.mu.Unlock()
	return nil
}

// consumer is the queue's pull consumer (cached).
func (s *Service) consumer(ctx context.Context, q *queue) (jetstream.Consumer, error) {
	s.mu.Lock()
	c := s.consumers[q.streamName()]
	s.mu.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := s.js.Consumer(ctx, q.streamName(), consumerName)
	if err != nil {
		return nil, fmt.Errorf("open queue consumer: %w", err)
	}
	if want := consumerConfig(q).FilterSubject; c.CachedInfo().Config.FilterSubject != want {
		// A FIFO queue created before group subjects: widen its filter.
		st, err := s.js.Stream(ctx, q.streamName())
		if err != nil {
			return nil, fmt.Errorf("open queue stream: %w", err)
		}
		if c, err = st.CreateOrUpdateConsumer(ctx, consumerConfig(q)); err != nil {
			return nil, fmt.Errorf("update queue consumer: %w", err)
		}
	}
	s.mu.Lock()
	s.consumers[q.streamName()] = c
	s.mu.Unlock()
	return c, nil
}

// Attributes answers GetQueueAttributes for the named attributes ("All"
// for every one).
func (s *Service) Attributes(ctx context.Context, account, name string, names []string) (map[string]string, error) {
	q, _, err := s.get(ctx, account, name)
	if err != nil {
		return nil, err
	}
	all := false
	for _, n := range names {
		if n == "All" {
			all = true
			continue
		}
		if !settable[n] && !readOnly[n] || fifoOnly[n] && !q.fifo() || n == "FifoQueue" && !q.fifo() {
			return nil, errInvalidAttributeName("Unknown Attribute %s.", n)
		}
	}
	out := map[string]string{}
	for k, v := range q.Attrs {
		out[k] = v
	}
	out["QueueArn"] = s.arn(q.Account, q.Name)
	out["CreatedTimestamp"] = strconv.FormatInt(q.Created, 10)
	out["LastModifiedTimestamp"] = strconv.FormatInt(q.Updated, 10)
	// The counters cost a consumer-info request: only when asked (the
	// access check of every delivery to a queue reads its Policy here).
	if all || slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "ApproximateNumberOfMessages") }) {
		c, err := s.consumer(ctx, q)
		if err != nil {
			return nil, err
		}
		s.intake.awaitMoved(ctx, q.streamName())
		info, err := c.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("read queue consumer: %w", err)
		}
		// Messages of this node's packs not moved within the wait count
		// as visible: they are stored and will be.
		visible := info.NumPending + uint64(s.intake.unmovedOf(q.streamName())) //nolint:gosec // a count, not negative
		out["ApproximateNumberOfMessages"] = strconv.FormatUint(visible, 10)
		out["ApproximateNumberOfMessagesNotVisible"] = strconv.Itoa(info.NumAckPending)
		out["ApproximateNumberOfMessagesDelayed"] = "0"
	}
	if all {
		return out, nil
	}
	sel := map[string]string{}
	for _, n := range names {
		if v, ok := out[n]; ok {
			sel[n] = v
		}
	}
	return sel, nil
}

// Purge deletes every message of a queue, at most once a minute.
func (s *Service) Purge(ctx context.Context, account, name string) error {
	q, rev, err := s.get(ctx, account, name)
	if err != nil {
		return err
	}
	now := s.now()
	if q.LastPurge != 0 && now.Sub(time.UnixMilli(q.LastPurge)) < purgeInterval {
		return newErr(http.StatusBadRequest, "PurgeQueueInProgress", "Only one PurgeQueue operation on %s is allowed every 60 seconds.", name)
	}
	q.LastPurge = now.UnixMilli()
	if err := s.put(ctx, q, rev); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) || isWrongSequence(err) {
			return newErr(http.StatusBadRequest, "PurgeQueueInProgress", "Only one PurgeQueue operation on %s is allowed every 60 seconds.", name)
		}
		return err
	}
	st, err := s.js.Stream(ctx, q.streamName())
	if err != nil {
		return fmt.Errorf("open queue stream: %w", err)
	}
	if err := st.Purge(ctx); err != nil {
		return fmt.Errorf("purge queue: %w", err)
	}
	return nil
}

// Tags returns a queue's tags.
func (s *Service) Tags(ctx context.Context, account, name string) (map[string]string, error) {
	q, _, err := s.get(ctx, account, name)
	if err != nil {
		return nil, err
	}
	return q.Tags, nil
}

// Tag adds (set) or removes (remove) tags.
func (s *Service) Tag(ctx context.Context, account, name string, set map[string]string, remove []string) error {
	for {
		q, rev, err := s.get(ctx, account, name)
		if err != nil {
			return err
		}
		if q.Tags == nil {
			q.Tags = map[string]string{}
		}
		for k, v := range set {
			q.Tags[k] = v
		}
		for _, k := range remove {
			delete(q.Tags, k)
		}
		if err := checkTags(q.Tags, set); err != nil {
			return err
		}
		err = s.put(ctx, q, rev)
		if errors.Is(err, jetstream.ErrKeyExists) || isWrongSequence(err) {
			continue
		}
		return err
	}
}

func checkTags(all, added map[string]string) error {
	if len(all) > 50 {
		return errInvalidParameter("Too many tags added for queue. Maximum number of tags is 50.")
	}
	if added == nil {
		added = all
	}
	for k, v := range added {
		if k == "" || len(k) > 128 || len(v) > 256 || strings.HasPrefix(k, "aws:") {
			return errInvalidParameter("Tag key or value is invalid: %q.", k)
		}
	}
	return nil
}

// IsFIFO reports whether a queue exists (else QueueDoesNotExist) and is
// a FIFO queue.
func (s *Service) IsFIFO(ctx context.Context, account, name string) (bool, error) {
	q, _, err := s.get(ctx, account, name)
	if err != nil {
		return false, err
	}
	return q.fifo(), nil
}

// recordTTL is how long the message paths (send, receive, delete, change
// visibility) reuse a queue record read from the bucket: one KV read per
// queue per second instead of one per request. This node's own writes
// drop it at once; another node's show within recordTTL, well within the
// 60 s AWS gives attribute changes to propagate.
const recordTTL = time.Second

type cachedRecord struct {
	q  *queue
	at time.Time
}

// cached is get for the message paths.
func (s *Service) cached(ctx context.Context, account, name string) (*queue, error) {
	k := account + "/" + name
	now := time.Now()
	s.mu.Lock()
	c, ok := s.records[k]
	s.mu.Unlock()
	if ok && now.Sub(c.at) < recordTTL {
		return c.q, nil
	}
	q, _, err := s.get(ctx, account, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.records[k] = cachedRecord{q, now}
	s.mu.Unlock()
	return q, nil
}

// uncache drops a queue's cached record (it changed or is gone).
func (s *Service) uncache(account, name string) {
	s.mu.Lock()
	delete(s.records, account+"/"+name)
	s.mu.Unlock()
}
