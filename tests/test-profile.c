/* test-profile.c — the kernel profiler (kernels/profile*.c) and the
 * `parasim profile` verb.
 *
 * The statistics of the timing loop against hand-computed order statistics;
 * the grids (every op, valid shapes); the fingerprint (same text twice,
 * changes with the thread count); one real measurement; the CSV import with
 * its error messages (file:line:col); and the verb end to end with the
 * hidden --tiny level (1-4 shapes per op, a few seconds): it fills the
 * store, keeps one device row across two runs, imports a CSV that the cost
 * model then prefers over the datasheet, and fails clearly on bad input and
 * on --device cuda without a GPU.  No assertion is on wall-clock time. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "costmodel.h"
#include "profile.h"
#include "store.h"
#include "testutil.h"

static void test_stats(void **state)
{
	(void)state;
	double med, mad, ci;
	double a[5] = {5, 1, 4, 2, 3};
	profile_stats(a, 5, &med, &mad, &ci);
	assert_true(med == 3 && mad == 1); /* |t - 3| = 2 2 1 1 0 -> 1 */
	assert_true(isinf(ci));		   /* fewer than 6 values */
	double b[4] = {4, 1, 3, 2};
	profile_stats(b, 4, &med, &mad, &ci);
	assert_true(med == 2.5 && mad == 1.0); /* 1.5 .5 .5 1.5 -> 1 */
	double c[10] = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
	profile_stats(c, 10, &med, &mad, &ci);
	/* ranks floor(5 - 0.98 sqrt 10) = 1 and ceil(5 + 0.98 sqrt 10) = 9:
	 * (9 - 1) / (2 * 5.5) */
	assert_true(med == 5.5);
	assert_true(mad == 2.5); /* deviations .5 .5 1.5 1.5 2.5 2.5 3.5 3.5 4.5 4.5 */
	assert_true(fabs(ci - 8.0 / 11.0) < 1e-15);
	double d[7] = {1, 1, 1, 1, 1, 1, 1};
	profile_stats(d, 7, &med, &mad, &ci);
	assert_true(med == 1 && mad == 0 && ci == 0);
}

static void test_combine(void **state)
{
	(void)state;
	/* Three passes: medians 10, 30, 11 (a burst of load in pass 2), MADs
	 * 1, 2, 0.5: median of medians 11; MAD of medians |10-11|,|30-11|,0
	 * -> 1; median of MADs 1; spread max(1, 1) = 1; reps summed. */
	struct ps_kernel_sample p[3];
	memset(p, 0, sizeof p);
	double med[3] = {10, 30, 11}, mad[3] = {1, 2, 0.5};
	for (int i = 0; i < 3; i++) {
		snprintf(p[i].op, sizeof p[i].op, "gelu_fwd");
		p[i].n = 4096;
		p[i].median_s = med[i];
		p[i].spread_s = mad[i];
		p[i].reps = 5 + i;
		p[i].disturbed = i;
	}
	struct ps_kernel_sample out;
	profile_combine(p, 3, &out);
	assert_string_equal(out.op, "gelu_fwd");
	assert_true(out.n == 4096 && out.median_s == 11 && out.spread_s == 1 && out.reps == 18);
	assert_int_equal(out.disturbed, 0 + 1 + 2);
	/* Medians far apart: the spread across passes dominates. */
	p[0].median_s = 2, p[2].median_s = 20;
	profile_combine(p, 3, &out);
	assert_true(out.median_s == 20 && out.spread_s == 10);
	profile_combine(p, 1, &out);
	assert_true(out.median_s == 2 && out.spread_s == 1 && out.reps == 5);
}

static void test_grid(void **state)
{
	(void)state;
	for (int gpu = 0; gpu < 2; gpu++)
		for (int level = PROFILE_TINY; level <= PROFILE_FULL; level++) {
			struct ps_profile_shape *g;
			size_t n;
			assert_int_equal(profile_grid((ps_profile_level)level, gpu, &g, &n), PS_OK);
			int count[OP_COUNT_] = {0};
			for (size_t i = 0; i < n; i++) {
				const struct ps_shape *s = &g[i].shape;
				count[g[i].op]++;
				assert_true(op_flops(g[i].op, s) > 0);
				assert_true(op_bytes(g[i].op, s, 4) > 0);
				if (g[i].op == OP_ATTN_FWD || g[i].op == OP_ATTN_BWD)
					assert_true(s->NH % s->KVH == 0 && s->HS > 0 && s->B * s->T <= 16384);
				if (g[i].op == OP_EMBED_FWD)
					assert_true(s->B >= 1 && s->T >= 1 && s->V >= 1);
			}
			for (int op = 0; op < OP_COUNT_; op++) {
				assert_true(count[op] >= 1);
				if (level == PROFILE_TINY)
					assert_true(count[op] <= 4);
				if (level == PROFILE_FULL)
					assert_true(count[op] >= 10);
			}
			free(g);
		}
}

