package sqs

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of a message in a queue's stream; its data is the body.
const (
	hdrID     = "Sqs-Id"     // MessageId (absent on FIFO: derived, see messageID)
	hdrSent   = "Sqs-Sent"   // SentTimestamp, unix ms
	hdrDue    = "Sqs-Due"    // unix ms before which it is delayed
	hdrGroup  = "Sqs-Group"  // MessageGroupId
	hdrDedup  = "Sqs-Dedup"  // MessageDeduplicationId
	hdrAttrs  = "Sqs-Attrs"  // message attributes, JSON
	hdrSys    = "Sqs-Sys"    // AWSTraceHeader
	hdrSender = "Sqs-Sender" // SenderId
	hdrSource = "Sqs-Source" // DeadLetterQueueSourceArn
)

// SendInput is one message to send.
type SendInput struct {
	Body            string
	Attributes      map[string]AttributeValue
	TraceHeader     string // the AWSTraceHeader system attribute, "" if none
	DelaySeconds    *int
	GroupID         string
	DeduplicationID string
	SenderID        string
}

// SendResult is what a send answers.
type SendResult struct {
	MessageID        string
	MD5OfBody        string
	MD5OfAttributes  string
	MD5OfSystemAttrs string
	SequenceNumber   string
}

// checkSend validates one message for q and returns the Nats-Msg-Id and
// the headers to publish it with.
func (s *Service) prepare(q *queue, in *SendInput) (*nats.Msg, string, error) {
	if in.Body == "" {
		return nil, "", errMissingParameter("The request must contain the parameter MessageBody.")
	}
	if !validText(in.Body) {
		return nil, "", newErr(http.StatusBadRequest, "InvalidMessageContents", "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
	}
	asize, err := checkMessageAttributes(in.Attributes)
	if err != nil {
		return nil, "", err
	}
	if limit := q.intAttr("MaximumMessageSize"); len(in.Body)+asize > limit {
		return nil, "", errInvalidParameter("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", limit)
	}
	m := nats.NewMsg(q.subject())
	if q.fifo() {
		m.Subject = q.groupSubject(in.GroupID)
	}
	m.Data = []byte(in.Body)
	now := s.now()
	m.Header.Set(hdrSent, strconv.FormatInt(now.UnixMilli(), 10))
	if in.SenderID != "" {
		m.Header.Set(hdrSender, in.SenderID)
	}
	if len(in.Attributes) > 0 {
		b, err := json.Marshal(in.Attributes)
		if err != nil {
			return nil, "", fmt.Errorf("encode attributes: %w", err)
		}
		m.Header.Set(hdrAttrs, string(b))
	}
	if in.TraceHeader != "" {
		m.Header.Set(hdrSys, in.TraceHeader)
	}
	delay := q.intAttr("DelaySeconds")
	if in.DelaySeconds != nil {
		if q.fifo() {
			return nil, "", errInvalidParameter("Value %d for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.", *in.DelaySeconds)
		}
		if *in.DelaySeconds < 0 || *in.DelaySeconds > maxDelay {
			return nil, "", errInvalidParameter("Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.", *in.DelaySeconds)
		}
		delay = *in.DelaySeconds
	}
	if delay > 0 {
		m.Header.Set(hdrDue, strconv.FormatInt(now.Add(time.Duration(delay)*time.Second).UnixMilli(), 10))
	}
	if !q.fifo() {
		if in.DeduplicationID != "" {
			return nil, "", errInvalidParameter("The request include parameter MessageDeduplicationId that is not valid for this queue type.")
		}
		if in.GroupID != "" {
			m.Header.Set(hdrGroup, in.GroupID)
		}
		id := uuid.NewString()
		m.Header.Set(hdrID, id)
		return m, id, nil
	}
	if in.GroupID == "" {
		return nil, "", errMissingParameter("The request must contain the parameter MessageGroupId.")
	}
	if !dedupIDRE.MatchString(in.GroupID) {
		return nil, "", errInvalidParameter("Value %s for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.", in.GroupID)
	}
	dedup := in.DeduplicationID
	if dedup == "" {
		if q.Attrs["ContentBasedDeduplication"] != "true" {
			return nil, "", errInvalidParameter("The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
		}
		sum := sha256.Sum256([]byte(in.Body))
		dedup = hex.EncodeToString(sum[:])
	} else if !dedupIDRE.MatchString(dedup) {
		return nil, "", errInvalidParameter("Value %s for parameter MessageDeduplicationId is invalid. Reason: MessageDeduplicationId can only include alphanumeric and punctuation characters. 1 to 128 in length.", dedup)
	}
	m.Header.Set(hdrGroup, in.GroupID)
	m.Header.Set(hdrDedup, dedup)
	key := "d:" + dedup
	if q.Attrs["DeduplicationScope"] == "messageGroup" {
		key = "g:" + in.GroupID + ":" + dedup
	}
	m.Header.Set(jetstream.MsgIDHeader, key)
	return m, key, nil
}

// fifoMessageID is a FIFO message's MessageId: derived from its
// deduplication key and stream sequence, so a duplicate send (whose
// PubAck names the original's sequence) answers the original's id even
// after the original was deleted.
func fifoMessageID(q *queue, key string, seq uint64) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(q.ID+"\x00"+key+"\x00"+strconv.FormatUint(seq, 10))).String()
}

