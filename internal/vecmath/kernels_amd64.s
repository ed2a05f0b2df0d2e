//go:build amd64 && !purego

#include "textflag.h"

// func dotAVX2(x, y []float32) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-52
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $~31, BX

dloop32:
	CMPQ AX, BX
	JGE  dtail8
	VMOVUPS (SI)(AX*4), Y4
	VMOVUPS 32(SI)(AX*4), Y5
	VMOVUPS 64(SI)(AX*4), Y6
	VMOVUPS 96(SI)(AX*4), Y7
	VFMADD231PS (DI)(AX*4), Y4, Y0
	VFMADD231PS 32(DI)(AX*4), Y5, Y1
	VFMADD231PS 64(DI)(AX*4), Y6, Y2
	VFMADD231PS 96(DI)(AX*4), Y7, Y3
	ADDQ $32, AX
	JMP  dloop32

dtail8:
	MOVQ CX, BX
	ANDQ $~7, BX

dloop8:
	CMPQ AX, BX
	JGE  dreduce
	VMOVUPS (SI)(AX*4), Y4
	VFMADD231PS (DI)(AX*4), Y4, Y0
	ADDQ $8, AX
	JMP  dloop8

dreduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0

dloop1:
	CMPQ AX, CX
	JGE  ddone
	VMOVSS (SI)(AX*4), X4
	VFMADD231SS (DI)(AX*4), X4, X0
	INCQ AX
	JMP  dloop1

ddone:
	VZEROUPPER
	MOVSS X0, ret+48(FP)
	RET

// func axpyAVX2(a float32, x, y []float32)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-56
	VBROADCASTSS a+0(FP), Y15
	MOVQ x_base+8(FP), SI
	MOVQ x_len+16(FP), CX
	MOVQ y_base+32(FP), DI
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $~31, BX

aloop32:
	CMPQ AX, BX
	JGE  atail8
	VMOVUPS (SI)(AX*4), Y0
	VMOVUPS 32(SI)(AX*4), Y1
	VMOVUPS 64(SI)(AX*4), Y2
	VMOVUPS 96(SI)(AX*4), Y3
	VFMADD213PS (DI)(AX*4), Y15, Y0
	VFMADD213PS 32(DI)(AX*4), Y15, Y1
	VFMADD213PS 64(DI)(AX*4), Y15, Y2
	VFMADD213PS 96(DI)(AX*4), Y15, Y3
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ $32, AX
	JMP  aloop32

atail8:
	MOVQ CX, BX
	ANDQ $~7, BX

aloop8:
	CMPQ AX, BX
	JGE  aloop1
	VMOVUPS (SI)(AX*4), Y0
	VFMADD213PS (DI)(AX*4), Y15, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	JMP  aloop8

aloop1:
	CMPQ AX, CX
	JGE  adone
	VMOVSS (SI)(AX*4), X0
	VFMADD213SS (DI)(AX*4), X15, X0
	VMOVSS X0, (DI)(AX*4)
	INCQ AX
	JMP  aloop1

adone:
	VZEROUPPER
	RET

// func dotRows4AVX2(q, m []float32, stride int, out []float32, mask []int32)
TEXT ·dotRows4AVX2(SB), NOSPLIT, $0-104
	MOVQ q_base+0(FP), SI
	MOVQ q_len+8(FP), DX          // d
	MOVQ m_base+24(FP), DI        // row 0 of the current block
	MOVQ stride+48(FP), R14       // row stride in bytes
	MOVQ out_base+56(FP), R8
	MOVQ out_len+64(FP), CX       // rows (multiple of 4)
	MOVQ mask_base+80(FP), R9
	VMOVDQU (R9), Y15             // tail mask
	MOVQ DX, BX
	ANDQ $~7, BX                  // d rounded down to 8

