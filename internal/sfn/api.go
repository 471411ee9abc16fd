package sfn

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// TargetPrefix is the X-Amz-Target prefix of Step Functions requests
// (AWS JSON 1.0, signing name "states").
const TargetPrefix = "AWSStepFunctions."

// IsRequest reports whether r is a Step Functions API call.
func IsRequest(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
}

// apiError is a Step Functions error: {"__type", "message"} with a status.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func bad(code, format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, code, fmt.Sprintf(format, args...)}
}

func validation(format string, args ...any) *apiError {
	return bad("ValidationException", format, args...)
}

// maxBody bounds a request: a 1 MB definition, JSON-escaped.
const maxBody = 4 << 20

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(awsapi.HeaderRequestID, awsapi.NewRequestID())
	out, err := s.serve(r)
	if err != nil {
		s.writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(encodeJSON(out)))
}

func (s *Service) writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		s.log.Error("internal error", "err", err)
		ae = &apiError{http.StatusInternalServerError, "InternalFailure", "The request could not be completed; retry it."}
		if msg, ok := awsapi.TransientMessage(err); ok {
			// The backbone is electing a leader: AWS's common 503
			// (the model has no exception of its own for it), retried.
			ae = &apiError{http.StatusServiceUnavailable, "ServiceUnavailable", msg}
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", ae.code)
	w.WriteHeader(ae.status)
	b, _ := json.Marshal(map[string]string{"__type": ae.code, "message": ae.msg})
	_, _ = w.Write(b)
}

type opFunc func(s *Service, ctx context.Context, body []byte) (any, error)

var operations = map[string]opFunc{
	"CreateStateMachine":               (*Service).createStateMachine,
	"DescribeStateMachine":             (*Service).describeStateMachine,
	"ListStateMachines":                (*Service).listStateMachines,
	"UpdateStateMachine":               (*Service).updateStateMachine,
	"DeleteStateMachine":               (*Service).deleteStateMachine,
	"ValidateStateMachineDefinition":   (*Service).validateDefinition,
	"StartExecution":                   (*Service).startExecution,
	"StartSyncExecution":               (*Service).startSyncExecution,
	"DescribeExecution":                (*Service).describeExecution,
	"DescribeStateMachineForExecution": (*Service).describeStateMachineForExecution,
	"ListExecutions":                   (*Service).listExecutions,
	"StopExecution":                    (*Service).stopExecution,
	"RedriveExecution":                 (*Service).redriveExecution,
	"GetExecutionHistory":              (*Service).getExecutionHistory,
	"SendTaskSuccess":                  (*Service).sendTaskSuccess,
	"SendTaskFailure":                  (*Service).sendTaskFailure,
	"SendTaskHeartbeat":                (*Service).sendTaskHeartbeat,
	"ListMapRuns":                      (*Service).listMapRuns,
	"DescribeMapRun":                   (*Service).describeMapRun,
	"UpdateMapRun":                     (*Service).updateMapRun,
	"TagResource":                      (*Service).tagResource,
	"UntagResource":                    (*Service).untagResource,
	"ListTagsForResource":              (*Service).listTagsForResource,
}

// refused names the operations Nimbus does not serve yet.
var refused = map[string]string{
	"Activity":                   "activities",
	"StateMachineVersion":        "state machine versions",
	"StateMachineAlias":          "state machine aliases",
	"PublishStateMachineVersion": "state machine versions",
	"TestState":                  "TestState",
	"GetActivityTask":            "activities",
}

func (s *Service) serve(r *http.Request) (any, error) {
	if r.Method != http.MethodPost {
		return nil, bad("UnknownOperationException", "Step Functions operations are POST requests.")
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
	f, ok := operations[op]
	if !ok {
		for k, what := range refused {
			if strings.Contains(op, k) {
				return nil, bad("UnsupportedOperation", "Nimbus does not implement %s (%s) yet.", op, what)
			}
		}
		return nil, bad("UnknownOperationException", "Unknown operation %s.", op)
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
	return f(s, r.Context(), body)
}

func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return validation("The request body is not valid JSON for this operation.")
	}
	return nil
}

// epoch renders a time as the JSON protocols' timestamps.
func epoch(t time.Time) json.Number {
	return json.Number(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64))
}

