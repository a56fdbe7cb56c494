/* test-backend.c — the backend interface itself (kernels/backend.h), on the
 * CPU backend, which every build has.
 *
 * Every kernel entry of ps_backend_cpu() must give bit-for-bit the result of
 * the kernels/cpu function it wraps, called directly on copies of the same
 * inputs (an argument passed in the wrong slot shows up here); gradient
 * buffers start non-zero so accumulation is exercised.  Also: memory entries,
 * dtype refusal (bf16 -> PS_ERR_UNSUPPORTED), the host bf16 conversions
 * against hand-computed values, and that ps_backend_cuda() either works or
 * says why not.
 *
 * The CUDA plugin loader (kernels/backend-cuda-loader.c) without a GPU: the
 * search finds the build's parasim-cuda.so (beside the test's parent
 * directory), loads it, checks its ABI and reaches its entry, so only "no
 * device" may remain; the same plugin is refused when another ABI is
 * expected; a missing file, a file dlopen() refuses and a shared object
 * that is not a plugin each give their own status and a reason naming the
 * path.  In a build without CUDA the loader says so.  The CUDA-against-CPU
 * comparisons are in test-kernels-cuda.c. */
#define _GNU_SOURCE /* dladdr */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend-cuda-plugin.h"
#include "backend.h"
#include "cpu/kernels.h"
#ifdef HAVE_DLFCN_H
#include <dlfcn.h>
#endif
#include <unistd.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static float frand(float lo, float hi)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return lo + (hi - lo) * (float)((rng_state >> 40) & 0xffffff) / 16777216.0f;
}

static float *rnd(size_t n, float lo, float hi)
{
	float *x = malloc(n * sizeof *x);
	assert_non_null(x);
	for (size_t i = 0; i < n; i++)
		x[i] = frand(lo, hi);
	return x;
}

/* A backend buffer holding a copy of host array h (n floats). */
static void *bdup(const struct ps_backend *be, const float *h, size_t n)
{
	void *d = NULL;
	assert_int_equal(be->alloc(be, n * sizeof(float), &d), PS_OK);
	assert_int_equal(be->upload(be, d, DTYPE_FP32, h, n), PS_OK);
	return d;
}

static float *fdup(const float *h, size_t n)
{
	float *x = malloc(n * sizeof *x);
	assert_non_null(x);
	memcpy(x, h, n * sizeof *x);
	return x;
}

/* The backend buffer d equals host array want, bit for bit. */
static void same(const struct ps_backend *be, const void *d, const float *want, size_t n, const char *what)
{
	float *got = malloc(n * sizeof *got);
	assert_non_null(got);
	assert_int_equal(be->download(be, got, d, DTYPE_FP32, n), PS_OK);
	if (memcmp(got, want, n * sizeof *got) != 0) {
		size_t i = 0;
		while (i < n && memcmp(got + i, want + i, sizeof *got) == 0)
			i++;
		print_message("%s: element %zu differs: backend %.9g, direct %.9g\n", what, i, (double)got[i],
			      (double)want[i]);
		free(got);
		fail();
	}
	free(got);
}

