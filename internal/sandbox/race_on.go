//go:build race

package sandbox

// raceEnv stops a race-enabled init from sleeping a second at exit.
const raceEnv = "GORACE=atexit_sleep_ms=0"
