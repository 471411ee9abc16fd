package sqs

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// TargetPrefix is the X-Amz-Target prefix of SQS's JSON protocol.
const TargetPrefix = "AmazonSQS."

// maxRequestBody bounds a request body: a batch of 1 MiB plus its JSON
// escaping and attributes.
const maxRequestBody = 8 << 20

// IsRequest recognises SQS's JSON-protocol requests (X-Amz-Target
// AmazonSQS.<Operation>).
func IsRequest(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
}

// Handler serves SQS's API for a node.
type Handler struct {
	s *Service
}

// NewHandler returns the HTTP handler of s.
func NewHandler(s *Service) *Handler { return &Handler{s: s} }

// ServeHTTP serves one JSON-protocol request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := awsapi.NewRequestID()
	w.Header().Set(awsapi.HeaderRequestID, reqID)
	if isQuery(r) {
		h.serveQuery(w, r, reqID)
		return
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
	if r.Method != http.MethodPost {
		h.writeErr(w, newErr(http.StatusBadRequest, "UnsupportedOperation", "SQS's JSON protocol takes POST requests."))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		h.writeErr(w, newErr(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "Request body too large."))
		return
	}
	c := &call{h: h, r: r, ctx: r.Context(), body: body, host: r.Host}
	out, err := c.dispatch(op)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(out)
}

func (h *Handler) writeErr(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		h.s.log.Error("sqs request failed", "err", err)
		e = errFor(err)
	}
	kind := "Sender"
	if !e.Sender() {
		kind = "Receiver"
	}
	w.Header().Set("x-amzn-query-error", e.Query+";"+kind)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + e.Code, "message": e.Msg})
}

// call is one request being served.
type call struct {
	h    *Handler
	r    *http.Request
	ctx  context.Context
	body []byte
	host string
}

func (c *call) decode(v any) error {
	if len(c.body) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return newErr(http.StatusBadRequest, "InvalidParameterValue", "The request body is not valid JSON for this operation: %s", jsonProblem(err))
	}
	return nil
}

func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "field " + te.Field + " has the wrong type"
	}
	return "malformed JSON"
}

// queueURL is a queue's URL as the API returns it.
func (c *call) queueURL(account, name string) string {
	host := c.host
	if host == "" {
		host = "localhost"
	}
	scheme := "http"
	if c.r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + host + "/" + account + "/" + name
}

