/* calibrate.c — fit the datasheet devices' efficiency curves and the
 * overlap (interference) factor to published measured training runs, and
 * report the prediction error two ways: on the rows used to fit, and
 * leave-one-source-out (fit without a source, predict it).
 *
 * Input: the calibration CSV (shared/calibration/published-runs.csv), one
 * published run per row.  Each usable row becomes a scenario (model shape,
 * cluster preset by GPU, parallel layout, micro/global batch, ZeRO/FSDP
 * stage, recomputation, dtype) that the simulator predicts.  The measured
 * quantity is tokens per second per GPU: the row's own figure where it has
 * one, else derived from its TFLOP/s with the row's own FLOP-counting
 * formula (Megatron-LM's num_floating_point_operations for MEG24-H100).
 *
 * Fitted parameters (shared by every row of a device family; no constant is
 * tuned to a row): per family (A100, H100) matmul_eff_max, matmul_half_flop,
 * attn_eff_max; global overlap_slowdown and network efficiency.  The fit
 * minimises the sum of squared log errors with the Nelder-Mead simplex of
 * GSL over bounded transforms, on the analytic tier (fast); the reported
 * errors are then measured with the discrete-event simulator (the
 * reference) and the analytic tier.
 *
 * Usage: calibrate CSV [OUT.md] [--quick]
 * Output: a Markdown report (doc/calibration.md by `make calibration`).
 * What it does not do: read any other measurement, or use a row's measured
 * value anywhere but in the objective and the error report. */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "costmodel.h"
#include "net.h"
#include "scenario.h"
#include "simulate.h"

#define MAX_ROWS 512
#define MAX_COLS 64

enum family { FAM_A100 = 0, FAM_H100, FAM_COUNT };

struct row {
	char id[32], source[32], model[64], gpu[64], note[256];
	enum family fam;
	int usable;
	char why[160];              /* why unusable */
	struct ps_scenario sc;
	double measured_tps;        /* tokens/s/GPU */
	int ngpus;
	double pred_analytic, pred_des;
	int oom;
};

static struct row rows[MAX_ROWS];
static int nrows;

/* ---- CSV (RFC 4180) ---------------------------------------------------- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	if (fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		fclose(f);
		return NULL;
	}
	s[n] = '\0';
	fclose(f);
	return s;
}

/* Parse one record at *p into fields (malloc'd); returns field count, 0 at EOF. */
static int csv_record(char **p, char **fields, int maxf)
{
	char *s = *p;
	if (!*s)
		return 0;
	int nf = 0;
	for (;;) {
		size_t cap = 64, len = 0;
		char *f = malloc(cap);
		if (*s == '"') {
			s++;
			for (;;) {
				if (!*s)
					break;
				if (*s == '"' && s[1] == '"') {
					s += 2;
					if (len + 2 > cap)
						f = realloc(f, cap *= 2);
					f[len++] = '"';
					continue;
				}
				if (*s == '"') {
					s++;
					break;
				}
				if (len + 2 > cap)
					f = realloc(f, cap *= 2);
				f[len++] = *s++;
			}
		} else {
			while (*s && *s != ',' && *s != '\n' && *s != '\r') {
				if (len + 2 > cap)
					f = realloc(f, cap *= 2);
				f[len++] = *s++;
			}
		}
		f[len] = '\0';
		if (nf < maxf)
			fields[nf++] = f;
		else
			free(f);
		if (*s == ',') {
			s++;
			continue;
		}
		if (*s == '\r')
			s++;
		if (*s == '\n')
			s++;
		break;
	}
	*p = s;
	return nf;
}

static char *hdr[MAX_COLS];
static int nhdr;

static const char *col(char **f, int nf, const char *name)
{
	for (int i = 0; i < nhdr && i < nf; i++)
		if (strcmp(hdr[i], name) == 0)
			return f[i];
	return "";
}

/* Leading integer of a field ("2 (local batch)" -> 2); 0 if none. */
static long lead_int(const char *s)
{
	while (*s == ' ')
		s++;
	if (!isdigit((unsigned char)*s))
		return 0;
	return strtol(s, NULL, 10);
}

