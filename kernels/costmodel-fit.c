/* costmodel-fit.c — the profile path of the cost model: measured medians
 * per (op, dtype, variant) fitted with GSL and interpolated in log space.
 *
 * Prediction for a query shape q of a group (doc/cost-model.md):
 *   fit(q)  = c0 + c1 flops(q) + c2 bytes(q), coefficients >= 0, least
 *             squares of the relative error (exact NNLS over the 7 subsets
 *             of {c0, c1, c2});
 *   r(x)    = local linear regression (tricube weights, k nearest, ridge)
 *             of the log residuals log t - log fit over the log shape
 *             dimensions that vary in the group, at x = the query clamped
 *             into the box of the profiled shapes;
 *   t(q)    = max(fit(q) * exp(r(clamp q)), flops/peak_flops, bytes/peak_bw)
 * Inside the grid's box this is an interpolation of the measured times;
 * outside, the fit carries the interpolated correction of the nearest
 * boundary point and the roofline of the measured peak rates bounds it.
 *
 * It does not read the store (costmodel.c does) nor measure anything. */
#include "config.h"
#include "costmodel-int.h"
#include "store.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multifit.h>
#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define CM_KMAX 32 /* most neighbours of one local regression */

static const char *const cm_dtype_names[DTYPE_COUNT_] = {"fp32", "tf32", "bf16", "fp16", "fp8"};

int cm_dtype_from_name(const char *name)
{
	for (int i = 0; i < DTYPE_COUNT_; i++)
		if (strcmp(name, cm_dtype_names[i]) == 0)
			return i;
	return -1;
}

static void cm_shape_to_dims(const struct ps_shape *s, int64_t d[CM_NFIELDS])
{
	d[0] = s->M, d[1] = s->N, d[2] = s->K, d[3] = s->B, d[4] = s->T, d[5] = s->C;
	d[6] = s->NH, d[7] = s->KVH, d[8] = s->HS, d[9] = s->V, d[10] = s->n;
}

static void cm_dims_to_shape(const int64_t d[CM_NFIELDS], int variant, struct ps_shape *s)
{
	s->M = d[0], s->N = d[1], s->K = d[2], s->B = d[3], s->T = d[4], s->C = d[5];
	s->NH = d[6], s->KVH = d[7], s->HS = d[8], s->V = d[9], s->n = d[10];
	s->variant = variant;
}

static double cm_log(int64_t v)
{
	return log(v > 1 ? (double)v : 1.0);
}

static double cm_fit_eval(const struct cm_group *g, double flops, double bytes)
{
	double t = g->c[0] + g->c[1] * flops + g->c[2] * bytes;
	double floor_s = 1e-3 * g->tmin_s;
	return t > floor_s ? t : floor_s;
}

static int cm_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank quantile of v[0..n) (sorts v). */
static double cm_quantile(double *v, int n, double p)
{
	if (n <= 0)
		return 0;
	qsort(v, (size_t)n, sizeof *v, cm_cmp_double);
	int k = (int)ceil(p * n) - 1;
	if (k < 0)
		k = 0;
	if (k >= n)
		k = n - 1;
	return v[k];
}

/* Weighted least squares of relative error over the columns in mask
 * (bit 0: constant, 1: flops, 2: bytes).  Returns the sum of squared
 * relative errors, or -1 when the solution has a negative coefficient or
 * fails.  c[] receives the coefficients (0 for columns not in mask). */
