//go:build !unix

package store

import (
	"fmt"
	"os"
)

// lockDir only creates the lock file where flock is unavailable.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600) //nolint:gosec // path is under the configured DataDir
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	return f, nil
}