static double num(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	return end == s ? 0 : v;
}

static int contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (const char *p = hay; *p; p++)
		if (strncasecmp(p, needle, n) == 0)
			return 1;
	return 0;
}

/* Megatron-LM num_floating_point_operations (the MEG24 rows' own formula),
 * per token: 12 s L h^2 [(1 + g/a + s/h) + (ffn/h) + V/(2 L h)] / s, with
 * kv_channels*a/h = 1 and no gating (the GPT rows). */
static double megatron_flops_per_token(int L, int h, int a, int g, int s, int ffn, int V)
{
	double hh = (double)h;
	return 12.0 * L * hh * hh *
	       ((1.0 + (double)g / a + (double)s / hh) + (double)ffn / hh + (double)V / (2.0 * L * hh));
}

static void row_build(struct row *r, char **f, int nf)
{
	snprintf(r->id, sizeof r->id, "%s", col(f, nf, "row_id"));
	snprintf(r->source, sizeof r->source, "%s", col(f, nf, "source_id"));
	snprintf(r->model, sizeof r->model, "%s", col(f, nf, "model"));
	snprintf(r->gpu, sizeof r->gpu, "%s", col(f, nf, "gpu"));
	r->usable = 0;
	int L = (int)lead_int(col(f, nf, "layers")), h = (int)lead_int(col(f, nf, "hidden"));
	int a = (int)lead_int(col(f, nf, "heads")), g = (int)lead_int(col(f, nf, "kv_heads"));
	int ffn = (int)lead_int(col(f, nf, "ffn_hidden")), V = (int)lead_int(col(f, nf, "vocab"));
	int s = (int)lead_int(col(f, nf, "seq_len"));
	int ngpu = (int)lead_int(col(f, nf, "num_gpus")), gpn = (int)lead_int(col(f, nf, "gpus_per_node"));
	int tp = (int)lead_int(col(f, nf, "tp")), pp = (int)lead_int(col(f, nf, "pp"));
	int dp = (int)lead_int(col(f, nf, "dp")), cp = (int)lead_int(col(f, nf, "cp"));
	int vpp = (int)lead_int(col(f, nf, "vp_chunks"));
	int mb = (int)lead_int(col(f, nf, "micro_batch"));
	int gb = (int)lead_int(col(f, nf, "global_batch_seqs"));
	const char *gpu = col(f, nf, "gpu"), *prec = col(f, nf, "precision");
	const char *rec = col(f, nf, "recompute"), *shard = col(f, nf, "dp_sharding");
	const char *src = r->source;
	char note[256] = "";
	if (!L || !h || !a || !s) {
		snprintf(r->why, sizeof r->why, "model shape or seq_len not published");
		return;
	}
	if (!tp || !pp || !dp) {
		snprintf(r->why, sizeof r->why, "parallel layout not published");
		return;
	}
	if (!cp)
		cp = 1;
	if (!vpp)
		vpp = 1;
	if (!g)
		g = a;
	int swiglu = contains_ci(r->model, "llama");
	if (!ffn) {
		ffn = 4 * h;
		strncat(note, "ffn=4h assumed; ", sizeof note - strlen(note) - 1);
	}
	if (!V) {
		snprintf(r->why, sizeof r->why, "vocab not published");
		return;
	}
	if (!gpn)
		gpn = 8;
	const char *dev, *clus;
	if (contains_ci(gpu, "A100")) {
		r->fam = FAM_A100;
		clus = "dgx-a100";
		dev = contains_ci(gpu, "40") ? "a100-40gb" : "a100-80gb";
	} else if (contains_ci(gpu, "H100")) {
		r->fam = FAM_H100;
		clus = "dgx-h100";
		dev = "h100-sxm";
	} else {
		snprintf(r->why, sizeof r->why, "device %s not modelled", gpu);
		return;
	}
	const char *mem_override = contains_ci(gpu, "96") ? "96GB" : NULL;
	if (mem_override)
		strncat(note, "96GB H100 SKU modelled as h100-sxm with 96GB; ", sizeof note - strlen(note) - 1);
	int fp8 = contains_ci(prec, "fp8") || contains_ci(prec, "float8");
	/* Batch: torchtitan's "local batch" is per DP rank; with pp > 1 it is
	 * split into micro-batches of 1. */
	if (contains_ci(col(f, nf, "micro_batch"), "local")) {
		int local = mb;
		if (!gb)
			gb = local * dp;
		mb = pp > 1 ? 1 : local;
	}
	if (!mb) {
		mb = 1;
		strncat(note, "micro_batch=1 assumed; ", sizeof note - strlen(note) - 1);
	}
	if (!gb) {
		snprintf(r->why, sizeof r->why, "global batch not published");
		return;
	}
	int zero = 0, distopt = 0;
	if (contains_ci(shard, "FULL_SHARD") || contains_ci(shard, "full shard") || contains_ci(shard, "(FSDP)"))
		zero = 3;
	else if (contains_ci(shard, "SHARD_GRAD_OP"))
		zero = 2;
	else if (strcmp(src, "MEG24-H100") == 0 || strcmp(src, "NEMO2407") == 0 || contains_ci(shard, "DDP")) {
		zero = 1;
		distopt = 1; /* Megatron-Core's distributed optimizer (MEG24 notes: param-gather overlap) */
	}
	const char *recompute = "none";
	if (contains_ci(rec, "full"))
		recompute = "full";
	else if (contains_ci(rec, "selective"))
		recompute = "selective";
	if (ngpu != tp * pp * dp * cp) {
		snprintf(r->why, sizeof r->why, "num_gpus %d != tp*pp*dp*cp %d", ngpu, tp * pp * dp * cp);
		return;
	}
	int nodes = ngpu / gpn;
	if (nodes * gpn != ngpu || nodes < 1) {
		snprintf(r->why, sizeof r->why, "num_gpus %d not a whole number of %d-GPU nodes", ngpu, gpn);
		return;
	}
	/* Measured tokens/s/GPU: the row's own, else from its TFLOP/s and formula. */
	double tps = num(col(f, nf, "tokens_per_s_per_gpu"));
	if (tps <= 0) {
		double tf = num(col(f, nf, "tflops_per_gpu"));
		if (tf > 0 && strcmp(src, "MEG24-H100") == 0)
			tps = tf * 1e12 / megatron_flops_per_token(L, h, a, g, s, ffn, V);
	}
	if (tps <= 0) {
		snprintf(r->why, sizeof r->why, "no throughput published");
		return;
	}
	r->measured_tps = tps;
	r->ngpus = ngpu;
	char yaml[4096], devblock[256];
	if (mem_override)
		snprintf(devblock, sizeof devblock, "{include: %s, memory: \"%s\"}", dev, mem_override);
	else
		snprintf(devblock, sizeof devblock, "%s", dev);
	const char *sched = vpp > 1 ? "interleaved" : "1f1b";
	snprintf(yaml, sizeof yaml,
		 "name: %s\n"
		 "model: {name: m, layers: %d, hidden: %d, heads: %d, kv_heads: %d, ffn_hidden: %d, ffn: %s,\n"
		 "  vocab: %d, seq_len: %d, norm: %s, position: %s, tied_embeddings: false, bias: false}\n"
		 "cluster: {include: %s, nodes: %d, device: %s}\n"
		 "strategy: {dp: %d, tp: %d, pp: %d, vpp: %d, cp: %d, micro_batch: %d, global_batch: %d,\n"
		 "  zero_stage: %d, distributed_optimizer: %s, recompute: %s, sequence_parallel: %s,\n"
		 "  schedule: %s, dtype: %s, allow_tp_across_nodes: true}\n",
		 r->id, L, h, a, g, ffn, swiglu ? "swiglu" : "gelu", V, s, swiglu ? "rmsnorm" : "layernorm",
		 swiglu ? "rope" : "learned", clus, nodes, devblock, dp, tp, pp, vpp, cp, mb, gb, zero,
		 distopt ? "true" : "false", recompute, tp > 1 ? "true" : "false", sched, fp8 ? "fp8" : "bf16");
	ps_status st = scenario_load_string(yaml, strlen(yaml), r->id, &r->sc);
	if (st != PS_OK) {
		snprintf(r->why, sizeof r->why, "scenario rejected: %.120s", ps_error_message());
		return;
	}
	snprintf(r->note, sizeof r->note, "%s", note);
	r->usable = 1;
}