// ARNs.
func (s *Service) machineARN(name string) string {
	return "arn:aws:states:" + s.region + ":" + s.account + ":stateMachine:" + name
}

func (s *Service) executionARN(machine, name string) string {
	return "arn:aws:states:" + s.region + ":" + s.account + ":execution:" + machine + ":" + name
}

func parseMachineARN(arn string) (string, bool) {
	p := strings.Split(arn, ":")
	if len(p) < 7 || p[0] != "arn" || p[2] != "states" || p[5] != "stateMachine" || p[6] == "" {
		return "", false
	}
	return p[6], len(p) == 7
}

func parseExecutionARN(arn string) (machine, name string, ok bool) {
	p := strings.Split(arn, ":")
	if len(p) != 8 || p[0] != "arn" || p[2] != "states" || (p[5] != "execution" && p[5] != "express") || p[6] == "" || p[7] == "" {
		return "", "", false
	}
	return p[6], p[7], true
}

// checkName applies AWS's rules for state machine and execution names.
func checkName(field, name string) error {
	n := len([]rune(name))
	if n < 1 || n > 80 {
		return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to 80", truncate(name, 100), field)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r) || r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return bad("InvalidName", "Invalid Name: '%s'", name)
		}
	}
	return nil
}

func (s *Service) checkARN(arn string) error {
	if !strings.HasPrefix(arn, "arn:aws:states:") {
		return bad("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", truncate(arn, 256))
	}
	return nil
}

func (s *Service) getMachine(ctx context.Context, arn string) (*machineRecord, uint64, error) {
	if err := s.checkARN(arn); err != nil {
		return nil, 0, err
	}
	name, ok := parseMachineARN(arn)
	if !ok {
		return nil, 0, bad("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", truncate(arn, 256))
	}
	m, rev, err := getJSON[machineRecord](ctx, s.kv, machineKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, bad("StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn)
	}
	return m, rev, err
}

// definitionError is InvalidDefinition.
func definitionError(err error) error {
	return bad("InvalidDefinition", "%s", err.Error())
}

type createInput struct {
	Name                 string          `json:"name"`
	Definition           string          `json:"definition"`
	RoleArn              string          `json:"roleArn"`
	Type                 string          `json:"type"`
	LoggingConfiguration json.RawMessage `json:"loggingConfiguration"`
	TracingConfiguration json.RawMessage `json:"tracingConfiguration"`
	Tags                 []tag           `json:"tags"`
	Publish              bool            `json:"publish"`
}

type tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func (s *Service) createStateMachine(ctx context.Context, body []byte) (any, error) {
	var in createInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkName("name", in.Name); err != nil {
		return nil, err
	}
	if in.Definition == "" || in.RoleArn == "" {
		return nil, validation("The fields 'name', 'definition' and 'roleArn' are required.")
	}
	if in.Type == "" {
		in.Type = "STANDARD"
	}
	if in.Type != "STANDARD" && in.Type != "EXPRESS" {
		return nil, validation("1 validation error detected: Value '%s' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]", in.Type)
	}
	if in.Publish {
		return nil, bad("UnsupportedOperation", "Nimbus does not implement state machine versions (publish) yet.")
	}
	if _, err := Parse(in.Definition, in.Type == "EXPRESS"); err != nil {
		return nil, definitionError(err)
	}
	lc, err := parseLogging(in.LoggingConfiguration)
	if err != nil {
		return nil, err
	}
	if err := s.checkLogging(ctx, lc, in.RoleArn); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	rec := &machineRecord{ARN: s.machineARN(in.Name), Name: in.Name, Definition: in.Definition, RoleARN: in.RoleArn, Type: in.Type,
		Created: now, Updated: now, Logging: in.LoggingConfiguration, Tracing: in.TracingConfiguration, Tags: map[string]string{},
		RevisionID: awsapi.NewRequestID()}
	for _, t := range in.Tags {
		rec.Tags[t.Key] = t.Value
	}
	b, _ := json.Marshal(rec)
	if _, err := s.kv.Create(ctx, machineKey(in.Name), b); err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, err
		}
		old, _, gerr := getJSON[machineRecord](ctx, s.kv, machineKey(in.Name))
		if gerr != nil {
			return nil, gerr
		}
		if old.Definition == in.Definition && old.RoleARN == in.RoleArn && old.Type == in.Type {
			return map[string]any{"stateMachineArn": old.ARN, "creationDate": epoch(old.Created)}, nil
		}
		return nil, bad("StateMachineAlreadyExists", "State Machine Already Exists: '%s'", rec.ARN)
	}
	return map[string]any{"stateMachineArn": rec.ARN, "creationDate": epoch(now)}, nil
}

