/* bench-kernels.c — throughput of the CPU kernels and of a whole GPT-2 124M
 * training step, against the raw cblas_sgemm rate measured in the same run.
 *
 *   bench/bench-kernels [--quick] [--threads N] [--reps N] [--step-only]
 *
 * 1. Raw cblas_sgemm GFLOP/s on the GEMM shapes of the step (B=4, T=64:
 *    M = 256 rows; forward out = in.W^T, backward dinp = dout.W and
 *    dW = dout^T.in for each linear layer and the tied LM head), and the
 *    rate of the step's whole GEMM mix (each shape weighted by how often a
 *    step runs it): that mix rate is the yardstick of the step.
 * 2. Each kernel, forward and backward, at GPT-2 124M shapes; flops from
 *    op_flops (kernels/ops.c), so these rates count what the kernels do.
 * 3. The training step: forward, zero_grad + backward, AdamW (with global
 *    norm clipping), after one warm-up step, >= 5 repetitions (3 with
 *    --quick), medians and min/max; once with the default thread mode of
 *    the matmuls (CPU_GEMM_SPLIT: sgemm split over the OpenMP team) and once
 *    with CPU_GEMM_BLAS (OpenBLAS's own threads), see kernels.h.  Step flops = 6 * N * tokens +
 *    attention, where N = parameters that enter a matmul (all but the
 *    position embedding, which is a lookup) and attention = L * 3 * 4 * HS *
 *    B * NH * T(T+1)/2 (QK^T and PV over the causal pairs, backward twice
 *    the forward, recomputation not counted).
 * Weights are random (no checkpoint).  Timings are wall-clock medians;
 * the machine may be shared, so run it several times. */
#include "config.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/gpt.h"
#include "cpu/kernels.h"
#include "ops.h"

/* llm.c's CPU trainer on this machine, GPT-2 124M, B=4 T=64, 2 threads
 * (issue 3, not measured here): the reference the target is set against */
#define LLMC_REF_STEP_S 4.5

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static float *falloc(size_t n)
{
	float *p = malloc((n ? n : 1) * sizeof(float));
	if (!p) {
		fprintf(stderr, "bench-kernels: out of memory (%zu floats)\n", n);
		exit(1);
	}
	return p;
}

static void frand(float *x, size_t n, unsigned seed, float scale)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
	for (size_t i = 0; i < n; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		x[i] = scale * ((float)(s >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f);
	}
}

static int g_reps = 7;
static double g_min_sample_s = 0.02;

/* median seconds of one call of fn(ctx): calls are batched so a sample
 * lasts at least g_min_sample_s; one warm-up sample first */
typedef void (*bench_fn)(void *ctx);
static double time_call(bench_fn fn, void *ctx)
{
	fn(ctx); /* warm-up, and first-touch of the buffers */
	double t0 = now_s();
	fn(ctx);
	double one = now_s() - t0;
	int inner = one > 0 && one < g_min_sample_s ? (int)(g_min_sample_s / one) + 1 : 1;
	double v[64];
	int reps = g_reps < 64 ? g_reps : 64;
	for (int r = 0; r < reps; r++) {
		t0 = now_s();
		for (int i = 0; i < inner; i++)
			fn(ctx);
		v[r] = (now_s() - t0) / inner;
	}
	return median(v, reps);
}

/* ---- 1. raw sgemm ---- */
struct gemm_ctx {
	int ta, tb, M, N, K;
	const float *A, *B;
	float *Cm;
};

static void gemm_run(void *p)
{
	struct gemm_ctx *g = p;
	cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, g->M, g->N,
		    g->K, 1.0f, g->A, g->ta ? g->M : g->K, g->B, g->tb ? g->K : g->N, 1.0f, g->Cm, g->N);
}

/* One linear layer of the step: out(M,OC) = in(M,C) W(OC,C)^T, `count` times per step. */
struct lin {
	const char *name;
	int C, OC, count;
};