/* ---- parameters ------------------------------------------------------- */

/* x (unbounded) -> parameter: logistic into [lo, hi] or exp for scales. */
#define NPAR (3 * FAM_COUNT + 2)
struct params {
	double matmul_max[FAM_COUNT], matmul_half[FAM_COUNT], attn_max[FAM_COUNT];
	double overlap, net_eff;
};

static double logistic(double x, double lo, double hi) { return lo + (hi - lo) / (1.0 + exp(-x)); }
static double logit(double y, double lo, double hi) { return -log((hi - lo) / (y - lo) - 1.0); }

static void params_from_x(const double *x, struct params *p)
{
	for (int f = 0; f < FAM_COUNT; f++) {
		p->matmul_max[f] = logistic(x[3 * f], 0.2, 1.0);
		p->matmul_half[f] = exp(x[3 * f + 1]);
		p->attn_max[f] = logistic(x[3 * f + 2], 0.05, 1.0);
	}
	p->overlap = logistic(x[3 * FAM_COUNT], 0.0, 1.0);
	p->net_eff = logistic(x[3 * FAM_COUNT + 1], 0.1, 1.0);
}

static void params_to_x(const struct params *p, double *x)
{
	for (int f = 0; f < FAM_COUNT; f++) {
		x[3 * f] = logit(p->matmul_max[f], 0.2, 1.0);
		x[3 * f + 1] = log(p->matmul_half[f]);
		x[3 * f + 2] = logit(p->attn_max[f], 0.05, 1.0);
	}
	x[3 * FAM_COUNT] = logit(p->overlap, 0.0, 1.0);
	x[3 * FAM_COUNT + 1] = logit(p->net_eff, 0.1, 1.0);
}

