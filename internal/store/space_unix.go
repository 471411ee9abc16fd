//go:build unix

package store

import (
	"fmt"
	"syscall"
)

// fsSpace returns the free bytes (for unprivileged users) and the size of
// the file system holding dir.
func fsSpace(dir string) (free, size int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	bs := int64(st.Bsize)                                    // #nosec G115 -- a block size
	return int64(st.Bavail) * bs, int64(st.Blocks) * bs, nil // #nosec G115 -- block counts fit
}
