package cloudwatch

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// Alarm states, comparison operators and missing-data treatments.
const (
	StateOK               = "OK"
	StateAlarm            = "ALARM"
	StateInsufficientData = "INSUFFICIENT_DATA"

	maxAlarmActions  = 5
	maxHistoryItems  = 100
	maxDescribeNames = 100
)

var comparisons = map[string]func(v, t float64) bool{
	"GreaterThanOrEqualToThreshold": func(v, t float64) bool { return v >= t },
	"GreaterThanThreshold":          func(v, t float64) bool { return v > t },
	"LessThanThreshold":             func(v, t float64) bool { return v < t },
	"LessThanOrEqualToThreshold":    func(v, t float64) bool { return v <= t },
}

var comparisonWords = map[string]string{
	"GreaterThanOrEqualToThreshold": "greater than or equal to", "GreaterThanThreshold": "greater than",
	"LessThanThreshold": "less than", "LessThanOrEqualToThreshold": "less than or equal to",
}

var treatments = map[string]bool{"": true, "missing": true, "breaching": true, "notBreaching": true, "ignore": true}

// alarmRecord is an alarm as the KV bucket keeps it: a metric alarm or a
// composite alarm.
type alarmRecord struct {
	Metric    *MetricAlarm    `json:"metric,omitempty"`
	Composite *CompositeAlarm `json:"composite,omitempty"`
	Tags      []Tag           `json:"tags,omitempty"`
}

func (r *alarmRecord) name() string {
	if r.Metric != nil {
		return r.Metric.AlarmName
	}
	return r.Composite.AlarmName
}

func (r *alarmRecord) state() string {
	if r.Metric != nil {
		return r.Metric.StateValue
	}
	return r.Composite.StateValue
}

// The bucket's keys: names are hex-encoded (any character may be in
// one), so the keys sort by name.
func alarmKey(name string) string   { return "alarm." + hex.EncodeToString([]byte(name)) }
func historyKey(name string) string { return "history." + hex.EncodeToString([]byte(name)) }

func (s *Service) alarmArn(name string) string {
	return "arn:aws:cloudwatch:" + s.opts.Region + ":" + s.opts.AccountID + ":alarm:" + name
}

// getAlarm reads an alarm and its revision (nil when absent).
func (s *Service) getAlarm(ctx context.Context, name string) (*alarmRecord, uint64, error) {
	e, err := s.kv.Get(ctx, alarmKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read alarm: %w", err)
	}
	var r alarmRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, 0, fmt.Errorf("decode alarm: %w", err)
	}
	return &r, e.Revision(), nil
}

// allAlarms reads every alarm, sorted by name.
func (s *Service) allAlarms(ctx context.Context) ([]*alarmRecord, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, "alarm.>")
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("list alarms: %w", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*alarmRecord, 0, len(keys))
	for _, k := range keys {
		e, err := s.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read alarm: %w", err)
		}
		var r alarmRecord
		if json.Unmarshal(e.Value(), &r) == nil && (r.Metric != nil || r.Composite != nil) {
			out = append(out, &r)
		}
	}
	return out, nil
}

// putAlarm writes r (create when rev is 0, else compare-and-swap).
func (s *Service) putAlarm(ctx context.Context, r *alarmRecord, rev uint64) (uint64, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("encode alarm: %w", err)
	}
	if rev == 0 {
		return s.kv.Create(ctx, alarmKey(r.name()), b)
	}
	return s.kv.Update(ctx, alarmKey(r.name()), b, rev)
}

// updateAlarm applies f to the alarm's current record, retrying on a
// concurrent write. f returns false to write nothing.
func (s *Service) updateAlarm(ctx context.Context, name string, f func(*alarmRecord) bool) (*alarmRecord, error) {
	for range 10 {
		r, rev, err := s.getAlarm(ctx, name)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, nil
		}
		if !f(r) {
			return r, nil
		}
		if _, err := s.putAlarm(ctx, r, rev); err == nil {
			return r, nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongSequence(err) {
			return nil, fmt.Errorf("write alarm: %w", err)
		}
	}
	return nil, errors.New("write alarm: too many concurrent updates")
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// addHistory appends items to an alarm's history (the newest
// maxHistoryItems kept).
func (s *Service) addHistory(ctx context.Context, name string, items ...AlarmHistoryItem) {
	for range 10 {
		var hist []AlarmHistoryItem
		var rev uint64
		e, err := s.kv.Get(ctx, historyKey(name))
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			s.log.Warn("read alarm history", "alarm", name, "err", err)
			return
		default:
			rev = e.Revision()
			_ = json.Unmarshal(e.Value(), &hist)
		}
		hist = append(hist, items...)
		if len(hist) > maxHistoryItems {
			hist = hist[len(hist)-maxHistoryItems:]
		}
		b, _ := json.Marshal(hist)
		if rev == 0 {
			_, err = s.kv.Create(ctx, historyKey(name), b)
		} else {
			_, err = s.kv.Update(ctx, historyKey(name), b, rev)
		}
		if err == nil {
			return
		}
	}
	s.log.Warn("write alarm history: too many concurrent updates", "alarm", name)
}

