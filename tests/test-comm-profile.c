/* test-comm-profile.c — the collective profiler (kernels/comm-profile.c and
 * its MPI backend): message sizes, the alpha-beta fit against exact data,
 * and `mpirun -np 2 parasim profile --comm --tiny` storing rows from rank 0
 * only.  The MPI run is skipped when parasim was built without MPI or
 * mpirun is not on the PATH; without MPI, --comm must fail clearly. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profile.h"
#include "store.h"
#include "testutil.h"

static void test_sizes(void **state)
{
	(void)state;
	double *s;
	size_t n;
	assert_int_equal(profile_comm_sizes(PROFILE_FULL, &s, &n), PS_OK);
	assert_int_equal((int)n, 26); /* 2^3 .. 2^28 */
	assert_true(s[0] == 8 && s[n - 1] == 256.0 * 1024 * 1024);
	for (size_t i = 1; i < n; i++)
		assert_true(s[i] == 2 * s[i - 1]);
	free(s);
	assert_int_equal(profile_comm_sizes(PROFILE_QUICK, &s, &n), PS_OK);
	assert_int_equal((int)n, 13); /* 8 B .. 128 MiB, powers of 4 */
	assert_true(s[0] == 8 && s[n - 1] == 128.0 * 1024 * 1024);
	free(s);
	assert_int_equal(profile_comm_sizes(PROFILE_TINY, &s, &n), PS_OK);
	assert_true(n >= 2 && n <= 4 && s[n - 1] <= 65536);
	free(s);
}

static struct ps_comm_sample cs(const char *op, int ranks, double bytes, double t)
{
	struct ps_comm_sample s;
	memset(&s, 0, sizeof s);
	snprintf(s.op, sizeof s.op, "%s", op);
	s.ranks = ranks;
	s.bytes = bytes;
	s.median_s = t;
	s.reps = 5;
	return s;
}

static void test_fit(void **state)
{
	(void)state;
	/* Exact alpha-beta data: alpha 5 us, 10 GB/s; plus other ops and rank
	 * counts that must not leak in, and a stale duplicate (first) that the
	 * newer sample of the same size replaces. */
	struct ps_comm_sample s[32];
	int n = 0;
	s[n++] = cs("allreduce", 2, 512, 1.0); /* stale: replaced below */
	for (double b = 8; b <= 1 << 26; b *= 8)
		s[n++] = cs("allreduce", 2, b, 5e-6 + b / 10e9);
	s[n++] = cs("allreduce", 4, 1 << 20, 1.0);
	s[n++] = cs("allgather", 2, 1 << 20, 1.0);
	struct ps_comm_fit f;
	assert_int_equal(profile_comm_fit(s, (size_t)n, "allreduce", 2, &f), PS_OK);
	assert_int_equal(f.ranks, 2);
	assert_int_equal(f.n, 8); /* 8 B .. 16 MiB by 8x, the stale 512 B replaced */
	assert_true(fabs(f.alpha_s / 5e-6 - 1) < 1e-9);
	assert_true(fabs(f.bw_Bps / 10e9 - 1) < 1e-9);
	assert_true(f.r2_log > 0.999999 && f.median_rel < 1e-9 && f.p90_rel < 1e-9);
	/* ranks 0: the largest rank count present (4, one sample): too few. */
	assert_int_equal(profile_comm_fit(s, (size_t)n, "allreduce", 0, &f), PS_ERR_NOTFOUND);
	assert_int_equal(profile_comm_fit(s, (size_t)n, "sendrecv", 2, &f), PS_ERR_NOTFOUND);
	/* Data that a free line would fit with a negative intercept: alpha is
	 * clamped to 0 and the slope refitted through the origin. */
	struct ps_comm_sample z[3] = {cs("sendrecv", 2, 1000, 0.5e-6), cs("sendrecv", 2, 2000, 1.5e-6),
				      cs("sendrecv", 2, 4000, 3.5e-6)};
	assert_int_equal(profile_comm_fit(z, 3, "sendrecv", 2, &f), PS_OK);
	assert_true(f.alpha_s == 0 && f.bw_Bps > 0 && isfinite(f.bw_Bps));
}