static double cm_ls_subset(const struct cm_group *g, unsigned mask, double c[3])
{
	int cols[3], p = 0;
	for (int j = 0; j < 3; j++)
		if (mask & (1u << j))
			cols[p++] = j;
	if (g->n < p)
		return -1;
	double scale[3] = {1, 0, 0};
	for (int i = 0; i < g->n; i++) {
		if (g->pt[i].flops > scale[1])
			scale[1] = g->pt[i].flops;
		if (g->pt[i].bytes > scale[2])
			scale[2] = g->pt[i].bytes;
	}
	for (int j = 0; j < p; j++)
		if (!(scale[cols[j]] > 0))
			return -1; /* column of zeros */
	double chisq = -1;
	gsl_matrix *X = gsl_matrix_alloc((size_t)g->n, (size_t)p);
	gsl_vector *y = gsl_vector_alloc((size_t)g->n);
	gsl_vector *b = gsl_vector_alloc((size_t)p);
	gsl_matrix *cov = gsl_matrix_alloc((size_t)p, (size_t)p);
	gsl_multifit_linear_workspace *w = gsl_multifit_linear_alloc((size_t)g->n, (size_t)p);
	if (!X || !y || !b || !cov || !w)
		goto out;
	for (int i = 0; i < g->n; i++) {
		const struct cm_point *pt = &g->pt[i];
		double v[3] = {1, pt->flops, pt->bytes};
		for (int j = 0; j < p; j++)
			gsl_matrix_set(X, (size_t)i, (size_t)j, v[cols[j]] / scale[cols[j]] / pt->t_s);
		gsl_vector_set(y, (size_t)i, 1.0);
	}
	double chi;
	if (gsl_multifit_linear(X, y, b, cov, &chi, w) != GSL_SUCCESS)
		goto out;
	c[0] = c[1] = c[2] = 0;
	for (int j = 0; j < p; j++) {
		double v = gsl_vector_get(b, (size_t)j) / scale[cols[j]];
		if (!(v >= 0) || !isfinite(v))
			goto out;
		c[cols[j]] = v;
	}
	chisq = chi;
out:
	gsl_multifit_linear_free(w);
	gsl_matrix_free(cov);
	gsl_vector_free(b);
	gsl_vector_free(y);
	gsl_matrix_free(X);
	return chisq;
}

/* Fit a group over its points: box, features, NNLS coefficients, residuals. */
static void cm_group_fit(struct cm_group *g)
{
	g->tmin_s = INFINITY;
	for (int f = 0; f < CM_NFIELDS; f++) {
		g->lo[f] = INT64_MAX;
		g->hi[f] = INT64_MIN;
	}
	for (int i = 0; i < g->n; i++) {
		const struct cm_point *pt = &g->pt[i];
		if (pt->t_s < g->tmin_s)
			g->tmin_s = pt->t_s;
		for (int f = 0; f < CM_NFIELDS; f++) {
			if (pt->dim[f] < g->lo[f])
				g->lo[f] = pt->dim[f];
			if (pt->dim[f] > g->hi[f])
				g->hi[f] = pt->dim[f];
		}
	}
	g->nf = 0;
	for (int f = 0; f < CM_NFIELDS; f++) {
		double range = cm_log(g->hi[f]) - cm_log(g->lo[f]);
		if (range > 1e-12) {
			g->xscale[g->nf] = 1.0 / range;
			g->field[g->nf++] = f;
		}
	}
	/* Exact non-negative least squares for 3 unknowns: best of the
	 * feasible unconstrained solutions over all subsets of columns. */
	double best = INFINITY, c[3];
	g->c[0] = g->tmin_s, g->c[1] = g->c[2] = 0;
	for (unsigned mask = 1; mask < 8; mask++) {
		double chi = cm_ls_subset(g, mask, c);
		if (chi >= 0 && chi < best * (1 - 1e-12)) {
			best = chi;
			memcpy(g->c, c, sizeof c);
		}
	}
	for (int i = 0; i < g->n; i++) {
		struct cm_point *pt = &g->pt[i];
		pt->resid = log(pt->t_s) - log(cm_fit_eval(g, pt->flops, pt->bytes));
		for (int j = 0; j < g->nf; j++) {
			int f = g->field[j];
			pt->x[j] = (cm_log(pt->dim[f]) - cm_log(g->lo[f])) * g->xscale[j];
		}
	}
}

