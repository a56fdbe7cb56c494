/* fold.c — which ranks of a training step can share one representative.
 *
 * The simulator plays one representative per class of identical ranks and
 * weights its results by the class size (doc/step-graph.md, "Folding").
 * Without per-rank perturbations the classes are the pipeline stages: all
 * ranks of a stage run the same tasks at the same times.  With stragglers
 * (per-rank slowdowns) ranks differ, and so do the ranks that wait for
 * them: the classes come from colour refinement.  Start from (stage,
 * slowdown) and split a class while two of its ranks see different
 * multisets of classes in one of their process groups (TP, CP, DP, DP x CP,
 * and the pipeline: the same coordinates on every stage).  The result is
 * the coarsest partition in which all ranks of a class have the same
 * neighbourhood by class; a representative then meets the representatives
 * of the classes of its group in every collective and exchanges its
 * activations with the class of its pipeline neighbour, as each member
 * does.  Classes are numbered by their lowest rank, and that rank is the
 * representative: along the pipeline the representatives are each other's
 * neighbours (the lowest rank of a class sends to the lowest of the next).
 *
 * It does not build tasks (graph.c does) and does not decide whether to
 * fold (the caller does). */
#define _GNU_SOURCE /* qsort_r */
#include "config.h"
#include "fold.h"

#include <stdlib.h>
#include <string.h>

/* Ranks of the group instance of kind k that rank r belongs to, in rank
 * order; returns their count (out has room for fold_group_max). */
int fold_group_members(const struct ps_strategy *st, int r, ps_group_kind k, int *out)
{
	int tp = st->tp, cp = st->cp, dp = st->dp, pp = st->pp;
	int t = r % tp, c = r / tp % cp, d = r / (tp * cp) % dp, s = r / (tp * cp * dp);
	int n = 0;
#define RANK(T, C, D, S) ((T) + tp * ((C) + cp * ((D) + dp * (S))))
	switch (k) {
	case GROUP_TP:
		for (int i = 0; i < tp; i++)
			out[n++] = RANK(i, c, d, s);
		break;
	case GROUP_CP:
		for (int i = 0; i < cp; i++)
			out[n++] = RANK(t, i, d, s);
		break;
	case GROUP_DP:
		for (int i = 0; i < dp; i++)
			out[n++] = RANK(t, c, i, s);
		break;
	case GROUP_DP_CP:
		for (int i = 0; i < dp; i++)
			for (int j = 0; j < cp; j++)
				out[n++] = RANK(t, j, i, s);
		break;
	case GROUP_PP:
		for (int i = 0; i < pp; i++)
			out[n++] = RANK(t, c, d, i);
		break;
	case GROUP_EMBED:
		out[n++] = RANK(t, c, d, 0);
		if (pp > 1)
			out[n++] = RANK(t, c, d, pp - 1);
		break;
	case GROUP_WORLD:
	default:
		for (int i = 0; i < tp * cp * dp * pp; i++)
			out[n++] = i;
		break;
	}
#undef RANK
	return n;
}

int fold_group_max(const struct ps_strategy *st, ps_group_kind k)
{
	switch (k) {
	case GROUP_TP: return st->tp;
	case GROUP_CP: return st->cp;
	case GROUP_DP: return st->dp;
	case GROUP_DP_CP: return st->dp * st->cp;
	case GROUP_PP: return st->pp;
	case GROUP_EMBED: return 2;
	default: return st->tp * st->cp * st->dp * st->pp;
	}
}

/* Signatures are rows of `len` ints compared as arrays. */
struct sig_sort {
	const int *sig;
	int len;
};

static int sig_cmp(const void *a, const void *b, void *arg)
{
	const struct sig_sort *sc = arg;
	int x = *(const int *)a, y = *(const int *)b;
	const int *p = sc->sig + (size_t)x * sc->len, *q = sc->sig + (size_t)y * sc->len;
	for (int i = 0; i < sc->len; i++)
		if (p[i] != q[i])
			return p[i] < q[i] ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int int_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return x < y ? -1 : x > y;
}

/* New colours from signatures: equal rows get equal colours (numbered in
 * sorted order); returns the number of colours. */
static int recolour(const int *sig, int len, int world, int *ord, int *col)
{
	for (int r = 0; r < world; r++)
		ord[r] = r;
	struct sig_sort sc = {sig, len};
	qsort_r(ord, (size_t)world, sizeof *ord, sig_cmp, &sc);
	int n = 0;
	for (int i = 0; i < world; i++) {
		if (i > 0 && memcmp(sig + (size_t)ord[i] * len, sig + (size_t)ord[i - 1] * len, sizeof(int) * len) != 0)
			n++;
		col[ord[i]] = n;
	}
	return world > 0 ? n + 1 : 0;
}

int *fold_classes(const struct ps_strategy *st, const double *slowdown, int *nclasses)
{
	int world = st->tp * st->cp * st->dp * st->pp;
	*nclasses = 0;
	if (world < 1)
		return NULL;
	static const ps_group_kind kinds[] = {GROUP_TP, GROUP_CP, GROUP_DP, GROUP_DP_CP, GROUP_PP};
	int nk = (int)(sizeof kinds / sizeof *kinds);
	int len = 1;
	for (int k = 0; k < nk; k++)
		len += fold_group_max(st, kinds[k]);
	int *sig = malloc(sizeof(int) * (size_t)world * (size_t)(len > 3 ? len : 3));
	int *col = malloc(sizeof(int) * (size_t)world), *ord = malloc(sizeof(int) * (size_t)world);
	int *mem = malloc(sizeof(int) * (size_t)len);
	int *cls = malloc(sizeof(int) * (size_t)world);
	if (!sig || !col || !ord || !mem || !cls) {
		free(sig);
		free(col);
		free(ord);
		free(mem);
		free(cls);
		return NULL;
	}
	/* initial colours: (stage, slowdown) */
	for (int r = 0; r < world; r++) {
		double s = slowdown ? slowdown[r] : 1.0;
		int64_t bits;
		memcpy(&bits, &s, sizeof bits);
		int *row = sig + (size_t)r * 3;
		row[0] = r / (st->tp * st->cp * st->dp);
		row[1] = (int)(bits >> 32);
		row[2] = (int)(bits & 0xffffffff);
	}
	int n = recolour(sig, 3, world, ord, col);
	for (;;) {
		for (int r = 0; r < world; r++) {
			int *row = sig + (size_t)r * len, w = 0;
			row[w++] = col[r];
			for (int k = 0; k < nk; k++) {
				int m = fold_group_members(st, r, kinds[k], mem);
				for (int i = 0; i < m; i++)
					mem[i] = col[mem[i]];
				if (kinds[k] != GROUP_PP) /* the pipeline in stage order: colours carry the stage */
					qsort(mem, (size_t)m, sizeof *mem, int_cmp);
				memcpy(row + w, mem, sizeof(int) * (size_t)m);
				w += m;
			}
		}
		int n2 = recolour(sig, len, world, ord, col);
		if (n2 == n)
			break;
		n = n2;
	}
	/* classes numbered by their lowest rank */
	for (int c = 0; c < n; c++)
		ord[c] = -1;
	int nc = 0;
	for (int r = 0; r < world; r++) {
		if (ord[col[r]] < 0)
			ord[col[r]] = nc++;
		cls[r] = ord[col[r]];
	}
	free(sig);
	free(col);
	free(ord);
	free(mem);
	*nclasses = nc;
	return cls;
}
