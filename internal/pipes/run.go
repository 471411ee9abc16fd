package pipes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/esm"
	"github.com/nimbus-serverless/nimbus/internal/eventpattern"
)

// The runner. Every change a client makes leaves the pipe in a
// transitional state; the node that runs the pipes (the lease holder in
// a cluster) starts or stops the pipe's source and settles the state:
//
//	CreatePipe ─► CREATING ──┬─► RUNNING ◄── STARTING ◄── StartPipe
//	UpdatePipe ─► UPDATING ──┤       │
//	                         │       └─ StopPipe ─► STOPPING ─► STOPPED
//	                         └─► STOPPED (DesiredState STOPPED)
//	source missing at start ─► CREATE_FAILED / UPDATE_FAILED / START_FAILED
//	DeletePipe ─► DELETING ─► (record removed once its source stopped)

// runner is one running pipe.
type runner struct {
	gen    uint64
	cancel context.CancelFunc
	done   chan struct{}
}

// Run runs the pipes until ctx ends (only while this node holds the
// lease, when there is one).
func (s *Service) Run(ctx context.Context) error {
	if s.lease != nil {
		return s.lease(ctx, s.run)
	}
	return s.run(ctx)
}

func (s *Service) run(ctx context.Context) error {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch pipes: %w", err)
	}
	defer func() { _ = w.Stop() }()
	defer s.stopAll()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e != nil {
				s.apply(ctx, e)
			}
		}
	}
}

func (s *Service) stop(name string) {
	s.mu.Lock()
	r := s.running[name]
	delete(s.running, name)
	s.mu.Unlock()
	if r != nil {
		r.cancel()
		<-r.done
	}
}

func (s *Service) stopAll() {
	s.mu.Lock()
	rs := s.running
	s.running = map[string]*runner{}
	s.mu.Unlock()
	for _, r := range rs {
		r.cancel()
	}
	for _, r := range rs {
		<-r.done
	}
}

func (s *Service) apply(ctx context.Context, e jetstream.KeyValueEntry) {
	name := e.Key()
	if e.Operation() != jetstream.KeyValuePut {
		s.stop(name)
		return
	}
	var p stored
	if err := json.Unmarshal(e.Value(), &p); err != nil {
		s.log.Warn("pipe record does not decode", "pipe", name, "err", err)
		return
	}
	switch {
	case p.CurrentState == stateDeleting:
		s.stop(name)
		if err := s.kv.Delete(ctx, name, jetstream.LastRevision(e.Revision())); err != nil && ctx.Err() == nil {
			s.log.Info("delete pipe record", "pipe", name, "err", err)
		}
		if err := s.pos.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) && ctx.Err() == nil {
			s.log.Info("delete pipe checkpoint", "pipe", name, "err", err)
		}
		return
	case p.DesiredState == stateStopped:
		s.stop(name)
		if p.CurrentState != stateStopped {
			s.settle(ctx, &p, e.Revision(), stateStopped, "")
		}
		return
	case !transitional(p.CurrentState) && p.CurrentState != stateRunning:
		s.stop(name) // a failed state: nothing runs until the next change
		return
	}
	s.mu.Lock()
	cur := s.running[name]
	s.mu.Unlock()
	if cur == nil || cur.gen != p.Gen {
		s.stop(name)
		if err := s.start(ctx, &p); err != nil {
			s.log.Warn("pipe cannot start", "pipe", name, "err", err)
			failed := "START_FAILED"
			switch p.CurrentState {
			case stateCreating:
				failed = "CREATE_FAILED"
			case stateUpdating:
				failed = "UPDATE_FAILED"
			}
			s.settle(ctx, &p, e.Revision(), failed, err.Error())
			return
		}
	}
	if p.CurrentState != stateRunning {
		s.settle(ctx, &p, e.Revision(), stateRunning, "")
	}
}

// settle records the state a transition reached, unless the pipe changed
// meanwhile (its next change comes through the watch).
func (s *Service) settle(ctx context.Context, p *stored, rev uint64, state, reason string) {
	p.CurrentState, p.StateReason = state, reason
	b, err := json.Marshal(p)
	if err != nil {
		return
	}
	if _, err := s.kv.Update(ctx, p.Name, b, rev); err != nil && !errors.Is(err, jetstream.ErrKeyExists) && ctx.Err() == nil {
		s.log.Warn("record pipe state", "pipe", p.Name, "err", err)
	}
}

