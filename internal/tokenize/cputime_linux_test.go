package tokenize

import (
	"syscall"
	"time"
)

// threadCPUTime returns the CPU time used by the calling OS thread, so that
// benchmarks can report throughput that does not depend on how busy the
// machine is. Callers lock their goroutine to its thread.
func threadCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
