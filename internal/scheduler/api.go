package scheduler

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/deliver"
)

// apiError is a Scheduler error: {"Message"} with X-Amzn-ErrorType.
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
	return &apiError{http.StatusNotFound, "ResourceNotFoundException", fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) *apiError {
	return &apiError{http.StatusConflict, "ConflictException", fmt.Sprintf(format, args...)}
}

var namePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-zA-Z\-_.]{1,64}$`) })
var rolePattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^arn:aws(-[a-z]+)?:iam::\d{12}:role/[\w+=,.@/-]+$`)
})

const (
	maxBody      = 1 << 20
	maxInput     = 256 * 1024 // AWS's limit on a target's Input
	maxSchedules = 1_000_000
	maxGroups    = 500
)

// IsRequest reports whether r is a Scheduler API path.
func IsRequest(r *http.Request) bool {
	p := r.URL.Path
	return p == "/schedules" || strings.HasPrefix(p, "/schedules/") || p == "/schedule-groups" ||
		strings.HasPrefix(p, "/schedule-groups/") || strings.HasPrefix(p, "/tags/")
}

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(awsapi.HeaderRequestID, awsapi.NewRequestID())
	out, err := s.serve(r)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			s.log.Error("internal error", "err", err)
			ae = &apiError{http.StatusInternalServerError, "InternalServerException", "The request could not be completed; retry it."}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", ae.code)
		w.WriteHeader(ae.status)
		b, _ := json.Marshal(map[string]string{"Message": ae.msg})
		_, _ = w.Write(b)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		http.Error(w, "encode", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (s *Service) serve(r *http.Request) (any, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, validation("The request body could not be read.")
	}
	if len(body) > maxBody {
		return nil, validation("The request body is larger than %d bytes.", maxBody)
	}
	path := r.URL.EscapedPath()
	q := r.URL.Query()
	seg := func(prefix string) (string, bool) {
		rest, ok := strings.CutPrefix(path, prefix)
		if !ok || rest == "" || strings.Contains(rest, "/") {
			return "", false
		}
		v, err := url.PathUnescape(rest)
		return v, err == nil
	}
	switch {
	case path == "/schedules" && r.Method == http.MethodGet:
		return s.listSchedules(r, q)
	case path == "/schedule-groups" && r.Method == http.MethodGet:
		return s.listGroups(r, q)
	case strings.HasPrefix(path, "/tags/"):
		return s.serveTags(r, body)
	}
	if name, ok := seg("/schedules/"); ok {
		switch r.Method {
		case http.MethodPost:
			return s.putSchedule(r, name, body, true)
		case http.MethodPut:
			return s.putSchedule(r, name, body, false)
		case http.MethodGet:
			return s.getSchedule(r, name, q.Get("groupName"))
		case http.MethodDelete:
			return s.deleteSchedule(r, name, q.Get("groupName"), q.Get("clientToken"))
		}
	}
	if name, ok := seg("/schedule-groups/"); ok {
		switch r.Method {
		case http.MethodPost:
			return s.createGroup(r, name, body)
		case http.MethodGet:
			return s.getGroup(r, name)
		case http.MethodDelete:
			return s.deleteGroup(r, name, q.Get("clientToken"))
		}
	}
	return nil, &apiError{http.StatusNotFound, "UnknownOperationException", fmt.Sprintf("No EventBridge Scheduler operation is %s %s.", r.Method, r.URL.Path)}
}

func checkName(v, member string) error {
	if !namePattern().MatchString(v) {
		return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[0-9a-zA-Z-_.]+$ and have length between 1 and 64", v, member)
	}
	return nil
}

func (s *Service) groupArn(name string) string {
	return "arn:aws:scheduler:" + s.region + ":" + s.account + ":schedule-group/" + name
}

