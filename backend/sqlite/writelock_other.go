//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sqlite

// Without flock writers rely on SQLite's busy timeout alone.
const flockSupported = false

func flockExclusive(int) error { return nil }

func flockRelease(int) {}

func flockTry(int) bool { return true }
