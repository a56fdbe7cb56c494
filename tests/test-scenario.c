/* test-scenario.c — the scenario loader: values of good files, includes and
 * overrides, defaults, canonical round trip, sweeps, consistency rules.
 * Presets come from the fixtures in tests/data/presets (PARASIM_DATADIR). */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scenario.h"
#include "testutil.h"

/* Failure details as TAP comments (cmocka's own text goes to stderr, which
 * the TAP log does not keep). */
static void diag_lines(const char *m)
{
	while (*m) {
		size_t n = strcspn(m, "\n");
		printf("# %.*s\n", (int)n, m);
		m += n + (m[n] == '\n');
	}
	fflush(stdout);
}
#define FAILF(...)                                                                                             \
	do {                                                                                                   \
		char m_[8192];                                                                                 \
		snprintf(m_, sizeof m_, __VA_ARGS__);                                                          \
		diag_lines(m_);                                                                                \
		fail();                                                                                        \
	} while (0)

static void load_ok(const char *rel, struct ps_scenario *sc)
{
	if (scenario_load(test_data(rel), sc) != PS_OK)
		FAILF("%s: %s", rel, ps_error_message());
}

static void load_str_ok(const char *text, struct ps_scenario *sc)
{
	if (scenario_load_string(text, strlen(text), "t.yaml", sc) != PS_OK)
		FAILF("%s\n---\n%s", ps_error_message(), text);
}

/* Load text, expect failure with want as a substring of the message. */
static void load_str_err(const char *text, const char *want)
{
	struct ps_scenario sc;
	ps_status st = scenario_load_string(text, strlen(text), "t.yaml", &sc);
	if (st == PS_OK) {
		scenario_fini(&sc);
		FAILF("loaded, expected error \"%s\"\n---\n%s", want, text);
	}
	if (!strstr(ps_error_message(), want))
		FAILF("message \"%s\" lacks \"%s\"\n---\n%s", ps_error_message(), want, text);
	assert_null(sc.canonical);
	assert_int_equal(sc.sweep.naxes, 0);
}