/* Local linear regression of the residuals at standardised point x. */
static double cm_group_resid(const struct cm_group *g, const double *x)
{
	int d = g->nf, p = d + 1;
	if (g->n == 1 || d == 0) {
		double s = 0;
		for (int i = 0; i < g->n; i++)
			s += g->pt[i].resid;
		return s / g->n;
	}
	int k = 2 * d + 2;
	if (k > CM_KMAX)
		k = CM_KMAX;
	if (k > g->n)
		k = g->n;
	/* k nearest by insertion into a sorted list. */
	int idx[CM_KMAX];
	double dist[CM_KMAX];
	int m = 0;
	for (int i = 0; i < g->n; i++) {
		double s = 0;
		for (int j = 0; j < d; j++) {
			double u = g->pt[i].x[j] - x[j];
			s += u * u;
		}
		if (m == k && s >= dist[m - 1])
			continue;
		int pos = m < k ? m++ : m - 1;
		while (pos > 0 && dist[pos - 1] > s) {
			dist[pos] = dist[pos - 1];
			idx[pos] = idx[pos - 1];
			pos--;
		}
		dist[pos] = s;
		idx[pos] = i;
	}
	/* Bandwidth 1.1 x the k-th neighbour's distance, chosen by
	 * leave-one-out over two full profiles of this machine among 1.0 ..
	 * 2.0 (doc/cost-model.md, "Leave-one-out after the fix"): the
	 * narrowest ones followed the cache and thread steps best. */
	double h = 1.1 * sqrt(dist[m - 1]);
	if (!(h > 0)) /* all neighbours coincide with x */
		h = 1;
	double A[(CM_NFIELDS + 1) * (CM_NFIELDS + 1)] = {0}, b[CM_NFIELDS + 1] = {0}, sol[CM_NFIELDS + 1];
	double wsum = 0, wr = 0;
	for (int a = 0; a < m; a++) {
		const struct cm_point *pt = &g->pt[idx[a]];
		double u = sqrt(dist[a]) / h;
		double w = 1 - u * u * u;
		w = w * w * w;
		if (w < 1e-6)
			w = 1e-6;
		double z[CM_NFIELDS + 1];
		z[0] = 1;
		for (int j = 0; j < d; j++)
			z[j + 1] = pt->x[j] - x[j];
		for (int r = 0; r < p; r++) {
			b[r] += w * z[r] * pt->resid;
			for (int c = 0; c < p; c++)
				A[r * p + c] += w * z[r] * z[c];
		}
		wsum += w;
		wr += w * pt->resid;
	}
	/* Ridge on the slopes keeps degenerate neighbourhoods (collinear or
	 * too few points) solvable; it shrinks toward the local mean. */
	for (int j = 1; j < p; j++)
		A[j * p + j] += 1e-3 * wsum;
	gsl_matrix_view Av = gsl_matrix_view_array(A, (size_t)p, (size_t)p);
	gsl_vector_view bv = gsl_vector_view_array(b, (size_t)p);
	gsl_vector_view sv = gsl_vector_view_array(sol, (size_t)p);
	if (gsl_linalg_cholesky_decomp1(&Av.matrix) != GSL_SUCCESS ||
	    gsl_linalg_cholesky_solve(&Av.matrix, &bv.vector, &sv.vector) != GSL_SUCCESS || !isfinite(sol[0]))
		return wr / wsum;
	return sol[0];
}

/* Prediction of group g for query (shape, already as dims). */
static double cm_group_predict(const struct cm_group *g, const int64_t qd[CM_NFIELDS], int variant,
			       double peak_f, double peak_b)
{
	struct ps_shape qs;
	cm_dims_to_shape(qd, variant, &qs);
	double flops = op_flops(g->op, &qs);
	double bytes = op_bytes(g->op, &qs, g->elem_bytes);
	if (!(flops > 0) || !isfinite(flops))
		flops = 0;
	if (!(bytes > 0) || !isfinite(bytes))
		bytes = 0;
	double x[CM_NFIELDS];
	for (int j = 0; j < g->nf; j++) {
		int f = g->field[j];
		int64_t v = qd[f];
		if (v < g->lo[f])
			v = g->lo[f];
		if (v > g->hi[f])
			v = g->hi[f];
		x[j] = (cm_log(v) - cm_log(g->lo[f])) * g->xscale[j];
	}
	double t = cm_fit_eval(g, flops, bytes) * exp(cm_group_resid(g, x));
	if (peak_f > 0 && flops / peak_f > t)
		t = flops / peak_f;
	if (peak_b > 0 && bytes / peak_b > t)
		t = bytes / peak_b;
	return t;
}

/* Preference of the profiled dtype have for a query in want: 0 best. */
static int cm_dtype_rank(ps_dtype want, ps_dtype have)
{
	if (have == want)
		return 0;
	if (have < want)
		return 1 + (int)(want - have);	  /* wider: next in the fallback chain */
	return DTYPE_COUNT_ + (int)(have - want); /* narrower: last resort */
}

