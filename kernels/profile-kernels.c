/* profile-kernels.c — the grid of shapes and the timing loop of the CPU
 * kernel profiler (`parasim profile`).
 *
 * Each shape gets its own buffers (random data from a fixed seed), filled
 * once; backward kernels get a forward pass first so their saved tensors are
 * real.  A timed sample runs `inner` calls back to back (so one sample lasts
 * at least ~100-200 us and the clock's resolution does not matter); samples
 * repeat until the 95% CI of their median is narrow, or a time cap.  The
 * data stay in cache between calls when they fit: warm-cache times, as in a
 * training step where each layer's tensors were just written.
 *
 * It does not store or print anything; sim/cmd-profile.c does. */
#include "config.h"
#include "profile.h"
#include "store.h"
#include "backend.h"
#include "cpu/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double pk_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *pk_dtype_name(ps_dtype dt)
{
	static const char *const names[DTYPE_COUNT_] = {"fp32", "tf32", "bf16", "fp16", "fp8"};
	return (unsigned)dt < DTYPE_COUNT_ ? names[dt] : "fp32";
}

void profile_threads_set(int threads)
{
	cpu_threads_set(threads > 0 ? threads : profile_default_threads());
}

/* --- the grid ---------------------------------------------------------------
 * Shapes are those of a GPT-style layer at the scale of this CPU: tokens
 * per micro-batch M = B*T, hidden C, MLP width 4C, heads of 32 or 64, a
 * scaled-down vocabulary.  Listed per level; see doc/cost-model.md. */

#define PK_MAXL 8
struct pk_levels {
	int n;
	int64_t v[PK_MAXL];
};

struct pk_spec {
	struct pk_levels M, C, V, T, B; /* tokens, hidden, vocab, seq len, batch */
	int64_t max_tokens;		/* B*T of attention */
	int64_t hs_lo, hs_hi;		/* head sizes (powers of 2) */
	int64_t attn_limit;		/* skip attention with C*B*T*T above (0 = none) */
	int64_t lm_max_C;		/* lm-head matmul (N = largest V) up to this C */
	double r_elem;			/* ratio of successive element counts */
	int64_t elo, ehi, plo, phi;	/* elementwise n, parameter n ranges */
};

/* clang-format off */
/* CPU: 2 cores, tokens 64..2048, hidden 64..1024, vocab scaled down. */
static const struct pk_spec pk_cpu[3] = {
	[PROFILE_TINY] = {{2, {64, 128}}, {1, {64}}, {1, {256}}, {2, {32, 64}}, {1, {1}}, 2048, 32, 32, 0, 0,
			  4, 4096, 16384, 4096, 16384},
	[PROFILE_QUICK] = {{3, {64, 256, 1024}}, {3, {64, 256, 512}}, {2, {1024, 8192}}, {2, {64, 256}},
			   {2, {1, 4}}, 2048, 32, 64, 0, 512, 4, 4096, 4194304, 16384, 4194304},
	[PROFILE_FULL] = {{6, {64, 128, 256, 512, 1024, 2048}}, {6, {64, 128, 256, 512, 768, 1024}},
			  {3, {1024, 4096, 16384}}, {5, {64, 128, 256, 512, 1024}}, {2, {1, 4}}, 2048, 32, 64,
			  (int64_t)1024 * 2048 * 1024, 512, M_SQRT2, 4096, 8388608, 16384, 16777216},
};

/* GPU: tokens 512..16384, hidden 512..8192, real vocabularies. */
static const struct pk_spec pk_gpu[3] = {
	[PROFILE_TINY] = {{2, {256, 512}}, {1, {256}}, {1, {1024}}, {2, {128, 256}}, {1, {1}}, 512, 64, 64, 0, 0,
			  4, 65536, 262144, 65536, 262144},
	[PROFILE_QUICK] = {{3, {512, 2048, 8192}}, {3, {1024, 4096, 8192}}, {2, {32768, 131072}}, {2, {1024, 4096}},
			   {2, {1, 4}}, 16384, 64, 128, 0, 4096, 4, 65536, 268435456, 262144, 268435456},
	[PROFILE_FULL] = {{6, {512, 1024, 2048, 4096, 8192, 16384}}, {6, {512, 1024, 2048, 4096, 6144, 8192}},
			  {3, {32768, 65536, 131072}}, {5, {512, 1024, 2048, 4096, 8192}}, {4, {1, 2, 4, 8}}, 16384,
			  64, 128, 0, 4096, M_SQRT2, 65536, 268435456, 262144, 268435456},
};
/* clang-format on */

