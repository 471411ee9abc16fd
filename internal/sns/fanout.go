package sns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/eventpattern"
)

const (
	subjectConfirm = "nimbus.sns.confirm"
	// fanoutWorkers bounds the messages of standard topics one node fans
	// out at once (each to all its subscriptions in parallel).
	fanoutWorkers = 32
	// confirmAttempts is how often a SubscriptionConfirmation is sent.
	confirmAttempts = 4
)

// retryMsg is one delivery to one subscription not yet done.
type retryMsg struct {
	Msg       message `json:"msg"`
	SubID     string  `json:"sub"`
	MsgID     string  `json:"msgId"`
	Seq       string  `json:"seq,omitempty"`
	Attempts  int     `json:"attempts"` // made so far
	NotBefore int64   `json:"notBefore"`
}

// confirmJob sends a subscription's SubscriptionConfirmation, or, when
// Unsubscribed, the UnsubscribeConfirmation of its tombstone.
type confirmJob struct {
	Account      string `json:"account"`
	Topic        string `json:"topic"`
	ID           string `json:"id"`
	Unsubscribed bool   `json:"unsubscribed,omitempty"`
}

// publishJob writes body durably under msgID.
func (s *Service) publishJob(ctx context.Context, subject string, body any, msgID string) error {
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode %s: %w", subject, err)
	}
	m := nats.NewMsg(subject)
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	if _, err := s.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	return nil
}

// Run fans out published messages until ctx ends: every node pulls from
// the one durable consumer, so each message is fanned out by one node.
func (s *Service) Run(ctx context.Context) error {
	s.runMu.Lock()
	if s.running {
		s.runMu.Unlock()
		return errors.New("sns service already running")
	}
	s.running = true
	s.runMu.Unlock()
	var wg sync.WaitGroup
	slots := make(chan struct{}, fanoutWorkers)
	cc, err := s.cons.Consume(func(m jetstream.Msg) {
		// FIFO topics' messages are fanned out in order, one at a time;
		// the others in parallel.
		if m.Subject() == subjectPub && strings.Contains(string(m.Data()), `"fifo":true`) {
			s.handle(ctx, m)
			return
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-slots }()
			s.handle(ctx, m)
		})
	}, jetstream.PullMaxMessages(64))
	if err != nil {
		return fmt.Errorf("consume %s: %w", StreamName, err)
	}
	<-ctx.Done()
	cc.Drain()
	<-cc.Closed()
	wg.Wait()
	return nil
}

func (s *Service) handle(ctx context.Context, m jetstream.Msg) {
	switch m.Subject() {
	case subjectPub:
		var msg message
		if err := json.Unmarshal(m.Data(), &msg); err != nil {
			s.log.Error("drop undecodable sns message", "err", err)
			_ = m.Term()
			return
		}
		meta, err := m.Metadata()
		if err != nil {
			_ = m.Term()
			return
		}
		if !s.fanOut(ctx, &msg, meta.Sequence.Stream) {
			_ = m.NakWithDelay(time.Second)
			return
		}
		_ = m.Ack()
	case subjectRetry:
		var rm retryMsg
		if err := json.Unmarshal(m.Data(), &rm); err != nil {
			_ = m.Term()
			return
		}
		if wait := time.UnixMilli(rm.NotBefore).Sub(s.now()); wait > 0 {
			_ = m.NakWithDelay(wait)
			return
		}
		sub, _, err := s.getSub(ctx, rm.Msg.Account, rm.Msg.Topic, rm.SubID)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				_ = m.Ack() // unsubscribed meanwhile
			} else {
				_ = m.NakWithDelay(time.Second)
			}
			return
		}
		t, _, _ := s.getTopic(ctx, rm.Msg.Account, rm.Msg.Topic)
		d := s.newDelivery(&rm.Msg, sub, rm.MsgID, rm.Seq)
		if !s.attempt(ctx, t, d, rm.Attempts) {
			_ = m.NakWithDelay(time.Second)
			return
		}
		_ = m.Ack()
	case subjectConfirm:
		var job confirmJob
		if err := json.Unmarshal(m.Data(), &job); err != nil {
			_ = m.Term()
			return
		}
		meta, _ := m.Metadata()
		if err := s.sendConfirmation(ctx, &job); err != nil {
			if meta != nil && meta.NumDelivered < confirmAttempts && !errors.Is(err, deliver.ErrUndeliverable) {
				_ = m.NakWithDelay(s.scaled(20 * time.Second))
				return
			}
			s.log.Warn("subscription confirmation not delivered", "topic", job.Topic, "err", err)
		}
		_ = m.Ack()
	default:
		_ = m.Term()
	}
}

