/* test-flops.c — parameter counts and step FLOPs against closed forms.
 *
 * GPT: P = 12 L h^2 (1 + 13/(12h) + (V+s)/(12 L h)) + 2h (Narayanan et al.
 * 2021, section 5.1, plus the final layernorm they leave out); model FLOPs
 * 72 B s L h^2 (1 + s/(6h) + V/(12 L h)) and, with full recomputation,
 * 96 B s L h^2 (1 + s/(6h) + V/(16 L h)) (ibid., eq. 3).  Published
 * parameter counts of GPT-2 124M, Llama 2 7B and Llama 3 8B (exact integers
 * of the released checkpoints) check the general per-matrix accounting. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "fixtures-sim.h"
#include "flops.h"

#define assert_close(a, b, tol) check_close_((a), (b), (tol), __FILE__, __LINE__)
static void check_close_(double a, double b, double tol, const char *file, int line)
{
	double scale = fmax(fmax(fabs(a), fabs(b)), 1e-300);
	if (!(fabs(a - b) <= tol * scale)) {
		print_error("%.17g != %.17g (tolerance %g)\n", a, b, tol);
		_fail(file, line);
	}
}

struct gpt_case {
	const char *name;
	int L, h, a, s, V;
};
/* GPT-2 (Radford et al. 2019) and GPT-3 (Brown et al. 2020, table 2.1) shapes */
static const struct gpt_case gpts[] = {
	{"gpt2-124m", 12, 768, 12, 1024, 50257},   {"gpt2-355m", 24, 1024, 16, 1024, 50257},
	{"gpt2-774m", 36, 1280, 20, 1024, 50257},  {"gpt2-1.5b", 48, 1600, 25, 1024, 50257},
	{"gpt3-2.7b", 32, 2560, 32, 2048, 50257},  {"gpt3-6.7b", 32, 4096, 32, 2048, 50257},
	{"gpt3-175b", 96, 12288, 96, 2048, 50257},
	{"gpt-1t", 128, 25600, 160, 2048, 51200},
};

static void test_gpt_params(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof gpts / sizeof gpts[0]; i++) {
		const struct gpt_case *c = &gpts[i];
		struct ps_model m;
		fx_gpt(&m, c->name, c->L, c->h, c->a, c->s, c->V);
		struct ps_param_count pc;
		flops_params(&m, 0, &pc);
		double L = c->L, h = c->h, s = c->s, V = c->V;
		double closed = 12 * L * h * h * (1 + 13 / (12 * h) + (V + s) / (12 * L * h)) + 2 * h;
		assert_close(pc.total, closed, 1e-14);
		assert_close(pc.layer, 12 * h * h + 13 * h, 1e-15);
	}
	struct ps_model m;
	fx_gpt(&m, "gpt2-124m", 12, 768, 12, 1024, 50257);
	struct ps_param_count pc;
	flops_params(&m, 0, &pc);
	assert_true(pc.total == 124439808.0); /* the released GPT-2 small checkpoint */
}

static void test_llama_params(void **state)
{
	(void)state;
	struct ps_model m;
	struct ps_param_count pc;
	fx_llama(&m, "llama2-7b", 32, 4096, 32, 32, 11008, 4096, 32000);
	flops_params(&m, 0, &pc);
	assert_true(pc.total == 6738415616.0);
	fx_llama(&m, "llama3-8b", 32, 4096, 32, 8, 14336, 8192, 128256);
	flops_params(&m, 0, &pc);
	assert_true(pc.total == 8030261248.0);
	fx_llama(&m, "llama2-70b", 80, 8192, 64, 8, 28672, 4096, 32000);
	flops_params(&m, 0, &pc);
	assert_true(pc.total == 68976648192.0);
}