func (s *Service) scheduleArn(group, name string) string {
	return "arn:aws:scheduler:" + s.region + ":" + s.account + ":schedule/" + group + "/" + name
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// --- groups ---------------------------------------------------------------

func (s *Service) createGroup(r *http.Request, name string, body []byte) (any, error) {
	if err := checkName(name, "name"); err != nil {
		return nil, err
	}
	var in struct {
		ClientToken string
		Tags        []Tag
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, validation("The request body is not valid JSON.")
		}
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	ks, err := keys(r.Context(), s.kv, "group.>")
	if err != nil {
		return nil, err
	}
	if len(ks) >= maxGroups {
		return nil, &apiError{http.StatusPaymentRequired, "ServiceQuotaExceededException", "The schedule group quota (500) is reached."}
	}
	now := epoch(s.clock.Now())
	g := Group{Name: name, Arn: s.groupArn(name), State: "ACTIVE", CreationDate: now, LastModificationDate: now, Tags: in.Tags}
	digest := requestDigest("CreateScheduleGroup", name, body)
	prior, done, err := s.claimToken(r.Context(), in.ClientToken, digest, g.Arn)
	if err != nil || done {
		return map[string]string{"ScheduleGroupArn": prior}, err
	}
	b, _ := json.Marshal(g)
	if _, err := s.kv.Create(r.Context(), groupKey(name), b); err != nil {
		s.releaseToken(r.Context(), in.ClientToken)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, conflict("Schedule group %s already exists.", name)
		}
		return nil, fmt.Errorf("create group: %w", err)
	}
	s.finishToken(r.Context(), in.ClientToken, digest, g.Arn)
	return map[string]string{"ScheduleGroupArn": g.Arn}, nil
}

func (s *Service) group(r *http.Request, name string) (*Group, error) {
	var g Group
	if _, err := getJSON(r.Context(), s.kv, groupKey(name), &g); err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, notFound("Schedule group %s does not exist.", name)
		}
		return nil, err
	}
	return &g, nil
}

func (s *Service) getGroup(r *http.Request, name string) (any, error) {
	if err := checkName(name, "name"); err != nil {
		return nil, err
	}
	g, err := s.group(r, name)
	if err != nil {
		return nil, err
	}
	g.Tags = nil // ListTagsForResource's
	return g, nil
}

// deleteGroup deletes a schedule group and its schedules. With a
// ClientToken, a repeat of a delete that succeeded succeeds again (the
// SDKs retry with the token), as DeleteSchedule's.
func (s *Service) deleteGroup(r *http.Request, name, token string) (any, error) {
	if err := checkName(name, "name"); err != nil {
		return nil, err
	}
	if name == DefaultGroup {
		return nil, validation("The default schedule group cannot be deleted.")
	}
	ctx := r.Context()
	arn := s.groupArn(name)
	digest := requestDigest("DeleteScheduleGroup", name, nil)
	if _, done, err := s.claimToken(ctx, token, digest, arn); err != nil || done {
		return struct{}{}, err
	}
	if err := s.deleteGroupNow(r, name); err != nil {
		s.releaseToken(ctx, token)
		return nil, err
	}
	s.finishToken(ctx, token, digest, arn)
	return struct{}{}, nil
}

func (s *Service) deleteGroupNow(r *http.Request, name string) error {
	ctx := r.Context()
	if _, err := s.group(r, name); err != nil {
		return err
	}
	// Its schedules go with it, as on AWS.
	ks, err := keys(ctx, s.kv, "sched."+hexName(name)+".>")
	if err != nil {
		return err
	}
	for _, k := range ks {
		if err := s.kv.Delete(ctx, k); err != nil {
			return fmt.Errorf("delete %s: %w", k, err)
		}
	}
	if err := s.kv.Delete(ctx, groupKey(name)); err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	return nil
}

// page returns the items after the token's name, at most limit of them,
// and the token of the next page.
func page[T any](items []T, name func(T) string, token string, limit int) ([]T, string, error) {
	slices.SortFunc(items, func(a, b T) int { return strings.Compare(name(a), name(b)) })
	if token != "" {
		after, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			return nil, "", validation("The NextToken is not valid.")
		}
		i, _ := slices.BinarySearchFunc(items, string(after), func(x T, t string) int { return strings.Compare(name(x), t) })
		for i < len(items) && name(items[i]) <= string(after) {
			i++
		}
		items = items[i:]
	}
	if len(items) > limit {
		return items[:limit], base64.RawURLEncoding.EncodeToString([]byte(name(items[limit-1]))), nil
	}
	return items, "", nil
}

