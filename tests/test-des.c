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
			f.g->tasks[id].u.kernel.shape = sh[i];
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

/* ---------------------------------------------------------------- event order */

/* Equal times run in the order they were queued, and that order decides
 * whether a kernel sees a transfer in flight (overlap slowdown 0.5):
 *   rank 0, compute: [M (memory, 0 s)] K1 (10 us) then K2 (10 us);
 *   rank 0, dp: a collective alone, 10 us (1e4 bytes over 2 ranks at 1 GB/s).
 * At time 0 the compute stream is queued before the dp stream.  Without M,
 * K1's end (queued first) is handled before the collective's end at 10 us:
 * K2 begins while the transfer is in flight and takes 15 us.  With M, K1 is
 * queued after the collective (when M ends at 0), so the collective ends
 * first and K2 takes 10 us. */
static void tie_case(int with_mem, double want_k2_us)
{
	struct fx f;
	fx_init(&f, 2, 2, 1, 1, 1, 0.5);
	if (with_mem) {
		struct ps_task t;
		memset(&t, 0, sizeof t);
		t.kind = TASK_MEM;
		t.stream = STREAM_COMPUTE;
		t.layer = t.microbatch = t.chunk = -1;
		t.match = NONE;
		graph_add(f.g, &t, NULL, 0);
	}
	uint32_t k1 = add_kernel(f.g, 0, STREAM_COMPUTE, 10, NULL, 0);
	uint32_t k2 = add_kernel(f.g, 0, STREAM_COMPUTE, 10, NULL, 0);
	uint32_t c = add_coll(f.g, 0, STREAM_DP, COMM_DP, GROUP_TP, 2, 1e4, 0xFFFFFFFEu, NULL, 0);
	struct ps_des_result r = run(&f, 1);
	assert_time(r.trace[c].end_s, 10);
	assert_time(r.trace[k1].end_s, 10);
	assert_time(r.trace[k2].start_s, 10);
	assert_time(r.trace[k2].end_s - r.trace[k2].start_s, want_k2_us);
	des_result_fini(&r);
	fx_fini(&f);
}

static void test_tie_order(void **state)
{
	(void)state;
	tie_case(0, 15);
	tie_case(1, 10);
}

/* Dependency lists the builder does not make but the engine accepts: a
 * dependency on a later task, a dependency listed twice, and two tasks
 * sharing one range of g->deps. */
static void test_unusual_deps(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, 2, 1, 2, 1, 2, 0);
	uint32_t a = add_kernel(f.g, 0, STREAM_COMPUTE, 4, NULL, 0);
	uint32_t b = add_kernel(f.g, 1, STREAM_COMPUTE, 6, NULL, 0);
	uint32_t twice[] = {a, a};
	uint32_t c = add_kernel(f.g, 1, STREAM_DP, 3, twice, 2); /* after a: [4, 7) */
	uint32_t d = add_kernel(f.g, 0, STREAM_DP, 2, &b, 1);	 /* after b: [6, 8) */
	uint32_t e = add_kernel(f.g, 0, STREAM_TP, 1, &b, 1);	 /* after b, then made to share d's list */
	f.g->tasks[e].dep_first = f.g->tasks[d].dep_first;
	/* a waits for d, added after it: a forward dependency (0 -> 3) */
	uint32_t fwd = f.g->ndeps;
	f.g->deps[f.g->ndeps++] = d; /* room: the deps array grows by doubling from 2048 */
	f.g->tasks[a].dep_first = fwd;
	f.g->tasks[a].ndeps = 1;
	/* now: b [0, 6); d [6, 8); e [6, 7); a [8, 12); c after a [12, 15) */
	struct ps_des_result r = run(&f, 1);
	assert_time(r.trace[b].end_s, 6);
	assert_time(r.trace[d].start_s, 6);
	assert_time(r.trace[e].start_s, 6);
	assert_time(r.trace[a].start_s, 8);
	assert_time(r.trace[c].start_s, 12);
	assert_time(r.step_time_s, 15);
	des_result_fini(&r);
	fx_fini(&f);
}

/* ---------------------------------------------------------------- naive reference */

