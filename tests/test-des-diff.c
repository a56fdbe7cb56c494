/* test-des-diff.c — the discrete-event simulator against a frozen copy of
 * itself (tests/des-ref.c: the engine as it was before the speed-up work),
 * bit for bit.
 *
 * The optimised engine (sim/des.c) may take any short cut, but every
 * result must stay exactly what the reference gives: the return status and
 * error message, the step time, every per-rank statistic (compared as bit
 * patterns), the event count, and with a trace the start and end of every
 * task and every other trace field.  Each graph runs through the new engine
 * with and without a trace (short cuts may differ between the two) and
 * through the reference with a trace.
 *
 * Graphs:
 *  - random ones (test_random_*): several ranks with Megatron coordinates,
 *    tasks on all four streams; kernels of whole microseconds (many ties)
 *    or priced by the datasheet cost model over a few shapes; memory
 *    events; collectives alone, matched explicitly across ranks, and
 *    matched by inference (the k-th of a group kind); sends and recvs,
 *    matched and not; dependencies across streams and ranks, sometimes
 *    repeated or in shared ranges; stragglers; overlap slowdown; free,
 *    round-number and realistic networks, both network tiers; and a share of
 *    graphs made to deadlock or made invalid (bad rank, stream, dependency,
 *    match, size), where the error must be the same;
 *  - built step graphs (test_scenarios): the golden scenarios of
 *    tests/data/golden and variations of a small GPT over schedules, ZeRO
 *    stages, recompute, sequence and context parallelism, parallel blocks,
 *    overlap flags, stragglers, folded and unfolded, both tiers;
 *  - a scaled-down copy of the 1T benchmark layout (tp 8, pp 16, dp 8,
 *    vpp 2, 64 micro-batches), folded (test_big). */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "costmodel.h"
#include "des.h"
#include "event-queue.h"
#include "fixtures-sim.h"
#include "graph.h"
#include "net.h"
#include "testutil.h"

#define NONE UINT32_MAX

ps_status des_ref_run(const struct ps_graph *g, const struct ps_costmodel *cm, struct ps_net *net,
		      ps_net_tier tier, int want_trace, struct ps_des_result *res);
void des_ref_result_fini(struct ps_des_result *res);

/* ---------------------------------------------------------------- comparison */

static int same_bits(double a, double b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

static int compared_ok, compared_err;

/* Run g through both engines (new: with and without trace) and fail on
 * the first difference.  what names the case in messages. */
static void diff_run(const struct ps_graph *g, const struct ps_costmodel *cm, struct ps_net *net, ps_net_tier tier,
		     const char *what)
{
	struct ps_des_result ref, got;
	char refmsg[512];
	ps_status rrc = des_ref_run(g, cm, net, tier, 1, &ref);
	snprintf(refmsg, sizeof refmsg, "%s", rrc == PS_OK ? "" : ps_error_message());
	for (int trace = 1; trace >= 0; trace--) {
		ps_status grc = des_run(g, cm, net, tier, trace, &got);
		if (grc != rrc)
			fail_msg("%s (trace %d): status %d, reference %d (%s / %s)", what, trace, grc, rrc,
				 grc == PS_OK ? "" : ps_error_message(), refmsg);
		if (rrc != PS_OK) {
			if (strcmp(ps_error_message(), refmsg) != 0)
				fail_msg("%s (trace %d): error \"%s\", reference \"%s\"", what, trace,
					 ps_error_message(), refmsg);
			continue;
		}
		if (!same_bits(got.step_time_s, ref.step_time_s))
			fail_msg("%s (trace %d): step %.17g s, reference %.17g s", what, trace, got.step_time_s,
				 ref.step_time_s);
		if (got.events != ref.events)
			fail_msg("%s (trace %d): %llu events, reference %llu", what, trace,
				 (unsigned long long)got.events, (unsigned long long)ref.events);
		assert_int_equal(got.nranks, ref.nranks);
		for (int r = 0; r < ref.nranks; r++) {
			const struct ps_des_rank_stats *a = &got.ranks[r], *b = &ref.ranks[r];
			int ok = same_bits(a->busy_compute_s, b->busy_compute_s) &&
				 same_bits(a->recompute_s, b->recompute_s) &&
				 same_bits(a->optimizer_s, b->optimizer_s) && same_bits(a->idle_s, b->idle_s) &&
				 same_bits(a->end_s, b->end_s);
			for (int k = 0; k < COMM_KIND_COUNT_; k++)
				ok = ok && same_bits(a->comm_s[k], b->comm_s[k]) &&
				     same_bits(a->exposed_comm_s[k], b->exposed_comm_s[k]);
			if (!ok)
				fail_msg("%s (trace %d): rank %d statistics differ (busy %.17g / %.17g, idle "
					 "%.17g / %.17g, end %.17g / %.17g)",
					 what, trace, r, a->busy_compute_s, b->busy_compute_s, a->idle_s, b->idle_s,
					 a->end_s, b->end_s);
		}
		if (!trace) {
			assert_null(got.trace);
			assert_true(got.ntrace == 0);
		} else {
			assert_true(got.ntrace == ref.ntrace);
			for (size_t i = 0; i < ref.ntrace; i++) {
				const struct ps_trace_event *a = &got.trace[i], *b = &ref.trace[i];
				if (!same_bits(a->start_s, b->start_s) || !same_bits(a->end_s, b->end_s))
					fail_msg("%s: task %zu [%.17g, %.17g] s, reference [%.17g, %.17g] s", what,
						 i, a->start_s, a->end_s, b->start_s, b->end_s);
				if (a->task_id != b->task_id || a->rank != b->rank || a->stream != b->stream ||
				    a->kind != b->kind || a->phase != b->phase || a->layer != b->layer ||
				    a->microbatch != b->microbatch || !same_bits(a->flops, b->flops) ||
				    !same_bits(a->bytes, b->bytes) || strcmp(a->name, b->name) != 0)
					fail_msg("%s: trace event %zu differs", what, i);
			}
		}
		des_result_fini(&got);
	}
	if (rrc == PS_OK) {
		des_ref_result_fini(&ref);
		compared_ok++;
	} else {
		compared_err++;
	}
}

/* ---------------------------------------------------------------- random graphs */

static uint32_t rnd(uint64_t *x, uint32_t n)
{
	*x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*x >> 33) % n;
}

