package cloudwatch

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

const (
	maxQueries       = 500
	maxDatapointsGMD = 100_800
)

var queryIDPattern = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]{0,254}$`)

// pageToken is GetMetricData's NextToken: where the next page starts.
type pageToken struct {
	Result int `json:"r"`
	Point  int `json:"p"`
}

// checkMetricStat validates a MetricStat at param.
func checkMetricStat(ms *MetricStat, param string) error {
	if err := checkNamespace(ms.Metric.Namespace, param+".Metric.Namespace", false); err != nil {
		return err
	}
	switch {
	case ms.Metric.MetricName == "":
		return errMissing(param + ".Metric.MetricName")
	case ms.Period <= 0:
		return errMissing(param + ".Period")
	case !validPeriod(ms.Period):
		return errInvalidf("The parameter %s.Period must be 1, 5, 10, 30 or a multiple of 60.", param)
	case ms.Stat == "":
		return errMissing(param + ".Stat")
	case !basicStats[ms.Stat]:
		if _, ok := percentileOf(ms.Stat); !ok {
			return errInvalidf("The value %s for parameter %s.Stat is invalid: Nimbus serves SampleCount, Average, Sum, Minimum, Maximum and percentiles (pNN.NN).", truncate(ms.Stat, 32), param)
		}
	}
	return checkDimensions(ms.Metric.Dimensions, param+".Metric.Dimensions")
}

// checkQueries validates the queries of GetMetricData or of an alarm.
func checkQueries(qs []MetricDataQuery, param string) error {
	if len(qs) == 0 {
		return errMissing(param)
	}
	if len(qs) > maxQueries {
		return errInvalidf("The collection %s must not have a size greater than %d.", param, maxQueries)
	}
	ids := map[string]bool{}
	for i := range qs {
		q := &qs[i]
		p := fmt.Sprintf("%s.member.%d", param, i+1)
		switch {
		case q.ID == "":
			return errMissing(p + ".Id")
		case !queryIDPattern.MatchString(q.ID):
			return errInvalidf("The value %s for parameter %s.Id is invalid: it must start with a lowercase letter and contain only letters, digits and underscores.", truncate(q.ID, 64), p)
		case ids[q.ID]:
			return errInvalidf("The value %s for parameter %s.Id is not unique.", q.ID, p)
		case (q.MetricStat == nil) == (q.Expression == ""):
			return errCombination(fmt.Sprintf("Exactly one of %s.MetricStat and %[1]s.Expression must be specified.", p))
		case q.Period != nil && !validPeriod(*q.Period):
			return errInvalidf("The parameter %s.Period must be 1, 5, 10, 30 or a multiple of 60.", p)
		}
		ids[q.ID] = true
		if q.MetricStat != nil {
			if err := checkMetricStat(q.MetricStat, p+".MetricStat"); err != nil {
				return err
			}
		} else if _, err := parseExpr(q.Expression); err != nil {
			return errInvalidf("Error in expression %s: %v.", q.ID, err)
		}
	}
	return nil
}

// evalQueries evaluates every query over [start, end) and returns each
// query's series (an expression may give several).
func (s *Service) evalQueries(qs []MetricDataQuery, start, end time.Time) (map[string]mval, error) {
	vals := map[string]mval{}
	byID := map[string]*MetricDataQuery{}
	var statSeries []*tseries
	for i := range qs {
		q := &qs[i]
		byID[q.ID] = q
		if q.MetricStat == nil {
			continue
		}
		ts := s.statSeries(q, start, end)
		vals[q.ID] = mval{kind: 's', series: []*tseries{ts}}
		statSeries = append(statSeries, ts)
	}
	visiting := map[string]bool{}
	env := &evalEnv{start: start.Unix(), end: end.Unix()}
	env.metrics = func(filter string) []*tseries {
		var out []*tseries
		for _, ts := range statSeries {
			if filter == "" || strings.Contains(ts.label, filter) {
				out = append(out, ts)
			}
		}
		return out
	}
	resolve := func(id string) (mval, error) {
		if v, ok := vals[id]; ok {
			return v, nil
		}
		q := byID[id]
		if q == nil {
			return mval{}, exprErrf("unknown metric or expression id %s", truncate(id, 64))
		}
		if visiting[id] {
			return mval{}, exprErrf("circular reference to %s", id)
		}
		visiting[id] = true
		defer delete(visiting, id)
		n, err := parseExpr(q.Expression)
		if err != nil {
			return mval{}, err
		}
		v, err := env.eval(n)
		if err != nil {
			return v, err
		}
		vals[id] = v
		return v, nil
	}
	env.resolve = resolve
	for i := range qs {
		if qs[i].Expression == "" {
			continue
		}
		if _, err := resolve(qs[i].ID); err != nil {
			var ee *exprError
			if errors.As(err, &ee) {
				return nil, errInvalidf("Error in expression %s: %s.", qs[i].ID, ee.msg)
			}
			return nil, err
		}
	}
	return vals, nil
}

// statSeries is a MetricStat query's series.
func (s *Service) statSeries(q *MetricDataQuery, start, end time.Time) *tseries {
	ms := q.MetricStat
	period := ms.Period
	if q.Period != nil {
		period = *q.Period
	}
	label := q.Label
	if label == "" {
		label = ms.Metric.MetricName
	}
	ts := &tseries{label: label, period: period}
	wins, _, _ := s.db.query(seriesKey(ms.Metric.Namespace, ms.Metric.MetricName, ms.Metric.Dimensions), start, end, period, ms.Unit)
	for i := range wins {
		if v, ok := statValue(&wins[i].bucket, ms.Stat); ok {
			ts.t = append(ts.t, wins[i].start)
			ts.v = append(ts.v, v)
		}
	}
	return ts
}

func (s *Service) getMetricData(_ context.Context, in *GetMetricDataInput) (*GetMetricDataOutput, error) {
	switch {
	case in.StartTime == nil:
		return nil, errMissing("StartTime")
	case in.EndTime == nil:
		return nil, errMissing("EndTime")
	case !in.StartTime.Before(in.EndTime.Time):
		return nil, errInvalid("The parameter StartTime must be less than the parameter EndTime.")
	case in.ScanBy != "" && in.ScanBy != "TimestampDescending" && in.ScanBy != "TimestampAscending":
		return nil, errInvalidf("The value %s for parameter ScanBy is invalid.", truncate(in.ScanBy, 32))
	case in.MaxDatapoints != nil && *in.MaxDatapoints <= 0:
		return nil, errInvalid("The parameter MaxDatapoints must be positive.")
	}
	if err := checkQueries(in.MetricDataQueries, "MetricDataQueries"); err != nil {
		return nil, err
	}
	var tok pageToken
	if in.NextToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil || json.Unmarshal(raw, &tok) != nil || tok.Result < 0 || tok.Point < 0 {
			return nil, errNextToken()
		}
	}
	vals, err := s.evalQueries(in.MetricDataQueries, in.StartTime.Time, in.EndTime.Time)
	if err != nil {
		return nil, err
	}
	var results []MetricDataResult
	for _, q := range in.MetricDataQueries {
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		v := vals[q.ID]
		series := v.series
		if v.kind == 'n' {
			series = []*tseries{constSeries(v.num, in.StartTime.Unix(), in.EndTime.Unix(), q.Period)}
		}
		for _, ts := range series {
			label := q.Label
			if label == "" {
				label = ts.label
				if q.MetricStat == nil && len(series) == 1 {
					label = q.ID
				}
			}
			r := MetricDataResult{ID: q.ID, Label: label, StatusCode: "Complete", Timestamps: []Time{}, Values: []float64{}}
			for i, t := range ts.t {
				if t < in.StartTime.Unix() || t >= in.EndTime.Unix() {
					continue
				}
				r.Timestamps = append(r.Timestamps, Time{time.Unix(t, 0).UTC()})
				r.Values = append(r.Values, ts.v[i])
			}
			r.Timestamps, r.Values = finite(r.Timestamps, r.Values)
			if in.ScanBy != "TimestampAscending" {
				for i, j := 0, len(r.Values)-1; i < j; i, j = i+1, j-1 {
					r.Timestamps[i], r.Timestamps[j] = r.Timestamps[j], r.Timestamps[i]
					r.Values[i], r.Values[j] = r.Values[j], r.Values[i]
				}
			}
			results = append(results, r)
		}
	}
	return page(results, tok, in.MaxDatapoints), nil
}

func constSeries(v float64, start, end int64, period *int64) *tseries {
	p := int64(60)
	if period != nil {
		p = *period
	}
	ts := &tseries{period: p}
	if math.IsNaN(v) {
		return ts
	}
	for t := start - mod(start, p); t < end && len(ts.t) < maxDatapointsGMD; t += p {
		if t >= start {
			ts.t = append(ts.t, t)
			ts.v = append(ts.v, v)
		}
	}
	return ts
}

// page cuts the results to MaxDatapoints from tok on.
func page(results []MetricDataResult, tok pageToken, maxPoints *int64) *GetMetricDataOutput {
	limit := maxDatapointsGMD
	if maxPoints != nil && *maxPoints < int64(limit) {
		limit = int(*maxPoints)
	}
	out := &GetMetricDataOutput{MetricDataResults: []MetricDataResult{}}
	n := 0
	for i := tok.Result; i < len(results); i++ {
		r := results[i]
		from := 0
		if i == tok.Result {
			from = min(tok.Point, len(r.Values))
		}
		r.Timestamps, r.Values = r.Timestamps[from:], r.Values[from:]
		room := limit - n
		if len(r.Values) > room {
			r.Timestamps, r.Values = r.Timestamps[:room], r.Values[:room]
			r.StatusCode = "PartialData"
			out.MetricDataResults = append(out.MetricDataResults, r)
			raw, _ := json.Marshal(pageToken{Result: i, Point: from + room})
			out.NextToken = base64.RawURLEncoding.EncodeToString(raw)
			return out
		}
		n += len(r.Values)
		out.MetricDataResults = append(out.MetricDataResults, r)
	}
	return out
}
