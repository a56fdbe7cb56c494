/* test-graph.c — the step graph builder, checked structurally against
 * independent truth:
 *  - the model FLOPs of all tasks, summed over real ranks, equal the closed
 *    forms of flops.c (with and without recomputation) for many layouts;
 *  - kernel and collective counts per layer follow the Megatron layout
 *    (two TP all-reduces per block forward, one with a parallel block,
 *    reduce-scatter + all-gather with SP; embedding and loss);
 *  - every send has its receive, every collective its partners, deps point
 *    backwards within a rank, the compute order follows the schedule;
 *  - a naive player (unit task times, streams in order, eager sends,
 *    collectives when all members are ready) finishes every graph: no
 *    deadlock;
 *  - the gradient bytes reduced per rank equal its parameters times the
 *    gradient element size (per micro-batch for ZeRO-2, per block for ZeRO-3);
 *  - folded representatives are task-for-task the unfolded ranks of their stage. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures-sim.h"
#include "flops.h"
#include "graph.h"
#include "memory.h"
#include "net.h"
#include "schedule.h"

#define assert_close(a, b, tol) check_close_((a), (b), (tol), __FILE__, __LINE__)
static void check_close_(double a, double b, double tol, const char *file, int line)
{
	double scale = fmax(fmax(fabs(a), fabs(b)), 1e-300);
	if (!(fabs(a - b) <= tol * scale)) {
		print_error("%.17g != %.17g (tolerance %g)\n", a, b, tol);
		_fail(file, line);
	}
}

static struct ps_graph *build(const struct ps_scenario *sc, int fold)
{
	struct ps_graph *g = NULL;
	ps_status rc = graph_build(sc, fold, &g);
	if (rc != PS_OK)
		print_error("graph_build: %s\n", ps_error_message());
	assert_int_equal(rc, PS_OK);
	assert_non_null(g);
	return g;
}

/* A small GPT: 8 layers, h 64, 4 heads, s 32, V 128. */
static void small(struct ps_scenario *sc, int dp, int tp, int pp, int mb, int gb)
{
	struct ps_model m;
	fx_gpt(&m, "tiny", 8, 64, 4, 32, 128);
	int world = dp * tp * pp;
	int dpn = world < 8 ? world : 8;
	fx_scenario(sc, &m, world / dpn, dpn, dp, tp, pp, mb, gb);
}

/* Sum of task flops over real ranks, by phase. */
static void flops_by_phase(const struct ps_graph *g, double *fb, double *rec)
{
	*fb = *rec = 0;
	for (uint32_t i = 0; i < g->ntasks; i++) {
		const struct ps_task *t = &g->tasks[i];
		double w = t->flops * g->ranks[t->rank].multiplicity;
		if (t->phase == PHASE_RECOMPUTE)
			*rec += w;
		else
			*fb += w;
	}
}

/* ------------------------------------------------ naive player */

/* Plays the graph with unit kernel times, zero-time communication,
 * collectives that start when all tasks sharing their match are ready, and
 * sends that are eager (rendezvous = 0: a send completes by itself, its
 * receive when the send is done) or rendezvous (1: both complete together
 * once both are at the head of their streams with their deps done — what
 * the simulator does).  Returns the number of tasks completed. */
static uint32_t play_mode(const struct ps_graph *g, int rendezvous)
{
	uint32_t n = g->ntasks;
	char *done = calloc(n, 1);
	long *end = calloc(n, sizeof(long));
	uint32_t *ncoll = calloc(n, sizeof(uint32_t)), *nready = calloc(n, sizeof(uint32_t));
	size_t nq = (size_t)g->nranks * STREAM_COUNT_;
	uint32_t *head = malloc(sizeof(uint32_t) * nq);
	long *free_at = calloc(nq, sizeof(long));
	/* per (rank, stream) queue as a linked list in task order */
	uint32_t *next = malloc(sizeof(uint32_t) * n), *tail = malloc(sizeof(uint32_t) * nq);
	for (size_t q = 0; q < nq; q++)
		head[q] = tail[q] = UINT32_MAX;
	for (uint32_t i = 0; i < n; i++) {
		const struct ps_task *t = &g->tasks[i];
		size_t q = (size_t)t->rank * STREAM_COUNT_ + t->stream;
		next[i] = UINT32_MAX;
		if (tail[q] == UINT32_MAX)
			head[q] = i;
		else
			next[tail[q]] = i;
		tail[q] = i;
		if (t->kind == TASK_COLL)
			ncoll[t->match]++;
	}
	uint32_t completed = 0;
	int progress = 1;
	char *counted = calloc(n, 1);
	while (progress) {
		progress = 0;
		for (size_t q = 0; q < nq; q++) {
			uint32_t i = head[q];
			if (i == UINT32_MAX)
				continue;
			const struct ps_task *t = &g->tasks[i];
			long ready = free_at[q];
			int ok = 1;
			for (uint32_t k = 0; k < t->ndeps; k++) {
				uint32_t d = g->deps[t->dep_first + k];
				if (!done[d]) {
					ok = 0;
					break;
				}
				if (end[d] > ready)
					ready = end[d];
			}
			if (!ok)
				continue;
			if (!rendezvous && t->kind == TASK_RECV) {
				if (!done[t->match])
					continue;
				if (end[t->match] > ready)
					ready = end[t->match];
			}
			if (rendezvous && (t->kind == TASK_RECV || t->kind == TASK_SEND)) {
				/* ready here; the partner completes us both when it is ready too */
				end[i] = ready;
				counted[i] = 1;
				uint32_t o = t->match;
				if (!counted[o])
					continue;
				const struct ps_task *ot = &g->tasks[o];
				size_t oq = (size_t)ot->rank * STREAM_COUNT_ + ot->stream;
				if (head[oq] != o)
					continue;
				long both = end[o] > ready ? end[o] : ready;
				end[i] = end[o] = both;
				done[i] = done[o] = 1;
				free_at[q] = free_at[oq] = both;
				head[q] = next[i];
				head[oq] = next[o];
				completed += 2;
				progress = 1;
				continue;
			}
			if (t->kind == TASK_COLL) {
				if (!counted[i]) {
					counted[i] = 1;
					nready[t->match]++;
				}
				if (nready[t->match] < ncoll[t->match])
					continue;
			}
			end[i] = ready + (t->kind == TASK_KERNEL ? 1 : 0);
			done[i] = 1;
			free_at[q] = end[i];
			head[q] = next[i];
			completed++;
			progress = 1;
		}
	}
	if (completed < n && getenv("PS_TEST_DEBUG"))
		for (size_t q = 0; q < nq; q++)
			if (head[q] != UINT32_MAX) {
				const struct ps_task *t = &g->tasks[head[q]];
				fprintf(stderr, "stuck rank %u stream %d task %u %s mb %d chunk %d phase %d match %u\n", t->rank,
					t->stream, head[q], graph_task_name(t), t->microbatch, t->chunk, t->phase, t->match);
			}
	free(done);
	free(end);
	free(ncoll);
	free(nready);
	free(head);
	free(free_at);
	free(next);
	free(tail);
	free(counted);
	return completed;
}