struct rg {
	struct ps_scenario sc;
	struct ps_graph *g;
	struct ps_net *net;
	struct ps_costmodel *cm;
	int world;
	uint32_t recent[16]; /* last few task ids, dependency candidates */
	int nrecent;
};

static const struct ps_shape rg_shapes[] = {
	{.M = 256, .N = 512, .K = 512},
	{.M = 1024, .N = 4096, .K = 1024, .variant = 1},
	{.M = 4096, .N = 1024, .K = 4096},
	{.B = 1, .T = 512, .NH = 8, .KVH = 8, .HS = 64, .M = 512, .C = 512},
	{.M = 2048, .C = 1024, .n = 2097152},
};
static const ps_op rg_ops[] = {OP_MATMUL_FWD, OP_MATMUL_BWD, OP_ATTN_FWD, OP_NORM_FWD, OP_GELU_FWD, OP_ADAMW};

static void rg_deps(struct rg *f, uint64_t *x, uint32_t *deps, uint32_t *nd)
{
	*nd = 0;
	if (!f->nrecent)
		return;
	uint32_t want = rnd(x, 4);
	if (want == 3)
		want = rnd(x, 3); /* mostly 0..2 */
	for (uint32_t k = 0; k < want; k++)
		deps[(*nd)++] = f->recent[rnd(x, (uint32_t)f->nrecent)];
	if (*nd == 2 && rnd(x, 8) == 0)
		deps[1] = deps[0]; /* listed twice */
}

static void rg_remember(struct rg *f, uint32_t id)
{
	if (f->nrecent < 16) {
		f->recent[f->nrecent++] = id;
	} else {
		memmove(f->recent, f->recent + 1, 15 * sizeof *f->recent);
		f->recent[15] = id;
	}
}

static struct ps_task rg_task(int rank, int stream, int kind, uint64_t *x)
{
	struct ps_task t;
	memset(&t, 0, sizeof t);
	t.rank = (uint32_t)rank;
	t.stream = (uint8_t)stream;
	t.kind = (uint8_t)kind;
	t.phase = (uint8_t)rnd(x, 4);
	t.comm = (uint8_t)rnd(x, COMM_KIND_COUNT_ + 1); /* one out of range: counted as none */
	t.layer = (int16_t)((int)rnd(x, 5) - 1);
	t.microbatch = (int16_t)((int)rnd(x, 4) - 1);
	t.chunk = -1;
	t.match = NONE;
	return t;
}

