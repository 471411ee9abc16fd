package esm

import (
	"errors"
	"slices"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

func TestBatchItemFailures(t *testing.T) {
	for _, c := range []struct {
		in  string
		ids []string
		ok  bool
	}{
		{``, nil, true},
		{`null`, nil, true},
		{`{}`, nil, true},
		{`{"batchItemFailures":[]}`, nil, true},
		{`{"batchItemFailures":null}`, nil, true},
		{`{"batchItemFailures":[{"itemIdentifier":"a"},{"itemIdentifier":"b"}]}`, []string{"a", "b"}, true},
		{`{"batchItemFailures":[{"itemIdentifier":""}]}`, nil, false},
		{`{"batchItemFailures":[{"itemIdentifier":null}]}`, nil, false},
		{`{"batchItemFailures":[{}]}`, nil, false},
		{`{"batchItemFailures":{"itemIdentifier":"a"}}`, nil, false},
		{`{"batchItemFailures":["a"]}`, nil, false},
		{`"ok"`, nil, false},
		{`[1]`, nil, false},
		{`{"batchItemFailures":[`, nil, false},
	} {
		ids, ok := batchItemFailures([]byte(c.in))
		if ok != c.ok || !slices.Equal(ids, c.ids) {
			t.Errorf("%s: %v %v, want %v %v", c.in, ids, ok, c.ids, c.ok)
		}
	}
}

func TestApplyLimits(t *testing.T) {
	bad := []string{
		`{"BatchSize":0}`, `{"BatchSize":10001}`, `{"BatchSize":11}`, `{"MaximumBatchingWindowInSeconds":301}`,
		`{"FunctionResponseTypes":["Other"]}`, `{"ScalingConfig":{"MaximumConcurrency":1}}`,
		`{"FilterCriteria":{"Filters":[{"Pattern":"{\"body\":"}]}}`, `{"StartingPosition":"LATEST"}`,
	}
	for _, b := range bad {
		r, err := decodeRequest([]byte(b))
		if err == nil {
			err = r.apply(&stored{Mapping: Mapping{BatchSize: 10}}, false)
		}
		var e *awsapi.Error
		if !errors.As(err, &e) || e.Status != 400 {
			t.Errorf("%s accepted (%v)", b, err)
		}
	}
	r, _ := decodeRequest([]byte(`{"BatchSize":11}`))
	if err := r.apply(&stored{}, true); err == nil {
		t.Error("BatchSize 11 on a FIFO queue accepted")
	}
	r, _ = decodeRequest([]byte(`{"BatchSize":100,"MaximumBatchingWindowInSeconds":1}`))
	if err := r.apply(&stored{}, false); err != nil {
		t.Errorf("BatchSize 100 with a window: %v", err)
	}
}

// FuzzRequest: any body decodes and validates without panic, and an
// accepted one stays within Lambda's limits.
func FuzzRequest(f *testing.F) {
	f.Add([]byte(`{"BatchSize":5,"FilterCriteria":{"Filters":[{"Pattern":"{\"body\":{\"a\":[1]}}"}]}}`), false)
	f.Add([]byte(`{"BatchSize":100,"MaximumBatchingWindowInSeconds":2,"ScalingConfig":{"MaximumConcurrency":3}}`), false)
	f.Add([]byte(`{"FunctionResponseTypes":["ReportBatchItemFailures"]}`), true)
	f.Fuzz(func(t *testing.T, body []byte, fifo bool) {
		r, err := decodeRequest(body)
		if err != nil {
			return
		}
		m := &stored{Mapping: Mapping{BatchSize: 10}}
		if r.apply(m, fifo) != nil {
			return
		}
		if m.BatchSize < 1 || m.BatchSize > 10000 || fifo && m.BatchSize > 10 || m.BatchSize > 10 && m.MaximumBatchingWindowInSeconds < 1 {
			t.Fatalf("accepted %s: %+v", body, m)
		}
	})
}
