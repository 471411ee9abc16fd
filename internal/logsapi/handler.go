// Package logsapi serves the subset of the CloudWatch Logs API that the
// AWS CLI's `aws logs tail`, `aws logs filter-log-events` and
// `aws logs get-log-events` need, over the JSON 1.1 protocol (POST / with
// X-Amz-Target: Logs_20140328.<Operation>): DescribeLogGroups,
// DescribeLogStreams, GetLogEvents, FilterLogEvents (with the filter-pattern
// syntax in pattern.go), StartLiveTail (an event stream, livetail.go),
// CreateLogGroup, DeleteLogGroup, PutRetentionPolicy and
// DeleteRetentionPolicy. Errors travel as CloudWatch Logs sends them:
// HTTP 400 with {"__type": ..., "message": ...}.
//
// It reads from internal/logstore and makes the lines logged before a
// request visible to it (Options.Flush). Only the daemon imports it.
package logsapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/logstore"
)

// TargetPrefix is the X-Amz-Target prefix of CloudWatch Logs requests.
const TargetPrefix = "Logs_20140328."

// Options configures a Handler.
type Options struct {
	Store *logstore.Store
	// Flush, when set, is called before reads so that lines logged before
	// the request are visible (the log writer batches asynchronously).
	Flush             func(ctx context.Context) error
	Region, AccountID string
	Logger            *slog.Logger
	// Now is the clock (creation times); default time.Now.
	Now func() time.Time
	// Storage, when set, is the backbone's disk (*store.Store): while it
	// is full, writes (CreateLogGroup, PutRetentionPolicy; deletes free
	// space and go on) are refused, and a write that failed for lack of
	// storage, like any error of the awsapi.Unavailable category, is
	// answered ServiceUnavailableException saying storage is full.
	Storage Storage
}

// Handler is the CloudWatch Logs API.
type Handler struct {
	opts Options
	log  *slog.Logger
	svc  *awsapi.JSONService

	liveTails  atomic.Int64  // StartLiveTail sessions open
	tailLength time.Duration // a live tail session's length (LiveTailSessionLength; tests shorten it)
}

// New returns the API handler.
func New(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &Handler{opts: opts, log: opts.Logger, tailLength: LiveTailSessionLength}
	h.svc = h.service()
	return h
}

// Storage reports the state of the backbone's disk.
type Storage interface {
	StorageErr() error
	StorageFull(err error) bool
}

func (h *Handler) storageFull(err error) bool {
	if tr := awsapi.Transient(nil); errors.As(err, &tr) {
		return false // a backbone electing a leader: the service's 503
	}
	var u awsapi.Unavailable
	return errors.As(err, &u) || h.opts.Storage != nil && h.opts.Storage.StorageFull(err)
}

// storageErr refuses a write while the disk is full.
func (h *Handler) storageErr() error {
	if h.opts.Storage == nil {
		return nil
	}
	return h.opts.Storage.StorageErr()
}

// IsLogsRequest reports whether r is a CloudWatch Logs API call.
func IsLogsRequest(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
}

// apiError is a CloudWatch Logs error.
type apiError struct {
	status int
	typ    string
	msg    string
}

func (e *apiError) Error() string { return e.typ + ": " + e.msg }

func invalidParam(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidParameterException", fmt.Sprintf(format, args...)}
}

var (
	errGroupNotFound  = &apiError{http.StatusBadRequest, "ResourceNotFoundException", "The specified log group does not exist."}
	errStreamNotFound = &apiError{http.StatusBadRequest, "ResourceNotFoundException", "The specified log stream does not exist."}
	errGroupExists    = &apiError{http.StatusBadRequest, "ResourceAlreadyExistsException", "The specified log group already exists"}
)

const maxBody = 1 << 20

// ServeHTTP answers one request through the shared JSON-protocol server.
// StartLiveTail answers an event stream, written as it goes
// (livetail.go).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") == TargetPrefix+"StartLiveTail" {
		h.serveLiveTail(w, r)
		return
	}
	h.svc.ServeHTTP(w, r)
}

