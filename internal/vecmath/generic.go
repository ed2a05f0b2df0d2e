package vecmath

var (
	dot  = DotGeneric
	axpy = AxpyGeneric
)
