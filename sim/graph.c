/* graph.c — the step graph builder: one training step, per rank, as tasks
 * on streams with dependencies (doc/step-graph.md describes the graph).
 *
 * For every representative rank it walks the rank's pipeline schedule
 * (schedule.c) and emits, per (micro-batch, chunk): the receive of the
 * input, the forward or backward tasks of the chunk's blocks with their
 * tensor-parallel collectives (Megatron layout, sequence parallelism,
 * parallel blocks, recomputation), the embedding or the output layer and
 * loss on the first and last virtual stages, the send of the output; the
 * data-parallel gradient reduction in buckets (or per block for ZeRO-3,
 * with the parameter all-gathers); then gradient clipping and the
 * optimizer step.  Sends and receives are matched and collectives are tied
 * to their instance across representatives after all ranks are built.
 *
 * With tied embeddings over a pipeline, the first and last stages sum
 * their embedding gradients before the optimizer (GROUP_EMBED).
 *
 * It does not price anything (the simulator does) and does not emit memory
 * events (the memory model is analytic, memory.c). */
#include "config.h"
#include "graph.h"
#include "flops.h"
#include "fold.h"
#include "net.h"
#include "schedule.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NONE UINT32_MAX

/* Position of a rank in the tp-cp-dp-pp layout. */
static void rank_coords(const struct ps_strategy *st, int r, int *tpr, int *cpr, int *dpr, int *stage)
{
	*tpr = r % st->tp;
	r /= st->tp;
	*cpr = r % st->cp;
	r /= st->cp;
	*dpr = r % st->dp;
	*stage = r / st->dp;
}

/* Compute time multiplier of real rank r (stragglers), 1 = none. */
static double rank_slowdown(const struct ps_scenario *sc, int r)
{
	double s = 1.0;
	for (int k = 0; k < sc->cluster.nperturb && k < PS_MAX_PERTURB; k++)
		if (sc->cluster.perturb[k].rank == r && sc->cluster.perturb[k].slowdown > 0)
			s = sc->cluster.perturb[k].slowdown;
	return s;
}

/* --------------------------------------------------------------- builder */

enum { UNIT_EMBED = -1 }; /* unit slots: -1 embedding, 0..Lc-1 blocks, Lc head */

struct pp_op;

struct bld {
	const struct ps_scenario *sc;
	struct ps_graph_opts o;
	struct ps_graph *g;
	int tp, pp, dp, cp, vpp, nvs, m, mb, Lc, world, per_stage;
	int sp, par, rec, zero, distopt, swiglu, bias, rms;
	int tpc, ovl_tp;                   /* tp > 1; overlap TP comm with GEMMs */
	int64_t M, Mn, h, a, gkv, d, f, up, NHl, KVHl, Tl, s, Vl;
	ps_dtype dt;
	double e, ge;                      /* element bytes of activations/params and of gradients */
	double shard;                      /* ZeRO / distributed-optimizer shard degree dp*cp */
	ps_group_kind dpgroup;
	struct ps_param_local pl;
	int failed;
	/* current rank */
	int rank, stage;
	int *class_of;                     /* (world) representative of each real rank */
	uint32_t last_comp;                /* last compute task of the rank */
	uint32_t wait[16];                 /* what the next compute task waits for */
	int nwait;
	ps_phase phase;
	int cur_layer, cur_mb, cur_chunk;
	/* p2p matching, by key ((rank*2 + dir)*vpp + chunk)*m + mb */
	uint32_t *p2p_send, *p2p_recv;
	/* buckets: per chunk, slot -> bucket; bucket params; AG ids */
	int nslots, *slot_bucket;          /* (vpp * nslots) */
	int nbuckets;                      /* per rank, over all chunks */
	double *bucket_params;             /* (vpp * nslots) */
	int *bucket_last_slot;             /* (vpp * nslots) slot that completes the bucket in backward order */
	uint32_t *bucket_ag;               /* (vpp * nslots) param all-gather ids (ZeRO-1/2 overlap) */
	int *slots;                        /* (nslots) units of one pass */
	/* order of the PP stream (see pp_play) */
	int64_t *play_start, *play_end;    /* (pp * items) item times of the play */
	int64_t *msg_time;                 /* (2 * nvs * m) by (dir, sender vs, mb) */
	struct pp_op *ops;                 /* (2 * items) current stage's PP operations, sorted */
	int nops;
	uint32_t *recv_of_item;            /* (items) */
	int internal;                      /* a builder bug: a receive not posted in time, too many waits */
	uint32_t last_dp;                  /* last task on the DP stream */
};

static uint32_t add(struct bld *b, const struct ps_task *t, const uint32_t *deps, uint32_t n)
{
	if (b->failed)
		return NONE;
	uint32_t id = graph_add(b->g, t, deps, n);
	if (id == NONE)
		b->failed = 1;
	return id;
}

static void task_base(struct bld *b, struct ps_task *t, ps_stream s, ps_task_kind k)
{
	memset(t, 0, sizeof *t);
	t->rank = (uint32_t)b->rank;
	t->stream = (uint8_t)s;
	t->kind = (uint8_t)k;
	t->phase = (uint8_t)b->phase;
	t->comm = COMM_NONE;
	t->layer = (int16_t)b->cur_layer;
	t->microbatch = (int16_t)b->cur_mb;
	t->chunk = (int16_t)b->cur_chunk;
	t->match = NONE;
}

static void wait_on(struct bld *b, uint32_t id)
{
	if (id == NONE)
		return;
	if (b->nwait == (int)(sizeof b->wait / sizeof b->wait[0])) {
		b->internal = 1; /* more waits than any task needs: a builder bug */
		return;
	}
	b->wait[b->nwait++] = id;
}

/* A compute kernel; waits for everything queued by wait_on. */
static uint32_t kern(struct bld *b, ps_op op, struct ps_shape sh, double flops)
{
	struct ps_task t;
	task_base(b, &t, STREAM_COMPUTE, TASK_KERNEL);
	t.u.kernel.op = op;
	t.u.kernel.call = graph_kcall(b->g, op, &sh, b->dt);
	t.u.kernel.dtype = (uint8_t)b->dt;
	t.flops = flops;
	uint32_t id = add(b, &t, b->wait, (uint32_t)b->nwait);
	b->nwait = 0;
	b->last_comp = id;
	return id;
}

static uint32_t coll(struct bld *b, ps_stream s, ps_coll_op op, ps_group_kind grp, double bytes, ps_comm_kind kind,
		     uint32_t dep)
{
	struct ps_task t;
	task_base(b, &t, s, TASK_COLL);
	t.comm = (uint8_t)kind;
	t.u.coll.op = op;
	t.u.coll.group = grp;
	t.u.coll.bytes = bytes;
	t.u.coll.algo = (uint8_t)b->sc->strategy.coll_algo;
	switch (grp) {
	case GROUP_TP: t.u.coll.group_size = b->tp; break;
	case GROUP_DP: t.u.coll.group_size = b->dp; break;
	case GROUP_CP: t.u.coll.group_size = b->cp; break;
	case GROUP_DP_CP: t.u.coll.group_size = b->dp * b->cp; break;
	case GROUP_PP: t.u.coll.group_size = b->pp; break;
	case GROUP_WORLD: t.u.coll.group_size = b->world; break;
	case GROUP_EMBED: t.u.coll.group_size = b->pp > 1 ? 2 : 1; break;
	}
	uint32_t id = add(b, &t, &dep, 1);
	if (s == STREAM_DP)
		b->last_dp = id;
	return id;
}

/* ------------------------------------------------------------- shapes */

static struct ps_shape sh_rows(int64_t rows, int64_t C, int variant)
{
	struct ps_shape s = {0};
	s.M = rows;
	s.C = C;
	s.n = rows * C;
	s.variant = variant;
	return s;
}

static struct ps_shape sh_mm(int64_t M, int64_t N, int64_t K, int bias)
{
	struct ps_shape s = {0};
	s.M = M;
	s.N = N;
	s.K = K;
	s.variant = bias;
	return s;
}

