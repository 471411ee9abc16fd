package sfn

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkExpressPassChain runs a 1,000-state chain of Pass states in
// memory (an Express execution); it reports state transitions per second.
func BenchmarkExpressPassChain(b *testing.B) {
	benchChain(b, `{"StartAt": "S0", "States": {`, `"S%d": {"Type": "Pass", "Parameters": {"n.$": "$.n", "i": %d}, "Next": "S%d"}, `)
}

// BenchmarkExpressJSONataPassChain is the same chain in JSONata, each
// state building its output with an expression and assigning a
// variable; compare its transitions/s with BenchmarkExpressPassChain's.
func BenchmarkExpressJSONataPassChain(b *testing.B) {
	benchChain(b, `{"QueryLanguage": "JSONata", "StartAt": "S0", "States": {`,
		`"S%d": {"Type": "Pass", "Output": {"n": "{%% $states.input.n %%}", "i": %d}, "Assign": {"last": "{%% $states.input.n + 1 %%}"}, "Next": "S%d"}, `)
}

// benchStates is the chain's length (nimbus bench's Express chain)
const benchStates = 1000

func benchChain(b *testing.B, head, state string) {
	var sb strings.Builder
	sb.WriteString(head)
	for i := range benchStates {
		fmt.Fprintf(&sb, state, i, i, i+1)
	}
	fmt.Fprintf(&sb, `"S%d": {"Type": "Succeed"}}}`, benchStates)
	def, err := Parse(sb.String(), true)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	n := 0
	for b.Loop() {
		j, _ := openJournal(ctx, &memJournal{}, time.Now)
		r := &run{x: &Execution{ARN: "arn:aws:states:us-east-1:1:express:m:e:1", Input: `{"n": 1}`, Def: def, Seed: []byte("01234567")},
			j: j, tasks: &Tasks{}, now: time.Now, after: time.After}
		if _, err := r.exec(ctx); err != nil {
			b.Fatal(err)
		}
		n += benchStates + 1
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "transitions/s")
}