static void test_basic_values(void **state)
{
	(void)state;
	struct ps_scenario sc;
	load_ok("good/basic.yaml", &sc);
	assert_string_equal(sc.name, "basic");
	assert_string_equal(sc.path, test_data("good/basic.yaml"));
	const struct ps_model *m = &sc.model;
	assert_string_equal(m->name, "tiny");
	assert_int_equal(m->layers, 4);
	assert_int_equal(m->hidden, 64);
	assert_int_equal(m->heads, 4);
	assert_int_equal(m->kv_heads, 4);    /* default = heads */
	assert_int_equal(m->head_dim, 16);   /* default = hidden / heads */
	assert_int_equal(m->ffn_hidden, 256); /* default 4h for gelu */
	assert_int_equal(m->ffn, FFN_GELU);
	assert_int_equal(m->norm, NORM_LAYERNORM);
	assert_int_equal(m->position, POS_LEARNED);
	assert_true(m->tied_embeddings && m->bias && !m->parallel_block);
	const struct ps_cluster *c = &sc.cluster;
	assert_string_equal(c->name, "test-dgx");
	assert_int_equal(c->devices_per_node, 8);
	assert_int_equal(c->nodes, 4);
	assert_int_equal(scenario_world_size(&sc), 32);
	const struct ps_device *d = &c->device;
	assert_string_equal(d->name, "test-gpu");
	assert_string_equal(d->kind, "gpu");
	assert_true(d->peak_flops[DTYPE_BF16] == 300e12);
	assert_true(d->peak_flops[DTYPE_FP32] == 20e12);
	assert_true(d->peak_flops[DTYPE_FP8] == 0);
	assert_true(d->mem_bytes == 80e9);
	assert_true(d->mem_bw_Bps == 2e12);
	assert_true(d->power_W == 400);
	assert_true(d->cost_per_s == 2.10 / 3600);
	assert_true(d->matmul_eff_max == 0.8);
	assert_true(d->matmul_half_flop == 5e9);
	assert_true(d->mem_half_bytes == 4e6);
	assert_true(d->kernel_launch_s == 4 / 1e6);
	assert_true(d->reserved_bytes == 2.0 * 1073741824);
	assert_int_equal(c->nlevels, 2);
	assert_string_equal(c->levels[0].name, "nvswitch");
	assert_int_equal(c->levels[0].scope, LEVEL_NODE);
	assert_true(c->levels[0].bw_Bps == 300e9);
	assert_true(c->levels[0].lat_s == 3 / 1e6);
	assert_true(c->levels[0].eff == 0.8);
	assert_int_equal(c->levels[1].scope, LEVEL_CLUSTER);
	assert_true(c->levels[1].bw_Bps == 25e9); /* 200Gb/s */
	assert_int_equal(c->levels[1].rails, 8);
	assert_int_equal(c->levels[1].leaf_nodes, 16);
	assert_true(c->levels[1].oversubscription == 1);
	assert_int_equal(c->nperturb, 0);
	assert_true(c->failure_rate_per_device_h == 0);
	const struct ps_strategy *s = &sc.strategy;
	assert_int_equal(s->dp, 8);
	assert_false(s->dp_auto);
	assert_int_equal(s->tp, 4);
	assert_int_equal(s->pp, 1);
	/* defaults */
	assert_int_equal(s->vpp, 1);
	assert_int_equal(s->cp, 1);
	assert_int_equal(s->micro_batch, 1);
	assert_int_equal(s->global_batch, 64);
	assert_int_equal(s->zero_stage, 0);
	assert_false(s->distributed_optimizer);
	assert_int_equal(s->recompute, RECOMPUTE_NONE);
	assert_false(s->sequence_parallel);
	assert_int_equal(s->schedule, SCHED_1F1B);
	assert_true(s->overlap_grad_reduce && s->overlap_param_gather && !s->overlap_tp_comm);
	assert_false(s->parallel_block);
	assert_int_equal(s->dtype, DTYPE_BF16);
	assert_int_equal(s->grad_dtype, DTYPE_BF16);
	assert_true(s->bucket_bytes == 40e6);
	assert_int_equal(s->coll_algo, ALGO_AUTO);
	assert_false(s->allow_tp_across_nodes);
	assert_true(sc.training.tokens == 0 && sc.training.deadline_s == 0);
	assert_int_equal(sc.sweep.naxes, 0);
	assert_non_null(sc.canonical);
	assert_int_equal(strlen(sc.sha256), 64);
	assert_int_equal(strspn(sc.sha256, "0123456789abcdef"), 64);
	/* every default explicit in the canonical text */
	assert_non_null(strstr(sc.canonical, "\n  kv_heads: 4\n"));
	assert_non_null(strstr(sc.canonical, "\n  schedule: 1f1b\n"));
	assert_non_null(strstr(sc.canonical, "\n  bucket_size: \"40MB\"\n"));
	assert_non_null(strstr(sc.canonical, "\n      bf16: \"300TFLOPS\"\n"));
	assert_non_null(strstr(sc.canonical, "\n    bandwidth: \"25GB/s\"\n"));
	assert_non_null(strstr(sc.canonical, "\n    price: \"$2.1/h\"\n"));
	assert_null(strstr(sc.canonical, "fp8"));       /* unsupported dtype omitted */
	assert_null(strstr(sc.canonical, "include"));   /* includes inlined */
	char msg[256];
	assert_int_equal(scenario_check_consistency(&sc, msg, sizeof msg), PS_OK);
	assert_string_equal(msg, "");
	/* the public check on a modified copy */
	struct ps_scenario bad = sc;
	bad.strategy.tp = 3;
	assert_int_equal(scenario_check_consistency(&bad, msg, sizeof msg), PS_ERR_INVALID);
	assert_non_null(strstr(msg, "strategy.dp: expected dp*tp*pp*cp to equal the 32 devices"));
	scenario_fini(&sc);
	assert_null(sc.canonical);
}

