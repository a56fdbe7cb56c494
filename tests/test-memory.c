/* test-memory.c — the memory model against closed forms.
 *
 * Model states: the ZeRO paper's bytes per parameter for mixed-precision
 * Adam (Rajbhandari et al. 2020: 2+2+12; ZeRO-1 2+2+12/Nd; ZeRO-2
 * 2+(2+12)/Nd; ZeRO-3 16/Nd) and Megatron's distributed optimizer with fp32
 * gradients (6 + 12/d).  Activations: Korthikanti et al. 2022, table 2 and
 * section 5 (GPT, 16-bit activations, dropout):
 *   none   sbh(34 + 5as/h), TP sbh(10 + 24/t + 5as/(ht)), TP+SP sbh(34/t + 5as/(ht))
 *   selective sbh(10 + 24/t), with SP sbh(34/t);  full 2sbh (2sbh/t with SP).
 * Pipeline: 1F1B stage 0 holds p micro-batches, interleaved stage 0 holds
 * L(1 + (p-1)/(pv)) layers' worth (Korthikanti section 4.2.3). */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "fixtures-sim.h"
#include "memory.h"

#define assert_close(a, b, tol) check_close_((a), (b), (tol), __FILE__, __LINE__)
static void check_close_(double a, double b, double tol, const char *file, int line)
{
	double scale = fmax(fmax(fabs(a), fabs(b)), 1e-300);
	if (!(fabs(a - b) <= tol * scale)) {
		print_error("%.17g != %.17g (tolerance %g)\n", a, b, tol);
		_fail(file, line);
	}
}

static double per_param(const struct ps_strategy *st)
{
	struct ps_state_bytes b;
	memory_state_bytes_per_param(st, &b);
	return b.weights + b.grads + b.optimizer;
}

static void test_zero_bytes_per_param(void **state)
{
	(void)state;
	for (int dp = 1; dp <= 64; dp *= 2) {
		struct ps_strategy st;
		fx_strategy(&st, dp, 1, 1, 1, dp);
		double N = dp;
		st.zero_stage = 0;
		assert_close(per_param(&st), 16, 0);
		st.zero_stage = 1;
		assert_close(per_param(&st), 2 + 2 + 12 / N, 1e-15);
		st.zero_stage = 2;
		assert_close(per_param(&st), 2 + (2 + 12) / N, 1e-15);
		st.zero_stage = 3;
		assert_close(per_param(&st), 16 / N, 1e-15);
		/* Megatron distributed optimizer: fp32 grads, sharded optimizer */
		st.zero_stage = 0;
		st.distributed_optimizer = true;
		st.grad_dtype = DTYPE_FP32;
		assert_close(per_param(&st), 6 + 12 / N, 1e-15);
		/* fp32 training: no master copy, 4 + 4 + 8 */
		st.distributed_optimizer = false;
		st.dtype = DTYPE_FP32;
		assert_close(per_param(&st), 16, 0);
	}
}

static void test_korthikanti_gpt(void **state)
{
	(void)state;
	struct ps_model m;
	fx_gpt(&m, "gpt3-175b", 96, 12288, 96, 2048, 50257);
	struct ps_act_opts o = {.dropout = 1, .flash_attention = 0};
	for (int b = 1; b <= 4; b *= 2)
		for (int t = 1; t <= 8; t *= 2) {
			struct ps_strategy st;
			fx_strategy(&st, 1, t, 1, b, b);
			double s = m.seq_len, h = m.hidden, a = m.heads, sbh = s * b * h;
			st.recompute = RECOMPUTE_NONE;
			st.sequence_parallel = false;
			if (t == 1)
				assert_close(memory_act_layer_bytes(&m, &st, &o), sbh * (34 + 5 * a * s / h), 1e-15);
			assert_close(memory_act_layer_bytes(&m, &st, &o), sbh * (10 + 24.0 / t + 5 * a * s / (h * t)), 1e-15);
			st.sequence_parallel = true;
			assert_close(memory_act_layer_bytes(&m, &st, &o), sbh * (34.0 / t + 5 * a * s / (h * t)), 1e-15);
			st.recompute = RECOMPUTE_SELECTIVE;
			assert_close(memory_act_layer_bytes(&m, &st, &o), sbh * 34.0 / t, 1e-15);
			st.sequence_parallel = false;
			assert_close(memory_act_layer_bytes(&m, &st, &o), sbh * (10 + 24.0 / t), 1e-15);
			st.recompute = RECOMPUTE_FULL;
			assert_close(memory_act_layer_bytes(&m, &st, &o), 2 * sbh, 1e-15);
			st.sequence_parallel = true;
			assert_close(memory_act_layer_bytes(&m, &st, &o), 2 * sbh / t, 1e-15);
			/* the rematerialised block is a whole no-recompute block */
			assert_close(memory_act_recompute_work_bytes(&m, &st, &o), sbh * (34.0 / t + 5 * a * s / (h * t)), 1e-15);
		}
}

