/* test-des.c — the discrete-event simulator on hand-built step graphs.
 *
 * Kernel durations come from task.flops (cost model NULL: flops / 1e12 s)
 * so every expected time is exact: chains sum, streams overlap, cross-rank
 * dependencies, send/recv rendezvous, a straggler holding a collective,
 * exposed-communication accounting, the 1F1B bubble (p-1)/(m+p-1),
 * determinism, deadlock and bad-input errors. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "costmodel.h"
#include "des.h"
#include "graph.h"
#include "net.h"

#define US 1e-6
#define NONE UINT32_MAX

/* ---------------------------------------------------------------- fixtures */

struct fx {
	struct ps_scenario sc;
	struct ps_graph *g;
	struct ps_net *net;
};

/* One node of dpn devices, 1 GB/s per port, no latency (so a 2-rank ring
 * all-reduce of n bytes takes n / 1e9 s), `tp` x `pp` ranks in the graph. */
static void fx_init(struct fx *f, int dpn, int tp, int dp, int pp, int nreps, double overlap)
{
	memset(f, 0, sizeof *f);
	struct ps_cluster *cl = &f->sc.cluster;
	strcpy(cl->name, "des-test");
	cl->devices_per_node = dpn;
	cl->nodes = 1;
	cl->nlevels = 1;
	strcpy(cl->levels[0].name, "switch");
	cl->levels[0].scope = LEVEL_NODE;
	cl->levels[0].bw_Bps = 1e9;
	cl->levels[0].lat_s = 0;
	cl->levels[0].eff = 1;
	cl->device.overlap_slowdown = overlap;
	f->sc.strategy.tp = tp;
	f->sc.strategy.dp = dp;
	f->sc.strategy.pp = pp;
	f->sc.strategy.cp = 1;
	f->sc.strategy.vpp = 1;
	f->sc.strategy.coll_algo = ALGO_RING;
	f->g = graph_alloc();
	assert_non_null(f->g);
	f->g->sc = &f->sc;
	f->g->nranks = nreps;
	f->g->ranks = calloc((size_t)nreps, sizeof *f->g->ranks);
	for (int r = 0; r < nreps; r++) {
		f->g->ranks[r].multiplicity = 1;
		f->g->ranks[r].slowdown = 1;
		f->g->ranks[r].global_rank = r;
	}
	assert_int_equal(net_alloc(cl, &f->net), PS_OK);
}

static void fx_fini(struct fx *f)
{
	graph_free(f->g);
	net_free(f->net);
}

static uint32_t add_kernel(struct ps_graph *g, int rank, int stream, double us, const uint32_t *deps,
			   uint32_t nd)
{
	struct ps_task t;
	memset(&t, 0, sizeof t);
	t.rank = (uint32_t)rank;
	t.stream = (uint8_t)stream;
	t.kind = TASK_KERNEL;
	t.phase = PHASE_FWD;
	t.layer = t.microbatch = t.chunk = -1;
	t.u.kernel.op = OP_MATMUL_FWD;
	struct ps_shape none;
	memset(&none, 0, sizeof none);
	t.u.kernel.call = graph_kcall(g, OP_MATMUL_FWD, &none, 0);
	t.flops = us * 1e6; /* flops / 1e12 s = us microseconds */
	t.match = NONE;
	uint32_t id = graph_add(g, &t, deps, nd);
	assert_true(id != NONE);
	return id;
}

static uint32_t add_coll(struct ps_graph *g, int rank, int stream, int comm, ps_group_kind grp, int size,
			 double bytes, uint32_t match, const uint32_t *deps, uint32_t nd)
{
	struct ps_task t;
	memset(&t, 0, sizeof t);
	t.rank = (uint32_t)rank;
	t.stream = (uint8_t)stream;
	t.kind = TASK_COLL;
	t.comm = (uint8_t)comm;
	t.layer = t.microbatch = t.chunk = -1;
	t.u.coll.op = COLL_ALLREDUCE;
	t.u.coll.group = grp;
	t.u.coll.group_size = size;
	t.u.coll.bytes = bytes;
	t.u.coll.algo = ALGO_RING;
	t.match = match;
	uint32_t id = graph_add(g, &t, deps, nd);
	assert_true(id != NONE);
	if (match == 0xFFFFFFFEu) /* "self": leader of its own instance */
		g->tasks[id].match = id;
	return id;
}

