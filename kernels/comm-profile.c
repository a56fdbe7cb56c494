/* comm-profile.c — timing loops and the alpha-beta fit of the collective
 * profiler, on top of the small MPI interface of comm-mpi.c / comm-none.c.
 *
 * Every rank runs the same loop; rank 0 decides when the median is stable
 * and broadcasts the decision, so all ranks call the same collectives.
 * The fit t = alpha + bytes / bw is a weighted linear least squares (GSL,
 * weights 1/t^2: relative errors), kept non-negative; a piecewise version
 * splits the sizes into up to PS_COMM_SEGMENTS ranges with a line each
 * (breakpoints by dynamic programming over the sorted sizes; the most
 * segments whose last one halved the squared error).
 * Nothing here prints or stores; sim/cmd-profile.c does. */
#define _GNU_SOURCE /* qsort_r */
#include "config.h"
#include "profile.h"
#include "store.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const profile_comm_ops[4] = {"sendrecv", "allreduce", "allgather", "reducescatter"};

static double pc_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

ps_status profile_comm_sizes(ps_profile_level level, double **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int lo = 3, hi = 28, step = 1; /* 8 B .. 256 MiB, powers of 2 */
	if (level == PROFILE_QUICK)
		hi = 27, step = 2; /* 8 B .. 128 MiB, powers of 4 */
	else if (level == PROFILE_TINY)
		hi = 15, step = 6; /* 8 B, 512 B, 32 KiB */
	double *s = malloc((size_t)(hi - lo + 1) * sizeof *s);
	if (!s)
		return PS_ERROR(PS_ERR_NOMEM, "comm sizes: out of memory");
	for (int e = lo; e <= hi; e += step)
		s[(*n)++] = ldexp(1.0, e);
	*out = s;
	return PS_OK;
}

ps_status profile_comm_measure(const char *op, size_t bytes, const struct ps_profile_opts *o, void *sendbuf,
			       void *recvbuf, struct ps_comm_sample *out)
{
	memset(out, 0, sizeof *out);
	int maxr = o->max_reps > 0 ? o->max_reps : 100;
	double *t = malloc((size_t)maxr * sizeof *t), *scratch = malloc((size_t)maxr * sizeof *t);
	if (!t || !scratch) {
		free(t);
		free(scratch);
		return PS_ERROR(PS_ERR_NOMEM, "comm profile: out of memory");
	}
	ps_status rc;
	double one = 0;
	/* Warm-up, and the number of calls per timed sample (>= ~100 us), as
	 * decided by rank 0. */
	double w0 = pc_now();
	int more = 1, calls = 0;
	while (more) {
		rc = profile_comm_run(op, bytes, 1, sendbuf, recvbuf, &one);
		if (rc != PS_OK)
			goto out;
		calls++;
		more = pc_now() - w0 < o->warmup_s && calls < 100;
		if ((rc = profile_comm_bcast_int(&more)) != PS_OK)
			goto out;
	}
	int inner = one > 0 ? (int)ceil(100e-6 / one) : 1;
	if (inner < 1)
		inner = 1;
	if (inner > 1000)
		inner = 1000;
	if ((rc = profile_comm_bcast_int(&inner)) != PS_OK)
		goto out;
	int reps = 0;
	double r0 = pc_now(), med = 0, mad = 0, ci = INFINITY;
	for (;;) {
		if ((rc = profile_comm_run(op, bytes, inner, sendbuf, recvbuf, &t[reps])) != PS_OK)
			goto out;
		reps++;
		int stop = reps >= maxr;
		double el = pc_now() - r0;
		if (!stop && (reps >= o->min_reps || el >= o->max_s)) {
			memcpy(scratch, t, (size_t)reps * sizeof *t);
			profile_stats(scratch, reps, &med, &mad, &ci);
			stop = (reps >= o->min_reps && ci <= o->target_ci) || (el >= o->max_s && reps >= 3);
		}
		if ((rc = profile_comm_bcast_int(&stop)) != PS_OK)
			goto out;
		if (stop)
			break;
	}
	profile_stats(t, reps, &med, &mad, &ci);
	snprintf(out->op, sizeof out->op, "%s", op);
	out->ranks = profile_comm_size();
	out->bytes = (double)bytes;
	out->median_s = med;
	out->spread_s = mad;
	out->reps = reps;
out:
	free(t);
	free(scratch);
	return rc;
}