static void test_overrides(void **state)
{
	(void)state;
	struct ps_scenario sc;
	load_ok("good/overrides.yaml", &sc);
	assert_string_equal(sc.name, "overrides"); /* file stem */
	const struct ps_model *m = &sc.model;
	assert_string_equal(m->name, "tiny-llama");
	assert_int_equal(m->seq_len, 256);       /* override */
	assert_int_equal(m->layers, 8);          /* from the preset */
	assert_int_equal(m->kv_heads, 2);
	assert_int_equal(m->head_dim, 64);
	assert_int_equal(m->ffn, FFN_SWIGLU);
	/* Llama rule: 256 * ceil(floor(8 * 512 / 3) / 256) = 256 * ceil(1365 / 256) = 1536 */
	assert_int_equal(m->ffn_hidden, 1536);
	assert_int_equal(m->norm, NORM_RMSNORM);
	assert_int_equal(m->position, POS_ROPE);
	assert_false(m->tied_embeddings);
	assert_false(m->bias);
	const struct ps_cluster *c = &sc.cluster;
	assert_string_equal(c->name, "test-dgx");
	assert_int_equal(c->nodes, 2);
	assert_true(c->device.mem_bytes == 40e9);          /* deep override */
	assert_true(c->device.matmul_eff_max == 0.7);      /* deep override */
	assert_true(c->device.matmul_half_flop == 5e9);    /* kept from preset */
	assert_true(c->device.mem_bw_Bps == 2e12);         /* kept */
	assert_string_equal(c->device.name, "test-gpu");
	const struct ps_strategy *s = &sc.strategy;
	assert_true(s->dp_auto);
	assert_int_equal(s->dp, 16 / (2 * 2));
	assert_int_equal(s->zero_stage, 1);                /* default with distributed_optimizer */
	assert_int_equal(s->grad_dtype, DTYPE_FP32);       /* default with distributed_optimizer */
	assert_int_equal(s->recompute, RECOMPUTE_SELECTIVE);
	assert_true(s->sequence_parallel);
	assert_true(sc.training.tokens == 2e12);
	assert_true(sc.training.deadline_s == 720 * 3600.0);
	assert_non_null(strstr(sc.canonical, "\n  deadline: \"30d\"\n"));
	assert_non_null(strstr(sc.canonical, "\n  dp: 4\n")); /* resolved without a sweep */
	scenario_fini(&sc);
}

static void test_inline_and_quoting(void **state)
{
	(void)state;
	struct ps_scenario sc;
	load_ok("good/inline.yaml", &sc);
	assert_string_equal(sc.name, "inline: test # 1 \xc3\xa9");
	assert_string_equal(sc.cluster.device.kind, "fpga");
	assert_true(sc.cluster.device.peak_flops[DTYPE_FP8] == 100e12);
	assert_true(sc.cluster.device.peak_flops[DTYPE_BF16] == 0);
	assert_true(sc.cluster.device.mem_bw_Bps == 819.2e9);
	assert_true(sc.cluster.device.cost_per_s == 0.5 / 3600);
	assert_true(sc.cluster.device.matmul_eff_max == 0.7); /* default */
	assert_true(sc.cluster.levels[1].bw_Bps == 12.5e9);   /* 100Gbps */
	assert_int_equal(sc.cluster.levels[1].rails, 1);      /* default */
	assert_int_equal(sc.cluster.nperturb, 1);
	assert_int_equal(sc.cluster.perturb[0].rank, 3);
	assert_true(sc.cluster.perturb[0].slowdown == 1.25);
	assert_true(sc.cluster.failure_rate_per_device_h == 1e-5);
	assert_int_equal(sc.strategy.dtype, DTYPE_FP8);
	assert_int_equal(sc.strategy.grad_dtype, DTYPE_FP16);
	assert_true(sc.strategy.bucket_bytes == 25.0 * 1048576);
	assert_int_equal(sc.strategy.coll_algo, ALGO_RING);
	assert_true(sc.strategy.parallel_block); /* default from the model */
	assert_non_null(strstr(sc.canonical, "name: \"inline: test # 1 \\u00e9\"\n"));
	scenario_fini(&sc);
	/* names with YAML-special characters survive the round trip */
	static const char *names[] = {"a: b", "#x", "- y", "\\\"q\\\"", "[z]", "{w}", "&anchor", "*alias", "!tag",
				      "|", ">", "%d", "@", "`", "yes", "null", "~", "123", "1e3", " lead", "trail ",
				      "\\u2028", "\\u0085", "\\U0001F600", "'s'", "a,b", "\\t tab"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char text[512];
		snprintf(text, sizeof text,
			 "name: \"%s\"\nmodel: tiny\ncluster: test-dgx\nstrategy: {tp: 4, global_batch: 64}\n", names[i]);
		if (strcmp(names[i], "\\t tab") == 0) {
			load_str_err(text, "name: expected a name of 1 to 63 bytes without control characters");
			continue;
		}
		struct ps_scenario a, b;
		load_str_ok(text, &a);
		load_str_ok(a.canonical, &b);
		assert_string_equal(a.name, b.name);
		assert_string_equal(a.canonical, b.canonical);
		scenario_fini(&a);
		scenario_fini(&b);
	}
}

static const char *good_files[] = {"good/basic.yaml", "good/overrides.yaml", "good/inline.yaml",
				   "good/sweep.yaml", "good/interleaved.yaml", "good/local.yaml"};

