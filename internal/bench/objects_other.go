//go:build !linux

package bench

// dropCache is Linux's alone (posix_fadvise): elsewhere the disk and
// object reads may come from the page cache, and the report's read
// figures say more about memory than the disk.
func dropCache(string) error { return nil }