static struct ps_shape sh_n(int64_t n)
{
	struct ps_shape s = {0};
	s.n = n;
	return s;
}

static double mm_flops(int64_t M, int64_t N, int64_t K) { return 2.0 * (double)M * (double)N * (double)K; }

/* ------------------------------------------------- tensor-parallel comm */

/* Bytes of the activation tensor (M x h) a TP collective moves. */
static double act_bytes(const struct bld *b) { return (double)b->M * b->h * b->e; }

/* The TP collective after a row-parallel GEMM (forward) or a column-parallel
 * GEMM's input gradient (backward): all-reduce, or reduce-scatter with SP.
 * `before` is the task preceding the GEMM, `gemm` the GEMM: with TP comm
 * overlap the collective runs alongside the GEMM (chunked overlap). */
static void tp_reduce(struct bld *b, uint32_t before, uint32_t gemm)
{
	if (!b->tpc)
		return;
	uint32_t dep = (b->ovl_tp && before != NONE) ? before : gemm;
	uint32_t c = coll(b, STREAM_TP, b->sp ? COLL_REDUCESCATTER : COLL_ALLREDUCE, GROUP_TP, act_bytes(b), COMM_TP, dep);
	wait_on(b, c);
}

/* With SP, the all-gather of the sequence shards in front of a
 * column-parallel GEMM (or of the gradient in front of a row-parallel
 * GEMM's backward).  Returns the id; the caller decides who waits. */
static uint32_t sp_gather(struct bld *b, uint32_t dep)
{
	if (!b->tpc || !b->sp)
		return NONE;
	return coll(b, STREAM_TP, COLL_ALLGATHER, GROUP_TP, act_bytes(b), COMM_TP, dep);
}

/* Gather in front of a GEMM: the GEMM waits, or with overlap the task after it. */
static void gemm_input_gather(struct bld *b, uint32_t *deferred)
{
	uint32_t ag = sp_gather(b, b->last_comp);
	if (ag == NONE)
		return;
	if (b->ovl_tp)
		*deferred = ag;
	else
		wait_on(b, ag);
}

/* ----------------------------------------------------------- one block */

static void attn_core_fwd(struct bld *b)
{
	struct ps_shape s = {0};
	s.B = b->mb;
	s.T = b->Tl;
	s.NH = b->NHl;
	s.KVH = b->KVHl;
	s.HS = b->d;
	/* with cp, the local queries meet cp blocks of keys (ring attention) */
	double fl = 4.0 * (double)b->mb * b->Tl * b->Tl * b->NHl * b->d;
	for (int i = 0; i < b->cp; i++)
		kern(b, OP_ATTN_FWD, s, fl);
}

static void attn_core_bwd(struct bld *b)
{
	struct ps_shape s = {0};
	s.B = b->mb;
	s.T = b->Tl;
	s.NH = b->NHl;
	s.KVH = b->KVHl;
	s.HS = b->d;
	double fl = 8.0 * (double)b->mb * b->Tl * b->Tl * b->NHl * b->d;
	for (int i = 0; i < b->cp; i++)
		kern(b, OP_ATTN_BWD, s, fl);
}

static double kv_bytes(const struct bld *b) { return (double)b->M * 2.0 * b->KVHl * b->d * b->e * b->cp; }

/* Forward of one block (also its recomputation, phase set by the caller). */
static void block_fwd(struct bld *b)
{
	int64_t qkvN = (b->NHl + 2 * b->KVHl) * b->d;
	int64_t fc1N = b->up * b->f / b->tp;
	uint32_t deferred = NONE, before;
	kern(b, OP_NORM_FWD, sh_rows(b->Mn, b->h, b->rms), 0);
	gemm_input_gather(b, &deferred);
	kern(b, OP_MATMUL_FWD, sh_mm(b->M, qkvN, b->h, b->bias), mm_flops(b->M, qkvN, b->h));
	wait_on(b, deferred);
	deferred = NONE;
	if (b->par) {
		kern(b, OP_MATMUL_FWD, sh_mm(b->M, fc1N, b->h, b->bias), mm_flops(b->M, fc1N, b->h));
	}
	if (b->cp > 1)
		wait_on(b, coll(b, STREAM_TP, COLL_ALLGATHER, GROUP_CP, kv_bytes(b), COMM_CP, b->last_comp));
	attn_core_fwd(b);
	if (b->par) {
		struct ps_shape a = sh_n(b->M * b->f / b->tp);
		if (b->swiglu) {
			a.M = b->M;
			a.N = b->f / b->tp;
		}
		kern(b, b->swiglu ? OP_SWIGLU_FWD : OP_GELU_FWD, a, 0);
	}
	before = b->last_comp;
	uint32_t gemm = kern(b, OP_MATMUL_FWD, sh_mm(b->M, b->h, b->NHl * b->d, b->bias), mm_flops(b->M, b->h, b->NHl * b->d));
	if (b->par) {
		gemm = kern(b, OP_MATMUL_FWD, sh_mm(b->M, b->h, b->f / b->tp, b->bias), mm_flops(b->M, b->h, b->f / b->tp));
		before = NONE; /* the reduction needs both partial sums */
	}
	tp_reduce(b, before, gemm);
	kern(b, OP_RESIDUAL_FWD, sh_n(b->Mn * b->h), 0);
	if (b->par)
		return;
	kern(b, OP_NORM_FWD, sh_rows(b->Mn, b->h, b->rms), 0);
	gemm_input_gather(b, &deferred);
	kern(b, OP_MATMUL_FWD, sh_mm(b->M, fc1N, b->h, b->bias), mm_flops(b->M, fc1N, b->h));
	wait_on(b, deferred);
	struct ps_shape a = sh_n(b->M * b->f / b->tp);
	if (b->swiglu) {
		a.M = b->M;
		a.N = b->f / b->tp;
	}
	kern(b, b->swiglu ? OP_SWIGLU_FWD : OP_GELU_FWD, a, 0);
	before = b->last_comp;
	gemm = kern(b, OP_MATMUL_FWD, sh_mm(b->M, b->h, b->f / b->tp, b->bias), mm_flops(b->M, b->h, b->f / b->tp));
	tp_reduce(b, before, gemm);
	kern(b, OP_RESIDUAL_FWD, sh_n(b->Mn * b->h), 0);
}

/* Backward of one block, mirroring block_fwd.  With SP, Megatron keeps the
 * sequence shard of each column-parallel GEMM's input and all-gathers it
 * again for the weight gradient; that gather is issued at the start of the
 * block half, overlapping the GEMMs before it. */