// Send sends messages to a queue; each answer is durable (the stream's
// PubAck, written with SyncAlways) before it is returned. results[i] or
// errs[i] is set for each input.
func (s *Service) Send(ctx context.Context, account, name string, in []*SendInput) ([]*SendResult, []error, error) {
	q, err := s.cached(ctx, account, name)
	if err != nil {
		return nil, nil, err
	}
	results := make([]*SendResult, len(in))
	errs := make([]error, len(in))
	type pending struct {
		i   int
		key string
		fut jetstream.PubAckFuture
	}
	var waits []pending
	var group []*nats.Msg
	var groupIdx []int
	var groupKeys []string
	for i, m := range in {
		msg, key, err := s.prepare(q, m)
		if err != nil {
			errs[i] = err
			continue
		}
		if !q.fifo() && groupCommit {
			group = append(group, msg)
			groupIdx = append(groupIdx, i)
			groupKeys = append(groupKeys, key)
			continue
		}
		fut, err := s.js.PublishMsgAsync(msg)
		if err != nil {
			errs[i] = fmt.Errorf("publish message: %w", err)
			continue
		}
		waits = append(waits, pending{i, key, fut})
	}
	if len(group) > 0 {
		// One request's messages are stored together (or not at all)
		// in a commit shared with concurrent sends.
		var err error
		switch {
		case len(in) > 1:
			err = s.committer(q).Do(ctx, group)
		case s.intake.claim(q.streamName()):
			// No other single send to this queue under way on this node:
			// straight to its stream (an SNS fan-out's sends to many
			// queues go side by side, intake.go).
			_, err = s.js.PublishMsg(ctx, group[0])
			s.intake.release(q.streamName())
		default:
			err = s.intake.group.Do(ctx, group) // one pack for many (intake.go)
		}
		for j, i := range groupIdx {
			if err != nil {
				errs[i] = err
				continue
			}
			results[i] = s.sendResult(q, in[i], groupKeys[j], 0)
		}
	}
	for _, w := range waits {
		select {
		case ack := <-w.fut.Ok():
			results[w.i] = s.sendResult(q, in[w.i], w.key, ack.Sequence)
		case err := <-w.fut.Err():
			errs[w.i] = fmt.Errorf("publish message: %w", err)
		case <-ctx.Done():
			errs[w.i] = ctx.Err()
		}
	}
	var sent uint64
	for i, r := range results {
		if r != nil {
			sent++
		} else if errors.Is(errs[i], nats.ErrNoResponders) || errors.Is(errs[i], jetstream.ErrNoStreamResponse) {
			// The queue was deleted (on another node) since its record
			// was cached.
			s.uncache(account, name)
			return nil, nil, errQueueDoesNotExist()
		}
	}
	s.countersOf(q.Account, q.Name).sent.Add(sent)
	return results, errs, nil
}

