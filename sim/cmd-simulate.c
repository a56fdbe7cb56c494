/* cmd-simulate.c — `parasim simulate FILE... [--db PATH] [--format
 * table|json|csv] [--trace] [--analytic] [--no-fold]`.
 *
 * Every scenario of every file (sweeps expanded; skipped combinations on
 * stderr with the reason) is simulated (simulate_run), stored as one run in
 * the store, and printed: json = one object per line with "scenario", the
 * strategy keys and the metrics (numbers in shortest round-trip form);
 * csv = a header line then one row per run; table = aligned columns with
 * units, printed when all runs are done.  --analytic prices collectives
 * with the network's closed-form tier instead of the flow model; --no-fold
 * simulates every rank; --trace stores the task timeline.
 * Exit: 0 when every run was simulated (out-of-memory runs included: that
 * is a result), 1 when a file or a run failed, 2 usage. */
#include "config.h"
#include "cli.h"
#include "scenario.h"
#include "schedule.h"
#include "simulate.h"
#include "status.h"
#include "store.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FMT_TABLE = 0, FMT_JSON, FMT_CSV };

struct row {
	char scenario[PS_NAME_MAX];
	struct ps_strategy st;
	struct ps_sim_metrics m;
};

struct sim_ctx {
	const char *file;
	int format;
	struct ps_sim_opts opts;
	struct ps_store *store;
	int failed;
	int header_done;
	struct row *rows;
	size_t nrows, caprows;
};

