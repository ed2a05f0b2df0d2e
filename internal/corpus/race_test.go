//go:build race

package corpus

// raceEnabled skips the test that reads 64 MiB at the default limit: the
// race detector makes it take 17 s instead of 0.6 s.
const raceEnabled = true
