package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nimbus-serverless/nimbus/internal/sqs"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// TestQueuesTable: a real SQS engine's metrics, exposed as /metrics
// renders them and parsed as the command parses them, print each
// queue's depth, in-flight count and dead-letter queue depth.
func TestQueuesTable(t *testing.T) {
	ctx := t.Context()
	st := storetest.Open(t)
	s, err := sqs.New(ctx, sqs.Options{JetStream: st.JetStream(), Region: "us-east-1", AccountID: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	const acct = "000000000000"
	if _, err := s.CreateQueue(ctx, acct, "dead", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateQueue(ctx, acct, "work", map[string]string{
		"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dead","maxReceiveCount":"3"}`}, nil); err != nil {
		t.Fatal(err)
	}
	send := func(queue string, n int) {
		for range n {
			if _, errs, err := s.Send(ctx, acct, queue, []*sqs.SendInput{{Body: "m"}}); err != nil || errs[0] != nil {
				t.Fatal(err, errs)
			}
		}
	}
	send("work", 5)
	send("dead", 2)
	if got, err := s.Receive(ctx, acct, "work", sqs.ReceiveInput{Max: 2}); err != nil || len(got) != 2 {
		t.Fatalf("receive: %d, %v", len(got), err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.Collector())
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&text, f); err != nil {
			t.Fatal(err)
		}
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := p.TextToMetricFamilies(&text)
	if err != nil {
		t.Fatal(err)
	}
	if v := parsed["nimbus_sqs_number_of_messages_sent_total"]; v == nil || len(v.Metric) != 2 {
		t.Fatalf("sent counters: %v", v)
	}
	var out bytes.Buffer
	if err := printQueues(&out, parsed); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("table:\n%s", out.String())
	}
	// work: 3 visible, 2 in flight, an oldest age, dead-letter queue "dead" with 2.
	f := strings.Fields(lines[2])
	if f[0] != "work" || f[2] != "3" || f[3] != "2" || f[5] != "dead" || f[6] != "2" {
		t.Fatalf("work's row %q; table:\n%s", f, out.String())
	}
	if f := strings.Fields(lines[1]); f[0] != "dead" || f[2] != "2" || f[3] != "0" || f[5] != "-" {
		t.Fatalf("dead's row %q", f)
	}
}