/* The piecewise fit: exact data from one line keep one segment; data with
 * a cliff (2 us + b / 10 GB/s below 1 MiB, 50 us + b / 2 GB/s from 1 MiB)
 * are split there, each line recovered, where the single line misses by
 * tens of percent; with +-1 % noise the split is the same and the
 * piecewise errors stay at the noise.  profile_comm_fit_time follows the
 * segments. */
static void test_fit_piecewise(void **state)
{
	(void)state;
	struct ps_comm_sample s[32];
	struct ps_comm_fit f;
	int n = 0;
	for (double b = 8; b <= 1 << 28; b *= 2)
		s[n++] = cs("allgather", 2, b, 5e-6 + b / 10e9);
	assert_int_equal(profile_comm_fit(s, (size_t)n, "allgather", 2, &f), PS_OK);
	assert_int_equal(f.nseg, 1);
	assert_true(fabs(f.seg_alpha_s[0] / 5e-6 - 1) < 1e-9 && fabs(f.seg_bw_Bps[0] / 10e9 - 1) < 1e-9);
	for (int noisy = 0; noisy <= 1; noisy++) {
		uint64_t x = 42;
		n = 0;
		for (double b = 8; b <= 1 << 28; b *= 2) {
			double t = b < (1 << 20) ? 2e-6 + b / 10e9 : 50e-6 + b / 2e9;
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			if (noisy)
				t *= 1 + 0.01 * ((double)(x >> 11) / 9007199254740992.0 * 2 - 1);
			s[n++] = cs("reducescatter", 2, b, t);
		}
		assert_int_equal(profile_comm_fit(s, (size_t)n, "reducescatter", 2, &f), PS_OK);
		assert_int_equal(f.n, n);
		assert_int_equal(f.nseg, 2);
		assert_true(f.seg_from_bytes[0] == 0);
		assert_true(fabs(f.seg_from_bytes[1] / sqrt(512.0 * 1024 * 1024 * 1024) - 1) < 1e-12);
		double tol = noisy ? 0.05 : 1e-9;
		assert_true(fabs(f.seg_bw_Bps[0] / 10e9 - 1) < tol);
		assert_true(fabs(f.seg_bw_Bps[1] / 2e9 - 1) < tol);
		assert_true(fabs(f.seg_alpha_s[1] / 50e-6 - 1) < (noisy ? 0.2 : 1e-9));
		assert_true(f.median_rel > 0.15);		 /* one line cannot follow the cliff */
		assert_true(f.seg_p90_rel < (noisy ? 0.02 : 1e-9)); /* the segments do */
		assert_true(fabs(profile_comm_fit_time(&f, 4096) / (2e-6 + 4096 / 10e9) - 1) < tol);
		assert_true(fabs(profile_comm_fit_time(&f, 64e6) / (50e-6 + 64e6 / 2e9) - 1) < tol);
	}
	/* too few sizes for two segments of 3: one line only */
	n = 0;
	for (double b = 8; b <= 256; b *= 2)
		s[n++] = cs("sendrecv", 2, b, 1e-6 + b / 1e9);
	assert_int_equal(profile_comm_fit(s, (size_t)n, "sendrecv", 2, &f), PS_OK);
	assert_int_equal(f.nseg, 1);
}