static const struct cm_group *cm_group_find(const struct ps_costmodel *cm, ps_op op, ps_dtype dtype,
					    int variant)
{
	const struct cm_group *best = NULL;
	int best_score = 0;
	for (int i = 0; i < cm->ngroups; i++) {
		const struct cm_group *g = &cm->groups[i];
		if (g->op != op)
			continue;
		int score = cm_dtype_rank(dtype, g->dtype) + (g->variant == variant ? 0 : 100);
		if (!best || score < best_score || (score == best_score && g->n > best->n)) {
			best = g;
			best_score = score;
		}
	}
	return best;
}

/* A small per-thread memo of recent queries: the simulator asks for the
 * same (op, shape) many times (every layer, micro-batch and rank).  Keyed by
 * the model's unique id (not its address, which a later model may reuse),
 * so it needs no invalidation; results are bit-identical to a fresh
 * computation, so determinism does not depend on the hit pattern. */
#define CM_MEMO 256
struct cm_memo {
	uint64_t uid; /* 0 = empty */
	int op, dtype, variant;
	int64_t dim[CM_NFIELDS];
	double t_s;
};
static _Thread_local struct cm_memo cm_memo[CM_MEMO];
static _Atomic uint64_t cm_next_uid = 1;

uint64_t cm_uid_new(void)
{
	return cm_next_uid++;
}

static unsigned cm_memo_slot(uint64_t uid, int op, int dtype, int variant, const int64_t *d)
{
	uint64_t h = uid * 0x9e3779b97f4a7c15ull ^ (uint64_t)(op * 31 + dtype * 7 + variant);
	for (int f = 0; f < CM_NFIELDS; f++)
		h = (h ^ (uint64_t)d[f]) * 0x100000001b3ull;
	return (unsigned)(h >> 40) % CM_MEMO;
}

static double cm_profile_compute(const struct ps_costmodel *cm, ps_op op, const struct ps_shape *shape,
				 const int64_t qd[CM_NFIELDS], ps_dtype dtype);

double cm_profile_kernel_s(const struct ps_costmodel *cm, ps_op op, const struct ps_shape *shape,
			   ps_dtype dtype)
{
	int64_t qd[CM_NFIELDS];
	cm_shape_to_dims(shape, qd);
	struct cm_memo *m = &cm_memo[cm_memo_slot(cm->uid, (int)op, (int)dtype, shape->variant, qd)];
	if (m->uid == cm->uid && m->op == (int)op && m->dtype == (int)dtype && m->variant == shape->variant &&
	    memcmp(m->dim, qd, sizeof qd) == 0)
		return m->t_s;
	double t = cm_profile_compute(cm, op, shape, qd, dtype);
	m->uid = cm->uid, m->op = (int)op, m->dtype = (int)dtype, m->variant = shape->variant;
	memcpy(m->dim, qd, sizeof qd);
	m->t_s = t;
	return t;
}

static double cm_profile_compute(const struct ps_costmodel *cm, ps_op op, const struct ps_shape *shape,
				 const int64_t qd[CM_NFIELDS], ps_dtype dtype)
{
	const struct cm_group *g = cm_group_find(cm, op, dtype, shape->variant);
	if (g)
		return cm_group_predict(g, qd, shape->variant, cm->peak_flops_per_s, cm->peak_bytes_per_s);
	/* No sample of this op: the roofline of the measured peaks, never
	 * below the fastest call measured (the launch/loop overhead). */
	double flops = op_flops(op, shape), bytes = op_bytes(op, shape, costmodel_dtype_bytes(dtype));
	double t = cm->tmin_s;
	if (cm->peak_flops_per_s > 0 && flops / cm->peak_flops_per_s > t)
		t = flops / cm->peak_flops_per_s;
	if (cm->peak_bytes_per_s > 0 && bytes / cm->peak_bytes_per_s > t)
		t = bytes / cm->peak_bytes_per_s;
	return t;
}

struct cm_sorted {
	int op, dtype, variant;
	int64_t dim[CM_NFIELDS];
	size_t i;
};