static void block_bwd(struct bld *b)
{
	int64_t qkvN = (b->NHl + 2 * b->KVHl) * b->d;
	int64_t fc1N = b->up * b->f / b->tp;
	struct ps_shape act = sh_n(b->M * b->f / b->tp);
	if (b->swiglu) {
		act.M = b->M;
		act.N = b->f / b->tp;
	}
	uint32_t before, gemm, regather;
	if (!b->par) {
		/* MLP half */
		kern(b, OP_RESIDUAL_BWD, sh_n(b->Mn * b->h), 0);
		regather = sp_gather(b, b->last_comp);          /* input of FC1, for its weight gradient */
		uint32_t ag = sp_gather(b, b->last_comp);       /* gradient of the RS output */
		wait_on(b, ag);
		kern(b, OP_MATMUL_BWD, sh_mm(b->M, b->h, b->f / b->tp, b->bias), 2 * mm_flops(b->M, b->h, b->f / b->tp));
		kern(b, b->swiglu ? OP_SWIGLU_BWD : OP_GELU_BWD, act, 0);
		wait_on(b, regather);
		before = b->last_comp;
		gemm = kern(b, OP_MATMUL_BWD, sh_mm(b->M, fc1N, b->h, b->bias), 2 * mm_flops(b->M, fc1N, b->h));
		tp_reduce(b, before, gemm);
		kern(b, OP_NORM_BWD, sh_rows(b->Mn, b->h, b->rms), 0);
	}
	/* attention half (or the whole parallel block) */
	kern(b, OP_RESIDUAL_BWD, sh_n(b->Mn * b->h), 0);
	regather = sp_gather(b, b->last_comp);
	wait_on(b, sp_gather(b, b->last_comp));
	if (b->par) {
		kern(b, OP_MATMUL_BWD, sh_mm(b->M, b->h, b->f / b->tp, b->bias), 2 * mm_flops(b->M, b->h, b->f / b->tp));
		kern(b, b->swiglu ? OP_SWIGLU_BWD : OP_GELU_BWD, act, 0);
	}
	kern(b, OP_MATMUL_BWD, sh_mm(b->M, b->h, b->NHl * b->d, b->bias), 2 * mm_flops(b->M, b->h, b->NHl * b->d));
	if (b->rec == RECOMPUTE_SELECTIVE) {
		ps_phase keep = b->phase;
		b->phase = PHASE_RECOMPUTE;
		attn_core_fwd(b);
		b->phase = keep;
	}
	attn_core_bwd(b);
	if (b->cp > 1)
		wait_on(b, coll(b, STREAM_TP, COLL_REDUCESCATTER, GROUP_CP, kv_bytes(b), COMM_CP, b->last_comp));
	wait_on(b, regather);
	before = b->last_comp;
	if (b->par) {
		kern(b, OP_MATMUL_BWD, sh_mm(b->M, fc1N, b->h, b->bias), 2 * mm_flops(b->M, fc1N, b->h));
		before = NONE;
	}
	gemm = kern(b, OP_MATMUL_BWD, sh_mm(b->M, qkvN, b->h, b->bias), 2 * mm_flops(b->M, qkvN, b->h));
	tp_reduce(b, before, gemm);
	kern(b, OP_NORM_BWD, sh_rows(b->Mn, b->h, b->rms), 0);
}

/* ------------------------------------------------- embedding and head */

static void embed_fwd(struct bld *b)
{
	struct ps_shape s = {0};
	s.B = b->mb;
	s.T = b->Tl;
	s.C = b->h;
	s.V = b->Vl;
	kern(b, OP_EMBED_FWD, s, 0);
	/* vocabulary-parallel embedding: partial rows summed over TP */
	tp_reduce(b, NONE, b->last_comp);
}

static void embed_bwd(struct bld *b)
{
	struct ps_shape s = {0};
	s.B = b->mb;
	s.T = b->Tl;
	s.C = b->h;
	s.V = b->Vl;
	wait_on(b, sp_gather(b, b->last_comp));
	kern(b, OP_EMBED_BWD, s, 0);
}

static void head_fwd(struct bld *b)
{
	uint32_t deferred = NONE;
	kern(b, OP_NORM_FWD, sh_rows(b->Mn, b->h, b->rms), 0);
	gemm_input_gather(b, &deferred);
	kern(b, OP_MATMUL_FWD, sh_mm(b->M, b->Vl, b->h, 0), mm_flops(b->M, b->Vl, b->h));
	wait_on(b, deferred);
	struct ps_shape x = {0};
	x.M = b->M;
	x.B = b->mb;
	x.T = b->Tl;
	x.V = b->Vl;
	kern(b, OP_XENT_FWD, x, 0);
	if (b->tpc) {
		/* vocabulary-parallel cross-entropy: all-reduce of the row max, of
		 * the sum of exponentials and of the target logit (fp32 per row) */
		uint32_t c = b->last_comp;
		for (int i = 0; i < 3; i++)
			c = coll(b, STREAM_TP, COLL_ALLREDUCE, GROUP_TP, (double)b->M * 4.0, COMM_TP, c);
		wait_on(b, c);
	}
}

static void head_bwd(struct bld *b)
{
	struct ps_shape x = {0};
	x.M = b->M;
	x.B = b->mb;
	x.T = b->Tl;
	x.V = b->Vl;
	uint32_t regather = sp_gather(b, b->last_comp);
	kern(b, OP_XENT_BWD, x, 0);
	wait_on(b, regather);
	uint32_t before = b->last_comp;
	uint32_t gemm = kern(b, OP_MATMUL_BWD, sh_mm(b->M, b->Vl, b->h, 0), 2 * mm_flops(b->M, b->Vl, b->h));
	tp_reduce(b, before, gemm);
	kern(b, OP_NORM_BWD, sh_rows(b->Mn, b->h, b->rms), 0);
}

/* ------------------------------------------------ units and buckets */

/* Parameters of a unit slot on this rank (one TP shard). */
static double slot_params(const struct bld *b, int slot)
{
	if (slot == UNIT_EMBED)
		return b->pl.first_extra;
	if (slot == b->Lc)
		return b->pl.last_extra;
	return b->pl.layer;
}

static int slot_present(const struct bld *b, int vs, int slot)
{
	if (slot == UNIT_EMBED)
		return vs == 0 && !b->o.skip_embed_loss;
	if (slot == b->Lc)
		return vs == b->nvs - 1 && !b->o.skip_embed_loss;
	return 1;
}

static int bidx(const struct bld *b, int chunk, int slot) { return chunk * b->nslots + slot + 1; }

/* Partition a chunk's units into gradient buckets in backward order (head,
 * last block .. first block, embedding), closing a bucket once it holds
 * bucket_bytes of gradients (Megatron's bucketing of a model chunk). */
static void buckets_build(struct bld *b, int vs, int chunk)
{
	double limit = b->sc->strategy.bucket_bytes > 0 ? b->sc->strategy.bucket_bytes : 0;
	int cur = -1;
	double acc = 0;
	for (int slot = b->Lc; slot >= UNIT_EMBED; slot--) {
		int i = bidx(b, chunk, slot);
		b->slot_bucket[i] = -1;
		if (!slot_present(b, vs, slot))
			continue;
		if (cur < 0) {
			cur = i; /* a bucket is named by its first slot index */
			b->bucket_params[cur] = 0;
			b->bucket_ag[cur] = NONE;
			acc = 0;
		}
		b->slot_bucket[i] = cur;
		b->bucket_params[cur] += slot_params(b, slot);
		b->bucket_last_slot[cur] = slot;
		acc += slot_params(b, slot) * b->ge;
		if (acc >= limit)
			cur = -1;
	}
}

static ps_coll_op grad_reduce_op(const struct bld *b)
{
	return (b->zero >= 1 || b->distopt) ? COLL_REDUCESCATTER : COLL_ALLREDUCE;
}

static int dp_active(const struct bld *b) { return b->dp * b->cp > 1 && !b->o.skip_dp; }

/* Reduce the gradients of a bucket. */
static void bucket_reduce(struct bld *b, int bucket, uint32_t dep)
{
	coll(b, STREAM_DP, grad_reduce_op(b), b->dpgroup, b->bucket_params[bucket] * b->ge, COMM_DP, dep);
}

/* Does the gradient reduction happen after this micro-batch's backward?
 * Megatron (ZeRO-0/1, distributed optimizer): once, after the last
 * micro-batch.  ZeRO-2 keeps only a shard of the gradients, so (as
 * DeepSpeed) it reduce-scatters after every micro-batch. */
static int reduce_after(const struct bld *b, int mb) { return b->zero == 2 || mb == b->m - 1; }

/* Called when the backward of `slot` of the current chunk has finished. */
static void unit_bwd_done(struct bld *b, int slot)
{
	if (!dp_active(b) || b->zero >= 3)
		return;
	if (!b->sc->strategy.overlap_grad_reduce || !reduce_after(b, b->cur_mb))
		return;
	int bk = b->slot_bucket[bidx(b, b->cur_chunk, slot)];
	if (bk >= 0 && b->bucket_last_slot[bk] == slot)
		bucket_reduce(b, bk, b->last_comp);
}

/* ZeRO-3: all-gather of a unit's parameters before its use. */
static uint32_t z3_gather(struct bld *b, int slot, uint32_t dep)
{
	return coll(b, STREAM_DP, COLL_ALLGATHER, b->dpgroup, slot_params(b, slot) * b->e, COMM_ZERO, dep);
}