static uint32_t play(const struct ps_graph *g)
{
	uint32_t eager = play_mode(g, 0), rdv = play_mode(g, 1);
	if (eager != rdv)
		print_error("eager play completes %u tasks, rendezvous %u of %u\n", eager, rdv, g->ntasks);
	return eager < rdv ? eager : rdv;
}

/* Structural invariants every graph must satisfy. */
static void check_invariants(const struct ps_graph *g)
{
	for (uint32_t i = 0; i < g->ntasks; i++) {
		const struct ps_task *t = &g->tasks[i];
		assert_int_equal(t->id, i);
		assert_true((int)t->rank < g->nranks);
		for (uint32_t k = 0; k < t->ndeps; k++) {
			uint32_t d = g->deps[t->dep_first + k];
			assert_true(d < i);
			assert_int_equal(g->tasks[d].rank, t->rank);
		}
		if (t->kind == TASK_SEND || t->kind == TASK_RECV) {
			assert_int_equal(t->stream, STREAM_PP);
			const struct ps_task *o = &g->tasks[t->match];
			assert_int_equal(o->match, i);
			assert_int_equal(o->kind, t->kind == TASK_SEND ? TASK_RECV : TASK_SEND);
			assert_int_equal(o->u.p2p.peer, (int)t->rank);
			assert_int_equal(t->u.p2p.peer, (int)o->rank);
			assert_int_equal(o->u.p2p.tag, t->u.p2p.tag);
			assert_true(o->u.p2p.bytes == t->u.p2p.bytes);
			assert_int_equal(o->microbatch, t->microbatch);
		}
		if (t->kind == TASK_COLL) {
			const struct ps_task *l = &g->tasks[t->match];
			assert_true(t->match <= i || g->tasks[t->match].rank < t->rank);
			assert_int_equal(l->match, t->match);
			assert_int_equal(l->u.coll.op, t->u.coll.op);
			assert_int_equal(l->u.coll.group, t->u.coll.group);
			assert_true(l->u.coll.bytes == t->u.coll.bytes);
			assert_true(t->stream != STREAM_COMPUTE && t->stream != STREAM_PP);
			struct ps_group_desc gd;
			graph_task_group(g, t, &gd);
			assert_int_equal(gd.size, t->u.coll.group_size);
		}
		if (t->kind == TASK_KERNEL)
			assert_int_equal(t->stream, STREAM_COMPUTE);
	}
	assert_int_equal(play(g), g->ntasks);
}

/* ------------------------------------------------ tests */