/* Bytes of a transfer: round numbers (exact microseconds on the 1 GB/s
 * network), sometimes zero or odd. */
static double rg_bytes(uint64_t *x)
{
	switch (rnd(x, 6)) {
	case 0:
		return 0;
	case 1:
		return 12345.0 + rnd(x, 100000);
	default:
		return 1e3 * (1 + rnd(x, 8));
	}
}

/* A random graph; kind selects the setting:
 *  bit 0: cost model (else flops / 1e12); bit 1..2: network none / round / realistic;
 *  bit 3: no scenario (g->sc NULL). */
static void rg_build(struct rg *f, uint64_t seed, int setting)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 12345;
	memset(f, 0, sizeof *f);
	int tp = 1 + (int)rnd(&x, 3), dp = 1 + (int)rnd(&x, 2), pp = 1 + (int)rnd(&x, 3), cp = 1 + (int)rnd(&x, 2);
	if (tp == 3)
		tp = 4;
	if (tp * dp * pp * cp > 16)
		cp = 1;
	struct ps_model m;
	fx_gpt(&m, "diff", 4, 256, 4, 128, 1024);
	int dpn = 4;
	int world = tp * dp * pp * cp, nodes = (world + dpn - 1) / dpn;
	fx_scenario(&f->sc, &m, nodes, dpn, dp, tp, pp, 1, dp * 4);
	f->sc.strategy.cp = cp;
	f->sc.strategy.coll_algo = (ps_coll_algo)rnd(&x, 4);
	f->sc.cluster.device.overlap_slowdown = rnd(&x, 3) == 0 ? 0 : (rnd(&x, 2) ? 0.5 : 0.1);
	int netkind = (setting >> 1) & 3;
	if (netkind == 1) { /* round numbers: many equal times */
		for (int i = 0; i < f->sc.cluster.nlevels; i++) {
			f->sc.cluster.levels[i].bw_Bps = 1e9;
			f->sc.cluster.levels[i].lat_s = i ? 1e-6 : 0;
			f->sc.cluster.levels[i].eff = 1;
		}
	}
	if (netkind)
		assert_int_equal(net_alloc(&f->sc.cluster, &f->net), PS_OK);
	if (setting & 1)
		assert_int_equal(costmodel_datasheet_alloc(&f->sc.cluster.device, &f->cm), PS_OK);
	f->world = world;
	f->g = graph_alloc();
	assert_non_null(f->g);
	struct ps_graph *g = f->g;
	g->sc = (setting & 8) ? NULL : &f->sc;
	g->nranks = world;
	g->ranks = calloc((size_t)world, sizeof *g->ranks);
	assert_non_null(g->ranks);
	for (int r = 0; r < world; r++) {
		struct ps_rank_info *ri = &g->ranks[r];
		ri->tp_rank = r % tp;
		ri->cp_rank = r / tp % cp;
		ri->dp_rank = r / (tp * cp) % dp;
		ri->pp_stage = r / (tp * cp * dp);
		ri->multiplicity = 1;
		ri->slowdown = rnd(&x, 4) ? 1 : (rnd(&x, 2) ? 1.5 : 1.25);
		ri->global_rank = r;
	}

	int n = 20 + (int)rnd(&x, 200);
	for (int i = 0; i < n; i++) {
		uint32_t deps[4], nd;
		rg_deps(f, &x, deps, &nd);
		int rank = (int)rnd(&x, (uint32_t)world), stream = (int)rnd(&x, STREAM_COUNT_);
		uint32_t what = rnd(&x, 20), id = NONE;
		if (what < 10) { /* kernel */
			struct ps_task t = rg_task(rank, stream, TASK_KERNEL, &x);
			uint32_t us = rnd(&x, 6) ? 1 + rnd(&x, 5) : 0;
			t.flops = rnd(&x, 8) ? us * 1e6 : us * 1e6 + 333.0;
			t.u.kernel.op = rg_ops[rnd(&x, sizeof rg_ops / sizeof *rg_ops)];
			const struct ps_shape *sh = &rg_shapes[rnd(&x, sizeof rg_shapes / sizeof *rg_shapes)];
			t.u.kernel.dtype = (uint8_t)(rnd(&x, 4) ? DTYPE_BF16 : DTYPE_FP32);
			t.u.kernel.call = graph_kcall(g, t.u.kernel.op, sh, t.u.kernel.dtype);
			id = graph_add(g, &t, deps, nd);
		} else if (what < 11) { /* memory event */
			struct ps_task t = rg_task(rank, stream, TASK_MEM, &x);
			t.u.mem.delta_bytes = rnd(&x, 2) ? 1e6 : -1e6;
			id = graph_add(g, &t, deps, nd);
		} else if (what < 15) { /* collective: alone, or explicit across ranks */
			struct ps_task t = rg_task(rank, stream, TASK_COLL, &x);
			t.u.coll.op = (ps_coll_op)rnd(&x, 5);
			t.u.coll.group = (ps_group_kind)rnd(&x, GROUP_WORLD + 1);
			int gs[] = {tp, dp, pp, cp, dp * cp, world};
			t.u.coll.group_size = rnd(&x, 5) ? gs[t.u.coll.group] : 0;
			t.u.coll.bytes = rg_bytes(&x);
			t.u.coll.algo = (uint8_t)rnd(&x, 4);
			uint32_t lead = graph_add(g, &t, deps, nd);
			g->tasks[lead].match = lead;
			int others = world > 1 ? (int)rnd(&x, 3) : 0;
			for (int r2 = 0, added = 0; r2 < world && added < others; r2++) {
				int r3 = (rank + 1 + r2) % world;
				if (r3 == rank || rnd(&x, 2))
					continue;
				struct ps_task u = t;
				u.rank = (uint32_t)r3;
				u.stream = (uint8_t)rnd(&x, STREAM_COUNT_);
				u.match = lead;
				uint32_t d2[4], nd2;
				rg_deps(f, &x, d2, &nd2); /* earlier tasks only: before the leader */
				graph_add(g, &u, d2, nd2);
				added++;
			}
			id = lead;
		} else if (what < 16) { /* a round of inferred collectives: one per rank */
			struct ps_task t = rg_task(0, stream, TASK_COLL, &x);
			t.u.coll.op = (ps_coll_op)rnd(&x, 5);
			t.u.coll.group = (ps_group_kind)rnd(&x, GROUP_WORLD + 1);
			t.u.coll.group_size = 0;
			t.u.coll.bytes = rg_bytes(&x);
			t.u.coll.algo = 0;
			for (int r = 0; r < world; r++) {
				struct ps_task u = t;
				u.rank = (uint32_t)r;
				u.stream = (uint8_t)rnd(&x, STREAM_COUNT_);
				id = graph_add(g, &u, r == 0 ? deps : NULL, r == 0 ? nd : 0);
			}
		} else { /* send/recv */
			int peer = (int)rnd(&x, (uint32_t)world);
			int send = (int)rnd(&x, 2);
			struct ps_task t = rg_task(rank, stream, send ? TASK_SEND : TASK_RECV, &x);
			t.u.p2p.peer = peer;
			t.u.p2p.bytes = rg_bytes(&x);
			if (peer != rank && rnd(&x, 3)) { /* matched pair, added together */
				uint32_t a = graph_add(g, &t, deps, nd);
				struct ps_task u = rg_task(peer, (int)rnd(&x, STREAM_COUNT_), send ? TASK_RECV : TASK_SEND,
							   &x);
				u.u.p2p.peer = rank;
				u.u.p2p.bytes = t.u.p2p.bytes;
				u.match = a;
				uint32_t b = graph_add(g, &u, NULL, 0);
				g->tasks[a].match = b;
				id = b;
			} else {
				id = graph_add(g, &t, deps, nd);
			}
		}
		assert_true(id != NONE);
		rg_remember(f, id);
	}
}

