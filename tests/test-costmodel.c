/* test-costmodel.c — the cost model (kernels/costmodel*.c).
 *
 * Datasheet path: closed forms written out by hand for each family of ops
 * (GEMM, attention, memory-bound), the dtype fallback, monotonicity in size,
 * bad devices.  Profile path: a synthetic profile — the full CPU grid of
 * `parasim profile` with times from a known smooth law plus 1% noise from a
 * fixed seed — must be predicted leave-one-out with median error <= 5% and
 * 90th percentile <= 15% per kernel (the thresholds), off-grid
 * shapes inside the grid within 10% of the law, and shapes far outside the
 * grid never below the roofline of the measured peaks.  Plus: duplicates
 * (last wins), dtype/variant fallback, invalid samples. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "costmodel.h"
#include "ops.h"
#include "profile.h"
#include "store.h"

static struct ps_device test_device(void)
{
	struct ps_device d;
	memset(&d, 0, sizeof d);
	snprintf(d.name, sizeof d.name, "testdev");
	d.peak_flops[DTYPE_FP32] = 20e12;
	d.peak_flops[DTYPE_BF16] = 300e12;
	d.peak_flops[DTYPE_FP16] = 300e12;
	d.mem_bw_Bps = 2e12;
	d.matmul_eff_max = 0.8;
	d.matmul_half_flop = 5e9;
	d.attn_eff_max = 0.5;
	d.mem_eff_max = 0.9;
	d.mem_half_bytes = 4e6;
	d.kernel_launch_s = 4e-6;
	return d;
}

static void assert_rel(double got, double want, double tol)
{
	if (!(fabs(got - want) <= tol * fabs(want))) {
		print_error("got %.17g, want %.17g (rel tol %g)\n", got, want, tol);
		fail();
	}
}

static void test_datasheet_closed_forms(void **state)
{
	(void)state;
	struct ps_device d = test_device();
	struct ps_costmodel *cm;
	assert_int_equal(costmodel_datasheet_alloc(&d, &cm), PS_OK);
	assert_string_equal(costmodel_source(cm), "datasheet");

	/* GEMM 4096^3 in bf16, no bias: flops 2*4096^3 = 1.37438953472e11,
	 * bytes 2*(3*4096^2) = 100663296.  Compute: eff = 0.8*f/(f+5e9),
	 * t = f/(300e12*eff) = (f + 5e9)/(0.8*300e12) = 5.9349563946666...e-4.
	 * Memory: eff = 0.9*b/(b+4e6), t = (b+4e6)/(0.9*2e12) = 5.81462755555e-5.
	 * Total 4e-6 + max = 5.9749563946666e-4. */
	struct ps_shape mm = {.M = 4096, .N = 4096, .K = 4096};
	assert_rel(costmodel_kernel_s(cm, OP_MATMUL_FWD, &mm, DTYPE_BF16),
		   4e-6 + (1.37438953472e11 + 5e9) / (0.8 * 300e12), 1e-12);

	/* The same GEMM backward: two GEMMs of half the work each, each with
	 * its own launch: 2 * (4e-6 + (f + 5e9)/(0.8*300e12)) with f = 1.37438953472e11
	 * (op_flops counts 4MNK for both). */
	assert_rel(costmodel_kernel_s(cm, OP_MATMUL_BWD, &mm, DTYPE_BF16),
		   2 * (4e-6 + (1.37438953472e11 + 5e9) / (0.8 * 300e12)), 1e-12);

	/* A memory-bound GEMM (M = 1): f = 2*4096*4096 = 33554432, bytes =
	 * 2*(4096 + 4096^2 + 4096) = 33570816.  Compute (f+5e9)/(0.8*300e12)
	 * = 2.097314...e-5; memory (b+4e6)/(0.9*2e12) = 2.087267...e-5: compute
	 * still wins by a hair; check the max is taken. */
	struct ps_shape mv = {.M = 1, .N = 4096, .K = 4096};
	double tc = (33554432.0 + 5e9) / (0.8 * 300e12), tm = (33570816.0 + 4e6) / (0.9 * 2e12);
	assert_rel(costmodel_kernel_s(cm, OP_MATMUL_FWD, &mv, DTYPE_BF16), 4e-6 + fmax(tc, tm), 1e-12);

	/* Attention B=1,T=2048,NH=16,HS=128 fp16: pairs 16*2048*2049/2 =
	 * 33570816, flops 4*128*pairs = 17188257792, eff 0.5*f/(f+5e9) ->
	 * t = (f+5e9)/(0.5*300e12). */
	struct ps_shape at = {.B = 1, .T = 2048, .NH = 16, .KVH = 16, .HS = 128};
	assert_rel(costmodel_kernel_s(cm, OP_ATTN_FWD, &at, DTYPE_FP16),
		   4e-6 + (17188257792.0 + 5e9) / (0.5 * 300e12), 1e-12);

	/* Elementwise: residual of n = 2^24 fp32: bytes 3*4*n = 201326592,
	 * flops n; memory (b+4e6)/(0.9*2e12); compute n/(0.8*20e12) is smaller. */
	struct ps_shape r = {.n = 1 << 24};
	assert_rel(costmodel_kernel_s(cm, OP_RESIDUAL_FWD, &r, DTYPE_FP32),
		   4e-6 + (201326592.0 + 4e6) / (0.9 * 2e12), 1e-12);
	costmodel_free(cm);
}