func (s *Service) checkActions(param string, arns []string) error {
	if len(arns) > maxAlarmActions {
		return errInvalidf("The collection %s must not have a size greater than %d.", param, maxAlarmActions)
	}
	for i, a := range arns {
		if s.opts.Actions == nil {
			return errInvalidf("The value %s for parameter %s.member.%d is invalid: this node delivers no alarm actions.", truncate(a, 256), param, i+1)
		}
		if err := s.opts.Actions.Check(a); err != nil {
			return errInvalidf("The value %s for parameter %s.member.%d is invalid: %v.", truncate(a, 256), param, i+1, err)
		}
	}
	return nil
}

func orEmpty(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

func (s *Service) putMetricAlarm(ctx context.Context, in *PutMetricAlarmInput) (*Empty, error) {
	if err := s.checkAlarm(in); err != nil {
		return nil, err
	}
	now := Time{s.now().UTC()}
	a := &MetricAlarm{
		AlarmName: in.AlarmName, AlarmArn: s.alarmArn(in.AlarmName), AlarmDescription: in.AlarmDescription,
		AlarmConfigurationUpdatedTimestamp: now, ActionsEnabled: in.ActionsEnabled == nil || *in.ActionsEnabled,
		OKActions: orEmpty(in.OKActions), AlarmActions: orEmpty(in.AlarmActions), InsufficientDataActions: orEmpty(in.InsufficientDataActions),
		StateValue: StateInsufficientData, StateReason: "Unchecked: Initial alarm creation", StateUpdatedTimestamp: now,
		StateTransitionedTimestamp: now,
		MetricName:                 in.MetricName, Namespace: in.Namespace, Statistic: in.Statistic, ExtendedStatistic: in.ExtendedStatistic,
		Dimensions: in.Dimensions, Unit: in.Unit, EvaluationPeriods: *in.EvaluationPeriods, ComparisonOperator: in.ComparisonOperator,
		TreatMissingData: in.TreatMissingData, EvaluateLowSampleCountPercentile: in.EvaluateLowSampleCountPercentile, Metrics: in.Metrics,
	}
	if a.Dimensions == nil {
		a.Dimensions = []Dimension{}
	}
	if in.Period != nil {
		a.Period = *in.Period
	}
	if in.DatapointsToAlarm != nil {
		a.DatapointsToAlarm = *in.DatapointsToAlarm
	}
	if in.Threshold != nil {
		a.Threshold = *in.Threshold
	}
	summary := fmt.Sprintf("Alarm %q created", in.AlarmName)
	for range 10 {
		old, rev, err := s.getAlarm(ctx, in.AlarmName)
		if err != nil {
			return nil, err
		}
		if old != nil {
			if old.Metric == nil {
				return nil, errInvalidf("The alarm %s is a composite alarm; PutMetricAlarm cannot change it.", in.AlarmName)
			}
			// An update keeps the state; the configuration is replaced.
			o := old.Metric
			a.StateValue, a.StateReason, a.StateReasonData = o.StateValue, o.StateReason, o.StateReasonData
			a.StateUpdatedTimestamp, a.StateTransitionedTimestamp = o.StateUpdatedTimestamp, o.StateTransitionedTimestamp
			summary = fmt.Sprintf("Alarm %q updated", in.AlarmName)
		}
		_, err = s.putAlarm(ctx, &alarmRecord{Metric: a, Tags: in.Tags}, rev)
		if err == nil {
			data, _ := json.Marshal(map[string]any{"type": "Create", "version": "1.0", "createdAlarm": a})
			s.addHistory(ctx, in.AlarmName, AlarmHistoryItem{AlarmName: in.AlarmName, AlarmType: "MetricAlarm", Timestamp: now,
				HistoryItemType: "ConfigurationUpdate", HistorySummary: summary, HistoryData: string(data)})
			return &Empty{}, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongSequence(err) {
			return nil, fmt.Errorf("write alarm: %w", err)
		}
	}
	return nil, errors.New("write alarm: too many concurrent updates")
}

// alarmPeriods are the periods an alarm may have.
func validAlarmPeriod(p int64) bool { return p == 10 || p == 30 || (p > 0 && p%60 == 0) }

func (s *Service) checkAlarm(in *PutMetricAlarmInput) error {
	switch {
	case in.AlarmName == "":
		return errMissing("AlarmName")
	case len(in.AlarmName) > maxNameLen:
		return errInvalidf("The parameter AlarmName must be shorter than %d characters.", maxNameLen+1)
	case len(in.AlarmDescription) > 1024:
		return errInvalid("The parameter AlarmDescription must be shorter than 1025 characters.")
	case in.EvaluationPeriods == nil:
		return errMissing("EvaluationPeriods")
	case *in.EvaluationPeriods < 1:
		return errInvalid("The parameter EvaluationPeriods must be greater than or equal to 1.")
	case in.ComparisonOperator == "":
		return errMissing("ComparisonOperator")
	case in.ThresholdMetricID != "":
		return errInvalid("Anomaly detection alarms (ThresholdMetricId) are not supported by Nimbus.")
	case comparisons[in.ComparisonOperator] == nil:
		return errInvalidf("The value %s for parameter ComparisonOperator is invalid.", truncate(in.ComparisonOperator, 64))
	case in.Threshold == nil:
		return errMissing("Threshold")
	case !treatments[in.TreatMissingData]:
		return errInvalidf("The value %s for parameter TreatMissingData is invalid.", truncate(in.TreatMissingData, 64))
	case in.DatapointsToAlarm != nil && (*in.DatapointsToAlarm < 1 || *in.DatapointsToAlarm > *in.EvaluationPeriods):
		return errInvalid("The parameter DatapointsToAlarm must be between 1 and EvaluationPeriods.")
	case in.EvaluateLowSampleCountPercentile != "" && in.EvaluateLowSampleCountPercentile != "evaluate" && in.EvaluateLowSampleCountPercentile != "ignore":
		return errInvalidf("The value %s for parameter EvaluateLowSampleCountPercentile is invalid.", truncate(in.EvaluateLowSampleCountPercentile, 64))
	case in.Unit != "" && !units[in.Unit]:
		return errInvalidf("The value %s for parameter Unit is invalid.", truncate(in.Unit, 64))
	}
	for _, c := range []struct {
		p string
		a []string
	}{{"OKActions", in.OKActions}, {"AlarmActions", in.AlarmActions}, {"InsufficientDataActions", in.InsufficientDataActions}} {
		if err := s.checkActions(c.p, c.a); err != nil {
			return err
		}
	}
	single := in.MetricName != "" || in.Namespace != "" || in.Statistic != "" || in.ExtendedStatistic != "" || in.Period != nil || len(in.Dimensions) > 0
	if len(in.Metrics) > 0 {
		if single {
			return errCombination("The parameters Metrics and MetricName, Namespace, Statistic, ExtendedStatistic, Dimensions or Period are mutually exclusive.")
		}
		if len(in.Metrics) > 10 {
			return errInvalid("The collection Metrics must not have a size greater than 10.")
		}
		if err := checkQueries(in.Metrics, "Metrics"); err != nil {
			return err
		}
		returned := 0
		for i, q := range in.Metrics {
			if q.ReturnData == nil || *q.ReturnData {
				returned++
			}
			if q.MetricStat != nil && !validAlarmPeriod(q.MetricStat.Period) {
				return errInvalidf("The parameter Metrics.member.%d.MetricStat.Period must be 10, 30 or a multiple of 60.", i+1)
			}
		}
		if returned != 1 {
			return errInvalid("Exactly one element of the Metrics list must return data (ReturnData true).")
		}
		return nil
	}
	switch {
	case in.MetricName == "":
		return errMissing("MetricName")
	case in.Period == nil:
		return errMissing("Period")
	case !validAlarmPeriod(*in.Period):
		return errInvalid("The parameter Period must be 10, 30 or a multiple of 60.")
	case *in.Period**in.EvaluationPeriods > 7*24*3600:
		return errInvalid("The product of Period and EvaluationPeriods must not exceed 604800 seconds (7 days).")
	case in.Statistic == "" && in.ExtendedStatistic == "":
		return errMissing("Statistic")
	case in.Statistic != "" && in.ExtendedStatistic != "":
		return errCombination("The parameters Statistic and ExtendedStatistic are mutually exclusive and you have specified both.")
	case in.Statistic != "" && !basicStats[in.Statistic]:
		return errInvalidf("The value %s for parameter Statistic is invalid.", truncate(in.Statistic, 32))
	}
	if in.ExtendedStatistic != "" {
		if _, ok := percentileOf(in.ExtendedStatistic); !ok {
			return errInvalidf("The value %s for parameter ExtendedStatistic is invalid: Nimbus serves percentiles (p0.1 to p100).", truncate(in.ExtendedStatistic, 32))
		}
	}
	if err := checkNamespace(in.Namespace, "Namespace", false); err != nil {
		return err
	}
	return checkDimensions(in.Dimensions, "Dimensions")
}

func (s *Service) describeAlarms(ctx context.Context, in *DescribeAlarmsInput) (*DescribeAlarmsOutput, error) {
	limit := int64(50)
	if in.MaxRecords != nil {
		if *in.MaxRecords < 1 || *in.MaxRecords > 100 {
			return nil, errInvalid("The parameter MaxRecords must be between 1 and 100.")
		}
		limit = *in.MaxRecords
	}
	if len(in.AlarmNames) > maxDescribeNames {
		return nil, errInvalid("The collection AlarmNames must not have a size greater than 100.")
	}
	if in.StateValue != "" && in.StateValue != StateOK && in.StateValue != StateAlarm && in.StateValue != StateInsufficientData {
		return nil, errInvalidf("The value %s for parameter StateValue is invalid.", truncate(in.StateValue, 32))
	}
	after := ""
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil {
			return nil, errNextToken()
		}
		after = string(b)
	}
	types := map[string]bool{}
	for _, t := range in.AlarmTypes {
		if t != "MetricAlarm" && t != "CompositeAlarm" {
			return nil, errInvalidf("The value %s for parameter AlarmTypes is invalid.", truncate(t, 32))
		}
		types[t] = true
	}
	if len(types) == 0 {
		types["MetricAlarm"] = true
	}
	all, err := s.allAlarms(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, n := range in.AlarmNames {
		names[n] = true
	}
	var children, parents map[string]bool
	if in.ChildrenOfAlarmName != "" || in.ParentsOfAlarmName != "" {
		children, parents = map[string]bool{}, map[string]bool{}
		for _, r := range all {
			if r.Composite == nil {
				continue
			}
			refs := ruleRefs(r.Composite.AlarmRule)
			if r.Composite.AlarmName == in.ChildrenOfAlarmName {
				for _, n := range refs {
					children[n] = true
				}
			}
			for _, n := range refs {
				if n == in.ParentsOfAlarmName {
					parents[r.Composite.AlarmName] = true
				}
			}
		}
	}
	out := &DescribeAlarmsOutput{CompositeAlarms: []CompositeAlarm{}, MetricAlarms: []MetricAlarm{}}
	n := int64(0)
	for _, r := range all {
		name := r.name()
		switch {
		case after != "" && name <= after,
			len(names) > 0 && !names[name],
			in.AlarmNamePrefix != "" && !strings.HasPrefix(name, in.AlarmNamePrefix),
			in.StateValue != "" && r.state() != in.StateValue,
			in.ChildrenOfAlarmName != "" && !children[name],
			in.ParentsOfAlarmName != "" && !parents[name],
			r.Metric != nil && (!types["MetricAlarm"] && in.ChildrenOfAlarmName == "" && in.ParentsOfAlarmName == ""),
			r.Composite != nil && (!types["CompositeAlarm"] && in.ChildrenOfAlarmName == "" && in.ParentsOfAlarmName == ""),
			in.ActionPrefix != "" && !hasActionPrefix(r, in.ActionPrefix):
			continue
		}
		if n == limit {
			out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(lastName(out)))
			break
		}
		n++
		if r.Metric != nil {
			out.MetricAlarms = append(out.MetricAlarms, *r.Metric)
		} else {
			out.CompositeAlarms = append(out.CompositeAlarms, *r.Composite)
		}
	}
	return out, nil
}

func lastName(out *DescribeAlarmsOutput) string {
	last := ""
	if n := len(out.MetricAlarms); n > 0 {
		last = out.MetricAlarms[n-1].AlarmName
	}
	if n := len(out.CompositeAlarms); n > 0 && out.CompositeAlarms[n-1].AlarmName > last {
		last = out.CompositeAlarms[n-1].AlarmName
	}
	return last
}

func hasActionPrefix(r *alarmRecord, prefix string) bool {
	var lists [][]string
	if r.Metric != nil {
		lists = [][]string{r.Metric.OKActions, r.Metric.AlarmActions, r.Metric.InsufficientDataActions}
	} else {
		lists = [][]string{r.Composite.OKActions, r.Composite.AlarmActions, r.Composite.InsufficientDataActions}
	}
	for _, l := range lists {
		for _, a := range l {
			if strings.HasPrefix(a, prefix) {
				return true
			}
		}
	}
	return false
}

func (s *Service) describeAlarmsForMetric(ctx context.Context, in *DescribeAlarmsForMetricInput) (*DescribeAlarmsForMetricOutput, error) {
	if in.MetricName == "" {
		return nil, errMissing("MetricName")
	}
	if err := checkNamespace(in.Namespace, "Namespace", false); err != nil {
		return nil, err
	}
	all, err := s.allAlarms(ctx)
	if err != nil {
		return nil, err
	}
	key := seriesKey(in.Namespace, in.MetricName, in.Dimensions)
	out := &DescribeAlarmsForMetricOutput{MetricAlarms: []MetricAlarm{}}
	for _, r := range all {
		a := r.Metric
		if a == nil || a.MetricName == "" || seriesKey(a.Namespace, a.MetricName, a.Dimensions) != key && len(in.Dimensions) > 0 ||
			a.Namespace != in.Namespace || a.MetricName != in.MetricName ||
			in.Statistic != "" && a.Statistic != in.Statistic || in.ExtendedStatistic != "" && a.ExtendedStatistic != in.ExtendedStatistic ||
			in.Period != nil && a.Period != *in.Period || in.Unit != "" && a.Unit != in.Unit {
			continue
		}
		out.MetricAlarms = append(out.MetricAlarms, *a)
	}
	return out, nil
}

func (s *Service) describeAlarmHistory(ctx context.Context, in *DescribeAlarmHistoryInput) (*DescribeAlarmHistoryOutput, error) {
	limit := int64(100)
	if in.MaxRecords != nil {
		if *in.MaxRecords < 1 || *in.MaxRecords > 100 {
			return nil, errInvalid("The parameter MaxRecords must be between 1 and 100.")
		}
		limit = *in.MaxRecords
	}
	switch in.HistoryItemType {
	case "", "ConfigurationUpdate", "StateUpdate", "Action":
	default:
		return nil, errInvalidf("The value %s for parameter HistoryItemType is invalid.", truncate(in.HistoryItemType, 32))
	}
	if in.ScanBy != "" && in.ScanBy != "TimestampDescending" && in.ScanBy != "TimestampAscending" {
		return nil, errInvalidf("The value %s for parameter ScanBy is invalid.", truncate(in.ScanBy, 32))
	}
	skip := 0
	if in.NextToken != "" {
		if _, err := fmt.Sscanf(in.NextToken, "%d", &skip); err != nil || skip < 0 {
			return nil, errNextToken()
		}
	}
	var names []string
	if in.AlarmName != "" {
		names = []string{in.AlarmName}
	} else {
		lister, err := s.kv.ListKeysFiltered(ctx, "history.>")
		if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, fmt.Errorf("list alarm history: %w", err)
		}
		if err == nil {
			for k := range lister.Keys() {
				if b, err := hex.DecodeString(strings.TrimPrefix(k, "history.")); err == nil {
					names = append(names, string(b))
				}
			}
		}
	}
	var items []AlarmHistoryItem
	for _, name := range names {
		e, err := s.kv.Get(ctx, historyKey(name))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read alarm history: %w", err)
		}
		var hist []AlarmHistoryItem
		_ = json.Unmarshal(e.Value(), &hist)
		for _, h := range hist {
			if in.HistoryItemType != "" && h.HistoryItemType != in.HistoryItemType ||
				in.StartDate != nil && h.Timestamp.Before(in.StartDate.Time) || in.EndDate != nil && h.Timestamp.After(in.EndDate.Time) {
				continue
			}
			if len(in.AlarmTypes) > 0 && !contains(in.AlarmTypes, h.AlarmType) {
				continue
			}
			items = append(items, h)
		}
	}
	sort.SliceStable(items, func(i, j int) bool {
		if in.ScanBy == "TimestampAscending" {
			return items[i].Timestamp.Before(items[j].Timestamp.Time)
		}
		return items[i].Timestamp.After(items[j].Timestamp.Time)
	})
	out := &DescribeAlarmHistoryOutput{AlarmHistoryItems: []AlarmHistoryItem{}}
	if skip < len(items) {
		items = items[skip:]
	} else {
		items = nil
	}
	if int64(len(items)) > limit {
		items = items[:limit]
		out.NextToken = fmt.Sprint(skip + int(limit))
	}
	out.AlarmHistoryItems = append(out.AlarmHistoryItems, items...)
	return out, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func checkNames(names []string) error {
	if len(names) == 0 {
		return errMissing("AlarmNames")
	}
	if len(names) > maxDescribeNames {
		return errInvalid("The collection AlarmNames must not have a size greater than 100.")
	}
	return nil
}

