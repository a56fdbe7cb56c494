/* test-store-concurrency.c — two processes writing runs into one store file
 * at the same time lose nothing: 2 writers x 500 runs, each run with a few
 * params and metrics, started together on a fresh empty file (so both also
 * race to migrate it).  Every run must be present, finished and complete.
 *
 * The duration is printed for information, never asserted. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "status.h"
#include "store.h"

enum { WRITERS = 2, RUNS = 500 };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One writer process: RUNS runs with 3 params and 3 metrics each. */
static int writer(const char *path, int w, int go_fd)
{
	char c;
	if (read(go_fd, &c, 1) < 0) /* wait until both writers exist (EOF releases) */
		return 20;
	struct ps_store *st;
	if (store_open(path, &st)) {
		fprintf(stderr, "writer %d: %s\n", w, ps_error_message());
		return 21;
	}
	for (int i = 0; i < RUNS; i++) {
		int64_t run;
		char v[32];
		snprintf(v, sizeof v, "w%d-%d", w, i);
		if (store_run_begin(st, 0, "simulate", (uint64_t)(w * RUNS + i), &run) ||
		    store_run_param(st, run, "tag", v) || store_run_param_num(st, run, "writer", w) ||
		    store_run_param_num(st, run, "i", i) ||
		    store_run_metric(st, run, "writer_i", w * RUNS + i) ||
		    store_run_metric(st, run, "step_time_s", 1.0 / (i + 1)) ||
		    store_run_metric(st, run, "mfu", 0.5) || store_run_finish(st, run, "finished", NULL)) {
			fprintf(stderr, "writer %d run %d: %s\n", w, i, ps_error_message());
			store_close(st);
			return 22;
		}
	}
	store_close(st);
	return 0;
}

static int64_t q_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static void test_two_writers(void **state)
{
	(void)state;
	char path[] = "/tmp/ps-test-conc-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	int go[2];
	assert_int_equal(pipe(go), 0);
	pid_t pids[WRITERS];
	fflush(NULL);
	for (int w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w] == 0) {
			close(go[1]);
			alarm(120);
			_exit(writer(path, w, go[0]));
		}
	}
	close(go[0]);
	double t0 = now_s();
	close(go[1]); /* go */
	for (int w = 0; w < WRITERS; w++) {
		int status;
		assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	double t1 = now_s();
	fprintf(stderr, "# store: %d writers x %d runs in %.2f s\n", WRITERS, RUNS, t1 - t0);

	struct ps_store *st;
	assert_int_equal(store_open(path, &st), PS_OK);
	sqlite3 *db = store_db(st);
	assert_int_equal(q_int(db, "SELECT count(*) FROM runs"), WRITERS * RUNS);
	assert_int_equal(q_int(db, "SELECT count(*) FROM runs WHERE status = 'finished'"), WRITERS * RUNS);
	assert_int_equal(q_int(db, "SELECT count(*) FROM params"), 3 * WRITERS * RUNS);
	assert_int_equal(q_int(db, "SELECT count(*) FROM metrics"), 3 * WRITERS * RUNS);
	/* Every (writer, i) pair exactly once, its rows on its own run. */
	assert_int_equal(q_int(db, "SELECT count(DISTINCT value) FROM metrics WHERE key = 'writer_i'"),
			 WRITERS * RUNS);
	assert_int_equal(q_int(db, "SELECT min(value) FROM metrics WHERE key = 'writer_i'"), 0);
	assert_int_equal(q_int(db, "SELECT max(value) FROM metrics WHERE key = 'writer_i'"),
			 WRITERS * RUNS - 1);
	assert_int_equal(q_int(db, "SELECT count(*) FROM runs r JOIN metrics m ON m.run_id = r.id"
				   " AND m.key = 'writer_i' WHERE r.seed = CAST(m.value AS INTEGER)"),
			 WRITERS * RUNS);
	assert_int_equal(q_int(db,
			       "SELECT count(*) FROM params p JOIN params q ON q.run_id = p.run_id"
			       " AND q.key = 'i' WHERE p.key = 'tag'"
			       " AND p.value = 'w' || (SELECT value FROM params x WHERE x.run_id = p.run_id"
			       " AND x.key = 'writer') || '-' || q.value"),
			 WRITERS * RUNS);
	assert_int_equal(
	    q_int(db, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1);
	store_close(st);
	char buf[80];
	unlink(path);
	snprintf(buf, sizeof buf, "%s-wal", path);
	unlink(buf);
	snprintf(buf, sizeof buf, "%s-shm", path);
	unlink(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_two_writers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
