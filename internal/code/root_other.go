//go:build !unix

package code

import (
	"errors"
	"os"
)

// root outside Unix: extraction is not supported (environments run only on
// Unix systems); Validate works everywhere.
type root struct{}

func openRoot(string) (*root, error) {
	return nil, errors.New("code extraction needs a Unix system")
}

func (*root) close()                                  {}
func (*root) unprivileged(fn func() error) error      { return fn() }
func (*root) mkdir(string) error                      { return errors.ErrUnsupported }
func (*root) create(string, uint32) (*os.File, error) { return nil, errors.ErrUnsupported }
func (*root) symlink(string, string) error            { return errors.ErrUnsupported }