func (s *Service) deleteAlarms(ctx context.Context, in *AlarmNamesInput) (*Empty, error) {
	if err := checkNames(in.AlarmNames); err != nil {
		return nil, err
	}
	for _, n := range in.AlarmNames {
		r, _, err := s.getAlarm(ctx, n)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, notFoundError(fmt.Sprintf("Alarm %s not found", truncate(n, 256)))
		}
	}
	for _, n := range in.AlarmNames {
		if err := s.kv.Delete(ctx, alarmKey(n)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("delete alarm: %w", err)
		}
		_ = s.kv.Delete(ctx, historyKey(n))
	}
	return &Empty{}, nil
}

func (s *Service) setActions(ctx context.Context, names []string, enabled bool) error {
	if err := checkNames(names); err != nil {
		return err
	}
	for _, n := range names {
		if _, err := s.updateAlarm(ctx, n, func(r *alarmRecord) bool {
			if r.Metric != nil {
				r.Metric.ActionsEnabled = enabled
			} else {
				r.Composite.ActionsEnabled = enabled
			}
			return true
		}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) enableAlarmActions(ctx context.Context, in *AlarmNamesInput) (*Empty, error) {
	return &Empty{}, s.setActions(ctx, in.AlarmNames, true)
}

func (s *Service) disableAlarmActions(ctx context.Context, in *AlarmNamesInput) (*Empty, error) {
	return &Empty{}, s.setActions(ctx, in.AlarmNames, false)
}

func (s *Service) setAlarmState(ctx context.Context, in *SetAlarmStateInput) (*Empty, error) {
	switch {
	case in.AlarmName == "":
		return nil, errMissing("AlarmName")
	case in.StateValue == "":
		return nil, errMissing("StateValue")
	case in.StateValue != StateOK && in.StateValue != StateAlarm && in.StateValue != StateInsufficientData:
		return nil, errInvalidf("The value %s for parameter StateValue is invalid.", truncate(in.StateValue, 32))
	case in.StateReason == "":
		return nil, errMissing("StateReason")
	case len(in.StateReason) > 1023:
		return nil, errInvalid("The parameter StateReason must be shorter than 1024 characters.")
	}
	if in.StateReasonData != "" && !json.Valid([]byte(in.StateReasonData)) {
		return nil, formatError("The parameter StateReasonData is not valid JSON.")
	}
	r, _, err := s.getAlarm(ctx, in.AlarmName)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, notFoundError(fmt.Sprintf("Alarm %s not found", truncate(in.AlarmName, 256)))
	}
	s.transition(ctx, in.AlarmName, in.StateValue, in.StateReason, in.StateReasonData, true)
	return &Empty{}, nil
}

// transition moves an alarm to state (a no-op when it is there already,
// unless forced by SetAlarmState), records the history, and runs the
// actions and the EventBridge event.
func (s *Service) transition(ctx context.Context, name, state, reason, reasonData string, force bool) {
	now := Time{s.now().UTC()}
	var prev alarmRecord
	changed := false
	r, err := s.updateAlarm(ctx, name, func(r *alarmRecord) bool {
		cur := r.state()
		if cur == state && !force {
			return false
		}
		prev = *r
		if r.Metric != nil {
			m := *r.Metric
			prev.Metric = &m
			r.Metric.StateValue, r.Metric.StateReason, r.Metric.StateReasonData, r.Metric.StateUpdatedTimestamp = state, reason, reasonData, now
			if cur != state {
				r.Metric.StateTransitionedTimestamp = now
			}
		} else {
			c := *r.Composite
			prev.Composite = &c
			r.Composite.StateValue, r.Composite.StateReason, r.Composite.StateReasonData, r.Composite.StateUpdatedTimestamp = state, reason, reasonData, now
			if cur != state {
				r.Composite.StateTransitionedTimestamp = now
			}
		}
		changed = cur != state
		return true
	})
	if err != nil || r == nil {
		if err != nil {
			s.log.Warn("alarm state update", "alarm", name, "err", err)
		}
		return
	}
	if prev.Metric == nil && prev.Composite == nil {
		return
	}
	alarmType := "MetricAlarm"
	if r.Composite != nil {
		alarmType = "CompositeAlarm"
	}
	old := prev.state()
	hd, _ := json.Marshal(map[string]any{"version": "1.0", "oldState": map[string]any{"stateValue": old, "stateReason": stateReason(&prev)},
		"newState": map[string]any{"stateValue": state, "stateReason": reason, "stateReasonData": rawOrNil(reasonData)}})
	s.addHistory(ctx, name, AlarmHistoryItem{AlarmName: name, AlarmType: alarmType, Timestamp: now, HistoryItemType: "StateUpdate",
		HistorySummary: fmt.Sprintf("Alarm updated from %s to %s", old, state), HistoryData: string(hd)})
	if !changed {
		return
	}
	s.act(ctx, r, &prev, now)
}

func stateReason(r *alarmRecord) string {
	if r.Metric != nil {
		return r.Metric.StateReason
	}
	return r.Composite.StateReason
}

func rawOrNil(s string) any {
	if s == "" || !json.Valid([]byte(s)) {
		return nil
	}
	return json.RawMessage(s)
}

// notFoundError is the model's ResourceNotFound (404).
func notFoundError(msg string) *awsapi.Error {
	return &awsapi.Error{Status: http.StatusNotFound, Code: "ResourceNotFound", Type: "User", Message: msg}
}

// formatError is the model's InvalidFormat.
func formatError(msg string) *awsapi.Error {
	return &awsapi.Error{Status: http.StatusBadRequest, Code: "InvalidFormatFault", Type: "User", Message: msg}
}

// evalTick is how often the evaluator looks for alarms due (scaled).
const evalTick = 10 * time.Second

// evaluateAlarms evaluates every alarm once per (scaled) period until ctx
// ends; it runs on one node of a cluster.
func (s *Service) evaluateAlarms(ctx context.Context) error {
	tick := time.Duration(float64(evalTick) * s.opts.PeriodScale)
	tick = max(tick, 100*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	due := map[string]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		all, err := s.allAlarms(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("alarm evaluation: list alarms", "err", err)
			}
			continue
		}
		now := s.now()
		states := map[string]string{}
		seen := map[string]bool{}
		for _, r := range all {
			states[r.name()] = r.state()
			seen[r.name()] = true
			if r.Metric == nil {
				continue
			}
			if next, ok := due[r.name()]; ok && now.Before(next) {
				continue
			}
			p := s.scaled(alarmPeriod(r.Metric))
			due[r.name()] = now.Truncate(p).Add(p)
			state, reason, data := s.evaluateMetricAlarm(r.Metric, now)
			if state != "" && state != r.Metric.StateValue {
				s.transition(ctx, r.name(), state, reason, data, false)
				states[r.name()] = state
			}
		}
		for _, r := range all {
			if r.Composite == nil {
				continue
			}
			state, reason := evaluateRule(r.Composite.AlarmRule, states)
			if state != r.Composite.StateValue {
				s.transition(ctx, r.name(), state, reason, "", false)
			}
		}
		for n := range due {
			if !seen[n] {
				delete(due, n)
			}
		}
	}
}

