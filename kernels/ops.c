/* ops.c — names, flop counts and memory traffic of the kernel ops (ops.h).
 *
 * op_flops counts the arithmetic the CPU kernels (kernels/cpu) really do, in
 * closed form: a multiply-add is 2 flops, every other +,-,*,/,max, sqrt and
 * exp is 1 (an exp is one "flop" even though it costs more).  Matmuls and
 * attention follow the usual conventions (2MNK; causal attention counts the
 * T(T+1)/2 visible pairs: forward 4*HS per pair for QK^T and PV, backward
 * 10*HS per pair for the recomputed QK^T, dP = dO V^T, dQ, dK and dV).
 * op_bytes counts each operand read once and each result written once;
 * accumulated gradients (+=) are read and written.  Token ids, targets and
 * per-row statistics (mean, rstd, lse, losses) are 4 bytes whatever
 * elem_bytes.  Neither function prices anything: that is costmodel.c. */
#include "config.h"

#include <string.h>

#include "ops.h"

static const char *const op_names[] = {
	"embed_fwd",  "embed_bwd",  "norm_fwd",     "norm_bwd",     "matmul_fwd", "matmul_bwd",
	"attn_fwd",   "attn_bwd",   "gelu_fwd",     "gelu_bwd",     "swiglu_fwd", "swiglu_bwd",
	"residual_fwd", "residual_bwd", "xent_fwd", "xent_bwd",     "adamw",      "gradclip",
};

_Static_assert(sizeof op_names / sizeof op_names[0] == OP_COUNT_, "ops.c: one name per op of ops.h");

const char *op_name(ps_op op)
{
	if ((int)op < 0 || op >= OP_COUNT_)
		return "unknown";
	return op_names[op];
}

int op_parse(const char *name, ps_op *out)
{
	if (!name)
		return -1;
	for (int i = 0; i < OP_COUNT_; i++)
		if (strcmp(name, op_names[i]) == 0) {
			*out = (ps_op)i;
			return 0;
		}
	return -1;
}

/* rows of a row-wise op: M, or B*T when M is not given */
static double rows(const struct ps_shape *s) { return s->M ? (double)s->M : (double)s->B * (double)s->T; }
/* elements of an elementwise op: n, or M*N when n is not given */
static double elems(const struct ps_shape *s) { return s->n ? (double)s->n : (double)s->M * (double)s->N; }
/* visible (query, key) pairs of causal attention, over all sequences and query heads */
static double attn_pairs(const struct ps_shape *s)
{
	return (double)s->B * (double)s->NH * (double)s->T * ((double)s->T + 1.0) / 2.0;
}

double op_flops(ps_op op, const struct ps_shape *s)
{
	const double BT = (double)s->B * (double)s->T;
	switch (op) {
	case OP_EMBED_FWD: /* one add per element (wte row + wpe row) */
		return BT * s->C;
	case OP_EMBED_BWD: /* two accumulations per element (dwte, dwpe) */
		return 2.0 * BT * s->C;
	case OP_NORM_FWD: /* layernorm: mean 1, variance 3, output 4 per element; rmsnorm: 2 + 2 */
		return (s->variant == 1 ? 4.0 : 8.0) * rows(s) * s->C;
	case OP_NORM_BWD: /* layernorm: row sums 6, dinp 8, dweight+dbias 5; rmsnorm: 4 + 6 + 3 */
		return (s->variant == 1 ? 13.0 : 19.0) * rows(s) * s->C;
	case OP_MATMUL_FWD:
		return 2.0 * s->M * s->N * s->K + (s->variant == 1 ? (double)s->M * s->N : 0.0);
	case OP_MATMUL_BWD:
		return 4.0 * s->M * s->N * s->K + (s->variant == 1 ? (double)s->M * s->N : 0.0);
	case OP_ATTN_FWD:
		return 4.0 * s->HS * attn_pairs(s);
	case OP_ATTN_BWD:
		return 10.0 * s->HS * attn_pairs(s);
	case OP_GELU_FWD:
		return 9.0 * elems(s);
	case OP_GELU_BWD:
		return 21.0 * elems(s);
	case OP_SWIGLU_FWD: /* per output element */
		return 5.0 * elems(s);
	case OP_SWIGLU_BWD:
		return 14.0 * elems(s);
	case OP_RESIDUAL_FWD:
		return elems(s);
	case OP_RESIDUAL_BWD:
		return 2.0 * elems(s);
	case OP_XENT_FWD: /* max, subtract, exp, add per logit */
		return 4.0 * rows(s) * s->V;
	case OP_XENT_BWD: /* subtract, exp, scale per logit */
		return 3.0 * rows(s) * s->V;
	case OP_ADAMW:
		return 17.0 * elems(s);
	case OP_GRADCLIP: /* the norm: a multiply-add per element */
		return 2.0 * elems(s);
	case OP_COUNT_:
		break;
	}
	return 0.0;
}

