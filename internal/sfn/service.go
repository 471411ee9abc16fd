package sfn

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Options configures New.
type Options struct {
	JetStream jetstream.JetStream // required
	Tasks     Tasks
	Region    string
	AccountID string
	Replicas  int
	// SingleNode says this node is the only runner: runs a killed process
	// had taken are redelivered at start instead of after runAckWait.
	SingleNode bool
	Logger     *slog.Logger
	// InlineWait is the longest wait (Wait state, Retry interval) a
	// Standard execution sleeps through in memory; longer ones suspend the
	// execution on a durable timer. 0: DefaultInlineWait.
	InlineWait time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Observe, when set, hears each execution start (status "STARTED"),
	// redrive ("REDRIVEN") and end (its final status and how long it
	// ran; a redriven execution's end is heard twice, the second time as
	// "REDRIVEN_" and the status), for CloudWatch's AWS/States metrics.
	Observe func(stateMachineArn, status string, elapsed time.Duration)
	// StatusChange, when set, puts a Standard execution's status event
	// (statusevents.go: detail-type StatusDetailType, source aws.states)
	// on the default event bus; resources is the execution's ARN.
	StatusChange func(ctx context.Context, executionArn, detail string) error
	// Logs, when set, stores an execution's log records in a log group's
	// stream (LoggingConfiguration, logging.go), creating the stream.
	Logs func(ctx context.Context, group, stream string, records []LogRecord) error
}

// DefaultInlineWait: waits up to this long hold a goroutine; longer ones
// are durable timers on the backbone.
const DefaultInlineWait = 2 * time.Second

// Service is one node's Step Functions: the API and the runner of
// Standard executions.
type Service struct {
	js         jetstream.JetStream
	kv         jetstream.KeyValue
	hist       jetstream.Stream
	cons       jetstream.Consumer
	tasks      Tasks
	region     string
	account    string
	singleNode bool
	inlineWait time.Duration
	now        func() time.Time
	log        *slog.Logger
	observe    func(stateMachineArn, status string, elapsed time.Duration)
	// statusChange puts status events (Options.StatusChange).
	statusChange func(ctx context.Context, executionArn, detail string) error
	logs         func(ctx context.Context, group, stream string, records []LogRecord) error
	// jcache keeps recent journals (journalcache.go).
	jcache *journalCache
	// defs keeps parsed definitions (defcache.go).
	defs *defCache

	mu sync.Mutex
	// active are the executions this node is running: a run request for
	// one of them asks it to run again once it suspends.
	active map[string]*activeRun // guarded by mu
	// bg runs Express executions started with StartExecution.
	bg     sync.WaitGroup
	bgCtx  context.Context
	bgStop context.CancelFunc
}

type activeRun struct {
	again  bool
	cancel context.CancelFunc
}

// New creates the bucket, streams and consumer. Nothing runs until Run.
func New(ctx context.Context, opts Options) (*Service, error) {
	if opts.JetStream == nil {
		return nil, errors.New("new step functions service: JetStream is required")
	}
	s := &Service{
		js: opts.JetStream, tasks: opts.Tasks, region: opts.Region, account: opts.AccountID,
		singleNode: opts.SingleNode, inlineWait: opts.InlineWait, now: opts.Now, log: opts.Logger,
		active: map[string]*activeRun{}, observe: opts.Observe, statusChange: opts.StatusChange,
		logs: opts.Logs, jcache: newJournalCache(maxCacheBytes), defs: newDefCache(maxDefCacheBytes),
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.tasks.Region == "" {
		s.tasks.Region = s.region
	}
	if s.inlineWait <= 0 {
		s.inlineWait = DefaultInlineWait
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.bgCtx, s.bgStop = context.WithCancel(context.Background())
	replicas := max(opts.Replicas, 1)
	if err := s.openBackbone(ctx, replicas); err != nil {
		return nil, fmt.Errorf("new step functions service: %w", err)
	}
	return s, nil
}

// Run pulls due runs until ctx ends, then waits for the runs and the
// Express executions it started.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	cc, err := s.cons.Consume(func(m jetstream.Msg) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handle(ctx, m)
		}()
	}, jetstream.PullMaxMessages(64))
	if err != nil {
		return fmt.Errorf("consume %s: %w", WorkStream, err)
	}
	<-ctx.Done()
	cc.Stop()
	<-cc.Closed()
	s.bgStop()
	wg.Wait()
	s.bg.Wait()
	return nil
}

// handle serves one work message: not due yet, it comes back when due;
// due, the execution runs here (one run per execution per node; the
// journal's compare-and-set keeps two nodes from both recording).
func (s *Service) handle(ctx context.Context, m jetstream.Msg) {
	var w workMsg
	if err := json.Unmarshal(m.Data(), &w); err != nil || w.ARN == "" {
		_ = m.Term()
		return
	}
	if wait := time.UnixMilli(w.Due).Sub(s.now()); wait > 0 {
		_ = m.NakWithDelay(min(wait, time.Hour))
		return
	}
	s.mu.Lock()
	if a, ok := s.active[w.ARN]; ok {
		a.again = true
		s.mu.Unlock()
		_ = m.Ack()
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	s.active[w.ARN] = &activeRun{cancel: cancel}
	s.mu.Unlock()
	defer cancel()
	// Keep the message ours while the run lasts.
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(runAckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_ = m.InProgress()
			}
		}
	}()
	var err error
	for {
		err = s.drive(rctx, w.ARN)
		s.mu.Lock()
		a := s.active[w.ARN]
		again := a.again && err == nil
		a.again = false
		if !again {
			delete(s.active, w.ARN)
		}
		s.mu.Unlock()
		if !again {
			break
		}
	}
	close(stop)
	switch {
	case err == nil, errors.Is(err, errConflict):
		_ = m.Ack()
	case ctx.Err() != nil:
		// Shutting down: the message comes back after the ack wait (or at
		// this node's restart), and the execution goes on from its journal.
		_ = m.Nak()
	default:
		s.log.Warn("execution run failed", "execution", w.ARN, "err", err)
		_ = m.NakWithDelay(time.Second)
	}
}