func maxResults(q url.Values) (int, error) {
	v := q.Get("MaxResults")
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100 {
		return 0, validation("1 validation error detected: Value '%s' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100", v)
	}
	return n, nil
}

func (s *Service) listGroups(r *http.Request, q url.Values) (any, error) {
	limit, err := maxResults(q)
	if err != nil {
		return nil, err
	}
	prefix := q.Get("NamePrefix")
	ks, err := keys(r.Context(), s.kv, "group.>")
	if err != nil {
		return nil, err
	}
	var gs []Group
	for _, k := range ks {
		var g Group
		if _, err := getJSON(r.Context(), s.kv, k, &g); err != nil {
			continue // deleted meanwhile
		}
		if strings.HasPrefix(g.Name, prefix) {
			g.Tags = nil
			gs = append(gs, g)
		}
	}
	gs, next, err := page(gs, func(g Group) string { return g.Name }, q.Get("NextToken"), limit)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"ScheduleGroups": nonNil(gs)}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// --- schedules ------------------------------------------------------------

type scheduleInput struct {
	ActionAfterCompletion      string
	ClientToken                string
	Description                string
	EndDate                    *float64
	FlexibleTimeWindow         *FlexibleTimeWindow
	GroupName                  string
	KmsKeyArn                  string
	ScheduleExpression         string
	ScheduleExpressionTimezone string
	StartDate                  *float64
	State                      string
	Target                     *Target
}

func (s *Service) putSchedule(r *http.Request, name string, body []byte, create bool) (any, error) {
	if err := checkName(name, "name"); err != nil {
		return nil, err
	}
	var in scheduleInput
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, validation("The request body is not valid JSON.")
	}
	if in.GroupName == "" {
		in.GroupName = DefaultGroup
	}
	if err := checkName(in.GroupName, "groupName"); err != nil {
		return nil, err
	}
	sch, err := s.check(&in)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	if _, err := s.group(r, in.GroupName); err != nil {
		return nil, err
	}
	sch.Name, sch.GroupName, sch.Arn = name, in.GroupName, s.scheduleArn(in.GroupName, name)
	now := epoch(s.clock.Now())
	key := schedKey(in.GroupName, name)
	if create {
		ks, err := keys(ctx, s.kv, "sched.>")
		if err != nil {
			return nil, err
		}
		if len(ks) >= maxSchedules {
			return nil, &apiError{http.StatusPaymentRequired, "ServiceQuotaExceededException", "The schedule quota is reached."}
		}
		sch.CreationDate, sch.LastModificationDate = now, now
		digest := requestDigest("CreateSchedule", name, body)
		prior, done, err := s.claimToken(ctx, in.ClientToken, digest, sch.Arn)
		if err != nil || done {
			return map[string]string{"ScheduleArn": prior}, err
		}
		b, _ := json.Marshal(stored{Schedule: *sch})
		if _, err := s.kv.Create(ctx, key, b); err != nil {
			s.releaseToken(ctx, in.ClientToken)
			if errors.Is(err, jetstream.ErrKeyExists) {
				return nil, conflict("Schedule %s already exists.", name)
			}
			return nil, fmt.Errorf("create schedule: %w", err)
		}
		s.finishToken(ctx, in.ClientToken, digest, sch.Arn)
		return map[string]string{"ScheduleArn": sch.Arn}, nil
	}
	var old stored
	rev, err := getJSON(ctx, s.kv, key, &old)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, notFound("Schedule %s does not exist.", name)
	}
	if err != nil {
		return nil, err
	}
	sch.CreationDate, sch.LastModificationDate = old.CreationDate, now
	// Due times already fired stay fired, unless the expression changed.
	next := stored{Schedule: *sch}
	if old.ScheduleExpression == sch.ScheduleExpression && old.ScheduleExpressionTimezone == sch.ScheduleExpressionTimezone {
		next.Fired = old.Fired
	}
	b, _ := json.Marshal(next)
	if _, err := s.kv.Update(ctx, key, b, rev); err != nil {
		return nil, conflict("Schedule %s was changed by another request; retry.", name)
	}
	return map[string]string{"ScheduleArn": sch.Arn}, nil
}