double op_bytes(ps_op op, const struct ps_shape *s, int elem_bytes)
{
	const double e = elem_bytes, BT = (double)s->B * (double)s->T;
	const double M = rows(s), n = elems(s);
	const double qkv = BT * (double)(s->NH + 2 * s->KVH) * s->HS, o = BT * (double)s->NH * s->HS;
	const double bias = s->variant == 1 ? 1.0 : 0.0;
	switch (op) {
	case OP_EMBED_FWD: /* tokens; gathered wte rows, wpe rows; out */
		return 4.0 * BT + e * (2.0 * BT * s->C + (double)s->T * s->C);
	case OP_EMBED_BWD: /* tokens; dout; dwte rows and dwpe read and written */
		return 4.0 * BT + e * (3.0 * BT * s->C + 2.0 * (double)s->T * s->C);
	case OP_NORM_FWD: /* inp, weight (+bias), out; mean/rstd */
		return e * (2.0 * M * s->C + (s->variant == 1 ? 1.0 : 2.0) * s->C) + 4.0 * 2.0 * M;
	case OP_NORM_BWD: /* dout, inp, weight; dinp rw; dweight (+dbias) rw; stats */
		return e * (4.0 * M * s->C + (s->variant == 1 ? 3.0 : 5.0) * s->C) + 4.0 * 2.0 * M;
	case OP_MATMUL_FWD:
		return e * ((double)s->M * s->K + (double)s->N * s->K + (double)s->M * s->N + bias * s->N);
	case OP_MATMUL_BWD: /* dout, inp, W; dinp rw, dW rw, dbias rw */
		return e * ((double)s->M * s->N + 3.0 * s->M * s->K + 3.0 * s->N * s->K + 2.0 * bias * s->N);
	case OP_ATTN_FWD: /* qkv; out; lse */
		return e * (qkv + o) + 4.0 * (double)s->B * s->NH * s->T;
	case OP_ATTN_BWD: /* dout, qkv, out; dqkv rw; lse */
		return e * (2.0 * o + 3.0 * qkv) + 4.0 * (double)s->B * s->NH * s->T;
	case OP_GELU_FWD:
		return e * 2.0 * n;
	case OP_GELU_BWD: /* inp, dout, dinp rw */
		return e * 4.0 * n;
	case OP_SWIGLU_FWD: /* inp (2n), out (n) */
		return e * 3.0 * n;
	case OP_SWIGLU_BWD: /* inp (2n), dout (n), dinp rw (4n) */
		return e * 7.0 * n;
	case OP_RESIDUAL_FWD:
		return e * 3.0 * n;
	case OP_RESIDUAL_BWD: /* dout; da rw; db rw */
		return e * 5.0 * n;
	case OP_XENT_FWD: /* logits; targets; losses, lse */
		return e * M * s->V + 4.0 * 3.0 * M;
	case OP_XENT_BWD: /* logits read, dlogits written; targets, lse */
		return e * 2.0 * M * s->V + 4.0 * 2.0 * M;
	case OP_ADAMW: /* param rw, grad, m rw, v rw */
		return e * 7.0 * n;
	case OP_GRADCLIP:
		return e * n;
	case OP_COUNT_:
		break;
	}
	return 0.0;
}