static int cm_cmp_sorted(const void *a, const void *b)
{
	const struct cm_sorted *x = a, *y = b;
	if (x->op != y->op)
		return x->op - y->op;
	if (x->dtype != y->dtype)
		return x->dtype - y->dtype;
	if (x->variant != y->variant)
		return x->variant - y->variant;
	for (int f = 0; f < CM_NFIELDS; f++)
		if (x->dim[f] != y->dim[f])
			return x->dim[f] < y->dim[f] ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static int cm_same_shape(const struct cm_sorted *a, const struct cm_sorted *b)
{
	return a->op == b->op && a->dtype == b->dtype && a->variant == b->variant &&
	       memcmp(a->dim, b->dim, sizeof a->dim) == 0;
}

static int cm_same_group(const struct cm_sorted *a, const struct cm_sorted *b)
{
	return a->op == b->op && a->dtype == b->dtype && a->variant == b->variant;
}

ps_status cm_profile_build(struct ps_costmodel *cm, const struct ps_kernel_sample *s, size_t n)
{
	gsl_set_error_handler_off();
	if (n == 0)
		return PS_ERROR(PS_ERR_INVALID, "cost model: the profile has no samples");
	struct cm_sorted *ord = malloc(n * sizeof *ord);
	cm->points = calloc(n, sizeof *cm->points);
	if (!ord || !cm->points) {
		free(ord);
		return PS_ERROR(PS_ERR_NOMEM, "cost model: out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		ps_op op;
		int dt = cm_dtype_from_name(s[i].dtype);
		if (op_parse(s[i].op, &op) != 0) {
			free(ord);
			return PS_ERROR(PS_ERR_INVALID, "cost model: sample %zu: unknown op \"%.32s\"", i,
					s[i].op);
		}
		if (dt < 0) {
			free(ord);
			return PS_ERROR(PS_ERR_INVALID, "cost model: sample %zu: unknown dtype \"%.8s\"", i,
					s[i].dtype);
		}
		if (!(s[i].median_s > 0) || !isfinite(s[i].median_s)) {
			free(ord);
			return PS_ERROR(PS_ERR_INVALID,
					"cost model: sample %zu (%s): median time must be positive", i,
					s[i].op);
		}
		ord[i] = (struct cm_sorted){.op = (int)op, .dtype = dt, .variant = s[i].variant, .i = i};
		struct ps_shape sh = {.M = s[i].M,
				      .N = s[i].N,
				      .K = s[i].K,
				      .B = s[i].B,
				      .T = s[i].T,
				      .C = s[i].C,
				      .NH = s[i].NH,
				      .KVH = s[i].KVH,
				      .HS = s[i].HS,
				      .V = s[i].V,
				      .n = s[i].n};
		cm_shape_to_dims(&sh, ord[i].dim);
	}
	qsort(ord, n, sizeof *ord, cm_cmp_sorted);
	/* The same shape measured again (a profile run twice into one store):
	 * the last sample wins. */
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && cm_same_shape(&ord[i], &ord[i + 1]))
			continue;
		ord[w++] = ord[i];
	}
	n = w;
	int ng = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || !cm_same_group(&ord[i], &ord[i - 1]))
			ng++;
	cm->groups = calloc((size_t)ng, sizeof *cm->groups);
	if (!cm->groups) {
		free(ord);
		return PS_ERROR(PS_ERR_NOMEM, "cost model: out of memory");
	}
	cm->npoints = n;
	cm->ngroups = 0;
	cm->tmin_s = INFINITY;
	for (size_t i = 0; i < n; i++) {
		const struct ps_kernel_sample *k = &s[ord[i].i];
		struct cm_point *pt = &cm->points[i];
		if (i == 0 || !cm_same_group(&ord[i], &ord[i - 1])) {
			struct cm_group *g = &cm->groups[cm->ngroups++];
			g->op = (ps_op)ord[i].op;
			g->dtype = (ps_dtype)ord[i].dtype;
			g->variant = ord[i].variant;
			g->elem_bytes = costmodel_dtype_bytes(g->dtype);
			g->pt = pt;
		}
		struct cm_group *g = &cm->groups[cm->ngroups - 1];
		g->n++;
		struct ps_shape sh;
		memcpy(pt->dim, ord[i].dim, sizeof pt->dim);
		cm_dims_to_shape(pt->dim, k->variant, &sh);
		/* Recomputed rather than trusted, so that samples and queries are
		 * measured in the same units. */
		pt->flops = op_flops(g->op, &sh);
		pt->bytes = op_bytes(g->op, &sh, g->elem_bytes);
		if (!(pt->flops > 0) || !isfinite(pt->flops))
			pt->flops = 0;
		if (!(pt->bytes > 0) || !isfinite(pt->bytes))
			pt->bytes = 0;
		pt->t_s = k->median_s;
		if (pt->flops / pt->t_s > cm->peak_flops_per_s)
			cm->peak_flops_per_s = pt->flops / pt->t_s;
		if (pt->bytes / pt->t_s > cm->peak_bytes_per_s)
			cm->peak_bytes_per_s = pt->bytes / pt->t_s;
		if (pt->t_s < cm->tmin_s)
			cm->tmin_s = pt->t_s;
	}
	free(ord);
	for (int i = 0; i < cm->ngroups; i++)
		cm_group_fit(&cm->groups[i]);
	return PS_OK;
}