// service is the JSON 1.1 protocol server over the operations.
func (h *Handler) service() *awsapi.JSONService {
	group := func(op string) awsapi.JSONOp {
		return awsapi.Op(func(ctx context.Context, in *groupIn) (any, error) { return h.groupOp(ctx, op, in) })
	}
	return &awsapi.JSONService{
		Prefix: TargetPrefix, Protocol: awsapi.ProtocolJSON11, Name: "CloudWatch Logs",
		Ops: map[string]awsapi.JSONOp{
			"DescribeLogGroups":     awsapi.Op(h.describeGroups),
			"DescribeLogStreams":    awsapi.Op(h.describeStreams),
			"GetLogEvents":          awsapi.Op(h.getEvents),
			"FilterLogEvents":       awsapi.Op(h.filterEvents),
			"CreateLogGroup":        group("CreateLogGroup"),
			"DeleteLogGroup":        group("DeleteLogGroup"),
			"DeleteRetentionPolicy": group("DeleteRetentionPolicy"),
			"PutRetentionPolicy":    group("PutRetentionPolicy"),
		},
		Refused: map[string]string{
			"PutLogEvents":          "writes from outside a function (functions' output is their log)",
			"CreateLogStream":       "log streams made through the API (a function's streams are made as it runs)",
			"StartQuery":            "Logs Insights queries",
			"PutMetricFilter":       "metric filters",
			"PutSubscriptionFilter": "subscription filters",
		},
		MaxBody:  maxBody,
		TooLarge: &awsapi.Error{Status: http.StatusBadRequest, Code: "InvalidParameterException", Type: "User", Message: fmt.Sprintf("The request body is larger than %d bytes.", maxBody)},
		MapError: h.mapError,
		Internal: "ServiceUnavailableException",
		Log:      h.log,
	}
}

// mapError turns the store's and this package's errors into the client's.
func (h *Handler) mapError(err error) *awsapi.Error {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, logstore.ErrNotFound):
		ae = errGroupNotFound
	case errors.Is(err, logstore.ErrExists):
		ae = errGroupExists
	case h.storageFull(err):
		h.log.Warn("request refused: storage is full", "err", err)
		ae = &apiError{http.StatusInternalServerError, "ServiceUnavailableException",
			"The service cannot complete the request: the node's storage is full. Retry once space has been freed."}
	default:
		return nil
	}
	return &awsapi.Error{Status: ae.status, Code: ae.typ, Message: ae.msg, Type: "User"}
}

// --- validation ---