func (m *machineRecord) describe() map[string]any {
	out := map[string]any{
		"stateMachineArn": m.ARN, "name": m.Name, "status": "ACTIVE", "definition": m.Definition, "roleArn": m.RoleARN,
		"type": m.Type, "creationDate": epoch(m.Created), "revisionId": m.RevisionID,
		"loggingConfiguration": map[string]any{"level": "OFF", "includeExecutionData": false},
		"tracingConfiguration": map[string]any{"enabled": false},
	}
	if len(m.Logging) > 0 && string(m.Logging) != "null" {
		out["loggingConfiguration"] = m.Logging
	}
	if len(m.Tracing) > 0 && string(m.Tracing) != "null" {
		out["tracingConfiguration"] = m.Tracing
	}
	return out
}

type arnInput struct {
	StateMachineArn string `json:"stateMachineArn"`
	ExecutionArn    string `json:"executionArn"`
	ResourceArn     string `json:"resourceArn"`
}

func (s *Service) describeStateMachine(ctx context.Context, body []byte) (any, error) {
	var in arnInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	m, _, err := s.getMachine(ctx, in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	return m.describe(), nil
}

type pageInput struct {
	MaxResults      int    `json:"maxResults"`
	NextToken       string `json:"nextToken"`
	StateMachineArn string `json:"stateMachineArn"`
	StatusFilter    string `json:"statusFilter"`
	MapRunArn       string `json:"mapRunArn"`
	RedriveFilter   string `json:"redriveFilter"`
}

// page cuts a list at the token's offset.
func page(n int, in pageInput) (from, to int, next string, err error) {
	if in.NextToken != "" {
		b, derr := base64.RawURLEncoding.DecodeString(in.NextToken)
		off, aerr := strconv.Atoi(string(b))
		if derr != nil || aerr != nil || off < 0 || off > n {
			return 0, 0, "", bad("InvalidToken", "Invalid Token: '%s'", truncate(in.NextToken, 100))
		}
		from = off
	}
	size := in.MaxResults
	if size <= 0 || size > 1000 {
		size = 100
	}
	to = min(from+size, n)
	if to < n {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(to)))
	}
	return from, to, next, nil
}