// sendResult is the answer to a stored message: key is its MessageId
// (standard) or deduplication key (FIFO, stored at sequence seq).
func (s *Service) sendResult(q *queue, in *SendInput, key string, seq uint64) *SendResult {
	r := &SendResult{MD5OfBody: md5Hex([]byte(in.Body)), MD5OfAttributes: md5OfAttributes(in.Attributes), MessageID: key}
	if in.TraceHeader != "" {
		r.MD5OfSystemAttrs = md5OfAttributes(map[string]AttributeValue{"AWSTraceHeader": {DataType: "String", StringValue: &in.TraceHeader}})
	}
	if q.fifo() {
		r.MessageID = fifoMessageID(q, key, seq)
		r.SequenceNumber = fmt.Sprintf("%020d", seq)
	}
	return r
}

// ReceiveInput is a ReceiveMessage request.
type ReceiveInput struct {
	Max        int
	Wait       time.Duration
	Visibility *int
}

// Received is a message as a receive answers it.
type Received struct {
	MessageID     string
	ReceiptHandle string
	Body          string
	MD5OfBody     string
	Attributes    map[string]AttributeValue
	MD5OfAttrs    string
	System        map[string]string // every system attribute; the API selects
}

// Receive takes up to in.Max visible messages, waiting up to in.Wait for
// the first.
func (s *Service) Receive(ctx context.Context, account, name string, in ReceiveInput) ([]*Received, error) {
	q, err := s.cached(ctx, account, name)
	if err != nil {
		return nil, err
	}
	out, err := s.receive(ctx, q, in)
	if err == nil {
		n := s.countersOf(q.Account, q.Name)
		n.received.Add(uint64(len(out)))
		if len(out) == 0 {
			n.emptyReceives.Add(1)
		}
	}
	return out, err
}

func (s *Service) receive(ctx context.Context, q *queue, in ReceiveInput) ([]*Received, error) {
	c, err := s.consumer(ctx, q)
	if err != nil {
		return nil, err
	}
	if q.fifo() {
		return s.receiveFIFO(ctx, q, c, in)
	}
	s.intake.awaitMoved(ctx, q.streamName())
	deadline := s.now().Add(in.Wait)
	var out []*Received
	for len(out) == 0 {
		msgs, err := s.fetch(ctx, c, in.Max, time.Until(deadline))
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			r, err := s.take(ctx, q, m, in.Visibility)
			if err != nil {
				s.log.Warn("receive message", "queue", q.Name, "err", err)
				continue
			}
			if r != nil {
				out = append(out, r)
			}
		}
		if len(out) == 0 && (len(msgs) == 0 || !s.now().Before(deadline)) {
			break
		}
	}
	return out, nil
}

