package main

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressEnv set to "always" shows progress bars on stderr even when it
// is not a terminal (for tests and for logs that want them).
const progressEnv = "ANCHORAGE_PROGRESS"

// showProgress reports whether a command writing its progress to w shows
// it: never with -q or --json, else when w is a terminal.
func showProgress(w io.Writer, quiet, asJSON bool) bool {
	if quiet || asJSON {
		return false
	}
	return isTerminal(w) || os.Getenv(progressEnv) == "always"
}

// newBar returns a progress bar on w (total -1: a spinner with a count),
// hidden unless showProgress.
func newBar(w io.Writer, total int64, hide bool, desc string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetVisibility(!hide && showProgress(w, false, false)),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
	)
}

// newByteBar is a bar over n bytes read (for checking a file).
func newByteBar(w io.Writer, n int64, hide bool, desc string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(n,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetVisibility(!hide && showProgress(w, false, false)),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
	)
}

// ticking refreshes bar every interval (its elapsed time moves on) until
// the returned stop is called; for work that reports no progress itself.
func ticking(bar *progressbar.ProgressBar, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = bar.Add(0)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
