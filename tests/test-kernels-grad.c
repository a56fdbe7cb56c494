/* test-kernels-grad.c — every CPU backward kernel against central finite
 * differences of a double-precision forward (tests/kernels-dref.h), AdamW
 * against a hand-computed closed form, gradient clipping against a direct
 * norm.
 *
 * Method: for an op y = f(x) and a random cotangent w, the scalar loss
 * L = sum(w * f(x)) has dL/dx = backward(dout = w).  The float backward
 * kernel gives the analytic gradient; dL/dx_i is also estimated as
 * (L(x + h e_i) - L(x - h e_i)) / 2h with f evaluated in double.
 * Tolerance: relative L2 error over the whole gradient tensor <= 1e-5.
 * Justification: the float kernels round at ~1e-7 relative per operation and
 * the measured errors are 1e-7..1e-6 at these sizes; with h = 1e-4 and O(1)
 * inputs the central difference has truncation error ~h^2 |f'''| ~ 1e-8 and
 * rounding error ~1e-16 |L| / h ~ 1e-12, both negligible.  A wrong formula
 * gives O(1) errors, and a misplaced epsilon or scale ~1e-4 or more. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/kernels.h"
#include "kernels-dref.h"

#define TOL 1e-5
#define H 1e-4

/* loss of the op at the current double inputs, for the finite differences */
typedef double (*loss_fn)(void *ctx);

/* Compare grad (float, n) with the central differences of loss w.r.t. x
 * (double, n, perturbed in place and restored). */
static void fd_check(double *x, size_t n, loss_fn loss, void *ctx, const float *grad, const char *what)
{
	double *fd = malloc(n * sizeof *fd);
	for (size_t i = 0; i < n; i++) {
		const double x0 = x[i];
		x[i] = x0 + H;
		const double lp = loss(ctx);
		x[i] = x0 - H;
		const double lm = loss(ctx);
		x[i] = x0;
		fd[i] = (lp - lm) / (2.0 * H);
	}
	double e = dref_relerr_fd(grad, fd, n);
	free(fd);
	if (!(e <= TOL))
		fail_msg("%s: gradient vs finite differences, relative L2 error %.3g > %.3g", what, e, TOL);
}

static float *fbuf(size_t n)
{
	float *p = calloc(n ? n : 1, sizeof(float));
	assert_non_null(p);
	return p;
}

static double *dbuf(size_t n)
{
	double *p = calloc(n ? n : 1, sizeof(double));
	assert_non_null(p);
	return p;
}

/* ---- embedding ---- */
struct embed_ctx {
	int B, T, C;
	const int *tok;
	double *wte, *wpe, *w, *out;
};

static double embed_loss(void *p)
{
	struct embed_ctx *c = p;
	dref_embed(c->out, c->tok, c->wte, c->wpe, c->B, c->T, c->C);
	return dref_dot(c->out, c->w, (size_t)c->B * c->T * c->C);
}

static void test_embed_grad(void **state)
{
	(void)state;
	const int B = 2, T = 5, C = 6, V = 4;
	const int tok[10] = {0, 3, 3, 1, 0, 2, 3, 3, 0, 1};
	uint64_t s = 11;
	float *wte = fbuf((size_t)V * C), *wpe = fbuf((size_t)T * C), *w = fbuf((size_t)B * T * C);
	dref_fill(wte, (size_t)V * C, &s, -1, 1);
	dref_fill(wpe, (size_t)T * C, &s, -1, 1);
	dref_fill(w, (size_t)B * T * C, &s, -1, 1);
	float *dwte = fbuf((size_t)V * C), *dwpe = fbuf((size_t)T * C);
	cpu_embed_backward(dwte, dwpe, w, tok, B, T, C);
	struct embed_ctx c = {B, T, C, tok, dref_from_f(wte, (size_t)V * C), dref_from_f(wpe, (size_t)T * C),
			      dref_from_f(w, (size_t)B * T * C), dbuf((size_t)B * T * C)};
	fd_check(c.wte, (size_t)V * C, embed_loss, &c, dwte, "embed dwte");
	fd_check(c.wpe, (size_t)T * C, embed_loss, &c, dwpe, "embed dwpe");
	free(wte), free(wpe), free(w), free(dwte), free(dwpe), free(c.wte), free(c.wpe), free(c.w), free(c.out);
}