/* The rules of doc/network-model.md section 6, played the slow and obvious
 * way, communication free (net == NULL) and kernels flops / 1e12 s:
 *  - events are (time, queue order) pairs, the earliest found by a scan;
 *  - a stream's head begins when the stream is free and the head's
 *    dependencies are done; at time 0 the streams are tried in index order;
 *  - a finished task wakes the tasks that list it, in ascending id order,
 *    once per listing, trying each one's stream; then its own stream;
 *  - a kernel that begins while its rank has a transfer in flight (begun,
 *    not yet ended: here for zero time, between two events at one instant)
 *    takes (1 + overlap) times as long;
 *  - the members of a collective (one task.match) start together when the
 *    last arrives, in id order; a send and its recv likewise, the waiting
 *    partner first.
 * Fills start/end (ps); returns 0 when every task ran. */
struct ref {
	const struct ps_graph *g;
	double overlap;
	int64_t now, *start, *end;
	int *left, *state, *on; /* state: 0 pending, 1 waiting, 2 running, 3 done; on: task on stream or -1 */
	int *inflight;
	int64_t *ev_t;
	uint64_t *ev_seq, seq;
	int *ev_task, nev;
};

static int ref_sid(const struct ref *r, uint32_t i)
{
	return (int)(r->g->tasks[i].rank * STREAM_COUNT_ + r->g->tasks[i].stream);
}

static void ref_queue(struct ref *r, uint32_t i, int64_t dur)
{
	r->state[i] = 2;
	r->start[i] = r->now;
	r->ev_t[r->nev] = r->now + dur;
	r->ev_seq[r->nev] = r->seq++;
	r->ev_task[r->nev++] = (int)i;
}

static void ref_transfer(struct ref *r, uint32_t i)
{
	r->inflight[r->g->tasks[i].rank]++;
	ref_queue(r, i, 0);
}

static void ref_begin(struct ref *r, uint32_t h)
{
	const struct ps_graph *g = r->g;
	const struct ps_task *t = &g->tasks[h];
	r->on[ref_sid(r, h)] = (int)h;
	if (t->kind == TASK_KERNEL) {
		double sec = t->flops / 1e12 * g->ranks[t->rank].slowdown;
		if (r->inflight[t->rank])
			sec *= 1.0 + r->overlap;
		ref_queue(r, h, (int64_t)(sec * 1e12 + 0.5));
	} else if (t->kind == TASK_MEM) {
		ref_queue(r, h, 0);
	} else if (t->kind == TASK_COLL) {
		r->state[h] = 1;
		for (uint32_t j = 0; j < g->ntasks; j++)
			if (g->tasks[j].kind == TASK_COLL && g->tasks[j].match == t->match && r->state[j] != 1)
				return;
		for (uint32_t j = 0; j < g->ntasks; j++)
			if (g->tasks[j].kind == TASK_COLL && g->tasks[j].match == t->match)
				ref_transfer(r, j);
	} else if (t->match == NONE) {
		ref_transfer(r, h);
	} else if (r->state[t->match] == 1) {
		ref_transfer(r, t->match);
		ref_transfer(r, h);
	} else {
		r->state[h] = 1;
	}
}

static void ref_try(struct ref *r, int s)
{
	if (r->on[s] >= 0)
		return;
	for (uint32_t h = 0; h < r->g->ntasks; h++)
		if (ref_sid(r, h) == s && r->state[h] == 0) {
			if (r->left[h] == 0)
				ref_begin(r, h);
			return;
		}
}

