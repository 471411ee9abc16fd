package cloudwatch

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// PutMetricData's limits (AWS's quotas page).
const (
	maxMetricData    = 1000
	maxValues        = 150
	maxDimensions    = 30
	maxNameLen       = 255
	maxDimValueLen   = 1024
	maxPastWindow    = 14 * 24 * time.Hour
	maxFutureWindow  = 2 * time.Hour
	maxDatapointsGMS = 1440
	listPageSize     = 500
)

// valueBound is 2^360: values beyond ±valueBound are refused.
var valueBound = math.Ldexp(1, 360)

var units = map[string]bool{
	"Seconds": true, "Microseconds": true, "Milliseconds": true, "Bytes": true, "Kilobytes": true, "Megabytes": true,
	"Gigabytes": true, "Terabytes": true, "Bits": true, "Kilobits": true, "Megabits": true, "Gigabits": true,
	"Terabits": true, "Percent": true, "Count": true, "Bytes/Second": true, "Kilobytes/Second": true,
	"Megabytes/Second": true, "Gigabytes/Second": true, "Terabytes/Second": true, "Bits/Second": true,
	"Kilobits/Second": true, "Megabits/Second": true, "Gigabits/Second": true, "Terabits/Second": true,
	"Count/Second": true, "None": true,
}

var namespacePattern = regexp.MustCompile(`^[^:].*$`)

func checkNamespace(ns, param string, put bool) error {
	switch {
	case ns == "":
		return errMissing(param)
	case len(ns) > maxNameLen || !namespacePattern.MatchString(ns):
		return errInvalidf("The value %s for parameter %s is invalid.", truncate(ns, 64), param)
	case put && strings.HasPrefix(ns, "AWS/"):
		return errInvalidf("The value AWS/ for parameter %s is invalid.", param)
	}
	return nil
}

func checkValue(v float64, param string) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > valueBound {
		return errInvalidf("The value %s for parameter %s is invalid.", strconv.FormatFloat(v, 'g', 6, 64), param)
	}
	return nil
}

func checkDimensions(dims []Dimension, param string) error {
	if len(dims) > maxDimensions {
		return errInvalidf("The collection %s must not have a size greater than %d.", param, maxDimensions)
	}
	seen := make(map[string]bool, len(dims))
	for i, d := range dims {
		p := fmt.Sprintf("%s.member.%d", param, i+1)
		switch {
		case d.Name == "":
			return errMissing(p + ".Name")
		case d.Value == "":
			return errMissing(p + ".Value")
		case len(d.Name) > maxNameLen:
			return errInvalidf("The parameter %s.Name must be shorter than %d characters.", p, maxNameLen+1)
		case len(d.Value) > maxDimValueLen:
			return errInvalidf("The parameter %s.Value must be shorter than %d characters.", p, maxDimValueLen+1)
		case seen[d.Name]:
			return errInvalidf("No metric may have duplicate dimension names (%s).", truncate(d.Name, 64))
		}
		seen[d.Name] = true
	}
	return nil
}