static void test_flops_sum_matches_closed_form(void **state)
{
	(void)state;
	struct {
		int dp, tp, pp, vpp, cp, mb, gb, sp, rec, par, llama, sched;
	} cases[] = {
		{1, 1, 1, 1, 1, 1, 4, 0, RECOMPUTE_NONE, 0, 0, SCHED_1F1B},
		{2, 2, 2, 1, 1, 1, 8, 1, RECOMPUTE_SELECTIVE, 0, 0, SCHED_1F1B},
		{1, 4, 2, 1, 1, 2, 8, 0, RECOMPUTE_FULL, 0, 0, SCHED_GPIPE},
		{1, 2, 2, 2, 1, 1, 8, 1, RECOMPUTE_FULL, 1, 0, SCHED_INTERLEAVED},
		{2, 1, 1, 1, 2, 1, 4, 0, RECOMPUTE_NONE, 0, 1, SCHED_1F1B},
		{1, 2, 4, 2, 1, 1, 8, 1, RECOMPUTE_SELECTIVE, 0, 1, SCHED_INTERLEAVED},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct ps_model m;
		if (cases[c].llama)
			fx_llama(&m, "tiny-llama", 8, 64, 4, 2, 176, 32, 128);
		else
			fx_gpt(&m, "tiny", 8, 64, 4, 32, 128);
		m.parallel_block = cases[c].par;
		int world = cases[c].dp * cases[c].tp * cases[c].pp * cases[c].cp;
		struct ps_scenario sc;
		fx_scenario(&sc, &m, 1, world, cases[c].dp, cases[c].tp, cases[c].pp, cases[c].mb, cases[c].gb);
		sc.strategy.vpp = cases[c].vpp;
		sc.strategy.cp = cases[c].cp;
		sc.strategy.sequence_parallel = cases[c].sp;
		sc.strategy.recompute = cases[c].rec;
		sc.strategy.schedule = cases[c].sched;
		struct ps_flop_count fc;
		flops_step(&m, &sc.strategy, sc.strategy.global_batch, &fc);
		for (int fold = 0; fold <= 1; fold++) {
			struct ps_graph *g = build(&sc, fold);
			check_invariants(g);
			double fb, rec;
			flops_by_phase(g, &fb, &rec);
			assert_close(fb, fc.model, 1e-12);
			assert_close(rec, fc.recompute, 1e-12);
			graph_free(g);
		}
	}
}

static int count_ops(const struct ps_graph *g, int rank, int kind, int op_or_coll, int phase)
{
	int n = 0;
	for (uint32_t i = 0; i < g->ntasks; i++) {
		const struct ps_task *t = &g->tasks[i];
		if ((int)t->rank != rank || t->kind != kind || (phase >= 0 && t->phase != phase))
			continue;
		if (kind == TASK_KERNEL && (int)t->u.kernel.op != op_or_coll)
			continue;
		if (kind == TASK_COLL && (int)t->u.coll.op != op_or_coll)
			continue;
		n++;
	}
	return n;
}

static int count_tp(const struct ps_graph *g, int rank, int op, int phase)
{
	int n = 0;
	for (uint32_t i = 0; i < g->ntasks; i++) {
		const struct ps_task *t = &g->tasks[i];
		if ((int)t->rank == rank && t->kind == TASK_COLL && t->u.coll.group == GROUP_TP && (int)t->u.coll.op == op &&
		    t->phase == phase && t->layer >= 0)
			n++;
	}
	return n;
}

static void test_megatron_layout_counts(void **state)
{
	(void)state;
	struct ps_scenario sc;
	small(&sc, 1, 4, 1, 1, 3); /* tp 4, one stage, m = 3 */
	int m = 3, L = 8;
	struct ps_graph *g = build(&sc, 1);
	check_invariants(g);
	assert_int_equal(g->nranks, 1);
	assert_int_equal(g->ranks[0].multiplicity, 4);
	/* 4 GEMMs per block + logits; backward the same */
	assert_int_equal(count_ops(g, 0, TASK_KERNEL, OP_MATMUL_FWD, PHASE_FWD), m * (4 * L + 1));
	assert_int_equal(count_ops(g, 0, TASK_KERNEL, OP_MATMUL_BWD, PHASE_BWD), m * (4 * L + 1));
	assert_int_equal(count_ops(g, 0, TASK_KERNEL, OP_ATTN_FWD, -1), m * L);
	assert_int_equal(count_ops(g, 0, TASK_KERNEL, OP_NORM_FWD, -1), m * (2 * L + 1));
	assert_int_equal(count_ops(g, 0, TASK_KERNEL, OP_EMBED_FWD, -1), m);
	assert_int_equal(count_ops(g, 0, TASK_KERNEL, OP_XENT_BWD, -1), m);
	assert_int_equal(count_ops(g, 0, TASK_KERNEL, OP_ADAMW, -1), 1);
	/* two all-reduces per block forward and two in backward */
	assert_int_equal(count_tp(g, 0, COLL_ALLREDUCE, PHASE_FWD), 2 * L * m);
	assert_int_equal(count_tp(g, 0, COLL_ALLREDUCE, PHASE_BWD), 2 * L * m);
	graph_free(g);
	/* sequence parallel: RS + AG instead (and the AG of the GEMM inputs again in backward) */
	sc.strategy.sequence_parallel = true;
	g = build(&sc, 1);
	check_invariants(g);
	assert_int_equal(count_tp(g, 0, COLL_ALLREDUCE, PHASE_FWD), 0);
	assert_int_equal(count_tp(g, 0, COLL_REDUCESCATTER, PHASE_FWD), 2 * L * m);
	assert_int_equal(count_tp(g, 0, COLL_ALLGATHER, PHASE_FWD), 2 * L * m);
	assert_int_equal(count_tp(g, 0, COLL_REDUCESCATTER, PHASE_BWD), 2 * L * m);
	assert_int_equal(count_tp(g, 0, COLL_ALLGATHER, PHASE_BWD), 4 * L * m);
	/* norms run on the sequence shard */
	for (uint32_t i = 0; i < g->ntasks; i++)
		if (g->tasks[i].kind == TASK_KERNEL && g->tasks[i].u.kernel.op == OP_NORM_FWD)
			assert_int_equal(graph_task_kcall(g, &g->tasks[i])->shape.M, 32 / 4);
	graph_free(g);
	/* parallel block: one all-reduce per block */
	sc.strategy.sequence_parallel = false;
	sc.strategy.parallel_block = true;
	g = build(&sc, 1);
	check_invariants(g);
	assert_int_equal(count_tp(g, 0, COLL_ALLREDUCE, PHASE_FWD), L * m);
	assert_int_equal(count_ops(g, 0, TASK_KERNEL, OP_NORM_FWD, -1), m * (L + 1));
	graph_free(g);
	/* full recompute re-runs each block's forward, with its all-reduces */
	sc.strategy.parallel_block = false;
	sc.strategy.recompute = RECOMPUTE_FULL;
	g = build(&sc, 1);
	check_invariants(g);
	assert_int_equal(count_tp(g, 0, COLL_ALLREDUCE, PHASE_RECOMPUTE), 2 * L * m);
	assert_int_equal(count_ops(g, 0, TASK_KERNEL, OP_MATMUL_FWD, PHASE_RECOMPUTE), 4 * L * m);
	graph_free(g);
	sc.strategy.recompute = RECOMPUTE_SELECTIVE;
	g = build(&sc, 1);
	assert_int_equal(count_ops(g, 0, TASK_KERNEL, OP_ATTN_FWD, PHASE_RECOMPUTE), L * m);
	assert_int_equal(count_ops(g, 0, TASK_KERNEL, OP_MATMUL_FWD, PHASE_RECOMPUTE), 0);
	graph_free(g);
}