static void test_datasheet_dtype_fallback(void **state)
{
	(void)state;
	struct ps_device d = test_device();
	/* fp8 and tf32 unsupported: fp8 -> fp16 (next wider), tf32 -> fp32. */
	assert_int_equal(costmodel_dtype_fallback(&d, DTYPE_FP8), DTYPE_FP16);
	assert_int_equal(costmodel_dtype_fallback(&d, DTYPE_TF32), DTYPE_FP32);
	assert_int_equal(costmodel_dtype_fallback(&d, DTYPE_BF16), DTYPE_BF16);
	struct ps_costmodel *cm;
	assert_int_equal(costmodel_datasheet_alloc(&d, &cm), PS_OK);
	/* A big GEMM in tf32 costs as fp32 (20 TFLOP/s). */
	struct ps_shape mm = {.M = 4096, .N = 4096, .K = 4096};
	assert_rel(costmodel_kernel_s(cm, OP_MATMUL_FWD, &mm, DTYPE_TF32),
		   4e-6 + (1.37438953472e11 + 5e9) / (0.8 * 20e12), 1e-12);
	costmodel_free(cm);
	/* A bf16-only device (TPU-like): fp32 falls back to the narrower bf16. */
	struct ps_device t = test_device();
	memset(t.peak_flops, 0, sizeof t.peak_flops);
	t.peak_flops[DTYPE_BF16] = 275e12;
	assert_int_equal(costmodel_dtype_fallback(&t, DTYPE_FP32), DTYPE_BF16);
	assert_int_equal(costmodel_dtype_fallback(&t, DTYPE_FP8), DTYPE_BF16);
	/* No peak at all, or no bandwidth: invalid. */
	memset(t.peak_flops, 0, sizeof t.peak_flops);
	assert_int_equal(costmodel_dtype_fallback(&t, DTYPE_FP32), -1);
	assert_int_equal(costmodel_datasheet_alloc(&t, &cm), PS_ERR_INVALID);
	assert_null(cm);
	struct ps_device nb = test_device();
	nb.mem_bw_Bps = 0;
	assert_int_equal(costmodel_datasheet_alloc(&nb, &cm), PS_ERR_INVALID);
	assert_non_null(strstr(ps_error_message(), "testdev"));
}