static void test_bf16_conversion(void **state)
{
	(void)state;
	assert_int_equal(ps_bf16_from_f32(1.0f), 0x3f80);
	assert_int_equal(ps_bf16_from_f32(-2.0f), 0xc000);
	assert_int_equal(ps_bf16_from_f32(0.0f), 0x0000);
	/* 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: ties to even (1) */
	assert_true(ps_bf16_round(1.0f + 0x1p-8f) == 1.0f);
	/* 1 + 3*2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties to even (1 + 2^-6) */
	assert_true(ps_bf16_round(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f);
	/* just above halfway rounds up */
	assert_true(ps_bf16_round(1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f);
	assert_true(ps_f32_from_bf16(0x4049) == 3.140625f);
	assert_true(isnan(ps_bf16_round(NAN)));
	assert_true(isinf(ps_bf16_round(INFINITY)));
	/* relative error of rounding is at most the unit roundoff 2^-8 */
	for (int i = 0; i < 1000; i++) {
		float x = frand(-100.0f, 100.0f);
		assert_true(fabsf(ps_bf16_round(x) - x) <= fabsf(x) * 0x1p-8f);
	}
	assert_int_equal(ps_backend_elem_bytes(DTYPE_FP32), 4);
	assert_int_equal(ps_backend_elem_bytes(DTYPE_BF16), 2);
}

static void test_cpu_memory(void **state)
{
	(void)state;
	const struct ps_backend *be = ps_backend_cpu();
	assert_non_null(be);
	assert_string_equal(be->name, "cpu");
	assert_true(be->has_dtype(be, DTYPE_FP32));
	assert_true(be->has_dtype(be, DTYPE_TF32));
	assert_false(be->has_dtype(be, DTYPE_BF16));
	char desc[256] = "";
	assert_int_equal(be->describe(be, desc, sizeof desc), PS_OK);
	assert_non_null(strstr(desc, "cpu"));

	void *p = (void *)1;
	assert_int_equal(be->alloc(be, 0, &p), PS_OK);
	assert_null(p);
	be->free(be, NULL);
	assert_int_equal(be->alloc(be, 100, &p), PS_OK);
	assert_non_null(p);
	assert_int_equal((uintptr_t)p % 64, 0);
	float h[25], back[25];
	for (int i = 0; i < 25; i++)
		h[i] = (float)i * 0.5f;
	assert_int_equal(be->copy_to_device(be, p, h, sizeof h), PS_OK);
	memset(back, 0, sizeof back);
	assert_int_equal(be->copy_from_device(be, back, p, sizeof back), PS_OK);
	assert_memory_equal(h, back, sizeof h);
	assert_int_equal(be->zero(be, p, sizeof h), PS_OK);
	assert_int_equal(be->download(be, back, p, DTYPE_FP32, 25), PS_OK);
	for (int i = 0; i < 25; i++)
		assert_true(back[i] == 0.0f);
	assert_int_equal(be->sync(be), PS_OK);

	/* bf16 is refused, with a message, not mishandled */
	ps_error_clear();
	assert_int_equal(be->upload(be, p, DTYPE_BF16, h, 25), PS_ERR_UNSUPPORTED);
	assert_non_null(strstr(ps_error_message(), "bf16"));
	assert_int_equal(be->gelu_forward(be, DTYPE_BF16, p, p, 25), PS_ERR_UNSUPPORTED);
	assert_int_equal(be->attention_forward(be, DTYPE_BF16, p, p, p, 1, 1, 1, 1, 1), PS_ERR_UNSUPPORTED);
	be->free(be, p);
}

static void test_cpu_embed_norm(void **state)
{
	(void)state;
	const struct ps_backend *be = ps_backend_cpu();
	const int B = 2, T = 7, C = 33, V = 11, M = B * T;
	int tokens[14];
	for (int i = 0; i < B * T; i++)
		tokens[i] = (i * 7 + 3) % V;
	float *wte = rnd((size_t)V * C, -1, 1), *wpe = rnd((size_t)T * C, -1, 1);
	float *out = rnd((size_t)M * C, -1, 1);
	void *d_wte = bdup(be, wte, (size_t)V * C), *d_wpe = bdup(be, wpe, (size_t)T * C);
	void *d_out = bdup(be, out, (size_t)M * C);
	assert_int_equal(be->embed_forward(be, DTYPE_FP32, d_out, tokens, d_wte, d_wpe, B, T, C), PS_OK);
	cpu_embed_forward(out, tokens, wte, wpe, B, T, C);
	same(be, d_out, out, (size_t)M * C, "embed_forward");
	/* backward accumulates into non-zero gradients */
	float *dwte = rnd((size_t)V * C, -1, 1), *dwpe = rnd((size_t)T * C, -1, 1),
	      *dout = rnd((size_t)M * C, -1, 1);
	void *d_dwte = bdup(be, dwte, (size_t)V * C), *d_dwpe = bdup(be, dwpe, (size_t)T * C);
	void *d_dout = bdup(be, dout, (size_t)M * C);
	assert_int_equal(be->embed_backward(be, DTYPE_FP32, d_dwte, d_dwpe, d_dout, tokens, B, T, C), PS_OK);
	cpu_embed_backward(dwte, dwpe, dout, tokens, B, T, C);
	same(be, d_dwte, dwte, (size_t)V * C, "embed_backward dwte");
	same(be, d_dwpe, dwpe, (size_t)T * C, "embed_backward dwpe");

	/* layernorm, then rmsnorm, on the embedding output */
	float *w = rnd(C, 0.5f, 1.5f), *bias = rnd(C, -0.5f, 0.5f), *ln = rnd((size_t)M * C, -1, 1);
	float mean[14], rstd[14];
	void *d_w = bdup(be, w, C), *d_b = bdup(be, bias, C), *d_ln = bdup(be, ln, (size_t)M * C);
	void *d_mean = bdup(be, mean, M), *d_rstd = bdup(be, rstd, M);
	assert_int_equal(be->layernorm_forward(be, DTYPE_FP32, d_ln, d_mean, d_rstd, d_out, d_w, d_b, M, C),
			 PS_OK);
	cpu_layernorm_forward(ln, mean, rstd, out, w, bias, M, C);
	same(be, d_ln, ln, (size_t)M * C, "layernorm_forward out");
	same(be, d_mean, mean, M, "layernorm_forward mean");
	same(be, d_rstd, rstd, M, "layernorm_forward rstd");
	float *dinp = rnd((size_t)M * C, -1, 1), *dw = rnd(C, -1, 1), *db = rnd(C, -1, 1);
	void *d_dinp = bdup(be, dinp, (size_t)M * C), *d_dw = bdup(be, dw, C), *d_db = bdup(be, db, C);
	assert_int_equal(be->layernorm_backward(be, DTYPE_FP32, d_dinp, d_dw, d_db, d_dout, d_out, d_w,
						d_mean, d_rstd, M, C),
			 PS_OK);
	cpu_layernorm_backward(dinp, dw, db, dout, out, w, mean, rstd, M, C);
	same(be, d_dinp, dinp, (size_t)M * C, "layernorm_backward dinp");
	same(be, d_dw, dw, C, "layernorm_backward dweight");
	same(be, d_db, db, C, "layernorm_backward dbias");

	assert_int_equal(be->rmsnorm_forward(be, DTYPE_FP32, d_ln, d_rstd, d_out, d_w, M, C), PS_OK);
	cpu_rmsnorm_forward(ln, rstd, out, w, M, C);
	same(be, d_ln, ln, (size_t)M * C, "rmsnorm_forward out");
	same(be, d_rstd, rstd, M, "rmsnorm_forward rstd");
	assert_int_equal(be->rmsnorm_backward(be, DTYPE_FP32, d_dinp, d_dw, d_dout, d_out, d_w, d_rstd, M, C),
			 PS_OK);
	cpu_rmsnorm_backward(dinp, dw, dout, out, w, rstd, M, C);
	same(be, d_dinp, dinp, (size_t)M * C, "rmsnorm_backward dinp");
	same(be, d_dw, dw, C, "rmsnorm_backward dweight");

	void *bufs[] = {d_wte, d_wpe, d_out,  d_dwte, d_dwpe, d_dout, d_w,
			d_b,   d_ln,  d_mean, d_rstd, d_dinp, d_dw,   d_db};
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		be->free(be, bufs[i]);
	float *hb[] = {wte, wpe, out, dwte, dwpe, dout, w, bias, ln, dinp, dw, db};
	for (size_t i = 0; i < sizeof hb / sizeof *hb; i++)
		free(hb[i]);
}

static void test_cpu_matmul_attention(void **state)
{
	(void)state;
	const struct ps_backend *be = ps_backend_cpu();
	const int M = 21, C = 24, OC = 40;
	float *inp = rnd((size_t)M * C, -1, 1), *w = rnd((size_t)OC * C, -1, 1), *bias = rnd(OC, -1, 1);
	float *out = rnd((size_t)M * OC, -1, 1);
	void *d_inp = bdup(be, inp, (size_t)M * C), *d_w = bdup(be, w, (size_t)OC * C),
	     *d_b = bdup(be, bias, OC);
	void *d_out = bdup(be, out, (size_t)M * OC);
	assert_int_equal(be->matmul_forward(be, DTYPE_FP32, d_out, d_inp, d_w, d_b, M, C, OC), PS_OK);
	cpu_matmul_forward(out, inp, w, bias, M, C, OC);
	same(be, d_out, out, (size_t)M * OC, "matmul_forward");
	float *dinp = rnd((size_t)M * C, -1, 1), *dw = rnd((size_t)OC * C, -1, 1), *db = rnd(OC, -1, 1);
	float *dout = rnd((size_t)M * OC, -1, 1);
	void *d_dinp = bdup(be, dinp, (size_t)M * C), *d_dw = bdup(be, dw, (size_t)OC * C),
	     *d_db = bdup(be, db, OC);
	void *d_dout = bdup(be, dout, (size_t)M * OC);
	assert_int_equal(
	    be->matmul_backward(be, DTYPE_FP32, d_dinp, d_dw, d_db, d_dout, d_inp, d_w, M, C, OC), PS_OK);
	cpu_matmul_backward(dinp, dw, db, dout, inp, w, M, C, OC);
	same(be, d_dinp, dinp, (size_t)M * C, "matmul_backward dinp");
	same(be, d_dw, dw, (size_t)OC * C, "matmul_backward dweight");
	same(be, d_db, db, OC, "matmul_backward dbias");

	/* attention on the matmul output read as qkv (B*T = M rows of
	 * (NH + 2 KVH) HS = OC = 40 columns): GQA with NH = 4, KVH = 2, HS = 5 */
	const int B = 3, T = 7, NH = 4, KVH = 2, HS = 5;
	float *att = rnd((size_t)B * T * NH * HS, -1, 1), *lse = rnd((size_t)B * NH * T, -1, 1);
	void *d_att = bdup(be, att, (size_t)B * T * NH * HS), *d_lse = bdup(be, lse, (size_t)B * NH * T);
	assert_int_equal(be->attention_forward(be, DTYPE_FP32, d_att, d_lse, d_out, B, T, NH, KVH, HS),
			 PS_OK);
	cpu_attention_forward(att, lse, out, B, T, NH, KVH, HS);
	same(be, d_att, att, (size_t)B * T * NH * HS, "attention_forward out");
	same(be, d_lse, lse, (size_t)B * NH * T, "attention_forward lse");
	float *dqkv = rnd((size_t)M * OC, -1, 1), *datt = rnd((size_t)B * T * NH * HS, -1, 1);
	void *d_dqkv = bdup(be, dqkv, (size_t)M * OC), *d_datt = bdup(be, datt, (size_t)B * T * NH * HS);
	assert_int_equal(
	    be->attention_backward(be, DTYPE_FP32, d_dqkv, d_datt, d_out, d_att, d_lse, B, T, NH, KVH, HS),
	    PS_OK);
	cpu_attention_backward(dqkv, datt, out, att, lse, B, T, NH, KVH, HS);
	same(be, d_dqkv, dqkv, (size_t)M * OC, "attention_backward dqkv");

	void *bufs[] = {d_inp, d_w, d_b, d_out, d_dinp, d_dw, d_db, d_dout, d_att, d_lse, d_dqkv, d_datt};
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		be->free(be, bufs[i]);
	float *hb[] = {inp, w, bias, out, dinp, dw, db, dout, att, lse, dqkv, datt};
	for (size_t i = 0; i < sizeof hb / sizeof *hb; i++)
		free(hb[i]);
}

static void test_cpu_elementwise(void **state)
{
	(void)state;
	const struct ps_backend *be = ps_backend_cpu();
	const int M = 5, F = 19;
	const size_t n = (size_t)M * 2 * F;
	float *x = rnd(n, -3, 3), *y = rnd(n, -3, 3), *o = rnd(n, -1, 1), *g = rnd(n, -1, 1),
	      *d = rnd(n, -1, 1);
	void *dx = bdup(be, x, n), *dy = bdup(be, y, n), *dop = bdup(be, o, n), *dg = bdup(be, g, n);
	void *dd = bdup(be, d, n);

	assert_int_equal(be->gelu_forward(be, DTYPE_FP32, dop, dx, n), PS_OK);
	cpu_gelu_forward(o, x, n);
	same(be, dop, o, n, "gelu_forward");
	assert_int_equal(be->gelu_backward(be, DTYPE_FP32, dg, dx, dd, n), PS_OK);
	cpu_gelu_backward(g, x, d, n);
	same(be, dg, g, n, "gelu_backward");
	assert_int_equal(be->swiglu_forward(be, DTYPE_FP32, dop, dx, M, F), PS_OK);
	cpu_swiglu_forward(o, x, M, F);
	same(be, dop, o, (size_t)M * F, "swiglu_forward");
	assert_int_equal(be->swiglu_backward(be, DTYPE_FP32, dg, dx, dd, M, F), PS_OK);
	cpu_swiglu_backward(g, x, d, M, F);
	same(be, dg, g, n, "swiglu_backward");
	assert_int_equal(be->residual_forward(be, DTYPE_FP32, dop, dx, dy, n), PS_OK);
	cpu_residual_forward(o, x, y, n);
	same(be, dop, o, n, "residual_forward");
	assert_int_equal(be->residual_backward(be, DTYPE_FP32, dg, dy, dd, n), PS_OK);
	cpu_residual_backward(g, y, d, n);
	same(be, dg, g, n, "residual_backward da");
	same(be, dy, y, n, "residual_backward db");

	void *bufs[] = {dx, dy, dop, dg, dd};
	for (size_t i = 0; i < 5; i++)
		be->free(be, bufs[i]);
	free(x), free(y), free(o), free(g), free(d);
}

static void test_cpu_xent_optimizer(void **state)
{
	(void)state;
	const struct ps_backend *be = ps_backend_cpu();
	const int M = 6, V = 50;
	int targets[6] = {3, 49, 0, -1, 17, 50}; /* -1 and 50: ignored rows */
	float *logits = rnd((size_t)M * V, -4, 4), losses[6], lse[6], *dl = rnd((size_t)M * V, -1, 1);
	void *d_logits = bdup(be, logits, (size_t)M * V), *d_losses = bdup(be, losses, M),
	     *d_lse = bdup(be, lse, M);
	void *d_dl = bdup(be, dl, (size_t)M * V);
	assert_int_equal(be->xent_forward(be, DTYPE_FP32, d_losses, d_lse, d_logits, targets, M, V), PS_OK);
	cpu_xent_forward(losses, lse, logits, targets, M, V);
	same(be, d_losses, losses, M, "xent_forward losses");
	same(be, d_lse, lse, M, "xent_forward lse");
	assert_int_equal(be->xent_backward(be, DTYPE_FP32, d_dl, d_logits, d_lse, targets, 0.5f, M, V),
			 PS_OK);
	cpu_xent_backward(dl, logits, lse, targets, 0.5f, M, V);
	same(be, d_dl, dl, (size_t)M * V, "xent_backward");
	/* in place over the logits */
	assert_int_equal(be->xent_backward(be, DTYPE_FP32, d_logits, d_logits, d_lse, targets, 0.5f, M, V),
			 PS_OK);
	same(be, d_logits, dl, (size_t)M * V, "xent_backward in place");

	const size_t n = 1000;
	float *p = rnd(n, -1, 1), *gr = rnd(n, -2, 2), *m = rnd(n, -0.1f, 0.1f), *v = rnd(n, 0, 0.1f);
	float *p2 = fdup(p, n), *mas = fdup(p, n);
	void *d_p = bdup(be, p, n), *d_g = bdup(be, gr, n), *d_m = bdup(be, m, n), *d_v = bdup(be, v, n);
	void *d_p2 = bdup(be, p2, n), *d_mas = bdup(be, mas, n);
	assert_int_equal(be->adamw_update(be, DTYPE_FP32, d_p, NULL, d_g, d_m, d_v, n, 1e-3f, 0.9f, 0.95f,
					  1e-8f, 0.1f, 0.7f, 3),
			 PS_OK);
	cpu_adamw_update(p, gr, m, v, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.7f, 3);
	same(be, d_p, p, n, "adamw param");
	same(be, d_m, m, n, "adamw m");
	same(be, d_v, v, n, "adamw v");
	/* with a master copy: master updated, param = master */
	assert_int_equal(be->adamw_update(be, DTYPE_FP32, d_p2, d_mas, d_g, d_m, d_v, n, 1e-3f, 0.9f, 0.95f,
					  1e-8f, 0.1f, 1.0f, 4),
			 PS_OK);
	cpu_adamw_update(mas, gr, m, v, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, 4);
	same(be, d_mas, mas, n, "adamw master");
	same(be, d_p2, mas, n, "adamw param from master");

	double ss = -1.0;
	assert_int_equal(be->sumsq(be, DTYPE_FP32, d_g, n, &ss), PS_OK);
	assert_true(ss == cpu_sumsq(gr, n));
	assert_int_equal(be->scale(be, DTYPE_FP32, d_g, n, 0.25f), PS_OK);
	cpu_scale(gr, n, 0.25f);
	same(be, d_g, gr, n, "scale");
	/* clipping to half the norm: factor ~0.5; to twice the norm: 1, unchanged */
	double nrm = 0.0, want_norm = 0.0;
	float f = 0.0f;
	const float maxn = (float)(0.5 * sqrt(cpu_sumsq(gr, n)));
	assert_int_equal(be->grad_clip(be, DTYPE_FP32, d_g, n, maxn, &nrm, &f), PS_OK);
	float want_f = cpu_grad_clip(gr, n, maxn, &want_norm);
	assert_true(nrm == want_norm);
	assert_true(f == want_f);
	assert_true(fabsf(f - 0.5f) < 1e-5f);
	same(be, d_g, gr, n, "grad_clip");
	assert_int_equal(be->grad_clip(be, DTYPE_FP32, d_g, n, 1e9f, NULL, &f), PS_OK);
	assert_true(f == 1.0f);
	same(be, d_g, gr, n, "grad_clip no-op");

	void *bufs[] = {d_logits, d_losses, d_lse, d_dl, d_p, d_g, d_m, d_v, d_p2, d_mas};
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		be->free(be, bufs[i]);
	float *hb[] = {logits, dl, p, gr, m, v, p2, mas};
	for (size_t i = 0; i < sizeof hb / sizeof *hb; i++)
		free(hb[i]);
}

/* ps_backend_cuda() never crashes: either a working backend or NULL with a reason. */
static void test_cuda_presence(void **state)
{
	(void)state;
	const struct ps_backend *cu = ps_backend_cuda();
	if (cu) {
		assert_string_equal(cu->name, "cuda");
		assert_string_equal(ps_backend_cuda_unavailable(), "");
		assert_true(cu->has_dtype(cu, DTYPE_BF16));
	} else {
		assert_true(strlen(ps_backend_cuda_unavailable()) > 0);
		print_message("# cuda backend unavailable: %s\n", ps_backend_cuda_unavailable());
	}
	/* asking twice gives the same answer */
	assert_ptr_equal(ps_backend_cuda(), cu);
}

/* The search behind ps_backend_cuda(): in a CUDA build it must reach the
 * plugin (loaded, ABI accepted, entry run), whatever the machine has. */
static void test_cuda_plugin_search(void **state)
{
	(void)state;
	const ps_cuda_plugin_status st = ps_cuda_plugin_state();
	const char *why = ps_backend_cuda_unavailable();
	print_message("# cuda plugin search: status %d, path \"%s\", reason \"%s\"\n", (int)st,
		      ps_cuda_plugin_path(), why);
	const char *env = getenv("PARASIM_CUDA_PLUGIN");
	if (env && *env) {
		/* the user chose a plugin: it is the one tried */
		assert_string_equal(ps_cuda_plugin_path(), env);
		return;
	}
#ifdef HAVE_CUDA
	assert_true(st == PS_CUDA_PLUGIN_OK || st == PS_CUDA_PLUGIN_NO_DEVICE);
	assert_non_null(strstr(ps_cuda_plugin_path(), PS_CUDA_PLUGIN_FILE));
	if (st == PS_CUDA_PLUGIN_NO_DEVICE) {
		assert_null(ps_backend_cuda());
		/* the reason names the plugin and what the device check said */
		assert_non_null(strstr(why, ps_cuda_plugin_path()));
		assert_non_null(strstr(why, "loaded, but"));
		/* a runtime error raised by PS_ERROR inside the plugin reached the
		 * program's error record and came back through ps_error_message */
		const char *drv = strstr(why, "no usable CUDA driver or device: ");
		if (drv)
			assert_true(strlen(drv) > strlen("no usable CUDA driver or device: "));
	} else {
		assert_non_null(ps_backend_cuda());
		assert_string_equal(why, "");
	}
	/* in `make check` the build's own plugin is the one found */
	const char *bd = getenv("PS_BUILDDIR");
	if (bd && *bd) {
		char want[4096];
		snprintf(want, sizeof want, "%s/%s", bd, PS_CUDA_PLUGIN_FILE);
		char *a = realpath(want, NULL), *b = realpath(ps_cuda_plugin_path(), NULL);
		assert_non_null(a);
		assert_non_null(b);
		assert_string_equal(a, b);
		free(a);
		free(b);
	}
#else
	assert_int_equal(st, PS_CUDA_PLUGIN_NOT_BUILT);
	assert_null(ps_backend_cuda());
	assert_non_null(strstr(why, "built without CUDA"));
#endif
}

/* ps_cuda_plugin_load on the build's plugin: accepted with the right ABI,
 * refused (before its entry runs) with another; CUDA builds only. */
static void test_cuda_plugin_abi(void **state)
{
	(void)state;
#ifdef HAVE_CUDA
	const char *bd = getenv("PS_BUILDDIR");
	char path[4096];
	if (bd && *bd) {
		snprintf(path, sizeof path, "%s/%s", bd, PS_CUDA_PLUGIN_FILE);
	} else { /* run by hand: the build tree is the parent of tests/ */
		char exe[2048];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		assert_true(n > 0);
		exe[n] = '\0';
		for (int up = 0; up < 2; up++)
			*strrchr(exe, '/') = '\0';
		snprintf(path, sizeof path, "%s/%s", exe, PS_CUDA_PLUGIN_FILE);
	}
	char why[8192];
	const struct ps_backend *be = (const struct ps_backend *)1;
	ps_cuda_plugin_status st = ps_cuda_plugin_load(path, PS_CUDA_PLUGIN_ABI, &be, why, sizeof why);
	print_message("# %s: status %d: %s\n", path, (int)st, st == PS_CUDA_PLUGIN_OK ? "ok" : why);
	if (st == PS_CUDA_PLUGIN_OK) {
		assert_non_null(be);
		assert_string_equal(be->name, "cuda");
		/* the entry answers once: the same backend as the search's */
		assert_ptr_equal(be, ps_backend_cuda());
	} else {
		assert_int_equal(st, PS_CUDA_PLUGIN_NO_DEVICE);
		assert_null(be);
		assert_non_null(strstr(why, path));
		/* the same answer as the search gave */
		if (!getenv("PARASIM_CUDA_PLUGIN"))
			assert_non_null(strstr(ps_backend_cuda_unavailable(), strstr(why, "loaded, but")));
	}
	/* a stale plugin: another ABI is refused with both numbers named */
	be = (const struct ps_backend *)1;
	st = ps_cuda_plugin_load(path, PS_CUDA_PLUGIN_ABI + 1, &be, why, sizeof why);
	assert_int_equal(st, PS_CUDA_PLUGIN_ABI_MISMATCH);
	assert_null(be);
	char nums[64];
	snprintf(nums, sizeof nums, "plugin ABI %d but this parasim needs ABI %d", PS_CUDA_PLUGIN_ABI,
		 PS_CUDA_PLUGIN_ABI + 1);
	assert_non_null(strstr(why, nums));
	assert_non_null(strstr(why, "stale"));
	/* the plugin exports its two symbols and nothing of the kernels */
#ifdef HAVE_DLFCN_H
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(dl);
	const int *abi = dlsym(dl, PS_CUDA_PLUGIN_ABI_SYMBOL);
	assert_non_null(abi);
	assert_int_equal(*abi, PS_CUDA_PLUGIN_ABI);
	assert_non_null(dlsym(dl, PS_CUDA_PLUGIN_ENTRY_SYMBOL));
	assert_null(dlsym(dl, "ps_cuda_init"));
	assert_null(dlsym(dl, "ps_error_set_"));
	dlclose(dl);
#endif
#else
	print_message("# built without CUDA: no plugin to load\n");
#endif
}

/* The loader's refusals that need no plugin: every build. */
static void test_cuda_plugin_refusals(void **state)
{
	(void)state;
	char why[8192];
	const struct ps_backend *be = (const struct ps_backend *)1;
	/* a missing file */
	const char *missing = "/nonexistent-parasim-dir/parasim-cuda.so";
	assert_int_equal(ps_cuda_plugin_load(missing, PS_CUDA_PLUGIN_ABI, &be, why, sizeof why),
			 PS_CUDA_PLUGIN_NOT_FOUND);
	assert_null(be);
	assert_non_null(strstr(why, missing));
	assert_non_null(strstr(why, "not found"));
#ifdef HAVE_DLFCN_H
	/* a file dlopen() refuses: plain text */
	char tmpl[] = "/tmp/test-backend-XXXXXX";
	int fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not an ELF file\n", 16), 16);
	close(fd);
	be = (const struct ps_backend *)1;
	assert_int_equal(ps_cuda_plugin_load(tmpl, PS_CUDA_PLUGIN_ABI, &be, why, sizeof why),
			 PS_CUDA_PLUGIN_DLOPEN_FAILED);
	unlink(tmpl);
	assert_null(be);
	assert_non_null(strstr(why, tmpl));
	assert_non_null(strstr(why, "failed to load: ")); /* followed by dlerror's text */
	assert_true(strlen(strstr(why, "failed to load: ")) > strlen("failed to load: "));
	/* a shared object that is not a plugin: the C library */
	Dl_info info;
	assert_true(dladdr((void *)&strlen, &info) != 0);
	assert_non_null(info.dli_fname);
	be = (const struct ps_backend *)1;
	assert_int_equal(ps_cuda_plugin_load(info.dli_fname, PS_CUDA_PLUGIN_ABI, &be, why, sizeof why),
			 PS_CUDA_PLUGIN_NOT_PLUGIN);
	assert_null(be);
	assert_non_null(strstr(why, "not a parasim CUDA plugin"));
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bf16_conversion), cmocka_unit_test(test_cpu_memory),
	    cmocka_unit_test(test_cpu_embed_norm),  cmocka_unit_test(test_cpu_matmul_attention),
	    cmocka_unit_test(test_cpu_elementwise), cmocka_unit_test(test_cpu_xent_optimizer),
	    cmocka_unit_test(test_cuda_presence),   cmocka_unit_test(test_cuda_plugin_search),
	    cmocka_unit_test(test_cuda_plugin_abi), cmocka_unit_test(test_cuda_plugin_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