/* The (phase, micro-batch, chunk) sequence of a rank's compute tasks, each
 * run of equal values collapsed, follows the schedule. */
static void test_compute_follows_schedule(void **state)
{
	(void)state;
	const ps_schedule kinds[] = {SCHED_GPIPE, SCHED_1F1B, SCHED_INTERLEAVED};
	for (int k = 0; k < 3; k++) {
		struct ps_scenario sc;
		small(&sc, 1, 1, 4, 1, 8);
		sc.strategy.schedule = kinds[k];
		sc.strategy.vpp = kinds[k] == SCHED_INTERLEAVED ? 2 : 1;
		struct ps_graph *g = build(&sc, 1);
		check_invariants(g);
		int n = schedule_length(8, sc.strategy.vpp);
		struct ps_sched_item *it = malloc(sizeof *it * (size_t)n);
		for (int s = 0; s < 4; s++) {
			schedule_stage(kinds[k], 4, sc.strategy.vpp, 8, s, it);
			int pos = -1, pmb = -2, pch = -2, pph = -2;
			for (uint32_t i = 0; i < g->ntasks; i++) {
				const struct ps_task *t = &g->tasks[i];
				if ((int)t->rank != s || t->stream != STREAM_COMPUTE || t->phase == PHASE_OPTIMIZER)
					continue;
				int ph = t->phase == PHASE_FWD ? SCHED_ITEM_FWD : SCHED_ITEM_BWD;
				if (t->microbatch != pmb || t->chunk != pch || ph != pph) {
					pos++;
					assert_true(pos < n);
					assert_int_equal(ph, it[pos].dir);
					assert_int_equal(t->microbatch, it[pos].microbatch);
					assert_int_equal(t->chunk, it[pos].chunk);
					pmb = t->microbatch;
					pch = t->chunk;
					pph = ph;
				}
			}
			assert_int_equal(pos, n - 1);
		}
		/* p2p: each stage receives m*vpp activations except virtual stage 0 */
		int recvs = 0;
		for (uint32_t i = 0; i < g->ntasks; i++)
			recvs += g->tasks[i].kind == TASK_RECV;
		assert_int_equal(recvs, 2 * 8 * (4 * sc.strategy.vpp - 1));
		free(it);
		graph_free(g);
	}
}

/* Gradient bytes reduced on each representative. */
static double reduced_grad_bytes(const struct ps_graph *g, int rank, int *n)
{
	double s = 0;
	*n = 0;
	for (uint32_t i = 0; i < g->ntasks; i++) {
		const struct ps_task *t = &g->tasks[i];
		if ((int)t->rank == rank && t->kind == TASK_COLL && t->comm == COMM_DP && t->u.coll.group != GROUP_WORLD &&
		    t->u.coll.group != GROUP_EMBED) {
			s += t->u.coll.bytes;
			(*n)++;
		}
	}
	return s;
}