static int ref_run(const struct ps_graph *g, double overlap, int64_t *start, int64_t *end)
{
	uint32_t n = g->ntasks;
	int nst = g->nranks * STREAM_COUNT_;
	struct ref r = {g, overlap, 0, start, end, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, 0};
	r.left = calloc(n + 1, sizeof *r.left);
	r.state = calloc(n + 1, sizeof *r.state);
	r.on = malloc((size_t)nst * sizeof *r.on);
	r.inflight = calloc((size_t)g->nranks, sizeof *r.inflight);
	r.ev_t = calloc(n + 1, sizeof *r.ev_t);
	r.ev_seq = calloc(n + 1, sizeof *r.ev_seq);
	r.ev_task = calloc(n + 1, sizeof *r.ev_task);
	for (uint32_t i = 0; i < n; i++)
		r.left[i] = (int)g->tasks[i].ndeps;
	for (int s = 0; s < nst; s++)
		r.on[s] = -1;
	for (int s = 0; s < nst; s++)
		ref_try(&r, s);
	while (r.nev) {
		int b = 0;
		for (int k = 1; k < r.nev; k++)
			if (r.ev_t[k] < r.ev_t[b] || (r.ev_t[k] == r.ev_t[b] && r.ev_seq[k] < r.ev_seq[b]))
				b = k;
		uint32_t x = (uint32_t)r.ev_task[b];
		r.now = r.ev_t[b];
		r.nev--;
		r.ev_t[b] = r.ev_t[r.nev];
		r.ev_seq[b] = r.ev_seq[r.nev];
		r.ev_task[b] = r.ev_task[r.nev];
		r.state[x] = 3;
		end[x] = r.now;
		if (g->tasks[x].kind != TASK_KERNEL && g->tasks[x].kind != TASK_MEM)
			r.inflight[g->tasks[x].rank]--;
		r.on[ref_sid(&r, x)] = -1;
		for (uint32_t u = 0; u < n; u++)
			for (uint32_t k = 0; k < g->tasks[u].ndeps; k++)
				if (g->deps[g->tasks[u].dep_first + k] == x && --r.left[u] == 0)
					ref_try(&r, ref_sid(&r, u));
		ref_try(&r, ref_sid(&r, x));
	}
	int ok = 1;
	for (uint32_t i = 0; i < n; i++)
		ok &= r.state[i] == 3;
	free(r.left);
	free(r.state);
	free(r.on);
	free(r.inflight);
	free(r.ev_t);
	free(r.ev_seq);
	free(r.ev_task);
	return ok ? 0 : -1;
}

/* Union of the kernel intervals of one rank, ps. */
static int64_t ref_busy(const struct ps_graph *g, int rank, const int64_t *start, const int64_t *end)
{
	int64_t busy = 0, cover = INT64_MIN;
	for (;;) { /* intervals by start time: take the earliest start not yet covered */
		int64_t s = INT64_MAX, e = 0;
		for (uint32_t i = 0; i < g->ntasks; i++)
			if (g->tasks[i].kind == TASK_KERNEL && (int)g->tasks[i].rank == rank && end[i] > cover &&
			    end[i] > start[i] && (start[i] > cover ? start[i] : cover) < s) {
				s = start[i] > cover ? start[i] : cover;
				e = end[i];
			}
		if (s == INT64_MAX)
			return busy;
		for (int grow = 1; grow;) { /* extend over overlapping intervals */
			grow = 0;
			for (uint32_t i = 0; i < g->ntasks; i++)
				if (g->tasks[i].kind == TASK_KERNEL && (int)g->tasks[i].rank == rank && start[i] <= e &&
				    end[i] > e) {
					e = end[i];
					grow = 1;
				}
		}
		busy += e - s;
		cover = e;
	}
}

/* Random graphs: kernels of whole microseconds (and of zero), memory
 * events, collectives alone and across ranks, sends and recvs (matched and
 * not), dependencies across streams and ranks, duplicated and forward,
 * stragglers; free communication, so many events share a time. */