static int find_mpirun(char *out, size_t size)
{
	const char *path = getenv("PATH");
	if (!path)
		return -1;
	char *dup = strdup(path), *save = NULL;
	int found = -1;
	for (char *d = strtok_r(dup, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(out, size, "%s/mpirun", d);
		if (access(out, X_OK) == 0) {
			found = 0;
			break;
		}
	}
	free(dup);
	return found;
}

/* Run argv (NULL-terminated) with stdout/stderr captured like test_run_parasim. */
static int run_cmd(char **out, char **err, const char *const *argv)
{
	char tmpo[] = "/tmp/ps-test-outXXXXXX", tmpe[] = "/tmp/ps-test-errXXXXXX";
	int fo = mkstemp(tmpo), fe = mkstemp(tmpe);
	unlink(tmpo);
	unlink(tmpe);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fo, 1);
		dup2(fe, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	lseek(fo, 0, SEEK_SET);
	lseek(fe, 0, SEEK_SET);
	*out = test_slurp_fd(fo);
	*err = test_slurp_fd(fe);
	close(fo);
	close(fe);
	return WIFSIGNALED(status) ? -1 : WEXITSTATUS(status);
}

static int count_cb(const struct ps_comm_sample *s, void *arg)
{
	int *c = arg;
	assert_int_equal(s->ranks, 2);
	assert_true(s->bytes >= 8 && s->median_s > 0 && s->reps >= 3);
	c[0]++;
	return 0;
}

static void test_mpirun(void **state)
{
	(void)state;
	char db[] = "/tmp/ps-test-comm-XXXXXX";
	int fd = mkstemp(db);
	close(fd);
	unlink(db);
	if (!profile_comm_available()) {
		/* Built without MPI: a clear failure, exit 1. */
		char *err;
		assert_int_equal(
		    test_run_parasim(NULL, &err, "profile", "--comm", "--tiny", "--db", db, NULL), 1);
		assert_non_null(strstr(err, "MPI"));
		free(err);
		return;
	}
	char mpirun[1024];
	if (find_mpirun(mpirun, sizeof mpirun) != 0)
		skip();
	char bin[2048];
	snprintf(bin, sizeof bin, "%s/parasim", test_env("PS_BUILDDIR", "."));
	const char *argv[] = {mpirun, "-np",	 "2",	   "--oversubscribe", "--allow-run-as-root",
			      bin,    "profile", "--comm", "--tiny",	      "--db",
			      db,     NULL};
	char *out, *err;
	int rc = run_cmd(&out, &err, argv);
	if (rc != 0)
		print_error("mpirun exit %d\nstdout: %s\nstderr: %s\n", rc, out, err);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "profiled collectives over 2 ranks"));
	assert_non_null(strstr(out, "reducescatter"));
	free(out);
	free(err);
	struct ps_store *st;
	assert_int_equal(store_open(db, &st), PS_OK);
	int64_t id;
	char fp[PROFILE_FINGERPRINT_MAX];
	assert_int_equal(store_device_latest(st, &id, fp, sizeof fp), PS_OK);
	double *sizes;
	size_t ns;
	assert_int_equal(profile_comm_sizes(PROFILE_TINY, &sizes, &ns), PS_OK);
	free(sizes);
	for (int k = 0; k < 4; k++) {
		int c = 0;
		assert_int_equal(store_comm_each(st, id, profile_comm_ops[k], count_cb, &c), PS_OK);
		assert_int_equal(c, (int)ns); /* rank 0 alone stored them */
		struct ps_comm_fit f;
		assert_int_equal(profile_comm_fit_load(st, id, profile_comm_ops[k], 2, &f), PS_OK);
		assert_true(f.n == (int)ns && f.alpha_s >= 0 && f.bw_Bps > 0);
	}
	store_close(st);
	/* the fits again from the store, measuring nothing */
	assert_int_equal(test_run_parasim(&out, &err, "profile", "--fit", "--comm", "--db", db, NULL), 0);
	assert_non_null(strstr(out, "piecewise"));
	assert_non_null(strstr(out, "\nreducescatter      2    1 "));
	free(out);
	free(err);
	/* One rank alone: a clear failure, not a hang. */
	assert_int_equal(test_run_parasim(NULL, &err, "profile", "--comm", "--tiny", "--db", db, NULL), 1);
	assert_non_null(strstr(err, "at least 2 MPI ranks"));
	free(err);
	char p[1100];
	unlink(db);
	snprintf(p, sizeof p, "%s-wal", db);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", db);
	unlink(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_fit), cmocka_unit_test(test_fit_piecewise),
	    cmocka_unit_test(test_mpirun),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