static void test_data_parallel_reduction(void **state)
{
	(void)state;
	struct ps_scenario sc;
	small(&sc, 4, 1, 2, 1, 16); /* m = 4 */
	sc.strategy.grad_dtype = DTYPE_FP32;
	struct ps_mem_breakdown mb;
	for (int zero = 0; zero <= 3; zero++)
		for (int ovl = 0; ovl <= 1; ovl++) {
			sc.strategy.zero_stage = zero;
			sc.strategy.overlap_grad_reduce = ovl;
			sc.strategy.overlap_param_gather = ovl;
			sc.strategy.bucket_bytes = 1; /* one bucket per unit */
			struct ps_graph *g = build(&sc, 1);
			check_invariants(g);
			for (int s = 0; s < 2; s++) {
				memory_rank(&sc, s, &mb);
				int n;
				double bytes = reduced_grad_bytes(g, s, &n);
				int per_mb = zero >= 2 ? 4 : 1;
				assert_close(bytes, mb.params_local * 4.0 * per_mb, 1e-12);
				assert_int_equal(n, per_mb * (4 + 1)); /* 4 blocks + embedding or head */
				for (uint32_t i = 0; i < g->ntasks; i++) {
					const struct ps_task *t = &g->tasks[i];
					if ((int)t->rank != s || t->kind != TASK_COLL || t->comm != COMM_DP ||
					    t->u.coll.group == GROUP_WORLD || t->u.coll.group == GROUP_EMBED)
						continue;
					assert_int_equal(t->u.coll.op, zero >= 1 ? COLL_REDUCESCATTER : COLL_ALLREDUCE);
					assert_int_equal(t->u.coll.group_size, 4);
				}
				/* ZeRO-3 gathers each unit before its forward and backward, per micro-batch */
				int ag = 0;
				for (uint32_t i = 0; i < g->ntasks; i++)
					ag += (int)g->tasks[i].rank == s && g->tasks[i].comm == COMM_ZERO;
				if (zero == 3)
					assert_int_equal(ag, 2 * 4 * 5);
				else if (zero >= 1)
					assert_int_equal(ag, 5); /* the updated parameters, once per bucket */
				else
					assert_int_equal(ag, 0);
			}
			graph_free(g);
		}
	/* big buckets: one bucket per stage */
	sc.strategy.zero_stage = 0;
	sc.strategy.bucket_bytes = 1e12;
	struct ps_graph *g = build(&sc, 1);
	int n;
	reduced_grad_bytes(g, 0, &n);
	assert_int_equal(n, 1);
	graph_free(g);
}

static int same_task(const struct ps_graph *ga, const struct ps_task *a, const struct ps_graph *gb,
		     const struct ps_task *b)
{
	if (a->stream != b->stream || a->kind != b->kind || a->phase != b->phase || a->comm != b->comm ||
	    a->layer != b->layer || a->microbatch != b->microbatch || a->chunk != b->chunk || a->ndeps != b->ndeps ||
	    a->flops != b->flops)
		return 0;
	if (a->kind == TASK_KERNEL)
	{
		const struct ps_shape *x = &graph_task_kcall(ga, a)->shape, *y = &graph_task_kcall(gb, b)->shape;
		return a->u.kernel.op == b->u.kernel.op && x->M == y->M && x->N == y->N && x->K == y->K && x->B == y->B &&
		       x->T == y->T && x->C == y->C && x->NH == y->NH && x->KVH == y->KVH && x->HS == y->HS &&
		       x->V == y->V && x->n == y->n && x->variant == y->variant;
	}
	if (a->kind == TASK_COLL)
		return a->u.coll.op == b->u.coll.op && a->u.coll.group == b->u.coll.group &&
		       a->u.coll.group_size == b->u.coll.group_size && a->u.coll.bytes == b->u.coll.bytes;
	return a->u.p2p.bytes == b->u.p2p.bytes;
}

static void test_fold_equals_unfold_structure(void **state)
{
	(void)state;
	struct ps_scenario sc;
	small(&sc, 2, 2, 2, 1, 8);
	sc.strategy.sequence_parallel = true;
	sc.strategy.zero_stage = 1;
	struct ps_graph *f = build(&sc, 1), *u = build(&sc, 0);
	assert_int_equal(f->nranks, 2);
	assert_int_equal(u->nranks, 8);
	assert_int_equal(f->folded, 1);
	assert_int_equal(u->folded, 0);
	/* each real rank of stage s has the same task list as representative s */
	for (int r = 0; r < 8; r++) {
		int s = u->ranks[r].pp_stage;
		assert_int_equal(s, r / 4);
		assert_int_equal(u->ranks[r].tp_rank, r % 2);
		assert_int_equal(u->ranks[r].dp_rank, (r / 2) % 2);
		uint32_t i = 0, j = 0;
		for (;;) {
			while (i < f->ntasks && (int)f->tasks[i].rank != s)
				i++;
			while (j < u->ntasks && (int)u->tasks[j].rank != r)
				j++;
			if (i == f->ntasks || j == u->ntasks)
				break;
			if (!same_task(f, &f->tasks[i], u, &u->tasks[j]))
				print_error("rank %d: folded task %u (%s ndeps %u) != unfolded %u (%s ndeps %u)\n", r, i,
					    graph_task_name(&f->tasks[i]), f->tasks[i].ndeps, j, graph_task_name(&u->tasks[j]),
					    u->tasks[j].ndeps);
			assert_true(same_task(f, &f->tasks[i], u, &u->tasks[j]));
			i++;
			j++;
		}
		assert_int_equal(i, f->ntasks);
		assert_int_equal(j, u->ntasks);
	}
	/* folded: TP/DP collectives are local to their representative */
	for (uint32_t i = 0; i < f->ntasks; i++)
		if (f->tasks[i].kind == TASK_COLL && f->tasks[i].u.coll.group != GROUP_WORLD &&
		    f->tasks[i].u.coll.group != GROUP_EMBED)
			assert_int_equal(f->tasks[i].match, i);
	graph_free(f);
	graph_free(u);
	/* stragglers unfold the graph */
	sc.cluster.nperturb = 1;
	sc.cluster.perturb[0].rank = 5;
	sc.cluster.perturb[0].slowdown = 1.5;
	f = build(&sc, 1);
	assert_int_equal(f->folded, 0);
	assert_int_equal(f->nranks, 8);
	assert_true(f->ranks[5].slowdown == 1.5);
	assert_true(f->ranks[4].slowdown == 1.0);
	graph_free(f);
}