/* ---- layernorm / rmsnorm ---- */
struct norm_ctx {
	int rms, M, C;
	double *x, *wt, *b, *w, *out;
};

static double norm_loss(void *p)
{
	struct norm_ctx *c = p;
	if (c->rms)
		dref_rmsnorm(c->out, c->x, c->wt, c->M, c->C);
	else
		dref_layernorm(c->out, c->x, c->wt, c->b, c->M, c->C);
	return dref_dot(c->out, c->w, (size_t)c->M * c->C);
}

static void check_norm_grad(int rms)
{
	const int M = 6, C = 17;
	const size_t n = (size_t)M * C;
	uint64_t s = 21 + (uint64_t)rms;
	float *x = fbuf(n), *wt = fbuf((size_t)C), *b = fbuf((size_t)C), *w = fbuf(n);
	dref_fill(x, n, &s, -1, 2);
	dref_fill(wt, (size_t)C, &s, 0.5, 1.5);
	dref_fill(b, (size_t)C, &s, -1, 1);
	dref_fill(w, n, &s, -1, 1);
	float *out = fbuf(n), *mean = fbuf((size_t)M), *rstd = fbuf((size_t)M);
	float *dx = fbuf(n), *dwt = fbuf((size_t)C), *db = fbuf((size_t)C);
	if (rms) {
		cpu_rmsnorm_forward(out, rstd, x, wt, M, C);
		cpu_rmsnorm_backward(dx, dwt, w, x, wt, rstd, M, C);
	} else {
		cpu_layernorm_forward(out, mean, rstd, x, wt, b, M, C);
		cpu_layernorm_backward(dx, dwt, db, w, x, wt, mean, rstd, M, C);
	}
	struct norm_ctx c = {rms, M, C, dref_from_f(x, n), dref_from_f(wt, (size_t)C), dref_from_f(b, (size_t)C),
			     dref_from_f(w, n), dbuf(n)};
	fd_check(c.x, n, norm_loss, &c, dx, rms ? "rmsnorm dinp" : "layernorm dinp");
	fd_check(c.wt, (size_t)C, norm_loss, &c, dwt, rms ? "rmsnorm dweight" : "layernorm dweight");
	if (!rms)
		fd_check(c.b, (size_t)C, norm_loss, &c, db, "layernorm dbias");
	free(x), free(wt), free(b), free(w), free(out), free(mean), free(rstd), free(dx), free(dwt), free(db);
	free(c.x), free(c.wt), free(c.b), free(c.w), free(c.out);
}

static void test_norm_grad(void **state)
{
	(void)state;
	check_norm_grad(0);
	check_norm_grad(1);
}

/* ---- matmul ---- */
struct mm_ctx {
	int M, C, OC;
	double *x, *W, *bias, *w, *out;
};

static double mm_loss(void *p)
{
	struct mm_ctx *c = p;
	dref_matmul(c->out, c->x, c->W, c->bias, c->M, c->C, c->OC);
	return dref_dot(c->out, c->w, (size_t)c->M * c->OC);
}

static void test_matmul_grad(void **state)
{
	(void)state;
	const int M = 7, C = 9, OC = 5;
	uint64_t s = 31;
	float *x = fbuf((size_t)M * C), *W = fbuf((size_t)OC * C), *b = fbuf((size_t)OC), *w = fbuf((size_t)M * OC);
	dref_fill(x, (size_t)M * C, &s, -1, 1);
	dref_fill(W, (size_t)OC * C, &s, -1, 1);
	dref_fill(b, (size_t)OC, &s, -1, 1);
	dref_fill(w, (size_t)M * OC, &s, -1, 1);
	float *dx = fbuf((size_t)M * C), *dW = fbuf((size_t)OC * C), *db = fbuf((size_t)OC);
	cpu_matmul_backward(dx, dW, db, w, x, W, M, C, OC);
	struct mm_ctx c = {M, C, OC, dref_from_f(x, (size_t)M * C), dref_from_f(W, (size_t)OC * C),
			   dref_from_f(b, (size_t)OC), dref_from_f(w, (size_t)M * OC), dbuf((size_t)M * OC)};
	fd_check(c.x, (size_t)M * C, mm_loss, &c, dx, "matmul dinp");
	fd_check(c.W, (size_t)OC * C, mm_loss, &c, dW, "matmul dweight");
	fd_check(c.bias, (size_t)OC, mm_loss, &c, db, "matmul dbias");
	free(x), free(W), free(b), free(w), free(dx), free(dW), free(db);
	free(c.x), free(c.W), free(c.bias), free(c.w), free(c.out);
}