void cm_profile_fini(struct ps_costmodel *cm)
{
	free(cm->groups);
	free(cm->points);
	cm->groups = NULL;
	cm->points = NULL;
}

ps_status cm_profile_quality(const struct ps_costmodel *cm, ps_op op, struct ps_costmodel_quality *q)
{
	int n = 0, biggest = -1;
	for (int i = 0; i < cm->ngroups; i++)
		if (cm->groups[i].op == op) {
			n += cm->groups[i].n;
			if (biggest < 0 || cm->groups[i].n > cm->groups[biggest].n)
				biggest = i;
		}
	if (n == 0)
		return PS_ERROR(PS_ERR_NOTFOUND, "cost model: no samples of %s", op_name(op));
	double *fit_err = malloc((size_t)n * sizeof *fit_err);
	double *loo_err = malloc((size_t)n * sizeof *loo_err);
	struct cm_point *tmp = malloc((size_t)n * sizeof *tmp);
	if (!fit_err || !loo_err || !tmp) {
		free(fit_err);
		free(loo_err);
		free(tmp);
		return PS_ERROR(PS_ERR_NOMEM, "cost model: out of memory");
	}
	double mean = 0, ss_res = 0, ss_tot = 0;
	int m = 0, nloo = 0;
	for (int gi = 0; gi < cm->ngroups; gi++) {
		const struct cm_group *g = &cm->groups[gi];
		if (g->op != op)
			continue;
		for (int i = 0; i < g->n; i++)
			mean += log(g->pt[i].t_s);
	}
	mean /= n;
	for (int gi = 0; gi < cm->ngroups; gi++) {
		const struct cm_group *g = &cm->groups[gi];
		if (g->op != op)
			continue;
		for (int i = 0; i < g->n; i++) {
			const struct cm_point *pt = &g->pt[i];
			double f = cm_fit_eval(g, pt->flops, pt->bytes);
			double lt = log(pt->t_s);
			ss_res += (lt - log(f)) * (lt - log(f));
			ss_tot += (lt - mean) * (lt - mean);
			fit_err[m++] = fabs(f - pt->t_s) / pt->t_s;
		}
		if (g->n < 2)
			continue; /* nothing to predict a lone sample from */
		for (int i = 0; i < g->n; i++) {
			struct cm_group h = *g;
			h.pt = tmp;
			h.n = 0;
			for (int j = 0; j < g->n; j++)
				if (j != i)
					tmp[h.n++] = g->pt[j];
			cm_group_fit(&h);
			/* Peak rates without the held-back point. */
			double pf = 0, pb = 0;
			for (size_t a = 0; a < cm->npoints; a++) {
				const struct cm_point *o = &cm->points[a];
				if (o == &g->pt[i])
					continue;
				if (o->flops / o->t_s > pf)
					pf = o->flops / o->t_s;
				if (o->bytes / o->t_s > pb)
					pb = o->bytes / o->t_s;
			}
			double t = cm_group_predict(&h, g->pt[i].dim, g->variant, pf, pb);
			loo_err[nloo++] = fabs(t - g->pt[i].t_s) / g->pt[i].t_s;
		}
	}
	q->n = n;
	q->r2_log = ss_tot > 0 ? 1 - ss_res / ss_tot : 1;
	q->fit_median_rel = cm_quantile(fit_err, m, 0.5);
	q->fit_p90_rel = cm_quantile(fit_err, m, 0.9);
	q->loo_median_rel = cm_quantile(loo_err, nloo, 0.5);
	q->loo_p90_rel = cm_quantile(loo_err, nloo, 0.9);
	q->loo_max_rel = nloo ? loo_err[nloo - 1] : 0;
	q->c0_s = cm->groups[biggest].c[0];
	q->c1_s_per_flop = cm->groups[biggest].c[1];
	q->c2_s_per_byte = cm->groups[biggest].c[2];
	free(fit_err);
	free(loo_err);
	free(tmp);
	return PS_OK;
}
