//go:build !linux

package tokenize

import "time"

func threadCPUTime() (time.Duration, bool) { return 0, false }