/* ---- attention ---- */
struct attn_ctx {
	int B, T, NH, KVH, HS;
	double *qkv, *w, *out;
};

static double attn_loss(void *p)
{
	struct attn_ctx *c = p;
	dref_attention(c->out, c->qkv, c->B, c->T, c->NH, c->KVH, c->HS);
	return dref_dot(c->out, c->w, (size_t)c->B * c->T * c->NH * c->HS);
}

static void check_attn_grad(int B, int T, int NH, int KVH, int HS)
{
	const size_t nq = (size_t)B * T * (NH + 2 * KVH) * HS, no = (size_t)B * T * NH * HS;
	uint64_t s = (uint64_t)(41 + T + KVH);
	float *qkv = fbuf(nq), *w = fbuf(no), *out = fbuf(no), *lse = fbuf((size_t)B * NH * T), *dqkv = fbuf(nq);
	dref_fill(qkv, nq, &s, -1.5, 1.5);
	dref_fill(w, no, &s, -1, 1);
	cpu_attention_forward(out, lse, qkv, B, T, NH, KVH, HS);
	cpu_attention_backward(dqkv, w, qkv, out, lse, B, T, NH, KVH, HS);
	struct attn_ctx c = {B, T, NH, KVH, HS, dref_from_f(qkv, nq), dref_from_f(w, no), dbuf(no)};
	char what[80];
	snprintf(what, sizeof what, "attention dqkv B=%d T=%d NH=%d KVH=%d HS=%d", B, T, NH, KVH, HS);
	fd_check(c.qkv, nq, attn_loss, &c, dqkv, what);
	free(qkv), free(w), free(out), free(lse), free(dqkv), free(c.qkv), free(c.w), free(c.out);
}

static void test_attention_grad(void **state)
{
	(void)state;
	check_attn_grad(1, 19, 4, 2, 4); /* GQA, two key blocks, the second partial */
	check_attn_grad(2, 17, 2, 1, 8); /* multi-query */
	check_attn_grad(1, 5, 2, 2, 4);  /* MHA, one partial block */
}

/* ---- elementwise ---- */
enum ew_kind { EW_GELU, EW_SWIGLU, EW_RESIDUAL };
struct ew_ctx {
	enum ew_kind kind;
	int M, F; /* gelu: n = M*F; swiglu: inp (M,2F); residual: n = M*F */
	double *x, *y, *w, *out;
};

static double ew_loss(void *p)
{
	struct ew_ctx *c = p;
	const size_t n = (size_t)c->M * c->F;
	if (c->kind == EW_GELU)
		dref_gelu(c->out, c->x, n);
	else if (c->kind == EW_SWIGLU)
		dref_swiglu(c->out, c->x, c->M, c->F);
	else
		for (size_t i = 0; i < n; i++)
			c->out[i] = c->x[i] + c->y[i];
	return dref_dot(c->out, c->w, n);
}

