/* test-fold.c — classes of identical ranks (sim/fold.c) against brute
 * force: stages without stragglers; with random stragglers, classes uniform
 * in stage and slowdown, equitable in every group, numbered by lowest rank.
 * That folding by these classes plays the same step as every rank is
 * tested in test-simulate (test_partial_fold_equals_unfold). */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fold.h"

/* fold_classes: without stragglers the classes are the stages; with them,
 * every class is uniform in stage and slowdown and equitable — each of its
 * ranks sees the same multiset of classes in each of its groups (checked by
 * brute force) — and classes are numbered by their lowest rank. */
static void test_fold_classes(void **state)
{
	(void)state;
	const struct {
		int tp, cp, dp, pp, nslow;
	} layouts[] = {{2, 1, 4, 2, 1}, {8, 1, 8, 8, 1}, {2, 2, 2, 4, 2}, {4, 1, 2, 2, 3}, {1, 1, 8, 4, 2}};
	uint64_t x = 12345;
	for (size_t li = 0; li < sizeof layouts / sizeof *layouts; li++) {
		struct ps_strategy st = {0};
		st.tp = layouts[li].tp, st.cp = layouts[li].cp, st.dp = layouts[li].dp, st.pp = layouts[li].pp;
		int world = st.tp * st.cp * st.dp * st.pp, n = 0;
		int *c = fold_classes(&st, NULL, &n);
		assert_non_null(c);
		assert_int_equal(n, st.pp);
		for (int r = 0; r < world; r++)
			assert_int_equal(c[r], r / (st.tp * st.cp * st.dp));
		free(c);
		double *slow = malloc(sizeof(double) * (size_t)world);
		for (int r = 0; r < world; r++)
			slow[r] = 1.0;
		for (int k = 0; k < layouts[li].nslow; k++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			slow[(x >> 33) % (uint64_t)world] = 1.25 + 0.25 * k;
		}
		c = fold_classes(&st, slow, &n);
		assert_non_null(c);
		assert_true(n > st.pp && n <= world);
		/* numbered by lowest rank: first occurrences in rank order are 0, 1, 2, ... */
		int seen = 0;
		for (int r = 0; r < world; r++) {
			assert_true(c[r] <= seen);
			if (c[r] == seen)
				seen++;
		}
		assert_int_equal(seen, n);
		static const ps_group_kind kinds[] = {GROUP_TP, GROUP_CP, GROUP_DP, GROUP_DP_CP, GROUP_PP, GROUP_EMBED};
		int *mem = malloc(sizeof(int) * (size_t)world), *ref = malloc(sizeof(int) * (size_t)world * 7 * 2);
		for (int cl = 0; cl < n; cl++) {
			int first = -1;
			for (int r = 0; r < world; r++) {
				if (c[r] != cl)
					continue;
				if (first < 0)
					first = r;
				assert_int_equal(r / (st.tp * st.cp * st.dp), first / (st.tp * st.cp * st.dp));
				assert_true(slow[r] == slow[first]);
				for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
					/* class counts in the group of r against those of the first member */
					int *cnt = ref, *cnt0 = ref + world;
					memset(cnt, 0, sizeof(int) * (size_t)world);
					memset(cnt0, 0, sizeof(int) * (size_t)world);
					int m = fold_group_members(&st, r, kinds[k], mem);
					for (int i = 0; i < m; i++)
						cnt[c[mem[i]]]++;
					m = fold_group_members(&st, first, kinds[k], mem);
					for (int i = 0; i < m; i++)
						cnt0[c[mem[i]]]++;
					assert_memory_equal(cnt, cnt0, sizeof(int) * (size_t)n);
				}
			}
		}
		free(mem);
		free(ref);
		free(slow);
		free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fold_classes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
