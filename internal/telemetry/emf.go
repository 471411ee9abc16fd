package telemetry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Embedded Metric Format limits, as CloudWatch enforces them.
const (
	emfMaxDimensions = 30  // per dimension set
	emfMaxMetrics    = 100 // per directive
	emfMaxValues     = 100 // per metric value array
	emfMaxName       = 255 // namespace, metric and dimension names
	emfMaxValueLen   = 1024
	emfMaxLine       = 256 * 1024 // a CloudWatch log event
)

// DefaultMaxEMFSeries caps the label sets EMF metrics create on one node:
// past it new series are dropped (and counted), so a function that puts a
// request id in a dimension cannot exhaust the server's memory.
const DefaultMaxEMFSeries = 10000

// ErrNotEMF is returned for a line that is not an EMF document.
var ErrNotEMF = errors.New("not an embedded metric format line")

// EMFMetric is one metric of an EMF line under one dimension set: what
// CloudWatch would store as one metric datum.
type EMFMetric struct {
	Namespace string
	Name      string
	Unit      string
	// Dimensions in the order the dimension set names them.
	Dimensions []EMFDimension
	// Values: one, or the array the line gave.
	Values []float64
}

// EMFDimension is one dimension's name and value.
type EMFDimension struct{ Name, Value string }