static uint32_t add_p2p(struct ps_graph *g, int rank, int kind, int peer, double bytes, const uint32_t *deps,
			uint32_t nd)
{
	struct ps_task t;
	memset(&t, 0, sizeof t);
	t.rank = (uint32_t)rank;
	t.stream = STREAM_PP;
	t.kind = (uint8_t)kind;
	t.comm = COMM_PP;
	t.layer = t.microbatch = t.chunk = -1;
	t.u.p2p.peer = peer;
	t.u.p2p.bytes = bytes;
	t.match = NONE;
	uint32_t id = graph_add(g, &t, deps, nd);
	assert_true(id != NONE);
	return id;
}

static void pair(struct ps_graph *g, uint32_t send, uint32_t recv)
{
	g->tasks[send].match = recv;
	g->tasks[recv].match = send;
}

static void assert_time(double got_s, double want_us)
{
	if (fabs(got_s - want_us * US) > 1e-15)
		fail_msg("got %.15g us, want %.15g us", got_s / US, want_us);
}

static struct ps_des_result run(struct fx *f, int trace)
{
	struct ps_des_result res;
	ps_status rc = des_run(f->g, NULL, f->net, NET_FLOW, trace, &res);
	if (rc != PS_OK)
		fail_msg("des_run: %s", ps_error_message());
	return res;
}

/* ---------------------------------------------------------------- tests */

static void test_chain(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, 1, 1, 1, 1, 1, 0);
	double d[] = {3, 1.5, 10, 0.25, 7};
	for (int i = 0; i < 5; i++)
		add_kernel(f.g, 0, STREAM_COMPUTE, d[i], NULL, 0); /* stream order alone */
	struct ps_des_result r = run(&f, 1);
	assert_time(r.step_time_s, 21.75);
	double t = 0;
	for (int i = 0; i < 5; i++) {
		assert_time(r.trace[i].start_s, t);
		t += d[i];
		assert_time(r.trace[i].end_s, t);
		assert_string_equal(r.trace[i].name, "matmul_fwd");
	}
	assert_time(r.ranks[0].busy_compute_s, 21.75);
	assert_time(r.ranks[0].idle_s, 0);
	assert_time(r.ranks[0].end_s, 21.75);
	assert_int_equal(r.events, 5);
	des_result_fini(&r);
	fx_fini(&f);
}

static void test_two_streams_overlap(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, 2, 2, 1, 1, 1, 0);
	uint32_t a = add_kernel(f.g, 0, STREAM_COMPUTE, 10, NULL, 0);
	uint32_t b = add_kernel(f.g, 0, STREAM_DP, 7, NULL, 0);
	add_kernel(f.g, 0, STREAM_COMPUTE, 5, NULL, 0);
	uint32_t deps[] = {a, b};
	add_kernel(f.g, 0, STREAM_DP, 1, deps, 2); /* waits for both: starts at 10 */
	struct ps_des_result r = run(&f, 1);
	assert_time(r.trace[0].end_s, 10);
	assert_time(r.trace[1].end_s, 7);
	assert_time(r.trace[2].start_s, 10);
	assert_time(r.trace[3].start_s, 10);
	assert_time(r.step_time_s, 15);
	assert_time(r.ranks[0].busy_compute_s, 15); /* union of kernel intervals */
	des_result_fini(&r);
	fx_fini(&f);
}

static void test_cross_rank_deps(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, 2, 1, 2, 1, 2, 0);
	uint32_t a = add_kernel(f.g, 0, STREAM_COMPUTE, 4, NULL, 0);
	uint32_t b = add_kernel(f.g, 1, STREAM_COMPUTE, 6, &a, 1);
	add_kernel(f.g, 0, STREAM_COMPUTE, 1, &b, 1);
	struct ps_des_result r = run(&f, 1);
	assert_time(r.trace[1].start_s, 4);
	assert_time(r.trace[2].start_s, 10);
	assert_time(r.step_time_s, 11);
	assert_time(r.ranks[0].idle_s, 6);
	assert_time(r.ranks[1].idle_s, 5);
	assert_time(r.ranks[1].end_s, 10);
	des_result_fini(&r);
	fx_fini(&f);
}

/* send/recv: transfer from max(send ready, recv ready), both end together
 * after latency + bytes / B (B = 1 GB/s: 1e4 bytes = 10 us). */