rblock:
	CMPQ CX, $0
	JLE  rdone
	MOVQ DI, R10
	LEAQ (DI)(R14*1), R11
	LEAQ (R11)(R14*1), R12
	LEAQ (R12)(R14*1), R13
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ AX, AX

rinner:
	CMPQ AX, BX
	JGE  rtail
	VMOVUPS (SI)(AX*4), Y4
	VFMADD231PS (R10)(AX*4), Y4, Y0
	VFMADD231PS (R11)(AX*4), Y4, Y1
	VFMADD231PS (R12)(AX*4), Y4, Y2
	VFMADD231PS (R13)(AX*4), Y4, Y3
	ADDQ $8, AX
	JMP  rinner

rtail:
	CMPQ AX, DX
	JGE  rreduce
	VMASKMOVPS (SI)(AX*4), Y15, Y4
	VMASKMOVPS (R10)(AX*4), Y15, Y5
	VFMADD231PS Y5, Y4, Y0
	VMASKMOVPS (R11)(AX*4), Y15, Y6
	VFMADD231PS Y6, Y4, Y1
	VMASKMOVPS (R12)(AX*4), Y15, Y7
	VFMADD231PS Y7, Y4, Y2
	VMASKMOVPS (R13)(AX*4), Y15, Y8
	VFMADD231PS Y8, Y4, Y3

rreduce:
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVUPS X0, (R8)
	ADDQ $16, R8
	LEAQ (R13)(R14*1), DI
	SUBQ $4, CX
	JMP  rblock

rdone:
	VZEROUPPER
	RET

// func prefetchAVX2(x []float32)
TEXT ·prefetchAVX2(SB), NOSPLIT, $0-24
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	LEAQ (SI)(CX*4), DX
pfloop:
	CMPQ SI, DX
	JGE  pfdone
	PREFETCHT0 (SI)
	ADDQ $64, SI
	JMP  pfloop
pfdone:
	RET

// func dotRowsInt8x4AVX2(q []int16, m []int8, scale, out []float32)
TEXT ·dotRowsInt8x4AVX2(SB), NOSPLIT, $0-96
	MOVQ q_base+0(FP), SI
	MOVQ q_len+8(FP), DX          // d, a multiple of 16
	MOVQ m_base+24(FP), DI        // row 0 of the current block
	MOVQ scale_base+48(FP), R9
	MOVQ out_base+72(FP), R8
	MOVQ out_len+80(FP), CX       // rows (multiple of 4)

iblock:
	CMPQ CX, $0
	JLE  idone
	MOVQ DI, R10
	LEAQ (DI)(DX*1), R11
	LEAQ (R11)(DX*1), R12
	LEAQ (R12)(DX*1), R13
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	XORQ AX, AX

iinner:
	CMPQ AX, DX
	JGE  ireduce
	VMOVDQU (SI)(AX*2), Y4
	VPMOVSXBW (R10)(AX*1), Y5
	VPMADDWD Y4, Y5, Y5
	VPADDD Y5, Y0, Y0
	VPMOVSXBW (R11)(AX*1), Y6
	VPMADDWD Y4, Y6, Y6
	VPADDD Y6, Y1, Y1
	VPMOVSXBW (R12)(AX*1), Y7
	VPMADDWD Y4, Y7, Y7
	VPADDD Y7, Y2, Y2
	VPMOVSXBW (R13)(AX*1), Y8
	VPMADDWD Y4, Y8, Y8
	VPADDD Y8, Y3, Y3
	ADDQ $16, AX
	JMP  iinner

ireduce:
	VPHADDD Y1, Y0, Y0
	VPHADDD Y3, Y2, Y2
	VPHADDD Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD X1, X0, X0
	VCVTDQ2PS X0, X0
	VMULPS (R9), X0, X0
	VMOVUPS X0, (R8)
	ADDQ $16, R8
	ADDQ $16, R9
	LEAQ (R13)(DX*1), DI
	SUBQ $4, CX
	JMP  iblock

idone:
	VZEROUPPER
	RET