/* The scenario of row r with parameters p applied (a copy of the struct). */
static void apply(const struct row *r, const struct params *p, struct ps_scenario *out)
{
	*out = r->sc;
	struct ps_device *d = &out->cluster.device;
	d->matmul_eff_max = p->matmul_max[r->fam];
	d->matmul_half_flop = p->matmul_half[r->fam];
	d->attn_eff_max = p->attn_max[r->fam];
	d->overlap_slowdown = p->overlap;
	for (int i = 0; i < out->cluster.nlevels; i++)
		out->cluster.levels[i].eff = p->net_eff;
}

static int predict(const struct row *r, const struct params *p, int des, double *tps, int *oom)
{
	struct ps_scenario sc;
	apply(r, p, &sc);
	struct ps_costmodel *cm = NULL;
	struct ps_net *net = NULL;
	int ok = 0;
	if (costmodel_datasheet_alloc(&sc.cluster.device, &cm) != PS_OK || net_alloc(&sc.cluster, &net) != PS_OK)
		goto out;
	if (des) {
		struct ps_sim_opts o;
		simulate_opts_default(&o);
		o.cm = cm;
		struct ps_sim_result res;
		memset(&res, 0, sizeof res);
		if (simulate_run(&sc, &o, &res) == PS_OK) {
			*tps = res.m.tokens_per_s / r->ngpus;
			*oom = res.m.oom;
			ok = 1;
		}
		simulate_result_fini(&res);
	} else {
		struct ps_sim_metrics m;
		if (simulate_analytic(&sc, cm, net, &m) == PS_OK) {
			*tps = m.tokens_per_s / r->ngpus;
			*oom = m.oom;
			ok = 1;
		}
	}
out:
	if (cm)
		costmodel_free(cm);
	if (net)
		net_free(net);
	return ok;
}

