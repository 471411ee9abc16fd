package logsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/logstore"
)

// StartLiveTail: the answer is an AWS event stream
// (application/vnd.amazon.eventstream) that stays open: an
// initial-response event (the JSON protocols' empty output), one
// sessionStart event echoing the request, then a sessionUpdate event every
// second with the events ingested since the previous one (an empty list
// when there were none), until the client goes away or the session has
// been open for three hours, when a SessionTimeoutException ends it.
//
// As CloudWatch Logs: at most 10 log groups; logStreamNames or
// logStreamNamePrefixes (not both, only with one log group); the filter
// pattern language of FilterLogEvents; at most 500 events per update,
// sampled (sessionMetadata.sampled) when more arrived; at most 15 sessions
// open at once (LimitExceededException), counted per node.

const (
	liveTailMaxGroups   = 10
	liveTailMaxStreams  = 100
	liveTailMaxPerTick  = 500
	liveTailMaxSessions = 15
	// LiveTailSessionLength is how long a live tail session stays open.
	LiveTailSessionLength = 3 * time.Hour
)

// liveTailIn is StartLiveTail's request.
type liveTailIn struct {
	LogGroupIdentifiers   []string `json:"logGroupIdentifiers"`
	LogStreamNames        []string `json:"logStreamNames"`
	LogStreamNamePrefixes []string `json:"logStreamNamePrefixes"`
	LogEventFilterPattern *string  `json:"logEventFilterPattern"`
}

// liveTail is a validated request: each group's name, its identifier as
// the client gave it, and the match function of the filter pattern.
type liveTail struct {
	in     liveTailIn
	groups []string
	match  func(string) bool
}

// parseLiveTail validates StartLiveTail's request body.
func parseLiveTail(body []byte) (*liveTail, error) {
	var in liveTailIn
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	n := len(in.LogGroupIdentifiers)
	switch {
	case in.LogGroupIdentifiers == nil:
		return nil, invalidParam("1 validation error detected: Value null at 'logGroupIdentifiers' failed to satisfy constraint: Member must not be null")
	case n < 1 || n > liveTailMaxGroups:
		return nil, invalidParam("1 validation error detected: Value at 'logGroupIdentifiers' failed to satisfy constraint: Member must have length less than or equal to %d and greater than or equal to 1", liveTailMaxGroups)
	case in.LogStreamNames != nil && in.LogStreamNamePrefixes != nil:
		return nil, invalidParam("Cannot specify both logStreamNames and logStreamNamePrefixes.")
	case (in.LogStreamNames != nil || in.LogStreamNamePrefixes != nil) && n != 1:
		return nil, invalidParam("logStreamNames and logStreamNamePrefixes can be specified only with exactly one log group.")
	}
	for field, list := range map[string][]string{"logStreamNames": in.LogStreamNames, "logStreamNamePrefixes": in.LogStreamNamePrefixes} {
		if list == nil {
			continue
		}
		if len(list) < 1 || len(list) > liveTailMaxStreams {
			return nil, invalidParam("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d and greater than or equal to 1", field, liveTailMaxStreams)
		}
		for _, s := range list {
			if len(s) < 1 || len(s) > 512 || strings.ContainsAny(s, ":*") {
				return nil, invalidParam("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*", s, field)
			}
		}
	}
	lt := &liveTail{in: in}
	seen := map[string]bool{}
	for _, id := range in.LogGroupIdentifiers {
		if len(id) > 2048 {
			return nil, invalidParam("1 validation error detected: Value at 'logGroupIdentifiers' failed to satisfy constraint: Member must have length less than or equal to 2048")
		}
		if strings.HasSuffix(id, "*") {
			return nil, invalidParam("The ARN of log group %s must not end with an asterisk (*).", id)
		}
		name := id
		if strings.HasPrefix(id, "arn:") {
			_, rest, ok := strings.Cut(id, ":log-group:")
			if !ok {
				return nil, invalidParam("%s is not the ARN of a log group.", id)
			}
			name = rest
		}
		if err := checkGroupName("logGroupIdentifiers", name); err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, invalidParam("Log group %s is listed twice.", id)
		}
		seen[name] = true
		lt.groups = append(lt.groups, name)
	}
	if p := in.LogEventFilterPattern; p != nil {
		if len(*p) > 1024 {
			return nil, invalidParam("1 validation error detected: Value at 'logEventFilterPattern' failed to satisfy constraint: Member must have length less than or equal to 1024")
		}
		pat, err := ParsePattern(*p)
		if err != nil {
			return nil, invalidParam("Invalid filter pattern: %s", strings.TrimPrefix(err.Error(), errPattern.Error()+": "))
		}
		lt.match = pat.Match
	}
	return lt, nil
}