struct pk_grid {
	struct ps_profile_shape *s;
	size_t n, cap;
	int nomem;
};

#define PK_NBUF 8
#define PK_MAX_ELEMS ((size_t)1 << 30) /* no tensor above 2^30 elements (int indices, memory) */
static void pk_sizes(ps_op op, const struct ps_shape *s, size_t nf[PK_NBUF], int f32[PK_NBUF], size_t *ntok);

static void pk_add(struct pk_grid *g, ps_op op, struct ps_shape sh)
{
	if (g->nomem)
		return;
	size_t nf[PK_NBUF], ntok;
	int f32[PK_NBUF];
	pk_sizes(op, &sh, nf, f32, &ntok);
	for (int i = 0; i < PK_NBUF; i++)
		if (nf[i] > PK_MAX_ELEMS)
			return;
	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 128;
		struct ps_profile_shape *p = realloc(g->s, cap * sizeof *p);
		if (!p) {
			g->nomem = 1;
			return;
		}
		g->s = p;
		g->cap = cap;
	}
	g->s[g->n].op = op;
	g->s[g->n].shape = sh;
	g->n++;
}

/* Geometric sequence lo, lo*r, ... <= hi (rounded to multiples of 64 above 64). */
static int pk_geom(int64_t lo, int64_t hi, double r, int64_t *out, int max)
{
	int n = 0;
	for (double x = (double)lo; x <= (double)hi * 1.0001 && n < max; x *= r) {
		int64_t v = (int64_t)llround(x);
		if (v > 64)
			v = (v + 32) / 64 * 64;
		if (n == 0 || v != out[n - 1])
			out[n++] = v;
	}
	return n;
}

