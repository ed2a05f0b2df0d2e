//go:build !amd64 || purego

package vecmath

var (
	dot         = DotGeneric
	axpy        = AxpyGeneric
	dotRows     = dotRowsGeneric
	dotRowsInt8 = dotRowsInt8Generic
	prefetch    = func([]float32) {}
	dotGather   = dotGatherGeneric
	axpyGather  = axpyGatherGeneric
	axpyScatter = axpyScatterGeneric
)
