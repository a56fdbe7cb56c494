/* schedule.c — pipeline schedule orders (GPipe, 1F1B, interleaved 1F1B).
 *
 * Pure functions of (kind, pp, vpp, m, stage); see schedule.h for the
 * semantics and the sources.  No timing and no allocation here. */
#include "config.h"
#include "schedule.h"

#include <stddef.h>

int schedule_length(int m, int vpp) { return 2 * m * vpp; }

ps_schedule schedule_effective(ps_schedule kind, int vpp)
{
	if (kind == SCHED_INTERLEAVED && vpp == 1)
		return SCHED_1F1B;
	return kind;
}

const char *schedule_name(ps_schedule kind)
{
	switch (kind) {
	case SCHED_GPIPE: return "gpipe";
	case SCHED_1F1B: return "1f1b";
	case SCHED_INTERLEAVED: return "interleaved";
	}
	return "unknown";
}

ps_status schedule_check(ps_schedule kind, int pp, int vpp, int m)
{
	if (pp < 1 || vpp < 1 || m < 1)
		return PS_ERROR(PS_ERR_INVALID, "pipeline schedule: pp (%d), vpp (%d) and micro-batches (%d) must be positive",
				pp, vpp, m);
	if (kind != SCHED_GPIPE && kind != SCHED_1F1B && kind != SCHED_INTERLEAVED)
		return PS_ERROR(PS_ERR_INVALID, "pipeline schedule: unknown schedule %d", (int)kind);
	if (vpp > 1 && kind != SCHED_INTERLEAVED)
		return PS_ERROR(PS_ERR_INVALID, "pipeline schedule: vpp = %d needs the interleaved schedule, got %s", vpp,
				schedule_name(kind));
	if (kind == SCHED_INTERLEAVED && vpp > 1 && m % pp != 0)
		return PS_ERROR(PS_ERR_INVALID,
				"pipeline schedule: interleaved needs micro-batches (%d) to be a multiple of pp (%d)", m, pp);
	return PS_OK;
}

static int imin(int a, int b) { return a < b ? a : b; }

int schedule_warmup(ps_schedule kind, int pp, int vpp, int m, int stage)
{
	kind = schedule_effective(kind, vpp);
	switch (kind) {
	case SCHED_GPIPE:
		return m * vpp;
	case SCHED_1F1B:
		return imin(pp - stage - 1, m);
	case SCHED_INTERLEAVED: {
		int total = m * vpp;
		if (m == pp)
			return total; /* Megatron: all_warmup_microbatches */
		return imin((pp - stage - 1) * 2 + (vpp - 1) * pp, total);
	}
	}
	return 0;
}

/* Megatron's get_model_chunk_id and get_microbatch_id_in_model_chunk. */
static void interleaved_item(int pp, int vpp, int k, int forward, struct ps_sched_item *it)
{
	int group = pp * vpp;
	int in_group = k % group;
	int chunk = in_group / pp;
	if (!forward)
		chunk = vpp - chunk - 1;
	it->dir = forward ? SCHED_ITEM_FWD : SCHED_ITEM_BWD;
	it->chunk = chunk;
	it->microbatch = (k / group) * pp + k % pp;
}

ps_status schedule_stage(ps_schedule kind, int pp, int vpp, int m, int stage, struct ps_sched_item *items)
{
	ps_status rc = schedule_check(kind, pp, vpp, m);
	if (rc != PS_OK)
		return rc;
	if (stage < 0 || stage >= pp)
		return PS_ERROR(PS_ERR_INVALID, "pipeline schedule: stage %d out of range 0..%d", stage, pp - 1);
	kind = schedule_effective(kind, vpp);
	int n = 0;
	int warm = schedule_warmup(kind, pp, vpp, m, stage);
	switch (kind) {
	case SCHED_GPIPE:
		for (int i = 0; i < m; i++)
			items[n++] = (struct ps_sched_item){SCHED_ITEM_FWD, i, 0};
		for (int i = 0; i < m; i++)
			items[n++] = (struct ps_sched_item){SCHED_ITEM_BWD, i, 0};
		break;
	case SCHED_1F1B: {
		int remaining = m - warm;
		for (int i = 0; i < warm; i++)
			items[n++] = (struct ps_sched_item){SCHED_ITEM_FWD, i, 0};
		for (int i = 0; i < remaining; i++) {
			items[n++] = (struct ps_sched_item){SCHED_ITEM_FWD, warm + i, 0};
			items[n++] = (struct ps_sched_item){SCHED_ITEM_BWD, i, 0};
		}
		for (int i = remaining; i < m; i++)
			items[n++] = (struct ps_sched_item){SCHED_ITEM_BWD, i, 0};
		break;
	}
	case SCHED_INTERLEAVED: {
		int total = m * vpp;
		int remaining = total - warm;
		for (int k = 0; k < warm; k++)
			interleaved_item(pp, vpp, k, 1, &items[n++]);
		for (int k = 0; k < remaining; k++) {
			interleaved_item(pp, vpp, warm + k, 1, &items[n++]);
			interleaved_item(pp, vpp, k, 0, &items[n++]);
		}
		for (int k = remaining; k < total; k++)
			interleaved_item(pp, vpp, k, 0, &items[n++]);
		break;
	}
	}
	return PS_OK;
}

int schedule_max_inflight(ps_schedule kind, int pp, int vpp, int m, int stage)
{
	kind = schedule_effective(kind, vpp);
	int warm = schedule_warmup(kind, pp, vpp, m, stage);
	int total = m * vpp;
	if (kind == SCHED_GPIPE)
		return total;
	/* After the warm-up, each steady step does one more forward before
	 * its backward: warm + 1 in flight, unless everything was warm-up. */
	return warm < total ? warm + 1 : total;
}

double schedule_bubble_fraction(ps_schedule kind, int pp, int vpp, int m)
{
	kind = schedule_effective(kind, vpp);
	int v = kind == SCHED_INTERLEAVED ? vpp : 1;
	return (double)(pp - 1) / ((double)v * m + pp - 1);
}