static void test_fingerprint(void **state)
{
	(void)state;
	char a[PROFILE_FINGERPRINT_MAX], b[PROFILE_FINGERPRINT_MAX], c[PROFILE_FINGERPRINT_MAX];
	char *ja, *jb;
	assert_int_equal(profile_fingerprint(NULL, 2, a, sizeof a, &ja), PS_OK);
	assert_int_equal(profile_fingerprint(NULL, 2, b, sizeof b, &jb), PS_OK);
	assert_string_equal(a, b);
	assert_string_equal(ja, jb);
	assert_int_equal((int)strlen(a), 4 + 16);
	assert_true(strncmp(a, "cpu-", 4) == 0);
	assert_non_null(strstr(ja, "\"threads\":2"));
	assert_non_null(strstr(ja, "\"blas_core\":"));
	/* The library that serves cblas_sgemm is named (whichever it is). */
	char lib[300];
	snprintf(lib, sizeof lib, "\"blas_library\":\"%s\"", profile_blas_library());
	assert_non_null(strstr(ja, lib));
	assert_true(strstr(profile_blas_library(), "blas") != NULL);
	assert_non_null(strstr(ja, "\"sqlite\":"));
	assert_int_equal(profile_fingerprint(NULL, 1, c, sizeof c, NULL), PS_OK);
	assert_string_not_equal(a, c);
	free(ja);
	free(jb);
}

static void test_measure_one(void **state)
{
	(void)state;
	struct ps_profile_shape sh = {OP_MATMUL_FWD, {.M = 64, .N = 96, .K = 32, .variant = 1}};
	struct ps_profile_opts o;
	profile_opts_init(&o, PROFILE_TINY);
	struct ps_kernel_sample s;
	double wall;
	profile_threads_set(1);
	assert_int_equal(profile_measure(ps_backend_cpu(), DTYPE_FP32, &sh, &o, &s, &wall), PS_OK);
	assert_string_equal(s.op, "matmul_fwd");
	assert_string_equal(s.dtype, "fp32");
	assert_true(s.M == 64 && s.N == 96 && s.K == 32 && s.variant == 1);
	assert_true(s.reps >= 3 && s.reps <= o.max_reps);
	assert_true(s.median_s > 0 && s.spread_s >= 0 && wall >= s.median_s);
	assert_true(s.flops == op_flops(OP_MATMUL_FWD, &sh.shape));
	assert_true(s.bytes == op_bytes(OP_MATMUL_FWD, &sh.shape, 4));
	/* bf16 is not a CPU dtype: unsupported, not a crash. */
	assert_int_equal(profile_measure(ps_backend_cpu(), DTYPE_BF16, &sh, &o, &s, NULL),
			 PS_ERR_UNSUPPORTED);
	profile_threads_set(0);
}

/* The run-delay counter of /proc/<pid>/task/<tid>/schedstat. */
static void test_schedstat(void **state)
{
	(void)state;
	double d = -1;
	assert_int_equal(profile_schedstat_parse("928054279 369565554 117\n", &d), PS_OK);
	assert_true(fabs(d - 0.369565554) < 1e-12);
	assert_int_equal(profile_schedstat_parse("0 0 0", &d), PS_OK);
	assert_true(d == 0);
	const char *bad[] = {"", "12", "12 34", "a b c", "12 x 3", "-"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_int_equal(profile_schedstat_parse(bad[i], &d), PS_ERR_PARSE);
		ps_error_clear();
	}
	assert_int_equal(profile_schedstat_parse(NULL, &d), PS_ERR_PARSE);
	ps_error_clear();
	/* On Linux with schedstats (this project's machines) the sum over this
	 * process's threads is readable and never goes back. */
	double a = profile_run_delay_s();
	if (a < 0)
		skip();
	double b = profile_run_delay_s();
	assert_true(b >= a);
}