static double bench_sgemm(int M, const struct lin *ls, int nl, double *mix_rate)
{
	printf("\n== raw cblas_sgemm (M = B*T = %d rows; fwd: NoTrans x Trans, dinp: NoTrans x NoTrans, dW: Trans x NoTrans)\n",
	       M);
	printf("%-10s %6s %6s %6s  %10s %10s %10s\n", "layer", "M", "OC", "C", "fwd GF/s", "dinp GF/s", "dW GF/s");
	double mix_flops = 0.0, mix_s = 0.0;
	for (int i = 0; i < nl; i++) {
		const int C = ls[i].C, OC = ls[i].OC;
		float *in = falloc((size_t)M * C), *W = falloc((size_t)OC * C), *out = falloc((size_t)M * OC);
		float *din = falloc((size_t)M * C), *dW = falloc((size_t)OC * C);
		frand(in, (size_t)M * C, 1, 1.0f), frand(W, (size_t)OC * C, 2, 0.02f), frand(out, (size_t)M * OC, 3, 1.0f);
		memset(din, 0, sizeof(float) * (size_t)M * C);
		memset(dW, 0, sizeof(float) * (size_t)OC * C);
		const double fl = 2.0 * M * (double)OC * C;
		struct gemm_ctx f = {0, 1, M, OC, C, in, W, out};          /* out = in . W^T */
		struct gemm_ctx d = {0, 0, M, C, OC, out, W, din};         /* din = dout . W */
		struct gemm_ctx w = {1, 0, OC, C, M, out, in, dW};         /* dW = dout^T . in */
		double tf = time_call(gemm_run, &f), td = time_call(gemm_run, &d), tw = time_call(gemm_run, &w);
		printf("%-10s %6d %6d %6d  %10.1f %10.1f %10.1f\n", ls[i].name, M, OC, C, fl / tf * 1e-9, fl / td * 1e-9,
		       fl / tw * 1e-9);
		mix_flops += ls[i].count * 3.0 * fl;
		mix_s += ls[i].count * (tf + td + tw);
		free(in), free(W), free(out), free(din), free(dW);
	}
	*mix_rate = mix_flops / mix_s;
	printf("step GEMM mix: %.1f GFLOP in %.3f s of sgemm = %.1f GFLOP/s (the yardstick)\n", mix_flops * 1e-9,
	       mix_s, *mix_rate * 1e-9);
	return mix_s;
}

/* ---- 2. kernels ---- */
struct kctx {
	int B, T, C, V, NH, HS, F, OC;
	int *tok;
	float *x, *y, *z, *w, *b, *dx, *dw, *db, *mean, *rstd, *big, *dbig, *qkv, *dqkv, *att, *datt, *lse;
	float *p, *g, *m, *v;
	int *tg;
	size_t n_adam;
};

#define KFN(name, body)                                                                                            \
	static void name(void *ctx_)                                                                               \
	{                                                                                                          \
		struct kctx *k = ctx_;                                                                             \
		const int M = k->B * k->T;                                                                         \
		(void)M;                                                                                           \
		body;                                                                                              \
	}