// check validates a Create/UpdateSchedule input and returns the schedule
// it describes (without name, group and dates).
func (s *Service) check(in *scheduleInput) (*Schedule, error) {
	switch {
	case in.ScheduleExpression == "":
		return nil, validation("1 validation error detected: Value null at 'scheduleExpression' failed to satisfy constraint: Member must not be null")
	case in.FlexibleTimeWindow == nil:
		return nil, validation("1 validation error detected: Value null at 'flexibleTimeWindow' failed to satisfy constraint: Member must not be null")
	case in.Target == nil:
		return nil, validation("1 validation error detected: Value null at 'target' failed to satisfy constraint: Member must not be null")
	case len(in.Description) > 512:
		return nil, validation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 512")
	case in.KmsKeyArn != "":
		return nil, validation("Nimbus does not implement customer managed KMS keys on schedules (KmsKeyArn) yet.")
	}
	switch in.State {
	case "":
		in.State = "ENABLED"
	case "ENABLED", "DISABLED":
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]", in.State)
	}
	switch in.ActionAfterCompletion {
	case "", "NONE", "DELETE":
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'actionAfterCompletion' failed to satisfy constraint: Member must satisfy enum value set: [NONE, DELETE]", in.ActionAfterCompletion)
	}
	ftw := *in.FlexibleTimeWindow
	switch ftw.Mode {
	case "OFF":
		ftw.MaximumWindowInMinutes = nil
	case "FLEXIBLE":
		if m := ftw.MaximumWindowInMinutes; m == nil || *m < 1 || *m > 1440 {
			return nil, validation("MaximumWindowInMinutes must be between 1 and 1440 when FlexibleTimeWindow's Mode is FLEXIBLE.")
		}
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'flexibleTimeWindow.mode' failed to satisfy constraint: Member must satisfy enum value set: [OFF, FLEXIBLE]", ftw.Mode)
	}
	e, err := ParseExpr(in.ScheduleExpression, in.ScheduleExpressionTimezone)
	if err != nil {
		return nil, validation("Invalid Schedule Expression %s: %v.", in.ScheduleExpression, err)
	}
	if in.StartDate != nil && in.EndDate != nil && *in.EndDate <= *in.StartDate {
		return nil, validation("The EndDate must be after the StartDate.")
	}
	now := s.clock.Now()
	if in.EndDate != nil && !fromEpoch(*in.EndDate).After(now) {
		return nil, validation("The EndDate must be in the future.")
	}
	if !e.OneTime() {
		// A cron that never fires (a date that does not exist, years
		// passed) is refused, as AWS refuses it.
		from := now
		if in.StartDate != nil && fromEpoch(*in.StartDate).After(from) {
			from = fromEpoch(*in.StartDate)
		}
		n, ok := e.Next(from, from)
		if !ok || (in.EndDate != nil && n.After(fromEpoch(*in.EndDate))) {
			return nil, validation("Invalid Schedule Expression %s: it has no due time between the schedule's start and end.", in.ScheduleExpression)
		}
	}
	if err := s.checkTarget(in.Target); err != nil {
		return nil, err
	}
	t := *in.Target
	if t.RetryPolicy == nil {
		t.RetryPolicy = &RetryPolicy{}
	}
	if t.RetryPolicy.MaximumEventAgeInSeconds == nil {
		v := defaultMaxEventAge
		t.RetryPolicy.MaximumEventAgeInSeconds = &v
	}
	if t.RetryPolicy.MaximumRetryAttempts == nil {
		v := defaultMaxRetries
		t.RetryPolicy.MaximumRetryAttempts = &v
	}
	return &Schedule{
		Description: in.Description, ScheduleExpression: in.ScheduleExpression,
		ScheduleExpressionTimezone: in.ScheduleExpressionTimezone, StartDate: in.StartDate, EndDate: in.EndDate,
		FlexibleTimeWindow: ftw, State: in.State, ActionAfterCompletion: in.ActionAfterCompletion, Target: t,
	}, nil
}

func fromEpoch(v float64) time.Time { return time.UnixMilli(int64(v * 1000)) }

// universal are the universal targets (arn:aws:scheduler:::aws-sdk:<service>:<action>) Nimbus serves.
var universal = map[string]bool{"sqs:sendMessage": true, "lambda:invoke": true}