static int pc_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Weighted LS of t on [1, bytes] or [bytes] only (through_origin) or [1]
 * only (no_slope); c[0] alpha, c[1] seconds per byte. */
static int pc_wls(const struct ps_comm_sample *s, const int *idx, int m, int cols, double c[2])
{
	/* cols: 3 = both, 1 = constant, 2 = slope only */
	int p = (cols & 1) + ((cols >> 1) & 1);
	if (m < p)
		return -1;
	double scale = 1;
	for (int i = 0; i < m; i++)
		if (s[idx[i]].bytes > scale)
			scale = s[idx[i]].bytes;
	gsl_matrix *X = gsl_matrix_alloc((size_t)m, (size_t)p);
	gsl_vector *y = gsl_vector_alloc((size_t)m), *w = gsl_vector_alloc((size_t)m),
		   *b = gsl_vector_alloc((size_t)p);
	gsl_matrix *cov = gsl_matrix_alloc((size_t)p, (size_t)p);
	gsl_multifit_linear_workspace *ws = gsl_multifit_linear_alloc((size_t)m, (size_t)p);
	int ok = -1;
	if (X && y && w && b && cov && ws) {
		for (int i = 0; i < m; i++) {
			const struct ps_comm_sample *q = &s[idx[i]];
			int j = 0;
			if (cols & 1)
				gsl_matrix_set(X, (size_t)i, (size_t)j++, 1.0);
			if (cols & 2)
				gsl_matrix_set(X, (size_t)i, (size_t)j, q->bytes / scale);
			gsl_vector_set(y, (size_t)i, q->median_s);
			gsl_vector_set(w, (size_t)i, 1.0 / (q->median_s * q->median_s));
		}
		double chi;
		if (gsl_multifit_wlinear(X, w, y, b, cov, &chi, ws) == GSL_SUCCESS) {
			int j = 0;
			c[0] = (cols & 1) ? gsl_vector_get(b, (size_t)j++) : 0;
			c[1] = (cols & 2) ? gsl_vector_get(b, (size_t)j) / scale : 0;
			ok = 0;
		}
	}
	gsl_multifit_linear_free(ws);
	gsl_matrix_free(cov);
	gsl_vector_free(b);
	gsl_vector_free(w);
	gsl_vector_free(y);
	gsl_matrix_free(X);
	return ok;
}

/* Non-negative alpha-beta line over idx[0..m): the free fit, else through
 * the origin, else a constant; -1 when none can be fitted. */
static int pc_fit_nonneg(const struct ps_comm_sample *s, const int *idx, int m, double c[2])
{
	if (pc_wls(s, idx, m, 3, c) == 0 && c[0] >= 0 && c[1] >= 0)
		return 0;
	if (pc_wls(s, idx, m, 2, c) == 0 && c[1] > 0)
		return 0;
	return pc_wls(s, idx, m, 1, c);
}

/* Sum of squared relative errors of line c over idx[0..m). */
static double pc_sse(const struct ps_comm_sample *s, const int *idx, int m, const double c[2])
{
	double e = 0;
	for (int i = 0; i < m; i++) {
		const struct ps_comm_sample *q = &s[idx[i]];
		double r = (c[0] + c[1] * q->bytes - q->median_s) / q->median_s;
		e += r * r;
	}
	return e;
}

static int pc_cmp_bytes(const void *a, const void *b, void *arg)
{
	const struct ps_comm_sample *s = arg;
	double x = s[*(const int *)a].bytes, y = s[*(const int *)b].bytes;
	return x < y ? -1 : x > y;
}

#define PC_MIN_SEG 3 /* sizes per segment: two parameters and one degree of freedom */

/* Relative errors of the fit at the samples idx[0..m) into err (sorted),
 * and their median and 90th percentile. */
static void pc_errors(const struct ps_comm_sample *s, const int *idx, int m, const struct ps_comm_fit *f, double *err,
		      double *med, double *p90)
{
	for (int i = 0; i < m; i++)
		err[i] = fabs(profile_comm_fit_time(f, s[idx[i]].bytes) - s[idx[i]].median_s) / s[idx[i]].median_s;
	qsort(err, (size_t)m, sizeof *err, pc_cmp_double);
	*med = err[(int)ceil(0.5 * m) - 1];
	*p90 = err[(int)ceil(0.9 * m) - 1];
}