static void test_canonical_roundtrip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof good_files / sizeof good_files[0]; i++) {
		struct ps_scenario a, b;
		load_ok(good_files[i], &a);
		char *again = NULL;
		assert_int_equal(scenario_canonical(&a, &again), PS_OK);
		assert_string_equal(again, a.canonical);
		free(again);
		if (scenario_load_string(a.canonical, strlen(a.canonical), good_files[i], &b) != PS_OK)
			FAILF("%s: canonical does not reload: %s\n%s", good_files[i], ps_error_message(), a.canonical);
		assert_string_equal(a.canonical, b.canonical);
		assert_string_equal(a.sha256, b.sha256);
		assert_int_equal(memcmp(&a.model, &b.model, sizeof a.model), 0);
		assert_int_equal(memcmp(&a.cluster, &b.cluster, sizeof a.cluster), 0);
		assert_int_equal(a.sweep.naxes, b.sweep.naxes);
		scenario_fini(&a);
		scenario_fini(&b);
	}
}

static void test_interleaved_default(void **state)
{
	(void)state;
	struct ps_scenario sc;
	load_ok("good/interleaved.yaml", &sc);
	assert_int_equal(sc.strategy.vpp, 2);
	assert_int_equal(sc.strategy.schedule, SCHED_INTERLEAVED);
	assert_int_equal(sc.strategy.dp, 2);
	scenario_fini(&sc);
	load_ok("good/local.yaml", &sc);
	assert_string_equal(sc.cluster.device.name, "test-cpu");
	assert_true(sc.cluster.device.reserved_bytes == 1073741824.0); /* default */
	assert_true(sc.cluster.device.kernel_launch_s == 5 / 1e6);     /* default */
	assert_true(sc.cluster.device.power_W == 0);
	assert_int_equal(sc.strategy.dtype, DTYPE_FP32);
	scenario_fini(&sc);
}

static void test_include_chain(void **state)
{
	(void)state;
	struct ps_scenario sc;
	load_str_ok("model: tiny-long\ncluster: test-dgx\nstrategy: {tp: 4, global_batch: 64}\n", &sc);
	assert_string_equal(sc.model.name, "tiny-long");
	assert_int_equal(sc.model.seq_len, 256);
	assert_int_equal(sc.model.layers, 4);
	assert_string_equal(sc.name, "t");
	scenario_fini(&sc);
	/* a mapping without name takes the preset's file stem */
	load_str_ok("model: { include: tiny-long, name: renamed }\ncluster: { include: test-local }\n"
		    "strategy: {dp: 4, global_batch: 8, dtype: fp32}\n",
		    &sc);
	assert_string_equal(sc.model.name, "renamed");
	assert_int_equal(sc.model.seq_len, 256);
	scenario_fini(&sc);
	load_str_err("model: cycle-a\ncluster: test-dgx\nstrategy: {tp: 4, global_batch: 64}\n",
		     "model.include: expected an include that does not include itself, got \"cycle-a\"");
	load_str_err("model: no-such-model\ncluster: test-dgx\nstrategy: {global_batch: 64}\n",
		     "t.yaml:1:8: model: expected a model preset name or a path to a YAML file, got \"no-such-model\" (no no-such-model.yaml in ");
	load_str_err("model: tiny\ncluster: { include: test-dgx, device: nope }\nstrategy: {global_batch: 64}\n",
		     "t.yaml:2:39: cluster.device: expected a device preset name or a path to a YAML file, got \"nope\"");
	/* an error inside a preset names the preset file and its line */
	load_str_err("model: broken\ncluster: test-dgx\nstrategy: {global_batch: 64}\n",
		     "models/broken.yaml:4:8: model.heads: expected a positive integer (at most 65536), got \"four\"");
	load_str_err("model: not-a-map\ncluster: test-dgx\nstrategy: {global_batch: 64}\n",
		     "models/not-a-map.yaml:1:1: model: expected a model mapping, got a list");
	/* depth: a chain of 10 path includes */
	char dir[] = "/tmp/ps-test-incXXXXXX";
	assert_non_null(mkdtemp(dir));
	for (int i = 0; i < 10; i++) {
		char p[256];
		snprintf(p, sizeof p, "%s/d%d.yaml", dir, i);
		FILE *f = fopen(p, "w");
		assert_non_null(f);
		if (i < 9)
			fprintf(f, "include: d%d.yaml\n", i + 1);
		else
			fprintf(f, "include: tiny\n");
		fclose(f);
	}
	char text[512];
	snprintf(text, sizeof text, "model: %s/d0.yaml\ncluster: test-dgx\nstrategy: {tp: 4, global_batch: 64}\n", dir);
	load_str_err(text, "d7.yaml:1:10: model.include: expected at most 8 nested includes, got \"d8.yaml\"");
	snprintf(text, sizeof text, "model: %s/d3.yaml\ncluster: test-dgx\nstrategy: {tp: 4, global_batch: 64}\n", dir);
	load_str_ok(text, &sc); /* 7 levels are fine */
	assert_string_equal(sc.model.name, "tiny"); /* tiny.yaml names itself */
	assert_int_equal(sc.model.layers, 4);
	scenario_fini(&sc);
	for (int i = 0; i < 10; i++) {
		char p[256];
		snprintf(p, sizeof p, "%s/d%d.yaml", dir, i);
		unlink(p);
	}
	rmdir(dir);
}