/* ----------------------------------------------------- one pass */

static int units_of_pass(const struct bld *b, int vs, int fwd, int *slots)
{
	int n = 0;
	if (fwd) {
		for (int s = UNIT_EMBED; s <= b->Lc; s++)
			if (slot_present(b, vs, s))
				slots[n++] = s;
	} else {
		for (int s = b->Lc; s >= UNIT_EMBED; s--)
			if (slot_present(b, vs, s))
				slots[n++] = s;
	}
	return n;
}

static void unit_run(struct bld *b, int vs, int slot, int fwd)
{
	b->cur_layer = (slot == UNIT_EMBED || slot == b->Lc) ? -1 : vs * b->Lc + slot;
	if (slot == UNIT_EMBED) {
		if (fwd)
			embed_fwd(b);
		else
			embed_bwd(b);
	} else if (slot == b->Lc) {
		if (fwd)
			head_fwd(b);
		else
			head_bwd(b);
	} else if (fwd) {
		block_fwd(b);
	} else {
		if (b->rec == RECOMPUTE_FULL) {
			b->phase = PHASE_RECOMPUTE;
			block_fwd(b);
			b->phase = PHASE_BWD;
		}
		block_bwd(b);
	}
}

static double p2p_bytes(const struct bld *b) { return (double)b->Mn * b->h * b->e; }

/* Representative rank and chunk of virtual stage vs, for the current rank's
 * tp/cp/dp coordinates. */
static void vs_place(const struct bld *b, int vs, int *rank, int *chunk)
{
	int st = vs % b->pp;
	*chunk = vs / b->pp;
	*rank = b->class_of[b->g->ranks[b->rank].global_rank + (st - b->stage) * b->per_stage];
}

static size_t p2p_key(const struct bld *b, int rank, int dir, int chunk, int mb)
{
	return (((size_t)rank * 2 + (size_t)dir) * (size_t)b->vpp + (size_t)chunk) * (size_t)b->m + (size_t)mb;
}

static uint32_t p2p(struct bld *b, ps_task_kind k, int peer, int dir, int peer_chunk, int my_chunk)
{
	struct ps_task t;
	task_base(b, &t, STREAM_PP, k);
	t.comm = COMM_PP;
	t.u.p2p.peer = peer;
	t.u.p2p.bytes = p2p_bytes(b);
	/* the message is keyed by its receiver */
	size_t key = k == TASK_SEND ? p2p_key(b, peer, dir, peer_chunk, b->cur_mb) : p2p_key(b, b->rank, dir, my_chunk, b->cur_mb);
	t.u.p2p.tag = (uint32_t)key;
	uint32_t dep = k == TASK_SEND ? b->last_comp : NONE;
	uint32_t id = add(b, &t, &dep, 1);
	if (id == NONE)
		return NONE;
	if (k == TASK_SEND)
		b->p2p_send[key] = id;
	else
		b->p2p_recv[key] = id;
	return id;
}

static void item_enter(struct bld *b, const struct ps_sched_item *it)
{
	b->cur_mb = it->microbatch;
	b->cur_chunk = it->chunk;
	b->cur_layer = -1;
	b->phase = it->dir == SCHED_ITEM_FWD ? PHASE_FWD : PHASE_BWD;
}

/* The receive an item needs: the activation from the previous virtual
 * stage (forward) or the gradient from the next (backward). */
static uint32_t item_recv(struct bld *b, const struct ps_sched_item *it)
{
	int vs = schedule_virtual_stage(b->pp, b->stage, it->chunk);
	int peer, pchunk;
	item_enter(b, it);
	if (it->dir == SCHED_ITEM_FWD && vs > 0) {
		vs_place(b, vs - 1, &peer, &pchunk);
		return p2p(b, TASK_RECV, peer, 0, pchunk, it->chunk);
	} else if (it->dir == SCHED_ITEM_BWD && vs < b->nvs - 1) {
		vs_place(b, vs + 1, &peer, &pchunk);
		return p2p(b, TASK_RECV, peer, 1, pchunk, it->chunk);
	}
	return NONE;
}

/* The send an item produces: its activation to the next virtual stage or
 * its input gradient to the previous. */
static void item_send(struct bld *b, const struct ps_sched_item *it)
{
	int vs = schedule_virtual_stage(b->pp, b->stage, it->chunk);
	int peer, pchunk;
	item_enter(b, it);
	if (it->dir == SCHED_ITEM_FWD && vs < b->nvs - 1) {
		vs_place(b, vs + 1, &peer, &pchunk);
		p2p(b, TASK_SEND, peer, 0, pchunk, it->chunk);
	} else if (it->dir == SCHED_ITEM_BWD && vs > 0) {
		vs_place(b, vs - 1, &peer, &pchunk);
		p2p(b, TASK_SEND, peer, 1, pchunk, it->chunk);
	}
}

/* The compute of an item, with its ZeRO gathers and gradient reductions. */
static void item_compute(struct bld *b, const struct ps_sched_item *it)
{
	int fwd = it->dir == SCHED_ITEM_FWD;
	int vs = schedule_virtual_stage(b->pp, b->stage, it->chunk);
	item_enter(b, it);
	int *slots = b->slots;
	int n = units_of_pass(b, vs, fwd, slots);
	int z3 = b->zero >= 3 && b->shard > 1;
	int prefetch = b->sc->strategy.overlap_param_gather;
	uint32_t next_ag = NONE;
	if (z3 && n > 0)
		next_ag = z3_gather(b, slots[0], b->last_comp);
	for (int i = 0; i < n; i++) {
		int slot = slots[i];
		/* ZeRO-1/2 with overlapped param gather: the first forward of a
		 * unit waits for its bucket's all-gather from the step start */
		if (fwd && it->microbatch == 0) {
			int bk = b->slot_bucket[bidx(b, it->chunk, slot)];
			if (bk >= 0 && b->bucket_ag[bk] != NONE)
				wait_on(b, b->bucket_ag[bk]);
		}
		if (z3) {
			wait_on(b, next_ag);
			next_ag = NONE;
		}
		uint32_t first = b->g->ntasks; /* id of the unit's first task */
		unit_run(b, vs, slot, fwd);
		if (z3 && i + 1 < n) {
			uint32_t dep = b->last_comp;
			if (prefetch) {
				/* prefetch one unit ahead: issued when this unit starts */
				uint32_t fc = first;
				while (fc < b->g->ntasks && b->g->tasks[fc].stream != STREAM_COMPUTE)
					fc++;
				if (fc < b->g->ntasks)
					dep = fc;
			}
			next_ag = z3_gather(b, slots[i + 1], dep);
		}
		if (!fwd) {
			if (z3 && dp_active(b)) {
				uint32_t rs = coll(b, STREAM_DP, COLL_REDUCESCATTER, b->dpgroup, slot_params(b, slot) * b->ge,
						   COMM_DP, b->last_comp);
				if (!b->sc->strategy.overlap_grad_reduce)
					wait_on(b, rs);
			}
			unit_bwd_done(b, slot);
		}
	}
	b->cur_layer = -1;
	/* ZeRO-2 without overlap: reduce this chunk's buckets now */
	if (!fwd && dp_active(b) && b->zero == 2 && !b->sc->strategy.overlap_grad_reduce) {
		for (int slot = b->Lc; slot >= UNIT_EMBED; slot--) {
			int bk = b->slot_bucket[bidx(b, it->chunk, slot)];
			if (bk >= 0 && b->bucket_last_slot[bk] == slot)
				bucket_reduce(b, bk, b->last_comp);
		}
	}
}

/* ------------------------------------------- order of the PP stream
 *
 * All sends and receives of a rank share its PP stream, which runs them in
 * order, and the simulator pairs a send with its receive by rendezvous (both
 * start when both are at the head of their streams).  So both ends of every
 * link must list their messages in the same order, and no chain of waits may
 * close a cycle.  Megatron avoids the problem by batching isend/irecv; here
 * the order comes from a play of the pipeline at the level of schedule items
 * (each forward or backward of a chunk takes a time proportional to its
 * FLOPs, communication is free, sends are eager): every message gets the
 * time its sender finishes, and every rank posts its messages in the order
 * of those times (ties by message id, the same on both ends).  A message
 * then depends only on messages with smaller keys, so the rendezvous
 * execution cannot deadlock, whatever the real durations are; and with
 * uniform stages the order is the ideal one.  A receive is posted once the
 * stream reaches its key, before the item that needs it. */