KFN(k_embed_f, cpu_embed_forward(k->x, k->tok, k->big, k->w, k->B, k->T, k->C))
KFN(k_embed_b, cpu_embed_backward(k->dbig, k->dw, k->x, k->tok, k->B, k->T, k->C))
KFN(k_ln_f, cpu_layernorm_forward(k->y, k->mean, k->rstd, k->x, k->b, k->b, M, k->C))
KFN(k_ln_b, cpu_layernorm_backward(k->dx, k->db, k->db + k->C, k->y, k->x, k->b, k->mean, k->rstd, M, k->C))
KFN(k_rms_f, cpu_rmsnorm_forward(k->y, k->rstd, k->x, k->b, M, k->C))
KFN(k_rms_b, cpu_rmsnorm_backward(k->dx, k->db, k->y, k->x, k->b, k->rstd, M, k->C))
KFN(k_mm_f, cpu_matmul_forward(k->qkv, k->x, k->w, k->b, M, k->C, k->OC))
KFN(k_mm_b, cpu_matmul_backward(k->dx, k->dw, k->db, k->qkv, k->x, k->w, M, k->C, k->OC))
KFN(k_lm_f, cpu_matmul_forward(k->big, k->x, k->dbig, NULL, M, k->C, k->V))
KFN(k_lm_b, cpu_matmul_backward(k->dx, k->p, NULL, k->big, k->x, k->dbig, M, k->C, k->V))
KFN(k_attn_f, cpu_attention_forward(k->att, k->lse, k->qkv, k->B, k->T, k->NH, k->NH, k->HS))
KFN(k_attn_b, cpu_attention_backward(k->dqkv, k->datt, k->qkv, k->att, k->lse, k->B, k->T, k->NH, k->NH, k->HS))
KFN(k_gelu_f, cpu_gelu_forward(k->z, k->y, (size_t)M * k->F))
KFN(k_gelu_b, cpu_gelu_backward(k->dqkv, k->y, k->z, (size_t)M * k->F))
KFN(k_swiglu_f, cpu_swiglu_forward(k->z, k->y, M, k->F / 2))
KFN(k_swiglu_b, cpu_swiglu_backward(k->dqkv, k->y, k->z, M, k->F / 2))
KFN(k_res_f, cpu_residual_forward(k->y, k->x, k->dx, (size_t)M * k->C))
KFN(k_res_b, cpu_residual_backward(k->dx, k->y, k->x, (size_t)M * k->C))
KFN(k_xent_f, cpu_xent_forward(k->mean, k->rstd, k->big, k->tg, M, k->V))
KFN(k_xent_b, cpu_xent_backward(k->dbig, k->big, k->rstd, k->tg, 1.0f, M, k->V))
KFN(k_adamw, cpu_adamw_update(k->p, k->g, k->m, k->v, k->n_adam, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, 3))

static void report(const char *name, ps_op op, const struct ps_shape *s, double t)
{
	const double fl = op_flops(op, s), by = op_bytes(op, s, 4);
	printf("%-24s %-12s %10.3f %10.2f %10.2f\n", name, op_name(op), t * 1e3, fl / t * 1e-9, by / t * 1e-9);
}