static void test_datasheet_monotone(void **state)
{
	(void)state;
	struct ps_device d = test_device();
	struct ps_costmodel *cm;
	assert_int_equal(costmodel_datasheet_alloc(&d, &cm), PS_OK);
	/* Time grows with size, throughput (flops/t) too, for every family. */
	double prev_t = 0, prev_rate = 0;
	for (int64_t m = 16; m <= 65536; m *= 2) {
		struct ps_shape s = {.M = m, .N = 4096, .K = 4096, .variant = 1};
		double t = costmodel_kernel_s(cm, OP_MATMUL_FWD, &s, DTYPE_BF16);
		double rate = op_flops(OP_MATMUL_FWD, &s) / t;
		assert_true(t > prev_t);
		assert_true(rate > prev_rate);
		assert_true(rate < 0.8 * 300e12);
		prev_t = t, prev_rate = rate;
	}
	prev_t = prev_rate = 0;
	for (int64_t n = 1024; n <= ((int64_t)1 << 30); n *= 4) {
		struct ps_shape s = {.n = n};
		double t = costmodel_kernel_s(cm, OP_GELU_FWD, &s, DTYPE_BF16);
		double rate = op_bytes(OP_GELU_FWD, &s, 2) / t;
		assert_true(t > prev_t);
		assert_true(rate > prev_rate);
		assert_true(rate < 0.9 * 2e12);
		prev_t = t, prev_rate = rate;
	}
	prev_t = 0;
	for (int64_t T = 128; T <= 16384; T *= 2) {
		struct ps_shape s = {.B = 1, .T = T, .NH = 8, .KVH = 2, .HS = 128};
		double t = costmodel_kernel_s(cm, OP_ATTN_BWD, &s, DTYPE_BF16);
		assert_true(t > prev_t);
		prev_t = t;
	}
	/* Every op is priced, at least the launch overhead. */
	struct ps_shape any = {.M = 64,
			       .N = 64,
			       .K = 64,
			       .B = 1,
			       .T = 64,
			       .C = 64,
			       .NH = 2,
			       .KVH = 2,
			       .HS = 32,
			       .V = 256,
			       .n = 4096};
	for (int op = 0; op < OP_COUNT_; op++)
		assert_true(costmodel_kernel_s(cm, (ps_op)op, &any, DTYPE_FP32) >= 4e-6);
	costmodel_free(cm);
}

/* --- synthetic profile --------------------------------------------------- */

static uint64_t rng_state;
static double rng_uniform(void) /* [-1, 1) */
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(rng_state >> 11) / (double)(1ull << 53) * 2 - 1;
}

/* A smooth, shape-dependent law in the spirit of a real CPU: overhead,
 * a compute term whose efficiency grows with size and with the inner
 * dimensions, a memory term whose bandwidth grows with size. */
static double law_s(ps_op op, const struct ps_shape *s)
{
	double f = op_flops(op, s), b = op_bytes(op, s, 4);
	switch (op) {
	case OP_MATMUL_FWD:
	case OP_MATMUL_BWD: {
		double eff =
		    0.85 * f / (f + 2e7) * (double)s->K / (s->K + 48.0) * (double)s->N / (s->N + 32.0);
		return 3e-6 + f / (150e9 * eff) + b / 40e9;
	}
	case OP_ATTN_FWD:
	case OP_ATTN_BWD: {
		double eff =
		    f / (f + 1e7) * (double)s->HS / (s->HS + 16.0) * (1 + 0.1 * (s->NH / s->KVH > 1));
		return 5e-6 + f / (30e9 * eff) + b / 30e9;
	}
	default:
		return 2e-6 + b / (40e9 * b / (b + 2e5)) + f / 100e9;
	}
}

static struct ps_kernel_sample *synth_profile(size_t *n, double noise)
{
	struct ps_profile_shape *g;
	size_t ng;
	assert_int_equal(profile_grid(PROFILE_FULL, 0, &g, &ng), PS_OK);
	struct ps_kernel_sample *s = calloc(ng, sizeof *s);
	assert_non_null(s);
	rng_state = 12345;
	for (size_t i = 0; i < ng; i++) {
		const struct ps_shape *sh = &g[i].shape;
		struct ps_kernel_sample *k = &s[i];
		snprintf(k->op, sizeof k->op, "%s", op_name(g[i].op));
		snprintf(k->dtype, sizeof k->dtype, "fp32");
		k->M = sh->M, k->N = sh->N, k->K = sh->K, k->B = sh->B, k->T = sh->T, k->C = sh->C;
		k->NH = sh->NH, k->KVH = sh->KVH, k->HS = sh->HS, k->V = sh->V, k->n = sh->n,
		k->variant = sh->variant;
		k->median_s = law_s(g[i].op, sh) * (1 + noise * rng_uniform());
		k->reps = 10;
		k->flops = op_flops(g[i].op, sh);
		k->bytes = op_bytes(g[i].op, sh, 4);
	}
	free(g);
	*n = ng;
	return s;
}

