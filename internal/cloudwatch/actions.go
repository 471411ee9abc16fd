package cloudwatch

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// awsTime is the time format of alarm events ("2023-08-04T12:36:15.490+0000").
const awsTime = "2006-01-02T15:04:05.000-0700"

// alarmState is one state of the alarm events' alarmData.
type alarmState struct {
	Value      string `json:"value"`
	Reason     string `json:"reason"`
	ReasonData string `json:"reasonData,omitempty"`
	Timestamp  string `json:"timestamp"`
}

func stateOf(r *alarmRecord) alarmState {
	if r.Metric != nil {
		m := r.Metric
		return alarmState{Value: m.StateValue, Reason: m.StateReason, ReasonData: m.StateReasonData,
			Timestamp: m.StateUpdatedTimestamp.UTC().Format(awsTime)}
	}
	c := r.Composite
	return alarmState{Value: c.StateValue, Reason: c.StateReason, ReasonData: c.StateReasonData,
		Timestamp: c.StateUpdatedTimestamp.UTC().Format(awsTime)}
}

// alarmData is the alarmData of the Lambda action's event and the detail
// of the EventBridge event (AWS's "CloudWatch Alarm State Change").
func alarmData(r, prev *alarmRecord) map[string]any {
	conf := map[string]any{}
	if r.Metric != nil {
		m := r.Metric
		conf["description"] = m.AlarmDescription
		var metrics []map[string]any
		dims := func(ds []Dimension) map[string]string {
			out := map[string]string{}
			for _, d := range ds {
				out[d.Name] = d.Value
			}
			return out
		}
		if m.MetricName != "" {
			stat := m.Statistic
			if stat == "" {
				stat = m.ExtendedStatistic
			}
			ms := map[string]any{"metric": map[string]any{"namespace": m.Namespace, "name": m.MetricName, "dimensions": dims(m.Dimensions)},
				"period": m.Period, "stat": stat}
			if m.Unit != "" {
				ms["unit"] = m.Unit
			}
			metrics = append(metrics, map[string]any{"id": "m1", "metricStat": ms, "returnData": true})
		}
		for _, q := range m.Metrics {
			e := map[string]any{"id": q.ID, "returnData": q.ReturnData == nil || *q.ReturnData}
			if q.Expression != "" {
				e["expression"] = q.Expression
			}
			if q.Label != "" {
				e["label"] = q.Label
			}
			if q.MetricStat != nil {
				e["metricStat"] = map[string]any{"metric": map[string]any{"namespace": q.MetricStat.Metric.Namespace,
					"name": q.MetricStat.Metric.MetricName, "dimensions": dims(q.MetricStat.Metric.Dimensions)},
					"period": q.MetricStat.Period, "stat": q.MetricStat.Stat}
			}
			metrics = append(metrics, e)
		}
		conf["metrics"] = metrics
	} else {
		conf["description"] = r.Composite.AlarmDescription
		conf["alarmRule"] = r.Composite.AlarmRule
	}
	return map[string]any{"alarmName": r.name(), "state": stateOf(r), "previousState": stateOf(prev), "configuration": conf}
}