static void test_send_recv(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, 2, 1, 1, 2, 2, 0);
	f.sc.cluster.levels[0].lat_s = 2 * US;
	net_free(f.net);
	assert_int_equal(net_alloc(&f.sc.cluster, &f.net), PS_OK);
	/* recv ready first (t=0), send ready at 10 */
	uint32_t k0 = add_kernel(f.g, 0, STREAM_COMPUTE, 10, NULL, 0);
	uint32_t s1 = add_p2p(f.g, 0, TASK_SEND, 1, 1e4, &k0, 1);
	uint32_t r1 = add_p2p(f.g, 1, TASK_RECV, 0, 1e4, NULL, 0);
	pair(f.g, s1, r1);
	uint32_t k1 = add_kernel(f.g, 1, STREAM_COMPUTE, 30, &r1, 1);
	/* send ready first (t=22), recv ready late (after k1: t=52) */
	uint32_t s2 = add_p2p(f.g, 0, TASK_SEND, 1, 1e4, NULL, 0);
	uint32_t r2 = add_p2p(f.g, 1, TASK_RECV, 0, 1e4, &k1, 1);
	pair(f.g, s2, r2);
	uint32_t after = add_p2p(f.g, 0, TASK_SEND, 1, 0, NULL, 0); /* unmatched, 0 bytes: ends at once */
	struct ps_des_result r = run(&f, 1);
	assert_time(r.trace[s1].start_s, 10);
	assert_time(r.trace[r1].start_s, 10);
	assert_time(r.trace[s1].end_s, 22);
	assert_time(r.trace[r1].end_s, 22);
	assert_time(r.trace[k1].start_s, 22);
	assert_time(r.trace[s2].start_s, 52); /* the send blocks its stream until the recv is posted */
	assert_time(r.trace[s2].end_s, 64);
	assert_time(r.trace[r2].end_s, 64);
	assert_time(r.trace[after].start_s, 64);
	assert_time(r.step_time_s, 64);
	/* pp comm in flight on rank 0: [10,22) and [52,64) */
	assert_time(r.ranks[0].comm_s[COMM_PP], 24);
	assert_time(r.ranks[0].exposed_comm_s[COMM_PP], 24);
	assert_time(r.ranks[1].comm_s[COMM_PP], 24);
	assert_time(r.ranks[1].exposed_comm_s[COMM_PP], 24);
	assert_time(r.ranks[1].idle_s, 64 - 30 - 24);
	des_result_fini(&r);
	fx_fini(&f);
}

/* Two ranks of one TP group, rank 1 twice as slow: the all-reduce starts
 * when rank 1 arrives; rank 0's wait is idle, not communication. */
static void straggler_case(int explicit_match)
{
	struct fx f;
	fx_init(&f, 2, 2, 1, 1, 2, 0);
	f.g->ranks[1].tp_rank = 1;
	f.g->ranks[1].slowdown = 2.0;
	uint32_t c[2];
	for (int r = 0; r < 2; r++) {
		uint32_t k = add_kernel(f.g, r, STREAM_COMPUTE, 10, NULL, 0);
		uint32_t m = explicit_match ? (r == 0 ? 0xFFFFFFFEu : c[0]) : NONE;
		c[r] = add_coll(f.g, r, STREAM_TP, COMM_TP, GROUP_TP, 2, 1e4, m, &k, 1);
		add_kernel(f.g, r, STREAM_COMPUTE, 10, &c[r], 1);
	}
	struct ps_des_result r = run(&f, 1);
	for (int i = 0; i < 2; i++) {
		assert_time(r.trace[c[i]].start_s, 20);
		assert_time(r.trace[c[i]].end_s, 30); /* 2(p-1)/p n/B = 1e4 / 1e9 */
	}
	assert_time(r.step_time_s, 50);
	assert_time(r.ranks[0].end_s, 40);
	assert_time(r.ranks[0].busy_compute_s, 20);
	assert_time(r.ranks[0].exposed_comm_s[COMM_TP], 10);
	assert_time(r.ranks[0].comm_s[COMM_TP], 10);
	assert_time(r.ranks[0].idle_s, 20); /* 10..20 waiting + 40..50 done early */
	assert_time(r.ranks[1].busy_compute_s, 40);
	assert_time(r.ranks[1].idle_s, 0);
	des_result_fini(&r);
	fx_fini(&f);
}

static void test_straggler(void **state)
{
	(void)state;
	straggler_case(0);
	straggler_case(1);
}

/* Several collectives per rank, all leaders added before their followers
 * (as a builder that emits rank by rank does): explicit and inferred
 * matching give the same, exact timeline. */
