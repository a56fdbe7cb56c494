/* test-schedule.c — pipeline schedule orders against an independent player.
 *
 * A naive reference plays the per-stage orders with uniform per-chunk
 * forward/backward times and free communication (each item starts when its
 * stage is free and its data dependency is done) and checks the makespan
 * against the closed forms: GPipe and 1F1B (m + p - 1)(tf + tb), interleaved
 * (v*m + p - 1)(tf + tb) per-chunk — i.e. bubble fraction (p-1)/(v*m+p-1),
 * the 1F1B bubble divided by v.  Also checks the in-flight counts and a few
 * hand-derived orders from Megatron's schedule. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "schedule.h"
#include <math.h>

/* |a - b| <= tol * max(|a|, |b|, 1e-300), with both values in the message. */
#define assert_close(a, b, tol) check_close_((a), (b), (tol), __FILE__, __LINE__)
static void check_close_(double a, double b, double tol, const char *file, int line)
{
	double scale = fmax(fmax(fabs(a), fabs(b)), 1e-300);
	if (!(fabs(a - b) <= tol * scale)) {
		print_error("%.17g != %.17g (tolerance %g)\n", a, b, tol);
		_fail(file, line);
	}
}

/* Play all stages; returns makespan in time units, -1 on deadlock. */
static long play(ps_schedule kind, int p, int v, int m, long tf, long tb, long *busy_out)
{
	int n = schedule_length(m, v);
	struct ps_sched_item *items = calloc((size_t)p * n, sizeof *items);
	long *fdone = malloc(sizeof(long) * (size_t)p * v * m); /* [vs][mb] end time, -1 not yet */
	long *bdone = malloc(sizeof(long) * (size_t)p * v * m);
	int *next = calloc((size_t)p, sizeof(int));
	long *free_at = calloc((size_t)p, sizeof(long));
	int V = p * v;
	for (int i = 0; i < V * m; i++)
		fdone[i] = bdone[i] = -1;
	for (int s = 0; s < p; s++)
		assert_int_equal(schedule_stage(kind, p, v, m, s, items + (size_t)s * n), PS_OK);
	int left = p * n;
	while (left > 0) {
		int progressed = 0;
		for (int s = 0; s < p; s++) {
			if (next[s] == n)
				continue;
			struct ps_sched_item it = items[(size_t)s * n + next[s]];
			int vs = it.chunk * p + s;
			long ready;
			if (it.dir == SCHED_ITEM_FWD) {
				ready = vs == 0 ? 0 : fdone[(vs - 1) * m + it.microbatch];
			} else {
				ready = fdone[vs * m + it.microbatch];
				if (ready >= 0 && vs < V - 1) {
					long r2 = bdone[(vs + 1) * m + it.microbatch];
					ready = r2 < 0 ? -1 : (r2 > ready ? r2 : ready);
				}
			}
			if (ready < 0)
				continue;
			long st = ready > free_at[s] ? ready : free_at[s];
			long en = st + (it.dir == SCHED_ITEM_FWD ? tf : tb);
			if (it.dir == SCHED_ITEM_FWD)
				fdone[vs * m + it.microbatch] = en;
			else
				bdone[vs * m + it.microbatch] = en;
			free_at[s] = en;
			next[s]++;
			left--;
			progressed = 1;
		}
		if (!progressed)
			break;
	}
	long mk = -1;
	if (left == 0) {
		mk = 0;
		for (int s = 0; s < p; s++)
			if (free_at[s] > mk)
				mk = free_at[s];
	}
	if (busy_out)
		*busy_out = (long)m * v * (tf + tb);
	free(items);
	free(fdone);
	free(bdone);
	free(next);
	free(free_at);
	return mk;
}

static void test_orders_are_complete(void **state)
{
	(void)state;
	const ps_schedule kinds[] = {SCHED_GPIPE, SCHED_1F1B, SCHED_INTERLEAVED};
	for (int ki = 0; ki < 3; ki++)
		for (int p = 1; p <= 6; p++)
			for (int v = 1; v <= (kinds[ki] == SCHED_INTERLEAVED ? 3 : 1); v++)
				for (int m = 1; m <= 13; m++) {
					if (schedule_check(kinds[ki], p, v, m) != PS_OK)
						continue;
					int n = schedule_length(m, v);
					struct ps_sched_item *it = calloc((size_t)n, sizeof *it);
					for (int s = 0; s < p; s++) {
						assert_int_equal(schedule_stage(kinds[ki], p, v, m, s, it), PS_OK);
						/* every (dir, mb, chunk) exactly once; forward before backward */
						char *seen = calloc((size_t)2 * m * v, 1);
						int infl = 0, maxinfl = 0, nf = 0;
						for (int i = 0; i < n; i++) {
							assert_true(it[i].microbatch >= 0 && it[i].microbatch < m);
							assert_true(it[i].chunk >= 0 && it[i].chunk < v);
							int key = (it[i].dir * m + it[i].microbatch) * v + it[i].chunk;
							assert_int_equal(seen[key], 0);
							seen[key] = 1;
							if (it[i].dir == SCHED_ITEM_BWD)
								assert_int_equal(seen[(0 * m + it[i].microbatch) * v + it[i].chunk], 1);
							infl += it[i].dir == SCHED_ITEM_FWD ? 1 : -1;
							if (infl > maxinfl)
								maxinfl = infl;
							if (it[i].dir == SCHED_ITEM_FWD && i == nf)
								nf++;
						}
						assert_int_equal(maxinfl, schedule_max_inflight(kinds[ki], p, v, m, s));
						/* warm-up = forwards before the first backward, minus the
						 * steady state's first forward */
						int warm = schedule_warmup(kinds[ki], p, v, m, s);
						assert_true(nf == warm || nf == warm + 1);
						free(seen);
					}
					free(it);
				}
}

