package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/eventpattern"
)

// TargetPrefix is the X-Amz-Target prefix of EventBridge requests (AWS
// JSON 1.1, signing name "events").
const TargetPrefix = "AWSEvents."

// IsEventsRequest reports whether r is an EventBridge API call.
func IsEventsRequest(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
}

// apiError is an EventBridge error: {"__type", "message"} with a status.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func validation(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "ValidationException", fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "ResourceNotFoundException", fmt.Sprintf(format, args...)}
}

func limitExceeded(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "LimitExceededException", fmt.Sprintf(format, args...)}
}

// unsupported refuses an operation Nimbus does not implement, naming it.
func unsupported(op, what string) *apiError {
	return &apiError{http.StatusBadRequest, "UnsupportedOperationException",
		fmt.Sprintf("Nimbus does not implement %s (%s) yet.", op, what)}
}

// maxBody bounds a request: PutEvents' 256 KB of entries in JSON with
// their escapes fit.
const maxBody = 2 << 20

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(awsapi.HeaderRequestID, awsapi.NewRequestID())
	out, err := s.serve(r)
	if err != nil {
		s.writeError(w, err)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		s.writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (s *Service) writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		s.log.Error("internal error", "err", err)
		ae = &apiError{http.StatusInternalServerError, "InternalException", "The request could not be completed; retry it."}
		if msg, ok := awsapi.TransientMessage(err); ok {
			// The backbone is electing a leader: AWS's common 503
			// (the model has no exception of its own for it), retried.
			ae = &apiError{http.StatusServiceUnavailable, "ServiceUnavailable", msg}
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", ae.code)
	w.WriteHeader(ae.status)
	b, _ := json.Marshal(map[string]string{"__type": ae.code, "message": ae.msg})
	_, _ = w.Write(b)
}

type opFunc func(s *Service, r *http.Request, body []byte) (any, error)

// operations are the served operations; refused lists the ones Nimbus
// names and refuses.
var operations = map[string]opFunc{
	"CreateEventBus":        (*Service).createEventBus,
	"DescribeEventBus":      (*Service).describeEventBus,
	"DeleteEventBus":        (*Service).deleteEventBus,
	"ListEventBuses":        (*Service).listEventBuses,
	"PutRule":               (*Service).putRule,
	"DescribeRule":          (*Service).describeRule,
	"ListRules":             (*Service).listRules,
	"DeleteRule":            (*Service).deleteRule,
	"EnableRule":            (*Service).enableRule,
	"DisableRule":           (*Service).disableRule,
	"ListRuleNamesByTarget": (*Service).listRuleNamesByTarget,
	"PutTargets":            (*Service).putTargets,
	"RemoveTargets":         (*Service).removeTargets,
	"ListTargetsByRule":     (*Service).listTargetsByRule,
	"PutEvents":             (*Service).putEvents,
	"TestEventPattern":      (*Service).testEventPattern,
	"CreateArchive":         (*Service).createArchive,
	"DescribeArchive":       (*Service).describeArchive,
	"ListArchives":          (*Service).listArchives,
	"UpdateArchive":         (*Service).updateArchive,
	"DeleteArchive":         (*Service).deleteArchive,
	"StartReplay":           (*Service).startReplay,
	"DescribeReplay":        (*Service).describeReplay,
	"ListReplays":           (*Service).listReplays,
	"CancelReplay":          (*Service).cancelReplay,
	"PutPermission":         (*Service).putPermission,
	"RemovePermission":      (*Service).removePermission,
}

var refused = map[string]string{
	"ApiDestination":     "EventBridge API destinations",
	"Connection":         "EventBridge connections",
	"Endpoint":           "EventBridge global endpoints",
	"PartnerEventSource": "partner event sources",
	"EventSource":        "partner event sources",
	"Tag":                "tags on EventBridge resources",
	"UpdateEventBus":     "updating an event bus",
	"PutPartnerEvents":   "partner event sources",
}

func (s *Service) serve(r *http.Request) (any, error) {
	if r.Method != http.MethodPost {
		return nil, &apiError{http.StatusBadRequest, "UnknownOperationException", "EventBridge operations are POST requests."}
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
	f, ok := operations[op]
	if !ok {
		for k, what := range refused {
			if strings.Contains(op, k) {
				return nil, unsupported(op, what)
			}
		}
		return nil, &apiError{http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("Unknown operation %s.", op)}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, validation("The request body could not be read.")
	}
	if len(body) > maxBody {
		return nil, &apiError{http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", "Request size exceeded the limit."}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	return f(s, r, body)
}

// decode reads body into v, refusing what is not a JSON object of the
// operation's shape.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &apiError{http.StatusBadRequest, "SerializationException",
				fmt.Sprintf("Unexpected value type for field %s.", te.Field)}
		}
		return &apiError{http.StatusBadRequest, "SerializationException", "The request body is not valid JSON."}
	}
	return nil
}