var groupNameRE = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]+$`)

func checkGroupName(field, name string) error {
	if len(name) < 1 || len(name) > 512 {
		return invalidParam("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length between 1 and 512", name, field)
	}
	if !groupNameRE.MatchString(name) {
		return invalidParam("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+", name, field)
	}
	return nil
}

// groupName takes logGroupName or logGroupIdentifier (a name or an ARN).
func groupName(name, ident *string, required bool) (string, error) {
	switch {
	case name != nil && ident != nil:
		return "", invalidParam("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	case name != nil:
		return *name, checkGroupName("logGroupName", *name)
	case ident != nil:
		id := *ident
		if strings.HasPrefix(id, "arn:") {
			if _, rest, ok := strings.Cut(id, ":log-group:"); ok {
				id = strings.TrimSuffix(rest, ":*")
			}
		}
		return id, checkGroupName("logGroupIdentifier", id)
	case required:
		return "", invalidParam("Should provide either name or ARN of the log group.")
	}
	return "", nil
}

func checkLimit(limit *int, maxV, def int) (int, error) {
	if limit == nil {
		return def, nil
	}
	if *limit < 1 || *limit > maxV {
		return 0, invalidParam("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d", *limit, maxV)
	}
	return *limit, nil
}

func (h *Handler) flush(ctx context.Context) {
	if h.opts.Flush != nil {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = h.opts.Flush(fctx) // best effort: a slow backbone must not fail reads
		cancel()
	}
}

func (h *Handler) groupArn(name string) string {
	return "arn:aws:logs:" + h.opts.Region + ":" + h.opts.AccountID + ":log-group:" + name
}

// --- groups ---

type describeGroupsIn struct {
	LogGroupNamePrefix  *string `json:"logGroupNamePrefix"`
	LogGroupNamePattern *string `json:"logGroupNamePattern"`
	NextToken           *string `json:"nextToken"`
	Limit               *int    `json:"limit"`
}

type logGroupOut struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	RetentionInDays   *int   `json:"retentionInDays,omitempty"`
	MetricFilterCount int    `json:"metricFilterCount"`
	Arn               string `json:"arn"`
	StoredBytes       int64  `json:"storedBytes"`
	LogGroupClass     string `json:"logGroupClass"`
	LogGroupArn       string `json:"logGroupArn"`
}

func (h *Handler) describeGroups(ctx context.Context, in *describeGroupsIn) (any, error) {
	limit, err := checkLimit(in.Limit, 50, 50)
	if err != nil {
		return nil, err
	}
	if in.LogGroupNamePrefix != nil && in.LogGroupNamePattern != nil {
		return nil, invalidParam("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
	}
	prefix := ""
	if in.LogGroupNamePrefix != nil {
		if err := checkGroupName("logGroupNamePrefix", *in.LogGroupNamePrefix); err != nil {
			return nil, err
		}
		prefix = *in.LogGroupNamePrefix
	}
	h.flush(ctx) // a function's group appears with its first line
	groups, err := h.opts.Store.Groups(ctx, prefix)
	if err != nil {
		return nil, err
	}
	if in.LogGroupNamePattern != nil {
		groups = slices.DeleteFunc(groups, func(g logstore.Group) bool {
			return !strings.Contains(strings.ToLower(g.Name), strings.ToLower(*in.LogGroupNamePattern))
		})
	}
	if in.NextToken != nil {
		i := slices.IndexFunc(groups, func(g logstore.Group) bool { return g.Name > *in.NextToken })
		if i < 0 {
			i = len(groups)
		}
		groups = groups[i:]
	}
	out := struct {
		LogGroups []logGroupOut `json:"logGroups"`
		NextToken *string       `json:"nextToken,omitempty"`
	}{LogGroups: []logGroupOut{}}
	for i, g := range groups {
		if i == limit {
			tok := groups[i-1].Name
			out.NextToken = &tok
			break
		}
		o := logGroupOut{LogGroupName: g.Name, CreationTime: g.CreationTime, Arn: h.groupArn(g.Name) + ":*",
			LogGroupArn: h.groupArn(g.Name), LogGroupClass: "STANDARD"}
		if g.RetentionDays > 0 {
			d := g.RetentionDays
			o.RetentionInDays = &d
		}
		out.LogGroups = append(out.LogGroups, o)
	}
	return out, nil
}

type groupIn struct {
	LogGroupName    *string `json:"logGroupName"`
	RetentionInDays *int    `json:"retentionInDays"`
}

// retentionDays are the values PutRetentionPolicy accepts.
var retentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

func (h *Handler) groupOp(ctx context.Context, op string, in *groupIn) (any, error) {
	if in.LogGroupName == nil {
		return nil, invalidParam("1 validation error detected: Value null at 'logGroupName' failed to satisfy constraint: Member must not be null")
	}
	name := *in.LogGroupName
	if err := checkGroupName("logGroupName", name); err != nil {
		return nil, err
	}
	if op == "CreateLogGroup" || op == "PutRetentionPolicy" {
		if err := h.storageErr(); err != nil {
			return nil, err
		}
	}
	var err error
	switch op {
	case "CreateLogGroup":
		err = h.opts.Store.CreateGroup(ctx, name, h.opts.Now())
	case "DeleteLogGroup":
		err = h.opts.Store.DeleteGroup(ctx, name)
	case "DeleteRetentionPolicy":
		err = h.opts.Store.SetRetention(ctx, name, 0)
	case "PutRetentionPolicy":
		if in.RetentionInDays == nil {
			return nil, invalidParam("1 validation error detected: Value null at 'retentionInDays' failed to satisfy constraint: Member must not be null")
		}
		if !slices.Contains(retentionDays, *in.RetentionInDays) {
			vals := make([]string, len(retentionDays))
			for i, d := range retentionDays {
				vals[i] = fmt.Sprint(d)
			}
			return nil, invalidParam("1 validation error detected: Value '%d' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [%s]",
				*in.RetentionInDays, strings.Join(vals, ", "))
		}
		err = h.opts.Store.SetRetention(ctx, name, *in.RetentionInDays)
	}
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// --- streams ---

type describeStreamsIn struct {
	LogGroupName        *string `json:"logGroupName"`
	LogGroupIdentifier  *string `json:"logGroupIdentifier"`
	LogStreamNamePrefix *string `json:"logStreamNamePrefix"`
	OrderBy             *string `json:"orderBy"`
	Descending          bool    `json:"descending"`
	NextToken           *string `json:"nextToken"`
	Limit               *int    `json:"limit"`
}

type logStreamOut struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp int64  `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  int64  `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   int64  `json:"lastIngestionTime,omitempty"`
	Arn                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

func (h *Handler) describeStreams(ctx context.Context, in *describeStreamsIn) (any, error) {
	group, err := groupName(in.LogGroupName, in.LogGroupIdentifier, true)
	if err != nil {
		return nil, err
	}
	limit, err := checkLimit(in.Limit, 50, 50)
	if err != nil {
		return nil, err
	}
	orderBy := "LogStreamName"
	if in.OrderBy != nil {
		orderBy = *in.OrderBy
	}
	if orderBy != "LogStreamName" && orderBy != "LastEventTime" {
		return nil, invalidParam("1 validation error detected: Value '%s' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]", orderBy)
	}
	prefix := ""
	if in.LogStreamNamePrefix != nil {
		if orderBy == "LastEventTime" {
			return nil, invalidParam("Cannot order by LastEventTime with a logStreamNamePrefix.")
		}
		prefix = *in.LogStreamNamePrefix
	}
	h.flush(ctx)
	streams, err := h.opts.Store.Streams(ctx, group, prefix)
	if err != nil {
		return nil, err
	}
	if orderBy == "LastEventTime" {
		slices.SortStableFunc(streams, func(a, b logstore.LogStream) int {
			return int(a.LastEventTimestamp - b.LastEventTimestamp)
		})
	}
	if in.Descending {
		slices.Reverse(streams)
	}
	start := 0
	if in.NextToken != nil {
		i := slices.IndexFunc(streams, func(s logstore.LogStream) bool { return s.Name == *in.NextToken })
		if i < 0 {
			return nil, invalidParam("The specified nextToken is invalid.")
		}
		start = i + 1
	}
	out := struct {
		LogStreams []logStreamOut `json:"logStreams"`
		NextToken  *string        `json:"nextToken,omitempty"`
	}{LogStreams: []logStreamOut{}}
	for i := start; i < len(streams); i++ {
		if i-start == limit {
			tok := streams[i-1].Name
			out.NextToken = &tok
			break
		}
		s := streams[i]
		out.LogStreams = append(out.LogStreams, logStreamOut{
			LogStreamName: s.Name, CreationTime: s.CreationTime, FirstEventTimestamp: s.FirstEventTimestamp,
			LastEventTimestamp: s.LastEventTimestamp, LastIngestionTime: s.LastIngestionTime,
			Arn: h.groupArn(group) + ":log-stream:" + s.Name,
		})
	}
	return out, nil
}