static void test_profile_loo_synthetic(void **state)
{
	(void)state;
	size_t n;
	struct ps_kernel_sample *s = synth_profile(&n, 0.01);
	struct ps_costmodel *cm;
	assert_int_equal(costmodel_samples_alloc(s, n, &cm), PS_OK);
	assert_string_equal(costmodel_source(cm), "profile");
	for (int op = 0; op < OP_COUNT_; op++) {
		struct ps_costmodel_quality q;
		assert_int_equal(costmodel_quality(cm, (ps_op)op, &q), PS_OK);
		print_message("# %-13s n %3d R2 %.4f fit med %5.1f%% p90 %5.1f%%  LOO med %5.2f%% p90 "
			      "%5.2f%% max %5.1f%%\n",
			      op_name((ps_op)op), q.n, q.r2_log, 100 * q.fit_median_rel, 100 * q.fit_p90_rel,
			      100 * q.loo_median_rel, 100 * q.loo_p90_rel, 100 * q.loo_max_rel);
		assert_true(q.n >= 10);
		assert_true(q.loo_median_rel <= 0.05);
		assert_true(q.loo_p90_rel <= 0.15);
	}
	costmodel_free(cm);
	free(s);
}

/* The thresholds can fail: with +-40% noise the same machinery cannot
 * predict held-back shapes to 15% at the 90th percentile. */
static void test_profile_loo_noisy_fails(void **state)
{
	(void)state;
	size_t n;
	struct ps_kernel_sample *s = synth_profile(&n, 0.4);
	struct ps_costmodel *cm;
	assert_int_equal(costmodel_samples_alloc(s, n, &cm), PS_OK);
	struct ps_costmodel_quality q;
	assert_int_equal(costmodel_quality(cm, OP_MATMUL_FWD, &q), PS_OK);
	assert_true(q.loo_p90_rel > 0.15);
	costmodel_free(cm);
	free(s);
}

static void test_profile_offgrid_and_roofline(void **state)
{
	(void)state;
	size_t n;
	struct ps_kernel_sample *s = synth_profile(&n, 0.01);
	struct ps_costmodel *cm;
	assert_int_equal(costmodel_samples_alloc(s, n, &cm), PS_OK);
	/* Off-grid shapes inside the grid's box: close to the law. */
	struct {
		ps_op op;
		struct ps_shape s;
	} in[] = {
	    {OP_MATMUL_FWD, {.M = 384, .N = 1536, .K = 384, .variant = 1}},
	    {OP_MATMUL_BWD, {.M = 1536, .N = 640, .K = 640, .variant = 1}},
	    {OP_ATTN_FWD, {.B = 2, .T = 384, .NH = 6, .KVH = 6, .HS = 64}},
	    {OP_GELU_FWD, {.n = 100000}},
	    {OP_NORM_FWD, {.M = 700, .C = 300, .variant = 1}},
	    {OP_XENT_BWD, {.M = 700, .V = 3000}},
	    {OP_ADAMW, {.n = 1000000}},
	};
	for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
		double t = costmodel_kernel_s(cm, in[i].op, &in[i].s, DTYPE_FP32);
		double want = law_s(in[i].op, &in[i].s);
		print_message("# off-grid %-12s predicted %.4g s, law %.4g s (%+.1f%%)\n", op_name(in[i].op),
			      t, want, 100 * (t / want - 1));
		assert_rel(t, want, 0.10);
	}
	/* Far outside: never below the roofline of the measured peaks, and
	 * still growing with size. */
	double pf, pb;
	costmodel_peaks(cm, &pf, &pb);
	assert_true(pf > 0 && pb > 0);
	double prev = 0;
	for (int64_t m = 4096; m <= 65536; m *= 2) {
		struct ps_shape big = {.M = m, .N = 16384, .K = 8192, .variant = 1};
		double t = costmodel_kernel_s(cm, OP_MATMUL_FWD, &big, DTYPE_FP32);
		assert_true(t >= op_flops(OP_MATMUL_FWD, &big) / pf * (1 - 1e-12));
		assert_true(t >= op_bytes(OP_MATMUL_FWD, &big, 4) / pb * (1 - 1e-12));
		assert_true(t > prev);
		assert_rel(t, law_s(OP_MATMUL_FWD, &big), 0.25);
		prev = t;
	}
	/* bf16 query on an fp32 profile: priced with the fp32 samples (same
	 * dims), not an error; deterministic. */
	struct ps_shape q = {.M = 512, .N = 512, .K = 512, .variant = 1};
	double a = costmodel_kernel_s(cm, OP_MATMUL_FWD, &q, DTYPE_BF16);
	assert_true(a > 0 && isfinite(a));
	assert_true(a == costmodel_kernel_s(cm, OP_MATMUL_FWD, &q, DTYPE_BF16));
	/* A variant that was not profiled (matmul without bias at C x C):
	 * falls back to the profiled variant. */
	struct ps_shape nb = {.M = 512, .N = 512, .K = 512, .variant = 0};
	assert_rel(costmodel_kernel_s(cm, OP_MATMUL_FWD, &nb, DTYPE_FP32), law_s(OP_MATMUL_FWD, &nb), 0.10);
	costmodel_free(cm);
	free(s);
}