ps_status profile_grid(ps_profile_level level, int gpu, struct ps_profile_shape **out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	struct pk_grid g = {0};
	if ((int)level < 0 || level > PROFILE_FULL)
		level = PROFILE_FULL;
	const struct pk_spec *sp = gpu ? &pk_gpu[level] : &pk_cpu[level];
	const struct pk_levels Ms = sp->M, Cs = sp->C, Vs = sp->V, Ts = sp->T, Bs = sp->B;
	int64_t nel[64], npar[64];
	int nnel = pk_geom(sp->elo, sp->ehi, sp->r_elem, nel, 64);
	int nnpar = pk_geom(sp->plo, sp->phi, sp->r_elem, npar, 64);
	int tiny = level == PROFILE_TINY, full = level == PROFILE_FULL;

	for (int pass = 0; pass < 2; pass++) { /* forward ops, then backward ops */
		for (int v = 0; v < Vs.n; v++)
			for (int m = 0; m < Ms.n; m++)
				for (int c = 0; c < Cs.n; c++) {
					int64_t M = Ms.v[m], T = M < Ts.v[Ts.n - 1] ? M : Ts.v[Ts.n - 1];
					pk_add(&g, pass ? OP_EMBED_BWD : OP_EMBED_FWD,
					       (struct ps_shape){
						   .B = M / T, .T = T, .C = Cs.v[c], .V = Vs.v[v]});
				}
		for (int variant = 0; variant < 2; variant++)
			for (int m = 0; m < Ms.n; m++)
				for (int c = 0; c < Cs.n; c++)
					pk_add(&g, pass ? OP_NORM_BWD : OP_NORM_FWD,
					       (struct ps_shape){
						   .M = Ms.v[m], .C = Cs.v[c], .variant = variant});
		/* Linear layers of a block: qkv (3C x C), proj (C x C), fc (4C x C),
		 * fc-proj (C x 4C), with bias; the lm head (V x C, no bias). */
		static const int kinds[4][2] = {{3, 1}, {1, 1}, {4, 1}, {1, 4}};
		for (int m = 0; m < Ms.n; m++)
			for (int c = 0; c < Cs.n; c++) {
				for (int k = 0; k < (tiny ? 1 : 4); k++)
					pk_add(&g, pass ? OP_MATMUL_BWD : OP_MATMUL_FWD,
					       (struct ps_shape){.M = Ms.v[m],
								 .N = kinds[k][0] * Cs.v[c],
								 .K = kinds[k][1] * Cs.v[c],
								 .variant = 1});
				if (Cs.v[c] <= sp->lm_max_C)
					pk_add(&g, pass ? OP_MATMUL_BWD : OP_MATMUL_FWD,
					       (struct ps_shape){
						   .M = Ms.v[m], .N = Vs.v[Vs.n - 1], .K = Cs.v[c]});
			}
		/* Attention: NH = C/HS heads, plain multi-head (KVH = NH) and
		 * grouped KV (KVH = NH/4). */
		for (int t = 0; t < Ts.n; t++)
			for (int b = 0; b < Bs.n; b++) {
				int64_t T = Ts.v[t], B = Bs.v[b];
				if (B * T > sp->max_tokens)
					continue;
				for (int c = 0; c < Cs.n; c++) {
					int64_t C = Cs.v[c];
					if (sp->attn_limit && C * B * T * T > sp->attn_limit)
						continue;
					for (int64_t hs = sp->hs_lo; hs <= sp->hs_hi; hs *= 2) {
						int64_t NH = C / hs;
						if (NH < 2 || (!full && hs < sp->hs_hi && c > 0))
							continue;
						pk_add(&g, pass ? OP_ATTN_BWD : OP_ATTN_FWD,
						       (struct ps_shape){
							   .B = B, .T = T, .NH = NH, .KVH = NH, .HS = hs});
						if (NH >= 4 && !tiny)
							pk_add(&g, pass ? OP_ATTN_BWD : OP_ATTN_FWD,
							       (struct ps_shape){.B = B,
										 .T = T,
										 .NH = NH,
										 .KVH = NH / 4,
										 .HS = hs});
					}
				}
			}
		for (int i = 0; i < nnel; i++)
			pk_add(&g, pass ? OP_GELU_BWD : OP_GELU_FWD, (struct ps_shape){.n = nel[i]});
		for (int m = 0; m < Ms.n; m++)
			for (int c = 0; c < Cs.n; c++)
				pk_add(&g, pass ? OP_SWIGLU_BWD : OP_SWIGLU_FWD,
				       (struct ps_shape){.M = Ms.v[m], .N = 4 * Cs.v[c]});
		for (int i = 0; i < nnel; i++)
			pk_add(&g, pass ? OP_RESIDUAL_BWD : OP_RESIDUAL_FWD, (struct ps_shape){.n = nel[i]});
		for (int v = 0; v < Vs.n; v++)
			for (int m = 0; m < Ms.n; m++)
				pk_add(&g, pass ? OP_XENT_BWD : OP_XENT_FWD,
				       (struct ps_shape){.M = Ms.v[m], .V = Vs.v[v]});
	}
	for (int i = 0; i < nnpar; i++)
		pk_add(&g, OP_ADAMW, (struct ps_shape){.n = npar[i]});
	for (int i = 0; i < nnpar; i++)
		pk_add(&g, OP_GRADCLIP, (struct ps_shape){.n = npar[i]});
	if (g.nomem) {
		free(g.s);
		return PS_ERROR(PS_ERR_NOMEM, "profile grid: out of memory");
	}
	*out = g.s;
	*nout = g.n;
	return PS_OK;
}

/* --- buffers and one call ----------------------------------------------------- */


struct pk_bufs {
	const struct ps_backend *be;
	ps_dtype dt;
	void *d[PK_NBUF];   /* device buffers */
	size_t nf[PK_NBUF]; /* elements */
	int f32[PK_NBUF];   /* 1: fp32 whatever dt (statistics, moments) */
	int *tok;	    /* device token ids / targets */
	size_t ntok;
	int step;
};