static void rg_fini(struct rg *f)
{
	graph_free(f->g);
	net_free(f->net);
	costmodel_free(f->cm);
}

/* Damage one thing (or nothing) in a random graph: kind 0 leaves it, 1 a
 * forward dependency (may deadlock), 2 a dependency range shared by two
 * tasks (valid), 3..8 invalid input of some sort. */
static void rg_mutate(struct rg *f, uint64_t seed, int kind)
{
	struct ps_graph *g = f->g;
	uint64_t x = seed ^ 0xD1B54A32D192ED03ULL;
	uint32_t n = g->ntasks, i = rnd(&x, n);
	struct ps_task *t = &g->tasks[i];
	switch (kind) {
	case 1:
		if (g->ndeps)
			g->deps[rnd(&x, g->ndeps)] = rnd(&x, n);
		break;
	case 2: {
		uint32_t j = rnd(&x, n);
		g->tasks[j].dep_first = t->dep_first;
		g->tasks[j].ndeps = t->ndeps;
		break;
	}
	case 3:
		t->rank = (uint32_t)g->nranks;
		break;
	case 4:
		t->stream = STREAM_COUNT_;
		break;
	case 5:
		if (g->ndeps)
			g->deps[rnd(&x, g->ndeps)] = n + 3;
		break;
	case 6:
		for (uint32_t k = 0; k < n; k++)
			if (g->tasks[(i + k) % n].kind == TASK_SEND || g->tasks[(i + k) % n].kind == TASK_RECV) {
				g->tasks[(i + k) % n].match = (i + k) % n;
				break;
			}
		break;
	case 7:
		for (uint32_t k = 0; k < n; k++)
			if (g->tasks[(i + k) % n].kind == TASK_COLL) {
				g->tasks[(i + k) % n].u.coll.bytes = NAN;
				break;
			}
		break;
	case 8:
		for (uint32_t k = 0; k < n; k++) {
			struct ps_task *u = &g->tasks[(i + k) % n];
			if (u->kind == TASK_COLL && u->match != NONE && u->match != (i + k) % n) {
				u->u.coll.bytes += 1; /* differs from its leader */
				break;
			}
		}
		break;
	default:
		break;
	}
}