struct collect {
	int n, nskip;
	char combos[64][128];
	char skips[64][256];
	int tp[64], pp[64], nodes[64], dp[64];
};

static ps_status collect_cb(const struct ps_scenario *one, void *arg)
{
	struct collect *c = arg;
	assert_int_equal(one->sweep.naxes, 0);
	assert_non_null(one->canonical);
	assert_int_equal(strlen(one->sha256), 64);
	assert_null(strstr(one->canonical, "sweep:"));
	if (c->n < 64) {
		c->tp[c->n] = one->strategy.tp;
		c->pp[c->n] = one->strategy.pp;
		c->nodes[c->n] = one->cluster.nodes;
		c->dp[c->n] = one->strategy.dp;
	}
	/* every expanded scenario reloads to itself */
	struct ps_scenario re;
	if (scenario_load_string(one->canonical, strlen(one->canonical), "combo.yaml", &re) != PS_OK)
		FAILF("combo does not reload: %s", ps_error_message());
	assert_string_equal(re.canonical, one->canonical);
	assert_string_equal(re.sha256, one->sha256);
	scenario_fini(&re);
	c->n++;
	return PS_OK;
}

static void collect_skip(const char *combo, const char *reason, void *arg)
{
	struct collect *c = arg;
	if (c->nskip < 64) {
		snprintf(c->combos[c->nskip], sizeof c->combos[0], "%s", combo);
		snprintf(c->skips[c->nskip], sizeof c->skips[0], "%s", reason);
	}
	c->nskip++;
}

static void test_sweep(void **state)
{
	(void)state;
	struct ps_scenario sc;
	load_ok("good/sweep.yaml", &sc);
	assert_int_equal(sc.sweep.naxes, 3);
	/* fixed axis order: cluster.nodes, then strategy keys in schema order */
	assert_string_equal(sc.sweep.axes[0].key, "cluster.nodes");
	assert_string_equal(sc.sweep.axes[1].key, "strategy.tp");
	assert_string_equal(sc.sweep.axes[2].key, "strategy.pp");
	assert_int_equal(sc.sweep.axes[1].nvalues, 4);
	assert_string_equal(sc.sweep.axes[1].values[3], "8");
	assert_int_equal(sc.sweep.axes[1].line, 10);
	assert_non_null(strstr(sc.canonical, "\nsweep:\n  cluster.nodes: [1, 2]\n  strategy.tp: [1, 2, 4, 8]\n"
					     "  strategy.pp: [1, 2, 3]\n"));
	assert_non_null(strstr(sc.canonical, "\n  dp: auto\n"));
	struct collect c;
	memset(&c, 0, sizeof c);
	assert_int_equal(scenario_expand(&sc, collect_cb, collect_skip, &c), PS_OK);
	/* 2 nodes x 4 tp x 3 pp = 24; tp 8 fails heads=4, pp 3 divides neither
	 * 8 nor 16 devices: valid = 2 * 3 * 2 = 12 */
	assert_int_equal(c.n, 12);
	assert_int_equal(c.nskip, 12);
	/* order: nodes slowest, pp fastest; dp derived per combination */
	assert_int_equal(c.nodes[0], 1);
	assert_int_equal(c.tp[0], 1);
	assert_int_equal(c.pp[0], 1);
	assert_int_equal(c.dp[0], 8);
	assert_int_equal(c.pp[1], 2);
	assert_int_equal(c.dp[1], 4);
	assert_int_equal(c.tp[2], 2);
	assert_int_equal(c.nodes[11], 2);
	assert_int_equal(c.tp[11], 4);
	assert_int_equal(c.pp[11], 2);
	assert_int_equal(c.dp[11], 2);
	assert_string_equal(c.combos[0], "cluster.nodes=1 tp=1 pp=3");
	assert_non_null(strstr(c.skips[0], "strategy.pp: expected tp*pp*cp (1*3*1) to divide the 8 devices"));
	assert_string_equal(c.combos[3], "cluster.nodes=1 tp=8 pp=1");
	assert_non_null(strstr(c.skips[3], "strategy.tp: expected a divisor of model.heads (4), got \"8\""));
	/* stopping early returns the callback's status */
	scenario_fini(&sc);

	/* a sweep whose every combination is inconsistent is an error at sweep: */
	load_str_err("model: tiny\ncluster: test-dgx\nstrategy: {global_batch: 64}\nsweep:\n  tp: [3, 5]\n",
		     "t.yaml:5:3: sweep: expected at least one consistent combination, got none of 2 (first: tp=3: "
		     "strategy.tp: expected tp*pp*cp (3*1*1) to divide the 32 devices");
	/* values are normalised; units, bools and enums can be swept */
	load_str_ok("model: tiny\ncluster: test-dgx\nstrategy: {tp: 4, global_batch: 64}\n"
		    "sweep: { bucket_size: [\"25MiB\", 40000000B], overlap_grad_reduce: [true, false], "
		    "recompute: [none, full], dp: [auto, 8] }\n",
		    &sc);
	assert_int_equal(sc.sweep.naxes, 4);
	assert_string_equal(sc.sweep.axes[0].key, "strategy.dp");
	assert_string_equal(sc.sweep.axes[3].key, "strategy.bucket_size");
	assert_string_equal(sc.sweep.axes[3].values[1], "40MB");
	assert_non_null(strstr(sc.canonical, "  strategy.bucket_size: [\"25MiB\", \"40MB\"]\n"));
	memset(&c, 0, sizeof c);
	assert_int_equal(scenario_expand(&sc, collect_cb, NULL, &c), PS_OK);
	assert_int_equal(c.n, 16);
	struct ps_scenario re;
	load_str_ok(sc.canonical, &re);
	assert_string_equal(re.canonical, sc.canonical);
	scenario_fini(&re);
	scenario_fini(&sc);
}