struct pp_op {
	int64_t key;
	uint32_t tie;   /* message id, equal on both ends */
	int item;       /* producer (send) or consumer (recv) item */
	int send;
};

static int pp_op_cmp(const void *x, const void *y)
{
	const struct pp_op *a = x, *c = y;
	if (a->key != c->key)
		return a->key < c->key ? -1 : 1;
	if (a->tie != c->tie)
		return a->tie < c->tie ? -1 : 1;
	return 0;
}

/* Relative cost of an item (integer, > 0) from its local FLOPs. */
static int64_t item_cost(const struct bld *b, int vs, int fwd)
{
	double tok = (double)b->M;
	double dense = 0, attn = 0, head = 0, embed = 0;
	struct ps_flop_count fc;
	flops_step(&b->sc->model, &b->sc->strategy, 1.0, &fc);
	dense = tok * fc.layer_dense_fwd_per_token / b->tp;
	attn = tok * fc.layer_attn_fwd_per_token / b->tp;
	if (!b->o.skip_embed_loss) {
		if (vs == b->nvs - 1)
			head = tok * fc.logits_fwd_per_token / b->tp;
		if (vs == 0)
			embed = tok * b->h * 2.0;
	}
	double f = b->Lc * (dense + attn) + head + embed;
	if (!fwd) {
		f = 2.0 * f;
		if (b->rec == RECOMPUTE_FULL)
			f += b->Lc * (dense + attn);
		else if (b->rec == RECOMPUTE_SELECTIVE)
			f += b->Lc * attn;
	}
	double u = f / 1e6;
	if (u > 1e15)
		u = 1e15;
	return (int64_t)u + 1;
}

/* Play every stage's items; start/end (pp * n) item times. */
static ps_status pp_play(struct bld *b, const struct ps_sched_item *all, int n, int64_t *start, int64_t *end)
{
	int pp = b->pp, m = b->m, nvs = b->nvs;
	int64_t *fend = malloc(sizeof(int64_t) * (size_t)nvs * m), *bend = malloc(sizeof(int64_t) * (size_t)nvs * m);
	int *next = calloc((size_t)pp, sizeof(int));
	int64_t *free_at = calloc((size_t)pp, sizeof(int64_t));
	int64_t *cost = malloc(sizeof(int64_t) * (size_t)nvs * 2);
	ps_status rc = PS_OK;
	if (!fend || !bend || !next || !free_at || !cost) {
		rc = PS_ERROR(PS_ERR_NOMEM, "step graph: pipeline play");
		goto out;
	}
	for (int i = 0; i < nvs * m; i++)
		fend[i] = bend[i] = -1;
	for (int vs = 0; vs < nvs; vs++) {
		cost[2 * vs] = item_cost(b, vs, 1);
		cost[2 * vs + 1] = item_cost(b, vs, 0);
	}
	long left = (long)pp * n;
	while (left > 0) {
		int progressed = 0;
		for (int s = 0; s < pp; s++) {
			while (next[s] < n) {
				const struct ps_sched_item *it = &all[(size_t)s * n + next[s]];
				int vs = schedule_virtual_stage(pp, s, it->chunk);
				int64_t ready;
				if (it->dir == SCHED_ITEM_FWD) {
					ready = vs == 0 ? 0 : fend[(size_t)(vs - 1) * m + it->microbatch];
				} else {
					ready = fend[(size_t)vs * m + it->microbatch];
					if (ready >= 0 && vs < nvs - 1) {
						int64_t r2 = bend[(size_t)(vs + 1) * m + it->microbatch];
						ready = r2 < 0 ? -1 : (r2 > ready ? r2 : ready);
					}
				}
				if (ready < 0)
					break;
				int64_t st = ready > free_at[s] ? ready : free_at[s];
				int64_t en = st + cost[2 * vs + (it->dir == SCHED_ITEM_FWD ? 0 : 1)];
				start[(size_t)s * n + next[s]] = st;
				end[(size_t)s * n + next[s]] = en;
				if (it->dir == SCHED_ITEM_FWD)
					fend[(size_t)vs * m + it->microbatch] = en;
				else
					bend[(size_t)vs * m + it->microbatch] = en;
				free_at[s] = en;
				next[s]++;
				left--;
				progressed = 1;
			}
		}
		if (!progressed) {
			rc = PS_ERROR(PS_ERR_INTERNAL, "step graph: the pipeline schedule deadlocks");
			break;
		}
	}
out:
	free(fend);
	free(bend);
	free(next);
	free(free_at);
	free(cost);
	return rc;
}

/* The stage's PP operations in posting order; returns their number. */
static int pp_ops_build(const struct bld *b, const struct ps_sched_item *items, int n, const int64_t *all_end,
			int stage, struct pp_op *ops)
{
	int nops = 0, m = b->m, nvs = b->nvs, pp = b->pp;
	/* times of the messages: the sender's end; look it up by (vs, mb, dir) */
	for (int k = 0; k < n; k++) {
		const struct ps_sched_item *it = &items[k];
		int vs = schedule_virtual_stage(pp, stage, it->chunk);
		int fwd = it->dir == SCHED_ITEM_FWD;
		int has_recv = fwd ? vs > 0 : vs < nvs - 1;
		int has_send = fwd ? vs < nvs - 1 : vs > 0;
		if (has_recv) {
			int src = fwd ? vs - 1 : vs + 1;
			struct pp_op *o = &ops[nops++];
			o->key = b->msg_time[((size_t)(fwd ? 0 : 1) * nvs + src) * m + it->microbatch];
			o->tie = (uint32_t)(((size_t)(fwd ? 0 : 1) * nvs + vs) * m + it->microbatch);
			o->item = k;
			o->send = 0;
		}
		if (has_send) {
			int dst = fwd ? vs + 1 : vs - 1;
			struct pp_op *o = &ops[nops++];
			o->key = all_end[(size_t)stage * n + k];
			o->tie = (uint32_t)(((size_t)(fwd ? 0 : 1) * nvs + dst) * m + it->microbatch);
			o->item = k;
			o->send = 1;
		}
	}
	qsort(ops, (size_t)nops, sizeof *ops, pp_op_cmp);
	return nops;
}

static void pp_op_emit(struct bld *b, const struct ps_sched_item *items, const struct pp_op *o)
{
	if (o->send)
		item_send(b, &items[o->item]);
	else
		b->recv_of_item[o->item] = item_recv(b, &items[o->item]);
}

/* The whole schedule of a rank: compute items in order, PP operations in
 * key order, each receive before the item that waits for it. */
static void run_items(struct bld *b, const struct ps_sched_item *items, int n)
{
	const int64_t *start = b->play_start + (size_t)b->stage * n;
	const struct pp_op *ops = b->ops;
	int p = 0;
	for (int k = 0; k < n; k++)
		b->recv_of_item[k] = NONE;
	for (int k = 0; k < n; k++) {
		while (p < b->nops && ops[p].key <= start[k] && (!ops[p].send || ops[p].item < k))
			pp_op_emit(b, items, &ops[p++]);
		item_enter(b, &items[k]);
		int vs = schedule_virtual_stage(b->pp, b->stage, items[k].chunk);
		int needs = items[k].dir == SCHED_ITEM_FWD ? vs > 0 : vs < b->nvs - 1;
		if (needs && b->recv_of_item[k] == NONE)
			b->internal = 1;
		wait_on(b, b->recv_of_item[k]);
		item_compute(b, &items[k]);
	}
	while (p < b->nops)
		pp_op_emit(b, items, &ops[p++]);
}