func (s *Service) listStateMachines(ctx context.Context, body []byte) (any, error) {
	var in pageInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	keys, err := s.keys(ctx, "sm.*")
	if err != nil {
		return nil, err
	}
	var ms []*machineRecord
	for _, k := range keys {
		m, _, err := getJSON[machineRecord](ctx, s.kv, k)
		if err == nil {
			ms = append(ms, m)
		}
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	from, to, next, err := page(len(ms), in)
	if err != nil {
		return nil, err
	}
	items := []any{}
	for _, m := range ms[from:to] {
		items = append(items, map[string]any{"stateMachineArn": m.ARN, "name": m.Name, "type": m.Type, "creationDate": epoch(m.Created)})
	}
	out := map[string]any{"stateMachines": items}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

func (s *Service) keys(ctx context.Context, filter string) ([]string, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, err
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	return keys, nil
}

func (s *Service) updateStateMachine(ctx context.Context, body []byte) (any, error) {
	var in struct {
		StateMachineArn      string          `json:"stateMachineArn"`
		Definition           *string         `json:"definition"`
		RoleArn              *string         `json:"roleArn"`
		LoggingConfiguration json.RawMessage `json:"loggingConfiguration"`
		TracingConfiguration json.RawMessage `json:"tracingConfiguration"`
		Publish              bool            `json:"publish"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Definition == nil && in.RoleArn == nil && in.LoggingConfiguration == nil && in.TracingConfiguration == nil {
		return nil, bad("MissingRequiredParameter", "Either the definition, the roleArn, the loggingConfiguration or the tracingConfiguration must be specified")
	}
	for {
		m, rev, err := s.getMachine(ctx, in.StateMachineArn)
		if err != nil {
			return nil, err
		}
		if in.Definition != nil {
			if _, err := Parse(*in.Definition, m.Type == "EXPRESS"); err != nil {
				return nil, definitionError(err)
			}
			m.Definition = *in.Definition
		}
		if in.RoleArn != nil {
			m.RoleARN = *in.RoleArn
		}
		if in.LoggingConfiguration != nil || in.RoleArn != nil {
			raw := m.Logging
			if in.LoggingConfiguration != nil {
				raw = in.LoggingConfiguration
			}
			lc, err := parseLogging(raw)
			if err != nil {
				return nil, err
			}
			if err := s.checkLogging(ctx, lc, m.RoleARN); err != nil {
				return nil, err
			}
			m.Logging = raw
		}
		if in.TracingConfiguration != nil {
			m.Tracing = in.TracingConfiguration
		}
		m.Updated = s.now().UTC()
		m.RevisionID = awsapi.NewRequestID()
		b, _ := json.Marshal(m)
		if _, err := s.kv.Update(ctx, machineKey(m.Name), b, rev); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			return nil, err
		}
		return map[string]any{"updateDate": epoch(m.Updated), "revisionId": m.RevisionID}, nil
	}
}

func (s *Service) deleteStateMachine(ctx context.Context, body []byte) (any, error) {
	var in arnInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := s.checkARN(in.StateMachineArn); err != nil {
		return nil, err
	}
	name, ok := parseMachineARN(in.StateMachineArn)
	if !ok {
		return nil, bad("InvalidArn", "Invalid Arn: '%s'", truncate(in.StateMachineArn, 256))
	}
	if err := s.kv.Delete(ctx, machineKey(name)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, err
	}
	return map[string]any{}, nil
}

func (s *Service) validateDefinition(_ context.Context, body []byte) (any, error) {
	var in struct {
		Definition string `json:"definition"`
		Type       string `json:"type"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	_, err := Parse(in.Definition, in.Type == "EXPRESS")
	var de *DefinitionError
	if errors.As(err, &de) {
		diags := []any{}
		for _, d := range de.Diags {
			m := map[string]any{"severity": "ERROR", "code": d.Code, "message": d.Message}
			if d.Location != "" {
				m["location"] = d.Location
			}
			diags = append(diags, m)
		}
		return map[string]any{"result": "FAIL", "diagnostics": diags, "truncated": false}, nil
	}
	return map[string]any{"result": "OK", "diagnostics": []any{}, "truncated": false}, nil
}

// TagResource and friends: tags on state machines.
func (s *Service) tagResource(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ResourceArn string `json:"resourceArn"`
		Tags        []tag  `json:"tags"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return map[string]any{}, s.editTags(ctx, in.ResourceArn, func(t map[string]string) {
		for _, kv := range in.Tags {
			t[kv.Key] = kv.Value
		}
	})
}

func (s *Service) untagResource(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ResourceArn string   `json:"resourceArn"`
		TagKeys     []string `json:"tagKeys"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return map[string]any{}, s.editTags(ctx, in.ResourceArn, func(t map[string]string) {
		for _, k := range in.TagKeys {
			delete(t, k)
		}
	})
}

func (s *Service) editTags(ctx context.Context, arn string, f func(map[string]string)) error {
	for {
		m, rev, err := s.getMachine(ctx, arn)
		if err != nil {
			var ae *apiError
			if errors.As(err, &ae) && ae.code == "StateMachineDoesNotExist" {
				return bad("ResourceNotFound", "Resource not found: '%s'", arn)
			}
			return err
		}
		if m.Tags == nil {
			m.Tags = map[string]string{}
		}
		f(m.Tags)
		b, _ := json.Marshal(m)
		if _, err := s.kv.Update(ctx, machineKey(m.Name), b, rev); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			return err
		}
		return nil
	}
}

func (s *Service) listTagsForResource(ctx context.Context, body []byte) (any, error) {
	var in arnInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	m, _, err := s.getMachine(ctx, in.ResourceArn)
	if err != nil {
		return nil, bad("ResourceNotFound", "Resource not found: '%s'", in.ResourceArn)
	}
	tags := []any{}
	for _, k := range sortedKeys(m.Tags) {
		tags = append(tags, map[string]any{"key": k, "value": m.Tags[k]})
	}
	return map[string]any{"tags": tags}, nil
}