/* The piecewise fit over idx[0..m) (sorted here by size). */
static ps_status pc_piecewise(const struct ps_comm_sample *s, int *idx, int m, struct ps_comm_fit *fit, double *err)
{
	qsort_r(idx, (size_t)m, sizeof *idx, pc_cmp_bytes, (void *)s);
	int K = PS_COMM_SEGMENTS;
	double *cost = malloc(sizeof(double) * (size_t)(m + 1) * (size_t)(m + 1));
	double *line = malloc(sizeof(double) * 2 * (size_t)(m + 1) * (size_t)(m + 1));
	double *best = malloc(sizeof(double) * (size_t)(K + 1) * (size_t)(m + 1));
	int *from = malloc(sizeof(int) * (size_t)(K + 1) * (size_t)(m + 1));
	ps_status rc = PS_OK;
	if (!cost || !line || !best || !from) {
		rc = PS_ERROR(PS_ERR_NOMEM, "comm fit: out of memory");
		goto out;
	}
	/* cost[i][j]: squared relative error of one line over sizes i..j-1 */
	for (int i = 0; i <= m; i++)
		for (int j = 0; j <= m; j++) {
			double *c = &line[2 * ((size_t)i * (m + 1) + j)];
			cost[(size_t)i * (m + 1) + j] = INFINITY;
			if (j - i >= PC_MIN_SEG && pc_fit_nonneg(s, idx + i, j - i, c) == 0)
				cost[(size_t)i * (m + 1) + j] = pc_sse(s, idx + i, j - i, c);
		}
	for (int k = 0; k <= K; k++)
		for (int j = 0; j <= m; j++) {
			best[(size_t)k * (m + 1) + j] = k == 0 && j == 0 ? 0 : INFINITY;
			from[(size_t)k * (m + 1) + j] = -1;
		}
	for (int k = 1; k <= K; k++)
		for (int j = 1; j <= m; j++)
			for (int i = 0; i < j; i++) {
				double v = best[(size_t)(k - 1) * (m + 1) + i] + cost[(size_t)i * (m + 1) + j];
				if (v < best[(size_t)k * (m + 1) + j]) {
					best[(size_t)k * (m + 1) + j] = v;
					from[(size_t)k * (m + 1) + j] = i;
				}
			}
	/* The most segments whose last added segment halved the squared error
	 * (floored at 1e-6 relative per size, so exact data keep their
	 * segments): a real cliff cuts the error by orders of magnitude, a
	 * split that only follows noise (latency-bound small sizes at 1 % noise
	 * in the tests) by about a third.  Akaike's and Schwarz's criteria, and
	 * "the fewest within 2x of the best", took such splits. */
	int kbest = 0;
	double prev = INFINITY;
	for (int k = 1; k <= K; k++) {
		double e = best[(size_t)k * (m + 1) + m];
		if (!isfinite(e))
			break;
		e = fmax(e, 1e-12 * m);
		if (k == 1 || e <= prev / 2)
			kbest = k;
		prev = e;
	}
	if (kbest == 0)
		goto out; /* too few sizes: no piecewise fit */
	fit->nseg = kbest;
	for (int k = kbest, j = m; k >= 1; k--) {
		int i = from[(size_t)k * (m + 1) + j];
		const double *c = &line[2 * ((size_t)i * (m + 1) + j)];
		fit->seg_alpha_s[k - 1] = c[0];
		fit->seg_bw_Bps[k - 1] = c[1] > 0 ? 1.0 / c[1] : INFINITY;
		/* a segment starts halfway (in log size) after the previous one's last size */
		fit->seg_from_bytes[k - 1] = i == 0 ? 0 : sqrt(s[idx[i - 1]].bytes * s[idx[i]].bytes);
		j = i;
	}
	pc_errors(s, idx, m, fit, err, &fit->seg_median_rel, &fit->seg_p90_rel);
out:
	free(cost);
	free(line);
	free(best);
	free(from);
	return rc;
}

double profile_comm_fit_time(const struct ps_comm_fit *fit, double bytes)
{
	if (fit->nseg <= 0)
		return fit->alpha_s + (isfinite(fit->bw_Bps) ? bytes / fit->bw_Bps : 0);
	int k = 0;
	while (k + 1 < fit->nseg && bytes >= fit->seg_from_bytes[k + 1])
		k++;
	return fit->seg_alpha_s[k] + (isfinite(fit->seg_bw_Bps[k]) ? bytes / fit->seg_bw_Bps[k] : 0);
}

