package async

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// AWS's asynchronous timings (scaled by Options.DelayScale).
const (
	// firstRetryDelay and secondRetryDelay follow a function error: "a
	// one-minute wait between the first two attempts, and two minutes
	// between the second and third attempts".
	firstRetryDelay  = time.Minute
	secondRetryDelay = 2 * time.Minute
	// Throttles and platform errors back off exponentially "from 1 second
	// after the first attempt to a maximum of 5 minutes".
	minBackoff = time.Second
	maxBackoff = 5 * time.Minute
	// pullWait is how long one pull waits for an event before asking again.
	pullWait = 5 * time.Second
	// ackTimeout bounds one acknowledgement round trip.
	ackTimeout = 5 * time.Second
)

// functionErrorDelay is the wait before retry number attempt (1-based).
func functionErrorDelay(attempt int) time.Duration {
	if attempt <= 1 {
		return firstRetryDelay
	}
	return secondRetryDelay
}

// backoff is the wait before platform retry number n (1-based).
func backoff(n int) time.Duration {
	d := minBackoff
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// work is one dispatcher worker: it pulls one event at a time (nothing
// waits in a client-side buffer while its AckWait runs) until ctx ends.
func (s *Service) work(ctx context.Context, id int) {
	log := s.log.With("worker", id)
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, pullWait)
		msg, err := s.cons.Next(jetstream.FetchContext(pctx))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
				log.Warn("pull async event", "err", err)
				if !s.pause(ctx, time.Second) {
					return
				}
			}
			continue
		}
		s.handleMsg(ctx, msg)
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, nats.ErrTimeout) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// pause waits d or until ctx ends; false if ctx ended.
func (s *Service) pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// handle takes one event through one step of its life (see the package
// comment). If ctx ends meanwhile the event is left unacknowledged and
// runs again later.
func (s *Service) handle(ctx context.Context, l lease, env *envelope) {
	settings := s.fns.AsyncSettings(env.Function, env.Qualifier)
	now := s.now()
	deadline := time.UnixMilli(env.Enqueued).Add(s.scaled(settings.MaxEventAge()))
	if !now.Before(deadline) {
		s.counters.droppedForAge.Add(1)
		s.fail(ctx, l, env, ConditionEventAgeExceeded, settings)
		return
	}
	if env.NotBefore > 0 {
		if due := time.UnixMilli(env.NotBefore); due.After(now) {
			if due.After(deadline) {
				due = deadline
			}
			l.later(ctx, env, due.Sub(now))
			return
		}
	}
	cfg, err := s.fns.Resolve(ctx, env.Function, env.Qualifier)
	if err == nil {
		var res *invoke.Result
		res, err = s.invoke(ctx, l, cfg, env)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			s.done(ctx, l, env, cfg, res, settings)
			return
		}
	}
	if errors.Is(err, errdefs.ErrNotFound) {
		// The function, version or alias was deleted since.
		s.counters.dropped.Add(1)
		s.log.Warn("drop async event of a function that no longer exists",
			"request_id", env.RequestID, "function", env.Function, "qualifier", env.Qualifier)
		l.ack(env)
		return
	}
	if s.fullyThrottled(env.Function, err) {
		// Reserved concurrency 0: Lambda sends the event to the failure
		// destinations without retrying.
		s.counters.exhausted.Add(1)
		s.fail(ctx, l, env, ConditionRetriesExhausted, settings)
		return
	}
	// Throttled, or the platform failed: the event goes back on the queue.
	env.Throttles++
	s.counters.throttles.Add(1)
	s.log.Debug("async invocation throttled or failed; retrying", "request_id", env.RequestID, "err", err)
	s.requeue(ctx, l, env, backoff(env.Throttles))
}

// reservations is the optional part of Functions that knows reserved
// concurrency (*registry.Registry has it).
type reservations interface {
	ReservedConcurrency(name string) (int, bool)
}

// fullyThrottled reports whether err is a throttle of a function whose
// reserved concurrency is 0.
func (s *Service) fullyThrottled(name string, err error) bool {
	if !errors.Is(err, errdefs.ErrThrottled) {
		return false
	}
	r, ok := s.fns.(reservations)
	if !ok {
		return false
	}
	n, set := r.ReservedConcurrency(name)
	return set && n == 0
}

// invoke runs the event, telling the backbone the event is in progress
// every AckWait/3 so a long function does not get it redelivered.
func (s *Service) invoke(ctx context.Context, l lease, cfg *function.Config, env *envelope) (*invoke.Result, error) {
	stop := make(chan struct{})
	beat := make(chan struct{})
	go func() {
		defer close(beat)
		t := time.NewTicker(s.ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				l.inProgress()
			}
		}
	}()
	defer func() {
		close(stop)
		<-beat
	}()
	return s.inv.Invoke(ctx, cfg, &invoke.Request{
		RequestID:          env.RequestID,
		InvokedFunctionArn: env.InvokedArn,
		Payload:            env.Payload,
		ClientContext:      env.ClientContext,
		TraceID:            env.TraceID,
		TenantID:           env.TenantID,
		Enqueued:           time.UnixMilli(env.Enqueued),
	})
}