/* With more busy processes than CPUs, a 2-thread kernel's threads wait on
 * the run queue, and profile_measure drops those samples (out.disturbed):
 * the scheduler's own account, not a timing heuristic. */
static void test_measure_disturbed(void **state)
{
	(void)state;
	if (profile_run_delay_s() < 0)
		skip();
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < 1)
		cpus = 1;
	if (cpus > 16)
		skip(); /* too many children to hog every core */
	pid_t kids[17];
	int nk = 0;
	for (long i = 0; i < cpus + 1; i++) {
		pid_t p = fork();
		if (p == 0) {
			alarm(5); /* never outlive the test */
			volatile unsigned long x = 0;
			for (;;)
				x++;
		}
		if (p > 0)
			kids[nk++] = p;
	}
	struct ps_profile_shape sh = {OP_GELU_FWD, {.n = 1 << 20}};
	struct ps_profile_opts o;
	profile_opts_init(&o, PROFILE_TINY);
	o.max_s = 0.3, o.min_reps = 20, o.max_reps = 60, o.target_ci = 0;
	struct ps_kernel_sample s;
	profile_threads_set(2);
	ps_status rc = profile_measure(ps_backend_cpu(), DTYPE_FP32, &sh, &o, &s, NULL);
	profile_threads_set(0);
	for (int i = 0; i < nk; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	assert_int_equal(rc, PS_OK);
	print_message("# %d samples kept, %d dropped with %ld busy processes on %ld CPUs\n", s.reps,
		      s.disturbed, cpus + 1, cpus);
	assert_true(s.disturbed > 0);
	assert_true(s.reps >= 3 && s.median_s > 0);
}