// drive runs a Standard execution from its journal to its end or its
// next suspension.
func (s *Service) drive(ctx context.Context, arn string) error {
	machine, name, ok := parseExecutionARN(arn)
	if !ok {
		return nil
	}
	rec, _, err := getJSON[execRecord](ctx, s.kv, execKey(machine, name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if rec.Status != StatusRunning {
		return nil
	}
	def, err := s.defs.parse(rec.Definition, false)
	if err != nil {
		return s.end(ctx, rec, "", &Failure{Name: ErrRuntime, Cause: err.Error()}, 0)
	}
	j, err := openJournal(ctx, s.journalStore(machine, name), s.now)
	if err != nil {
		return err
	}
	if _, aborted := j.get(abortKey); aborted {
		return nil
	}
	r := &run{x: rec.execution(def), j: j, tasks: &s.tasks, durable: true, inlineWait: s.inlineWait, now: s.now, after: time.After, children: s, mapRuns: s}
	oc, err := r.exec(ctx)
	if evs := j.takeFlushed(); len(evs) > 0 {
		if m, _, merr := s.getMachine(ctx, rec.StateMachineARN); merr == nil {
			s.logEvents(ctx, m.Logging, m.Name, rec.ARN, rec.Start, rec.RedriveCount, evs)
		}
	}
	if err != nil {
		return err
	}
	if oc.suspend != nil {
		if oc.suspend.until.IsZero() {
			return nil // a callback wakes it
		}
		return s.schedule(ctx, arn, oc.suspend.until, fmt.Sprintf("%s#%d", arn, oc.suspend.until.UnixMilli()))
	}
	return s.end(ctx, rec, oc.output, oc.failure, j.count())
}

// abortKey is the journal key of StopExecution's ExecutionAborted event.
const abortKey = "abort"

func (rec *execRecord) execution(def *Definition) *Execution {
	return &Execution{
		ARN: rec.ARN, Name: rec.Name, StateMachineARN: rec.StateMachineARN, StateMachineName: rec.StateMachineName,
		RoleARN: rec.RoleARN, Input: rec.Input, StartTime: rec.Start, Def: def, Seed: rec.Seed,
		RedriveCount: rec.RedriveCount, RedriveDate: rec.RedriveDate,
	}
}

// end records an execution's end in its record (compare-and-set, so a
// StopExecution that came first wins).
func (s *Service) end(ctx context.Context, rec *execRecord, output string, f *Failure, events int64) error {
	key := execKey(rec.StateMachineName, rec.Name)
	for {
		cur, rev, err := getJSON[execRecord](ctx, s.kv, key)
		if err != nil {
			return err
		}
		if cur.Status != StatusRunning {
			return nil
		}
		cur.Stop, cur.Events = s.now().UTC(), events
		switch {
		case f == nil:
			cur.Status, cur.Output = StatusSucceeded, output
		case f.Name == ErrTimeout && f.Cause == "The execution timed out.":
			cur.Status, cur.Error, cur.Cause = StatusTimedOut, f.Name, f.Cause
		default:
			cur.Status, cur.Error, cur.Cause = StatusFailed, f.Name, f.Cause
		}
		b, _ := json.Marshal(cur)
		if _, err := s.kv.Update(ctx, key, b, rev); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			return err
		}
		s.observedEnd(cur)
		s.jcache.drop(historySubject(cur.StateMachineName, cur.Name))
		s.statusChanged(ctx, cur)
		s.countChildEnd(ctx, cur)
		s.answerWatch(ctx, cur)
		if cur.Status != StatusSucceeded {
			s.abortMapRuns(ctx, cur)
		}
		return nil
	}
}

// observedEnd tells Options.Observe of a Standard execution's end, and
// of a redriven execution's end apart (AWS/States
// RedrivenExecutionsSucceeded and its siblings).
func (s *Service) observedEnd(rec *execRecord) {
	s.observed(rec.StateMachineARN, rec.Status, rec.Stop.Sub(rec.Start))
	if rec.RedriveCount > 0 {
		s.observed(rec.StateMachineARN, "REDRIVEN_"+rec.Status, rec.Stop.Sub(rec.Start))
	}
}

// observed tells Options.Observe of a start or an end.
func (s *Service) observed(machineArn, status string, elapsed time.Duration) {
	if s.observe != nil {
		s.observe(machineArn, status, elapsed)
	}
}

// statusOf is the final status of an outcome.
func statusOf(oc outcome) string {
	switch {
	case oc.failure == nil:
		return StatusSucceeded
	case oc.failure.Name == ErrTimeout && oc.failure.Cause == "The execution timed out.":
		return StatusTimedOut
	}
	return StatusFailed
}

// Execution statuses.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusAborted   = "ABORTED"
)

func newSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// runInMemory runs an execution whose journal lives in memory (Express
// executions, StartSyncExecution): waits sleep, nothing is durable.
func (s *Service) runInMemory(ctx context.Context, x *Execution) (outcome, *memJournal, error) {
	mj := &memJournal{}
	j, err := openJournal(ctx, mj, s.now)
	if err != nil {
		return outcome{}, nil, err
	}
	r := &run{x: x, j: j, tasks: &s.tasks, now: s.now, after: time.After}
	oc, err := r.exec(ctx)
	s.logEvents(ctx, x.logging, x.StateMachineName, x.ARN, x.StartTime, 0, j.takeFlushed())
	return oc, mj, err
}
