package pool

import (
	"errors"
	"os"
)

// Windows runs no environments (nimbus server refuses to start there); the
// pool only has to build, for the client commands that link it.
var errNoWindows = errors.New("environments do not run on Windows")

func openLogPipe() (r, w *os.File, rfd int, err error) { return nil, nil, 0, errNoWindows }

func readPipe(int, []byte) (int, error) { return 0, errNoWindows }