static void random_batch(int setting, int nseeds)
{
	static const char *names[] = {"free", "round", "real"};
	compared_ok = compared_err = 0;
	for (int s = 1; s <= nseeds; s++) {
		struct rg f;
		uint64_t seed = (uint64_t)s * 7919 + (uint64_t)setting * 104729;
		rg_build(&f, seed, setting);
		int mut = s % 4 == 0 ? 1 + (s / 4) % 8 : 0;
		rg_mutate(&f, seed, mut);
		char what[128];
		for (int tier = 0; tier <= (f.net ? 1 : 0); tier++) {
			snprintf(what, sizeof what, "random graph %d, setting %d (%s network, %s), mutation %d, tier %d",
				 s, setting, names[(setting >> 1) & 3], setting & 1 ? "cost model" : "flops", mut,
				 tier);
			diff_run(f.g, f.cm, f.net, tier ? NET_FLOW : NET_ANALYTIC, what);
		}
		rg_fini(&f);
	}
	/* the generator must make mostly runnable graphs, and some that are not */
	if (getenv("DIFF_VERBOSE"))
		print_message("setting %d: %d ran, %d failed alike\n", setting, compared_ok, compared_err);
	if (compared_ok < nseeds / 2 || compared_err == 0)
		fail_msg("setting %d: %d graphs ran, %d failed alike", setting, compared_ok, compared_err);
}

static void test_random_free(void **state)
{
	(void)state;
	random_batch(0, 400); /* flops, no network: communication takes no time */
	random_batch(8, 200); /* and no scenario */
}

static void test_random_round(void **state)
{
	(void)state;
	random_batch(2, 400);
	random_batch(3, 200);
	random_batch(10, 100);
}

static void test_random_real(void **state)
{
	(void)state;
	random_batch(4, 300);
	random_batch(5, 300);
}

/* ---------------------------------------------------------------- event queues */

/* The tournament tree the engine uses pops in exactly the order of the
 * keyed binary heap the reference uses: random ids, times that never go
 * back with many ties, a popped id often queued again at once (as a stream
 * going on with its next task), sizes from 1 to 300 ids. */
