//go:build !linux || !amd64 || nimbus_initimage

package sandbox

// initImage is empty where no image is built (other architectures) and in
// the image itself: the init is then this binary, re-executed.
var initImage []byte