static ps_status stop_cb(const struct ps_scenario *one, void *arg)
{
	(void)one;
	int *n = arg;
	return ++*n == 2 ? PS_ERR_INVALID : PS_OK;
}

static ps_status once_cb(const struct ps_scenario *one, void *arg)
{
	*(const struct ps_scenario **)arg = one;
	return PS_OK;
}

static void test_expand_misc(void **state)
{
	(void)state;
	struct ps_scenario sc;
	load_ok("good/sweep.yaml", &sc);
	int n = 0;
	assert_int_equal(scenario_expand(&sc, stop_cb, NULL, &n), PS_ERR_INVALID);
	assert_int_equal(n, 2);
	scenario_fini(&sc);
	/* no sweep: the callback sees the scenario itself once */
	load_ok("good/basic.yaml", &sc);
	const struct ps_scenario *seen = NULL;
	assert_int_equal(scenario_expand(&sc, once_cb, NULL, &seen), PS_OK);
	assert_ptr_equal(seen, &sc);
	scenario_fini(&sc);
}

/* One consistency rule per case: the key blamed and its position. */
static void test_consistency_rules(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"model: tiny\ncluster: test-dgx\nstrategy:\n  dp: 4\n  tp: 4\n  global_batch: 64\n",
		 "t.yaml:4:7: strategy.dp: expected dp*tp*pp*cp to equal the 32 devices (nodes 4 * devices_per_node 8), "
		 "got 4*4*1*1 = 16"},
		{"model: tiny\ncluster: test-dgx\nstrategy:\n  tp: 3\n  global_batch: 64\n",
		 "t.yaml:4:7: strategy.tp: expected tp*pp*cp (3*1*1) to divide the 32 devices (dp: auto), got a remainder of 2"},
		{"model: tiny\ncluster: test-dgx\nstrategy:\n  global_batch: 64\n  tp: 8\n",
		 "t.yaml:5:7: strategy.tp: expected a divisor of model.heads (4), got \"8\""},
		{"model: tiny-llama\ncluster: test-dgx\nstrategy: {tp: 4, global_batch: 64}\n",
		 "t.yaml:3:16: strategy.tp: expected a divisor of model.kv_heads (2)"},
		{"model: {include: tiny-llama, kv_heads: 3}\ncluster: test-dgx\nstrategy: {global_batch: 64}\n",
		 "t.yaml:1:40: model.kv_heads: expected a divisor of heads (8), got \"3\""},
		{"model: {include: tiny, heads: 3}\ncluster: test-dgx\nstrategy: {global_batch: 64}\n",
		 "t.yaml:1:31: model.heads: expected a divisor of hidden (64) when head_dim is not given, got \"3\""},
		{"model: {include: tiny, ffn_hidden: 250}\ncluster: test-dgx\nstrategy: {tp: 4, global_batch: 64}\n",
		 "strategy.tp: expected a divisor of model.ffn_hidden (250)"},
		{"model: tiny\ncluster: {include: test-dgx, nodes: 3}\nstrategy: {dp: 8, pp: 3, global_batch: 64}\n",
		 "t.yaml:3:23: strategy.pp: expected a divisor of model.layers (4), got \"3\""},
		{"model: tiny\ncluster: test-dgx\nstrategy: {pp: 2, vpp: 4, global_batch: 64}\n",
		 "t.yaml:3:24: strategy.vpp: expected pp*vpp (2*4) to divide model.layers (4)"},
		{"model: tiny\ncluster: test-dgx\nstrategy: {dp: 8, tp: 4, global_batch: 60}\n",
		 "t.yaml:3:40: strategy.global_batch: expected a multiple of dp*micro_batch (8*1 = 8), got \"60\""},
		{"model: {include: tiny, layers: 8}\ncluster: {include: test-dgx, nodes: 1}\n"
		 "strategy: {pp: 2, vpp: 2, global_batch: 12}\n",
		 "strategy.global_batch: expected the number of micro-batches (global_batch/(dp*micro_batch) = 3) "
		 "to be a multiple of pp (2) with the interleaved schedule"},
		{"model: tiny\ncluster: test-dgx\nstrategy: {pp: 2, vpp: 2, schedule: 1f1b, global_batch: 64}\n",
		 "t.yaml:3:24: strategy.vpp: expected 1 unless schedule is interleaved (schedule is 1f1b), got \"2\""},
		{"model: tiny\ncluster: test-dgx\nstrategy: {pp: 2, schedule: interleaved, global_batch: 64}\n",
		 "t.yaml:3:29: strategy.schedule: expected gpipe or 1f1b when vpp is 1"},
		{"model: tiny\ncluster: test-dgx\nstrategy: {vpp: 2, global_batch: 64}\n",
		 "strategy.vpp: expected 1 when pp is 1 (interleaving needs pp > 1), got \"2\""},
		{"model: {include: tiny, heads: 16, hidden: 128}\ncluster: {include: test-dgx, nodes: 2}\n"
		 "strategy: {tp: 16, global_batch: 64}\n",
		 "t.yaml:3:16: strategy.tp: expected at most devices_per_node (8) unless allow_tp_across_nodes is true"},
		{"model: tiny\ncluster: test-dgx\nstrategy: {sequence_parallel: true, global_batch: 64}\n",
		 "t.yaml:3:31: strategy.sequence_parallel: expected false when tp is 1, got \"true\""},
		{"model: {include: tiny, seq_len: 6}\ncluster: test-dgx\n"
		 "strategy: {tp: 4, sequence_parallel: true, global_batch: 64}\n",
		 "strategy.tp: expected a divisor of model.seq_len (6) with sequence_parallel"},
		{"model: tiny\ncluster: {include: test-dgx, nodes: 3}\nstrategy: {dp: 8, cp: 3, global_batch: 64}\n",
		 "t.yaml:3:23: strategy.cp: expected 2*cp to divide model.seq_len (64), got \"3\""},
		{"model: tiny\ncluster: test-dgx\n"
		 "strategy: {distributed_optimizer: true, zero_stage: 2, global_batch: 64}\n",
		 "t.yaml:3:53: strategy.zero_stage: expected 1 with distributed_optimizer: true (it is ZeRO-1), got \"2\""},
		{"model: tiny\ncluster: test-dgx\nstrategy: {dtype: fp8, global_batch: 64}\n",
		 "t.yaml:3:19: strategy.dtype: expected a dtype with a peak on device test-gpu (fp32, tf32, bf16, fp16), "
		 "got \"fp8\""},
		{"model: tiny\ncluster:\n  include: test-dgx\n  stragglers:\n    - { rank: 31, slowdown: 1.5 }\n"
		 "    - { rank: 32, slowdown: 1.5 }\nstrategy: {global_batch: 64}\n",
		 "t.yaml:6:15: cluster.stragglers[1].rank: expected a rank below the world size (32), got \"32\""},
		{"model: tiny\ncluster:\n  include: test-dgx\n  network:\n    - { scope: node, bandwidth: 1GB/s, latency: 1us }\n"
		 "strategy: {global_batch: 64}\n",
		 "t.yaml:5:5: cluster.network: expected a level with scope: cluster when nodes (4) > 1, got none"},
		{"model: tiny\ncluster:\n  include: test-local\n  network:\n    - { scope: cluster, bandwidth: 1GB/s, latency: 1us }\n"
		 "strategy: {global_batch: 64, dtype: fp32}\n",
		 "cluster.network: expected a level with scope: node when devices_per_node (4) > 1, got none"},
		{"model: tiny\ncluster: {include: test-dgx, device: {memory: 1GiB}}\nstrategy: {global_batch: 64}\n",
		 "presets/hardware/test-gpu.yaml:18:20: cluster.device.efficiency.reserved_memory: expected less than the device memory (1GiB), got \"2GiB\""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		load_str_err(cases[i].text, cases[i].want);
	/* and the fixed versions load */
	struct ps_scenario sc;
	load_str_ok("model: {include: tiny, heads: 16, hidden: 128}\ncluster: {include: test-dgx, nodes: 2}\n"
		    "strategy: {tp: 16, global_batch: 64, allow_tp_across_nodes: true}\n",
		    &sc);
	assert_int_equal(sc.strategy.dp, 1);
	scenario_fini(&sc);
	load_str_ok("model: {include: tiny, heads: 3, head_dim: 20}\ncluster: test-dgx\nstrategy: {global_batch: 64}\n",
		    &sc);
	assert_int_equal(sc.model.head_dim, 20);
	assert_int_equal(sc.model.kv_heads, 3);
	scenario_fini(&sc);
	load_str_ok("model: {include: tiny, layers: 8}\ncluster: {include: test-dgx, nodes: 1}\n"
		    "strategy: {pp: 2, vpp: 2, global_batch: 16}\n",
		    &sc);
	scenario_fini(&sc);
}