static void bench_kernels(int B, int T, int quick)
{
	const int C = 768, NH = 12, HS = 64, V = 50257, F = 3072, M = B * T;
	struct kctx k;
	memset(&k, 0, sizeof k);
	k.B = B, k.T = T, k.C = C, k.V = V, k.NH = NH, k.HS = HS, k.F = F, k.OC = 3 * C;
	const size_t nq = (size_t)M * 3 * C, nbig = (size_t)M * V;
	k.tok = malloc(sizeof(int) * (size_t)M);
	k.tg = malloc(sizeof(int) * (size_t)M);
	for (int i = 0; i < M; i++)
		k.tok[i] = (i * 7919) % V, k.tg[i] = (i * 104729) % V;
	k.x = falloc((size_t)M * C), k.y = falloc((size_t)M * 2 * F), k.z = falloc((size_t)M * F);
	k.w = falloc((size_t)3 * C * C), k.b = falloc((size_t)3 * C), k.dx = falloc((size_t)M * C);
	k.dw = falloc((size_t)3 * C * C), k.db = falloc((size_t)3 * C), k.mean = falloc((size_t)M);
	k.rstd = falloc((size_t)M), k.big = falloc(nbig > (size_t)V * C ? nbig : (size_t)V * C);
	k.dbig = falloc(nbig > (size_t)V * C ? nbig : (size_t)V * C), k.qkv = falloc(nq), k.dqkv = falloc((size_t)M * 2 * F);
	k.att = falloc((size_t)M * C), k.datt = falloc((size_t)M * C), k.lse = falloc((size_t)B * NH * T);
	k.n_adam = quick ? (size_t)4 << 20 : (size_t)16 << 20;
	k.p = falloc(k.n_adam > (size_t)V * C ? k.n_adam : (size_t)V * C), k.g = falloc(k.n_adam);
	k.m = falloc(k.n_adam), k.v = falloc(k.n_adam);
	frand(k.x, (size_t)M * C, 4, 1.0f), frand(k.y, (size_t)M * 2 * F, 5, 1.0f), frand(k.z, (size_t)M * F, 6, 1.0f);
	frand(k.w, (size_t)3 * C * C, 7, 0.02f), frand(k.b, (size_t)3 * C, 8, 1.0f), frand(k.qkv, nq, 9, 1.0f);
	frand(k.big, nbig > (size_t)V * C ? nbig : (size_t)V * C, 10, 0.02f);
	frand(k.dbig, nbig > (size_t)V * C ? nbig : (size_t)V * C, 11, 0.02f);
	frand(k.datt, (size_t)M * C, 12, 1.0f), frand(k.g, k.n_adam, 13, 1e-3f);
	memset(k.dx, 0, sizeof(float) * (size_t)M * C), memset(k.dw, 0, sizeof(float) * (size_t)3 * C * C);
	memset(k.db, 0, sizeof(float) * (size_t)3 * C), memset(k.dqkv, 0, sizeof(float) * (size_t)M * 2 * F);
	memset(k.m, 0, sizeof(float) * k.n_adam), memset(k.v, 0, sizeof(float) * k.n_adam);
	memset(k.p, 0, sizeof(float) * (k.n_adam > (size_t)V * C ? k.n_adam : (size_t)V * C));
	cpu_layernorm_forward(k.y, k.mean, k.rstd, k.x, k.b, k.b, M, C);
	cpu_attention_forward(k.att, k.lse, k.qkv, B, T, NH, NH, HS);

	printf("\n== kernels at GPT-2 124M shapes (B=%d T=%d C=%d NH=%d HS=%d F=%d V=%d); flops and bytes from ops.c\n", B,
	       T, C, NH, HS, F, V);
	printf("%-24s %-12s %10s %10s %10s\n", "kernel", "op", "ms", "GFLOP/s", "GB/s");
	struct ps_shape s;
	memset(&s, 0, sizeof s);
	s.B = B, s.T = T, s.C = C, s.V = V;
	report("embed", OP_EMBED_FWD, &s, time_call(k_embed_f, &k));
	report("embed", OP_EMBED_BWD, &s, time_call(k_embed_b, &k));
	memset(&s, 0, sizeof s);
	s.M = M, s.C = C;
	report("layernorm", OP_NORM_FWD, &s, time_call(k_ln_f, &k));
	report("layernorm", OP_NORM_BWD, &s, time_call(k_ln_b, &k));
	s.variant = 1;
	report("rmsnorm", OP_NORM_FWD, &s, time_call(k_rms_f, &k));
	report("rmsnorm", OP_NORM_BWD, &s, time_call(k_rms_b, &k));
	memset(&s, 0, sizeof s);
	s.M = M, s.N = 3 * C, s.K = C, s.variant = 1;
	report("matmul qkv +bias", OP_MATMUL_FWD, &s, time_call(k_mm_f, &k));
	report("matmul qkv +bias", OP_MATMUL_BWD, &s, time_call(k_mm_b, &k));
	s.N = V, s.variant = 0;
	report("matmul lm head", OP_MATMUL_FWD, &s, time_call(k_lm_f, &k));
	report("matmul lm head", OP_MATMUL_BWD, &s, time_call(k_lm_b, &k));
	memset(&s, 0, sizeof s);
	s.B = B, s.T = T, s.NH = NH, s.KVH = NH, s.HS = HS;
	report("attention", OP_ATTN_FWD, &s, time_call(k_attn_f, &k));
	report("attention", OP_ATTN_BWD, &s, time_call(k_attn_b, &k));
	memset(&s, 0, sizeof s);
	s.n = (int64_t)M * F;
	report("gelu", OP_GELU_FWD, &s, time_call(k_gelu_f, &k));
	report("gelu", OP_GELU_BWD, &s, time_call(k_gelu_b, &k));
	s.n = (int64_t)M * F / 2;
	report("swiglu (F/2 out)", OP_SWIGLU_FWD, &s, time_call(k_swiglu_f, &k));
	report("swiglu (F/2 out)", OP_SWIGLU_BWD, &s, time_call(k_swiglu_b, &k));
	s.n = (int64_t)M * C;
	report("residual", OP_RESIDUAL_FWD, &s, time_call(k_res_f, &k));
	report("residual", OP_RESIDUAL_BWD, &s, time_call(k_res_b, &k));
	memset(&s, 0, sizeof s);
	s.M = M, s.V = V;
	report("xent", OP_XENT_FWD, &s, time_call(k_xent_f, &k));
	report("xent", OP_XENT_BWD, &s, time_call(k_xent_b, &k));
	memset(&s, 0, sizeof s);
	s.n = (int64_t)k.n_adam;
	report("adamw", OP_ADAMW, &s, time_call(k_adamw, &k));
	free(k.tok), free(k.tg), free(k.x), free(k.y), free(k.z), free(k.w), free(k.b), free(k.dx), free(k.dw);
	free(k.db), free(k.mean), free(k.rstd), free(k.big), free(k.dbig), free(k.qkv), free(k.dqkv), free(k.att);
	free(k.datt), free(k.lse), free(k.p), free(k.g), free(k.m), free(k.v);
}