/* Parameters whose optimizer state and gradient shard this rank owns. */
static double rank_params(const struct bld *b)
{
	double p = 0;
	for (int c = 0; c < b->vpp; c++) {
		int vs = schedule_virtual_stage(b->pp, b->stage, c);
		for (int s = UNIT_EMBED; s <= b->Lc; s++)
			if (slot_present(b, vs, s))
				p += slot_params(b, s);
	}
	return p;
}

static void optimizer_step(struct bld *b)
{
	b->cur_mb = -1;
	b->cur_chunk = -1;
	b->cur_layer = -1;
	b->phase = PHASE_OPTIMIZER;
	int sharded = b->zero >= 1 || b->distopt;
	double n = rank_params(b);
	double n_shard = (sharded && dp_active(b)) ? n / b->shard : n;
	/* every gradient reduction must be done */
	wait_on(b, b->last_dp);
	/* Sequence parallelism: the norms are replicated over the TP group but
	 * each rank sees only its sequence shard, so their gradients are summed
	 * over the group (Megatron's layer-norm all-reduce, one flat buffer). */
	if (b->sp && b->tp > 1) {
		double np = 0, norm = flops_norm_params(&b->sc->model);
		for (int c = 0; c < b->vpp; c++) {
			np += b->Lc * (b->par ? 1.0 : 2.0) * norm;
			if (slot_present(b, schedule_virtual_stage(b->pp, b->stage, c), b->Lc))
				np += norm; /* the final norm */
		}
		wait_on(b, coll(b, STREAM_DP, COLL_ALLREDUCE, GROUP_TP, np * b->ge, COMM_TP, b->last_comp));
	}
	/* Tied embeddings over a pipeline: the first and the last stage each
	 * hold the word embeddings; after the data-parallel reduction their
	 * gradients are summed across the two (Megatron's embedding group,
	 * the whole vocabulary shard in the gradient dtype). */
	if (b->sc->model.tied_embeddings && b->pp > 1 && (b->stage == 0 || b->stage == b->pp - 1))
		wait_on(b, coll(b, STREAM_DP, COLL_ALLREDUCE, GROUP_EMBED, (double)b->Vl * (double)b->h * b->ge, COMM_DP,
				b->last_comp));
	kern(b, OP_GRADCLIP, sh_n((int64_t)(n_shard + 0.5)), 0);
	if (b->world > 1)
		wait_on(b, coll(b, STREAM_DP, COLL_ALLREDUCE, GROUP_WORLD, 4.0, COMM_DP, b->last_comp));
	kern(b, OP_ADAMW, sh_n((int64_t)(n_shard + 0.5)), 0);
	/* ZeRO-1/2, distributed optimizer: gather the updated parameters */
	if (sharded && b->zero < 3 && dp_active(b) && !b->sc->strategy.overlap_param_gather) {
		for (int c = 0; c < b->vpp; c++)
			for (int slot = UNIT_EMBED; slot <= b->Lc; slot++) {
				int bk = b->slot_bucket[bidx(b, c, slot)];
				if (bk >= 0 && bidx(b, c, slot) == bk)
					coll(b, STREAM_DP, COLL_ALLGATHER, b->dpgroup, b->bucket_params[bk] * b->e, COMM_ZERO,
					     b->last_comp);
			}
	}
}

static ps_status build_rank(struct bld *b, struct ps_sched_item *items, int nitems)
{
	b->last_comp = NONE;
	b->last_dp = NONE;
	b->nwait = 0;
	b->cur_mb = b->cur_chunk = b->cur_layer = -1;
	b->phase = PHASE_FWD;
	for (int c = 0; c < b->vpp; c++)
		buckets_build(b, schedule_virtual_stage(b->pp, b->stage, c), c);
	int sharded = b->zero >= 1 || b->distopt;
	int pg_overlap = sharded && b->zero < 3 && dp_active(b) && !b->o.skip_optimizer &&
			 b->sc->strategy.overlap_param_gather;
	if (pg_overlap) {
		/* the previous step's parameter all-gather, overlapped with this
		 * step's forward: in forward order of the buckets */
		for (int c = 0; c < b->vpp; c++)
			for (int slot = UNIT_EMBED; slot <= b->Lc; slot++) {
				int i = bidx(b, c, slot);
				int bk = b->slot_bucket[i];
				if (bk >= 0 && b->bucket_ag[bk] == NONE)
					b->bucket_ag[bk] = coll(b, STREAM_DP, COLL_ALLGATHER, b->dpgroup,
								b->bucket_params[bk] * b->e, COMM_ZERO, NONE);
			}
	}
	run_items(b, items, nitems);
	/* gradient reduction after the backward when it does not overlap */
	if (dp_active(b) && b->zero < 2 && !b->sc->strategy.overlap_grad_reduce) {
		b->phase = PHASE_BWD;
		b->cur_mb = b->cur_chunk = b->cur_layer = -1;
		for (int c = b->vpp - 1; c >= 0; c--)
			for (int slot = b->Lc; slot >= UNIT_EMBED; slot--) {
				int bk = b->slot_bucket[bidx(b, c, slot)];
				if (bk >= 0 && b->bucket_last_slot[bk] == slot)
					bucket_reduce(b, bk, b->last_comp);
			}
	}
	if (!b->o.skip_optimizer)
		optimizer_step(b);
	/* waits left for a next kernel that does not come (e.g. a non-overlapped
	 * reduce-scatter after the last backward) need none: the step ends when
	 * every task has */
	b->nwait = 0;
	if (b->internal)
		return PS_ERROR(PS_ERR_INTERNAL, "step graph: inconsistent dependencies on rank %d (a bug)", b->rank);
	return b->failed ? PS_ERROR(PS_ERR_NOMEM, "step graph: out of memory or too many tasks (%u)", b->g->ntasks)
			 : PS_OK;
}

/* ------------------------------------------------ matching */

static ps_status match_p2p(struct bld *b, size_t nkeys)
{
	for (size_t k = 0; k < nkeys; k++) {
		uint32_t s = b->p2p_send[k], r = b->p2p_recv[k];
		if ((s == NONE) != (r == NONE))
			return PS_ERROR(PS_ERR_INTERNAL, "step graph: unmatched %s (message %zu)", s == NONE ? "recv" : "send", k);
		if (s == NONE)
			continue;
		b->g->tasks[s].match = r;
		b->g->tasks[r].match = s;
	}
	return PS_OK;
}

/* Representative that leads the collective of group kind `grp` taking part
 * from representative r: the lowest representative of the members of r's
 * group instance (folded: a stage's groups are inside its representative,
 * the pipeline's lead is stage 0; unfolded: the member with every
 * coordinate of the group at 0).  mem: room for fold_group_max. */
static int group_leader(const struct bld *b, int r, ps_group_kind grp, int *mem)
{
	if (grp == GROUP_WORLD)
		return 0;
	int n = fold_group_members(&b->sc->strategy, b->g->ranks[r].global_rank, grp, mem);
	int lead = r;
	for (int i = 0; i < n; i++)
		if (b->class_of[mem[i]] < lead)
			lead = b->class_of[mem[i]];
	return lead;
}

#define NGROUPS (GROUP_EMBED + 1)