// alarmPeriod is the alarm's period in seconds (a metric-math alarm's is
// its returned query's, or its first metric's).
func alarmPeriod(a *MetricAlarm) int64 {
	if a.Period > 0 {
		return a.Period
	}
	for _, q := range a.Metrics {
		if q.Period != nil && *q.Period > 0 {
			return *q.Period
		}
	}
	for _, q := range a.Metrics {
		if q.MetricStat != nil {
			return q.MetricStat.Period
		}
	}
	return 60
}

// scaled is p seconds times the period scale, at least one second.
func (s *Service) scaled(p int64) time.Duration {
	d := time.Duration(float64(p) * s.opts.PeriodScale * float64(time.Second))
	return max(d.Truncate(time.Second), time.Second)
}

// evaluateMetricAlarm decides an alarm's state from its last
// EvaluationPeriods complete (scaled) periods; "" keeps the state.
func (s *Service) evaluateMetricAlarm(a *MetricAlarm, now time.Time) (state, reason, data string) {
	p := s.scaled(alarmPeriod(a))
	ps := int64(p / time.Second)
	n := a.EvaluationPeriods
	end := now.Truncate(p)
	start := end.Add(-time.Duration(n) * p)
	values := make([]*float64, n) // oldest first
	idx := func(t int64) int { return int((t - start.Unix()) / ps) }
	if len(a.Metrics) > 0 {
		qs := make([]MetricDataQuery, len(a.Metrics))
		copy(qs, a.Metrics)
		for i := range qs {
			if qs[i].MetricStat != nil {
				ms := *qs[i].MetricStat
				ms.Period = ps
				qs[i].MetricStat = &ms
			}
			qs[i].Period = nil
		}
		vals, err := s.evalQueries(qs, start, end)
		if err != nil {
			return "", "", ""
		}
		for _, q := range qs {
			if q.ReturnData != nil && !*q.ReturnData {
				continue
			}
			if v := vals[q.ID]; (v.kind == 's' || v.kind == 'a') && len(v.series) > 0 {
				ts := v.series[0]
				for i, t := range ts.t {
					if j := idx(t); j >= 0 && j < len(values) && !isNonFinite(ts.v[i]) {
						values[j] = &ts.v[i]
					}
				}
			}
		}
	} else {
		stat := a.Statistic
		if stat == "" {
			stat = a.ExtendedStatistic
		}
		wins, _, _ := s.db.query(seriesKey(a.Namespace, a.MetricName, a.Dimensions), start, end, ps, a.Unit)
		for i := range wins {
			if v, ok := statValue(&wins[i].bucket, stat); ok {
				if j := idx(wins[i].start); j >= 0 && j < len(values) {
					vv := v
					values[j] = &vv
				}
			}
		}
	}
	m := a.DatapointsToAlarm
	if m == 0 {
		m = n
	}
	cmp := comparisons[a.ComparisonOperator]
	breaching, present := int64(0), int64(0)
	var recent []float64
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		if v == nil {
			if a.TreatMissingData == "breaching" {
				breaching++
			}
			continue
		}
		present++
		recent = append(recent, *v)
		if cmp(*v, a.Threshold) {
			breaching++
		}
	}
	if present == 0 {
		switch a.TreatMissingData {
		case "", "missing":
			return StateInsufficientData, fmt.Sprintf("Insufficient Data: %d datapoints were unknown.", n), ""
		case "ignore":
			return "", "", ""
		}
	}
	words := comparisonWords[a.ComparisonOperator]
	d, _ := json.Marshal(map[string]any{"version": "1.0", "queryDate": now.UTC().Format("2006-01-02T15:04:05.000+0000"),
		"startDate": start.UTC().Format("2006-01-02T15:04:05.000+0000"), "period": alarmPeriod(a),
		"recentDatapoints": recent, "threshold": a.Threshold})
	if breaching >= m {
		return StateAlarm, fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints %v were %s the threshold (%v) (minimum %d datapoints for OK -> ALARM transition).",
			breaching, n, recent, words, a.Threshold, m), string(d)
	}
	return StateOK, fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints %v were not %s the threshold (%v) (minimum %d datapoints for ALARM -> OK transition).",
		n-breaching, n, recent, words, a.Threshold, n-m+1), string(d)
}

func isNonFinite(v float64) bool { return v != v || v > valueBound || v < -valueBound }