/* ---- 3. the training step ---- */
static int bench_step(int B, int T, int reps, double mix_rate, const char *mode)
{
	struct gpt_config cfg;
	gpt_config_gpt2_124m(&cfg);
	struct gpt *g = NULL;
	if (gpt_alloc(&cfg, B, T, &g) != PS_OK) {
		fprintf(stderr, "bench-kernels: %s\n", ps_error_message());
		return 1;
	}
	gpt_init_random(g, 1337);
	int *tok = malloc(sizeof(int) * (size_t)(B * T + 1));
	for (int i = 0; i < B * T + 1; i++)
		tok[i] = (int)((i * 2654435761u) % (unsigned)cfg.V);
	const int *targets = tok + 1;
	double tf[64], tb[64], tu[64], ts[64];
	float loss = 0.0f;
	if (reps > 64)
		reps = 64;
	for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
		double t0 = now_s();
		if (gpt_forward(g, tok, targets, B, T, &loss) != PS_OK) {
			fprintf(stderr, "bench-kernels: %s\n", ps_error_message());
			return 1;
		}
		double t1 = now_s();
		gpt_zero_grad(g);
		gpt_backward(g, 1.0f);
		double t2 = now_s();
		double norm = 0.0;
		gpt_update(g, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, &norm);
		double t3 = now_s();
		if (r >= 0) {
			tf[r] = t1 - t0, tb[r] = t2 - t1, tu[r] = t3 - t2, ts[r] = t3 - t0;
			printf("  step %d: %.3f s (fwd %.3f, bwd %.3f, adamw %.3f) loss %.4f grad norm %.3f\n", r + 1,
			       ts[r], tf[r], tb[r], tu[r], loss, norm);
		}
	}
	const double tokens = (double)B * T;
	const double n_mm = (double)g->n_params - (double)g->param_sizes[1];
	const double attn = cfg.L * 3.0 * 4.0 * cfg.HS * (double)B * cfg.NH * T * (T + 1.0) / 2.0;
	const double step_flops = 6.0 * n_mm * tokens + attn;
	double smin = ts[0], smax = ts[0];
	for (int r = 1; r < reps; r++)
		smin = ts[r] < smin ? ts[r] : smin, smax = ts[r] > smax ? ts[r] : smax;
	const double mf = median(tf, reps), mb = median(tb, reps), mu = median(tu, reps), ms = median(ts, reps);
	printf("\n== GPT-2 124M training step, B=%d T=%d, %d threads, matmuls %s, %d reps after 1 warm-up\n", B,
	       T, cpu_threads_get(),
	       strcmp(mode, "split") == 0 ? "split over the OpenMP team (default)" : "on OpenBLAS's threads", reps);
	printf("parameters %zu (matmul N = %.0f), step flops = 6*N*tokens + attention = %.1f + %.2f GFLOP\n",
	       g->n_params, n_mm, 6.0 * n_mm * tokens * 1e-9, attn * 1e-9);
	printf("median step %.3f s [min %.3f, max %.3f]: forward %.3f, backward %.3f, adamw %.3f\n", ms, smin, smax, mf,
	       mb, mu);
	printf("tokens/s %.1f, step %.1f GFLOP/s, sgemm mix %.1f GFLOP/s, ratio %.3f\n", tokens / ms,
	       step_flops / ms * 1e-9, mix_rate * 1e-9, step_flops / ms / mix_rate);
	printf("vs llm.c CPU reference %.1f s/step (issue 3, not measured here): %.2fx\n", LLMC_REF_STEP_S,
	       LLMC_REF_STEP_S / ms);
	printf("RESULT mode=%s step_s=%.4f min_s=%.4f max_s=%.4f tokens_per_s=%.1f step_gflops=%.1f "
	       "sgemm_mix_gflops=%.1f ratio=%.3f\n",
	       mode, ms, smin, smax, tokens / ms, step_flops / ms * 1e-9, mix_rate * 1e-9, step_flops / ms / mix_rate);
	free(tok);
	gpt_free(g);
	return 0;
}

