package cloudwatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

// The metrics stream on the backbone.
const (
	StreamName = "NIMBUS_METRICS"
	// Bucket holds alarms, their history and dashboards.
	Bucket        = "nimbus_cloudwatch"
	streamSubject = "nimbus.metrics.data"
	// streamMaxAge is how far back a restarted node rebuilds its
	// roll-ups from: the 60 s tier's retention (design note).
	streamMaxAge = 15 * 24 * time.Hour
	// DefaultMaxBytes bounds the stream on disk; the oldest data goes
	// first (metrics are a record with a retention, not pending work).
	DefaultMaxBytes = 512 << 20
	// DefaultMaxSeries bounds the metrics kept in memory.
	DefaultMaxSeries = 20_000
)

// Deliverer hands alarm notifications to ARNs (internal/deliver's
// Router).
type Deliverer interface {
	// alarmArn is the alarm whose action it is: the delivery is made as
	// CloudWatch for it (the target's resource policy decides).
	Deliver(ctx context.Context, alarmArn, targetArn, subject string, body []byte) error
	// Check reports why arn cannot be an action target, or nil.
	Check(arn string) error
}

// EventSink puts an event on the default EventBridge bus.
type EventSink func(ctx context.Context, source, detailType string, resources []string, detail []byte) error

// Options configure New.
type Options struct {
	JetStream jetstream.JetStream // required
	Replicas  int
	// MaxBytes bounds the metrics stream (default DefaultMaxBytes).
	MaxBytes int64
	// RollupMaxBytes bounds the roll-up stream of the long tiers
	// (default DefaultRollupMaxBytes).
	RollupMaxBytes int64
	// MaxSeries bounds the metrics kept (default DefaultMaxSeries); a
	// PutMetricData that would create more is refused.
	MaxSeries int
	Region    string
	AccountID string
	// PeriodScale shortens alarm periods and evaluation (0 or 1: AWS's
	// timing); below 1, every datum is kept at 1 s resolution for 3 h so
	// scaled periods of a few seconds have data.
	PeriodScale float64
	// Actions delivers alarm actions (nil: actions are refused).
	Actions Deliverer
	// Events receives alarm state changes (nil: none sent).
	Events EventSink
	// Now is the clock (nil: time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Service is the CloudWatch engine of one node.
type Service struct {
	opts   Options
	log    *slog.Logger
	js     jetstream.JetStream
	stream jetstream.Stream
	// rollups is the compacted stream of the long tiers (rollups.go).
	rollups jetstream.Stream
	kv      jetstream.KeyValue
	db      *db

	mu      sync.Mutex
	applied uint64        // guarded by mu: last stream sequence folded in
	notify  chan struct{} // guarded by mu: closed and replaced at each apply

	own *recorder
}

// New creates the metrics stream (or checks it) and the service. Run
// starts folding the stream in.
func New(ctx context.Context, opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxSeries <= 0 {
		opts.MaxSeries = DefaultMaxSeries
	}
	if opts.PeriodScale <= 0 {
		opts.PeriodScale = 1
	}
	st, err := opts.JetStream.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "CloudWatch metric datapoints (PutMetricData and Nimbus's own metrics)",
		Subjects:    []string{streamSubject},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      streamMaxAge,
		MaxBytes:    opts.MaxBytes,
		Duplicates:  2 * time.Minute,
		Replicas:    max(opts.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", StreamName, err)
	}
	if opts.RollupMaxBytes <= 0 {
		opts.RollupMaxBytes = DefaultRollupMaxBytes
	}
	rollups, err := createRollupStream(ctx, opts.JetStream, opts.RollupMaxBytes, opts.Replicas)
	if err != nil {
		return nil, err
	}
	kv, err := opts.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: Bucket, Description: "CloudWatch alarms, alarm history and dashboards",
		History: 1, Storage: jetstream.FileStorage, Replicas: max(opts.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", Bucket, err)
	}
	s := &Service{opts: opts, log: opts.Logger, js: opts.JetStream, stream: st, rollups: rollups, kv: kv,
		db: newDB(opts.PeriodScale < 1), notify: make(chan struct{})}
	s.own = newRecorder(s)
	return s, nil
}

func (s *Service) now() time.Time { return s.opts.Now() }

// SetActions sets the deliverer of alarm actions; call it before Run.
func (s *Service) SetActions(d Deliverer) { s.opts.Actions = d }

// SetEvents sets where alarm state changes are sent; call it before Run.
func (s *Service) SetEvents(e EventSink) { s.opts.Events = e }

// RunOnce runs fn on one node of the cluster (the holder of the lease
// name) until ctx ends.
type RunOnce func(ctx context.Context, name string, fn func(context.Context) error) error

// AlarmLease is the lease whose holder evaluates the alarms.
const AlarmLease = "cloudwatch-alarms"

// Run folds the stream into the node's roll-ups, prunes them, flushes
// Nimbus's own metrics, and evaluates the alarms when once gives this
// node the work, until ctx ends.
func (s *Service) Run(ctx context.Context, once RunOnce) error {
	var wg sync.WaitGroup
	var holder atomic.Bool
	wg.Add(5)
	go func() {
		defer wg.Done()
		err := once(ctx, RollupLease, func(ctx context.Context) error {
			holder.Store(true)
			defer holder.Store(false)
			<-ctx.Done()
			return nil
		})
		if err != nil && ctx.Err() == nil {
			s.log.Error("metric roll-up lease", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		s.runRollups(ctx, &holder)
	}()
	go func() {
		defer wg.Done()
		if err := once(ctx, AlarmLease, s.evaluateAlarms); err != nil && ctx.Err() == nil {
			s.log.Error("alarm evaluation", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		s.own.run(ctx)
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.db.prune(s.now())
			}
		}
	}()
	// The saved long tiers before the datapoint stream: its replay leaves
	// out what they already include.
	if err := s.loadRollups(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("load metric roll-ups", "err", err)
	}
	err := s.follow(ctx)
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// follow reads the stream from its start, then as it grows, restarting
// the ordered consumer after a failure.
func (s *Service) follow(ctx context.Context) error {
	for ctx.Err() == nil {
		err := s.followOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		s.log.Warn("metrics stream consumer ended; restarting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

func (s *Service) followOnce(ctx context.Context) error {
	s.mu.Lock()
	from := s.applied + 1
	s.mu.Unlock()
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from}
	cons, err := s.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("consume %s: %w", StreamName, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("consume %s: %w", StreamName, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		msg, err := it.Next()
		if err != nil {
			return err
		}
		md, err := msg.Metadata()
		if err != nil {
			continue
		}
		var b batch
		if err := json.Unmarshal(msg.Data(), &b); err == nil {
			s.db.apply(&b, md.Sequence.Stream, s.now())
		}
		s.mu.Lock()
		if md.Sequence.Stream > s.applied {
			s.applied = md.Sequence.Stream
		}
		close(s.notify)
		s.notify = make(chan struct{})
		s.mu.Unlock()
	}
}

// appendBatch stores b on the backbone and returns its stream sequence.
// Nimbus's own metrics are stored so, without waiting for this node to
// fold them in (no caller reads them back at once, and at a stop the
// reader is already gone: waiting would only hold the stop up).
func (s *Service) appendBatch(ctx context.Context, b *batch) (uint64, error) {
	data, err := json.Marshal(b)
	if err != nil {
		return 0, fmt.Errorf("encode metrics: %w", err)
	}
	ack, err := s.js.Publish(ctx, streamSubject, data, jetstream.WithMsgID(uuid.NewString()))
	if err != nil {
		return 0, fmt.Errorf("publish metrics: %w", err)
	}
	return ack.Sequence, nil
}

// publish stores b on the backbone and waits until this node has folded
// it in (so a read after a write on the same node sees it).
func (s *Service) publish(ctx context.Context, b *batch) error {
	seq, err := s.appendBatch(ctx, b)
	if err != nil {
		return err
	}
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		s.mu.Lock()
		done, ch := s.applied >= seq, s.notify
		s.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-wait.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return ctx.Err()
			}
			return nil // stored; this node will see it shortly
		}
	}
}

// operations are the served operations by name.
func (s *Service) operations() map[string]operation {
	return map[string]operation{
		"PutMetricData":       op(s.putMetricData),
		"GetMetricStatistics": op(s.getMetricStatistics),
		"ListMetrics":         op(s.listMetrics),
		"GetMetricData":       op(s.getMetricData),

		"PutMetricAlarm":          op(s.putMetricAlarm),
		"PutCompositeAlarm":       op(s.putCompositeAlarm),
		"DescribeAlarms":          op(s.describeAlarms),
		"DescribeAlarmsForMetric": op(s.describeAlarmsForMetric),
		"DescribeAlarmHistory":    op(s.describeAlarmHistory),
		"DeleteAlarms":            op(s.deleteAlarms),
		"EnableAlarmActions":      op(s.enableAlarmActions),
		"DisableAlarmActions":     op(s.disableAlarmActions),
		"SetAlarmState":           op(s.setAlarmState),

		"PutDashboard":     op(s.putDashboard),
		"GetDashboard":     op(s.getDashboard),
		"DeleteDashboards": op(s.deleteDashboards),
		"ListDashboards":   op(s.listDashboards),
	}
}