// toPoint validates one datum and turns it into a stored point.
func (s *Service) toPoint(d *MetricDatum, i int, now time.Time) (point, error) {
	p := fmt.Sprintf("MetricData.member.%d", i+1)
	pt := point{Name: d.MetricName, Dims: d.Dimensions, Unit: d.Unit, Res: 60}
	switch {
	case d.MetricName == "":
		return pt, errMissing(p + ".MetricName")
	case len(d.MetricName) > maxNameLen:
		return pt, errInvalidf("The parameter %s.MetricName must be shorter than %d characters.", p, maxNameLen+1)
	case d.Unit != "" && !units[d.Unit]:
		return pt, errInvalidf("The value %s for parameter %s.Unit is invalid.", truncate(d.Unit, 64), p)
	}
	if err := checkDimensions(d.Dimensions, p+".Dimensions"); err != nil {
		return pt, err
	}
	if d.StorageResolution != nil {
		if *d.StorageResolution != 1 && *d.StorageResolution != 60 {
			return pt, errInvalidf("The value %d for parameter %s.StorageResolution is invalid: it must be 1 or 60.", *d.StorageResolution, p)
		}
		pt.Res = *d.StorageResolution
	}
	ts := now
	if d.Timestamp != nil {
		ts = d.Timestamp.Time
		if now.Sub(ts) > maxPastWindow {
			return pt, errInvalidf("The parameter %s.Timestamp must specify a time no more than two weeks in the past.", p)
		}
		if ts.Sub(now) > maxFutureWindow {
			return pt, errInvalidf("The parameter %s.Timestamp must specify a time no more than two hours in the future.", p)
		}
	}
	pt.T = ts.UnixMilli()
	n := 0
	for _, set := range []bool{d.Value != nil, d.StatisticValues != nil, d.Values != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return pt, errCombination(fmt.Sprintf("The parameters %s.Value, %[1]s.Values and %[1]s.StatisticValues are mutually exclusive and you have specified more than one.", p))
	}
	switch {
	case d.Value != nil:
		if err := checkValue(*d.Value, p+".Value"); err != nil {
			return pt, err
		}
		v := *d.Value
		pt.Count, pt.Sum, pt.Min, pt.Max, pt.Vals = 1, v, v, v, []float64{v}
	case d.StatisticValues != nil:
		sv := d.StatisticValues
		for _, f := range []struct {
			name string
			v    *float64
		}{{"SampleCount", sv.SampleCount}, {"Sum", sv.Sum}, {"Minimum", sv.Minimum}, {"Maximum", sv.Maximum}} {
			if f.v == nil {
				return pt, errMissing(p + ".StatisticValues." + f.name)
			}
			if err := checkValue(*f.v, p+".StatisticValues."+f.name); err != nil {
				return pt, err
			}
		}
		if *sv.SampleCount <= 0 || *sv.Minimum > *sv.Maximum {
			return pt, errInvalidf("The parameter %s.StatisticValues must have a positive SampleCount and Minimum no greater than Maximum.", p)
		}
		pt.Count, pt.Sum, pt.Min, pt.Max = *sv.SampleCount, *sv.Sum, *sv.Minimum, *sv.Maximum
	case d.Values != nil:
		if len(d.Values) == 0 {
			return pt, errMissing(p + ".Values")
		}
		if len(d.Values) > maxValues {
			return pt, errInvalidf("The collection %s.Values must not have a size greater than %d.", p, maxValues)
		}
		if d.Counts != nil && len(d.Counts) != len(d.Values) {
			return pt, errInvalidf("The parameters %s.Values and %[1]s.Counts must be of the same size.", p)
		}
		pt.Min, pt.Max = math.Inf(1), math.Inf(-1)
		for j, v := range d.Values {
			if err := checkValue(v, fmt.Sprintf("%s.Values.member.%d", p, j+1)); err != nil {
				return pt, err
			}
			c := 1.0
			if d.Counts != nil {
				c = d.Counts[j]
				if math.IsNaN(c) || math.IsInf(c, 0) || c < 0 || c > valueBound {
					return pt, errInvalidf("The value %s for parameter %s.Counts.member.%d is invalid.", strconv.FormatFloat(c, 'g', 6, 64), p, j+1)
				}
			}
			pt.Count += c
			pt.Sum += v * c
			pt.Min, pt.Max = math.Min(pt.Min, v), math.Max(pt.Max, v)
		}
		pt.Vals = append([]float64(nil), d.Values...)
		if d.Counts != nil {
			pt.Cnts = append([]float64(nil), d.Counts...)
		}
		if pt.Count == 0 {
			return pt, errInvalidf("The parameter %s.Counts must not all be zero.", p)
		}
	default:
		return pt, errMissing(p + ".Value")
	}
	return pt, nil
}

func (s *Service) putMetricData(ctx context.Context, in *PutMetricDataInput) (*Empty, error) {
	if err := checkNamespace(in.Namespace, "Namespace", true); err != nil {
		return nil, err
	}
	if len(in.MetricData) == 0 {
		return nil, errMissing("MetricData")
	}
	if len(in.MetricData) > maxMetricData {
		return nil, errInvalidf("The collection MetricData must not have a size greater than %d.", maxMetricData)
	}
	return &Empty{}, s.store(ctx, in.Namespace, in.MetricData)
}