static void test_p2p_and_groups(void **state)
{
	(void)state;
	struct ps_scenario sc;
	small(&sc, 2, 2, 2, 1, 4);
	sc.strategy.sequence_parallel = true;
	struct ps_graph *g = build(&sc, 0);
	for (uint32_t i = 0; i < g->ntasks; i++) {
		const struct ps_task *t = &g->tasks[i];
		if (t->kind == TASK_SEND) {
			/* activations of micro_batch * s * h / tp elements, bf16 */
			assert_true(t->u.p2p.bytes == 1.0 * 32 * 64 / 2 * 2);
			/* the peer has the same tp and dp coordinates, the other stage */
			assert_int_equal(g->ranks[t->u.p2p.peer].tp_rank, g->ranks[t->rank].tp_rank);
			assert_int_equal(g->ranks[t->u.p2p.peer].dp_rank, g->ranks[t->rank].dp_rank);
			assert_int_not_equal(g->ranks[t->u.p2p.peer].pp_stage, g->ranks[t->rank].pp_stage);
		}
		if (t->kind == TASK_COLL) {
			struct ps_group_desc gd;
			graph_task_group(g, t, &gd);
			/* the rank is a member of the described group set */
			int r = g->ranks[t->rank].global_rank, member = 0;
			for (int c = 0; c < (gd.concurrent > 1 ? gd.concurrent : 1); c++)
				for (int k = 0; k < gd.size; k++)
					member |= gd.first_rank + c * gd.concurrent_stride + k * gd.stride == r;
			assert_true(member);
			/* the collective's instance has exactly group_size participants */
			int parts = 0;
			for (uint32_t j = 0; j < g->ntasks; j++)
				parts += g->tasks[j].kind == TASK_COLL && g->tasks[j].match == t->match;
			assert_int_equal(parts, t->u.coll.group_size);
		}
	}
	graph_free(g);
}

static void test_skip_options_and_errors(void **state)
{
	(void)state;
	struct ps_scenario sc;
	small(&sc, 1, 1, 4, 1, 8);
	struct ps_graph_opts o = {.fold = 1, .skip_embed_loss = 1, .skip_optimizer = 1, .skip_dp = 1};
	struct ps_graph *g = NULL;
	assert_int_equal(graph_build_opts(&sc, &o, &g), PS_OK);
	check_invariants(g);
	/* uniform stages: the same number of compute tasks everywhere */
	int n0 = 0;
	for (uint32_t i = 0; i < g->ntasks; i++)
		n0 += g->tasks[i].rank == 0 && g->tasks[i].stream == STREAM_COMPUTE;
	for (int s = 1; s < 4; s++) {
		int n = 0;
		for (uint32_t i = 0; i < g->ntasks; i++)
			n += (int)g->tasks[i].rank == s && g->tasks[i].stream == STREAM_COMPUTE;
		assert_int_equal(n, n0);
	}
	assert_int_equal(count_ops(g, 0, TASK_KERNEL, OP_EMBED_FWD, -1), 0);
	assert_int_equal(count_ops(g, 3, TASK_KERNEL, OP_ADAMW, -1), 0);
	graph_free(g);
	/* inconsistent layouts are errors */
	sc.strategy.dp = 2;
	assert_int_equal(graph_build(&sc, 1, &g), PS_ERR_INVALID);
	assert_null(g);
	sc.strategy.dp = 1;
	sc.strategy.tp = 3;
	sc.strategy.pp = 1;
	sc.cluster.devices_per_node = 3;
	assert_int_equal(graph_build(&sc, 1, &g), PS_ERR_INVALID);
	small(&sc, 1, 1, 4, 1, 6);
	sc.strategy.schedule = SCHED_INTERLEAVED;
	sc.strategy.vpp = 2;
	assert_int_equal(graph_build(&sc, 1, &g), PS_ERR_INVALID); /* m = 6 not a multiple of pp */
	small(&sc, 1, 1, 3, 1, 6);
	assert_int_equal(graph_build(&sc, 1, &g), PS_ERR_INVALID); /* 8 layers over 3 stages */
	assert_string_equal(stream_name(STREAM_TP), "tp");
	assert_string_equal(coll_op_name(COLL_REDUCESCATTER), "reducescatter");
	assert_string_equal(comm_kind_name(COMM_ZERO), "zero");
}

static void test_zero3_prefetch_order(void **state)
{
	(void)state;
	/* with prefetch, the all-gather of unit k+1 depends on the first kernel of
	 * unit k; without, on its last */
	struct ps_scenario sc;
	small(&sc, 2, 1, 1, 1, 2);
	sc.strategy.zero_stage = 3;
	for (int pf = 0; pf <= 1; pf++) {
		sc.strategy.overlap_param_gather = pf;
		struct ps_graph *g = build(&sc, 1);
		check_invariants(g);
		int checked = 0;
		for (uint32_t i = 0; i < g->ntasks; i++) {
			const struct ps_task *t = &g->tasks[i];
			if (t->comm != COMM_ZERO || t->ndeps != 1 || t->phase != PHASE_FWD || t->microbatch != 0)
				continue;
			const struct ps_task *d = &g->tasks[g->deps[t->dep_first]];
			if (d->layer < 0 || d->stream != STREAM_COMPUTE)
				continue;
			if (pf)
				assert_int_equal(d->u.kernel.op, OP_NORM_FWD); /* first kernel of a block */
			else
				assert_int_equal(d->u.kernel.op, OP_RESIDUAL_FWD); /* last kernel of a block */
			checked++;
		}
		assert_true(checked >= 7);
		graph_free(g);
	}
}