static void test_elementwise_grad(void **state)
{
	(void)state;
	const int M = 5, F = 13;
	const size_t n = (size_t)M * F;
	uint64_t s = 51;
	float *x = fbuf(2 * n), *y = fbuf(n), *w = fbuf(n), *dx = fbuf(2 * n), *dy = fbuf(n);
	dref_fill(x, 2 * n, &s, -4, 4);
	dref_fill(y, n, &s, -1, 1);
	dref_fill(w, n, &s, -1, 1);
	struct ew_ctx c = {EW_GELU, M, F, dref_from_f(x, 2 * n), dref_from_f(y, n), dref_from_f(w, n), dbuf(n)};
	cpu_gelu_backward(dx, x, w, n);
	fd_check(c.x, n, ew_loss, &c, dx, "gelu dinp");
	memset(dx, 0, 2 * n * sizeof(float));
	cpu_swiglu_backward(dx, x, w, M, F);
	c.kind = EW_SWIGLU;
	fd_check(c.x, 2 * n, ew_loss, &c, dx, "swiglu dinp");
	memset(dx, 0, 2 * n * sizeof(float));
	cpu_residual_backward(dx, dy, w, n);
	c.kind = EW_RESIDUAL;
	fd_check(c.x, n, ew_loss, &c, dx, "residual da");
	fd_check(c.y, n, ew_loss, &c, dy, "residual db");
	free(x), free(y), free(w), free(dx), free(dy), free(c.x), free(c.y), free(c.w), free(c.out);
}

/* ---- cross-entropy: the loss is dloss * mean over rows, no cotangent ---- */
struct xent_ctx {
	int M, V;
	const int *tg;
	double dloss, *x;
};

static double xent_loss(void *p)
{
	struct xent_ctx *c = p;
	return c->dloss * dref_xent_mean(c->x, c->tg, c->M, c->V);
}

static void test_xent_grad(void **state)
{
	(void)state;
	const int M = 6, V = 23;
	const int tg[6] = {0, 22, 5, 5, 11, 3};
	uint64_t s = 61;
	float *x = fbuf((size_t)M * V), *losses = fbuf((size_t)M), *lse = fbuf((size_t)M), *dx = fbuf((size_t)M * V);
	dref_fill(x, (size_t)M * V, &s, -3, 3);
	cpu_xent_forward(losses, lse, x, tg, M, V);
	cpu_xent_backward(dx, x, lse, tg, 1.3f, M, V);
	struct xent_ctx c = {M, V, tg, 1.3, dref_from_f(x, (size_t)M * V)};
	fd_check(c.x, (size_t)M * V, xent_loss, &c, dx, "xent dlogits");
	/* the forward's mean loss equals the double reference */
	double mean = 0.0;
	for (int i = 0; i < M; i++)
		mean += losses[i];
	mean /= M;
	assert_true(fabs(mean - dref_xent_mean(c.x, tg, M, V)) < 1e-6 * fabs(mean));
	free(x), free(losses), free(lse), free(dx), free(c.x);
}

/* ---- AdamW: two steps against numbers computed by hand ----
 * lr = 0.1, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01,
 * grad_scale = 1.  Element 0: p0 = 1, g1 = 0.5, g2 = -0.25.
 *  step 1: m = 0.05, v = 0.00025; mhat = 0.05/0.1 = 0.5, vhat = 0.00025/0.001
 *          = 0.25; p1 = 1 - 0.1 (0.5/(0.5+1e-8) + 0.01*1) = 0.899000002
 *  step 2: m = 0.045 - 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225;
 *          mhat = 0.02/0.19 = 0.10526315789, vhat = 0.00031225/0.001999
 *          = 0.15620310155, sqrt = 0.39522538045;
 *          p2 = p1 - 0.1 (0.26633703 + 0.01 p1) = 0.87146730
 * Element 1: p0 = -2, g = 0 both steps: only decay, p2 = -2 (1 - 0.001)^2
 * = -1.996002.  Element 2: p0 = 0.5, g1 = g2 = 3 (constant gradient):
 * mhat = 3 and vhat = 9 at both steps, so each step moves by
 * lr (3/(3+1e-8) + 0.01 p): p1 = 0.5 - 0.1 (1 + 0.005) = 0.3995,
 * p2 = 0.3995 - 0.1 (1 + 0.003995) = 0.2991005. */