static void build_fuzz(struct fx *f, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
#define RND(n) (x = x * 6364136223846793005ULL + 1442695040888963407ULL, (uint32_t)(x >> 33) % (uint32_t)(n))
	int R = 1 + (int)RND(4);
	fx_init(f, 8, R, 1, 1, R, 0.5);
	for (int r = 0; r < R; r++) {
		f->g->ranks[r].tp_rank = r;
		f->g->ranks[r].slowdown = RND(3) ? 1 : 1.5;
	}
	int n = 10 + (int)RND(150);
	for (int i = 0; i < n; i++) {
		uint32_t deps[3], nd = f->g->ntasks ? RND(4) : 0;
		for (uint32_t k = 0; k < nd && k < 3; k++)
			deps[k] = f->g->ntasks - 1 - RND(f->g->ntasks < 8 ? f->g->ntasks : 8);
		if (nd > 3)
			nd = 3;
		if (nd == 2 && RND(6) == 0)
			deps[1] = deps[0];
		int rank = (int)RND(R), stream = (int)RND(STREAM_COUNT_);
		uint32_t kind = RND(10), id;
		if (kind < 5) {
			id = add_kernel(f->g, rank, stream, RND(5) ? 1 + RND(6) : 0, deps, nd);
		} else if (kind < 6) {
			struct ps_task t;
			memset(&t, 0, sizeof t);
			t.rank = (uint32_t)rank;
			t.stream = (uint8_t)stream;
			t.kind = TASK_MEM;
			t.layer = t.microbatch = t.chunk = -1;
			t.match = NONE;
			id = graph_add(f->g, &t, deps, nd);
		} else if (kind < 8) {
			id = add_coll(f->g, rank, stream, COMM_TP, GROUP_TP, 1, 1e3, 0xFFFFFFFEu, deps, nd);
			for (int r2 = 0; r2 < R; r2++) /* followers on other ranks, after it */
				if (r2 != rank && RND(3) == 0)
					add_coll(f->g, r2, (int)RND(STREAM_COUNT_), COMM_TP, GROUP_TP, 1, 1e3, id, NULL, 0);
		} else {
			id = add_p2p(f->g, rank, RND(2) ? TASK_SEND : TASK_RECV, (int)RND(R), 1e3, deps, nd);
			f->g->tasks[id].stream = (uint8_t)stream;
		}
		assert_true(id != NONE);
	}
	for (uint32_t i = 0; i < f->g->ntasks; i++) { /* pair a few sends and recvs */
		struct ps_task *a = &f->g->tasks[i];
		if (a->kind != TASK_SEND || a->match != NONE || RND(3))
			continue;
		for (uint32_t j = i + 1; j < f->g->ntasks; j++) {
			struct ps_task *b = &f->g->tasks[j];
			if (b->kind == TASK_RECV && b->match == NONE && b->rank != a->rank) {
				a->match = j;
				b->match = i;
				break;
			}
		}
	}
	if (RND(4) == 0 && f->g->ndeps) /* a forward dependency */
		f->g->deps[RND(f->g->ndeps)] = RND(f->g->ntasks);
#undef RND
}

static void test_reference(void **state)
{
	(void)state;
	int compared = 0, deadlocks = 0;
	for (uint64_t seed = 1; seed <= 400; seed++) {
		struct fx f;
		build_fuzz(&f, seed);
		uint32_t n = f.g->ntasks;
		int64_t *start = calloc(n, sizeof *start), *end = calloc(n, sizeof *end);
		int want = ref_run(f.g, 0.5, start, end);
		struct ps_des_result r;
		ps_status rc = des_run(f.g, NULL, NULL, NET_FLOW, 1, &r);
		int bad_dep = 0;
		for (uint32_t i = 0; i < f.g->ndeps; i++)
			bad_dep |= f.g->deps[i] >= n;
		if (want != 0) { /* deadlock (a forward dependency can make a cycle) */
			assert_int_equal(rc, PS_ERR_INVALID);
			deadlocks++;
		} else {
			if (rc != PS_OK)
				fail_msg("seed %llu: %s", (unsigned long long)seed, ps_error_message());
			int64_t step = 0;
			for (uint32_t i = 0; i < n; i++) {
				if (r.trace[i].start_s != (double)start[i] * 1e-12 ||
				    r.trace[i].end_s != (double)end[i] * 1e-12)
					fail_msg("seed %llu task %u: [%.15g, %.15g] us, reference [%.15g, %.15g] us",
						 (unsigned long long)seed, i, r.trace[i].start_s / US, r.trace[i].end_s / US,
						 start[i] * 1e-6, end[i] * 1e-6);
				step = end[i] > step ? end[i] : step;
			}
			assert_true(r.step_time_s == (double)step * 1e-12);
			for (int k = 0; k < f.g->nranks; k++)
				assert_true(r.ranks[k].busy_compute_s == (double)ref_busy(f.g, k, start, end) * 1e-12);
			des_result_fini(&r);
			compared++;
		}
		(void)bad_dep;
		free(start);
		free(end);
		fx_fini(&f);
	}
	/* the generator must mostly make runnable graphs */
	assert_true(compared > 200);
	(void)deadlocks;
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
	    cmocka_unit_test(test_tie_order),	    cmocka_unit_test(test_unusual_deps),
	    cmocka_unit_test(test_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