// checkTarget validates a target: its ARN names a resource of this
// account and region of a service Nimbus delivers to.
func (s *Service) checkTarget(t *Target) error {
	switch {
	case t.Arn == "" || len(t.Arn) > 1600:
		return validation("1 validation error detected: Value at 'target.arn' failed to satisfy constraint: Member must have length between 1 and 1600")
	case !rolePattern().MatchString(t.RoleArn):
		return validation("1 validation error detected: Value '%s' at 'target.roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: ^arn:aws(-[a-z]+)?:iam::\\d{12}:role\\/[\\w+=,.@\\/-]+$", t.RoleArn)
	case t.EcsParameters != nil:
		return validation("Nimbus does not run Amazon ECS tasks (EcsParameters).")
	case t.KinesisParameters != nil:
		return validation("Nimbus does not deliver to Amazon Kinesis targets yet (KinesisParameters).")
	case t.SageMakerPipelineParameters != nil:
		return validation("Nimbus does not start Amazon SageMaker pipelines (SageMakerPipelineParameters).")
	case t.Input != nil && (len(*t.Input) == 0 || len(*t.Input) > maxInput):
		return validation("1 validation error detected: Value at 'target.input' failed to satisfy constraint: Member must have length between 1 and %d", maxInput)
	}
	if p := t.RetryPolicy; p != nil {
		if v := p.MaximumRetryAttempts; v != nil && (*v < 0 || *v > 185) {
			return validation("1 validation error detected: Value '%d' at 'target.retryPolicy.maximumRetryAttempts' failed to satisfy constraint: Member must have value between 0 and 185", *v)
		}
		if v := p.MaximumEventAgeInSeconds; v != nil && (*v < 60 || *v > 86400) {
			return validation("1 validation error detected: Value '%d' at 'target.retryPolicy.maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value between 60 and 86400", *v)
		}
	}
	if d := t.DeadLetterConfig; d != nil && d.Arn != "" {
		if deliver.Service(d.Arn) != "sqs" {
			return validation("DeadLetterConfig Arn %s is not an SQS queue ARN.", d.Arn)
		}
		if err := s.ownArn(d.Arn); err != nil {
			return err
		}
		if !s.deliveries.Has("sqs") {
			return validation("Nimbus does not serve Amazon SQS, so DeadLetterConfig %s cannot receive firings.", d.Arn)
		}
	}
	if rest, ok := strings.CutPrefix(t.Arn, "arn:aws:scheduler:::aws-sdk:"); ok {
		if !universal[rest] {
			return validation("Nimbus does not serve the universal target aws-sdk:%s yet; it serves aws-sdk:sqs:sendMessage and aws-sdk:lambda:invoke.", rest)
		}
		if t.Input == nil || !json.Valid([]byte(*t.Input)) {
			return validation("A universal target's Input must be the JSON request of aws-sdk:%s.", rest)
		}
		return nil
	}
	if err := s.ownArn(t.Arn); err != nil {
		return err
	}
	switch deliver.Service(t.Arn) {
	case "events":
		if !strings.Contains(t.Arn, ":event-bus/") {
			return validation("Target %s is not an event bus ARN.", t.Arn)
		}
		if s.bus == nil {
			return validation("Nimbus does not serve Amazon EventBridge on this node.")
		}
		p := t.EventBridgeParameters
		if p == nil || p.DetailType == "" || p.Source == "" || len(p.DetailType) > 128 || len(p.Source) > 256 || strings.HasPrefix(p.Source, "aws.") {
			return validation("An event bus target needs EventBridgeParameters with a DetailType (1-128 characters) and a Source (1-256 characters, not starting with aws.).")
		}
		return nil
	case "sqs":
		if strings.HasSuffix(t.Arn, ".fifo") && (t.SqsParameters == nil || t.SqsParameters.MessageGroupID == "") {
			return validation("A FIFO queue target needs SqsParameters.MessageGroupId.")
		}
	}
	if err := s.deliveries.Check(t.Arn); err != nil {
		return validation("%v.", err)
	}
	return nil
}