// store validates every datum (storing nothing if one fails) and
// publishes them.
func (s *Service) store(ctx context.Context, ns string, data []MetricDatum) error {
	now := s.now()
	b := batch{NS: ns, Points: make([]point, 0, len(data))}
	fresh := map[string]bool{}
	for i := range data {
		pt, err := s.toPoint(&data[i], i, now)
		if err != nil {
			return err
		}
		if k := seriesKey(ns, pt.Name, pt.Dims); !s.db.has(k) {
			fresh[k] = true
		}
		b.Points = append(b.Points, pt)
	}
	if len(fresh) > 0 && s.db.len()+len(fresh) > s.opts.MaxSeries {
		return errLimit(fmt.Sprintf("This node keeps at most %d metrics (nimbus server --metrics-max-series); the request would add %d.",
			s.opts.MaxSeries, len(fresh)))
	}
	return s.publish(ctx, &b)
}

// validPeriod: 1, 5, 10, 30 or a multiple of 60 seconds.
func validPeriod(p int64) bool {
	return p == 1 || p == 5 || p == 10 || p == 30 || (p > 0 && p%60 == 0)
}

var percentilePattern = regexp.MustCompile(`^p(100|\d{1,2}(\.\d{1,10})?)$`)

// percentileOf parses "p99.9" into 0.999.
func percentileOf(stat string) (float64, bool) {
	if !percentilePattern.MatchString(stat) {
		return 0, false
	}
	f, err := strconv.ParseFloat(stat[1:], 64)
	if err != nil || f <= 0 || f > 100 {
		return 0, false
	}
	return f / 100, true
}

var basicStats = map[string]bool{"SampleCount": true, "Average": true, "Sum": true, "Minimum": true, "Maximum": true}

// statValue is one statistic of a window.
func statValue(w *bucket, stat string) (float64, bool) {
	if w.n <= 0 {
		return 0, false
	}
	switch stat {
	case "SampleCount":
		return w.n, true
	case "Sum":
		return w.sum, true
	case "Average":
		return w.sum / w.n, true
	case "Minimum":
		return w.min, true
	case "Maximum":
		return w.max, true
	}
	if q, ok := percentileOf(stat); ok {
		return w.d.quantile(q)
	}
	return 0, false
}