type emfDoc struct {
	AWS *struct {
		Timestamp         *json.Number `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  string     `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name              string `json:"Name"`
				Unit              string `json:"Unit"`
				StorageResolution int    `json:"StorageResolution"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	} `json:"_aws"`
}

// ParseEMF reads one log line in the Embedded Metric Format that
// aws-embedded-metrics and Powertools Metrics write: a JSON object with an
// "_aws" member {"Timestamp", "CloudWatchMetrics": [{"Namespace",
// "Dimensions": [[...]], "Metrics": [{"Name","Unit","StorageResolution"}]}]}
// and the metric values and dimension values as top-level members. A line
// the Lambda runtimes prefixed ("<time>\t<request id>\t<LEVEL>\t{...}") is
// read from its JSON part. A line that is not EMF is ErrNotEMF; an EMF
// line that breaks the format's rules is another error.
func ParseEMF(line []byte) ([]EMFMetric, error) {
	line = bytes.TrimSpace(line)
	if len(line) > emfMaxLine || !bytes.Contains(line, []byte(`"_aws"`)) {
		return nil, ErrNotEMF
	}
	if line[0] != '{' {
		i := bytes.LastIndexByte(line, '\t')
		if i < 0 || i+1 >= len(line) || line[i+1] != '{' {
			return nil, ErrNotEMF
		}
		line = line[i+1:]
	}
	var doc emfDoc
	if err := json.Unmarshal(line, &doc); err != nil || doc.AWS == nil {
		return nil, ErrNotEMF
	}
	var root map[string]json.RawMessage
	if err := json.Unmarshal(line, &root); err != nil {
		return nil, ErrNotEMF
	}
	if doc.AWS.Timestamp == nil {
		return nil, errors.New("emf: _aws.Timestamp is missing")
	}
	if _, err := doc.AWS.Timestamp.Int64(); err != nil {
		return nil, fmt.Errorf("emf: _aws.Timestamp %q is not epoch milliseconds", doc.AWS.Timestamp.String())
	}
	if len(doc.AWS.CloudWatchMetrics) == 0 {
		return nil, errors.New("emf: _aws.CloudWatchMetrics is empty")
	}
	var out []EMFMetric
	for _, d := range doc.AWS.CloudWatchMetrics {
		if d.Namespace == "" || len(d.Namespace) > emfMaxName {
			return nil, fmt.Errorf("emf: namespace %q must be 1 to %d characters", d.Namespace, emfMaxName)
		}
		if len(d.Metrics) > emfMaxMetrics {
			return nil, fmt.Errorf("emf: %d metrics in one directive (limit %d)", len(d.Metrics), emfMaxMetrics)
		}
		sets := d.Dimensions
		if len(sets) == 0 {
			sets = [][]string{nil}
		}
		resolved := make([][]EMFDimension, 0, len(sets))
		for _, set := range sets {
			if len(set) > emfMaxDimensions {
				return nil, fmt.Errorf("emf: dimension set of %d dimensions (limit %d)", len(set), emfMaxDimensions)
			}
			dims := make([]EMFDimension, 0, len(set))
			for _, name := range set {
				var v string
				raw, ok := root[name]
				if name == "" || len(name) > emfMaxName || !ok || json.Unmarshal(raw, &v) != nil {
					return nil, fmt.Errorf("emf: dimension %q has no string value", name)
				}
				if len(v) > emfMaxValueLen {
					return nil, fmt.Errorf("emf: value of dimension %q is longer than %d bytes", name, emfMaxValueLen)
				}
				dims = append(dims, EMFDimension{Name: name, Value: v})
			}
			resolved = append(resolved, dims)
		}
		for _, md := range d.Metrics {
			if md.Name == "" || len(md.Name) > emfMaxName {
				return nil, fmt.Errorf("emf: metric name %q must be 1 to %d characters", md.Name, emfMaxName)
			}
			if md.StorageResolution != 0 && md.StorageResolution != 1 && md.StorageResolution != 60 {
				return nil, fmt.Errorf("emf: metric %q: StorageResolution %d must be 1 or 60", md.Name, md.StorageResolution)
			}
			raw, ok := root[md.Name]
			if !ok {
				return nil, fmt.Errorf("emf: metric %q has no value", md.Name)
			}
			vals, err := emfValues(raw)
			if err != nil {
				return nil, fmt.Errorf("emf: metric %q: %w", md.Name, err)
			}
			for _, dims := range resolved {
				out = append(out, EMFMetric{Namespace: d.Namespace, Name: md.Name, Unit: md.Unit, Dimensions: dims, Values: vals})
			}
		}
	}
	return out, nil
}

func emfValues(raw json.RawMessage) ([]float64, error) {
	var one float64
	if err := json.Unmarshal(raw, &one); err == nil {
		return []float64{one}, nil
	}
	var many []float64
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, errors.New("value is not a number or an array of numbers")
	}
	if len(many) == 0 || len(many) > emfMaxValues {
		return nil, fmt.Errorf("%d values (1 to %d allowed)", len(many), emfMaxValues)
	}
	return many, nil
}

// EMFLine turns an EMF log line of a function into metrics; other lines
// are ignored. It is the log pipeline's hook and cheap for non-EMF lines.
func (m *Metrics) EMFLine(function, version string, line []byte) {
	if !bytes.Contains(line, []byte(`"_aws"`)) {
		return
	}
	ms, err := ParseEMF(line)
	if err != nil {
		if !errors.Is(err, ErrNotEMF) {
			m.emf.invalid.Inc()
		}
		return
	}
	m.emf.add(function, version, ms)
}

// emfCollector keeps the EMF series and exposes each (namespace, metric)
// as a summary (sum and count of the values) plus a gauge of the last
// value, labelled function, version and the metric's dimensions.
type emfCollector struct {
	max     int
	invalid prometheus.Counter
	dropped prometheus.Counter

	mu       sync.Mutex
	families map[string]*emfFamily // guarded by mu; by Prometheus name
	names    map[string]bool       // guarded by mu: every exposed name in use
	series   int                   // guarded by mu
}

type emfFamily struct {
	help   string
	labels []string // sorted union of the label names of its series
	series map[string]*emfSeries
}

type emfSeries struct {
	labels    map[string]string
	sum, last float64
	count     uint64
}

func newEMFCollector(maxSeries int) *emfCollector {
	if maxSeries <= 0 {
		maxSeries = DefaultMaxEMFSeries
	}
	return &emfCollector{
		max: maxSeries,
		invalid: prometheus.NewCounter(prometheus.CounterOpts{Name: "nimbus_emf_invalid_lines_total",
			Help: "Log lines with an _aws member that broke the Embedded Metric Format's rules."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "nimbus_emf_series_dropped_total",
			Help: "EMF metric values dropped because the series cap was reached or the name collided."}),
		families: map[string]*emfFamily{},
		names:    map[string]bool{},
	}
}

// EMFName is the Prometheus family name of an EMF metric.
func EMFName(namespace, name string) string {
	return "nimbus_emf_" + sanitize(namespace) + "_" + sanitize(name)
}

func sanitize(s string) string {
	var b strings.Builder
	under := false
	for _, c := range s {
		ok := c < 128 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9')
		if ok {
			b.WriteRune(c)
			under = false
		} else if !under {
			b.WriteByte('_')
			under = true
		}
	}
	return b.String()
}

// labelName is the Prometheus label of a dimension; names the platform
// uses itself get a dim_ prefix.
func labelName(dim string) string {
	n := sanitize(dim)
	if n == "" || n == "function" || n == "version" || strings.HasPrefix(n, "__") || (n[0] >= '0' && n[0] <= '9') {
		n = "dim_" + n
	}
	return n
}

func (c *emfCollector) add(function, version string, ms []EMFMetric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, em := range ms {
		name := EMFName(em.Namespace, em.Name)
		f := c.families[name]
		if f == nil {
			if c.names[name] || c.names[name+"_sum"] || c.names[name+"_count"] || c.names[name+"_last"] || c.series >= c.max {
				c.dropped.Inc()
				continue
			}
			help := fmt.Sprintf("EMF metric %s in namespace %s", em.Name, em.Namespace)
			if em.Unit != "" && em.Unit != "None" {
				help += " (" + em.Unit + ")"
			}
			f = &emfFamily{help: help, series: map[string]*emfSeries{}}
			c.families[name] = f
			for _, n := range []string{name, name + "_sum", name + "_count", name + "_last"} {
				c.names[n] = true
			}
		}
		labels := map[string]string{"function": function, "version": version}
		for _, d := range em.Dimensions {
			labels[labelName(d.Name)] = d.Value
		}
		key := seriesKey(labels)
		s := f.series[key]
		if s == nil {
			if c.series >= c.max {
				c.dropped.Inc()
				continue
			}
			s = &emfSeries{labels: labels}
			f.series[key] = s
			c.series++
			for l := range labels {
				if !contains(f.labels, l) {
					f.labels = append(f.labels, l)
					sort.Strings(f.labels)
				}
			}
		}
		for _, v := range em.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			s.sum += v
			s.count++
			s.last = v
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func seriesKey(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(labels[k])
		b.WriteByte(0)
	}
	return b.String()
}

// Describe sends nothing: the EMF families are not known ahead (an
// unchecked collector; its two counters are registered on their own).
func (c *emfCollector) Describe(chan<- *prometheus.Desc) {}

func (c *emfCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, f := range c.families {
		sum := prometheus.NewDesc(name, f.help, f.labels, nil)
		last := prometheus.NewDesc(name+"_last", f.help+": last value", f.labels, nil)
		for _, s := range f.series {
			vals := make([]string, len(f.labels))
			for i, l := range f.labels {
				vals[i] = s.labels[l]
			}
			if m, err := prometheus.NewConstSummary(sum, s.count, s.sum, nil, vals...); err == nil {
				ch <- m
			}
			if m, err := prometheus.NewConstMetric(last, prometheus.GaugeValue, s.last, vals...); err == nil {
				ch <- m
			}
		}
	}
}