static void test_bubble_closed_form(void **state)
{
	(void)state;
	const long tfs[] = {3, 5}, tbs[] = {6, 5};
	for (int c = 0; c < 2; c++)
		for (int p = 1; p <= 8; p++)
			for (int m = 1; m <= 16; m++) {
				long busy;
				long mk = play(SCHED_GPIPE, p, 1, m, tfs[c], tbs[c], &busy);
				assert_int_equal(mk, (long)(m + p - 1) * (tfs[c] + tbs[c]));
				mk = play(SCHED_1F1B, p, 1, m, tfs[c], tbs[c], &busy);
				assert_int_equal(mk, (long)(m + p - 1) * (tfs[c] + tbs[c]));
				double frac = (double)(mk - busy) / (double)mk;
				assert_close(frac, schedule_bubble_fraction(SCHED_1F1B, p, 1, m), 1e-15);
				assert_close(frac, (double)(p - 1) / (m + p - 1), 1e-15);
				for (int v = 2; v <= 4; v++) {
					if (m % p)
						continue;
					mk = play(SCHED_INTERLEAVED, p, v, m, tfs[c], tbs[c], &busy);
					/* per-chunk times: the bubble is (p-1) chunk-steps, i.e. the
					 * 1F1B bubble of whole stages divided by v */
					assert_int_equal(mk, (long)(v * m + p - 1) * (tfs[c] + tbs[c]));
					frac = (double)(mk - busy) / (double)mk;
					assert_close(frac, schedule_bubble_fraction(SCHED_INTERLEAVED, p, v, m), 1e-15);
					double bubble_over_ideal = (double)(mk - busy) / (double)busy;
					assert_close(bubble_over_ideal, (double)(p - 1) / m / v, 1e-12);
				}
			}
}

static void test_megatron_interleaved_order(void **state)
{
	(void)state;
	/* p=2, v=2, m=4, stage 0: warm-up (2-0-1)*2 + (2-1)*2 = 4 */
	struct ps_sched_item it[16];
	assert_int_equal(schedule_warmup(SCHED_INTERLEAVED, 2, 2, 4, 0), 4);
	assert_int_equal(schedule_warmup(SCHED_INTERLEAVED, 2, 2, 4, 1), 2);
	assert_int_equal(schedule_stage(SCHED_INTERLEAVED, 2, 2, 4, 0, it), PS_OK);
	/* F(mb,chunk): (0,0) (1,0) (0,1) (1,1) | F(2,0) B(0,1) F(3,0) B(1,1) F(2,1) B(0,0) F(3,1) B(1,0) | B(2,1) B(3,1) B(2,0) B(3,0) */
	const int want[16][3] = {{0, 0, 0}, {0, 1, 0}, {0, 0, 1}, {0, 1, 1}, {0, 2, 0}, {1, 0, 1}, {0, 3, 0}, {1, 1, 1},
				 {0, 2, 1}, {1, 0, 0}, {0, 3, 1}, {1, 1, 0}, {1, 2, 1}, {1, 3, 1}, {1, 2, 0}, {1, 3, 0}};
	for (int i = 0; i < 16; i++) {
		assert_int_equal(it[i].dir, want[i][0]);
		assert_int_equal(it[i].microbatch, want[i][1]);
		assert_int_equal(it[i].chunk, want[i][2]);
	}
	/* m == p: everything is warm-up */
	assert_int_equal(schedule_warmup(SCHED_INTERLEAVED, 2, 2, 2, 1), 4);
	/* Korthikanti et al. 2022: interleaved stage 0 holds L(1 + (p-1)/(p v)) layers'
	 * activations = (L/(p v)) * (p v + p - 1) chunk activations */
	for (int p = 2; p <= 8; p++)
		for (int v = 2; v <= 4; v++)
			assert_int_equal(schedule_max_inflight(SCHED_INTERLEAVED, p, v, 4 * p, 0), p * v + p - 1);
	/* 1F1B: stage s holds p - s micro-batches (Narayanan et al. 2021) */
	for (int s = 0; s < 8; s++)
		assert_int_equal(schedule_max_inflight(SCHED_1F1B, 8, 1, 16, s), 8 - s);
	assert_int_equal(schedule_max_inflight(SCHED_GPIPE, 8, 1, 16, 3), 16);
	/* interleaved with vpp 1 is 1F1B */
	assert_int_equal(schedule_effective(SCHED_INTERLEAVED, 1), SCHED_1F1B);
}

static void test_schedule_errors(void **state)
{
	(void)state;
	struct ps_sched_item it[64];
	assert_int_equal(schedule_check(SCHED_INTERLEAVED, 4, 2, 6), PS_ERR_INVALID);
	assert_non_null(strstr(ps_error_message(), "multiple of pp"));
	assert_int_equal(schedule_check(SCHED_1F1B, 4, 2, 8), PS_ERR_INVALID);
	assert_int_equal(schedule_check(SCHED_1F1B, 0, 1, 8), PS_ERR_INVALID);
	assert_int_equal(schedule_stage(SCHED_1F1B, 4, 1, 8, 4, it), PS_ERR_INVALID);
	assert_int_equal(schedule_stage(SCHED_1F1B, 4, 1, 8, -1, it), PS_ERR_INVALID);
	assert_string_equal(schedule_name(SCHED_GPIPE), "gpipe");
	assert_string_equal(schedule_name(SCHED_INTERLEAVED), "interleaved");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_orders_are_complete),
		cmocka_unit_test(test_bubble_closed_form),
		cmocka_unit_test(test_megatron_interleaved_order),
		cmocka_unit_test(test_schedule_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
