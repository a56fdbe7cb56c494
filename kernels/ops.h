/* ops.h — the kernel vocabulary shared by the step graph, the CPU/CUDA
 * kernels, the profiler and the cost model.
 *
 * A kernel task in the step graph is (op, shape, dtype).  The profiler
 * measures ops over grids of shapes; the cost model prices any shape; the
 * execute backend calls the matching kernel.  Shape convention (llm.c style):
 *   B batch (sequences in a micro-batch), T tokens per sequence,
 *   C channels (hidden), NH query heads, KVH key/value heads, HS head size,
 *   V vocabulary, and for matmuls out(M,N) = in(M,K) . W(K,N)^T-ish with
 *   M = B*T rows, K input features, N output features.
 * Fields that an op does not use are 0. */
#ifndef PS_OPS_H
#define PS_OPS_H

#include <stdint.h>

typedef enum {
	OP_EMBED_FWD = 0,   /* token + position embedding: B,T,C,V */
	OP_EMBED_BWD,
	OP_NORM_FWD,        /* layernorm / rmsnorm over C: M=B*T, C (variant: 0 layernorm, 1 rmsnorm) */
	OP_NORM_BWD,
	OP_MATMUL_FWD,      /* out(M,N) = inp(M,K) W(N,K)^T + bias(N) */
	OP_MATMUL_BWD,      /* dinp, dW, dbias for the same M,N,K (both GEMMs) */
	OP_ATTN_FWD,        /* causal attention: B,T,NH,KVH,HS */
	OP_ATTN_BWD,
	OP_GELU_FWD,        /* elementwise over n = M*N */
	OP_GELU_BWD,
	OP_SWIGLU_FWD,      /* out(M,N) = silu(a) * b, n = M*N */
	OP_SWIGLU_BWD,
	OP_RESIDUAL_FWD,    /* out = a + b, n elements */
	OP_RESIDUAL_BWD,
	OP_XENT_FWD,        /* fused softmax + cross-entropy: M=B*T rows, V */
	OP_XENT_BWD,
	OP_ADAMW,           /* n parameters */
	OP_GRADCLIP,        /* global norm over n parameters */
	OP_COUNT_
} ps_op;

struct ps_shape {
	int64_t M, N, K;        /* matmul dims; M rows for row-wise ops */
	int64_t B, T, C;        /* batch, tokens, channels */
	int64_t NH, KVH, HS;    /* heads, kv heads, head size */
	int64_t V;              /* vocabulary */
	int64_t n;              /* element count for elementwise / optimizer ops */
	int variant;            /* op-specific: norm 0 layernorm / 1 rmsnorm; matmul 1 = has bias */
};

const char *op_name(ps_op op);               /* "matmul_fwd", ... */
int op_parse(const char *name, ps_op *out);  /* 0 ok, -1 unknown */

/* Floating point operations of one call (multiply-add = 2), closed form. */
double op_flops(ps_op op, const struct ps_shape *s);
/* Bytes moved to/from memory by one call at the given element size, assuming
 * each operand is read once and each result written once. */
double op_bytes(ps_op op, const struct ps_shape *s, int elem_bytes);

#endif
