/* cmd-profile.c — `parasim profile`: measure this machine's kernels (or
 * collectives, with --comm under mpirun), or import a profile measured
 * elsewhere (--import FILE.csv --device-name NAME), store it, and print the
 * fit quality of the cost model built from it (leave-one-out per kernel).
 *
 * Data (the fit table, the collective fits) go to stdout; progress (a bar
 * with ETA, only on a terminal) and diagnostics to stderr.  Measuring and
 * fitting are library code (kernels/profile*.c, kernels/costmodel*.c). */
#include "config.h"
#include "backend.h"
#include "cli.h"
#include "costmodel.h"
#include "profile.h"
#include "store.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double cp_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void cp_progress(int tty, size_t done, size_t total, const char *what, double elapsed_s,
			double est_left_s)
{
	if (!tty)
		return;
	int width = 30, filled = total ? (int)((double)width * (double)done / (double)total) : width;
	char bar[64];
	for (int i = 0; i < width; i++)
		bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
	bar[width] = '\0';
	fprintf(stderr, "\r[%s] %zu/%zu %-14s %4.0fs elapsed, ETA %4.0fs ", bar, done, total, what, elapsed_s,
		est_left_s);
	if (done == total)
		fputc('\n', stderr);
	fflush(stderr);
}

/* The fit quality of every op with samples: stdout table. */
static void cp_print_quality(const struct ps_costmodel *cm)
{
	double pf, pb;
	costmodel_peaks(cm, &pf, &pb);
	printf("\ncost model (%s): measured peaks %.1f GFLOP/s, %.1f GB/s\n", costmodel_source(cm), pf * 1e-9,
	       pb * 1e-9);
	printf("%-13s %5s %7s %8s %8s %8s %8s %8s  %s\n", "op", "n", "R2(log)", "fit_med", "fit_p90",
	       "loo_med", "loo_p90", "loo_max", "fit t = c0 + flops/F + bytes/B");
	for (int op = 0; op < OP_COUNT_; op++) {
		struct ps_costmodel_quality q;
		if (costmodel_quality(cm, (ps_op)op, &q) != PS_OK)
			continue;
		char f[32], b[32];
		snprintf(f, sizeof f, q.c1_s_per_flop > 0 ? "%.3g GFLOP/s" : "-", 1e-9 / q.c1_s_per_flop);
		snprintf(b, sizeof b, q.c2_s_per_byte > 0 ? "%.3g GB/s" : "-", 1e-9 / q.c2_s_per_byte);
		printf("%-13s %5d %7.4f %7.1f%% %7.1f%% %7.1f%% %7.1f%% %7.1f%%  c0 %.3g us, F %s, B %s\n",
		       op_name((ps_op)op), q.n, q.r2_log, 100 * q.fit_median_rel, 100 * q.fit_p90_rel,
		       100 * q.loo_median_rel, 100 * q.loo_p90_rel, 100 * q.loo_max_rel, q.c0_s * 1e6, f, b);
	}
	printf("(relative errors; fit = least squares alone, in-sample; loo = full model, leave-one-out)\n");
}

static int cp_quality_from_store(struct ps_store *st, int64_t device_id)
{
	struct ps_costmodel *cm = NULL;
	if (costmodel_profile_alloc(st, device_id, &cm) != PS_OK) {
		cli_error("profile");
		return PS_EXIT_FAIL;
	}
	cp_print_quality(cm);
	costmodel_free(cm);
	return PS_EXIT_OK;
}