func (s *Service) newDelivery(msg *message, sub *subscription, msgID, seq string) *delivery {
	return &delivery{
		msg: msg, sub: sub, msgID: msgID, seq: seq,
		topicArn: s.topicArn(msg.Account, msg.Topic), subArn: s.subArn(sub),
	}
}

// fanOut matches msg against its topic's subscriptions and makes a first
// delivery attempt to each match, in parallel. It reports false when a
// delivery's retry could not be recorded (the message is redelivered;
// deliveries already made are deduplicated downstream by their ids).
func (s *Service) fanOut(ctx context.Context, msg *message, seq uint64) bool {
	t, _, err := s.getTopic(ctx, msg.Account, msg.Topic)
	if err != nil {
		var e *Error
		return errors.As(err, &e) // topic deleted: nothing to deliver to
	}
	subs, err := s.subscriptions(ctx, msg.Account, msg.Topic)
	if err != nil {
		s.log.Warn("read subscriptions", "topic", msg.Topic, "err", err)
		return false
	}
	arn := s.topicArn(msg.Account, msg.Topic)
	msgID, seqNum := msg.ID, ""
	if msg.FIFO {
		msgID, seqNum = fifoMessageID(arn, seq), sequenceNumber(seq)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := true
	for _, sub := range subs {
		if !sub.Confirmed || !deliveredProtocols[sub.Protocol] {
			continue
		}
		if !s.matches(sub, msg) {
			s.counters.filtered.Add(1)
			continue
		}
		d := s.newDelivery(msg, sub, msgID, seqNum)
		wg.Go(func() {
			if !s.attempt(ctx, t, d, 0) {
				mu.Lock()
				ok = false
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ok
}

// matches applies a subscription's filter policy to a message.
func (s *Service) matches(sub *subscription, msg *message) bool {
	policy := sub.Attrs["FilterPolicy"]
	if policy == "" {
		return true
	}
	key := sub.Attrs["FilterPolicyScope"] + "\x00" + policy
	var p *eventpattern.Pattern
	if v, ok := s.filters.Load(key); ok {
		p = v.(*eventpattern.Pattern)
	} else {
		cp, perr := compiledFilter(sub.Attrs)
		if perr != nil {
			return false
		}
		p = cp
		s.filters.Store(key, p)
	}
	if sub.Attrs["FilterPolicyScope"] == "MessageBody" {
		ok, err := p.Match([]byte(bodyFor(msg, sub.Protocol)))
		return err == nil && ok
	}
	attrs := make([]eventpattern.Attribute, 0, len(msg.Attrs))
	for k, a := range msg.Attrs {
		attrs = append(attrs, eventpattern.Attribute{Name: k, Type: a.Type, Value: a.String})
	}
	ok, err := p.MatchAttributes(attrs)
	return err == nil && ok
}

// retryPolicy is an SNS delivery retry policy (healthyRetryPolicy).
type retryPolicy struct {
	NumRetries         int    `json:"numRetries"`
	NumNoDelayRetries  int    `json:"numNoDelayRetries"`
	NumMinDelayRetries int    `json:"numMinDelayRetries"`
	NumMaxDelayRetries int    `json:"numMaxDelayRetries"`
	MinDelayTarget     int    `json:"minDelayTarget"`
	MaxDelayTarget     int    `json:"maxDelayTarget"`
	BackoffFunction    string `json:"backoffFunction"`
}

// managedPolicy is SNS's fixed policy for AWS-managed endpoints (Lambda,
// SQS): 3 immediate retries, 2 at 1 s, 10 backing off to 20 s, then
// 100,000 at 20 s (about 23 days).
var managedPolicy = retryPolicy{NumRetries: 100_015, NumNoDelayRetries: 3, NumMinDelayRetries: 2,
	NumMaxDelayRetries: 100_000, MinDelayTarget: 1, MaxDelayTarget: 20, BackoffFunction: "exponential"}

// httpPolicy is the default for HTTP/S endpoints: 3 retries 20 s apart.
var httpPolicy = retryPolicy{NumRetries: 3, MinDelayTarget: 20, MaxDelayTarget: 20, BackoffFunction: "linear"}

// policyFor is the retry policy of a subscription: the managed one, or
// for HTTP/S the subscription's or topic's DeliveryPolicy over the default.
func policyFor(t *topic, sub *subscription) retryPolicy {
	if sub.Protocol != "http" && sub.Protocol != "https" {
		return managedPolicy
	}
	p := httpPolicy
	var subPol struct {
		HealthyRetryPolicy *retryPolicy `json:"healthyRetryPolicy"`
	}
	if json.Unmarshal([]byte(sub.Attrs["DeliveryPolicy"]), &subPol) == nil && subPol.HealthyRetryPolicy != nil {
		p = *subPol.HealthyRetryPolicy
	} else if t != nil {
		var topicPol struct {
			HTTP *struct {
				DefaultHealthyRetryPolicy *retryPolicy `json:"defaultHealthyRetryPolicy"`
			} `json:"http"`
		}
		if json.Unmarshal([]byte(t.Attrs["DeliveryPolicy"]), &topicPol) == nil && topicPol.HTTP != nil && topicPol.HTTP.DefaultHealthyRetryPolicy != nil {
			p = *topicPol.HTTP.DefaultHealthyRetryPolicy
		}
	}
	p.NumRetries = min(max(p.NumRetries, 0), 100)
	p.MinDelayTarget = min(max(p.MinDelayTarget, 1), 3600)
	p.MaxDelayTarget = min(max(p.MaxDelayTarget, p.MinDelayTarget), 3600)
	return p
}

// delay is the wait before retry n (1-based) under p.
func (p retryPolicy) delay(n int) time.Duration {
	minD, maxD := float64(p.MinDelayTarget), float64(p.MaxDelayTarget)
	backoff := p.NumRetries - p.NumNoDelayRetries - p.NumMinDelayRetries - p.NumMaxDelayRetries
	switch {
	case n <= p.NumNoDelayRetries:
		return 0
	case n <= p.NumNoDelayRetries+p.NumMinDelayRetries:
		return time.Duration(minD * float64(time.Second))
	case backoff > 0 && n <= p.NumNoDelayRetries+p.NumMinDelayRetries+backoff:
		i := float64(n-p.NumNoDelayRetries-p.NumMinDelayRetries) / float64(backoff)
		var sec float64
		switch p.BackoffFunction {
		case "exponential":
			sec = minD * math.Pow(maxD/minD, i)
		case "geometric":
			sec = minD + (maxD-minD)*i*i
		case "arithmetic":
			sec = minD + (maxD-minD)*math.Sqrt(i)
		default: // linear
			sec = minD + (maxD-minD)*i
		}
		return time.Duration(sec * float64(time.Second))
	default:
		return time.Duration(maxD * float64(time.Second))
	}
}

// attempt delivers d; made is the number of attempts already made. On a
// failure that may pass it retries at once (no-delay retries) or records
// the next attempt; past the policy, or for a failure that cannot pass,
// the message goes to the subscription's dead-letter queue. It reports
// false only when nothing could be recorded.
func (s *Service) attempt(ctx context.Context, t *topic, d *delivery, made int) bool {
	p := policyFor(t, d.sub)
	for {
		err := s.deliverOnce(ctx, t, d)
		made++
		if err == nil {
			s.counters.delivered.Add(1)
			return true
		}
		s.counters.failed.Add(1)
		if ctx.Err() != nil {
			return false
		}
		if errors.Is(err, deliver.ErrUndeliverable) || made > p.NumRetries {
			s.log.Warn("sns notification not delivered", "topic", d.msg.Topic, "protocol", d.sub.Protocol,
				"attempts", made, "err", err)
			s.deadLetter(ctx, t, d, err)
			return true
		}
		wait := s.scaled(p.delay(made))
		if wait > 0 {
			rm := &retryMsg{Msg: *d.msg, SubID: d.sub.ID, MsgID: d.msgID, Seq: d.seq, Attempts: made,
				NotBefore: s.now().Add(wait).UnixMilli()}
			id := fmt.Sprintf("retry/%s/%s/%d", d.msgID, d.sub.ID, made)
			if err := s.publishJob(ctx, subjectRetry, rm, id); err != nil {
				s.log.Warn("record sns retry", "err", err)
				return false
			}
			return true
		}
	}
}

// deliverOnce makes one delivery attempt of d.
func (s *Service) deliverOnce(ctx context.Context, t *topic, d *delivery) error {
	version := s.signatureVersion(t)
	raw := d.sub.Attrs["RawMessageDelivery"] == "true"
	switch d.sub.Protocol {
	case "sqs":
		del := &deliver.Delivery{TargetArn: d.sub.Endpoint, DedupID: "sns/" + d.msgID + "/" + d.sub.ID,
			// SNS sends as sns.amazonaws.com for the topic: the queue's
			// policy decides.
			Source: &deliver.Source{Service: "sns.amazonaws.com", Arn: d.topicArn, Account: s.account}}
		if strings.HasSuffix(d.sub.Endpoint, ".fifo") {
			del.GroupID = d.msg.GroupID
		}
		if raw {
			del.Body = []byte(bodyFor(d.msg, "sqs"))
			del.Attributes = sqsAttributes(d.msg.Attrs)
		} else {
			del.Body, _ = json.Marshal(s.notification(d, version))
		}
		return s.targets.Deliver(ctx, del)
	case "lambda":
		return s.targets.Deliver(ctx, &deliver.Delivery{
			TargetArn: d.sub.Endpoint, DedupID: "sns/" + d.msgID + "/" + d.sub.ID, Body: s.lambdaPayload(d, version),
			// SNS invokes the function as sns.amazonaws.com for the topic:
			// the function's resource policy decides.
			Source: &deliver.Source{Service: "sns.amazonaws.com", Arn: d.topicArn, Account: s.account},
		})
	case "http", "https":
		return s.postNotification(ctx, d, version, raw)
	}
	return deliver.Undeliverable("Nimbus does not deliver to protocol %s", d.sub.Protocol)
}

// sqsAttributes are a raw delivery's SQS message attributes (at most 10,
// as SQS allows; String.Array travels as String).
func sqsAttributes(attrs map[string]msgAttr) map[string]deliver.Attribute {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string]deliver.Attribute, len(attrs))
	for k, a := range attrs {
		typ := a.Type
		if typ == "String.Array" {
			typ = "String"
		}
		out[k] = deliver.Attribute{DataType: typ, StringValue: a.String, BinaryValue: a.Binary}
	}
	return out
}

// deadLetter sends d's message to the subscription's RedrivePolicy queue
// (the body as it would have been delivered, with ErrorCode and
// ErrorMessage attributes) or logs its loss.
func (s *Service) deadLetter(ctx context.Context, t *topic, d *delivery, cause error) {
	var rp struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	}
	if json.Unmarshal([]byte(d.sub.Attrs["RedrivePolicy"]), &rp) != nil || rp.DeadLetterTargetArn == "" {
		return
	}
	body := []byte(bodyFor(d.msg, d.sub.Protocol))
	if d.sub.Attrs["RawMessageDelivery"] != "true" {
		body, _ = json.Marshal(s.notification(d, s.signatureVersion(t)))
	}
	code := "EndpointUnavailable"
	if errors.Is(cause, deliver.ErrUndeliverable) {
		code = "EndpointNotFound"
	}
	del := &deliver.Delivery{
		TargetArn: rp.DeadLetterTargetArn, DedupID: "sns-dlq/" + d.msgID + "/" + d.sub.ID, Body: body,
		Attributes: deliver.Strings(map[string]string{"ErrorCode": code, "ErrorMessage": truncate(cause.Error(), 1024),
			"TopicArn": d.topicArn, "SubscriptionArn": d.subArn}),
		// SNS sends as sns.amazonaws.com for the topic: the dead-letter
		// queue's policy must allow it, as AWS requires.
		Source: &deliver.Source{Service: "sns.amazonaws.com", Arn: d.topicArn, Account: s.account},
	}
	if strings.HasSuffix(rp.DeadLetterTargetArn, ".fifo") {
		del.GroupID = d.msg.GroupID
	}
	err := deliver.Retry(ctx, s.targets, del, deliver.Policy{Attempts: 3, Backoff: func(int) time.Duration { return s.scaled(time.Second) }})
	if err != nil {
		s.log.Error("sns dead-letter delivery failed; message lost", "dlq", rp.DeadLetterTargetArn, "err", err)
		return
	}
	s.counters.deadLettered.Add(1)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