/* graph_kcall interns (op, shape, dtype): equal calls share an index, any
 * differing field gives a new one, and indices survive the table's growth;
 * graph_add refuses a kernel task whose call is missing or disagrees. */
static void test_kcall_interning(void **state)
{
	(void)state;
	struct ps_graph *g = graph_alloc();
	assert_non_null(g);
	struct ps_shape s;
	memset(&s, 0, sizeof s);
	s.M = 64, s.N = 128, s.K = 32;
	uint32_t a = graph_kcall(g, OP_MATMUL_FWD, &s, DTYPE_BF16);
	assert_int_equal(a, 0);
	assert_int_equal(graph_kcall(g, OP_MATMUL_FWD, &s, DTYPE_BF16), a);
	assert_int_not_equal(graph_kcall(g, OP_MATMUL_BWD, &s, DTYPE_BF16), a);
	assert_int_not_equal(graph_kcall(g, OP_MATMUL_FWD, &s, DTYPE_FP32), a);
	/* every shape field tells calls apart */
	int64_t *fld[] = {&s.M, &s.N, &s.K, &s.B, &s.T, &s.C, &s.NH, &s.KVH, &s.HS, &s.V, &s.n};
	for (size_t i = 0; i < sizeof fld / sizeof *fld; i++) {
		struct ps_shape t = s;
		*(int64_t *)((char *)&t + ((char *)fld[i] - (char *)&s)) += 1;
		uint32_t c = graph_kcall(g, OP_MATMUL_FWD, &t, DTYPE_BF16);
		assert_true(c != a && c < g->ncalls);
		assert_int_equal(g->calls[c].shape.M, t.M);
		assert_int_equal(graph_kcall(g, OP_MATMUL_FWD, &t, DTYPE_BF16), c);
	}
	struct ps_shape v = s;
	v.variant = 1;
	assert_int_not_equal(graph_kcall(g, OP_MATMUL_FWD, &v, DTYPE_BF16), a);
	/* many distinct calls: the table grows and keeps every index */
	uint32_t first = g->ncalls;
	for (int i = 0; i < 5000; i++) {
		struct ps_shape t = s;
		t.n = 1000 + i;
		assert_int_equal(graph_kcall(g, OP_ADAMW, &t, DTYPE_FP32), first + (uint32_t)i);
	}
	for (int i = 0; i < 5000; i += 7) {
		struct ps_shape t = s;
		t.n = 1000 + i;
		assert_int_equal(graph_kcall(g, OP_ADAMW, &t, DTYPE_FP32), first + (uint32_t)i);
		assert_int_equal(g->calls[first + (uint32_t)i].shape.n, 1000 + i);
	}
	assert_int_equal(graph_kcall(g, OP_MATMUL_FWD, &s, DTYPE_BF16), a);
	assert_int_equal(graph_kcall(g, OP_MATMUL_FWD, &s, -1), UINT32_MAX);
	/* graph_add checks a kernel task's call */
	struct ps_task t;
	memset(&t, 0, sizeof t);
	t.kind = TASK_KERNEL;
	t.u.kernel.op = OP_MATMUL_FWD;
	t.u.kernel.dtype = DTYPE_BF16;
	t.u.kernel.call = a;
	assert_int_equal(graph_add(g, &t, NULL, 0), 0);
	t.u.kernel.call = g->ncalls;
	assert_int_equal(graph_add(g, &t, NULL, 0), UINT32_MAX);
	t.u.kernel.call = a;
	t.u.kernel.op = OP_MATMUL_BWD;
	assert_int_equal(graph_add(g, &t, NULL, 0), UINT32_MAX);
	t.u.kernel.op = OP_MATMUL_FWD;
	t.u.kernel.dtype = DTYPE_FP32;
	assert_int_equal(graph_add(g, &t, NULL, 0), UINT32_MAX);
	assert_int_equal(g->ntasks, 1);
	graph_free(g);
}

/* A built step stores each distinct kernel call once, and every kernel
 * task's call repeats its op and dtype. */
static void test_kcall_built(void **state)
{
	(void)state;
	struct ps_scenario sc;
	small(&sc, 2, 2, 2, 1, 8);
	struct ps_graph *g = build(&sc, 1);
	uint32_t nk = 0;
	for (uint32_t i = 0; i < g->ntasks; i++) {
		const struct ps_task *t = &g->tasks[i];
		if (t->kind != TASK_KERNEL)
			continue;
		nk++;
		assert_true(t->u.kernel.call < g->ncalls);
		assert_int_equal(graph_task_kcall(g, t)->op, t->u.kernel.op);
		assert_int_equal(graph_task_kcall(g, t)->dtype, t->u.kernel.dtype);
	}
	assert_true(g->ncalls > 0 && g->ncalls < nk);
	for (uint32_t c = 0; c < g->ncalls; c++)
		for (uint32_t e = c + 1; e < g->ncalls; e++)
			assert_true(g->calls[c].op != g->calls[e].op || g->calls[c].dtype != g->calls[e].dtype ||
				    memcmp(&g->calls[c].shape, &g->calls[e].shape,
					   offsetof(struct ps_shape, variant) + sizeof(int)) != 0);
	graph_free(g);
}