// act runs the alarm's actions for its new state (when enabled) and puts
// the state change on the default event bus.
func (s *Service) act(ctx context.Context, r, prev *alarmRecord, at Time) {
	arn := s.alarmArn(r.name())
	data := alarmData(r, prev)
	if s.opts.Events != nil {
		detail, _ := json.Marshal(data)
		if err := s.opts.Events(ctx, "aws.cloudwatch", "CloudWatch Alarm State Change", []string{arn}, detail); err != nil {
			s.log.Warn("alarm state change event", "alarm", r.name(), "err", err)
		}
	}
	var enabled bool
	var actions []string
	state := r.state()
	if r.Metric != nil {
		enabled = r.Metric.ActionsEnabled
		actions = map[string][]string{StateOK: r.Metric.OKActions, StateAlarm: r.Metric.AlarmActions,
			StateInsufficientData: r.Metric.InsufficientDataActions}[state]
	} else {
		enabled = r.Composite.ActionsEnabled
		actions = map[string][]string{StateOK: r.Composite.OKActions, StateAlarm: r.Composite.AlarmActions,
			StateInsufficientData: r.Composite.InsufficientDataActions}[state]
	}
	if !enabled || len(actions) == 0 || s.opts.Actions == nil {
		return
	}
	lambdaEvent, _ := json.Marshal(map[string]any{"source": "aws.cloudwatch", "alarmArn": arn, "accountId": s.opts.AccountID,
		"time": at.UTC().Format(awsTime), "region": s.opts.Region, "alarmData": data})
	snsMessage, _ := json.Marshal(s.snsMessage(r, prev, at))
	subject := fmt.Sprintf("%s: %q in %s", state, r.name(), s.opts.Region)
	if len(subject) > 100 {
		subject = subject[:100]
	}
	alarmType := "MetricAlarm"
	if r.Composite != nil {
		alarmType = "CompositeAlarm"
	}
	for _, target := range actions {
		body := lambdaEvent
		if service(target) == "sns" {
			body = snsMessage
		}
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := s.opts.Actions.Deliver(dctx, arn, target, subject, body)
		cancel()
		summary := fmt.Sprintf("Successfully executed action %s", target)
		status := "Succeeded"
		if err != nil {
			s.log.Warn("alarm action", "alarm", r.name(), "target", target, "err", err)
			summary = fmt.Sprintf("Failed to execute action %s", target)
			status = "Failed"
		}
		hd, _ := json.Marshal(map[string]any{"actionState": status, "stateUpdateTimestamp": at.UnixMilli(), "notificationResource": target})
		s.addHistory(ctx, r.name(), AlarmHistoryItem{AlarmName: r.name(), AlarmType: alarmType, Timestamp: Time{s.now().UTC()},
			HistoryItemType: "Action", HistorySummary: summary, HistoryData: string(hd)})
	}
}

// service is the service of an ARN ("lambda", "sns", ...).
func service(arn string) string {
	var parts [3]string
	n := 0
	start := 0
	for i := 0; i < len(arn) && n < 3; i++ {
		if arn[i] == ':' {
			parts[n] = arn[start:i]
			n++
			start = i + 1
		}
	}
	return parts[2]
}

// snsMessage is the JSON message CloudWatch publishes to an SNS topic.
func (s *Service) snsMessage(r, prev *alarmRecord, at Time) map[string]any {
	st := stateOf(r)
	msg := map[string]any{
		"AlarmName": r.name(), "AWSAccountId": s.opts.AccountID, "NewStateValue": st.Value, "NewStateReason": st.Reason,
		"StateChangeTime": at.UTC().Format(awsTime), "Region": s.opts.Region, "AlarmArn": s.alarmArn(r.name()),
		"OldStateValue": prev.state(),
	}
	if m := r.Metric; m != nil {
		msg["AlarmDescription"] = m.AlarmDescription
		msg["OKActions"], msg["AlarmActions"], msg["InsufficientDataActions"] = m.OKActions, m.AlarmActions, m.InsufficientDataActions
		dims := make([]map[string]string, len(m.Dimensions))
		for i, d := range m.Dimensions {
			dims[i] = map[string]string{"name": d.Name, "value": d.Value}
		}
		trigger := map[string]any{"MetricName": m.MetricName, "Namespace": m.Namespace, "Period": m.Period,
			"EvaluationPeriods": m.EvaluationPeriods, "ComparisonOperator": m.ComparisonOperator, "Threshold": m.Threshold,
			"TreatMissingData": m.TreatMissingData, "EvaluateLowSampleCountPercentile": m.EvaluateLowSampleCountPercentile,
			"Dimensions": dims, "Unit": nil}
		if m.Statistic != "" {
			trigger["StatisticType"], trigger["Statistic"] = "Statistic", upperStat(m.Statistic)
		} else if m.ExtendedStatistic != "" {
			trigger["StatisticType"], trigger["ExtendedStatistic"] = "ExtendedStatistic", m.ExtendedStatistic
		}
		if m.DatapointsToAlarm > 0 {
			trigger["DatapointsToAlarm"] = m.DatapointsToAlarm
		}
		msg["Trigger"] = trigger
	} else {
		c := r.Composite
		msg["AlarmDescription"] = c.AlarmDescription
		msg["AlarmRule"] = c.AlarmRule
		msg["OKActions"], msg["AlarmActions"], msg["InsufficientDataActions"] = c.OKActions, c.AlarmActions, c.InsufficientDataActions
	}
	return msg
}

func upperStat(s string) string {
	switch s {
	case "SampleCount":
		return "SAMPLE_COUNT"
	}
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}
