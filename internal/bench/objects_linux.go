package bench

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// dropCache asks the kernel to drop p's (clean, fsynced) pages from the
// page cache, so the next read comes from the disk.
func dropCache(p string) error {
	f, err := os.Open(p) // #nosec G304 -- the bench's own files
	if err != nil {
		return fmt.Errorf("drop cache: %w", err)
	}
	defer f.Close() //nolint:errcheck // read only
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("drop cache of %s: %w", p, err)
	}
	return nil
}