/* Tied embeddings over a pipeline: stage 0 and the last stage each sum
 * their embedding gradients once per step — one all-reduce of the
 * vocabulary shard x hidden in the gradient dtype over a group of 2, after
 * the data-parallel reduction and before the optimizer; none on the middle
 * stages, without a pipeline or with untied embeddings.  The two tasks are
 * one collective (same match), folded or not, and the group is ranks
 * stage 0 and stage pp-1 of one (tp, dp) coordinate. */
static void test_tied_embedding_allreduce(void **state)
{
	(void)state;
	for (int tied = 0; tied <= 1; tied++)
		for (int pp = 1; pp <= 4; pp *= 2)
			for (int fold = 0; fold <= 1; fold++) {
				struct ps_scenario sc;
				small(&sc, 2, 2, pp, 1, 8);
				sc.model.tied_embeddings = tied;
				sc.strategy.grad_dtype = DTYPE_FP32;
				struct ps_graph *g = build(&sc, fold);
				check_invariants(g);
				int n = 0;
				uint32_t lead = UINT32_MAX;
				for (uint32_t i = 0; i < g->ntasks; i++) {
					const struct ps_task *t = &g->tasks[i];
					if (t->kind != TASK_COLL || t->u.coll.group != GROUP_EMBED)
						continue;
					n++;
					int stage = g->ranks[t->rank].pp_stage;
					assert_true(stage == 0 || stage == pp - 1);
					assert_int_equal(t->u.coll.op, COLL_ALLREDUCE);
					assert_int_equal(t->u.coll.group_size, 2);
					assert_int_equal(t->comm, COMM_DP);
					assert_int_equal(t->stream, STREAM_DP);
					assert_close(t->u.coll.bytes, (128.0 / 2) * 64 * 4, 1e-15);
					if (fold) { /* one instance: both stages name the same leader */
						if (lead == UINT32_MAX)
							lead = t->match;
						assert_int_equal(t->match, lead);
					}
					/* the optimizer of the rank waits for it */
					int waited = 0;
					for (uint32_t j = i + 1; j < g->ntasks && !waited; j++) {
						const struct ps_task *u = &g->tasks[j];
						if (u->rank != t->rank || u->kind != TASK_KERNEL)
							continue;
						assert_int_equal(u->phase, PHASE_OPTIMIZER);
						for (uint32_t k = 0; k < u->ndeps; k++)
							waited |= g->deps[u->dep_first + k] == i;
						break;
					}
					assert_true(waited);
					struct ps_group_desc gd;
					graph_task_group(g, t, &gd);
					assert_int_equal(gd.size, 2);
					assert_int_equal(gd.stride, (pp - 1) * 2 * 2);
				}
				/* folded: one representative per stage; unfolded: tp * dp per stage */
				int want = tied && pp > 1 ? 2 * (fold ? 1 : 4) : 0;
				assert_int_equal(n, want);
				graph_free(g);
			}
}

/* Sequence parallelism: each rank sums its norms' gradients over the TP
 * group once per step before the optimizer — 2 layernorms (scale and bias,
 * 2h each) per block, plus the final norm on the last stage, in the
 * gradient dtype; nothing without SP or without TP. */
static void test_sp_norm_allreduce(void **state)
{
	(void)state;
	for (int sp = 0; sp <= 1; sp++)
		for (int tp = 1; tp <= 4; tp *= 4)
			for (int pp = 1; pp <= 2; pp++) {
				struct ps_scenario sc;
				small(&sc, 1, tp, pp, 1, 8);
				sc.strategy.sequence_parallel = sp;
				sc.strategy.grad_dtype = DTYPE_FP32;
				struct ps_graph *g = build(&sc, 1);
				check_invariants(g);
				for (int r = 0; r < g->nranks; r++) {
					int n = 0;
					double bytes = 0;
					for (uint32_t i = 0; i < g->ntasks; i++) {
						const struct ps_task *t = &g->tasks[i];
						if ((int)t->rank == r && t->kind == TASK_COLL && t->phase == PHASE_OPTIMIZER &&
						    t->u.coll.group == GROUP_TP) {
							n++;
							bytes = t->u.coll.bytes;
							assert_int_equal(t->u.coll.op, COLL_ALLREDUCE);
							assert_int_equal(t->comm, COMM_TP);
						}
					}
					assert_int_equal(n, sp && tp > 1 ? 1 : 0);
					if (n) {
						int stage = g->ranks[r].pp_stage;
						double want = (8.0 / pp) * 2 * (2 * 64) + (stage == pp - 1 ? 2 * 64 : 0);
						assert_close(bytes, want * 4, 1e-15);
					}
				}
				graph_free(g);
			}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flops_sum_matches_closed_form),
		cmocka_unit_test(test_kcall_interning),
		cmocka_unit_test(test_tied_embedding_allreduce),
		cmocka_unit_test(test_sp_norm_allreduce),
		cmocka_unit_test(test_kcall_built),
		cmocka_unit_test(test_megatron_layout_counts),
		cmocka_unit_test(test_compute_follows_schedule),
		cmocka_unit_test(test_data_parallel_reduction),
		cmocka_unit_test(test_fold_equals_unfold_structure),
		cmocka_unit_test(test_p2p_and_groups),
		cmocka_unit_test(test_skip_options_and_errors),
		cmocka_unit_test(test_zero3_prefetch_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