// The model's patterns, compiled on first use (not at every start of the
// binary).
var (
	busNamePattern  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[/\.\-_A-Za-z0-9]{1,256}$`) })
	ruleNamePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,64}$`) })
	busArnPattern   = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus/([/\.\-_A-Za-z0-9]+)$`)
	})
)

// constraint is AWS's message for a member that breaks its model.
func constraint(value, member, rule string) *apiError {
	return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", value, member, rule)
}

func checkRuleName(name, member string) error {
	if !ruleNamePattern().MatchString(name) {
		if name == "" || len(name) > 64 {
			return constraint(name, member, "Member must have length between 1 and 64")
		}
		return constraint(name, member, `Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+`)
	}
	return nil
}

// busName resolves an EventBusName (a name or a bus ARN; empty =
// default).
func (s *Service) busName(v, member string) (string, error) {
	if v == "" {
		return DefaultBus, nil
	}
	if m := busArnPattern().FindStringSubmatch(v); m != nil {
		return m[1], nil
	}
	if !busNamePattern().MatchString(v) {
		return "", constraint(v, member, `Member must satisfy regular expression pattern: (arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?[/\.\-_A-Za-z0-9]+`)
	}
	return v, nil
}

// testEventPattern answers whether an event matches a pattern.
func (s *Service) testEventPattern(_ *http.Request, body []byte) (any, error) {
	var in struct {
		EventPattern *string
		Event        *string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.EventPattern == nil {
		return nil, validation("1 validation error detected: Value null at 'eventPattern' failed to satisfy constraint: Member must not be null")
	}
	if in.Event == nil {
		return nil, validation("1 validation error detected: Value null at 'event' failed to satisfy constraint: Member must not be null")
	}
	p, err := compilePattern(*in.EventPattern)
	if err != nil {
		return nil, err
	}
	if err := checkTestEvent([]byte(*in.Event)); err != nil {
		return nil, err
	}
	ok, err := p.Match([]byte(*in.Event))
	if err != nil {
		return nil, validation("Parameter Event is not valid.")
	}
	return map[string]bool{"Result": ok}, nil
}

// checkTestEvent requires what EventBridge requires of TestEventPattern's
// event: a JSON object with the envelope's fields.
func checkTestEvent(ev []byte) error {
	var m map[string]json.RawMessage
	if json.Unmarshal(ev, &m) != nil {
		return validation("Parameter Event is not valid.")
	}
	for _, k := range []string{"id", "account", "source", "time", "region", "detail-type"} {
		if _, ok := m[k]; !ok {
			return validation("Parameter Event is not valid.")
		}
	}
	return nil
}

// compilePattern compiles an EventBridge pattern, reporting problems as
// InvalidEventPatternException.
func compilePattern(pattern string) (*eventpattern.Pattern, error) {
	p, err := eventpattern.Compile(eventpattern.EventBridge, []byte(pattern))
	if err != nil {
		var pe *eventpattern.Error
		if errors.As(err, &pe) {
			return nil, &apiError{http.StatusBadRequest, pe.Code, pe.Message}
		}
		return nil, &apiError{http.StatusBadRequest, "InvalidEventPatternException", "Event pattern is not valid."}
	}
	return p, nil
}
