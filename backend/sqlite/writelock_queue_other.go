//go:build !linux

package sqlite

// Without open-file-description locks writers take flock directly,
// unordered (see writelock_queue_linux.go for the queue).
func queueEnter(int) (int64, bool) { return 0, false }

func queueWait(int, int64) {}

func queueLeave(int, int64) {}