static void test_profile_small_cases(void **state)
{
	(void)state;
	struct ps_kernel_sample s[3];
	memset(s, 0, sizeof s);
	for (int i = 0; i < 3; i++) {
		snprintf(s[i].op, sizeof s[i].op, "gelu_fwd");
		snprintf(s[i].dtype, sizeof s[i].dtype, "fp32");
		s[i].n = 1 << 20;
		s[i].reps = 5;
	}
	s[0].median_s = 1e-3;
	s[1].median_s = 2e-3;
	s[2].n = 1 << 22;
	s[2].median_s = 8e-3;
	struct ps_costmodel *cm;
	/* Duplicate shape: the later sample (2 ms) wins; exact at a point
	 * where the two remaining samples lie on a line in log space. */
	assert_int_equal(costmodel_samples_alloc(s, 3, &cm), PS_OK);
	struct ps_shape q = {.n = 1 << 20};
	assert_rel(costmodel_kernel_s(cm, OP_GELU_FWD, &q, DTYPE_FP32), 2e-3, 1e-6);
	struct ps_shape q2 = {.n = 1 << 21}; /* t proportional to n^1: midway is 4 ms */
	assert_rel(costmodel_kernel_s(cm, OP_GELU_FWD, &q2, DTYPE_FP32), 4e-3, 1e-3);
	/* An op without samples: the roofline of the measured peaks, at least
	 * the fastest measured call. */
	struct ps_shape r = {.n = 1 << 20};
	double t = costmodel_kernel_s(cm, OP_RESIDUAL_FWD, &r, DTYPE_FP32);
	double pf, pb;
	costmodel_peaks(cm, &pf, &pb);
	assert_rel(t, fmax(2e-3, op_bytes(OP_RESIDUAL_FWD, &r, 4) / pb), 1e-12);
	struct ps_costmodel_quality qq;
	assert_int_equal(costmodel_quality(cm, OP_RESIDUAL_FWD, &qq), PS_ERR_NOTFOUND);
	costmodel_free(cm);

	/* A model allocated after another was freed (perhaps at the same
	 * address) answers with its own data, whatever was queried before. */
	for (int round = 0; round < 3; round++) {
		struct ps_kernel_sample one = s[2];
		one.median_s = 1e-3 * (round + 1);
		assert_int_equal(costmodel_samples_alloc(&one, 1, &cm), PS_OK);
		struct ps_shape q4 = {.n = 1 << 22};
		assert_rel(costmodel_kernel_s(cm, OP_GELU_FWD, &q4, DTYPE_FP32), 1e-3 * (round + 1), 1e-12);
		assert_rel(costmodel_kernel_s(cm, OP_GELU_FWD, &q4, DTYPE_FP32), 1e-3 * (round + 1), 1e-12);
		costmodel_free(cm);
	}

	/* Invalid samples. */
	struct ps_kernel_sample bad = s[0];
	snprintf(bad.op, sizeof bad.op, "conv2d");
	assert_int_equal(costmodel_samples_alloc(&bad, 1, &cm), PS_ERR_INVALID);
	assert_non_null(strstr(ps_error_message(), "conv2d"));
	bad = s[0];
	bad.median_s = 0;
	assert_int_equal(costmodel_samples_alloc(&bad, 1, &cm), PS_ERR_INVALID);
	bad = s[0];
	snprintf(bad.dtype, sizeof bad.dtype, "int4");
	assert_int_equal(costmodel_samples_alloc(&bad, 1, &cm), PS_ERR_INVALID);
	assert_int_equal(costmodel_samples_alloc(s, 0, &cm), PS_ERR_INVALID);
	assert_null(cm);

	/* Datasheet models have no fit quality. */
	struct ps_device d = test_device();
	assert_int_equal(costmodel_datasheet_alloc(&d, &cm), PS_OK);
	assert_int_equal(costmodel_quality(cm, OP_GELU_FWD, &qq), PS_ERR_UNSUPPORTED);
	costmodel_free(cm);
}