struct fitctx {
	const char *exclude;  /* source left out, or NULL */
	int nused;
};

#define PRIOR_WEIGHT 0.002
static void prior(struct params *p);

static double objective(const gsl_vector *v, void *arg)
{
	struct fitctx *c = arg;
	struct params p;
	params_from_x(v->data, &p);
	double sum = 0;
	int n = 0;
	for (int i = 0; i < nrows; i++) {
		struct row *r = &rows[i];
		if (!r->usable || (c->exclude && strcmp(r->source, c->exclude) == 0))
			continue;
		double tps;
		int oom;
		if (!predict(r, &p, 0, &tps, &oom) || !(tps > 0))
			return 1e9;
		double e = log(tps / r->measured_tps);
		sum += e * e;
		n++;
	}
	c->nused = n;
	double data = n ? sum / n : 0;
	/* Weak Gaussian prior on every parameter (in the transformed space,
	 * centred on the presets' priors): a family or factor that the rows
	 * left in the fit do not constrain (e.g. A100 when MOSAIC is left out)
	 * stays at its prior instead of drifting to a bound. */
	struct params p0;
	double x0[NPAR];
	prior(&p0);
	params_to_x(&p0, x0);
	double reg = 0;
	for (int i = 0; i < NPAR; i++)
		reg += (v->data[i] - x0[i]) * (v->data[i] - x0[i]);
	return data + PRIOR_WEIGHT * reg;
}

static void prior(struct params *p)
{
	for (int f = 0; f < FAM_COUNT; f++) {
		p->matmul_max[f] = 0.8;
		p->matmul_half[f] = f == FAM_A100 ? 5e9 : 16e9;
		p->attn_max[f] = 0.5;
	}
	p->overlap = 0.1;
	p->net_eff = 0.8;
}

static void fit(const char *exclude, int iters, struct params *out)
{
	struct fitctx c = {exclude, 0};
	struct params p0;
	prior(&p0);
	gsl_vector *x = gsl_vector_alloc(NPAR), *step = gsl_vector_alloc(NPAR);
	params_to_x(&p0, x->data);
	gsl_vector_set_all(step, 0.5);
	gsl_multimin_function fn = {objective, NPAR, &c};
	gsl_multimin_fminimizer *m = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, NPAR);
	gsl_multimin_fminimizer_set(m, &fn, x, step);
	for (int it = 0; it < iters; it++) {
		if (gsl_multimin_fminimizer_iterate(m))
			break;
		if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(m), 1e-4) == GSL_SUCCESS)
			break;
	}
	params_from_x(m->x->data, out);
	gsl_multimin_fminimizer_free(m);
	gsl_vector_free(x);
	gsl_vector_free(step);
}

/* ---- report ------------------------------------------------------------ */

static const char *sources[] = {"MOSAIC", "MEG24-H100", "NEMO2407", "MBRIDGE", "TITAN", NULL};

struct errstats {
	int n;
	double median, p90, bias; /* |rel err| median and p90; median signed log ratio -> % */
};

static void stats_of(double *rel, double *sgn, int n, struct errstats *s)
{
	s->n = n;
	if (!n) {
		s->median = s->p90 = s->bias = NAN;
		return;
	}
	gsl_sort(rel, 1, (size_t)n);
	gsl_sort(sgn, 1, (size_t)n);
	s->median = gsl_stats_median_from_sorted_data(rel, 1, (size_t)n);
	s->p90 = gsl_stats_quantile_from_sorted_data(rel, 1, (size_t)n, 0.9);
	s->bias = gsl_stats_median_from_sorted_data(sgn, 1, (size_t)n);
}

/* Errors of the rows of source src (NULL: all) with predictions in pred[]. */
static void source_errors(const char *src, const double *pred, struct errstats *s)
{
	double rel[MAX_ROWS], sgn[MAX_ROWS];
	int n = 0;
	for (int i = 0; i < nrows; i++) {
		if (!rows[i].usable || !(pred[i] > 0) || (src && strcmp(rows[i].source, src) != 0))
			continue;
		double r = pred[i] / rows[i].measured_tps - 1.0;
		rel[n] = fabs(r);
		sgn[n] = r;
		n++;
	}
	stats_of(rel, sgn, n, s);
}