// parseQueueURL reads the account and queue name from a queue URL (any
// host: clients reach a node by many names). A bare name is taken too,
// as SQS does.
func (c *call) parseQueueURL(u string) (string, string, error) {
	if u == "" {
		return "", "", errMissingParameter("The request must contain the parameter QueueUrl.")
	}
	path := u
	if strings.Contains(u, "://") {
		p, err := url.Parse(u)
		if err != nil {
			return "", "", errQueueDoesNotExist()
		}
		path = p.Path
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var account, name string
	switch len(parts) {
	case 1:
		account, name = c.h.s.account, parts[0]
	case 2:
		account, name = parts[0], parts[1]
	default:
		return "", "", errQueueDoesNotExist()
	}
	if account != c.h.s.account || !queueNameRE.MatchString(name) && !fifoNameRE.MatchString(name) {
		return "", "", errQueueDoesNotExist()
	}
	return account, name, nil
}

func (c *call) senderID() string {
	if id, ok := auth.FromContext(c.ctx); ok {
		return id.AccessKeyID
	}
	return c.h.s.account
}

type queueReq struct {
	QueueURL string `json:"QueueUrl"`
}

func (c *call) dispatch(op string) (any, error) {
	s := c.h.s
	switch op {
	case "CreateQueue":
		var in struct {
			QueueName  string
			Attributes map[string]string
			Tags       map[string]string `json:"tags"`
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		if in.QueueName == "" {
			return nil, errMissingParameter("The request must contain the parameter QueueName.")
		}
		q, err := s.CreateQueue(c.ctx, s.account, in.QueueName, in.Attributes, in.Tags)
		if err != nil {
			return nil, err
		}
		return map[string]string{"QueueUrl": c.queueURL(q.Account, q.Name)}, nil
	case "GetQueueUrl":
		var in struct {
			QueueName              string
			QueueOwnerAWSAccountID string `json:"QueueOwnerAWSAccountId"`
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		acct := s.account
		if in.QueueOwnerAWSAccountID != "" {
			acct = in.QueueOwnerAWSAccountID
		}
		if in.QueueName == "" {
			return nil, errMissingParameter("The request must contain the parameter QueueName.")
		}
		q, _, err := s.get(c.ctx, acct, in.QueueName)
		if err != nil {
			if isCode(err, "QueueDoesNotExist") {
				return nil, errQueueDoesNotExist()
			}
			return nil, err
		}
		return map[string]string{"QueueUrl": c.queueURL(q.Account, q.Name)}, nil
	case "ListQueues":
		return c.listQueues()
	case "DeleteQueue":
		return c.onQueue(func(acct, name string) (any, error) { return struct{}{}, s.DeleteQueue(c.ctx, acct, name) })
	case "GetQueueAttributes":
		var in struct {
			QueueURL       string `json:"QueueUrl"`
			AttributeNames []string
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		acct, name, err := c.parseQueueURL(in.QueueURL)
		if err != nil {
			return nil, err
		}
		attrs, err := s.Attributes(c.ctx, acct, name, in.AttributeNames)
		if err != nil {
			return nil, err
		}
		if len(attrs) == 0 {
			return struct{}{}, nil
		}
		return map[string]any{"Attributes": attrs}, nil
	case "SetQueueAttributes":
		var in struct {
			QueueURL   string `json:"QueueUrl"`
			Attributes map[string]string
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		acct, name, err := c.parseQueueURL(in.QueueURL)
		if err != nil {
			return nil, err
		}
		return struct{}{}, s.SetAttributes(c.ctx, acct, name, in.Attributes)
	case "PurgeQueue":
		return c.onQueue(func(acct, name string) (any, error) { return struct{}{}, s.Purge(c.ctx, acct, name) })
	case "ListQueueTags":
		return c.onQueue(func(acct, name string) (any, error) {
			tags, err := s.Tags(c.ctx, acct, name)
			if err != nil || len(tags) == 0 {
				return struct{}{}, err
			}
			return map[string]any{"Tags": tags}, nil
		})
	case "TagQueue", "UntagQueue":
		var in struct {
			QueueURL string `json:"QueueUrl"`
			Tags     map[string]string
			TagKeys  []string
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		acct, name, err := c.parseQueueURL(in.QueueURL)
		if err != nil {
			return nil, err
		}
		if op == "TagQueue" && len(in.Tags) == 0 {
			return nil, errMissingParameter("The request must contain the parameter Tags.")
		}
		return struct{}{}, s.Tag(c.ctx, acct, name, in.Tags, in.TagKeys)
	case "ListDeadLetterSourceQueues":
		return c.onQueue(func(acct, name string) (any, error) {
			urls, err := c.deadLetterSources(acct, name)
			return map[string]any{"queueUrls": urls}, err
		})
	case "SendMessage":
		return c.sendMessage()
	case "SendMessageBatch":
		return c.sendMessageBatch()
	case "ReceiveMessage":
		return c.receiveMessage()
	case "DeleteMessage":
		var in struct {
			QueueURL      string `json:"QueueUrl"`
			ReceiptHandle string
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		acct, name, err := c.parseQueueURL(in.QueueURL)
		if err != nil {
			return nil, err
		}
		if in.ReceiptHandle == "" {
			return nil, errMissingParameter("The request must contain the parameter ReceiptHandle.")
		}
		return struct{}{}, s.Delete(c.ctx, acct, name, in.ReceiptHandle)
	case "DeleteMessageBatch":
		return c.deleteMessageBatch()
	case "ChangeMessageVisibility":
		var in struct {
			QueueURL          string `json:"QueueUrl"`
			ReceiptHandle     string
			VisibilityTimeout *int
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		acct, name, err := c.parseQueueURL(in.QueueURL)
		if err != nil {
			return nil, err
		}
		if in.ReceiptHandle == "" {
			return nil, errMissingParameter("The request must contain the parameter ReceiptHandle.")
		}
		if in.VisibilityTimeout == nil {
			return nil, errMissingParameter("The request must contain the parameter VisibilityTimeout.")
		}
		return struct{}{}, s.ChangeVisibility(c.ctx, acct, name, in.ReceiptHandle, *in.VisibilityTimeout)
	case "ChangeMessageVisibilityBatch":
		return c.changeVisibilityBatch()
	case "AddPermission", "RemovePermission":
		return nil, errUnsupported("Nimbus does not implement %s: set the queue's Policy attribute instead (stored; evaluated once Nimbus evaluates IAM policies).", op)
	case "StartMessageMoveTask", "CancelMessageMoveTask", "ListMessageMoveTasks":
		return nil, errUnsupported("Nimbus does not implement %s (dead-letter queue redrive tasks) yet.", op)
	}
	return nil, newErr(http.StatusBadRequest, "UnknownOperationException", "Operation %q is not an SQS operation.", op)
}

func (c *call) onQueue(f func(acct, name string) (any, error)) (any, error) {
	var in queueReq
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	acct, name, err := c.parseQueueURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	return f(acct, name)
}

func (c *call) listQueues() (any, error) {
	var in struct {
		QueueNamePrefix string
		NextToken       string
		MaxResults      *int
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.MaxResults != nil && (*in.MaxResults < 1 || *in.MaxResults > 1000) {
		return nil, errInvalidParameter("Value %d for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000.", *in.MaxResults)
	}
	names, err := c.h.s.ListQueues(c.ctx, c.h.s.account, in.QueueNamePrefix)
	if err != nil {
		return nil, err
	}
	// Without MaxResults SQS answers at most 1,000 and no token; with it,
	// pages follow the name after NextToken.
	limit := 1000
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	start := 0
	if in.NextToken != "" {
		start, _ = slices.BinarySearch(names, in.NextToken)
		if start < len(names) && names[start] == in.NextToken {
			start++
		}
	}
	names = names[start:]
	out := map[string]any{}
	if len(names) > limit {
		names = names[:limit]
		if in.MaxResults != nil {
			out["NextToken"] = names[len(names)-1]
		}
	}
	urls := make([]string, len(names))
	for i, n := range names {
		urls[i] = c.queueURL(c.h.s.account, n)
	}
	if len(urls) > 0 {
		out["QueueUrls"] = urls
	}
	return out, nil
}

func (c *call) deadLetterSources(acct, name string) ([]string, error) {
	s := c.h.s
	if _, _, err := s.get(c.ctx, acct, name); err != nil {
		return nil, err
	}
	target := s.arn(acct, name)
	names, err := s.ListQueues(c.ctx, acct, "")
	if err != nil {
		return nil, err
	}
	urls := []string{}
	for _, n := range names {
		q, _, err := s.get(c.ctx, acct, n)
		if err != nil {
			continue
		}
		if rp, ok := q.redrive(); ok && rp.DeadLetterTargetArn == target {
			urls = append(urls, c.queueURL(acct, n))
		}
	}
	return urls, nil
}

// sendEntry is a message of SendMessage or of a SendMessageBatch entry.
type sendEntry struct {
	ID                      string `json:"Id"`
	MessageBody             string
	DelaySeconds            *int
	MessageAttributes       map[string]AttributeValue
	MessageSystemAttributes map[string]AttributeValue
	MessageDeduplicationID  string `json:"MessageDeduplicationId"`
	MessageGroupID          string `json:"MessageGroupId"`
}

func (c *call) input(e *sendEntry) (*SendInput, error) {
	in := &SendInput{Body: e.MessageBody, Attributes: e.MessageAttributes, DelaySeconds: e.DelaySeconds,
		GroupID: e.MessageGroupID, DeduplicationID: e.MessageDeduplicationID, SenderID: c.senderID()}
	for k, v := range e.MessageSystemAttributes {
		if k != "AWSTraceHeader" || v.DataType != "String" || v.StringValue == nil {
			return nil, errInvalidParameter("Message system attribute '%s' is invalid: only AWSTraceHeader, of type String, may be sent.", k)
		}
		in.TraceHeader = *v.StringValue
	}
	return in, nil
}

func sendResultJSON(r *SendResult) map[string]any {
	out := map[string]any{"MessageId": r.MessageID, "MD5OfMessageBody": r.MD5OfBody}
	if r.MD5OfAttributes != "" {
		out["MD5OfMessageAttributes"] = r.MD5OfAttributes
	}
	if r.MD5OfSystemAttrs != "" {
		out["MD5OfMessageSystemAttributes"] = r.MD5OfSystemAttrs
	}
	if r.SequenceNumber != "" {
		out["SequenceNumber"] = r.SequenceNumber
	}
	return out
}

func (c *call) sendMessage() (any, error) {
	var in struct {
		QueueURL string `json:"QueueUrl"`
		sendEntry
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	acct, name, err := c.parseQueueURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	msg, err := c.input(&in.sendEntry)
	if err != nil {
		return nil, err
	}
	res, errs, err := c.h.s.Send(c.ctx, acct, name, []*SendInput{msg})
	if err != nil {
		return nil, err
	}
	if errs[0] != nil {
		return nil, errs[0]
	}
	return sendResultJSON(res[0]), nil
}

// checkBatch validates a batch's entry ids as SQS does.
func checkBatch(ids []string) error {
	if len(ids) == 0 {
		return newErr(http.StatusBadRequest, "EmptyBatchRequest", "There should be at least one SendMessageBatchRequestEntry in the request.")
	}
	if len(ids) > maxBatchEntries {
		return newErr(http.StatusBadRequest, "TooManyEntriesInBatchRequest", "Maximum number of entries per request are %d. You have sent %d.", maxBatchEntries, len(ids))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !batchIDRE.MatchString(id) {
			return newErr(http.StatusBadRequest, "InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")
		}
		if seen[id] {
			return newErr(http.StatusBadRequest, "BatchEntryIdsNotDistinct", "Id %s repeated.", id)
		}
		seen[id] = true
	}
	return nil
}

type batchFailure struct {
	ID          string `json:"Id"`
	SenderFault bool   `json:"SenderFault"`
	Code        string `json:"Code"`
	Message     string `json:"Message"`
}

func failure(id string, err error) batchFailure {
	var e *Error
	if !errors.As(err, &e) {
		e = errFor(err)
	}
	return batchFailure{ID: id, SenderFault: e.Sender(), Code: e.Code, Message: e.Msg}
}

func (c *call) sendMessageBatch() (any, error) {
	var in struct {
		QueueURL string `json:"QueueUrl"`
		Entries  []sendEntry
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	acct, name, err := c.parseQueueURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(in.Entries))
	total := 0
	for i, e := range in.Entries {
		ids[i] = e.ID
		total += len(e.MessageBody)
		for k, v := range e.MessageAttributes {
			total += len(k) + len(v.DataType) + len(v.BinaryValue)
			if v.StringValue != nil {
				total += len(*v.StringValue)
			}
		}
	}
	if err := checkBatch(ids); err != nil {
		return nil, err
	}
	if total > maxBatchBytes {
		return nil, newErr(http.StatusBadRequest, "BatchRequestTooLong", "Batch requests cannot be longer than %d bytes. You have sent %d bytes.", maxBatchBytes, total)
	}
	msgs := make([]*SendInput, len(in.Entries))
	var failed []batchFailure
	var send []*SendInput
	var sendIDs []string
	for i := range in.Entries {
		m, err := c.input(&in.Entries[i])
		if err != nil {
			failed = append(failed, failure(ids[i], err))
			continue
		}
		msgs[i] = m
		send = append(send, m)
		sendIDs = append(sendIDs, ids[i])
	}
	res, errs, err := c.h.s.Send(c.ctx, acct, name, send)
	if err != nil {
		return nil, err
	}
	ok := []map[string]any{}
	for i := range send {
		if errs[i] != nil {
			failed = append(failed, failure(sendIDs[i], errs[i]))
			continue
		}
		r := sendResultJSON(res[i])
		r["Id"] = sendIDs[i]
		ok = append(ok, r)
	}
	return map[string]any{"Successful": ok, "Failed": nonNil(failed)}, nil
}

func nonNil(f []batchFailure) []batchFailure {
	if f == nil {
		return []batchFailure{}
	}
	return f
}

func (c *call) receiveMessage() (any, error) {
	var in struct {
		QueueURL                    string `json:"QueueUrl"`
		AttributeNames              []string
		MessageSystemAttributeNames []string
		MessageAttributeNames       []string
		MaxNumberOfMessages         *int
		VisibilityTimeout           *int
		WaitTimeSeconds             *int
		ReceiveRequestAttemptID     string `json:"ReceiveRequestAttemptId"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	acct, name, err := c.parseQueueURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	ri := ReceiveInput{Max: 1, Visibility: in.VisibilityTimeout}
	if n := in.MaxNumberOfMessages; n != nil {
		if *n < 1 || *n > maxBatchEntries {
			return nil, errInvalidParameter("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", *n)
		}
		ri.Max = *n
	}
	if v := in.VisibilityTimeout; v != nil && (*v < 0 || *v > maxVisibility) {
		return nil, errInvalidParameter("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.", *v)
	}
	if w := in.WaitTimeSeconds; w != nil {
		if *w < 0 || *w > maxWait {
			return nil, errInvalidParameter("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", *w)
		}
		ri.Wait = time.Duration(*w) * time.Second
	} else {
		attrs, err := c.h.s.Attributes(c.ctx, acct, name, []string{"ReceiveMessageWaitTimeSeconds"})
		if err != nil {
			return nil, err
		}
		n, _ := strconv.Atoi(attrs["ReceiveMessageWaitTimeSeconds"])
		ri.Wait = time.Duration(n) * time.Second
	}
	msgs, err := c.h.s.Receive(c.ctx, acct, name, ri)
	if err != nil {
		return nil, err
	}
	sys := append(append([]string{}, in.AttributeNames...), in.MessageSystemAttributeNames...)
	out := []map[string]any{}
	for _, m := range msgs {
		out = append(out, receivedJSON(m, sys, in.MessageAttributeNames))
	}
	if len(out) == 0 {
		return struct{}{}, nil
	}
	return map[string]any{"Messages": out}, nil
}

// selectSystem picks the requested system attributes ("All" for every one).
func selectSystem(all map[string]string, names []string) map[string]string {
	out := map[string]string{}
	for k, v := range all {
		if v == "" {
			continue
		}
		if slices.Contains(names, "All") || slices.Contains(names, k) {
			out[k] = v
		}
	}
	return out
}

// selectAttributes picks the requested message attributes: "All", ".*",
// a name, or a prefix "name.*".
func selectAttributes(all map[string]AttributeValue, names []string) map[string]AttributeValue {
	out := map[string]AttributeValue{}
	for k, v := range all {
		for _, n := range names {
			if n == "All" || n == ".*" || n == k || strings.HasSuffix(n, ".*") && strings.HasPrefix(k, strings.TrimSuffix(n, "*")) {
				out[k] = v
				break
			}
		}
	}
	return out
}

func receivedJSON(m *Received, sys, attrNames []string) map[string]any {
	out := map[string]any{"MessageId": m.MessageID, "ReceiptHandle": m.ReceiptHandle, "MD5OfBody": m.MD5OfBody, "Body": m.Body}
	if a := selectSystem(m.System, sys); len(a) > 0 {
		out["Attributes"] = a
	}
	if a := selectAttributes(m.Attributes, attrNames); len(a) > 0 {
		out["MessageAttributes"] = a
		out["MD5OfMessageAttributes"] = md5OfAttributes(a)
	}
	return out
}

func (c *call) deleteMessageBatch() (any, error) {
	var in struct {
		QueueURL string `json:"QueueUrl"`
		Entries  []deleteEntry
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return runBatch(c, in.QueueURL, in.Entries,
		func(e deleteEntry) string { return e.ID },
		func(q *queue, e deleteEntry) error { return c.h.s.deleteIn(c.ctx, q, e.ReceiptHandle) })
}

// deleteEntry is one entry of DeleteMessageBatch.
type deleteEntry struct {
	ID            string `json:"Id"`
	ReceiptHandle string
}

func (c *call) changeVisibilityBatch() (any, error) {
	var in struct {
		QueueURL string `json:"QueueUrl"`
		Entries  []visibilityEntry
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return runBatch(c, in.QueueURL, in.Entries,
		func(e visibilityEntry) string { return e.ID },
		func(q *queue, e visibilityEntry) error {
			return c.h.s.changeVisibilityIn(q, e.ReceiptHandle, e.VisibilityTimeout)
		})
}

// visibilityEntry is one entry of ChangeMessageVisibilityBatch.
type visibilityEntry struct {
	ID                string `json:"Id"`
	ReceiptHandle     string
	VisibilityTimeout int
}

// runBatch checks a batch's ids, finds its queue and applies do to each
// entry, answering the Successful and Failed lists every *Batch action of
// SQS answers.
func runBatch[E any](c *call, queueURL string, entries []E, id func(E) string, do func(*queue, E) error) (any, error) {
	acct, name, err := c.parseQueueURL(queueURL)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = id(e)
	}
	if err := checkBatch(ids); err != nil {
		return nil, err
	}
	q, err := c.h.s.cached(c.ctx, acct, name)
	if err != nil {
		return nil, err
	}
	ok := []map[string]string{}
	var failed []batchFailure
	for _, e := range entries {
		if err := do(q, e); err != nil {
			failed = append(failed, failure(id(e), err))
			continue
		}
		ok = append(ok, map[string]string{"Id": id(e)})
	}
	return map[string]any{"Successful": ok, "Failed": nonNil(failed)}, nil
}