// waitTick waits a little (a FIFO queue whose fetched messages were all
// held back) and reports whether time remains before deadline.
func (s *Service) waitTick(ctx context.Context, deadline time.Time) bool {
	if !s.now().Before(deadline) {
		return false
	}
	t := time.NewTimer(min(100*time.Millisecond, time.Until(deadline)))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// fetch pulls up to n messages, waiting up to wait for the first.
func (s *Service) fetch(ctx context.Context, c jetstream.Consumer, n int, wait time.Duration) ([]jetstream.Msg, error) {
	drain := func(b jetstream.MessageBatch) []jetstream.Msg {
		var out []jetstream.Msg
		for m := range b.Messages() {
			out = append(out, m)
		}
		return out
	}
	b, err := c.FetchNoWait(n)
	if err != nil {
		return nil, fmt.Errorf("fetch messages: %w", err)
	}
	msgs := drain(b)
	if len(msgs) > 0 || wait < 10*time.Millisecond {
		return msgs, nil
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	b, err = c.Fetch(1, jetstream.FetchContext(wctx))
	if err != nil {
		return nil, fmt.Errorf("fetch messages: %w", err)
	}
	msgs = drain(b)
	if len(msgs) == 0 || n == 1 {
		return msgs, nil
	}
	if b, err = c.FetchNoWait(n - 1); err == nil {
		msgs = append(msgs, drain(b)...)
	}
	return msgs, nil
}

// take turns a delivered message into a received one, or handles it and
// answers nil: still delayed (naked until due) or past maxReceiveCount
// (moved to the dead-letter queue).
func (s *Service) take(ctx context.Context, q *queue, m jetstream.Msg, visibility *int) (*Received, error) {
	meta, err := m.Metadata()
	if err != nil {
		return nil, fmt.Errorf("message metadata: %w", err)
	}
	h := m.Headers()
	count := int(meta.NumDelivered) //nolint:gosec // delivery counts are small
	if q.fifo() && count > 1 {
		count -= s.heldCount(ctx, q, meta.Sequence.Stream) // holds were not receives (fifo.go)
	}
	if due, _ := strconv.ParseInt(h.Get(hdrDue), 10, 64); due > 0 {
		if wait := time.UnixMilli(due).Sub(s.now()); wait > 0 {
			return nil, m.NakWithDelay(wait)
		}
		count-- // the delivery that found it delayed was not a receive
	}
	if rp, ok := q.redrive(); ok && count > rp.MaxReceiveCount {
		return nil, s.moveToDLQ(ctx, q, m, meta, rp)
	}
	v := q.intAttr("VisibilityTimeout")
	if visibility != nil {
		v = *visibility
	}
	if v == 0 {
		if err := m.Nak(); err != nil {
			return nil, err
		}
	} else if time.Duration(v)*time.Second != ackWait(q.intAttr("VisibilityTimeout")) {
		if err := m.NakWithDelay(time.Duration(v) * time.Second); err != nil {
			return nil, err
		}
	}
	r := &Received{
		Body:          string(m.Data()),
		MD5OfBody:     md5Hex(m.Data()),
		ReceiptHandle: receiptHandle(q, m.Reply()),
		System: map[string]string{
			"SentTimestamp":           h.Get(hdrSent),
			"ApproximateReceiveCount": strconv.Itoa(count),
			"SenderId":                h.Get(hdrSender),
		},
	}
	r.MessageID = h.Get(hdrID)
	if q.fifo() {
		r.System["MessageGroupId"] = h.Get(hdrGroup)
		r.System["MessageDeduplicationId"] = h.Get(hdrDedup)
		r.System["SequenceNumber"] = fmt.Sprintf("%020d", meta.Sequence.Stream)
		if r.MessageID == "" {
			r.MessageID = fifoMessageID(q, h.Get(jetstream.MsgIDHeader), meta.Sequence.Stream)
		}
	} else if g := h.Get(hdrGroup); g != "" {
		r.System["MessageGroupId"] = g
	}
	if t := h.Get(hdrSys); t != "" {
		r.System["AWSTraceHeader"] = t
	}
	if src := h.Get(hdrSource); src != "" {
		r.System["DeadLetterQueueSourceArn"] = src
	}
	if a := h.Get(hdrAttrs); a != "" {
		if err := json.Unmarshal([]byte(a), &r.Attributes); err != nil {
			return nil, fmt.Errorf("decode message attributes: %w", err)
		}
		r.MD5OfAttrs = md5OfAttributes(r.Attributes)
	}
	return r, nil
}

// moveToDLQ publishes m to the dead-letter queue, then acknowledges it
// here: at least once in the DLQ (the publish is deduplicated by the
// source message's sequence if the ack is lost and it moves again).
func (s *Service) moveToDLQ(ctx context.Context, q *queue, m jetstream.Msg, meta *jetstream.MsgMetadata, rp redrive) error {
	acct, name, _ := parseARN(rp.DeadLetterTargetArn)
	dlq, _, err := s.get(ctx, acct, name)
	if err != nil {
		// The DLQ is gone: AWS keeps the message in the source queue.
		return m.NakWithDelay(ackWait(q.intAttr("VisibilityTimeout")))
	}
	out := nats.NewMsg(dlq.subject())
	if dlq.fifo() {
		out.Subject = dlq.groupSubject(m.Headers().Get(hdrGroup))
	}
	out.Data = m.Data()
	for k, v := range m.Headers() {
		if k == jetstream.MsgIDHeader || k == hdrDue || strings.HasPrefix(k, "Nats-") {
			continue
		}
		out.Header[k] = v
	}
	if out.Header.Get(hdrID) == "" {
		out.Header.Set(hdrID, fifoMessageID(q, m.Headers().Get(jetstream.MsgIDHeader), meta.Sequence.Stream))
	}
	out.Header.Set(hdrSource, s.arn(q.Account, q.Name))
	out.Header.Set(jetstream.MsgIDHeader, "dlq:"+q.ID+":"+strconv.FormatUint(meta.Sequence.Stream, 10))
	if _, err := s.js.PublishMsg(ctx, out); err != nil {
		return fmt.Errorf("move message to dead-letter queue: %w", err)
	}
	if err := m.DoubleAck(ctx); err != nil {
		return err
	}
	s.trim.later(q)
	return nil
}

// receiptHandle encodes the queue's stream and the delivery's ack subject.
func receiptHandle(q *queue, reply string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(q.streamName() + " " + reply))
}

// ackSubject decodes a receipt handle of q into the ack subject of its
// delivery, refusing any handle that does not name a delivery of q's
// consumer (a forged handle must not publish anywhere else).
func ackSubject(q *queue, handle string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(handle)
	if err != nil || len(handle) > 1024 {
		return "", errReceiptHandle(handle)
	}
	stream, reply, ok := strings.Cut(string(b), " ")
	if !ok || stream != q.streamName() || !strings.HasPrefix(reply, "$JS.ACK.") {
		return "", errReceiptHandle(handle)
	}
	toks := strings.Split(reply, ".")
	// $JS.ACK.<stream>.<consumer>.<5 numbers> or
	// $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<6+ tokens>.
	si := 2
	if len(toks) >= 12 {
		si = 4
	} else if len(toks) != 9 {
		return "", errReceiptHandle(handle)
	}
	if toks[si] != stream || toks[si+1] != consumerName {
		return "", errReceiptHandle(handle)
	}
	for _, t := range toks[si+2:] {
		if t == "" || strings.ContainsAny(t, " *>\t\r\n") {
			return "", errReceiptHandle(handle)
		}
	}
	for _, t := range toks[si+2 : si+7] {
		if _, err := strconv.ParseUint(t, 10, 64); err != nil {
			return "", errReceiptHandle(handle)
		}
	}
	return reply, nil
}

// Delete deletes the message a receipt handle names. A handle of a
// message already deleted succeeds, as SQS's does.
func (s *Service) Delete(ctx context.Context, account, name, handle string) error {
	q, err := s.cached(ctx, account, name)
	if err != nil {
		return err
	}
	return s.deleteIn(ctx, q, handle)
}

func (s *Service) deleteIn(ctx context.Context, q *queue, handle string) error {
	subj, err := ackSubject(q, handle)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := s.nc.RequestWithContext(ctx, subj, []byte("+ACK")); err != nil && !errors.Is(err, nats.ErrNoResponders) {
		return fmt.Errorf("acknowledge message: %w", err)
	}
	s.countersOf(q.Account, q.Name).deleted.Add(1)
	s.trim.later(q)
	return nil
}

// ChangeVisibility makes the message of a receipt handle visible again
// after seconds (0: now).
func (s *Service) ChangeVisibility(ctx context.Context, account, name, handle string, seconds int) error {
	q, err := s.cached(ctx, account, name)
	if err != nil {
		return err
	}
	return s.changeVisibilityIn(q, handle, seconds)
}

func (s *Service) changeVisibilityIn(q *queue, handle string, seconds int) error {
	subj, err := ackSubject(q, handle)
	if err != nil {
		return err
	}
	if seconds < 0 || seconds > maxVisibility {
		return errInvalidParameter("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.", seconds)
	}
	body := []byte("-NAK")
	if seconds > 0 {
		body = fmt.Appendf(nil, `-NAK {"delay": %d}`, time.Duration(seconds)*time.Second)
	}
	if err := s.nc.Publish(subj, body); err != nil {
		return fmt.Errorf("change visibility: %w", err)
	}
	if err := s.nc.Flush(); err != nil {
		return fmt.Errorf("change visibility: %w", err)
	}
	return nil
}
