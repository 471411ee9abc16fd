package sns

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
)

// MaxMessageBytes is the largest message (with its attributes) SNS
// accepts: 256 KiB.
const MaxMessageBytes = 262_144

const (
	maxAttributes = 10
	maxBatch      = 10
)

var (
	batchIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`) })
	attrNamePat    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,256}$`) })
	idPattern      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\x21-\x7e]{1,128}$`) })
)

// message is one accepted message as the stream keeps it.
type message struct {
	Account   string             `json:"account"`
	Topic     string             `json:"topic"`
	ID        string             `json:"id,omitempty"` // standard topics; FIFO ids derive from the sequence
	Message   string             `json:"message"`
	Subject   string             `json:"subject,omitempty"`
	Structure string             `json:"structure,omitempty"`
	Attrs     map[string]msgAttr `json:"attrs,omitempty"`
	GroupID   string             `json:"group,omitempty"`
	DedupID   string             `json:"dedup,omitempty"`
	FIFO      bool               `json:"fifo,omitempty"`
	Timestamp int64              `json:"ts"` // Unix ms
}

// fifoMessageID is a FIFO message's id: derived from its stream sequence,
// so a duplicate (whose PubAck names the original's) answers the original's.
func fifoMessageID(topicArn string, seq uint64) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(topicArn+"#"+strconv.FormatUint(seq, 10))).String()
}

// sequenceNumber is a FIFO message's SequenceNumber (20 digits, as AWS's).
func sequenceNumber(seq uint64) string { return fmt.Sprintf("1%019d", seq) }

// entry is one message to publish, before validation.
type entry struct {
	ID        string // batch entry id
	Message   string
	Subject   string
	Structure string
	Attrs     map[string]msgAttr
	GroupID   string
	DedupID   string
}

// checkAttrs validates message attributes as SNS does.
func checkAttrs(attrs map[string]msgAttr) *Error {
	if len(attrs) > maxAttributes {
		return invalidParameterValue("Number of message attributes [%d] exceeds the allowed maximum [%d].", len(attrs), maxAttributes)
	}
	for name, a := range attrs {
		if !attrNamePat().MatchString(name) || strings.HasPrefix(strings.ToLower(name), "aws.") || strings.HasPrefix(strings.ToLower(name), "amazon.") ||
			strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
			return invalidParameterValue("The message attribute name '%s' is invalid.", name)
		}
		base, custom, _ := strings.Cut(a.Type, ".")
		if len(a.Type) > 256 || custom != "" && strings.TrimSpace(custom) == "" {
			return invalidParameterValue("The message attribute '%s' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.", name)
		}
		switch base {
		case "String":
			if a.String == "" {
				return invalidParameterValue("The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", name, a.Type)
			}
			if a.Type == "String.Array" {
				var arr []any
				if json.Unmarshal([]byte(a.String), &arr) != nil {
					return invalidParameterValue("The message attribute '%s' with type 'String.Array' must use field 'StringValue' with a JSON array value.", name)
				}
			}
		case "Number":
			if a.String == "" {
				return invalidParameterValue("The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", name, a.Type)
			}
			if _, err := strconv.ParseFloat(a.String, 64); err != nil {
				return invalidParameterValue("Could not cast message attribute '%s' value to number.", name)
			}
		case "Binary":
			if len(a.Binary) == 0 {
				return invalidParameterValue("The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", name, a.Type)
			}
		default:
			return invalidParameterValue("The message attribute '%s' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.", name)
		}
	}
	return nil
}

// size is a message's size as SNS counts it: body plus attribute names,
// types and values.
func (e *entry) size() int {
	n := len(e.Message)
	for k, a := range e.Attrs {
		n += len(k) + len(a.Type) + len(a.String) + len(a.Binary)
	}
	return n
}

// check validates e for t and builds its stream message.
func (s *Service) check(t *topic, e *entry) (*message, *Error) {
	if e.Message == "" {
		return nil, invalidParameter("Empty message")
	}
	if e.size() > MaxMessageBytes {
		return nil, invalidParameter("Message too long")
	}
	if len(e.Subject) > 100 || strings.IndexFunc(e.Subject, unicode.IsControl) >= 0 {
		return nil, invalidParameter("Subject")
	}
	switch e.Structure {
	case "":
	case "json":
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(e.Message), &obj); err != nil || obj == nil {
			return nil, invalidParameter("Message Structure - JSON message body failed to parse")
		}
		var def string
		if raw, ok := obj["default"]; !ok || json.Unmarshal(raw, &def) != nil {
			return nil, invalidParameter("Message Structure - No default entry in JSON message body")
		}
	default:
		return nil, invalidParameter("MessageStructure")
	}
	if err := checkAttrs(e.Attrs); err != nil {
		return nil, err
	}
	if e.GroupID != "" && !idPattern().MatchString(e.GroupID) {
		return nil, invalidParameter("MessageGroupId")
	}
	if e.DedupID != "" && !idPattern().MatchString(e.DedupID) {
		return nil, invalidParameter("MessageDeduplicationId")
	}
	m := &message{
		Account: t.Account, Topic: t.Name, Message: e.Message, Subject: e.Subject, Structure: e.Structure,
		Attrs: e.Attrs, GroupID: e.GroupID, Timestamp: s.now().UnixMilli(),
	}
	if t.fifo() {
		if e.GroupID == "" {
			return nil, invalidParameter("The MessageGroupId parameter is required for FIFO topics")
		}
		m.FIFO = true
		m.DedupID = e.DedupID
		if m.DedupID == "" {
			if t.Attrs["ContentBasedDeduplication"] != "true" {
				return nil, invalidParameter("The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
			}
			sum := sha256.Sum256([]byte(e.Message))
			m.DedupID = hex.EncodeToString(sum[:])
		}
	} else {
		if e.DedupID != "" {
			return nil, invalidParameter("MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type")
		}
		m.ID = uuid.NewString()
	}
	return m, nil
}

// msgID is the Nats-Msg-Id m is stored under: a FIFO message's
// deduplication key (per topic, or per group with FifoThroughputScope
// MessageGroup), a standard message's id.
func msgID(t *topic, m *message) string {
	if !m.FIFO {
		return "pub/" + m.ID
	}
	scope := ""
	if t.Attrs["FifoThroughputScope"] == "MessageGroup" {
		scope = m.GroupID
	}
	sum := sha256.Sum256([]byte(t.Account + "\x00" + t.Name + "\x00" + strconv.FormatInt(t.Created, 10) + "\x00" + scope + "\x00" + m.DedupID))
	return "fifo/" + hex.EncodeToString(sum[:])
}

// published is what a stored message answers.
type published struct{ MessageID, SequenceNumber string }

// store writes ms durably (pipelined publishes, awaited together) and
// answers each once the backbone has it.
func (s *Service) store(ctx context.Context, t *topic, ms []*message) ([]published, []error) {
	out := make([]published, len(ms))
	errs := make([]error, len(ms))
	futs := make([]jetstream.PubAckFuture, len(ms))
	arn := s.topicArn(t.Account, t.Name)
	for i, m := range ms {
		data, err := json.Marshal(m)
		if err != nil {
			errs[i] = fmt.Errorf("encode message: %w", err)
			continue
		}
		nm := nats.NewMsg(subjectPub)
		nm.Data = data
		nm.Header.Set(jetstream.MsgIDHeader, msgID(t, m))
		futs[i], errs[i] = s.js.PublishMsgAsync(nm)
	}
	for i := range ms {
		f := futs[i]
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			if ms[i].FIFO {
				out[i] = published{MessageID: fifoMessageID(arn, ack.Sequence), SequenceNumber: sequenceNumber(ack.Sequence)}
			} else {
				out[i] = published{MessageID: ms[i].ID}
			}
			if !ack.Duplicate {
				s.counters.published.Add(1)
			}
		case err := <-f.Err():
			errs[i] = fmt.Errorf("store message: %w", err)
		case <-ctx.Done():
			errs[i] = ctx.Err()
		}
	}
	return out, errs
}

func (s *Service) publishTopic(r *http.Request, f url.Values) (*topic, error) {
	arn := f.Get("TopicArn")
	if arn == "" {
		arn = f.Get("TargetArn")
	}
	if arn == "" {
		if f.Get("PhoneNumber") != "" {
			return nil, invalidParameter("PhoneNumber Reason: Nimbus does not send SMS messages")
		}
		return nil, invalidParameter("TopicArn or TargetArn Reason: no value for required parameter")
	}
	if strings.Contains(arn, ":endpoint/") {
		return nil, invalidParameter("TargetArn Reason: Nimbus does not serve mobile push endpoints")
	}
	account, name, ok := s.parseTopicArn(arn)
	if !ok {
		return nil, s.badTopicArn(arn, "TopicArn", "Publish")
	}
	t, _, err := s.getTopic(r.Context(), account, name)
	return t, err
}

func (s *Service) publish(r *http.Request, f url.Values) (func(*xw), error) {
	t, err := s.publishTopic(r, f)
	if err != nil {
		return nil, err
	}
	attrs, perr := messageAttributes(f, "MessageAttributes")
	if perr != nil {
		return nil, perr
	}
	m, perr := s.check(t, &entry{
		Message: f.Get("Message"), Subject: f.Get("Subject"), Structure: f.Get("MessageStructure"), Attrs: attrs,
		GroupID: f.Get("MessageGroupId"), DedupID: f.Get("MessageDeduplicationId"),
	})
	if perr != nil {
		return nil, perr
	}
	out, errs := s.store(r.Context(), t, []*message{m})
	if errs[0] != nil {
		return nil, errs[0]
	}
	return func(x *xw) {
		x.elem("MessageId", out[0].MessageID)
		if out[0].SequenceNumber != "" {
			x.elem("SequenceNumber", out[0].SequenceNumber)
		}
	}, nil
}

func (s *Service) publishBatch(r *http.Request, f url.Values) (func(*xw), error) {
	t, err := s.publishTopic(r, f)
	if err != nil {
		return nil, err
	}
	const prefix = "PublishBatchRequestEntries.member"
	idx, perr := indices(f, prefix, false)
	if perr != nil {
		return nil, perr
	}
	switch {
	case len(idx) == 0:
		return nil, newErr(http.StatusBadRequest, "EmptyBatchRequest", "The batch request doesn't contain any entries")
	case len(idx) > maxBatch:
		return nil, newErr(http.StatusBadRequest, "TooManyEntriesInBatchRequest", "The batch request contains more entries than permissible.")
	}
	entries := make([]*entry, len(idx))
	seen := map[string]bool{}
	total := 0
	for i, n := range idx {
		base := prefix + "." + strconv.Itoa(n) + "."
		e := &entry{
			ID: f.Get(base + "Id"), Message: f.Get(base + "Message"), Subject: f.Get(base + "Subject"),
			Structure: f.Get(base + "MessageStructure"), GroupID: f.Get(base + "MessageGroupId"),
			DedupID: f.Get(base + "MessageDeduplicationId"),
		}
		if !batchIDPattern().MatchString(e.ID) {
			return nil, newErr(http.StatusBadRequest, "InvalidBatchEntryId", "The Id of a batch entry in a batch request doesn't abide by the specification.")
		}
		if seen[e.ID] {
			return nil, newErr(http.StatusBadRequest, "BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id.")
		}
		seen[e.ID] = true
		if e.Attrs, perr = messageAttributes(f, base+"MessageAttributes"); perr != nil {
			return nil, perr
		}
		total += e.size()
		entries[i] = e
	}
	if total > MaxMessageBytes {
		return nil, newErr(http.StatusBadRequest, "BatchRequestTooLong", "The length of all the messages put together is more than the limit.")
	}
	type failure struct {
		id, code, msg string
		sender        bool
	}
	var failed []failure
	var ok []*message
	var okIDs []string
	for _, e := range entries {
		m, perr := s.check(t, e)
		if perr != nil {
			failed = append(failed, failure{e.ID, perr.Code, perr.Message, perr.Status < 500})
			continue
		}
		ok = append(ok, m)
		okIDs = append(okIDs, e.ID)
	}
	out, errs := s.store(r.Context(), t, ok)
	type success struct{ id, msgID, seq string }
	var succeeded []success
	for i := range ok {
		if errs[i] != nil {
			s.log.Warn("sns batch entry not stored", "err", errs[i])
			fe := errFor(errs[i])
			failed = append(failed, failure{okIDs[i], fe.Code, fe.Message, false})
			continue
		}
		succeeded = append(succeeded, success{okIDs[i], out[i].MessageID, out[i].SequenceNumber})
	}
	return func(x *xw) {
		x.open("Successful")
		for _, sc := range succeeded {
			x.open("member")
			x.elem("Id", sc.id)
			x.elem("MessageId", sc.msgID)
			if sc.seq != "" {
				x.elem("SequenceNumber", sc.seq)
			}
			x.close("member")
		}
		x.close("Successful")
		x.open("Failed")
		for _, fl := range failed {
			x.open("member")
			x.elem("Id", fl.id)
			x.elem("Code", fl.code)
			x.elem("Message", fl.msg)
			x.elem("SenderFault", strconv.FormatBool(fl.sender))
			x.close("member")
		}
		x.close("Failed")
	}, nil
}

// Deliverer delivers to SNS topic ARNs (the router's "sns"): async
// destinations and dead letters, EventBridge targets. The payload is
// published as the message (with its Subject and attributes), answered
// once stored; a FIFO topic deduplicates repeated attempts by the
// delivery's DedupID.
func (s *Service) Deliverer() deliver.Deliverer {
	return deliver.Func(func(ctx context.Context, d *deliver.Delivery) error {
		account, name, ok := s.parseTopicArn(d.TargetArn)
		if !ok {
			return deliver.Undeliverable("%s is not a topic ARN of this node", d.TargetArn)
		}
		t, _, err := s.getTopic(ctx, account, name)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return deliver.Undeliverable("topic %s does not exist", d.TargetArn)
			}
			return err
		}
		e := &entry{Message: string(d.Body), Subject: d.Subject, GroupID: d.GroupID}
		if t.fifo() {
			sum := sha256.Sum256([]byte(d.DedupID))
			e.DedupID = hex.EncodeToString(sum[:])
			if e.GroupID == "" {
				e.GroupID = "default"
			}
		}
		if len(d.Attributes) > 0 {
			e.Attrs = map[string]msgAttr{}
			for k, a := range d.Attributes {
				e.Attrs[k] = msgAttr{Type: a.DataType, String: a.StringValue, Binary: a.BinaryValue}
			}
		}
		m, perr := s.check(t, e)
		if perr != nil {
			return fmt.Errorf("%w: %w", deliver.ErrUndeliverable, perr)
		}
		_, errs := s.store(ctx, t, []*message{m})
		return errs[0]
	})
}