// start runs a pipe's source with the pipe's handler.
func (s *Service) start(ctx context.Context, p *stored) error {
	f, err := compileFilters(p.SourceParameters.filterCriteria())
	if err != nil {
		return err
	}
	h := s.handler(p)
	rctx, cancel := context.WithCancel(ctx)
	r := &runner{gen: p.Gen, cancel: cancel, done: make(chan struct{})}
	log := s.log.With("pipe", p.Name)
	switch sourceKind(p.Source) {
	case kindQueue:
		a, _ := deliver.Parse(p.Source)
		if _, err := s.queues.IsFIFO(ctx, a.Account, a.Resource); err != nil {
			cancel()
			return fmt.Errorf("the source queue %s does not exist", p.Source)
		}
		q := &esm.QueueSource{Queues: s.queues, Arn: p.Source, Region: s.region, BatchSize: 10, Filters: f, Log: log,
			Check: s.sourceCheck(p)}
		if sp := p.SourceParameters; sp != nil && sp.SqsQueueParameters != nil {
			if b := sp.SqsQueueParameters.BatchSize; b != nil {
				q.BatchSize = *b
			}
			if w := sp.SqsQueueParameters.MaximumBatchingWindowInSeconds; w != nil {
				q.Window = *w
			}
		}
		go func() {
			defer close(r.done)
			q.Run(rctx, h)
		}()
	case kindDynamo, kindKinesis:
		if s.streams == nil || !s.streams.Exists(p.Source) {
			cancel()
			return fmt.Errorf("the source stream %s is not served by this node", p.Source)
		}
		sp := streamParams(p)
		env := eventpattern.EnvelopeDynamoDB
		if sourceKind(p.Source) == kindKinesis {
			env = eventpattern.EnvelopeKinesis
		}
		src := &esm.StreamSource{Streams: s.streams, Arn: p.Source, BatchSize: 100, Filters: f, Envelope: env, Log: log,
			MaximumRetryAttempts: sp.MaximumRetryAttempts, MaximumRecordAgeInSeconds: sp.MaximumRecordAgeInSeconds,
			Bisect: sp.OnPartialBatchItemFailure == "AUTOMATIC_BISECT",
			Checkpoint: func(ctx context.Context) uint64 {
				if e, err := s.pos.Get(ctx, p.Name); err == nil {
					if n, err := strconv.ParseUint(string(e.Value()), 10, 64); err == nil {
						return n
					}
				}
				return max(p.StartSeq, 1)
			},
			SetCheckpoint: func(ctx context.Context, seq uint64) {
				if _, err := s.pos.Put(ctx, p.Name, []byte(strconv.FormatUint(seq, 10))); err != nil && ctx.Err() == nil {
					log.Warn("store pipe checkpoint", "err", err)
				}
			},
			OnFailure: func(ctx context.Context, batch []esm.StreamRecord, attempts int, condition string) {
				s.deadLetter(ctx, p, sp, batch, attempts, condition)
			},
			Check: s.sourceCheck(p)}
		if sp.BatchSize != nil {
			src.BatchSize = *sp.BatchSize
		}
		if sp.MaximumBatchingWindowInSeconds != nil {
			src.Window = *sp.MaximumBatchingWindowInSeconds
		}
		go func() {
			defer close(r.done)
			src.Run(rctx, h)
		}()
	default:
		cancel()
		return fmt.Errorf("unsupported source %s", p.Source)
	}
	s.mu.Lock()
	s.running[p.Name] = r
	s.mu.Unlock()
	return nil
}

func (sp *SourceParameters) filterCriteria() *FilterCriteria {
	if sp == nil {
		return nil
	}
	return sp.FilterCriteria
}

// deadLetter sends a dropped stream batch's description to the source's
// DeadLetterConfig (the shape Lambda's stream mappings send).
func (s *Service) deadLetter(ctx context.Context, p *stored, sp *StreamParameters, batch []esm.StreamRecord, attempts int, condition string) {
	if sp.DeadLetterConfig == nil || sp.DeadLetterConfig.Arn == "" {
		return
	}
	first, last := batch[0], batch[len(batch)-1]
	key := "DDBStreamBatchInfo"
	if sourceKind(p.Source) == kindKinesis {
		key = "KinesisBatchInfo"
	}
	rec := map[string]any{
		"requestContext": map[string]any{"requestId": uuid.NewString(), "pipeArn": p.Arn, "condition": condition,
			"approximateInvokeCount": attempts},
		"version":   "1.0",
		"timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		key: map[string]any{"shardId": first.ShardID, "startSequenceNumber": first.SequenceNumber,
			"endSequenceNumber": last.SequenceNumber, "batchSize": len(batch), "streamArn": p.Source,
			"approximateArrivalOfFirstRecord": first.Created.UTC().Format(time.RFC3339),
			"approximateArrivalOfLastRecord":  last.Created.UTC().Format(time.RFC3339)},
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return
	}
	if err := s.targets.Deliver(ctx, &deliver.Delivery{TargetArn: sp.DeadLetterConfig.Arn, DedupID: uuid.NewString(), Body: b,
		Source: s.as(p)}); err != nil {
		s.log.Warn("pipe dead-letter delivery failed", "pipe", p.Name, "err", err)
	}
}

// sourceCheck is the source's Check: the pipe's role may read it.
func (s *Service) sourceCheck(p *stored) func(ctx context.Context) error {
	if s.authz == nil {
		return nil
	}
	return func(ctx context.Context) error { return s.authz(ctx, p.RoleArn, p.Source) }
}

// as is who a pipe's deliveries come from: EventBridge Pipes acting as
// the pipe's role, which must trust pipes.amazonaws.com and be allowed
// the target's action (the router's guard decides).
func (s *Service) as(p *stored) *deliver.Source {
	return &deliver.Source{Service: "pipes.amazonaws.com", Arn: s.arn(p.Name), Account: s.account, RoleArn: p.RoleArn}
}

// mayCall asks the router's guard whether the pipe's role may call arn
// (a function invoked synchronously, an event bus): calls the router
// does not make itself.
func (s *Service) mayCall(ctx context.Context, p *stored, arn string) error {
	return s.targets.Authorize(ctx, &deliver.Delivery{TargetArn: arn, Source: s.as(p)})
}
