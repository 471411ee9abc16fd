//go:build !unix

package store

import "errors"

// fsSpace is not implemented here: the store does not watch its disk.
func fsSpace(string) (free, size int64, err error) {
	return 0, 0, errors.New("file system space unknown on this platform")
}