// ownArn refuses an ARN of another account or region: delivery finds a
// resource by name, so it would reach this account's namesake.
func (s *Service) ownArn(arn string) error {
	a, ok := deliver.Parse(arn)
	if !ok {
		return validation("%s is not an ARN.", arn)
	}
	if a.Region != s.region || a.Account != s.account {
		return validation("%s is in account %q, region %q; Nimbus delivers only to resources of its own account %s in region %s.",
			arn, a.Account, a.Region, s.account, s.region)
	}
	return nil
}

func (s *Service) getSchedule(r *http.Request, name, group string) (any, error) {
	if group == "" {
		group = DefaultGroup
	}
	if err := checkName(name, "name"); err != nil {
		return nil, err
	}
	if err := checkName(group, "groupName"); err != nil {
		return nil, err
	}
	var st stored
	if _, err := getJSON(r.Context(), s.kv, schedKey(group, name), &st); err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, notFound("Schedule %s does not exist.", name)
		}
		return nil, err
	}
	return st.Schedule, nil
}

// deleteSchedule deletes a schedule. With a ClientToken, a repeat of a
// delete that succeeded succeeds again (the SDKs retry with the token)
// rather than answer ResourceNotFoundException.
func (s *Service) deleteSchedule(r *http.Request, name, group, token string) (any, error) {
	if group == "" {
		group = DefaultGroup
	}
	if err := checkName(name, "name"); err != nil {
		return nil, err
	}
	if err := checkName(group, "groupName"); err != nil {
		return nil, err
	}
	ctx := r.Context()
	arn := s.scheduleArn(group, name)
	digest := requestDigest("DeleteSchedule", group+"/"+name, nil)
	if _, done, err := s.claimToken(ctx, token, digest, arn); err != nil || done {
		return struct{}{}, err
	}
	key := schedKey(group, name)
	if _, err := s.kv.Get(ctx, key); err != nil {
		s.releaseToken(ctx, token)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, notFound("Schedule %s does not exist.", name)
		}
		return nil, fmt.Errorf("get schedule: %w", err)
	}
	if err := s.kv.Delete(ctx, key); err != nil {
		s.releaseToken(ctx, token)
		return nil, fmt.Errorf("delete schedule: %w", err)
	}
	s.finishToken(ctx, token, digest, arn)
	return struct{}{}, nil
}

type scheduleSummary struct {
	Arn                  string
	Name                 string
	GroupName            string
	State                string
	CreationDate         float64
	LastModificationDate float64
	Target               struct{ Arn string }
}

func (s *Service) listSchedules(r *http.Request, q url.Values) (any, error) {
	limit, err := maxResults(q)
	if err != nil {
		return nil, err
	}
	filter := "sched.>"
	if g := q.Get("ScheduleGroup"); g != "" {
		if err := checkName(g, "groupName"); err != nil {
			return nil, err
		}
		if _, err := s.group(r, g); err != nil {
			return nil, err
		}
		filter = "sched." + hexName(g) + ".>"
	}
	state := q.Get("State")
	if state != "" && state != "ENABLED" && state != "DISABLED" {
		return nil, validation("1 validation error detected: Value '%s' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]", state)
	}
	prefix := q.Get("NamePrefix")
	ks, err := keys(r.Context(), s.kv, filter)
	if err != nil {
		return nil, err
	}
	var out []scheduleSummary
	for _, k := range ks {
		if _, name, ok := parseSchedKey(k); !ok || !strings.HasPrefix(name, prefix) {
			continue
		}
		var st stored
		if _, err := getJSON(r.Context(), s.kv, k, &st); err != nil {
			continue
		}
		if state != "" && st.State != state {
			continue
		}
		sum := scheduleSummary{Arn: st.Arn, Name: st.Name, GroupName: st.GroupName, State: st.State,
			CreationDate: st.CreationDate, LastModificationDate: st.LastModificationDate}
		sum.Target.Arn = st.Target.Arn
		out = append(out, sum)
	}
	out, next, err := page(out, func(x scheduleSummary) string { return x.GroupName + "/" + x.Name }, q.Get("NextToken"), limit)
	if err != nil {
		return nil, err
	}
	res := map[string]any{"Schedules": nonNil(out)}
	if next != "" {
		res["NextToken"] = next
	}
	return res, nil
}
