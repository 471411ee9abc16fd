package bench

import "os"

// maxRSSKB: not measured on Windows.
func maxRSSKB(*os.ProcessState) int64 { return 0 }
