//go:build !race

package sandbox

const raceEnv = ""