static ps_status match_colls(struct bld *b)
{
	struct ps_graph *g = b->g;
	size_t nr = (size_t)g->nranks;
	uint32_t *count = calloc(nr * NGROUPS + 1, sizeof *count);
	uint32_t *ord = malloc(sizeof *ord * (size_t)(g->ntasks ? g->ntasks : 1));
	if (!count || !ord) {
		free(count);
		free(ord);
		return PS_ERROR(PS_ERR_NOMEM, "step graph: matching collectives");
	}
	/* ordinal of each collective within (rank, group kind) */
	for (uint32_t i = 0; i < g->ntasks; i++) {
		struct ps_task *t = &g->tasks[i];
		if (t->kind != TASK_COLL)
			continue;
		ord[i] = count[t->rank * NGROUPS + t->u.coll.group]++;
	}
	/* ids by (rank, kind, ordinal): CSR */
	uint32_t *off = malloc(sizeof *off * (nr * NGROUPS + 1));
	uint32_t total = 0;
	if (!off) {
		free(count);
		free(ord);
		return PS_ERROR(PS_ERR_NOMEM, "step graph: matching collectives");
	}
	for (size_t i = 0; i < nr * NGROUPS; i++) {
		off[i] = total;
		total += count[i];
	}
	off[nr * NGROUPS] = total;
	uint32_t *ids = malloc(sizeof *ids * (size_t)(total ? total : 1));
	if (!ids) {
		free(count);
		free(ord);
		free(off);
		return PS_ERROR(PS_ERR_NOMEM, "step graph: matching collectives");
	}
	for (uint32_t i = 0; i < g->ntasks; i++) {
		struct ps_task *t = &g->tasks[i];
		if (t->kind == TASK_COLL)
			ids[off[t->rank * NGROUPS + t->u.coll.group] + ord[i]] = i;
	}
	ps_status rc = PS_OK;
	/* leaders by (representative, group kind), found once */
	const struct ps_strategy *st = &b->sc->strategy;
	int mmax = 2;
	for (int k = 0; k < NGROUPS; k++)
		if (k != GROUP_WORLD && fold_group_max(st, (ps_group_kind)k) > mmax)
			mmax = fold_group_max(st, (ps_group_kind)k);
	int *lead_of = malloc(sizeof(int) * nr * NGROUPS), *mem = malloc(sizeof(int) * (size_t)mmax);
	if (!lead_of || !mem)
		rc = PS_ERROR(PS_ERR_NOMEM, "step graph: matching collectives");
	for (size_t i = 0; rc == PS_OK && i < nr * NGROUPS; i++)
		lead_of[i] = -1;
	for (uint32_t i = 0; i < g->ntasks && rc == PS_OK; i++) {
		struct ps_task *t = &g->tasks[i];
		if (t->kind != TASK_COLL)
			continue;
		int *lp = &lead_of[(size_t)t->rank * NGROUPS + t->u.coll.group];
		if (*lp < 0)
			*lp = group_leader(b, (int)t->rank, (ps_group_kind)t->u.coll.group, mem);
		int lead = *lp;
		size_t slot = (size_t)lead * NGROUPS + t->u.coll.group;
		if (ord[i] >= count[slot]) {
			rc = PS_ERROR(PS_ERR_INTERNAL, "step graph: collective %u of rank %u has no partner on rank %d", i,
				      t->rank, lead);
			break;
		}
		t->match = ids[off[slot] + ord[i]];
	}
	free(lead_of);
	free(mem);
	free(count);
	free(ord);
	free(off);
	free(ids);
	return rc;
}

/* ------------------------------------------------ entry points */

static ps_status check_scenario(const struct ps_scenario *sc)
{
	const struct ps_strategy *st = &sc->strategy;
	const struct ps_model *m = &sc->model;
	if (st->dp < 1 || st->tp < 1 || st->pp < 1 || st->cp < 1 || st->vpp < 1 || st->micro_batch < 1 ||
	    st->global_batch < 1)
		return PS_ERROR(PS_ERR_INVALID, "step graph: dp, tp, pp, cp, vpp, micro_batch and global_batch must be positive");
	if (m->layers < 1 || m->hidden < 1 || m->heads < 1 || m->seq_len < 1 || m->vocab < 1)
		return PS_ERROR(PS_ERR_INVALID, "step graph: model %s has a non-positive size", m->name);
	long world = (long)sc->cluster.nodes * sc->cluster.devices_per_node;
	if ((long)st->dp * st->tp * st->pp * st->cp != world)
		return PS_ERROR(PS_ERR_INVALID, "step graph: dp*tp*pp*cp = %ld but the cluster has %ld devices",
				(long)st->dp * st->tp * st->pp * st->cp, world);
	if (m->layers % (st->pp * st->vpp) != 0)
		return PS_ERROR(PS_ERR_INVALID, "step graph: layers (%d) not divisible by pp*vpp (%d)", m->layers,
				st->pp * st->vpp);
	if (st->vpp > 1 && st->pp < 2)
		return PS_ERROR(PS_ERR_INVALID, "step graph: vpp > 1 needs pp > 1");
	int g = m->kv_heads > 0 ? m->kv_heads : m->heads;
	if (m->heads % st->tp != 0 || (g % st->tp != 0 && st->tp % g != 0))
		return PS_ERROR(PS_ERR_INVALID, "step graph: heads (%d) and kv_heads (%d) must split over tp (%d)", m->heads, g,
				st->tp);
	int f = m->ffn_hidden > 0 ? m->ffn_hidden : 4 * m->hidden;
	if (f % st->tp != 0)
		return PS_ERROR(PS_ERR_INVALID, "step graph: ffn_hidden (%d) must be divisible by tp (%d)", f, st->tp);
	if (m->seq_len % st->cp != 0)
		return PS_ERROR(PS_ERR_INVALID, "step graph: seq_len (%d) not divisible by cp (%d)", m->seq_len, st->cp);
	if (st->global_batch % (st->dp * st->micro_batch) != 0)
		return PS_ERROR(PS_ERR_INVALID, "step graph: global_batch (%d) not divisible by dp*micro_batch (%d)",
				st->global_batch, st->dp * st->micro_batch);
	if (st->sequence_parallel && st->tp > 1 && ((long)st->micro_batch * m->seq_len / st->cp) % st->tp != 0)
		return PS_ERROR(PS_ERR_INVALID, "step graph: sequence parallelism needs micro_batch*seq_len/cp divisible by tp");
	int nmicro = st->global_batch / (st->dp * st->micro_batch);
	if (nmicro > INT16_MAX || m->layers > INT16_MAX)
		return PS_ERROR(PS_ERR_RANGE, "step graph: %d micro-batches or %d layers is too many", nmicro, m->layers);
	return schedule_check(st->schedule, st->pp, st->vpp, nmicro);
}

ps_status graph_build(const struct ps_scenario *sc, int fold, struct ps_graph **out)
{
	struct ps_graph_opts o = {.fold = fold};
	return graph_build_opts(sc, &o, out);
}