static void many_colls_case(int explicit_match, double *ends)
{
	struct fx f;
	fx_init(&f, 4, 4, 1, 1, 4, 0);
	for (int r = 0; r < 4; r++)
		f.g->ranks[r].tp_rank = r;
	enum { K = 5 };
	uint32_t lead[K];
	for (int r = 0; r < 4; r++) {
		uint32_t prev = NONE;
		for (int k = 0; k < K; k++) {
			uint32_t kk = add_kernel(f.g, r, STREAM_COMPUTE, 1 + r + k, &prev, 1);
			uint32_t m = !explicit_match ? NONE : r == 0 ? 0xFFFFFFFEu : lead[k];
			prev = add_coll(f.g, r, STREAM_TP, COMM_TP, GROUP_TP, 4, 4e4, m, &kk, 1);
			if (r == 0)
				lead[k] = prev;
		}
	}
	struct ps_des_result r = run(&f, 1);
	/* collective k starts when rank 3 (slowest) is ready: kernels 4+k us,
	 * ring all-reduce of 4e4 B over 4 ranks at 1 GB/s = 2*3/4*40 us = 60 us */
	double t = 0;
	for (int k = 0; k < K; k++) {
		t += 4 + k + 60;
		for (uint32_t i = 0; i < f.g->ntasks; i++)
			if (f.g->tasks[i].kind == TASK_COLL && i / 2 % K == (uint32_t)k)
				assert_time(r.trace[i].end_s, t);
	}
	assert_time(r.step_time_s, t);
	for (int q = 0; q < 4; q++)
		ends[q] = r.ranks[q].idle_s;
	des_result_fini(&r);
	fx_fini(&f);
}

static void test_many_collectives(void **state)
{
	(void)state;
	double a[4], b[4];
	many_colls_case(0, a);
	many_colls_case(1, b);
	for (int q = 0; q < 4; q++)
		assert_true(a[q] == b[q]);
}

/* Exposed communication on a known timeline (one rank, folded TP group of
 * 2, overlap slowdown 0.5):
 *   A kernel [0,10)            X tp all-reduce [0,20)   (starts after A began)
 *   Y dp all-reduce [10,30)    after A
 *   B kernel after X: begins at 20 while Y is in flight -> 1.5 x 10 = [20,35)
 *   C dp all-reduce after B [35,55), D kernel after C [55,65)
 * busy 35; tp in flight 20, dp 40; exposed: [10,20) tp (priority over dp),
 * [35,55) dp; idle 65 - 35 - 30 = 0. */
static void test_exposed_comm(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, 2, 2, 1, 1, 1, 0.5);
	f.g->ranks[0].multiplicity = 2;
	uint32_t a = add_kernel(f.g, 0, STREAM_COMPUTE, 10, NULL, 0);
	uint32_t x = add_coll(f.g, 0, STREAM_TP, COMM_TP, GROUP_TP, 2, 2e4, NONE, NULL, 0);
	uint32_t y = add_coll(f.g, 0, STREAM_DP, COMM_DP, GROUP_TP, 2, 2e4, NONE, &a, 1);
	uint32_t b = add_kernel(f.g, 0, STREAM_COMPUTE, 10, &x, 1);
	uint32_t c = add_coll(f.g, 0, STREAM_DP, COMM_DP, GROUP_TP, 2, 2e4, NONE, &b, 1);
	uint32_t dd = add_kernel(f.g, 0, STREAM_COMPUTE, 10, &c, 1);
	struct ps_des_result r = run(&f, 1);
	assert_time(r.trace[a].end_s, 10);
	assert_time(r.trace[x].end_s, 20);
	assert_time(r.trace[y].start_s, 10);
	assert_time(r.trace[b].start_s, 20);
	assert_time(r.trace[b].end_s, 35);
	assert_time(r.trace[c].end_s, 55);
	assert_time(r.trace[dd].end_s, 65);
	const struct ps_des_rank_stats *s = &r.ranks[0];
	assert_time(s->busy_compute_s, 35);
	assert_time(s->comm_s[COMM_TP], 20);
	assert_time(s->comm_s[COMM_DP], 40);
	assert_time(s->exposed_comm_s[COMM_TP], 10);
	assert_time(s->exposed_comm_s[COMM_DP], 20);
	assert_time(s->exposed_comm_s[COMM_PP], 0);
	assert_time(s->idle_s, 0);
	assert_time(r.step_time_s, 65);
	des_result_fini(&r);
	fx_fini(&f);
}

/* The other way round: a transfer that starts while a kernel runs on its
 * rank takes (1 + comm_overlap_slowdown) times its price — for a send/recv
 * pair when either side computes; one that starts as the kernel ends does
 * not (the kernel's end is handled first).  2-rank ring all-reduce of
 * 2e4 B at 1 GB/s: 20 us. */
