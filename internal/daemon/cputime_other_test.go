//go:build !unix

package daemon

import "time"

// processCPU is unknown here (benchmarks then report no cpu-ns/op).
func processCPU() time.Duration { return 0 }