int main(int argc, char **argv)
{
	int quick = 0, threads = 2, reps = -1, step_only = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = 1;
		else if (strcmp(argv[i], "--step-only") == 0)
			step_only = 1;
		else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
			reps = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: bench-kernels [--quick] [--threads N] [--reps N] [--step-only]\n");
			return 2;
		}
	}
	if (threads < 1 || (reps != -1 && reps < 1)) {
		fprintf(stderr, "usage: bench-kernels [--quick] [--threads N] [--reps N] [--step-only]\n");
		return 2;
	}
	if (quick)
		g_reps = 3, g_min_sample_s = 0.005;
	const int step_reps = reps > 0 ? reps : quick ? 3 : 7;
	if (reps > 0)
		g_reps = reps;
	setvbuf(stdout, NULL, _IOLBF, 0); /* progress shows through pipes */
	cpu_threads_set(threads);
	const int B = 4, T = 64, M = B * T;
	printf("bench-kernels: %d threads, OpenBLAS core %s\nOpenBLAS config: %s\n", threads, cpu_blas_corename(),
	       cpu_blas_config());
	const struct lin ls[] = {
		{"qkv", 768, 2304, 12}, {"attproj", 768, 768, 12}, {"fc", 768, 3072, 12},
		{"fcproj", 3072, 768, 12}, {"lm head", 768, 50257, 1},
	};
	double mix_rate = 0.0;
	if (step_only) {
		/* the yardstick still comes from this run, at reduced effort */
		g_reps = 3, g_min_sample_s = 0.005;
	}
	/* the yardstick: plain cblas_sgemm on OpenBLAS's own `threads` threads */
#ifdef OPENBLAS_VERSION
	openblas_set_num_threads(threads);
#endif
	bench_sgemm(M, ls, 5, &mix_rate);
	cpu_gemm_threads_set(CPU_GEMM_SPLIT);
	cpu_threads_set(threads);
	if (!step_only)
		bench_kernels(B, T, quick);
	int rc = bench_step(B, T, step_reps, mix_rate, "split");
	cpu_gemm_threads_set(CPU_GEMM_BLAS);
	cpu_threads_set(threads);
	rc |= bench_step(B, T, step_reps, mix_rate, "blas");
	cpu_gemm_threads_set(CPU_GEMM_SPLIT);
	cpu_threads_set(threads);
	return rc;
}
