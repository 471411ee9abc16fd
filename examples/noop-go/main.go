// Command noop-go is the benchmark's Go function (nimbus bench): an
// aws-lambda-go function that does nothing, unless its event asks it to
// hold its environment for a while ("sleep_ms", for scale-out) or to
// report its own memory ("rss", for the idle-environment measurement), or,
// given an EventBridge event whose detail carries "bench_sent" (Unix
// nanoseconds), to log how long ago it was put (the event-to-function
// latency: the environment runs on the bench's machine, same clock), and
// likewise for DynamoDB stream records whose new image has a number
// attribute "bench_sent" (the table-write-to-function latency).
//
//	GOOS=linux CGO_ENABLED=0 go build -tags lambda.norpc -o bootstrap ./examples/noop-go
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	SleepMS int  `json:"sleep_ms"`
	RSS     bool `json:"rss"`
	Detail  struct {
		BenchSent int64 `json:"bench_sent"`
	} `json:"detail"`
	Records []struct {
		DynamoDB struct {
			NewImage struct {
				BenchSent struct {
					N string `json:"N"`
				} `json:"bench_sent"`
			} `json:"NewImage"`
		} `json:"dynamodb"`
	} `json:"Records"`
}

// envID tells environments apart.
var envID = func() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

func handle(_ context.Context, ev event) (any, error) {
	switch {
	case ev.SleepMS > 0:
		started := time.Now().UnixNano()
		time.Sleep(time.Duration(ev.SleepMS) * time.Millisecond)
		return map[string]any{"started": started, "env": envID}, nil
	case ev.RSS:
		return map[string]any{"pss_kb": pssKB()}, nil
	case ev.Detail.BenchSent > 0:
		fmt.Printf("bench-latency-us %d\n", (time.Now().UnixNano()-ev.Detail.BenchSent)/1000)
	case len(ev.Records) > 0:
		now := time.Now().UnixNano()
		for _, r := range ev.Records {
			if sent, err := strconv.ParseInt(r.DynamoDB.NewImage.BenchSent.N, 10, 64); err == nil {
				fmt.Printf("bench-latency-us %d\n", (now-sent)/1000)
			}
		}
	}
	return nil, nil
}

// pssKB is this process's proportional set size.
func pssKB() int {
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Pss:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

func main() { lambda.Start(handle) }
