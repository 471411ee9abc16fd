//go:build linux && amd64 && !nimbus_initimage

package sandbox

import _ "embed"

// initImage is the gzipped environment init (./initbin) for linux/amd64,
// built by `go generate` (TestInitImageIsCurrent). The image itself is
// built with the nimbus_initimage tag, so it does not embed itself.
//
//go:embed initimage/init-linux-amd64.gz
var initImage []byte
