package cloudwatch

// Tag is a resource tag (accepted and kept with the alarm or dashboard).
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// PutMetricAlarmInput is PutMetricAlarm's request.
type PutMetricAlarmInput struct {
	AlarmName                        string            `json:"AlarmName"`
	AlarmDescription                 string            `json:"AlarmDescription,omitempty"`
	ActionsEnabled                   *bool             `json:"ActionsEnabled,omitempty"`
	OKActions                        []string          `json:"OKActions,omitempty"`
	AlarmActions                     []string          `json:"AlarmActions,omitempty"`
	InsufficientDataActions          []string          `json:"InsufficientDataActions,omitempty"`
	MetricName                       string            `json:"MetricName,omitempty"`
	Namespace                        string            `json:"Namespace,omitempty"`
	Statistic                        string            `json:"Statistic,omitempty"`
	ExtendedStatistic                string            `json:"ExtendedStatistic,omitempty"`
	Dimensions                       []Dimension       `json:"Dimensions,omitempty"`
	Period                           *int64            `json:"Period,omitempty"`
	Unit                             string            `json:"Unit,omitempty"`
	EvaluationPeriods                *int64            `json:"EvaluationPeriods,omitempty"`
	DatapointsToAlarm                *int64            `json:"DatapointsToAlarm,omitempty"`
	Threshold                        *float64          `json:"Threshold,omitempty"`
	ComparisonOperator               string            `json:"ComparisonOperator,omitempty"`
	TreatMissingData                 string            `json:"TreatMissingData,omitempty"`
	EvaluateLowSampleCountPercentile string            `json:"EvaluateLowSampleCountPercentile,omitempty"`
	Metrics                          []MetricDataQuery `json:"Metrics,omitempty"`
	Tags                             []Tag             `json:"Tags,omitempty"`
	ThresholdMetricID                string            `json:"ThresholdMetricId,omitempty"`
}

// MetricAlarm is an alarm as DescribeAlarms answers it (and as it is
// stored).
type MetricAlarm struct {
	AlarmName                          string            `json:"AlarmName"`
	AlarmArn                           string            `json:"AlarmArn"`
	AlarmDescription                   string            `json:"AlarmDescription,omitempty"`
	AlarmConfigurationUpdatedTimestamp Time              `json:"AlarmConfigurationUpdatedTimestamp"`
	ActionsEnabled                     bool              `json:"ActionsEnabled"`
	OKActions                          []string          `json:"OKActions"`
	AlarmActions                       []string          `json:"AlarmActions"`
	InsufficientDataActions            []string          `json:"InsufficientDataActions"`
	StateValue                         string            `json:"StateValue"`
	StateReason                        string            `json:"StateReason"`
	StateReasonData                    string            `json:"StateReasonData,omitempty"`
	StateUpdatedTimestamp              Time              `json:"StateUpdatedTimestamp"`
	StateTransitionedTimestamp         Time              `json:"StateTransitionedTimestamp"`
	MetricName                         string            `json:"MetricName,omitempty"`
	Namespace                          string            `json:"Namespace,omitempty"`
	Statistic                          string            `json:"Statistic,omitempty"`
	ExtendedStatistic                  string            `json:"ExtendedStatistic,omitempty"`
	Dimensions                         []Dimension       `json:"Dimensions"`
	Period                             int64             `json:"Period,omitempty"`
	Unit                               string            `json:"Unit,omitempty"`
	EvaluationPeriods                  int64             `json:"EvaluationPeriods"`
	DatapointsToAlarm                  int64             `json:"DatapointsToAlarm,omitempty"`
	Threshold                          float64           `json:"Threshold"`
	ComparisonOperator                 string            `json:"ComparisonOperator"`
	TreatMissingData                   string            `json:"TreatMissingData,omitempty"`
	EvaluateLowSampleCountPercentile   string            `json:"EvaluateLowSampleCountPercentile,omitempty"`
	Metrics                            []MetricDataQuery `json:"Metrics,omitempty"`
	// Tags are kept with the record; ListTagsForResource is not served.
	Tags []Tag `json:"-"`
}

// CompositeAlarm is a composite alarm as DescribeAlarms answers it.
type CompositeAlarm struct {
	AlarmName                          string   `json:"AlarmName"`
	AlarmArn                           string   `json:"AlarmArn"`
	AlarmDescription                   string   `json:"AlarmDescription,omitempty"`
	AlarmRule                          string   `json:"AlarmRule"`
	AlarmConfigurationUpdatedTimestamp Time     `json:"AlarmConfigurationUpdatedTimestamp"`
	ActionsEnabled                     bool     `json:"ActionsEnabled"`
	OKActions                          []string `json:"OKActions"`
	AlarmActions                       []string `json:"AlarmActions"`
	InsufficientDataActions            []string `json:"InsufficientDataActions"`
	StateValue                         string   `json:"StateValue"`
	StateReason                        string   `json:"StateReason"`
	StateReasonData                    string   `json:"StateReasonData,omitempty"`
	StateUpdatedTimestamp              Time     `json:"StateUpdatedTimestamp"`
	StateTransitionedTimestamp         Time     `json:"StateTransitionedTimestamp"`
}

