//go:build race

package sqlite_test

// raceEnabled: the race detector slows every child process several times.
const raceEnabled = true