static void print_params(FILE *o, const char *label, const struct params *p)
{
	fprintf(o, "| %s | ", label);
	for (int f = 0; f < FAM_COUNT; f++)
		fprintf(o, "%.3f | %.3g | %.3f | ", p->matmul_max[f], p->matmul_half[f], p->attn_max[f]);
	fprintf(o, "%.3f | %.3f |\n", p->overlap, p->net_eff);
}

int main(int argc, char **argv)
{
	const char *csv = NULL, *outpath = NULL;
	int quick = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = 1;
		else if (!csv)
			csv = argv[i];
		else
			outpath = argv[i];
	}
	if (!csv) {
		fprintf(stderr, "usage: calibrate CSV [OUT.md] [--quick]\n");
		return 2;
	}
	gsl_set_error_handler_off();
	char *text = slurp(csv);
	if (!text) {
		fprintf(stderr, "calibrate: cannot read %s\n", csv);
		return 1;
	}
	char *p = text, *f[MAX_COLS];
	nhdr = csv_record(&p, hdr, MAX_COLS);
	int nf;
	while (nrows < MAX_ROWS && (nf = csv_record(&p, f, MAX_COLS)) > 0) {
		if (nf > 1)
			row_build(&rows[nrows++], f, nf);
		for (int i = 0; i < nf; i++)
			free(f[i]);
	}
	int usable = 0;
	for (int i = 0; i < nrows; i++)
		usable += rows[i].usable;
	fprintf(stderr, "calibrate: %d rows, %d usable\n", nrows, usable);

	int iters = quick ? 150 : 1500;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct params all;
	fit(NULL, iters, &all);
	fprintf(stderr, "calibrate: fit on all rows done\n");
	static double pred_fit_an[MAX_ROWS], pred_fit_des[MAX_ROWS], pred_loso_an[MAX_ROWS],
		pred_loso_des[MAX_ROWS], pred_prior_des[MAX_ROWS];
	struct params pri;
	prior(&pri);
	int oom_count = 0;
	for (int i = 0; i < nrows; i++) {
		if (!rows[i].usable)
			continue;
		int oom = 0;
		if (!predict(&rows[i], &all, 0, &pred_fit_an[i], &oom))
			pred_fit_an[i] = NAN;
		if (!predict(&rows[i], &all, 1, &pred_fit_des[i], &oom))
			pred_fit_des[i] = NAN;
		rows[i].oom = oom;
		oom_count += oom;
		if (!predict(&rows[i], &pri, 1, &pred_prior_des[i], &oom))
			pred_prior_des[i] = NAN;
	}
	struct params loso[8];
	int ns = 0;
	for (const char **s = sources; *s; s++, ns++) {
		fit(*s, iters, &loso[ns]);
		fprintf(stderr, "calibrate: fit without %s done\n", *s);
		for (int i = 0; i < nrows; i++) {
			if (!rows[i].usable || strcmp(rows[i].source, *s) != 0)
				continue;
			int oom;
			if (!predict(&rows[i], &loso[ns], 0, &pred_loso_an[i], &oom))
				pred_loso_an[i] = NAN;
			if (!predict(&rows[i], &loso[ns], 1, &pred_loso_des[i], &oom))
				pred_loso_des[i] = NAN;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);

	FILE *o = outpath ? fopen(outpath, "w") : stdout;
	if (!o) {
		fprintf(stderr, "calibrate: cannot write %s\n", outpath);
		return 1;
	}
	fprintf(o, "# Calibration of the datasheet device models\n\n"
		   "Written by `make calibration` (program `bench/calibrate.c`, %s mode, %.0f s) from\n"
		   "`shared/calibration/published-runs.csv`. Do not edit by hand.\n\n",
		quick ? "quick" : "full", secs);
	fprintf(o, "Each usable row becomes a scenario (model shape, cluster preset by GPU, layout,\n"
		   "batch, ZeRO/FSDP stage, recomputation, dtype); the simulator predicts tokens/s per\n"
		   "GPU, compared with the row's own figure (MEG24-H100 rows publish TFLOP/s only:\n"
		   "converted with the row's own Megatron-LM FLOP formula). Parameters fitted, shared by\n"
		   "all rows of a device family: GEMM efficiency ceiling and half-efficiency size,\n"
		   "attention efficiency ceiling (A100, H100); overlap slowdown and network efficiency\n"
		   "(global). Objective: mean squared log error + a weak Gaussian prior on every parameter (weight 0.002, in the fit's transformed space), Nelder-Mead (GSL), on the analytic\n"
		   "tier; errors below are measured with both the discrete-event simulator (DES) and\n"
		   "the analytic tier. |err| = |predicted/measured - 1|; bias = median signed error.\n\n");
	fprintf(o, "Rows: %d in the file, %d usable. Predictions with simulated out-of-memory: %d\n"
		   "(the time is still predicted; see the memory model notes).\n\n",
		nrows, usable, oom_count);
	fprintf(o, "## Fitted parameters\n\n| fit | A100 matmul_max | A100 matmul_half (FLOP) | A100 attention_max | "
		   "H100 matmul_max | H100 matmul_half (FLOP) | H100 attention_max | overlap_slowdown | network eff |\n"
		   "|---|---|---|---|---|---|---|---|---|\n");
	print_params(o, "prior (presets before fitting)", &pri);
	print_params(o, "all rows", &all);
	for (int s = 0; s < ns; s++) {
		char lab[64];
		snprintf(lab, sizeof lab, "without %s", sources[s]);
		print_params(o, lab, &loso[s]);
	}
	fprintf(o, "\n## Errors per source (tokens/s per GPU)\n\n"
		   "| source | rows | prior DES median |err| | fit DES median | fit DES p90 | fit DES bias | "
		   "fit analytic median | leave-source-out DES median | LOSO DES p90 | LOSO DES bias | "
		   "LOSO analytic median |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int s = -1; s < ns; s++) {
		const char *src = s < 0 ? NULL : sources[s];
		struct errstats pr, fd, fa, ld, la;
		source_errors(src, pred_prior_des, &pr);
		source_errors(src, pred_fit_des, &fd);
		source_errors(src, pred_fit_an, &fa);
		source_errors(src, pred_loso_des, &ld);
		source_errors(src, pred_loso_an, &la);
		fprintf(o, "| %s | %d | %.1f%% | %.1f%% | %.1f%% | %+.1f%% | %.1f%% | %.1f%% | %.1f%% | %+.1f%% | %.1f%% |\n",
			src ? src : "**all**", fd.n, 100 * pr.median, 100 * fd.median, 100 * fd.p90, 100 * fd.bias,
			100 * fa.median, 100 * ld.median, 100 * ld.p90, 100 * ld.bias, 100 * la.median);
	}
	fprintf(o, "\n## Rows\n\n| row | source | model | GPUs | measured tok/s/GPU | fit DES | fit analytic | "
		   "LOSO DES | oom | assumptions / why unusable |\n|---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < nrows; i++) {
		struct row *r = &rows[i];
		if (!r->usable) {
			fprintf(o, "| %s | %s | %s | | | | | | | unusable: %s |\n", r->id, r->source, r->model, r->why);
			continue;
		}
		fprintf(o, "| %s | %s | %s | %d | %.0f | %.0f | %.0f | %.0f | %s | %s |\n", r->id, r->source,
			r->model, r->ngpus, r->measured_tps, pred_fit_des[i], pred_fit_an[i], pred_loso_des[i],
			r->oom ? "yes" : "", r->note);
	}
	if (o != stdout)
		fclose(o);
	for (int i = 0; i < nrows; i++)
		if (rows[i].usable)
			scenario_fini(&rows[i].sc);
	for (int i = 0; i < nhdr; i++)
		free(hdr[i]);
	free(text);
	return 0;
}