static void pk_fill(float *x, size_t n, uint64_t *state)
{
	for (size_t i = 0; i < n; i++) {
		*state = *state * 6364136223846793005ull + 1442695040888963407ull;
		x[i] = (float)((double)(*state >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
	}
}

static void pk_free(struct pk_bufs *b)
{
	for (int i = 0; i < PK_NBUF; i++)
		b->be->free(b->be, b->d[i]);
	b->be->free(b->be, b->tok);
	memset(b->d, 0, sizeof b->d);
	b->tok = NULL;
}

/* Buffers of op on s (elements, and which are fp32 whatever the dtype);
 * see pk_call for which buffer is which. */
static void pk_sizes(ps_op op, const struct ps_shape *s, size_t nf[PK_NBUF], int f32[PK_NBUF], size_t *ntok)
{
	memset(nf, 0, PK_NBUF * sizeof *nf);
	memset(f32, 0, PK_NBUF * sizeof *f32);
	*ntok = 0;
	size_t M = (size_t)s->M, N = (size_t)s->N, K = (size_t)s->K, B = (size_t)s->B, T = (size_t)s->T;
	size_t C = (size_t)s->C, NH = (size_t)s->NH, KVH = (size_t)s->KVH, HS = (size_t)s->HS,
	       V = (size_t)s->V;
	size_t n = (size_t)(s->n ? s->n : s->M * s->N);
	switch (op) {
	case OP_EMBED_FWD: /* out/dout, wte/dwte, wpe/dwpe */
	case OP_EMBED_BWD:
		nf[0] = B * T * C, nf[1] = V * C, nf[2] = T * C, *ntok = B * T;
		break;
	case OP_NORM_FWD: /* out/dinp, inp, weight, bias, mean (f32), rstd (f32), dout, dweight+dbias */
	case OP_NORM_BWD:
		nf[0] = M * C, nf[1] = M * C, nf[2] = C, nf[3] = C, nf[4] = M, nf[5] = M;
		f32[4] = f32[5] = 1;
		if (op == OP_NORM_BWD)
			nf[6] = M * C, nf[7] = 2 * C;
		break;
	case OP_MATMUL_FWD: /* out/dout, inp, weight, bias, dinp, dweight, dbias */
	case OP_MATMUL_BWD:
		nf[0] = M * N, nf[1] = M * K, nf[2] = N * K, nf[3] = N;
		if (op == OP_MATMUL_BWD)
			nf[4] = M * K, nf[5] = N * K, nf[6] = N;
		break;
	case OP_ATTN_FWD: /* out, lse (f32), qkv, dqkv, dout */
	case OP_ATTN_BWD:
		nf[0] = B * T * NH * HS, nf[1] = B * NH * T, nf[2] = B * T * (NH + 2 * KVH) * HS;
		f32[1] = 1;
		if (op == OP_ATTN_BWD)
			nf[3] = nf[2], nf[4] = nf[0];
		break;
	case OP_GELU_FWD: /* out/dinp, inp, dout */
	case OP_GELU_BWD:
	case OP_RESIDUAL_FWD:
	case OP_RESIDUAL_BWD:
		nf[0] = n, nf[1] = n, nf[2] = n;
		break;
	case OP_SWIGLU_FWD: /* out/dout (M,F), inp (M,2F), dinp (M,2F) */
	case OP_SWIGLU_BWD:
		nf[0] = M * N, nf[1] = 2 * M * N;
		if (op == OP_SWIGLU_BWD)
			nf[2] = 2 * M * N;
		break;
	case OP_XENT_FWD: /* losses (f32), lse (f32), logits, dlogits */
	case OP_XENT_BWD:
		nf[0] = M, nf[1] = M, nf[2] = M * V;
		f32[0] = f32[1] = 1;
		if (op == OP_XENT_BWD)
			nf[3] = M * V;
		*ntok = M;
		break;
	case OP_ADAMW: /* param, grad, m (f32), v (f32) */
		nf[0] = n, nf[1] = n, nf[2] = n, nf[3] = n;
		f32[2] = f32[3] = 1;
		break;
	case OP_GRADCLIP:
		nf[0] = n;
		break;
	default:
		break;
	}
}

static ps_status pk_call(ps_op op, const struct ps_shape *s, struct pk_bufs *b)
{
	const struct ps_backend *be = b->be;
	ps_dtype dt = b->dt;
	void **d = b->d;
	int M = (int)s->M, N = (int)s->N, K = (int)s->K, B = (int)s->B, T = (int)s->T, C = (int)s->C;
	int NH = (int)s->NH, KVH = (int)s->KVH, HS = (int)s->HS, V = (int)s->V;
	size_t n = (size_t)(s->n ? s->n : s->M * s->N);
	switch (op) {
	case OP_EMBED_FWD:
		return be->embed_forward(be, dt, d[0], b->tok, d[1], d[2], B, T, C);
	case OP_EMBED_BWD:
		return be->embed_backward(be, dt, d[1], d[2], d[0], b->tok, B, T, C);
	case OP_NORM_FWD:
		if (s->variant == 1)
			return be->rmsnorm_forward(be, dt, d[0], d[5], d[1], d[2], M, C);
		return be->layernorm_forward(be, dt, d[0], d[4], d[5], d[1], d[2], d[3], M, C);
	case OP_NORM_BWD: {
		void *dbias = (char *)d[7] + (size_t)C * ps_backend_elem_bytes(dt);
		if (s->variant == 1)
			return be->rmsnorm_backward(be, dt, d[0], d[7], d[6], d[1], d[2], d[5], M, C);
		return be->layernorm_backward(be, dt, d[0], d[7], dbias, d[6], d[1], d[2], d[4], d[5], M, C);
	}
	case OP_MATMUL_FWD:
		return be->matmul_forward(be, dt, d[0], d[1], d[2], s->variant ? d[3] : NULL, M, K, N);
	case OP_MATMUL_BWD:
		return be->matmul_backward(be, dt, d[4], d[5], s->variant ? d[6] : NULL, d[0], d[1], d[2], M,
					   K, N);
	case OP_ATTN_FWD:
		return be->attention_forward(be, dt, d[0], d[1], d[2], B, T, NH, KVH, HS);
	case OP_ATTN_BWD:
		return be->attention_backward(be, dt, d[3], d[4], d[2], d[0], d[1], B, T, NH, KVH, HS);
	case OP_GELU_FWD:
		return be->gelu_forward(be, dt, d[0], d[1], n);
	case OP_GELU_BWD:
		return be->gelu_backward(be, dt, d[0], d[1], d[2], n);
	case OP_SWIGLU_FWD:
		return be->swiglu_forward(be, dt, d[0], d[1], M, N);
	case OP_SWIGLU_BWD:
		return be->swiglu_backward(be, dt, d[2], d[1], d[0], M, N);
	case OP_RESIDUAL_FWD:
		return be->residual_forward(be, dt, d[0], d[1], d[2], n);
	case OP_RESIDUAL_BWD:
		return be->residual_backward(be, dt, d[1], d[2], d[0], n);
	case OP_XENT_FWD:
		return be->xent_forward(be, dt, d[0], d[1], d[2], b->tok, M, V);
	case OP_XENT_BWD:
		return be->xent_backward(be, dt, d[3], d[2], d[1], b->tok, 1.0f, M, V);
	case OP_ADAMW:
		return be->adamw_update(be, dt, d[0], NULL, d[1], d[2], d[3], n, 1e-4f, 0.9f, 0.95f, 1e-8f,
					0.1f, 1.0f, ++b->step);
	case OP_GRADCLIP:
		/* The global-norm pass (what op_flops/op_bytes count): max_norm 0
		 * never scales, so repeated calls see the same data. */
		return be->grad_clip(be, dt, d[0], n, 0.0f, NULL, NULL);
	default:
		return PS_ERROR(PS_ERR_INTERNAL, "profile: op %d has no kernel", (int)op);
	}
}

static ps_status pk_setup(const struct ps_backend *be, ps_dtype dt, const struct ps_profile_shape *sh,
			  struct pk_bufs *b)
{
	memset(b, 0, sizeof *b);
	b->be = be;
	b->dt = dt;
	pk_sizes(sh->op, &sh->shape, b->nf, b->f32, &b->ntok);
	size_t maxn = b->ntok;
	for (int i = 0; i < PK_NBUF; i++)
		if (b->nf[i] > maxn)
			maxn = b->nf[i];
	float *host = malloc((maxn ? maxn : 1) * sizeof *host);
	if (!host)
		return PS_ERROR(PS_ERR_NOMEM, "profile %s: cannot allocate %zu floats", op_name(sh->op),
				maxn);
	uint64_t state = 0x9e3779b97f4a7c15ull ^ (uint64_t)sh->op;
	ps_status rc = PS_OK;
	for (int i = 0; i < PK_NBUF && rc == PS_OK; i++) {
		if (!b->nf[i])
			continue;
		ps_dtype bdt = b->f32[i] ? DTYPE_FP32 : dt;
		rc = be->alloc(be, b->nf[i] * ps_backend_elem_bytes(bdt), &b->d[i]);
		if (rc == PS_OK) {
			pk_fill(host, b->nf[i], &state);
			rc = be->upload(be, b->d[i], bdt, host, b->nf[i]);
		}
	}
	if (rc == PS_OK && b->ntok) {
		int *tok = (int *)host;
		int64_t V = sh->shape.V > 0 ? sh->shape.V : 1;
		for (size_t i = 0; i < b->ntok; i++) {
			state = state * 6364136223846793005ull + 1442695040888963407ull;
			tok[i] = (int)((state >> 33) % (uint64_t)V);
		}
		rc = be->alloc(be, b->ntok * sizeof(int), (void **)&b->tok);
		if (rc == PS_OK)
			rc = be->copy_to_device(be, b->tok, tok, b->ntok * sizeof(int));
	}
	free(host);
	/* Saved tensors of a real forward pass for the backward kernels. */
	const struct ps_shape *s = &sh->shape;
	if (rc == PS_OK && sh->op == OP_NORM_BWD)
		rc = pk_call(OP_NORM_FWD, s, b);
	if (rc == PS_OK && sh->op == OP_ATTN_BWD)
		rc = pk_call(OP_ATTN_FWD, s, b);
	if (rc == PS_OK && sh->op == OP_XENT_BWD)
		rc = pk_call(OP_XENT_FWD, s, b);
	if (rc == PS_OK)
		rc = be->sync(be);
	if (rc != PS_OK)
		pk_free(b);
	return rc;
}

#define PK_WAIT_FRAC 0.05  /* run delay over this share of a sample: disturbed */
#define PK_DISTURB_CAP 4   /* x max_s: when to give up waiting for clean samples */

static double pk_cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One timed sample: `inner` calls, then a sync; seconds per call. */
static ps_status pk_sample(const struct ps_profile_shape *sh, struct pk_bufs *b, int inner, int cpu_clock,
			   double *per_call_s)
{
	double (*now)(void) = cpu_clock ? pk_cpu_now : pk_now;
	double c0 = now();
	ps_status rc = PS_OK;
	for (int i = 0; i < inner && rc == PS_OK; i++)
		rc = pk_call(sh->op, &sh->shape, b);
	if (rc == PS_OK)
		rc = b->be->sync(b->be);
	*per_call_s = (now() - c0) / inner;
	return rc;
}

ps_status profile_measure(const struct ps_backend *be, ps_dtype dt, const struct ps_profile_shape *sh,
			  const struct ps_profile_opts *o, struct ps_kernel_sample *out, double *wall_s)
{
	double t_start = pk_now();
	memset(out, 0, sizeof *out);
	struct pk_bufs b;
	ps_status rc = pk_setup(be, dt, sh, &b);
	if (rc != PS_OK) {
		ps_error_prefix("profile %s", op_name(sh->op));
		return rc;
	}
	int maxr = o->max_reps > 0 ? o->max_reps : 100;
	double *t = malloc((size_t)maxr * sizeof *t), *scratch = malloc((size_t)maxr * sizeof *t), *dist = NULL;
	if (!t || !scratch) {
		rc = PS_ERROR(PS_ERR_NOMEM, "profile: out of memory");
		goto out;
	}
	/* Warm-up: at least one call, then until warmup_s has passed. */
	double w0 = pk_now(), one = 0;
	int calls = 0;
	do {
		if ((rc = pk_sample(sh, &b, 1, o->cpu_clock, &one)) != PS_OK)
			goto out;
		calls++;
	} while (pk_now() - w0 < o->warmup_s && calls < 1000);
	double min_sample_s = o->level == PROFILE_FULL ? 200e-6 : 100e-6;
	int inner = one > 0 ? (int)ceil(min_sample_s / one) : 1;
	if (inner < 1)
		inner = 1;
	if (inner > 10000)
		inner = 10000;
	/* On the CPU with the wall clock, a sample during which the profiled
	 * threads waited on a run queue for more than PK_WAIT_FRAC of its time
	 * (another job held a core: an OpenMP region then waits a scheduler
	 * tick for its second thread) is thrown away, by the kernel's own
	 * account of each thread's run delay.  They still count against the
	 * time cap; only if fewer than 3 clean samples come in
	 * PK_DISTURB_CAP x max_s are disturbed ones used to fill up to 3. */
	const int sched_check = !o->cpu_clock && be->name && strcmp(be->name, "cpu") == 0 &&
				profile_run_delay_s() >= 0;
	dist = sched_check ? malloc((size_t)maxr * sizeof *dist) : NULL;
	int reps = 0, ndist = 0, disturbed = 0;
	if (sched_check && !dist) {
		rc = PS_ERROR(PS_ERR_NOMEM, "profile: out of memory");
		goto out;
	}
	double r0 = pk_now(), med = 0, mad = 0, ci = INFINITY;
	for (;;) {
		double d0 = sched_check ? profile_run_delay_s() : 0, x;
		if ((rc = pk_sample(sh, &b, inner, o->cpu_clock, &x)) != PS_OK)
			goto out;
		if (sched_check && profile_run_delay_s() - d0 > PK_WAIT_FRAC * x * inner) {
			if (ndist < maxr)
				dist[ndist++] = x;
			disturbed++;
			if (pk_now() - r0 >= PK_DISTURB_CAP * o->max_s && reps + ndist >= 3)
				break;
			continue;
		}
		t[reps++] = x;
		if (reps >= maxr)
			break;
		double el = pk_now() - r0;
		if (reps >= o->min_reps || el >= o->max_s) {
			memcpy(scratch, t, (size_t)reps * sizeof *t);
			profile_stats(scratch, reps, &med, &mad, &ci);
			if (reps >= o->min_reps && ci <= o->target_ci)
				break;
			if (el >= o->max_s && reps >= 3)
				break;
		}
	}
	for (int i = 0; reps < 3 && i < ndist; i++)
		t[reps++] = dist[i];
	out->disturbed = disturbed;
	profile_stats(t, reps, &med, &mad, &ci);
	snprintf(out->op, sizeof out->op, "%s", op_name(sh->op));
	snprintf(out->dtype, sizeof out->dtype, "%s", pk_dtype_name(dt));
	const struct ps_shape *s = &sh->shape;
	out->M = s->M, out->N = s->N, out->K = s->K, out->B = s->B, out->T = s->T, out->C = s->C;
	out->NH = s->NH, out->KVH = s->KVH, out->HS = s->HS, out->V = s->V, out->n = s->n;
	out->variant = s->variant;
	out->median_s = med;
	out->spread_s = mad;
	out->reps = reps;
	out->flops = op_flops(sh->op, s);
	out->bytes = op_bytes(sh->op, s, (int)ps_backend_elem_bytes(dt));
out:
	if (rc != PS_OK)
		ps_error_prefix("profile %s", op_name(sh->op));
	free(t);
	free(scratch);
	free(dist);
	pk_free(&b);
	if (wall_s)
		*wall_s = pk_now() - t_start;
	return rc;
}