static void test_event_tree(void **state)
{
	(void)state;
	uint64_t x = 42;
	for (int round = 0; round < 200; round++) {
		uint32_t n = 1 + rnd(&x, round < 20 ? 4 : 300);
		struct ps_event_heap h;
		struct ps_event_tree t;
		assert_int_equal(event_heap_init(&h, n), PS_OK);
		assert_int_equal(event_tree_init(&t, n), PS_OK);
		uint8_t *queued = calloc(n, 1);
		int64_t now = 0;
		for (uint32_t i = 0; i < n; i++)
			if (rnd(&x, 2)) {
				int64_t tm = rnd(&x, 3);
				event_heap_push(&h, i, tm);
				event_tree_push(&t, i, tm);
				queued[i] = 1;
			}
		for (int step = 0; step < 3000; step++) {
			assert_int_equal(event_tree_size(&t), event_heap_size(&h));
			if (event_heap_size(&h)) {
				uint32_t a = event_heap_top(&h);
				int64_t ta = event_heap_top_time(&h), tb;
				event_heap_pop(&h);
				uint32_t b = event_tree_pop(&t, &tb);
				if (a != b || ta != tb)
					fail_msg("round %d step %d: heap %u at %lld, tree %u at %lld", round, step, a,
						 (long long)ta, b, (long long)tb);
				queued[a] = 0;
				now = ta;
				if (rnd(&x, 3)) { /* the same id goes on */
					int64_t tm = now + (rnd(&x, 3) ? rnd(&x, 4) : rnd(&x, 1000000));
					event_heap_push(&h, a, tm);
					event_tree_push(&t, a, tm);
					queued[a] = 1;
				}
			}
			for (int k = (int)rnd(&x, 3); k > 0; k--) { /* others */
				uint32_t i = rnd(&x, n);
				if (queued[i])
					continue;
				int64_t tm = now + (rnd(&x, 2) ? 0 : rnd(&x, 50));
				event_heap_push(&h, i, tm);
				event_tree_push(&t, i, tm);
				queued[i] = 1;
			}
		}
		free(queued);
		event_heap_fini(&h);
		event_tree_fini(&t);
	}
}

/* ---------------------------------------------------------------- built graphs */

static void scenario_diff(const struct ps_scenario *sc, const char *what)
{
	struct ps_costmodel *cm = NULL;
	struct ps_net *net = NULL;
	assert_int_equal(costmodel_datasheet_alloc(&sc->cluster.device, &cm), PS_OK);
	assert_int_equal(net_alloc(&sc->cluster, &net), PS_OK);
	for (int fold = 1; fold >= 0; fold--) {
		struct ps_graph *g = NULL;
		if (graph_build(sc, fold, &g) != PS_OK)
			fail_msg("%s: graph_build: %s", what, ps_error_message());
		char w[256];
		for (int tier = 0; tier <= 1; tier++) {
			snprintf(w, sizeof w, "%s, %s, tier %d", what, fold ? "folded" : "unfolded", tier);
			diff_run(g, cm, net, tier ? NET_FLOW : NET_ANALYTIC, w);
			snprintf(w, sizeof w, "%s, %s, tier %d, no cost model", what, fold ? "folded" : "unfolded", tier);
			diff_run(g, NULL, net, tier ? NET_FLOW : NET_ANALYTIC, w);
		}
		snprintf(w, sizeof w, "%s, %s, no network", what, fold ? "folded" : "unfolded");
		diff_run(g, cm, NULL, NET_FLOW, w);
		int folded = g->folded;
		graph_free(g);
		if (!folded)
			break; /* nothing folded: the unfolded graph is the same */
	}
	net_free(net);
	costmodel_free(cm);
}

static void test_goldens(void **state)
{
	(void)state;
	static const char *names[] = {"dp2", "gpipe-oom", "interleaved", "pp2-1f1b", "tp2", "zero3", "sweep"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char rel[64];
		snprintf(rel, sizeof rel, "golden/%s.yaml", names[i]);
		struct ps_scenario sc;
		if (scenario_load(test_data(rel), &sc) != PS_OK)
			fail_msg("%s: %s", rel, ps_error_message());
		scenario_diff(&sc, rel); /* a sweep file: its base scenario */
		scenario_fini(&sc);
	}
}

