package sfn_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/nimbus-serverless/nimbus/internal/sfn"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// BenchmarkDistributedMapParent: one STANDARD distributed Map of 200
// Pass children, from StartExecution to the parent's end. The parent is
// woken once per child's end and replays its journal each time: with the
// journal cache a wake-up reads only what was appended since its last
// run; "whole-journal" reads the whole journal at every wake-up (the
// cost that grows with the square of the items).
func BenchmarkDistributedMapParent(b *testing.B) {
	for _, mode := range []string{"cached", "whole-journal"} {
		b.Run(mode, func(b *testing.B) {
			st := storetest.Open(b)
			svc, err := sfn.New(b.Context(), sfn.Options{JetStream: st.JetStream(), Region: "us-east-1", AccountID: "123456789012",
				SingleNode: true, InlineWait: 200 * time.Millisecond})
			if err != nil {
				b.Fatal(err)
			}
			if mode == "whole-journal" {
				sfn.DisableJournalCache(svc)
			}
			e := serve(b, svc)
			arn := e.machine(b, "bench-"+strings.ReplaceAll(mode, "-", ""), `{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
			  "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P",
			    "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}}`)
			items := make([]string, 200)
			for i := range items {
				items[i] = fmt.Sprintf(`{"n": %d}`, i)
			}
			input := `{"items": [` + strings.Join(items, ",") + `]}`
			for b.Loop() {
				if d := e.run(b, arn, input); d.Status != types.ExecutionStatusSucceeded {
					b.Fatalf("status %s", d.Status)
				}
			}
		})
	}
}