// done handles an invocation that reached the function.
func (s *Service) done(ctx context.Context, l lease, env *envelope, cfg *function.Config, res *invoke.Result, settings *function.EventInvokeConfig) {
	s.counters.invokes.Add(1)
	env.Invokes++
	executed := res.ExecutedVersion
	if executed == "" {
		executed = cfg.Version
	}
	env.Last = &outcome{StatusCode: 200, ExecutedVersion: executed, FunctionError: res.FunctionError, Payload: jsonPayload(res.Payload)}
	if res.FunctionError == "" {
		s.counters.succeeded.Add(1)
		if dest := settings.OnSuccessArn(); dest != "" {
			if !s.deliver(ctx, l, env, dest, "success", s.record(env, ConditionSuccess)) {
				return
			}
		}
		l.ack(env)
		return
	}
	env.Attempts++
	if env.Attempts > settings.RetryAttempts() {
		s.counters.exhausted.Add(1)
		s.fail(ctx, l, env, ConditionRetriesExhausted, settings)
		return
	}
	if len(env.Last.Payload) > maxKeptResponse {
		env.Last.Payload = nil
	}
	// Counted once the retry is durable, so the count never names a retry
	// a stop could still undo (the event would then run again as it was).
	if s.requeue(ctx, l, env, functionErrorDelay(env.Attempts)) {
		s.counters.retries.Add(1)
	}
}

// fail sends the event to the dead-letter target and the failure record
// to OnFailure, if any, then acknowledges the event.
func (s *Service) fail(ctx context.Context, l lease, env *envelope, condition string, settings *function.EventInvokeConfig) {
	if dlq := s.deadLetterTarget(ctx, env); dlq != "" {
		// A dead-letter queue gets the event itself.
		if !s.deliver(ctx, l, env, dlq, "dlq", env.Payload) {
			return
		}
	}
	if dest := settings.OnFailureArn(); dest != "" {
		if !s.deliver(ctx, l, env, dest, "failure", s.record(env, condition)) {
			return
		}
	}
	s.log.Info("async event failed", "request_id", env.RequestID, "function", env.Function,
		"condition", condition, "invokes", env.Invokes)
	l.ack(env)
}

// deadLetterTarget is the DeadLetterConfig of the version the event
// names, "" if none (or the function is gone).
func (s *Service) deadLetterTarget(ctx context.Context, env *envelope) string {
	cfg, err := s.fns.Resolve(ctx, env.Function, env.Qualifier)
	if err != nil || cfg.DeadLetterConfig == nil {
		return ""
	}
	return cfg.DeadLetterConfig.TargetArn
}

// requeue publishes the event's next generation, due after delay, then
// acknowledges this one, and reports whether it did. If the publish fails
// the event runs again later as it was.
func (s *Service) requeue(ctx context.Context, l lease, env *envelope, delay time.Duration) bool {
	delay = s.scaled(delay)
	env.Gen++
	env.NotBefore = s.now().Add(delay).UnixMilli()
	if err := s.publishDirect(ctx, env); err != nil {
		if ctx.Err() == nil {
			s.log.Warn("requeue async event", "request_id", env.RequestID, "err", err)
			l.later(ctx, env, delay)
		}
		return false
	}
	l.ack(env)
	return true
}

// lease is one event's hold on the queue: a message of its own, or one
// event of a group-committed message (see group.go). The handlers end
// every event they finish with ack or later; an event they leave without
// either (the node is stopping) runs again.
type lease interface {
	// ack: the event is done (its follow-ups are durable).
	ack(env *envelope)
	// later: run the event again, as it is, after d.
	later(ctx context.Context, env *envelope, d time.Duration)
	// inProgress: the event is still running.
	inProgress()
}

// msgLease is an event that is a message of its own.
type msgLease struct {
	s   *Service
	msg jetstream.Msg
}

// ack acknowledges the message and waits for the backbone to confirm. A
// lost acknowledgement means the event runs again (at-least-once).
func (m msgLease) ack(env *envelope) {
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	if err := m.msg.DoubleAck(ctx); err != nil {
		m.s.log.Warn("ack async event", "request_id", env.RequestID, "err", err)
	}
}

func (m msgLease) later(_ context.Context, _ *envelope, d time.Duration) { _ = m.msg.NakWithDelay(d) }

func (m msgLease) inProgress() { _ = m.msg.InProgress() }