static void test_comm_overlap(void **state)
{
	(void)state;
	for (int on = 0; on <= 1; on++) {
		struct fx f;
		fx_init(&f, 2, 2, 1, 1, 1, 0);
		f.sc.cluster.device.comm_overlap_slowdown = on ? 0.25 : 0;
		f.g->ranks[0].multiplicity = 2;
		uint32_t a = add_kernel(f.g, 0, STREAM_COMPUTE, 10, NULL, 0);
		uint32_t x = add_coll(f.g, 0, STREAM_TP, COMM_TP, GROUP_TP, 2, 2e4, NONE, NULL, 0);
		uint32_t y = add_coll(f.g, 0, STREAM_DP, COMM_DP, GROUP_TP, 2, 2e4, NONE, &a, 1);
		uint32_t b = add_kernel(f.g, 0, STREAM_COMPUTE, 10, &x, 1);
		uint32_t c = add_coll(f.g, 0, STREAM_TP, COMM_TP, GROUP_TP, 2, 2e4, NONE, NULL, 0);
		struct ps_des_result r = run(&f, 1);
		double k = on ? 1.25 : 1.0;
		assert_time(r.trace[a].end_s, 10);
		assert_time(r.trace[x].end_s, 20 * k);	       /* began with kernel a running */
		assert_time(r.trace[y].start_s, 10);
		assert_time(r.trace[y].end_s, 30);	       /* began as a ended: no kernel */
		assert_time(r.trace[b].end_s, 20 * k + 10);
		assert_time(r.trace[c].end_s, 20 * k + 20 * k); /* began with b running */
		assert_time(r.ranks[0].comm_s[COMM_TP], 40 * k);
		assert_time(r.ranks[0].comm_s[COMM_DP], 20);
		assert_time(r.step_time_s, 40 * k);
		des_result_fini(&r);
		fx_fini(&f);

		/* send/recv of 1e4 B (10 us): the sender computes, the receiver not */
		fx_init(&f, 2, 1, 1, 2, 2, 0);
		f.sc.cluster.device.comm_overlap_slowdown = on ? 0.25 : 0;
		f.g->ranks[1].pp_stage = 1;
		uint32_t kk = add_kernel(f.g, 0, STREAM_COMPUTE, 30, NULL, 0);
		uint32_t s0 = add_p2p(f.g, 0, TASK_SEND, 1, 1e4, NULL, 0);
		uint32_t r1 = add_p2p(f.g, 1, TASK_RECV, 0, 1e4, NULL, 0);
		pair(f.g, s0, r1);
		r = run(&f, 1);
		assert_time(r.trace[s0].end_s, 10 * k);
		assert_time(r.trace[r1].end_s, 10 * k);
		assert_time(r.ranks[1].end_s, 10 * k);
		assert_time(r.trace[kk].end_s, 30);
		des_result_fini(&r);
		fx_fini(&f);
	}
}

/* 1F1B on p stages, m micro-batches, forward tf and backward tb per stage,
 * free communication: the bubble is (p-1)/(m+p-1) of the step on every
 * stage (Narayanan et al. 2021). */
static void onef1b_case(int p, int m, double tf, double tb)
{
	struct fx f;
	fx_init(&f, p, 1, 1, p, p, 0);
	for (int s = 0; s < p; s++)
		f.g->ranks[s].pp_stage = s;
	uint32_t *F = calloc((size_t)(p * m), sizeof *F), *B = calloc((size_t)(p * m), sizeof *B);
	/* Forward deps point to the previous stage, backward deps to the next
	 * one, and graph_add needs deps first: add each stage's ops in its
	 * 1F1B order, interleaving stages whenever the deps exist. */
	int *next_f = calloc((size_t)p, sizeof *next_f), *next_b = calloc((size_t)p, sizeof *next_b);
	int *pos = calloc((size_t)p, sizeof *pos);
	/* per-stage op sequence: 1 = F, 0 = B */
	int len = 2 * m;
	int *seq = calloc((size_t)(p * len), sizeof *seq);
	for (int s = 0; s < p; s++) {
		int w = p - s - 1 < m ? p - s - 1 : m, k = 0;
		for (int i = 0; i < w; i++)
			seq[s * len + k++] = 1;
		for (int i = 0; i < m - w; i++) {
			seq[s * len + k++] = 1;
			seq[s * len + k++] = 0;
		}
		for (int i = 0; i < w; i++)
			seq[s * len + k++] = 0;
	}
	/* Add tasks whenever their dependencies exist (a topological order that
	 * keeps each stage's sequence). */
	int added = 0;
	while (added < 2 * p * m) {
		int progress = 0;
		for (int s = 0; s < p; s++) {
			while (pos[s] < len) {
				int isf = seq[s * len + pos[s]];
				if (isf) {
					int i = next_f[s];
					if (s > 0 && next_f[s - 1] <= i)
						break;
					uint32_t dep = s > 0 ? F[(s - 1) * m + i] : NONE;
					F[s * m + i] = add_kernel(f.g, s, STREAM_COMPUTE, tf, &dep, s > 0);
					next_f[s]++;
				} else {
					int i = next_b[s];
					if (s < p - 1 && next_b[s + 1] <= i)
						break;
					uint32_t dep = s < p - 1 ? B[(s + 1) * m + i] : F[s * m + i];
					B[s * m + i] = add_kernel(f.g, s, STREAM_COMPUTE, tb, &dep, 1);
					next_b[s]++;
				}
				pos[s]++;
				added++;
				progress = 1;
			}
		}
		assert_true(progress);
	}
	struct ps_des_result r;
	assert_int_equal(des_run(f.g, NULL, NULL, NET_ANALYTIC, 0, &r), PS_OK);
	double T = (m + p - 1) * (tf + tb);
	assert_time(r.step_time_s, T);
	for (int s = 0; s < p; s++) {
		double bubble = r.ranks[s].idle_s / r.step_time_s;
		if (fabs(bubble - (double)(p - 1) / (m + p - 1)) > 1e-12)
			fail_msg("stage %d: bubble %.15g, want %.15g", s, bubble,
				 (double)(p - 1) / (m + p - 1));
		assert_time(r.ranks[s].busy_compute_s, m * (tf + tb));
	}
	des_result_fini(&r);
	free(F);
	free(B);
	free(next_f);
	free(next_b);
	free(pos);
	free(seq);
	fx_fini(&f);
}