// tailEvent is a LiveTailSessionLogEvent.
type tailEvent struct {
	LogStreamName      string `json:"logStreamName"`
	LogGroupIdentifier string `json:"logGroupIdentifier"`
	Message            string `json:"message"`
	Timestamp          int64  `json:"timestamp"`
	IngestionTime      int64  `json:"ingestionTime"`
}

var errLiveTailLimit = &apiError{http.StatusBadRequest, "LimitExceededException",
	fmt.Sprintf("You have reached the maximum number of concurrent Live Tail sessions (%d).", liveTailMaxSessions)}

// serveLiveTail answers StartLiveTail: validation errors as any JSON 1.1
// error, then the event stream until the client leaves or the session
// times out.
func (h *Handler) serveLiveTail(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		h.svc.ServeHTTP(w, r) // the shared server's answer for a wrong method
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		h.svc.WriteError(w, invalidParam("The request body could not be read or is larger than %d bytes.", maxBody))
		return
	}
	lt, err := parseLiveTail(body)
	if err != nil {
		h.svc.WriteError(w, err)
		return
	}
	ctx := r.Context()
	h.flush(ctx)
	for _, g := range lt.groups {
		if _, err := h.opts.Store.Group(ctx, g); err != nil {
			h.svc.WriteError(w, err)
			return
		}
	}
	if h.liveTails.Add(1) > liveTailMaxSessions {
		h.liveTails.Add(-1)
		h.svc.WriteError(w, errLiveTailLimit)
		return
	}
	defer h.liveTails.Add(-1)
	from, err := h.opts.Store.End(ctx)
	if err != nil {
		h.svc.WriteError(w, err)
		return
	}
	reqID := awsapi.NewRequestID()
	hd := w.Header()
	hd.Set(awsapi.HeaderRequestID, reqID)
	hd.Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	es := &eventWriter{w: w, rc: http.NewResponseController(w), enc: eventstream.NewEncoder()}
	start := struct {
		RequestID             string   `json:"requestId"`
		SessionID             string   `json:"sessionId"`
		LogGroupIdentifiers   []string `json:"logGroupIdentifiers"`
		LogStreamNames        []string `json:"logStreamNames,omitempty"`
		LogStreamNamePrefixes []string `json:"logStreamNamePrefixes,omitempty"`
		LogEventFilterPattern *string  `json:"logEventFilterPattern,omitempty"`
	}{reqID, awsapi.NewRequestID(), lt.in.LogGroupIdentifiers, lt.in.LogStreamNames, lt.in.LogStreamNamePrefixes, lt.in.LogEventFilterPattern}
	if es.event("initial-response", struct{}{}) != nil || es.event("sessionStart", start) != nil {
		return
	}
	h.log.Debug("live tail started", "groups", len(lt.groups))
	deadline := time.NewTimer(h.tailLength)
	defer deadline.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	positions := make([]logstore.Position, len(lt.groups))
	for i := range positions {
		positions[i] = from
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			_ = es.exception("SessionTimeoutException", "The Live Tail session has been open for 3 hours, the longest a session lasts; start a new one.")
			return
		case <-tick.C:
		}
		evs, err := h.tailOnce(ctx, lt, positions)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			h.log.Warn("live tail read failed", "err", err)
			_ = es.exception("SessionStreamingException", "The Live Tail session could not read the log groups; start a new one.")
			return
		}
		sampled := len(evs) > liveTailMaxPerTick
		if sampled {
			// Keep a uniform sample of liveTailMaxPerTick, in order.
			keep := rand.Perm(len(evs))[:liveTailMaxPerTick] //nolint:gosec // sampling, not security
			mark := make([]bool, len(evs))
			for _, i := range keep {
				mark[i] = true
			}
			out := evs[:0]
			for i, e := range evs {
				if mark[i] {
					out = append(out, e)
				}
			}
			evs = out
		}
		up := struct {
			SessionMetadata struct {
				Sampled bool `json:"sampled"`
			} `json:"sessionMetadata"`
			SessionResults []tailEvent `json:"sessionResults"`
		}{SessionResults: evs}
		up.SessionMetadata.Sampled = sampled
		if es.event("sessionUpdate", up) != nil {
			return
		}
	}
}