static void test_adamw_closed_form(void **state)
{
	(void)state;
	float p[3] = {1.0f, -2.0f, 0.5f}, m[3] = {0}, v[3] = {0};
	const float g1[3] = {0.5f, 0.0f, 3.0f}, g2[3] = {-0.25f, 0.0f, 3.0f};
	cpu_adamw_update(p, g1, m, v, 3, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 1.0f, 1);
	assert_true(fabs(p[0] - 0.899000002) < 1e-6);
	/* the moments carry the float rounding of the betas: 1 - 0.999f is
	 * 9.9998713e-4, 1.3e-5 relative below 1e-3 (the bias correction uses the
	 * same float betas, so the update itself is not affected) */
	assert_true(fabs(m[0] - 0.05) < 1e-6 * 0.05 && fabs(v[0] - 0.00025) < 2e-5 * 0.00025);
	assert_true(fabs(p[1] - (-1.998)) < 1e-6);
	assert_true(fabs(p[2] - 0.3995) < 1e-6);
	cpu_adamw_update(p, g2, m, v, 3, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 1.0f, 2);
	assert_true(fabs(m[0] - 0.02) < 1e-6 * 0.02 && fabs(v[0] - 0.00031225) < 2e-5 * 0.00031225);
	assert_true(fabs(p[0] - 0.87146730) < 1e-6);
	assert_true(fabs(p[1] - (-1.996002)) < 1e-6);
	assert_true(fabs(p[2] - 0.2991005) < 1e-6);
	/* grad_scale multiplies the gradient before both moments: scaling the
	 * gradient by 2 and grad_scale by 0.5 is the same update */
	float pa[2] = {0.3f, -0.7f}, ma[2] = {0}, va[2] = {0}, pb[2] = {0.3f, -0.7f}, mb[2] = {0}, vb[2] = {0};
	const float ga[2] = {0.2f, -0.4f}, gb[2] = {0.4f, -0.8f};
	cpu_adamw_update(pa, ga, ma, va, 2, 0.05f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, 1);
	cpu_adamw_update(pb, gb, mb, vb, 2, 0.05f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, 1);
	assert_true(fabsf(pa[0] - pb[0]) < 1e-7f && fabsf(pa[1] - pb[1]) < 1e-7f);
}

/* ---- clipping ---- */
static void test_grad_clip(void **state)
{
	(void)state;
	const size_t n = 10007;
	uint64_t s = 71;
	float *g = fbuf(n);
	dref_fill(g, n, &s, -1, 1);
	double direct = 0.0;
	for (size_t i = 0; i < n; i++)
		direct += (double)g[i] * g[i];
	direct = sqrt(direct);
	assert_true(fabs(sqrt(cpu_sumsq(g, n)) - direct) < 1e-6 * direct);
	float *keep = malloc(n * sizeof(float));
	memcpy(keep, g, n * sizeof(float));
	double norm = 0.0;
	/* above the norm: untouched, factor 1 */
	assert_true(cpu_grad_clip(g, n, (float)(2.0 * direct), &norm) == 1.0f);
	assert_true(fabs(norm - direct) < 1e-6 * direct);
	assert_memory_equal(g, keep, n * sizeof(float));
	/* max_norm <= 0: no clipping */
	assert_true(cpu_grad_clip(g, n, 0.0f, NULL) == 1.0f);
	/* below: scaled to norm max_norm, direction kept */
	float f = cpu_grad_clip(g, n, 1.0f, &norm);
	assert_true(fabs(f - 1.0 / (direct + 1e-6)) < 1e-6 * f);
	double after = 0.0;
	for (size_t i = 0; i < n; i++) {
		after += (double)g[i] * g[i];
		assert_true(fabs(g[i] - keep[i] * f) <= 1e-7 * fabs(keep[i]) + 1e-12);
	}
	assert_true(fabs(sqrt(after) - 1.0) < 1e-5);
	assert_true(cpu_clip_factor(NAN, 1.0f) == 1.0f);
	free(g), free(keep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_embed_grad),
		cmocka_unit_test(test_norm_grad),
		cmocka_unit_test(test_matmul_grad),
		cmocka_unit_test(test_attention_grad),
		cmocka_unit_test(test_elementwise_grad),
		cmocka_unit_test(test_xent_grad),
		cmocka_unit_test(test_adamw_closed_form),
		cmocka_unit_test(test_grad_clip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