static void test_1f1b_bubble(void **state)
{
	(void)state;
	onef1b_case(4, 8, 10, 10);
	onef1b_case(4, 8, 10, 20); /* backward = 2 x forward: same fraction */
	onef1b_case(8, 3, 5, 10);  /* fewer micro-batches than stages */
}

/* A random graph over 4 ranks in phases (kernels with random extra deps
 * on earlier phases, a world all-reduce, a chain of send/recv); two runs
 * give identical bytes. */
static void build_random(struct fx *f, unsigned seed)
{
	fx_init(f, 4, 4, 1, 1, 4, 0.25);
	for (int r = 0; r < 4; r++)
		f->g->ranks[r].tp_rank = r;
	uint64_t x = seed;
#define RND() (x = x * 6364136223846793005ULL + 1442695040888963407ULL, (unsigned)(x >> 33))
	uint32_t prev[4] = {NONE, NONE, NONE, NONE};
	for (int ph = 0; ph < 40; ph++) {
		uint32_t k[4], rcv[4] = {NONE, NONE, NONE, NONE};
		for (int r = 0; r < 4; r++) {
			uint32_t deps[2] = {prev[r], NONE};
			if (ph > 0 && RND() % 2)
				deps[1] = prev[RND() % 4];
			k[r] = add_kernel(f->g, r, STREAM_COMPUTE, 1 + RND() % 20, deps, 2);
			if (RND() % 3 == 0)
				add_kernel(f->g, r, STREAM_COMPUTE, 0.5 + RND() % 5, &k[r], 1);
		}
		uint32_t c[4];
		for (int r = 0; r < 4; r++)
			c[r] = add_coll(f->g, r, STREAM_TP, COMM_TP, GROUP_WORLD, 4, 1e3 * (1 + ph % 3), NONE,
					&k[r], 1);
		for (int r = 1; r < 4; r++) /* posted before the rank's own send: a chain, no deadlock */
			rcv[r] = add_p2p(f->g, r, TASK_RECV, r - 1, 5e3, NULL, 0);
		/* chain sends r -> r+1, each after the rank's kernel */
		for (int r = 0; r < 3; r++) {
			uint32_t s = add_p2p(f->g, r, TASK_SEND, r + 1, 5e3, &k[r], 1);
			pair(f->g, s, rcv[r + 1]);
		}
		for (int r = 0; r < 4; r++) {
			uint32_t deps[2] = {c[r], rcv[r]};
			prev[r] = add_kernel(f->g, r, STREAM_COMPUTE, 2, deps, 2);
		}
	}
#undef RND
}