static void test_misc_errors(void **state)
{
	(void)state;
	load_str_err("", "t.yaml:1:1: (top level): expected a mapping with model, cluster and strategy, got nothing");
	load_str_err("model: tiny\nmodel: tiny\n", "t.yaml:2:1: model: expected each key once (first at line 1, column 1), got \"model\" again");
	load_str_err("model: tiny\ncluster: test-dgx\nstrategy: {global_batch: 64}\n---\nname: x\n",
		     "t.yaml:4:1: (top level): expected a single YAML document, got a second one");
	load_str_err("model: &m tiny\ncluster: *m\n", "t.yaml:2:10: cluster: expected a value (anchors and aliases are not supported)");
	struct ps_scenario sc;
	assert_int_equal(scenario_load(test_data("good/does-not-exist.yaml"), &sc), PS_ERR_IO);
	assert_non_null(strstr(ps_error_message(), "does-not-exist.yaml: expected a readable scenario file"));
	assert_int_equal(scenario_load_string(NULL, 0, "x", &sc), PS_ERR_INVALID);
}

static void test_dtypes_datadir(void **state)
{
	(void)state;
	for (int i = 0; i < DTYPE_COUNT_; i++) {
		ps_dtype d;
		assert_int_equal(dtype_parse(dtype_name((ps_dtype)i), &d), PS_OK);
		assert_int_equal(d, i);
	}
	assert_int_equal(dtype_bytes(DTYPE_FP32), 4);
	assert_int_equal(dtype_bytes(DTYPE_TF32), 4);
	assert_int_equal(dtype_bytes(DTYPE_BF16), 2);
	assert_int_equal(dtype_bytes(DTYPE_FP16), 2);
	assert_int_equal(dtype_bytes(DTYPE_FP8), 1);
	ps_dtype d;
	assert_int_equal(dtype_parse("int8", &d), PS_ERR_PARSE);
	assert_string_equal(scenario_datadir(), getenv("PARASIM_DATADIR"));
}

int main(void)
{
	/* the fixtures, not the real presets */
	setenv("PARASIM_DATADIR", test_data("presets"), 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_values),	   cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_inline_and_quoting), cmocka_unit_test(test_canonical_roundtrip),
		cmocka_unit_test(test_interleaved_default), cmocka_unit_test(test_include_chain),
		cmocka_unit_test(test_sweep),		   cmocka_unit_test(test_expand_misc),
		cmocka_unit_test(test_consistency_rules),  cmocka_unit_test(test_misc_errors),
		cmocka_unit_test(test_dtypes_datadir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