static void test_local_params_sum(void **state)
{
	(void)state;
	/* Summed over the TP ranks, the local counts give the whole model plus
	 * the replicated pieces (norms, row-parallel biases, positions) t-1 times. */
	struct ps_model m;
	fx_gpt(&m, "gpt3-175b", 96, 12288, 96, 2048, 51200); /* Megatron's padded vocabulary */
	for (int t = 1; t <= 8; t *= 2)
		for (int pp = 1; pp <= 2; pp++) {
			struct ps_strategy st = {.tp = t, .pp = pp};
			struct ps_param_local pl;
			struct ps_param_count pc;
			flops_params_local(&m, &st, &pl);
			flops_params(&m, 0, &pc);
			double h = m.hidden;
			double rep_layer = 2 * 2 * h + 2 * h; /* two layernorms + two row biases */
			assert_close(t * pl.layer, pc.layer + (t - 1) * rep_layer, 1e-15);
			double all = m.layers * pc.layer + pc.embedding + pc.position + pc.final_norm +
				     (pp > 1 ? pc.embedding : 0) /* tied copy on the last stage */;
			double rep = m.layers * rep_layer + pc.position + pc.final_norm;
			assert_close(t * (m.layers * pl.layer + pl.first_extra + pl.last_extra), all + (t - 1) * rep, 1e-15);
		}
	/* a vocabulary that tp does not divide is padded up: ceil(V/t) rows per rank */
	m.vocab = 50257;
	struct ps_strategy st8 = {.tp = 8, .pp = 1};
	struct ps_param_local pl;
	flops_params_local(&m, &st8, &pl);
	assert_close(pl.first_extra, 6283.0 * m.hidden + (double)m.seq_len * m.hidden, 1e-15);
}

static void test_gpt_step_flops(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof gpts / sizeof gpts[0]; i++) {
		const struct gpt_case *c = &gpts[i];
		struct ps_model m;
		fx_gpt(&m, c->name, c->L, c->h, c->a, c->s, c->V);
		double L = c->L, h = c->h, s = c->s, V = c->V, B = 1536;
		struct ps_strategy st = {.tp = 1, .pp = 1, .recompute = RECOMPUTE_NONE};
		struct ps_flop_count fc;
		flops_step(&m, &st, B, &fc);
		assert_close(fc.model, 72 * B * s * L * h * h * (1 + s / (6 * h) + V / (12 * L * h)), 1e-14);
		assert_close(fc.hardware, fc.model, 0);
		st.recompute = RECOMPUTE_FULL;
		flops_step(&m, &st, B, &fc);
		assert_close(fc.hardware, 96 * B * s * L * h * h * (1 + s / (6 * h) + V / (16 * L * h)), 1e-14);
		/* the transformer blocks' part of HFU is 4/3 of their MFU part */
		double blocks = 72 * B * s * L * h * h * (1 + s / (6 * h));
		assert_close(fc.hardware - fc.model, blocks / 3, 1e-14);
		st.recompute = RECOMPUTE_SELECTIVE;
		flops_step(&m, &st, B, &fc);
		assert_close(fc.recompute, 4 * B * s * s * h * L, 1e-14); /* QK^T and AV once more */
	}
}

static void test_utilisation(void **state)
{
	(void)state;
	assert_close(flops_utilisation(1e15, 2.0, 8, 1e14), 0.625, 1e-15);
	assert_true(flops_utilisation(1e15, 0.0, 8, 1e14) == 0.0);
	struct ps_model m;
	struct ps_strategy st = {.parallel_block = true};
	fx_gpt(&m, "x", 2, 64, 4, 32, 100);
	assert_int_equal(flops_parallel_block(&m, &st), 1);
	st.parallel_block = false;
	assert_int_equal(flops_parallel_block(&m, &st), 0);
	struct ps_param_count a, b;
	flops_params(&m, 0, &a);
	flops_params(&m, 1, &b);
	assert_close(a.total - b.total, m.layers * 2.0 * m.hidden, 1e-15); /* one layernorm fewer per block */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gpt_params),     cmocka_unit_test(test_llama_params),
		cmocka_unit_test(test_local_params_sum), cmocka_unit_test(test_gpt_step_flops),
		cmocka_unit_test(test_utilisation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