// PutCompositeAlarmInput is PutCompositeAlarm's request.
type PutCompositeAlarmInput struct {
	AlarmName               string   `json:"AlarmName"`
	AlarmDescription        string   `json:"AlarmDescription,omitempty"`
	AlarmRule               string   `json:"AlarmRule"`
	ActionsEnabled          *bool    `json:"ActionsEnabled,omitempty"`
	OKActions               []string `json:"OKActions,omitempty"`
	AlarmActions            []string `json:"AlarmActions,omitempty"`
	InsufficientDataActions []string `json:"InsufficientDataActions,omitempty"`
	Tags                    []Tag    `json:"Tags,omitempty"`
	ActionsSuppressor       string   `json:"ActionsSuppressor,omitempty"`
}

// DescribeAlarmsInput is DescribeAlarms' request.
type DescribeAlarmsInput struct {
	AlarmNames          []string `json:"AlarmNames,omitempty"`
	AlarmNamePrefix     string   `json:"AlarmNamePrefix,omitempty"`
	AlarmTypes          []string `json:"AlarmTypes,omitempty"`
	ChildrenOfAlarmName string   `json:"ChildrenOfAlarmName,omitempty"`
	ParentsOfAlarmName  string   `json:"ParentsOfAlarmName,omitempty"`
	StateValue          string   `json:"StateValue,omitempty"`
	ActionPrefix        string   `json:"ActionPrefix,omitempty"`
	MaxRecords          *int64   `json:"MaxRecords,omitempty"`
	NextToken           string   `json:"NextToken,omitempty"`
}

// DescribeAlarmsOutput is DescribeAlarms' answer.
type DescribeAlarmsOutput struct {
	CompositeAlarms []CompositeAlarm `json:"CompositeAlarms"`
	MetricAlarms    []MetricAlarm    `json:"MetricAlarms"`
	NextToken       string           `json:"NextToken,omitempty"`
}

// DescribeAlarmsForMetricInput is DescribeAlarmsForMetric's request.
type DescribeAlarmsForMetricInput struct {
	MetricName        string      `json:"MetricName"`
	Namespace         string      `json:"Namespace"`
	Statistic         string      `json:"Statistic,omitempty"`
	ExtendedStatistic string      `json:"ExtendedStatistic,omitempty"`
	Dimensions        []Dimension `json:"Dimensions,omitempty"`
	Period            *int64      `json:"Period,omitempty"`
	Unit              string      `json:"Unit,omitempty"`
}

// DescribeAlarmsForMetricOutput is DescribeAlarmsForMetric's answer.
type DescribeAlarmsForMetricOutput struct {
	MetricAlarms []MetricAlarm `json:"MetricAlarms"`
}

// AlarmHistoryItem is one entry of an alarm's history.
type AlarmHistoryItem struct {
	AlarmName       string `json:"AlarmName"`
	AlarmType       string `json:"AlarmType"`
	Timestamp       Time   `json:"Timestamp"`
	HistoryItemType string `json:"HistoryItemType"`
	HistorySummary  string `json:"HistorySummary"`
	HistoryData     string `json:"HistoryData"`
}

// DescribeAlarmHistoryInput is DescribeAlarmHistory's request.
type DescribeAlarmHistoryInput struct {
	AlarmName       string   `json:"AlarmName,omitempty"`
	AlarmTypes      []string `json:"AlarmTypes,omitempty"`
	HistoryItemType string   `json:"HistoryItemType,omitempty"`
	StartDate       *Time    `json:"StartDate,omitempty"`
	EndDate         *Time    `json:"EndDate,omitempty"`
	MaxRecords      *int64   `json:"MaxRecords,omitempty"`
	NextToken       string   `json:"NextToken,omitempty"`
	ScanBy          string   `json:"ScanBy,omitempty"`
}

// DescribeAlarmHistoryOutput is DescribeAlarmHistory's answer.
type DescribeAlarmHistoryOutput struct {
	AlarmHistoryItems []AlarmHistoryItem `json:"AlarmHistoryItems"`
	NextToken         string             `json:"NextToken,omitempty"`
}

// AlarmNamesInput is the request of DeleteAlarms, EnableAlarmActions and
// DisableAlarmActions.
type AlarmNamesInput struct {
	AlarmNames []string `json:"AlarmNames"`
}

// SetAlarmStateInput is SetAlarmState's request.
type SetAlarmStateInput struct {
	AlarmName       string `json:"AlarmName"`
	StateValue      string `json:"StateValue"`
	StateReason     string `json:"StateReason"`
	StateReasonData string `json:"StateReasonData,omitempty"`
}