static void test_determinism(void **state)
{
	(void)state;
	struct fx f1, f2;
	build_random(&f1, 7);
	build_random(&f2, 7);
	struct ps_des_result a = run(&f1, 1), b = run(&f2, 1);
	assert_int_equal(a.ntrace, b.ntrace);
	assert_int_equal(a.ntrace, f1.g->ntasks);
	assert_int_equal(memcmp(a.trace, b.trace, a.ntrace * sizeof *a.trace), 0);
	assert_int_equal(memcmp(a.ranks, b.ranks, (size_t)a.nranks * sizeof *a.ranks), 0);
	assert_true(a.step_time_s == b.step_time_s);
	assert_int_equal(a.events, b.events);
	/* Sanity: every task ran, stream order and dependencies respected. */
	for (uint32_t i = 0; i < f1.g->ntasks; i++) {
		const struct ps_task *t = &f1.g->tasks[i];
		assert_true(a.trace[i].end_s >= a.trace[i].start_s);
		for (uint32_t k = 0; k < t->ndeps; k++)
			assert_true(a.trace[f1.g->deps[t->dep_first + k]].end_s <= a.trace[i].start_s);
		for (uint32_t j = i + 1; j < f1.g->ntasks; j++)
			if (f1.g->tasks[j].rank == t->rank && f1.g->tasks[j].stream == t->stream) {
				assert_true(a.trace[i].end_s <= a.trace[j].start_s);
				break;
			}
	}
	/* Without the trace the statistics are the same. */
	struct ps_des_result c = run(&f1, 0);
	assert_null(c.trace);
	assert_int_equal(memcmp(a.ranks, c.ranks, (size_t)a.nranks * sizeof *a.ranks), 0);
	des_result_fini(&a);
	des_result_fini(&b);
	des_result_fini(&c);
	fx_fini(&f1);
	fx_fini(&f2);
}

/* Kernels priced by the datasheet cost model, times the rank slowdown. */
static void test_costmodel(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, 1, 1, 1, 1, 1, 0);
	struct ps_device *dev = &f.sc.cluster.device;
	strcpy(dev->name, "t");
	dev->peak_flops[DTYPE_BF16] = 100e12;
	dev->mem_bw_Bps = 1e12;
	dev->matmul_eff_max = 0.5;
	dev->matmul_half_flop = 1e9;
	dev->attn_eff_max = 0.5;
	dev->mem_eff_max = 0.8;
	dev->mem_half_bytes = 1e6;
	dev->kernel_launch_s = 2e-6;
	struct ps_costmodel *cm = NULL;
	assert_int_equal(costmodel_datasheet_alloc(dev, &cm), PS_OK);
	f.g->ranks[0].slowdown = 1.5;
	struct ps_shape sh[3];
	memset(sh, 0, sizeof sh);
	sh[0].M = 4096, sh[0].N = 4096, sh[0].K = 4096;
	sh[1].M = 512, sh[1].N = 1024, sh[1].K = 256;
	sh[2].M = 4096, sh[2].N = 4096, sh[2].K = 4096;
	sh[2].variant = 1;
	double want = 0;
	for (int rep = 0; rep < 3; rep++)
		for (int i = 0; i < 3; i++) {
			uint32_t id = add_kernel(f.g, 0, STREAM_COMPUTE, 1, NULL, 0);
			f.g->tasks[id].u.kernel.call = graph_kcall(f.g, OP_MATMUL_FWD, &sh[i], DTYPE_BF16);
			f.g->tasks[id].u.kernel.dtype = DTYPE_BF16;
			double s = costmodel_kernel_s(cm, OP_MATMUL_FWD, &sh[i], DTYPE_BF16);
			assert_true(s > 0);
			want += llround(s * 1.5 * 1e12) * 1e-12;
		}
	struct ps_des_result r;
	assert_int_equal(des_run(f.g, cm, f.net, NET_ANALYTIC, 0, &r), PS_OK);
	assert_true(fabs(r.step_time_s - want) < 1e-15);
	des_result_fini(&r);
	costmodel_free(cm);
	fx_fini(&f);
}

