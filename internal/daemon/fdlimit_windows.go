package daemon

// fdLimit: Windows has no such limit to read (and nimbus server does not
// run there).
func fdLimit() (uint64, bool) { return 0, false }