static char *write_tmp(const char *text)
{
	static char path[64];
	snprintf(path, sizeof path, "/tmp/ps-test-profile-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	return strdup(path);
}

static void expect_csv_error(const char *text, const char *where, const char *what)
{
	char *p = write_tmp(text);
	struct ps_kernel_sample *s;
	size_t n;
	char *src;
	assert_int_equal(profile_csv_read(p, &s, &n, &src), PS_ERR_PARSE);
	char want[128];
	snprintf(want, sizeof want, "%s:%s", p, where);
	if (!strstr(ps_error_message(), want) || !strstr(ps_error_message(), what)) {
		print_error("message \"%s\" lacks \"%s\" or \"%s\"\n", ps_error_message(), want, what);
		fail();
	}
	unlink(p);
	free(p);
}

static const char good_csv[] = "# A100 measured by someone else\n"
			       "# source: vendor benchmark sheet, 2024\n"
			       "op,dtype,M,N,K,variant,median_s,reps,source\n"
			       "matmul_fwd,bf16,4096,4096,4096,0,0.00062,20,\"lab run, \"\"A\"\"\"\n"
			       "matmul_fwd,bf16,8192,4096,4096,0,0.00118,20,\n"
			       "\n"
			       "matmul_fwd,bf16,2048,4096,4096,0,3.3e-4,20,lab run B\n";

static void test_csv(void **state)
{
	(void)state;
	char *p = write_tmp(good_csv);
	struct ps_kernel_sample *s;
	size_t n;
	char *src;
	assert_int_equal(profile_csv_read(p, &s, &n, &src), PS_OK);
	assert_int_equal((int)n, 3);
	assert_string_equal(s[0].op, "matmul_fwd");
	assert_string_equal(s[0].dtype, "bf16");
	assert_true(s[0].M == 4096 && s[1].M == 8192 && s[2].M == 2048);
	assert_true(s[0].median_s == 0.00062 && s[2].median_s == 3.3e-4 && s[0].reps == 20);
	/* flops and bytes were not given: computed like the profiler's */
	struct ps_shape sh = {.M = 4096, .N = 4096, .K = 4096};
	assert_true(s[0].flops == op_flops(OP_MATMUL_FWD, &sh));
	assert_true(s[0].bytes == op_bytes(OP_MATMUL_FWD, &sh, 2));
	assert_string_equal(src, "vendor benchmark sheet, 2024; lab run, \"A\"; lab run B");
	free(s);
	free(src);
	unlink(p);
	free(p);

	expect_csv_error("# source: x\nop,M,speed\n", "2:6:", "unknown column \"speed\"");
	expect_csv_error("# source: x\nop,M,N,K\n", "2:1:", "op and median_s");
	expect_csv_error("# source: x\nop,M,median_s\nmatmul_fwd,12x,1e-3\n",
			 "3:12:", "M: expected a non-negative integer");
	expect_csv_error("# source: x\nop,M,median_s\nmatmul_fwd,12,-1\n",
			 "3:15:", "median_s: expected a positive time");
	expect_csv_error("# source: x\nop,M,median_s\nconv,12,1\n", "3:1:", "op: expected an op name");
	expect_csv_error("# source: x\nop,dtype,median_s\ngelu_fwd,int8,1\n", "3:10:", "dtype");
	expect_csv_error("# source: x\nop,M,median_s\ngelu_fwd,1\n", "3:", "expected 3 fields");
	expect_csv_error("# source: x\nop,M,median_s\ngelu_fwd,\"1,1\n", "3:10:", "unterminated");
	expect_csv_error("op,M,median_s\ngelu_fwd,1,1e-3\n", "1:1:", "no provenance");
	expect_csv_error("op,M,median_s,source\ngelu_fwd,1,1e-3,\n", "2:1:", "source: empty");
	expect_csv_error("# source: x\n", "2:1:", "no header");
	expect_csv_error("# source: x\nop,median_s\n", "3:1:", "no samples");
	assert_int_equal(profile_csv_read("/nonexistent/x.csv", &s, &n, &src), PS_ERR_IO);
}

static char *tmp_db(void)
{
	char path[] = "/tmp/ps-test-profile-db-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	return strdup(path);
}

static void rm_db(char *path)
{
	char p[1100];
	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
	free(path);
}

static int count_cb(const struct ps_kernel_sample *s, void *arg)
{
	int *c = arg;
	ps_op op;
	assert_int_equal(op_parse(s->op, &op), 0);
	assert_true(s->median_s > 0 && s->reps >= 3 && s->flops > 0 && s->bytes > 0);
	c[op]++;
	c[OP_COUNT_]++;
	return 0;
}

static void test_verb_tiny(void **state)
{
	(void)state;
	char *db = tmp_db(), *out, *err;
	int rc = test_run_parasim(&out, &err, "profile", "--tiny", "--threads", "1", "--db", db, NULL);
	if (rc != 0)
		print_error("stdout: %s\nstderr: %s\n", out, err);
	assert_int_equal(rc, 0);
	char fp[PROFILE_FINGERPRINT_MAX];
	assert_int_equal(profile_fingerprint(NULL, 1, fp, sizeof fp, NULL), PS_OK);
	assert_non_null(strstr(out, fp));
	assert_non_null(strstr(out, "loo_med"));
	assert_non_null(strstr(out, "matmul_fwd"));
	assert_null(strstr(err, "\r")); /* no progress bar when stderr is not a terminal */
	free(out);
	free(err);

	struct ps_store *st;
	int64_t id, id2;
	int count[OP_COUNT_ + 1] = {0};
	assert_int_equal(store_open(db, &st), PS_OK);
	assert_int_equal(store_device_find(st, fp, &id), PS_OK);
	assert_int_equal(store_kernel_each(st, id, NULL, count_cb, count), PS_OK);
	for (int op = 0; op < OP_COUNT_; op++)
		assert_true(count[op] >= 1);
	int first = count[OP_COUNT_];
	store_close(st);

	/* Again into the same store: same device row (the fingerprint is
	 * stable across runs), twice the samples; the cost model keeps the
	 * last of each shape. */
	assert_int_equal(
	    test_run_parasim(NULL, NULL, "profile", "--tiny", "--threads", "1", "--db", db, NULL), 0);
	memset(count, 0, sizeof count);
	assert_int_equal(store_open(db, &st), PS_OK);
	assert_int_equal(store_device_find(st, fp, &id2), PS_OK);
	assert_true(id == id2);
	assert_int_equal(store_kernel_each(st, id, NULL, count_cb, count), PS_OK);
	assert_int_equal(count[OP_COUNT_], 2 * first);
	struct ps_costmodel *cm;
	assert_int_equal(costmodel_local_alloc(st, 1, &cm), PS_OK);
	assert_string_equal(costmodel_source(cm), "profile");
	struct ps_costmodel_quality q;
	assert_int_equal(costmodel_quality(cm, OP_MATMUL_FWD, &q), PS_OK);
	assert_true(q.n * 2 == count[OP_MATMUL_FWD]);
	costmodel_free(cm);
	store_close(st);

	/* --fit re-reads the stored profile without measuring. */
	assert_int_equal(test_run_parasim(&out, NULL, "profile", "--fit", "--threads", "1", "--db", db, NULL),
			 0);
	assert_non_null(strstr(out, "loo_p90"));
	free(out);
	rm_db(db);
}

static void test_verb_import(void **state)
{
	(void)state;
	char *db = tmp_db(), *csv = write_tmp(good_csv), *out, *err;
	int rc = test_run_parasim(&out, &err, "profile", "--import", csv, "--device-name", "a100-test",
				  "--db", db, NULL);
	if (rc != 0)
		print_error("stdout: %s\nstderr: %s\n", out, err);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "imported 3 samples"));
	free(out);
	free(err);
	/* The simulator's choice: a device named like the import gets the profile. */
	struct ps_store *st;
	assert_int_equal(store_open(db, &st), PS_OK);
	struct ps_device d;
	memset(&d, 0, sizeof d);
	snprintf(d.name, sizeof d.name, "a100-test");
	d.peak_flops[DTYPE_BF16] = 312e12;
	d.mem_bw_Bps = 2e12;
	struct ps_costmodel *cm;
	assert_int_equal(costmodel_device_alloc(st, &d, &cm), PS_OK);
	assert_string_equal(costmodel_source(cm), "profile");
	struct ps_shape s = {.M = 4096, .N = 4096, .K = 4096};
	assert_true(fabs(costmodel_kernel_s(cm, OP_MATMUL_FWD, &s, DTYPE_BF16) / 0.00062 - 1) < 0.02);
	costmodel_free(cm);
	store_close(st);

	/* Errors: the parse error names file:line:col; usage errors exit 2. */
	char *bad = write_tmp("# source: x\nop,M,median_s\nmatmul_fwd,abc,1\n");
	assert_int_equal(
	    test_run_parasim(NULL, &err, "profile", "--import", bad, "--device-name", "x", "--db", db, NULL),
	    1);
	char want[128];
	snprintf(want, sizeof want, "%s:3:12:", bad);
	assert_non_null(strstr(err, want));
	free(err);
	assert_int_equal(test_run_parasim(NULL, NULL, "profile", "--import", csv, "--db", db, NULL), 2);
	assert_int_equal(test_run_parasim(NULL, NULL, "profile", "--threads", "zero", NULL), 2);
	assert_int_equal(test_run_parasim(NULL, NULL, "profile", "--device", "tpu", NULL), 2);
	assert_int_equal(test_run_parasim(NULL, NULL, "profile", "--quick", "extra", NULL), 2);
	assert_int_equal(test_run_parasim(NULL, NULL, "profile", "--bogus", NULL), 2);
	assert_int_equal(
	    test_run_parasim(NULL, NULL, "profile", "--comm", "--import", csv, "--device-name", "x", NULL),
	    2);
	unlink(bad);
	free(bad);
	unlink(csv);
	free(csv);
	rm_db(db);
}

static void test_verb_cuda(void **state)
{
	(void)state;
	if (ps_backend_cuda() != NULL)
		skip(); /* a GPU is here: the profile would run; the GPU check covers it */
	char *db = tmp_db(), *err;
	assert_int_equal(
	    test_run_parasim(NULL, &err, "profile", "--device", "cuda", "--tiny", "--db", db, NULL), 1);
	assert_non_null(strstr(err, "CUDA backend is not available"));
	free(err);
	rm_db(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stats),	cmocka_unit_test(test_combine),
	    cmocka_unit_test(test_grid),	cmocka_unit_test(test_fingerprint),
	    cmocka_unit_test(test_measure_one), cmocka_unit_test(test_csv),
	    cmocka_unit_test(test_schedstat),	cmocka_unit_test(test_measure_disturbed),
	    cmocka_unit_test(test_verb_tiny),	cmocka_unit_test(test_verb_import),
	    cmocka_unit_test(test_verb_cuda),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