// tailOnce reads what each group ingested since its position and moves
// the positions on.
func (h *Handler) tailOnce(ctx context.Context, lt *liveTail, positions []logstore.Position) ([]tailEvent, error) {
	h.flush(ctx)
	end, err := h.opts.Store.End(ctx)
	if err != nil {
		return nil, err
	}
	out := []tailEvent{} // an update with nothing new says so with an empty list
	for i, g := range lt.groups {
		if !positions[i].Less(end) {
			continue
		}
		from := positions[i]
		q := logstore.Query{Group: g, From: &from, Match: lt.match, Streams: lt.in.LogStreamNames}
		if lt.in.LogStreamNamePrefixes != nil {
			streams, err := h.opts.Store.Streams(ctx, g, "")
			if err != nil {
				return nil, err
			}
			q.Streams = nil
			for _, s := range streams {
				for _, p := range lt.in.LogStreamNamePrefixes {
					if strings.HasPrefix(s.Name, p) {
						q.Streams = append(q.Streams, s.Name)
						break
					}
				}
			}
			if len(q.Streams) == 0 {
				positions[i] = end
				continue
			}
		}
		evs, _, err := h.opts.Store.Scan(ctx, q)
		if err != nil {
			return nil, err
		}
		// Everything before end was read by this scan (it read up to the
		// stream's last message, taken after end).
		positions[i] = end
		for _, e := range evs {
			if n := after(e.Pos); positions[i].Less(n) {
				positions[i] = n
			}
			out = append(out, tailEvent{LogStreamName: e.Stream, LogGroupIdentifier: lt.in.LogGroupIdentifiers[i], Message: e.Message,
				Timestamp: e.Timestamp, IngestionTime: e.IngestionTime})
		}
	}
	return out, nil
}

// eventWriter writes AWS event stream messages and flushes each.
type eventWriter struct {
	w   io.Writer
	rc  *http.ResponseController
	enc *eventstream.Encoder
	buf bytes.Buffer
}

func (e *eventWriter) write(msg eventstream.Message) error {
	e.buf.Reset()
	if err := e.enc.Encode(&e.buf, msg); err != nil {
		return err
	}
	if _, err := e.w.Write(e.buf.Bytes()); err != nil {
		return err
	}
	return e.rc.Flush()
}

// event writes one event of the response stream (JSON payload).
func (e *eventWriter) event(typ string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	msg := eventstream.Message{Payload: b}
	msg.Headers.Set(":message-type", eventstream.StringValue("event"))
	msg.Headers.Set(":event-type", eventstream.StringValue(typ))
	msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	return e.write(msg)
}

// exception ends the stream with one of its modelled exceptions.
func (e *eventWriter) exception(typ, message string) error {
	b, _ := json.Marshal(map[string]string{"message": message})
	msg := eventstream.Message{Payload: b}
	msg.Headers.Set(":message-type", eventstream.StringValue("exception"))
	msg.Headers.Set(":exception-type", eventstream.StringValue(typ))
	msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	return e.write(msg)
}
