package bench

import (
	"os"
	"time"
)

// maxRSSKB: not measured on Windows.
func maxRSSKB(*os.ProcessState) int64 { return 0 }

// processCPU: not measured on Windows.
func processCPU() time.Duration { return 0 }