static int cp_import(const char *db, const char *path, const char *name)
{
	struct ps_kernel_sample *s = NULL;
	size_t n = 0;
	char *source = NULL;
	struct ps_store *st = NULL;
	int ret = PS_EXIT_FAIL;
	if (profile_csv_read(path, &s, &n, &source) != PS_OK) {
		cli_error("profile");
		return PS_EXIT_FAIL;
	}
	/* The description: a JSON object with the name, the provenance, the file. */
	size_t cap = strlen(source) * 6 + strlen(path) * 6 + strlen(name) * 6 + 128;
	char *json = malloc(cap);
	if (!json) {
		fprintf(stderr, "parasim profile: out of memory\n");
		goto out;
	}
	const char *parts[3] = {name, source, path};
	size_t len = 0;
	for (int k = 0; k < 3; k++) {
		static const char *const keys[3] = {"{\"kind\":\"imported\",\"name\":\"", "\",\"source\":\"",
						    "\",\"file\":\""};
		len += (size_t)snprintf(json + len, cap - len, "%s", keys[k]);
		for (const unsigned char *p = (const unsigned char *)parts[k]; *p; p++) {
			if (*p == '"' || *p == '\\')
				len += (size_t)snprintf(json + len, cap - len, "\\%c", *p);
			else if (*p < 0x20)
				len += (size_t)snprintf(json + len, cap - len, "\\u%04x", *p);
			else
				json[len++] = (char)*p, json[len] = '\0';
		}
	}
	snprintf(json + len, cap - len, "\"}");
	int64_t id;
	if (store_open(db, &st) != PS_OK || store_device_put(st, name, json, &id) != PS_OK) {
		cli_error("profile");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (store_kernel_put(st, id, &s[i]) != PS_OK) {
			cli_error("profile");
			goto out;
		}
	printf("imported %zu samples from %s as device \"%s\" (source: %s) into %s\n", n, path, name, source,
	       db);
	ret = cp_quality_from_store(st, id);
out:
	store_close(st);
	free(json);
	free(source);
	free(s);
	return ret;
}

static int cp_kernels(const char *db, const char *device, ps_profile_level level, int threads, int cpu_clock)
{
	const struct ps_backend *be;
	int gpu = strcmp(device, "cuda") == 0;
	if (gpu) {
		be = ps_backend_cuda();
		if (!be) {
			fprintf(stderr,
				"parasim profile: --device cuda: the CUDA backend is not available: %s\n",
				ps_backend_cuda_unavailable());
			return PS_EXIT_FAIL;
		}
	} else {
		be = ps_backend_cpu();
		profile_threads_set(threads);
	}
	char fp[PROFILE_FINGERPRINT_MAX];
	char *json = NULL;
	struct ps_profile_shape *grid = NULL;
	struct ps_store *st = NULL;
	int ret = PS_EXIT_FAIL;
	int64_t id;
	size_t n = 0;
	double *w = NULL;
	struct ps_kernel_sample *res = NULL;
	char *skip = NULL;
	if (profile_fingerprint_clock(be, threads, cpu_clock, fp, sizeof fp, &json) != PS_OK ||
	    profile_grid(level, gpu, &grid, &n) != PS_OK || store_open(db, &st) != PS_OK ||
	    store_device_put(st, fp, json, &id) != PS_OK) {
		cli_error("profile");
		goto out;
	}
	/* dtypes: fp32 everywhere; bf16 too where the backend has it. */
	ps_dtype dts[2] = {DTYPE_FP32, DTYPE_BF16};
	int ndt = be->has_dtype(be, DTYPE_BF16) ? 2 : 1;
	struct ps_profile_opts o;
	profile_opts_init(&o, level);
	o.threads = threads;
	o.cpu_clock = cpu_clock;
	int tty = isatty(2);
	fprintf(stderr, "parasim profile: %zu shapes x %d dtype(s) on %s (%s), %d threads\n", n, ndt, device,
		fp, threads > 0 ? threads : profile_default_threads());
	/* ETA: the time spent so far scaled by the remaining share of a rough
	 * a-priori cost of each shape (a fixed part plus a roofline guess). */
	double wtotal = 0, wdone = 0;
	w = calloc(n ? n : 1, sizeof *w);
	if (!w) {
		fprintf(stderr, "parasim profile: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		double f = op_flops(grid[i].op, &grid[i].shape), b = op_bytes(grid[i].op, &grid[i].shape, 4);
		double t = gpu ? f / 100e12 + b / 1e12 : f / 50e9 + b / 20e9;
		w[i] = o.warmup_s + fmin(o.max_s, o.min_reps * fmax(t, 2e-4)) + t;
		wtotal += w[i] * ndt;
	}
	if (!gpu && !strstr(profile_blas_library(), "openblas"))
		fprintf(stderr,
			"parasim profile: warning: cblas_sgemm comes from %s, not OpenBLAS (link order: "
			"the BLAS library must come before GSL's -lgslcblas); GEMMs run at its speed\n",
			profile_blas_library());
	double load0[1] = {0}, load1[1] = {0};
	int cpus = profile_default_threads();
	if (getloadavg(load0, 1) == 1 && load0[0] > cpus)
		fprintf(stderr,
			"parasim profile: warning: load average %.1f on %d CPUs: other work shares the "
			"cores and inflates the timings\n",
			load0[0], cpus);
	double t0 = cp_now();
	int R = o.rounds > 0 ? o.rounds : 1;
	size_t total = n * (size_t)ndt * (size_t)R, done = 0, stored = 0, ndisturbed = 0, shapes_disturbed = 0, nclean = 0;
	res = calloc(n * (size_t)R, sizeof *res);
	skip = calloc(n, 1);
	if (!res || !skip) {
		fprintf(stderr, "parasim profile: out of memory\n");
		goto out;
	}
	wtotal *= R;
	for (int d = 0; d < ndt; d++) {
		memset(skip, 0, n);
		for (int r = 0; r < R; r++)
			for (size_t i = 0; i < n; i++) {
				done++;
				wdone += w[i];
				if (skip[i])
					continue;
				ps_status rc =
				    profile_measure(be, dts[d], &grid[i], &o, &res[i * R + r], NULL);
				if (rc == PS_ERR_UNSUPPORTED) { /* a shape or dtype this backend cannot run */
					ps_error_clear();
					skip[i] = 1;
					continue;
				}
				if (rc != PS_OK) {
					if (tty)
						fputc('\n', stderr);
					cli_error("profile");
					goto out;
				}
				double el = cp_now() - t0;
				cp_progress(tty, done, total, op_name(grid[i].op), el,
					    el / wdone * (wtotal - wdone));
			}
		for (size_t i = 0; i < n; i++) {
			if (skip[i])
				continue;
			struct ps_kernel_sample s;
			profile_combine(&res[i * R], R, &s);
			ndisturbed += s.disturbed;
			nclean += s.reps;
			shapes_disturbed += s.disturbed > 0;
			if (store_kernel_put(st, id, &s) != PS_OK) {
				cli_error("profile");
				goto out;
			}
			stored++;
		}
	}
	double el = cp_now() - t0;
	if (getloadavg(load1, 1) == 1 && load1[0] > cpus)
		fprintf(stderr, "parasim profile: warning: load average %.1f on %d CPUs at the end\n",
			load1[0], cpus);
	printf("profiled %zu shapes (%s level) on device %s in %.1f s; stored in %s (device id %lld)\n",
	       stored,
	       level == PROFILE_FULL	? "full"
	       : level == PROFILE_QUICK ? "quick"
					: "tiny",
	       fp, el, db, (long long)id);
	printf("description: %s\n", json);
	printf("load average: %.2f at the start, %.2f at the end (%d CPUs)\n", load0[0], load1[0], cpus);
	printf("samples dropped because the kernel's threads waited for a CPU: %zu of %zu, in %zu of %zu "
	       "shapes\n",
	       ndisturbed, ndisturbed + nclean, shapes_disturbed, stored);
	if (ndisturbed * 5 > ndisturbed + nclean)
		fprintf(stderr,
			"parasim profile: warning: %zu of %zu samples were dropped because the kernel's threads "
			"waited for a CPU (other work on this machine); the kept ones may be slowed too: "
			"profile an idle machine\n",
			ndisturbed, ndisturbed + nclean);
	ret = cp_quality_from_store(st, id);
out:
	store_close(st);
	free(res);
	free(skip);
	free(w);
	free(grid);
	free(json);
	return ret;
}

static int cp_comm_fit_report(struct ps_store *st, int64_t id, int ranks);

static int cp_comm(int *argc, char ***argv, const char *db, ps_profile_level level, int threads)
{
	if (profile_comm_init(argc, argv) != PS_OK) {
		cli_error("profile");
		return PS_EXIT_FAIL;
	}
	int rank = profile_comm_rank(), size = profile_comm_size(), ret = PS_EXIT_FAIL;
	double *sizes = NULL;
	size_t ns = 0;
	void *sbuf = NULL, *rbuf = NULL;
	struct ps_store *st = NULL;
	struct ps_comm_sample *all = NULL;
	size_t nall = 0;
	int64_t id = -1;
	char fp[PROFILE_FINGERPRINT_MAX];
	char *json = NULL;
	int ok = 1;
	if (size < 2) {
		fprintf(stderr, "parasim profile: --comm needs at least 2 MPI ranks (mpirun -np 2 parasim "
				"profile --comm)\n");
		goto fin;
	}
	if (profile_comm_sizes(level, &sizes, &ns) != PS_OK)
		ok = 0;
	size_t maxb = ns ? (size_t)sizes[ns - 1] : 8;
	if (ok && (!(sbuf = calloc(1, maxb)) || !(rbuf = calloc(1, maxb)))) {
		PS_ERROR(PS_ERR_NOMEM, "cannot allocate two buffers of %zu bytes", maxb);
		ok = 0;
	}
	if (ok && rank == 0) {
		if (profile_fingerprint(NULL, threads, fp, sizeof fp, &json) != PS_OK ||
		    store_open(db, &st) != PS_OK || store_device_put(st, fp, json, &id) != PS_OK)
			ok = 0;
	}
	if (!ok)
		cli_error("profile");
	/* Every rank must agree before entering the collectives. */
	int flag = ok;
	if (profile_comm_bcast_int(&flag) != PS_OK || !flag || !ok)
		goto fin;
	all = calloc(4 * ns, sizeof *all);
	struct ps_profile_opts o;
	profile_opts_init(&o, level);
	o.max_s = level == PROFILE_FULL ? 1.0 : o.max_s;
	int tty = rank == 0 && isatty(2);
	double t0 = cp_now();
	size_t done = 0, total = 4 * ns;
	if (rank == 0)
		fprintf(stderr,
			"parasim profile: collectives over %d ranks, %zu sizes from %.0f B to %.0f B\n", size,
			ns, sizes[0], sizes[ns - 1]);
	for (int k = 0; k < 4; k++)
		for (size_t i = 0; i < ns; i++) {
			struct ps_comm_sample s;
			if (profile_comm_measure(profile_comm_ops[k], (size_t)sizes[i], &o, sbuf, rbuf, &s) !=
			    PS_OK) {
				cli_error("profile");
				goto fin;
			}
			done++;
			if (rank == 0) {
				if (all)
					all[nall++] = s;
				if (store_comm_put(st, id, &s) != PS_OK) {
					cli_error("profile");
					ok = 0;
				}
				double el = cp_now() - t0;
				cp_progress(tty, done, total, profile_comm_ops[k], el,
					    el / done * (total - done));
			}
			flag = ok;
			if (profile_comm_bcast_int(&flag) != PS_OK || !flag)
				goto fin;
		}
	if (rank == 0) {
		printf("profiled collectives over %d ranks on device %s in %.1f s; stored in %s (device id "
		       "%lld)\n",
		       size, fp, cp_now() - t0, db, (long long)id);
		printf("%-14s %12s %12s %10s\n", "op", "bytes", "median_s", "spread_s");
		for (size_t i = 0; i < nall; i++)
			printf("%-14s %12.0f %12.4g %10.3g\n", all[i].op, all[i].bytes, all[i].median_s,
			       all[i].spread_s);
		printf("\n");
		cp_comm_fit_report(st, id, size);
	}
	ret = PS_EXIT_OK;
fin:
	store_close(st);
	free(json);
	free(all);
	free(sbuf);
	free(rbuf);
	free(sizes);
	profile_comm_finalize();
	return ret;
}

/* The fits of the stored collective samples of device id over `ranks`
 * ranks (0: the most present): one line per op, then the piecewise fit. */
static int cp_comm_fit_report(struct ps_store *st, int64_t id, int ranks)
{
	struct ps_comm_fit f[4];
	int ok[4], any = 0;
	for (int k = 0; k < 4; k++) {
		ok[k] = profile_comm_fit_load(st, id, profile_comm_ops[k], ranks, &f[k]) == PS_OK;
		if (!ok[k])
			cli_error("profile");
		any |= ok[k];
	}
	printf("fit t = alpha + bytes / bw (weighted least squares, weights 1/t^2):\n");
	printf("%-14s %5s %4s %12s %12s %8s %8s %8s\n", "op", "ranks", "n", "alpha_us", "bw_GB/s", "R2(log)",
	       "med_err", "p90_err");
	for (int k = 0; k < 4; k++)
		if (ok[k])
			printf("%-14s %5d %4d %12.3f %12.3f %8.4f %7.1f%% %7.1f%%\n", f[k].op, f[k].ranks, f[k].n,
			       f[k].alpha_s * 1e6, f[k].bw_Bps * 1e-9, f[k].r2_log, 100 * f[k].median_rel,
			       100 * f[k].p90_rel);
	printf("\npiecewise: up to %d size ranges, a line each (a range is added while it halves the squared "
	       "error):\n",
	       PS_COMM_SEGMENTS);
	printf("%-14s %5s %4s %12s %12s %12s %8s %8s\n", "op", "ranks", "seg", "from_bytes", "alpha_us", "bw_GB/s",
	       "med_err", "p90_err");
	for (int k = 0; k < 4; k++)
		for (int j = 0; ok[k] && j < f[k].nseg; j++) {
			printf("%-14s %5d %4d %12.0f %12.3f %12.3f", f[k].op, f[k].ranks, j + 1, f[k].seg_from_bytes[j],
			       f[k].seg_alpha_s[j] * 1e6, f[k].seg_bw_Bps[j] * 1e-9);
			if (j == 0)
				printf(" %7.1f%% %7.1f%%", 100 * f[k].seg_median_rel, 100 * f[k].seg_p90_rel);
			printf("\n");
		}
	return any ? PS_EXIT_OK : PS_EXIT_FAIL;
}

int cmd_profile(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"device", required_argument, NULL, 'd'}, {"quick", no_argument, NULL, 'q'},
	    {"tiny", no_argument, NULL, 'y'},	      {"threads", required_argument, NULL, 't'},
	    {"db", required_argument, NULL, 'b'},     {"comm", no_argument, NULL, 'c'},
	    {"import", required_argument, NULL, 'i'}, {"device-name", required_argument, NULL, 'n'},
	    {"fit", no_argument, NULL, 'f'},	      {"clock", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},	      {NULL, 0, NULL, 0},
	};
	const char *db = PS_STORE_DEFAULT, *device = "cpu", *import = NULL, *name = NULL;
	ps_profile_level level = PROFILE_FULL;
	int threads = 0, comm = 0, fit_only = 0, cpu_clock = 0, c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			device = optarg;
			if (strcmp(device, "cpu") != 0 && strcmp(device, "cuda") != 0) {
				fprintf(stderr,
					"parasim profile: --device: expected cpu or cuda, got \"%s\"\n",
					device);
				return cli_usage("profile");
			}
			break;
		case 'q':
			level = PROFILE_QUICK;
			break;
		case 'y':
			level = PROFILE_TINY; /* hidden: 1-2 shapes per op, for the tests */
			break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 4096) {
				fprintf(
				    stderr,
				    "parasim profile: --threads: expected a positive integer, got \"%s\"\n",
				    optarg);
				return cli_usage("profile");
			}
			threads = (int)v;
			break;
		}
		case 'k':
			if (strcmp(optarg, "wall") != 0 && strcmp(optarg, "cpu") != 0) {
				fprintf(stderr,
					"parasim profile: --clock: expected wall or cpu, got \"%s\"\n",
					optarg);
				return cli_usage("profile");
			}
			cpu_clock = strcmp(optarg, "cpu") == 0;
			break;
		case 'b':
			db = optarg;
			break;
		case 'c':
			comm = 1;
			break;
		case 'i':
			import = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'f':
			fit_only = 1;
			break;
		case 'h':
			printf("usage: parasim profile [--device cpu|cuda] [--quick] [--threads N] [--clock "
			       "wall|cpu]\n"
			       "                       [--db PATH]\n"
			       "       parasim profile --comm [--quick] [--db PATH]     (under mpirun -np 2 "
			       "or more)\n"
			       "       parasim profile --import FILE.csv --device-name NAME [--db PATH]\n"
			       "       parasim profile --fit [--device-name NAME | --threads N [--clock "
			       "cpu]] [--db PATH]\n"
			       "       parasim profile --fit --comm [--device-name NAME] [--db PATH]\n");
			return PS_EXIT_OK;
		default:
			fprintf(stderr, "parasim profile: unknown or incomplete option \"%s\"\n",
				argv[optind - 1]);
			return cli_usage("profile");
		}
	}
	if (optind < argc) {
		fprintf(stderr, "parasim profile: unexpected argument \"%s\"\n", argv[optind]);
		return cli_usage("profile");
	}
	if ((import != NULL) + comm + fit_only > 1 && !(comm && fit_only && !import)) {
		fprintf(stderr, "parasim profile: --import, --comm and --fit exclude each other (but --fit --comm)\n");
		return cli_usage("profile");
	}
	if (import && !name) {
		fprintf(stderr, "parasim profile: --import needs --device-name NAME\n");
		return cli_usage("profile");
	}
	if (name && !import && !fit_only) {
		fprintf(stderr, "parasim profile: --device-name goes with --import or --fit\n");
		return cli_usage("profile");
	}
	if (import)
		return cp_import(db, import, name);
	if (comm && fit_only) { /* the fits of stored collective samples, measuring nothing */
		struct ps_store *st = NULL;
		char fp[PROFILE_FINGERPRINT_MAX];
		int64_t id;
		int ret = PS_EXIT_FAIL;
		if (store_open(db, &st) == PS_OK &&
		    (name ? PS_OK : profile_fingerprint(NULL, threads, fp, sizeof fp, NULL)) == PS_OK &&
		    store_device_find(st, name ? name : fp, &id) == PS_OK)
			ret = cp_comm_fit_report(st, id, 0);
		else
			cli_error("profile");
		store_close(st);
		return ret;
	}
	if (comm) {
		if (strcmp(device, "cpu") != 0) {
			fprintf(stderr,
				"parasim profile: --comm measures MPI collectives between CPU ranks only\n");
			return PS_EXIT_FAIL;
		}
		return cp_comm(&argc, &argv, db, level, threads);
	}
	if (fit_only) { /* the fit report of a stored profile, measuring nothing */
		struct ps_store *st = NULL;
		char fp[PROFILE_FINGERPRINT_MAX];
		int64_t id;
		int ret = PS_EXIT_FAIL;
		if (store_open(db, &st) == PS_OK &&
		    (name ? PS_OK
			  : profile_fingerprint_clock(NULL, threads, cpu_clock, fp, sizeof fp, NULL)) ==
			PS_OK &&
		    store_device_find(st, name ? name : fp, &id) == PS_OK)
			ret = cp_quality_from_store(st, id);
		else
			cli_error("profile");
		store_close(st);
		return ret;
	}
	if (cpu_clock && (threads != 1 || strcmp(device, "cpu") != 0)) {
		fprintf(
		    stderr,
		    "parasim profile: --clock cpu times one thread: it needs --threads 1 and --device cpu\n");
		return cli_usage("profile");
	}
	return cp_kernels(db, device, level, threads, cpu_clock);
}