func (s *Service) getMetricStatistics(_ context.Context, in *GetMetricStatisticsInput) (*GetMetricStatisticsOutput, error) {
	if err := checkNamespace(in.Namespace, "Namespace", false); err != nil {
		return nil, err
	}
	switch {
	case in.MetricName == "":
		return nil, errMissing("MetricName")
	case in.StartTime == nil:
		return nil, errMissing("StartTime")
	case in.EndTime == nil:
		return nil, errMissing("EndTime")
	case in.Period == nil:
		return nil, errMissing("Period")
	case !validPeriod(*in.Period):
		return nil, errInvalid("The parameter Period must be 1, 5, 10, 30 or a multiple of 60.")
	case !in.StartTime.Before(in.EndTime.Time):
		return nil, errInvalid("The parameter StartTime must be less than the parameter EndTime.")
	case len(in.Statistics) == 0 && len(in.ExtendedStatistics) == 0:
		return nil, errMissing("Statistics")
	case len(in.Statistics) > 0 && len(in.ExtendedStatistics) > 0:
		return nil, errCombination("Must specify either Statistics or ExtendedStatistics, but not both.")
	case len(in.Statistics) > 5:
		return nil, errInvalid("The collection Statistics must not have a size greater than 5.")
	case len(in.ExtendedStatistics) > 10:
		return nil, errInvalid("The collection ExtendedStatistics must not have a size greater than 10.")
	case in.Unit != "" && !units[in.Unit]:
		return nil, errInvalidf("The value %s for parameter Unit is invalid.", truncate(in.Unit, 64))
	}
	for i, st := range in.Statistics {
		if !basicStats[st] {
			return nil, errInvalidf("The value %s for parameter Statistics.member.%d is invalid.", truncate(st, 32), i+1)
		}
	}
	for i, st := range in.ExtendedStatistics {
		if _, ok := percentileOf(st); !ok {
			return nil, errInvalidf("The value %s for parameter ExtendedStatistics.member.%d is invalid: Nimbus serves percentiles (p0.1 to p100).", truncate(st, 32), i+1)
		}
	}
	if err := checkDimensions(in.Dimensions, "Dimensions"); err != nil {
		return nil, err
	}
	period := *in.Period
	if n := (in.EndTime.Unix() - in.StartTime.Unix() + period - 1) / period; n > maxDatapointsGMS {
		return nil, errCombination(fmt.Sprintf("You have requested up to %d datapoints, which exceeds the limit of %d. You may reduce the datapoints requested by increasing Period, or decreasing the time range.", n, maxDatapointsGMS))
	}
	out := &GetMetricStatisticsOutput{Label: in.MetricName, Datapoints: []Datapoint{}}
	wins, unit, _ := s.db.query(seriesKey(in.Namespace, in.MetricName, in.Dimensions), in.StartTime.Time, in.EndTime.Time, period, in.Unit)
	if unit == "" {
		unit = "None"
	}
	for i := range wins {
		w := &wins[i]
		dp := Datapoint{Timestamp: Time{time.Unix(w.start, 0).UTC()}, Unit: unit}
		for _, st := range in.Statistics {
			v, _ := statValue(&w.bucket, st)
			vv := v
			switch st {
			case "SampleCount":
				dp.SampleCount = &vv
			case "Sum":
				dp.Sum = &vv
			case "Average":
				dp.Average = &vv
			case "Minimum":
				dp.Minimum = &vv
			case "Maximum":
				dp.Maximum = &vv
			}
		}
		for _, st := range in.ExtendedStatistics {
			if v, ok := statValue(&w.bucket, st); ok {
				if dp.ExtendedStatistics == nil {
					dp.ExtendedStatistics = map[string]float64{}
				}
				dp.ExtendedStatistics[st] = v
			}
		}
		out.Datapoints = append(out.Datapoints, dp)
	}
	return out, nil
}

// listActiveWindow: ListMetrics shows metrics with data in the last two
// weeks.
const listActiveWindow = 14 * 24 * time.Hour

func (s *Service) listMetrics(_ context.Context, in *ListMetricsInput) (*ListMetricsOutput, error) {
	if len(in.Dimensions) > 10 {
		return nil, errInvalid("The collection Dimensions must not have a size greater than 10.")
	}
	if in.RecentlyActive != "" && in.RecentlyActive != "PT3H" {
		return nil, errInvalidf("The value %s for parameter RecentlyActive is invalid.", truncate(in.RecentlyActive, 32))
	}
	after := ""
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil {
			return nil, errNextToken()
		}
		after = string(b)
	}
	now := s.now()
	since := now.Add(-listActiveWindow).Unix()
	if in.RecentlyActive == "PT3H" {
		since = now.Add(-3 * time.Hour).Unix()
	}
	ms := s.db.list(func(m *metricInfo) bool {
		if m.key <= after && after != "" || m.last < since {
			return false
		}
		if in.Namespace != "" && m.ns != in.Namespace || in.MetricName != "" && m.name != in.MetricName {
			return false
		}
		for _, f := range in.Dimensions {
			found := false
			for _, d := range m.dims {
				if d.Name == f.Name && (f.Value == nil || *f.Value == d.Value) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	})
	out := &ListMetricsOutput{Metrics: []Metric{}}
	for i, m := range ms {
		if i == listPageSize {
			out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(ms[i-1].key))
			break
		}
		dims := m.dims
		if dims == nil {
			dims = []Dimension{}
		}
		out.Metrics = append(out.Metrics, Metric{Namespace: m.ns, MetricName: m.name, Dimensions: dims})
	}
	return out, nil
}
