package cloudwatch

import (
	"math"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseExpr: any expression either fails to parse or evaluates
// within its budget without panicking.
func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{"m1 + m2", "SUM(METRICS())", "FILL(m1, REPEAT)", "IF(m1 > 2 AND m2 < 3, m1, 0)",
		"RATE(m1) * 60", "-(m1 ^ 2) / PERIOD(m1)", `METRICS("Err")`, "FILL(m1, LINEAR)", "NOT m1 || !m2", "1e3 * .5",
		"MAX(METRICS()) - MIN(METRICS())", "AVG(m1)", "(((", "m1 +", `"unterminated`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		n, err := parseExpr(src)
		if err != nil {
			if len(src) <= maxExprLen && n != nil {
				t.Fatalf("error with a tree")
			}
			return
		}
		mk := func(label string, vals ...float64) *tseries {
			s := &tseries{label: label, period: 60}
			for i, v := range vals {
				s.t = append(s.t, int64(i*60))
				s.v = append(s.v, v)
			}
			return s
		}
		m1, m2 := mk("Errors", 1, 2, 3, math.NaN()), mk("Count", 4, 0, 6)
		env := &evalEnv{start: 0, end: 600}
		env.resolve = func(id string) (mval, error) {
			switch id {
			case "m1":
				return mval{kind: 's', series: []*tseries{m1}}, nil
			case "m2":
				return mval{kind: 's', series: []*tseries{m2}}, nil
			}
			return mval{}, exprErrf("unknown id")
		}
		env.metrics = func(string) []*tseries { return []*tseries{m1, m2} }
		_, _ = env.eval(n)
		if env.cost > maxEvalCost+maxExprNodes*1000 {
			t.Fatalf("cost %d over budget", env.cost)
		}
	})
}

// FuzzDecodeQuery: any form decodes into each input shape or fails
// with a client error.
func FuzzDecodeQuery(f *testing.F) {
	f.Add("Action=PutMetricData&Namespace=N&MetricData.member.1.MetricName=m&MetricData.member.1.Value=1")
	f.Add("MetricData.member.2.Values.member.1=NaN&MetricData.member.1.Dimensions.member.1.Name=a")
	f.Add("MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.999999999=1&StartTime=2024-01-01T00:00:00Z")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		for _, in := range []any{&PutMetricDataInput{}, &GetMetricDataInput{}, &GetMetricStatisticsInput{}, &ListMetricsInput{},
			&PutMetricAlarmInput{}, &DescribeAlarmsInput{}, &PutDashboardInput{}, &PutCompositeAlarmInput{}} {
			if err := decodeQuery(form, in); err != nil && !strings.Contains(err.Error(), "InvalidParameterValue") {
				t.Fatalf("%T: %v", in, err)
			}
		}
	})
}

// FuzzDecodeCBOR: any CBOR body decodes into each input shape or fails.
func FuzzDecodeCBOR(f *testing.F) {
	f.Add([]byte{0xa1, 0x69, 'N', 'a', 'm', 'e', 's', 'p', 'a', 'c', 'e', 0x61, 'N'})
	f.Add([]byte{0xa1, 0x69, 'S', 't', 'a', 'r', 't', 'T', 'i', 'm', 'e', 0xc1, 0xfb, 0x41, 0xd9, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, in := range []any{&PutMetricDataInput{}, &GetMetricDataInput{}, &PutMetricAlarmInput{}} {
			_ = cborDec.Unmarshal(body, in)
		}
	})
}

// FuzzParseRule: any composite alarm rule parses and evaluates, or
// fails, without panicking.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{`ALARM("a") AND NOT OK(b)`, "TRUE OR FALSE", `INSUFFICIENT_DATA("arn:aws:cloudwatch:us-east-1:1:alarm:x")`, "ALARM(", "1 + 2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rule string) {
		st, _ := evaluateRule(rule, map[string]string{"a": StateAlarm, "b": StateOK})
		if st != StateAlarm && st != StateOK && st != StateInsufficientData {
			t.Fatalf("state %q", st)
		}
		_ = ruleRefs(rule)
	})
}

// FuzzDashboardBody: any body is either refused with messages or stored.
func FuzzDashboardBody(f *testing.F) {
	f.Add(`{"widgets":[{"type":"metric","x":0,"y":0,"width":12,"height":6,"properties":{"metrics":[["AWS/Lambda","Errors"]]}}]}`)
	f.Add(`{"widgets":[{"type":"log","properties":{}}, {"type":"bogus"}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		errs, _ := checkDashboardBody(body)
		for _, e := range errs {
			if e.Message == "" {
				t.Fatal("an error without a message")
			}
		}
	})
}
