//go:build !amd64 || purego

package vecmath

var (
	dot     = DotGeneric
	axpy    = AxpyGeneric
	dotRows = dotRowsGeneric
)

// Accelerated reports whether assembly kernels are in use.
func Accelerated() bool { return false }