static void test_device_choice(void **state)
{
	(void)state;
	/* Without a store: datasheet.  With a store holding an imported
	 * profile named like the device: profile. */
	struct ps_device d = test_device();
	struct ps_costmodel *cm;
	assert_int_equal(costmodel_device_alloc(NULL, &d, &cm), PS_OK);
	assert_string_equal(costmodel_source(cm), "datasheet");
	costmodel_free(cm);

	char path[] = "/tmp/ps-test-costmodel-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	struct ps_store *st;
	assert_int_equal(store_open(path, &st), PS_OK);
	assert_int_equal(costmodel_device_alloc(st, &d, &cm), PS_OK);
	assert_string_equal(costmodel_source(cm), "datasheet");
	costmodel_free(cm);
	int64_t id;
	assert_int_equal(store_device_put(st, "testdev", "{\"kind\":\"imported\"}", &id), PS_OK);
	struct ps_kernel_sample k;
	memset(&k, 0, sizeof k);
	snprintf(k.op, sizeof k.op, "gelu_fwd");
	snprintf(k.dtype, sizeof k.dtype, "bf16");
	k.n = 1 << 20;
	k.median_s = 7e-6;
	assert_int_equal(store_kernel_put(st, id, &k), PS_OK);
	assert_int_equal(costmodel_device_alloc(st, &d, &cm), PS_OK);
	assert_string_equal(costmodel_source(cm), "profile");
	struct ps_shape q = {.n = 1 << 20};
	assert_rel(costmodel_kernel_s(cm, OP_GELU_FWD, &q, DTYPE_BF16), 7e-6, 1e-9);
	costmodel_free(cm);
	/* "this-cpu" without a local profile: the datasheet. */
	struct ps_device local = test_device();
	snprintf(local.name, sizeof local.name, "this-cpu");
	assert_int_equal(costmodel_device_alloc(st, &local, &cm), PS_OK);
	assert_string_equal(costmodel_source(cm), "datasheet");
	costmodel_free(cm);
	assert_int_equal(costmodel_local_alloc(st, 1, &cm), PS_ERR_NOTFOUND);
	assert_non_null(strstr(ps_error_message(), "parasim profile --threads 1"));
	store_close(st);
	unlink(path);
	char wal[1100];
	snprintf(wal, sizeof wal, "%s-wal", path);
	unlink(wal);
	snprintf(wal, sizeof wal, "%s-shm", path);
	unlink(wal);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_datasheet_closed_forms),
	    cmocka_unit_test(test_datasheet_dtype_fallback),
	    cmocka_unit_test(test_datasheet_monotone),
	    cmocka_unit_test(test_profile_loo_synthetic),
	    cmocka_unit_test(test_profile_loo_noisy_fails),
	    cmocka_unit_test(test_profile_offgrid_and_roofline),
	    cmocka_unit_test(test_profile_small_cases),
	    cmocka_unit_test(test_device_choice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