ps_status graph_build_opts(const struct ps_scenario *sc, const struct ps_graph_opts *opts, struct ps_graph **out)
{
	*out = NULL;
	ps_status rc = check_scenario(sc);
	if (rc != PS_OK)
		return rc;
	const struct ps_strategy *st = &sc->strategy;
	const struct ps_model *mo = &sc->model;
	struct bld b = {0};
	b.sc = sc;
	b.o = *opts;
	b.tp = st->tp;
	b.pp = st->pp;
	b.dp = st->dp;
	b.cp = st->cp;
	b.vpp = st->vpp;
	b.nvs = b.pp * b.vpp;
	b.mb = st->micro_batch;
	b.m = st->global_batch / (st->dp * st->micro_batch);
	b.Lc = mo->layers / b.nvs;
	b.per_stage = b.tp * b.cp * b.dp;
	b.world = b.per_stage * b.pp;
	b.sp = st->sequence_parallel && b.tp > 1;
	b.par = flops_parallel_block(mo, st);
	b.rec = st->recompute;
	b.zero = st->zero_stage;
	b.distopt = st->distributed_optimizer;
	b.swiglu = mo->ffn == FFN_SWIGLU;
	b.bias = mo->bias;
	b.rms = mo->norm == NORM_RMSNORM;
	b.tpc = b.tp > 1;
	b.ovl_tp = st->overlap_tp_comm;
	b.h = mo->hidden;
	b.a = mo->heads;
	b.gkv = mo->kv_heads > 0 ? mo->kv_heads : mo->heads;
	b.d = mo->head_dim > 0 ? mo->head_dim : mo->hidden / mo->heads;
	b.f = mo->ffn_hidden > 0 ? mo->ffn_hidden : 4 * (int64_t)mo->hidden;
	b.up = b.swiglu ? 2 : 1;
	b.NHl = b.a / b.tp;
	b.KVHl = b.gkv >= b.tp ? b.gkv / b.tp : 1;
	b.s = mo->seq_len;
	b.Tl = b.s / b.cp;
	b.M = (int64_t)b.mb * b.Tl;
	b.Mn = b.sp ? b.M / b.tp : b.M;
	b.Vl = (mo->vocab + b.tp - 1) / b.tp; /* vocabulary shard, padded up when tp does not divide it */
	b.dt = st->dtype;
	static const double eb[] = {4, 4, 2, 2, 1};
	b.e = (unsigned)st->dtype < DTYPE_COUNT_ ? eb[st->dtype] : 2;
	b.ge = (unsigned)st->grad_dtype < DTYPE_COUNT_ ? eb[st->grad_dtype] : b.e;
	b.shard = (double)b.dp * b.cp;
	b.dpgroup = b.cp > 1 ? GROUP_DP_CP : GROUP_DP;
	flops_params_local(mo, st, &b.pl);

	/* Representatives: one per class of identical ranks (fold.c) when
	 * folding, every rank otherwise. */
	int nclasses = 0;
	if (!opts->fold) {
		b.class_of = malloc(sizeof(int) * (size_t)b.world);
		for (int r = 0; b.class_of && r < b.world; r++)
			b.class_of[r] = r;
		nclasses = b.world;
	} else if (sc->cluster.nperturb == 0) {
		b.class_of = malloc(sizeof(int) * (size_t)b.world);
		for (int r = 0; b.class_of && r < b.world; r++)
			b.class_of[r] = r / b.per_stage;
		nclasses = b.pp;
	} else {
		double *slow = malloc(sizeof(double) * (size_t)b.world);
		if (slow) {
			for (int r = 0; r < b.world; r++)
				slow[r] = rank_slowdown(sc, r);
			b.class_of = fold_classes(st, slow, &nclasses);
			free(slow);
		}
	}
	struct ps_graph *g = b.class_of ? graph_alloc() : NULL;
	if (!g) {
		free(b.class_of);
		return PS_ERROR(PS_ERR_NOMEM, "step graph: allocation");
	}
	g->sc = sc;
	g->folded = opts->fold && (sc->cluster.nperturb == 0 || nclasses < b.world);
	g->num_microbatches = b.m;
	g->nranks = nclasses;
	g->ranks = calloc((size_t)g->nranks, sizeof *g->ranks);
	b.g = g;
	int nitems = schedule_length(b.m, b.vpp);
	size_t nkeys = (size_t)g->nranks * 2 * b.vpp * b.m;
	b.nslots = b.Lc + 2;
	size_t nb = (size_t)b.vpp * b.nslots;
	struct ps_sched_item *items = malloc(sizeof *items * (size_t)nitems * b.pp);
	b.p2p_send = malloc(sizeof(uint32_t) * nkeys);
	b.p2p_recv = malloc(sizeof(uint32_t) * nkeys);
	b.slot_bucket = malloc(sizeof(int) * nb);
	b.bucket_params = calloc(nb, sizeof(double));
	b.bucket_last_slot = malloc(sizeof(int) * nb);
	b.bucket_ag = malloc(sizeof(uint32_t) * nb);
	b.slots = malloc(sizeof(int) * (size_t)b.nslots);
	b.play_start = malloc(sizeof(int64_t) * (size_t)nitems * b.pp);
	b.play_end = malloc(sizeof(int64_t) * (size_t)nitems * b.pp);
	b.msg_time = malloc(sizeof(int64_t) * (size_t)2 * b.nvs * b.m);
	b.ops = malloc(sizeof(struct pp_op) * (size_t)2 * nitems);
	b.recv_of_item = malloc(sizeof(uint32_t) * (size_t)nitems);
	if (!b.slots || !g->ranks || !items || !b.p2p_send || !b.p2p_recv || !b.slot_bucket || !b.bucket_params ||
	    !b.bucket_last_slot || !b.bucket_ag || !b.play_start || !b.play_end || !b.msg_time || !b.ops ||
	    !b.recv_of_item) {
		rc = PS_ERROR(PS_ERR_NOMEM, "step graph: allocation for %d ranks", g->nranks);
		goto done;
	}
	for (int s = 0; s < b.pp; s++)
		schedule_stage(st->schedule, b.pp, b.vpp, b.m, s, items + (size_t)s * nitems);
	rc = pp_play(&b, items, nitems, b.play_start, b.play_end);
	if (rc != PS_OK)
		goto done;
	for (int s = 0; s < b.pp; s++)
		for (int k = 0; k < nitems; k++) {
			const struct ps_sched_item *it = &items[(size_t)s * nitems + k];
			int vs = schedule_virtual_stage(b.pp, s, it->chunk);
			int dir = it->dir == SCHED_ITEM_FWD ? 0 : 1;
			b.msg_time[((size_t)dir * b.nvs + vs) * b.m + it->microbatch] = b.play_end[(size_t)s * nitems + k];
		}
	memset(b.p2p_send, 0xff, sizeof(uint32_t) * nkeys);
	memset(b.p2p_recv, 0xff, sizeof(uint32_t) * nkeys);

	for (int r = 0; r < g->nranks; r++)
		g->ranks[r].global_rank = -1;
	for (int global = 0; global < b.world; global++) {
		struct ps_rank_info *ri = &g->ranks[b.class_of[global]];
		ri->multiplicity++;
		if (ri->global_rank >= 0)
			continue;
		/* the lowest rank of the class stands for it */
		rank_coords(st, global, &ri->tp_rank, &ri->cp_rank, &ri->dp_rank, &ri->pp_stage);
		ri->global_rank = global;
		ri->slowdown = rank_slowdown(sc, global);
	}
	/* Representatives of one stage share their schedule: build stage by stage. */
	for (int r = 0; r < g->nranks && rc == PS_OK; r++) {
		b.rank = r;
		b.stage = g->ranks[r].pp_stage;
		struct ps_sched_item *sitems = items + (size_t)b.stage * nitems;
		if (r == 0 || g->ranks[r - 1].pp_stage != b.stage)
			b.nops = pp_ops_build(&b, sitems, nitems, b.play_end, b.stage, b.ops);
		if (r == 0) {
			/* reserve what one rank needs times the ranks (estimate) */
			uint32_t before = g->ntasks;
			rc = build_rank(&b, sitems, nitems);
			if (rc == PS_OK && g->nranks > 1) {
				double want_t = (double)(g->ntasks - before) * 1.1 * g->nranks + 1024;
				double want_d = (double)g->ndeps * 1.1 * g->nranks + 2048;
				double want_bytes = want_t * sizeof(struct ps_task) + want_d * sizeof(uint32_t);
				double avail = (double)sysconf(_SC_AVPHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
				if (want_t >= (double)UINT32_MAX || (avail > 0 && want_bytes > 0.8 * avail)) {
					rc = PS_ERROR(PS_ERR_NOMEM,
						      "step graph: %d ranks of about %.0f tasks each need about %.1f GiB, "
						      "more than this machine has free (%.1f GiB); simulate folded",
						      g->nranks, want_t / g->nranks, want_bytes / 1073741824.0, avail / 1073741824.0);
					break;
				}
				if (want_t < UINT32_MAX - 1 && want_d < UINT32_MAX - 1)
					graph_reserve(g, (uint32_t)want_t, (uint32_t)want_d);
			}
		} else {
			rc = build_rank(&b, sitems, nitems);
		}
	}
	if (rc == PS_OK)
		rc = match_p2p(&b, nkeys);
	if (rc == PS_OK)
		rc = match_colls(&b);
done:
	free(b.class_of);
	free(items);
	free(b.p2p_send);
	free(b.p2p_recv);
	free(b.slot_bucket);
	free(b.bucket_params);
	free(b.bucket_last_slot);
	free(b.bucket_ag);
	free(b.slots);
	free(b.play_start);
	free(b.play_end);
	free(b.msg_time);
	free(b.ops);
	free(b.recv_of_item);
	if (rc != PS_OK) {
		graph_free(g);
		return rc;
	}
	*out = g;
	return PS_OK;
}