static void test_scenarios(void **state)
{
	(void)state;
	struct ps_model m;
	fx_gpt(&m, "diff-gpt", 8, 256, 4, 128, 1024);
	struct {
		int nodes, dpn, dp, tp, pp, vpp, cp, mb, gb, zero;
		ps_schedule sched;
		ps_recompute rec;
		int sp, pb, ogr, opg, otp, dopt, straggler;
	} v[] = {
	    {1, 8, 2, 2, 2, 1, 1, 1, 8, 0, SCHED_1F1B, RECOMPUTE_NONE, 0, 0, 1, 1, 0, 0, 0},
	    {1, 8, 2, 2, 2, 1, 1, 1, 8, 1, SCHED_GPIPE, RECOMPUTE_FULL, 1, 0, 0, 1, 0, 0, 0},
	    {2, 4, 2, 2, 2, 2, 1, 1, 8, 1, SCHED_INTERLEAVED, RECOMPUTE_SELECTIVE, 1, 0, 1, 1, 1, 1, 0},
	    {2, 4, 4, 2, 1, 1, 1, 2, 16, 2, SCHED_1F1B, RECOMPUTE_NONE, 1, 1, 1, 0, 0, 0, 0},
	    {2, 4, 2, 1, 4, 1, 1, 1, 16, 3, SCHED_1F1B, RECOMPUTE_SELECTIVE, 0, 0, 1, 1, 0, 0, 0},
	    {2, 4, 1, 2, 2, 1, 2, 1, 4, 0, SCHED_1F1B, RECOMPUTE_NONE, 1, 0, 1, 1, 0, 0, 0},
	    {2, 8, 2, 2, 4, 2, 1, 1, 16, 1, SCHED_INTERLEAVED, RECOMPUTE_SELECTIVE, 1, 0, 1, 1, 0, 1, 1},
	    {1, 8, 8, 1, 1, 1, 1, 1, 16, 1, SCHED_1F1B, RECOMPUTE_NONE, 0, 0, 1, 1, 0, 0, 1},
	};
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		struct ps_scenario sc;
		fx_scenario(&sc, &m, v[i].nodes, v[i].dpn, v[i].dp, v[i].tp, v[i].pp, v[i].mb, v[i].gb);
		struct ps_strategy *st = &sc.strategy;
		st->vpp = v[i].vpp;
		st->cp = v[i].cp;
		st->zero_stage = v[i].zero;
		st->schedule = v[i].sched;
		st->recompute = v[i].rec;
		st->sequence_parallel = v[i].sp;
		st->parallel_block = v[i].pb;
		st->overlap_grad_reduce = v[i].ogr;
		st->overlap_param_gather = v[i].opg;
		st->overlap_tp_comm = v[i].otp;
		st->distributed_optimizer = v[i].dopt;
		st->flash_attention = true;
		if (v[i].dopt)
			st->grad_dtype = DTYPE_FP32;
		if (v[i].straggler) {
			sc.cluster.nperturb = 1;
			sc.cluster.perturb[0].rank = 1;
			sc.cluster.perturb[0].slowdown = 1.3;
		}
		char what[64];
		snprintf(what, sizeof what, "variation %zu", i);
		scenario_diff(&sc, what);
	}
}

static void test_big(void **state)
{
	(void)state;
	static const char *yaml =
	    "name: diff-big\n"
	    "model: { name: gpt-big, layers: 32, hidden: 6144, heads: 48, kv_heads: 48, head_dim: 128,\n"
	    "         ffn_hidden: 24576, ffn: gelu, vocab: 51200, seq_len: 2048, norm: layernorm,\n"
	    "         position: learned, tied_embeddings: true, bias: true, parallel_block: false }\n"
	    "cluster: { include: dgx-h100, nodes: 128 }\n"
	    "strategy: { dp: 8, tp: 8, pp: 16, vpp: 2, cp: 1, micro_batch: 1, global_batch: 512,\n"
	    "            schedule: interleaved, sequence_parallel: true, recompute: selective,\n"
	    "            zero_stage: 1, distributed_optimizer: true, dtype: bf16, grad_dtype: fp32 }\n";
	struct ps_scenario sc;
	if (scenario_load_string(yaml, strlen(yaml), "diff-big", &sc) != PS_OK)
		fail_msg("%s", ps_error_message());
	struct ps_costmodel *cm = NULL;
	struct ps_net *net = NULL;
	assert_int_equal(costmodel_datasheet_alloc(&sc.cluster.device, &cm), PS_OK);
	assert_int_equal(net_alloc(&sc.cluster, &net), PS_OK);
	struct ps_graph *g = NULL;
	assert_int_equal(graph_build(&sc, 1, &g), PS_OK);
	diff_run(g, cm, net, NET_FLOW, "1T layout, scaled down, flow");
	diff_run(g, cm, net, NET_ANALYTIC, "1T layout, scaled down, analytic");
	graph_free(g);
	net_free(net);
	costmodel_free(cm);
	scenario_fini(&sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_free), cmocka_unit_test(test_random_round),
	    cmocka_unit_test(test_random_real), cmocka_unit_test(test_goldens),
	    cmocka_unit_test(test_scenarios),   cmocka_unit_test(test_big),
	    cmocka_unit_test(test_event_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