/* Shortest text that reads back as the same double. */
static void fmt_num(double v, char *buf, size_t size)
{
	if (!isfinite(v)) {
		snprintf(buf, size, "null");
		return;
	}
	for (int p = 1; p <= 17; p++) {
		snprintf(buf, size, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void csv_str(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\n\r") == NULL) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* The strategy keys every output carries, in order. */
static const char *const strategy_keys[] = {"dp",         "tp",        "pp",         "vpp",
					    "cp",         "micro_batch", "global_batch", "zero_stage",
					    "recompute",  "sequence_parallel", "schedule"};
#define NSTRAT ((int)(sizeof strategy_keys / sizeof strategy_keys[0]))

/* Value of strategy key i: number (returns 1, *num) or text (returns 0, *txt). */
static int strategy_value(const struct ps_strategy *st, int i, double *num, const char **txt)
{
	switch (i) {
	case 0: *num = st->dp; return 1;
	case 1: *num = st->tp; return 1;
	case 2: *num = st->pp; return 1;
	case 3: *num = st->vpp; return 1;
	case 4: *num = st->cp; return 1;
	case 5: *num = st->micro_batch; return 1;
	case 6: *num = st->global_batch; return 1;
	case 7: *num = st->zero_stage; return 1;
	case 8: *txt = simulate_recompute_name(st->recompute); return 0;
	case 9: *txt = st->sequence_parallel ? "true" : "false"; return 2;
	default: *txt = schedule_name(st->schedule); return 0;
	}
}

static void print_json(const struct row *r)
{
	char nb[40];
	fputs("{\"scenario\":", stdout);
	json_str(stdout, r->scenario);
	for (int i = 0; i < NSTRAT; i++) {
		double num = 0;
		const char *txt = NULL;
		int k = strategy_value(&r->st, i, &num, &txt);
		printf(",\"%s\":", strategy_keys[i]);
		if (k == 1) {
			fmt_num(num, nb, sizeof nb);
			fputs(nb, stdout);
		} else if (k == 2) {
			fputs(txt, stdout);
		} else {
			json_str(stdout, txt);
		}
	}
	int n;
	const struct ps_sim_metric_desc *d = simulate_metrics(&n);
	for (int i = 0; i < n; i++) {
		double v = simulate_metric_value(&r->m, &d[i]);
		printf(",\"%s\":", d[i].key);
		if (d[i].type == SIM_METRIC_BOOL) {
			fputs(v != 0 ? "true" : "false", stdout);
		} else {
			fmt_num(v, nb, sizeof nb);
			fputs(nb, stdout);
		}
	}
	fputs("}\n", stdout);
}

static void print_csv_header(void)
{
	fputs("scenario", stdout);
	for (int i = 0; i < NSTRAT; i++)
		printf(",%s", strategy_keys[i]);
	int n;
	const struct ps_sim_metric_desc *d = simulate_metrics(&n);
	for (int i = 0; i < n; i++)
		printf(",%s", d[i].key);
	fputc('\n', stdout);
}

static void print_csv(const struct row *r)
{
	char nb[40];
	csv_str(stdout, r->scenario);
	for (int i = 0; i < NSTRAT; i++) {
		double num = 0;
		const char *txt = NULL;
		fputc(',', stdout);
		if (strategy_value(&r->st, i, &num, &txt) == 1) {
			fmt_num(num, nb, sizeof nb);
			fputs(nb, stdout);
		} else {
			csv_str(stdout, txt);
		}
	}
	int n;
	const struct ps_sim_metric_desc *d = simulate_metrics(&n);
	for (int i = 0; i < n; i++) {
		double v = simulate_metric_value(&r->m, &d[i]);
		fputc(',', stdout);
		if (d[i].type == SIM_METRIC_BOOL) {
			fputs(v != 0 ? "true" : "false", stdout);
		} else {
			fmt_num(v, nb, sizeof nb);
			fputs(strcmp(nb, "null") ? nb : "", stdout);
		}
	}
	fputc('\n', stdout);
}

/* The table: a few columns with units; json/csv carry every metric. */
static void print_table(const struct row *rows, size_t n)
{
	static const char *const head[] = {"scenario", "dp", "tp", "pp", "vpp", "cp", "mb", "gb", "zero",
					   "recompute", "sp", "schedule", "step (s)", "tokens/s", "TFLOP/s/GPU",
					   "MFU %", "HFU %", "peak mem (GiB)", "OOM", "bubble %", "exposed comm (s)"};
	enum { NC = sizeof head / sizeof head[0] };
	size_t width[NC];
	char(*cell)[NC][40] = calloc(n ? n : 1, sizeof *cell);
	if (!cell)
		return;
	for (int c = 0; c < NC; c++)
		width[c] = strlen(head[c]);
	for (size_t r = 0; r < n; r++) {
		const struct row *x = &rows[r];
		const struct ps_strategy *s = &x->st;
		const struct ps_sim_metrics *m = &x->m;
		snprintf(cell[r][0], 40, "%s", x->scenario);
		snprintf(cell[r][1], 40, "%d", s->dp);
		snprintf(cell[r][2], 40, "%d", s->tp);
		snprintf(cell[r][3], 40, "%d", s->pp);
		snprintf(cell[r][4], 40, "%d", s->vpp);
		snprintf(cell[r][5], 40, "%d", s->cp);
		snprintf(cell[r][6], 40, "%d", s->micro_batch);
		snprintf(cell[r][7], 40, "%d", s->global_batch);
		snprintf(cell[r][8], 40, "%d", s->zero_stage);
		snprintf(cell[r][9], 40, "%s", simulate_recompute_name(s->recompute));
		snprintf(cell[r][10], 40, "%s", s->sequence_parallel ? "yes" : "no");
		snprintf(cell[r][11], 40, "%s", schedule_name(s->schedule));
		snprintf(cell[r][12], 40, "%.4g", m->step_time_s);
		snprintf(cell[r][13], 40, "%.4g", m->tokens_per_s);
		snprintf(cell[r][14], 40, "%.1f", m->tflops_per_gpu);
		snprintf(cell[r][15], 40, "%.1f", 100 * m->mfu);
		snprintf(cell[r][16], 40, "%.1f", 100 * m->hfu);
		snprintf(cell[r][17], 40, "%.2f", m->peak_mem_bytes / (1024.0 * 1024 * 1024));
		if (m->oom)
			snprintf(cell[r][18], 40, "rank %d +%.2f GiB", m->oom_rank, m->oom_excess_bytes / (1024.0 * 1024 * 1024));
		else
			snprintf(cell[r][18], 40, "no");
		snprintf(cell[r][19], 40, "%.1f", 100 * m->bubble_fraction);
		snprintf(cell[r][20], 40, "%.4g", m->exposed_comm_s);
		for (int c = 0; c < NC; c++)
			if (strlen(cell[r][c]) > width[c])
				width[c] = strlen(cell[r][c]);
	}
	for (int c = 0; c < NC; c++)
		printf("%s%-*s", c ? "  " : "", (int)width[c], head[c]);
	fputc('\n', stdout);
	for (size_t r = 0; r < n; r++) {
		for (int c = 0; c < NC; c++) {
			/* text left, numbers right */
			int left = c == 0 || c == 9 || c == 10 || c == 11 || c == 18;
			printf("%s%*s", c ? "  " : "", left ? -(int)width[c] : (int)width[c], cell[r][c]);
		}
		fputc('\n', stdout);
	}
	free(cell);
}

static ps_status run_one(const struct ps_scenario *sc, void *arg)
{
	struct sim_ctx *x = arg;
	struct ps_sim_result res;
	ps_status rc = simulate_run(sc, &x->opts, &res);
	if (rc != PS_OK) {
		fprintf(stderr, "parasim simulate: %s: %s: %s\n", x->file, sc->name, ps_error_message());
		x->failed = 1;
		return PS_OK; /* go on with the other combinations */
	}
	if (x->store && simulate_store(x->store, sc, &x->opts, &res, NULL) != PS_OK) {
		fprintf(stderr, "parasim simulate: %s: %s: storing the run: %s\n", x->file, sc->name, ps_error_message());
		x->failed = 1;
	}
	struct row r;
	memset(&r, 0, sizeof r);
	snprintf(r.scenario, sizeof r.scenario, "%s", sc->name);
	r.st = sc->strategy;
	r.m = res.m;
	simulate_result_fini(&res);
	switch (x->format) {
	case FMT_JSON:
		print_json(&r);
		fflush(stdout);
		break;
	case FMT_CSV:
		if (!x->header_done) {
			print_csv_header();
			x->header_done = 1;
		}
		print_csv(&r);
		fflush(stdout);
		break;
	default:
		if (x->nrows == x->caprows) {
			size_t nc = x->caprows ? 2 * x->caprows : 16;
			struct row *nr = realloc(x->rows, nc * sizeof *nr);
			if (!nr)
				return PS_ERROR(PS_ERR_NOMEM, "out of memory");
			x->rows = nr;
			x->caprows = nc;
		}
		x->rows[x->nrows++] = r;
	}
	return PS_OK;
}

static void on_skip(const char *combo, const char *reason, void *arg)
{
	const struct sim_ctx *x = arg;
	fprintf(stderr, "parasim simulate: %s: skipped %s: %s\n", x->file, combo, reason);
}

int cmd_simulate(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},     {"format", required_argument, NULL, 'f'},
		{"trace", no_argument, NULL, 't'},        {"analytic", no_argument, NULL, 'a'},
		{"no-fold", no_argument, NULL, 'n'},      {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sim_ctx x;
	memset(&x, 0, sizeof x);
	simulate_opts_default(&x.opts);
	const char *db = PS_STORE_DEFAULT;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "d:f:tanh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "table") == 0)
				x.format = FMT_TABLE;
			else if (strcmp(optarg, "json") == 0)
				x.format = FMT_JSON;
			else if (strcmp(optarg, "csv") == 0)
				x.format = FMT_CSV;
			else {
				fprintf(stderr, "parasim simulate: --format: expected table, json or csv, got '%s'\n", optarg);
				return cli_usage("simulate");
			}
			break;
		case 't':
			x.opts.want_trace = 1;
			break;
		case 'a':
			x.opts.tier = NET_ANALYTIC;
			break;
		case 'n':
			x.opts.fold = 0;
			break;
		case 'h':
			printf("usage: parasim simulate FILE... [--db PATH] [--format table|json|csv] [--trace] [--analytic] "
			       "[--no-fold]\n"
			       "Simulate one training step of every scenario (sweeps expanded), store each run and\n"
			       "print its metrics.  --analytic prices collectives in closed form instead of the flow\n"
			       "model; --no-fold simulates every rank; --trace stores the task timeline.\n");
			return PS_EXIT_OK;
		default:
			fprintf(stderr, "parasim simulate: unknown option or missing argument '%s'\n", argv[optind - 1]);
			return cli_usage("simulate");
		}
	}
	if (optind >= argc)
		return cli_usage("simulate");
	if (store_open(db, &x.store) != PS_OK) {
		cli_error("simulate");
		return PS_EXIT_FAIL;
	}
	x.opts.store = x.store;
	for (int i = optind; i < argc; i++) {
		struct ps_scenario sc;
		x.file = argv[i];
		if (scenario_load(argv[i], &sc) != PS_OK) {
			fprintf(stderr, "parasim simulate: %s\n", ps_error_message());
			x.failed = 1;
			continue;
		}
		if (scenario_expand(&sc, run_one, on_skip, &x) != PS_OK) {
			fprintf(stderr, "parasim simulate: %s: %s\n", argv[i], ps_error_message());
			x.failed = 1;
		}
		scenario_fini(&sc);
	}
	if (x.format == FMT_TABLE && x.nrows > 0)
		print_table(x.rows, x.nrows);
	fflush(stdout);
	free(x.rows);
	store_close(x.store);
	return x.failed ? PS_EXIT_FAIL : PS_EXIT_OK;
}