static void test_act_variants(void **state)
{
	(void)state;
	/* Llama-style: GQA (g kv heads), SwiGLU (ffn f, two input matrices), no
	 * dropout, per token at t = 1, 2-byte activations:
	 *   norms 2*2h, QKV in 2h, FC1 in 2h, Q+K 2(a+g)d, V 2gd, proj in 2ad,
	 *   SwiGLU in 2*2f, FC2 in 2f, softmax out 2as.  */
	struct ps_model m;
	fx_llama(&m, "tiny", 2, 256, 8, 2, 688, 128, 1000);
	struct ps_strategy st;
	fx_strategy(&st, 1, 1, 1, 1, 1);
	struct ps_act_opts o = {.dropout = 0, .flash_attention = 0};
	double h = 256, a = 8, g = 2, d = 32, f = 688, s = 128;
	double per_tok = 4 * h + 2 * h + 2 * h + 2 * (a + g) * d + 2 * g * d + 2 * a * d + 4 * f + 2 * f + 2 * a * s;
	assert_close(memory_act_layer_bytes(&m, &st, &o), s * per_tok, 1e-15);
	/* flash attention: the s x s scores become fp32 row statistics */
	o.flash_attention = 1;
	assert_close(memory_act_layer_bytes(&m, &st, &o), s * (per_tok - 2 * a * s + 4 * a), 1e-15);
	/* context parallelism halves the local tokens (keys stay whole) */
	o.flash_attention = 0;
	st.cp = 2;
	assert_close(memory_act_layer_bytes(&m, &st, &o), s / 2 * per_tok, 1e-15);
}

static void test_rank_pipeline(void **state)
{
	(void)state;
	struct ps_model m;
	fx_gpt(&m, "gpt3-175b", 96, 12288, 96, 2048, 50257);
	struct ps_scenario sc;
	fx_scenario(&sc, &m, 128, 8, 8, 8, 16, 1, 1536);
	sc.strategy.sequence_parallel = true;
	sc.strategy.recompute = RECOMPUTE_SELECTIVE;
	sc.strategy.zero_stage = 1;
	struct ps_act_opts o;
	memory_act_opts_default(&m, &o);
	double act = memory_act_layer_bytes(&m, &sc.strategy, &o);
	struct ps_mem_breakdown b;
	for (int s = 0; s < 16; s++) {
		assert_int_equal(memory_rank(&sc, s, &b), PS_OK);
		assert_int_equal(b.inflight, 16 - s);
		assert_int_equal(b.layers_local, 6);
		assert_close(b.term[MEM_ACTIVATIONS].bytes, act * 6 * (16 - s), 1e-15);
		double sum = 0;
		for (int t = 0; t < MEM_TERM_COUNT_; t++) {
			sum += b.term[t].bytes;
			assert_true(strlen(b.term[t].formula) > 0);
		}
		assert_close(b.total_bytes, sum, 1e-15);
		assert_close(b.term[MEM_ALLOC_OVERHEAD].bytes,
			     0.05 * (sum - b.term[MEM_ALLOC_OVERHEAD].bytes - b.term[MEM_RESERVED].bytes), 1e-12);
	}
	/* Korthikanti: interleaved stage 0 holds L(1 + (p-1)/(p v)) layers of activations
	 * (p in-flight micro-batches of L/p layers each, plus the interleaving penalty) */
	sc.strategy.schedule = SCHED_INTERLEAVED;
	sc.strategy.vpp = 2;
	assert_int_equal(memory_rank(&sc, 0, &b), PS_OK);
	double L = 96, p = 16, v = 2;
	assert_close(b.term[MEM_ACTIVATIONS].bytes, act * L * (1 + (p - 1) / (p * v)), 1e-14);
	/* GPipe holds all m micro-batches */
	sc.strategy.schedule = SCHED_GPIPE;
	sc.strategy.vpp = 1;
	assert_int_equal(memory_rank(&sc, 5, &b), PS_OK);
	assert_int_equal(b.inflight, 1536 / 8);
}

static void test_rank_states_and_oom(void **state)
{
	(void)state;
	struct ps_model m;
	fx_gpt(&m, "gpt3-175b", 96, 12288, 96, 2048, 50257);
	struct ps_scenario sc;
	fx_scenario(&sc, &m, 1, 8, 8, 1, 1, 1, 8);
	struct ps_mem_breakdown b;
	/* 175B on 8 GPUs without model parallelism: weights alone are 350 GB */
	assert_int_equal(memory_rank(&sc, 0, &b), PS_OK);
	assert_true(b.oom);
	assert_close(b.excess_bytes, b.total_bytes - 80e9, 1e-15);
	double P = b.params_local;
	assert_close(b.term[MEM_WEIGHTS].bytes + b.term[MEM_GRADS].bytes + b.term[MEM_OPTIMIZER].bytes, 16 * P, 1e-15);
	sc.strategy.zero_stage = 3;
	assert_int_equal(memory_rank(&sc, 0, &b), PS_OK);
	assert_close(b.term[MEM_WEIGHTS].bytes + b.term[MEM_GRADS].bytes + b.term[MEM_OPTIMIZER].bytes, 2 * P, 1e-15);
	assert_true(b.term[MEM_ZERO3_GATHER].bytes > 0);
	/* a small model fits */
	fx_gpt(&m, "gpt2-124m", 12, 768, 12, 1024, 50257);
	fx_scenario(&sc, &m, 1, 8, 8, 1, 1, 1, 8);
	assert_int_equal(memory_rank(&sc, 0, &b), PS_OK);
	assert_false(b.oom);
	assert_true(b.excess_bytes == 0);
	assert_close(b.params_local, 124439808.0, 0);
	/* bad input is an error, not a crash */
	sc.strategy.global_batch = 7;
	assert_int_equal(memory_rank(&sc, 0, &b), PS_ERR_INVALID);
	sc.strategy.global_batch = 8;
	assert_int_equal(memory_rank(&sc, 1, &b), PS_ERR_INVALID);
	assert_string_equal(memory_term_key(MEM_WEIGHTS), "weights_bytes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zero_bytes_per_param), cmocka_unit_test(test_korthikanti_gpt),
		cmocka_unit_test(test_act_variants),         cmocka_unit_test(test_rank_pipeline),
		cmocka_unit_test(test_rank_states_and_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