ps_status profile_comm_fit(const struct ps_comm_sample *s, size_t n, const char *op, int ranks,
			   struct ps_comm_fit *fit)
{
	gsl_set_error_handler_off();
	memset(fit, 0, sizeof *fit);
	snprintf(fit->op, sizeof fit->op, "%s", op);
	int *idx = malloc((n ? n : 1) * sizeof *idx);
	double *err = malloc((n ? n : 1) * sizeof *err);
	if (!idx || !err) {
		free(idx);
		free(err);
		return PS_ERROR(PS_ERR_NOMEM, "comm fit: out of memory");
	}
	if (ranks <= 0)
		for (size_t i = 0; i < n; i++)
			if (strcmp(s[i].op, op) == 0 && s[i].ranks > ranks)
				ranks = s[i].ranks;
	fit->ranks = ranks;
	int m = 0;
	for (size_t i = n; i-- > 0;) { /* newest first; skip sizes already taken */
		if (strcmp(s[i].op, op) != 0 || s[i].ranks != ranks || !(s[i].median_s > 0) ||
		    !(s[i].bytes > 0))
			continue;
		int dup = 0;
		for (int j = 0; j < m && !dup; j++)
			dup = s[idx[j]].bytes == s[i].bytes;
		if (!dup)
			idx[m++] = (int)i;
	}
	ps_status rc = PS_OK;
	double c[2] = {0, 0};
	if (m < 2) {
		rc = PS_ERROR(PS_ERR_NOTFOUND, "comm fit: %d samples of %s, need 2", m, op);
		goto out;
	}
	/* Non-negative: both, else through the origin, else constant. */
	if (pc_fit_nonneg(s, idx, m, c) != 0) {
		rc = PS_ERROR(PS_ERR_INTERNAL, "comm fit of %s failed", op);
		goto out;
	}
	fit->n = m;
	fit->alpha_s = c[0];
	fit->bw_Bps = c[1] > 0 ? 1.0 / c[1] : INFINITY;
	double mean = 0, ss_res = 0, ss_tot = 0;
	for (int i = 0; i < m; i++)
		mean += log(s[idx[i]].median_s) / m;
	for (int i = 0; i < m; i++) {
		const struct ps_comm_sample *q = &s[idx[i]];
		double p = c[0] + c[1] * q->bytes;
		double lt = log(q->median_s), lp = log(p > 0 ? p : 1e-300);
		ss_res += (lt - lp) * (lt - lp);
		ss_tot += (lt - mean) * (lt - mean);
		err[i] = fabs(p - q->median_s) / q->median_s;
	}
	fit->r2_log = ss_tot > 0 ? 1 - ss_res / ss_tot : 1;
	qsort(err, (size_t)m, sizeof *err, pc_cmp_double);
	fit->median_rel = err[(int)ceil(0.5 * m) - 1];
	fit->p90_rel = err[(int)ceil(0.9 * m) - 1];
	rc = pc_piecewise(s, idx, m, fit, err);
out:
	free(idx);
	free(err);
	return rc;
}

struct pc_collect {
	struct ps_comm_sample *s;
	size_t n, cap;
	int nomem;
};

static int pc_collect_cb(const struct ps_comm_sample *s, void *arg)
{
	struct pc_collect *c = arg;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct ps_comm_sample *p = realloc(c->s, cap * sizeof *p);
		if (!p) {
			c->nomem = 1;
			return 1;
		}
		c->s = p;
		c->cap = cap;
	}
	c->s[c->n++] = *s;
	return 0;
}

ps_status profile_comm_fit_load(struct ps_store *st, int64_t device_id, const char *op, int ranks,
				struct ps_comm_fit *fit)
{
	struct pc_collect c = {0};
	ps_status rc = store_comm_each(st, device_id, op, pc_collect_cb, &c);
	if (rc == PS_OK && c.nomem)
		rc = PS_ERROR(PS_ERR_NOMEM, "comm fit: out of memory");
	if (rc == PS_OK)
		rc = profile_comm_fit(c.s, c.n, op, ranks, fit);
	free(c.s);
	return rc;
}