static void test_errors(void **state)
{
	(void)state;
	struct ps_des_result r;
	/* Two ranks that both send before they receive on one stream. */
	struct fx f;
	fx_init(&f, 2, 1, 1, 2, 2, 0);
	uint32_t s0 = add_p2p(f.g, 0, TASK_SEND, 1, 1e3, NULL, 0);
	uint32_t s1 = add_p2p(f.g, 1, TASK_SEND, 0, 1e3, NULL, 0);
	uint32_t r0 = add_p2p(f.g, 0, TASK_RECV, 1, 1e3, NULL, 0);
	uint32_t r1 = add_p2p(f.g, 1, TASK_RECV, 0, 1e3, NULL, 0);
	pair(f.g, s0, r1);
	pair(f.g, s1, r0);
	assert_int_equal(des_run(f.g, NULL, f.net, NET_FLOW, 0, &r), PS_ERR_INVALID);
	assert_non_null(strstr(ps_error_message(), "deadlock"));
	assert_null(r.ranks);
	/* A send matched to a kernel. */
	uint32_t k = add_kernel(f.g, 1, STREAM_COMPUTE, 1, NULL, 0);
	f.g->tasks[s0].match = k;
	assert_int_equal(des_run(f.g, NULL, f.net, NET_FLOW, 0, &r), PS_ERR_INVALID);
	fx_fini(&f);

	/* A collective that names as its leader a task after it. */
	fx_init(&f, 2, 2, 1, 1, 2, 0);
	f.g->ranks[1].tp_rank = 1;
	uint32_t fol = add_coll(f.g, 1, STREAM_TP, COMM_TP, GROUP_TP, 2, 1e3, NONE, NULL, 0);
	uint32_t lead = add_coll(f.g, 0, STREAM_TP, COMM_TP, GROUP_TP, 2, 1e3, 0xFFFFFFFEu, NULL, 0);
	f.g->tasks[fol].match = lead;
	assert_int_equal(des_run(f.g, NULL, f.net, NET_FLOW, 0, &r), PS_ERR_INVALID);
	assert_non_null(strstr(ps_error_message(), "task 0: its collective leader 1 comes after it"));
	/* in the right order the same pair runs */
	f.g->tasks[fol].match = NONE;
	f.g->tasks[lead].match = NONE;
	assert_int_equal(des_run(f.g, NULL, f.net, NET_FLOW, 0, &r), PS_OK);
	des_result_fini(&r);
	fx_fini(&f);

	/* A kernel task whose call is not in the graph (edited after graph_add). */
	fx_init(&f, 1, 1, 1, 1, 1, 0);
	k = add_kernel(f.g, 0, STREAM_COMPUTE, 1, NULL, 0);
	f.g->tasks[k].u.kernel.call = f.g->ncalls;
	assert_int_equal(des_run(f.g, NULL, f.net, NET_FLOW, 0, &r), PS_ERR_INVALID);
	assert_non_null(strstr(ps_error_message(), "kernel call 1 is not in the graph"));
	fx_fini(&f);

	/* Ranks of one TP group with different numbers of collectives. */
	fx_init(&f, 2, 2, 1, 1, 2, 0);
	f.g->ranks[1].tp_rank = 1;
	add_coll(f.g, 0, STREAM_TP, COMM_TP, GROUP_TP, 2, 1e3, NONE, NULL, 0);
	add_coll(f.g, 0, STREAM_TP, COMM_TP, GROUP_TP, 2, 1e3, NONE, NULL, 0);
	add_coll(f.g, 1, STREAM_TP, COMM_TP, GROUP_TP, 2, 1e3, NONE, NULL, 0);
	assert_int_equal(des_run(f.g, NULL, f.net, NET_FLOW, 0, &r), PS_ERR_INVALID);
	fx_fini(&f);

	/* A collective too big for the cluster. */
	fx_init(&f, 2, 2, 1, 1, 1, 0);
	add_coll(f.g, 0, STREAM_TP, COMM_TP, GROUP_TP, 4, 1e3, NONE, NULL, 0);
	assert_int_equal(des_run(f.g, NULL, f.net, NET_FLOW, 0, &r), PS_ERR_INVALID);
	/* Bad task fields. */
	f.g->tasks[0].u.coll.group_size = 2;
	f.g->tasks[0].rank = 5;
	assert_int_equal(des_run(f.g, NULL, f.net, NET_FLOW, 0, &r), PS_ERR_INVALID);
	f.g->tasks[0].rank = 0;
	assert_int_equal(des_run(f.g, NULL, f.net, NET_FLOW, 0, &r), PS_OK);
	des_result_fini(&r);
	assert_int_equal(des_run(NULL, NULL, f.net, NET_FLOW, 0, &r), PS_ERR_INVALID);
	fx_fini(&f);
}

static void test_empty(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, 1, 1, 1, 1, 1, 0);
	struct ps_des_result r;
	assert_int_equal(des_run(f.g, NULL, f.net, NET_FLOW, 1, &r), PS_OK);
	assert_true(r.step_time_s == 0);
	assert_int_equal(r.nranks, 1);
	des_result_fini(&r);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chain),	    cmocka_unit_test(test_two_streams_overlap),
	    cmocka_unit_test(test_cross_rank_deps), cmocka_unit_test(test_send_recv),
	    cmocka_unit_test(test_straggler),	    cmocka_unit_test(test_many_collectives),
	    cmocka_unit_test(test_exposed_comm),    cmocka_unit_test(test_1f1b_bubble),
	    cmocka_unit_test(test_determinism),	    cmocka_unit_test(test_costmodel),
	    cmocka_unit_test(test_errors),	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_comm_overlap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
