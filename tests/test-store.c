/* test-store.c — the SQLite store: migrations, refusing foreign files, the
 * run life cycle (round trips of params, metrics, breakdowns and traces),
 * failed and abandoned runs, scenario dedup, device profiles, and a writer
 * killed with SIGKILL in the middle of its run transaction.
 *
 * Truth is read back with plain SQL through store_db(), independent of the
 * store's own readers.  Concurrency is in test-store-concurrency.c, exports
 * in test-export.c. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "status.h"
#include "store.h"

/* ---- helpers ---- */

/* A fresh empty file under /tmp (mkstemp creates it with 0 bytes). */
static void tmp_db(char *path, size_t size)
{
	snprintf(path, size, "/tmp/ps-test-store-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
}

static void rm_db(const char *path)
{
	char buf[512];
	unlink(path);
	snprintf(buf, sizeof buf, "%s-wal", path);
	unlink(buf);
	snprintf(buf, sizeof buf, "%s-shm", path);
	unlink(buf);
	snprintf(buf, sizeof buf, "%s-journal", path);
	unlink(buf);
}

/* First column of the first row of sql as an integer (bind: optional id). */
static int64_t q_int(sqlite3 *db, const char *sql, int64_t id)
{
	sqlite3_stmt *s = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_bind_parameter_count(s) > 0)
		sqlite3_bind_int64(s, 1, id);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static double q_num(sqlite3 *db, const char *sql, int64_t id)
{
	sqlite3_stmt *s = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_bind_parameter_count(s) > 0)
		sqlite3_bind_int64(s, 1, id);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	double v = sqlite3_column_double(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* First column of the first row as text (malloc'd; NULL for SQL NULL). */
static char *q_text(sqlite3 *db, const char *sql, int64_t id)
{
	sqlite3_stmt *s = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_bind_parameter_count(s) > 0)
		sqlite3_bind_int64(s, 1, id);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	const char *t = (const char *)sqlite3_column_text(s, 0);
	char *v = t ? strdup(t) : NULL;
	sqlite3_finalize(s);
	return v;
}

static void assert_q_text(sqlite3 *db, const char *sql, int64_t id, const char *want)
{
	char *got = q_text(db, sql, id);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static const char *const tables[] = {"scenarios",     "runs",	    "params",  "metrics",
				     "breakdowns",    "traces",	    "devices", "kernel_profiles",
				     "comm_profiles", "validations"};

static const char hash_a[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const char hash_b[] = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

/* A raw SQLite file made without the store. */
static void make_raw(const char *path, const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* ---- migrations and refusals ---- */

static void test_migrate_empty_file(void **state)
{
	(void)state;
	char path[64];
	tmp_db(path, sizeof path);
	struct ps_store *st = NULL;
	assert_int_equal(store_open(path, &st), PS_OK);
	sqlite3 *db = store_db(st);
	int ver = store_schema_version(st);
	assert_true(ver >= 1);
	assert_int_equal(q_int(db, "PRAGMA user_version", 0), ver);
	assert_int_equal(q_int(db, "PRAGMA application_id", 0), PS_STORE_APPLICATION_ID);
	assert_int_equal(q_int(db, "PRAGMA foreign_keys", 0), 1);
	assert_q_text(db, "PRAGMA journal_mode", 0, "wal");
	for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
		char sql[128];
		snprintf(sql, sizeof sql,
			 "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'", tables[i]);
		assert_int_equal(q_int(db, sql, 0), 1);
	}
	int64_t objects = q_int(db, "SELECT count(*) FROM sqlite_master", 0);
	store_close(st);

	/* Reopening changes nothing. */
	assert_int_equal(store_open(path, &st), PS_OK);
	assert_int_equal(store_schema_version(st), ver);
	assert_int_equal(q_int(store_db(st), "SELECT count(*) FROM sqlite_master", 0), objects);
	assert_int_equal(q_int(store_db(st), "PRAGMA user_version", 0), ver);
	store_close(st);
	rm_db(path);

	/* A path that does not exist yet is created. */
	char fresh[80];
	snprintf(fresh, sizeof fresh, "%s.new", path);
	assert_int_equal(store_open(fresh, &st), PS_OK);
	assert_int_equal(q_int(store_db(st), "PRAGMA application_id", 0), PS_STORE_APPLICATION_ID);
	store_close(st);
	rm_db(fresh);
}

static void test_refuse_other_application(void **state)
{
	(void)state;
	char path[64];
	tmp_db(path, sizeof path);
	make_raw(path, "PRAGMA application_id = 1234; CREATE TABLE t(x); INSERT INTO t VALUES(1)");
	struct ps_store *st = (struct ps_store *)&st; /* must be reset to NULL */
	assert_int_equal(store_open(path, &st), PS_ERR_DB);
	assert_null(st);
	assert_non_null(strstr(ps_error_message(), "not a parasim database"));
	assert_non_null(strstr(ps_error_message(), path));
	/* The file is left as it was: no WAL switch, no parasim tables. */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(q_int(db, "PRAGMA application_id", 0), 1234);
	assert_q_text(db, "PRAGMA journal_mode", 0, "delete");
	assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_master", 0), 1);
	sqlite3_close(db);
	rm_db(path);

	/* Another program's SQLite file without an application_id. */
	tmp_db(path, sizeof path);
	make_raw(path, "CREATE TABLE notes(body TEXT)");
	assert_int_equal(store_open(path, &st), PS_ERR_DB);
	assert_non_null(strstr(ps_error_message(), "not a parasim database"));
	rm_db(path);
}

static void test_refuse_newer_schema(void **state)
{
	(void)state;
	char path[64];
	tmp_db(path, sizeof path);
	struct ps_store *st;
	assert_int_equal(store_open(path, &st), PS_OK);
	int ver = store_schema_version(st);
	store_close(st);
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", ver + 1);
	make_raw(path, sql);
	assert_int_equal(store_open(path, &st), PS_ERR_DB);
	assert_non_null(strstr(ps_error_message(), "newer"));
	rm_db(path);
}

static void test_refuse_not_sqlite(void **state)
{
	(void)state;
	char path[64];
	tmp_db(path, sizeof path);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 200; i++)
		fputs("this is a text file, not a database\n", f);
	fclose(f);
	struct ps_store *st;
	assert_int_equal(store_open(path, &st), PS_ERR_DB);
	assert_non_null(strstr(ps_error_message(), "not an SQLite database"));
	assert_non_null(strstr(ps_error_message(), path));
	/* Untouched. */
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 200 * 36);
	rm_db(path);
}

static void test_refuse_bad_paths(void **state)
{
	(void)state;
	char dir[] = "/tmp/ps-test-store-dirXXXXXX";
	assert_non_null(mkdtemp(dir));
	struct ps_store *st;
	assert_int_equal(store_open(dir, &st), PS_ERR_IO);
	assert_non_null(strstr(ps_error_message(), "is a directory"));
	rmdir(dir);

	assert_int_equal(store_open("/nonexistent-ps-dir/sub/x.db", &st), PS_ERR_DB);
	assert_non_null(strstr(ps_error_message(), "/nonexistent-ps-dir/sub/x.db"));
	assert_non_null(strstr(ps_error_message(), "unable to open"));

	assert_int_equal(store_open("", &st), PS_ERR_INVALID);

	if (geteuid() != 0) { /* root reads everything */
		char path[64];
		tmp_db(path, sizeof path);
		chmod(path, 0);
		assert_int_not_equal(store_open(path, &st), PS_OK);
		assert_non_null(strstr(ps_error_message(), path));
		rm_db(path);
	}
}

/* ---- run life cycle ---- */

static void test_scenario_dedup(void **state)
{
	(void)state;
	char path[64];
	tmp_db(path, sizeof path);
	struct ps_store *st;
	assert_int_equal(store_open(path, &st), PS_OK);
	int64_t a = -1, a2 = -1, b = -1;
	assert_int_equal(store_scenario_put(st, "tiny", "model: tiny\n", hash_a, &a), PS_OK);
	assert_int_equal(store_scenario_put(st, "tiny-again", "model: tiny\n", hash_a, &a2), PS_OK);
	assert_int_equal(a, a2);
	/* The same hash in capitals is the same scenario. */
	char upper[65];
	for (int i = 0; i < 65; i++)
		upper[i] = (char)(hash_a[i] >= 'a' && hash_a[i] <= 'f' ? hash_a[i] - 32 : hash_a[i]);
	assert_int_equal(store_scenario_put(st, "tiny", "model: tiny\n", upper, &a2), PS_OK);
	assert_int_equal(a, a2);
	assert_int_equal(store_scenario_put(st, "other", "model: other\n", hash_b, &b), PS_OK);
	assert_int_not_equal(a, b);
	assert_int_equal(q_int(store_db(st), "SELECT count(*) FROM scenarios", 0), 2);
	assert_q_text(store_db(st), "SELECT name FROM scenarios WHERE id = ?1", a, "tiny");
	/* Same hash, different text: a collision or a bug, refused. */
	assert_int_equal(store_scenario_put(st, "x", "model: changed\n", hash_a, &a2), PS_ERR_INVALID);
	assert_int_equal(store_scenario_put(st, "x", "t", "abc", &a2), PS_ERR_INVALID);
	assert_int_equal(
	    store_scenario_put(st, "x", "t",
			       "zz23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", &a2),
	    PS_ERR_INVALID);
	/* Canonical text with quotes and newlines is stored verbatim (bound, not spliced). */
	const char *odd = "name: \"it's\"; DROP TABLE runs; --\n\ttab\n";
	assert_int_equal(store_scenario_put(st, "odd", odd, hash_b + 0, &b),
			 PS_ERR_INVALID); /* hash_b is "other" */
	char hash_c[65];
	memcpy(hash_c, hash_a, 65);
	hash_c[0] = '9';
	assert_int_equal(store_scenario_put(st, "odd'name", odd, hash_c, &b), PS_OK);
	assert_q_text(store_db(st), "SELECT canonical FROM scenarios WHERE id = ?1", b, odd);
	assert_q_text(store_db(st), "SELECT name FROM scenarios WHERE id = ?1", b, "odd'name");
	store_close(st);
	rm_db(path);
}

static struct ps_trace_event make_event(uint32_t i)
{
	struct ps_trace_event e;
	memset(&e, 0, sizeof e);
	e.task_id = i;
	e.rank = (int32_t)(i % 8);
	e.stream = (int32_t)(i % 4);
	e.kind = (int32_t)(i % 5);
	e.phase = (int32_t)(i % 3);
	e.layer = (int32_t)(i % 96) - 1;
	e.microbatch = (int32_t)(i % 16) - 1;
	e.start_s = i * 1e-6 + 1.0 / 3.0;
	e.end_s = e.start_s + (i % 7 + 1) * 1.25e-7;
	e.flops = i * 1.5e9;
	e.bytes = i * 4096.0 + 0.5;
	snprintf(e.name, sizeof e.name, "task_%u", i);
	return e;
}

static void test_run_round_trip(void **state)
{
	(void)state;
	char path[64];
	tmp_db(path, sizeof path);
	struct ps_store *st;
	assert_int_equal(store_open(path, &st), PS_OK);
	sqlite3 *db = store_db(st);
	int64_t scen, run = -1, other;
	assert_int_equal(store_scenario_put(st, "tiny", "model: tiny\n", hash_a, &scen), PS_OK);
	uint64_t seed = 0x123456789abcULL;
	assert_int_equal(store_run_begin(st, scen, "simulate", seed, &run), PS_OK);
	assert_true(run > 0);
	/* The 'running' row is committed before any of the run's rows. */
	{
		sqlite3 *ro;
		assert_int_equal(sqlite3_open_v2(path, &ro, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_q_text(ro, "SELECT status FROM runs WHERE id = ?1", run, "running");
		sqlite3_close(ro);
	}
	/* One run at a time per handle; rows only for the open run. */
	assert_int_equal(store_run_begin(st, scen, "simulate", 1, &other), PS_ERR_INVALID);
	assert_int_equal(store_run_metric(st, run + 1, "x", 1.0), PS_ERR_INVALID);
	assert_int_equal(store_run_metric(st, run, "", 1.0), PS_ERR_INVALID);

	assert_int_equal(store_run_param(st, run, "schedule", "1f1b"), PS_OK);
	assert_int_equal(store_run_param(st, run, "note", "it's a \"quoted\", line\nnext"), PS_OK);
	assert_int_equal(store_run_param_num(st, run, "tp", 8), PS_OK);
	assert_int_equal(store_run_param_num(st, run, "lr", 0.1), PS_OK);
	assert_int_equal(store_run_metric(st, run, "step_time_s", 1.0 / 3.0), PS_OK);
	assert_int_equal(store_run_metric(st, run, "peak_mem_bytes", 7.9e10), PS_OK);
	assert_int_equal(store_run_metric(st, run, "mfu", 0.1), PS_OK);
	assert_int_equal(store_run_metric(st, run, "mfu", 0.42), PS_OK); /* last value wins */
	assert_int_equal(store_run_breakdown(st, run, 0, "memory", "weights_bytes", 1.5e9), PS_OK);
	assert_int_equal(store_run_breakdown(st, run, 3, "time", "bubble_s", 0.25), PS_OK);
	struct ps_trace_event ev[3] = {make_event(0), make_event(1), make_event(77)};
	memset(ev[2].name, 'x', sizeof ev[2].name); /* no terminator */
	assert_int_equal(store_run_trace(st, run, ev, 3), PS_OK);
	assert_int_equal(store_run_trace(st, run, NULL, 0), PS_OK);

	/* Not visible to another connection before the commit. */
	{
		sqlite3 *ro;
		assert_int_equal(sqlite3_open_v2(path, &ro, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(q_int(ro, "SELECT count(*) FROM metrics", 0), 0);
		sqlite3_close(ro);
	}
	assert_int_equal(store_run_finish(st, run, "done", NULL), PS_ERR_INVALID);
	assert_int_equal(store_run_finish(st, run, "finished", NULL), PS_OK);
	assert_int_equal(store_run_finish(st, run, "finished", NULL), PS_ERR_INVALID); /* not open any more */

	assert_q_text(db, "SELECT status FROM runs WHERE id = ?1", run, "finished");
	assert_q_text(db, "SELECT backend FROM runs WHERE id = ?1", run, "simulate");
	assert_q_text(db, "SELECT tool_version FROM runs WHERE id = ?1", run, PACKAGE_VERSION);
	assert_int_equal(q_int(db, "SELECT pid FROM runs WHERE id = ?1", run), getpid());
	assert_int_equal((uint64_t)q_int(db, "SELECT seed FROM runs WHERE id = ?1", run), seed);
	assert_int_equal(q_int(db, "SELECT scenario_id FROM runs WHERE id = ?1", run), scen);
	assert_int_equal(q_int(db,
			       "SELECT finished_at IS NOT NULL AND started_at <= finished_at "
			       "AND length(host) > 0 FROM runs WHERE id = ?1",
			       run),
			 1);
	assert_int_equal(q_int(db, "SELECT count(*) FROM params WHERE run_id = ?1", run), 4);
	assert_q_text(db, "SELECT value FROM params WHERE run_id = ?1 AND key = 'schedule'", run, "1f1b");
	assert_q_text(db, "SELECT value FROM params WHERE run_id = ?1 AND key = 'note'", run,
		      "it's a \"quoted\", line\nnext");
	assert_int_equal(
	    q_int(db, "SELECT value_num IS NULL FROM params WHERE run_id = ?1 AND key = 'note'", run), 1);
	assert_true(q_num(db, "SELECT value_num FROM params WHERE run_id = ?1 AND key = 'lr'", run) == 0.1);
	assert_q_text(db, "SELECT value FROM params WHERE run_id = ?1 AND key = 'tp'", run, "8");
	assert_true(q_num(db, "SELECT value FROM metrics WHERE run_id = ?1 AND key = 'step_time_s'", run) ==
		    1.0 / 3.0);
	assert_true(q_num(db, "SELECT value FROM metrics WHERE run_id = ?1 AND key = 'mfu'", run) == 0.42);
	assert_int_equal(q_int(db, "SELECT count(*) FROM metrics WHERE run_id = ?1", run), 3);
	assert_true(q_num(db,
			  "SELECT value FROM breakdowns WHERE run_id = ?1 AND rank = 3 AND "
			  "component = 'time' AND key = 'bubble_s'",
			  run) == 0.25);
	assert_int_equal(q_int(db, "SELECT count(*) FROM traces WHERE run_id = ?1", run), 3);

	sqlite3_stmt *s;
	assert_int_equal(
	    sqlite3_prepare_v2(db,
			       "SELECT task_id, rank, stream, kind, phase, layer, microbatch, start_s,"
			       " end_s, flops, bytes, name FROM traces WHERE run_id = ?1 ORDER BY task_id",
			       -1, &s, NULL),
	    SQLITE_OK);
	sqlite3_bind_int64(s, 1, run);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		const struct ps_trace_event *e = &ev[i];
		assert_int_equal(sqlite3_column_int64(s, 0), e->task_id);
		assert_int_equal(sqlite3_column_int(s, 1), e->rank);
		assert_int_equal(sqlite3_column_int(s, 2), e->stream);
		assert_int_equal(sqlite3_column_int(s, 3), e->kind);
		assert_int_equal(sqlite3_column_int(s, 4), e->phase);
		assert_int_equal(sqlite3_column_int(s, 5), e->layer);
		assert_int_equal(sqlite3_column_int(s, 6), e->microbatch);
		assert_true(sqlite3_column_double(s, 7) == e->start_s);
		assert_true(sqlite3_column_double(s, 8) == e->end_s);
		assert_true(sqlite3_column_double(s, 9) == e->flops);
		assert_true(sqlite3_column_double(s, 10) == e->bytes);
		const char *name = (const char *)sqlite3_column_text(s, 11);
		assert_int_equal(strlen(name), strnlen(e->name, sizeof e->name));
		assert_memory_equal(name, e->name, strlen(name));
	}
	sqlite3_finalize(s);

	/* A run without a scenario; an unknown scenario is refused. */
	assert_int_equal(store_run_begin(st, 0, "analytic", 0, &other), PS_OK);
	assert_int_equal(q_int(db, "SELECT scenario_id IS NULL FROM runs WHERE id = ?1", other), 1);
	assert_int_equal(store_run_finish(st, other, "finished", NULL), PS_OK);
	assert_int_equal(store_run_begin(st, 9999, "simulate", 0, &other), PS_ERR_NOTFOUND);
	assert_int_equal(store_run_begin(st, scen, "", 0, &other), PS_ERR_INVALID);
	store_close(st);
	rm_db(path);
}

static void test_failed_and_abandoned_runs(void **state)
{
	(void)state;
	char path[64];
	tmp_db(path, sizeof path);
	struct ps_store *st;
	assert_int_equal(store_open(path, &st), PS_OK);
	int64_t run, run2;
	assert_int_equal(store_run_begin(st, 0, "execute", 7, &run), PS_OK);
	assert_int_equal(store_run_metric(st, run, "loss", 2.5), PS_OK);
	assert_int_equal(store_run_finish(st, run, "failed", "rank 3: out of memory"), PS_OK);
	sqlite3 *db = store_db(st);
	assert_q_text(db, "SELECT status FROM runs WHERE id = ?1", run, "failed");
	assert_q_text(db, "SELECT message FROM runs WHERE id = ?1", run, "rank 3: out of memory");
	assert_int_equal(q_int(db, "SELECT count(*) FROM metrics WHERE run_id = ?1", run), 1);

	/* A run finished without any rows. */
	assert_int_equal(store_run_begin(st, 0, "execute", 7, &run2), PS_OK);
	assert_int_equal(store_run_finish(st, run2, "finished", NULL), PS_OK);
	assert_q_text(db, "SELECT status FROM runs WHERE id = ?1", run2, "finished");

	/* Closing the handle with a run open: rolled back and marked failed. */
	assert_int_equal(store_run_begin(st, 0, "execute", 7, &run2), PS_OK);
	assert_int_equal(store_run_param(st, run2, "tp", "2"), PS_OK);
	assert_int_equal(store_run_metric(st, run2, "loss", 1.0), PS_OK);
	store_close(st);
	assert_int_equal(store_open(path, &st), PS_OK);
	db = store_db(st);
	assert_q_text(db, "SELECT status FROM runs WHERE id = ?1", run2, "failed");
	char *msg = q_text(db, "SELECT message FROM runs WHERE id = ?1", run2);
	assert_non_null(strstr(msg, "abandoned"));
	free(msg);
	assert_int_equal(q_int(db, "SELECT count(*) FROM params WHERE run_id = ?1", run2), 0);
	assert_int_equal(q_int(db, "SELECT count(*) FROM metrics WHERE run_id = ?1", run2), 0);
	store_close(st);
	rm_db(path);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_trace_many_rows(void **state)
{
	(void)state;
	enum { N = 100000 };
	char path[64];
	tmp_db(path, sizeof path);
	struct ps_store *st;
	assert_int_equal(store_open(path, &st), PS_OK);
	struct ps_trace_event *ev = malloc(N * sizeof *ev);
	assert_non_null(ev);
	for (uint32_t i = 0; i < N; i++)
		ev[i] = make_event(i);
	int64_t run;
	assert_int_equal(store_run_begin(st, 0, "simulate", 0, &run), PS_OK);
	double t0 = now_s();
	assert_int_equal(store_run_trace(st, run, ev, N), PS_OK);
	assert_int_equal(store_run_finish(st, run, "finished", NULL), PS_OK);
	double t1 = now_s();
	/* Informational only: timings are never asserted. */
	fprintf(stderr, "# store: %d trace rows inserted and committed in %.3f s\n", N, t1 - t0);
	sqlite3 *db = store_db(st);
	assert_int_equal(q_int(db, "SELECT count(*) FROM traces WHERE run_id = ?1", run), N);
	/* Sums over all rows match the events (exact: integers and exact halves). */
	assert_int_equal(q_int(db, "SELECT sum(task_id) FROM traces WHERE run_id = ?1", run),
			 (int64_t)N * (N - 1) / 2);
	assert_true(q_num(db, "SELECT sum(bytes) FROM traces WHERE run_id = ?1", run) ==
		    4096.0 * N * (N - 1) / 2 + 0.5 * N);
	assert_q_text(db, "SELECT name FROM traces WHERE run_id = ?1 AND task_id = 99999", run, "task_99999");
	free(ev);
	store_close(st);
	rm_db(path);
}

/* ---- devices and profiles ---- */

struct collect {
	int n;
	struct ps_kernel_sample k[4];
	struct ps_comm_sample c[4];
	int stop_after;
};

static int collect_kernel(const struct ps_kernel_sample *s, void *arg)
{
	struct collect *c = arg;
	if (c->n < 4)
		c->k[c->n] = *s;
	c->n++;
	return c->stop_after && c->n >= c->stop_after;
}

static int collect_comm(const struct ps_comm_sample *s, void *arg)
{
	struct collect *c = arg;
	if (c->n < 4)
		c->c[c->n] = *s;
	c->n++;
	return 0;
}

static void test_device_profiles(void **state)
{
	(void)state;
	char path[64];
	tmp_db(path, sizeof path);
	struct ps_store *st;
	assert_int_equal(store_open(path, &st), PS_OK);
	int64_t dev = -1, dev2 = -1, found = -1;
	char fp[64] = "unchanged";
	assert_int_equal(store_device_latest(st, &found, fp, sizeof fp), PS_ERR_NOTFOUND);
	assert_int_equal(store_device_find(st, "cpu:none", &found), PS_ERR_NOTFOUND);
	assert_int_equal(store_device_put(st, "cpu:x86:avx2:16", "{\"cores\":16}", &dev), PS_OK);
	assert_int_equal(store_device_put(st, "cpu:x86:avx2:16", "{\"cores\":16,\"v\":2}", &dev2), PS_OK);
	assert_int_equal(dev, dev2);
	assert_q_text(store_db(st), "SELECT description FROM devices WHERE id = ?1", dev,
		      "{\"cores\":16,\"v\":2}");
	assert_int_equal(store_device_find(st, "cpu:x86:avx2:16", &found), PS_OK);
	assert_int_equal(found, dev);
	assert_int_equal(store_device_put(st, "cuda:h100", NULL, &dev2), PS_OK);
	assert_int_not_equal(dev, dev2);

	struct ps_kernel_sample k;
	memset(&k, 0, sizeof k);
	snprintf(k.op, sizeof k.op, "matmul_fwd");
	snprintf(k.dtype, sizeof k.dtype, "fp32");
	k.M = 1024, k.N = 768, k.K = 3072, k.B = 4, k.T = 256, k.C = 768, k.NH = 12, k.KVH = 4, k.HS = 64;
	k.V = 50257, k.n = 12345, k.variant = 1;
	k.median_s = 1.25e-3, k.spread_s = 2e-5, k.reps = 9, k.flops = 2.0 * 1024 * 768 * 3072, k.bytes = 1e7;
	assert_int_equal(store_kernel_put(st, dev, &k), PS_OK);
	struct ps_kernel_sample k2 = k;
	snprintf(k2.op, sizeof k2.op, "gelu_fwd");
	k2.n = 99;
	k2.median_s = 0.0 / 0.0; /* NaN is stored as NULL and read back as NaN */
	assert_int_equal(store_kernel_put(st, dev, &k2), PS_OK);
	assert_int_equal(store_kernel_put(st, 424242, &k), PS_ERR_NOTFOUND);
	assert_int_equal(store_device_latest(st, &found, fp, sizeof fp), PS_OK);
	assert_int_equal(found, dev);
	assert_string_equal(fp, "cpu:x86:avx2:16");

	struct collect c = {0};
	assert_int_equal(store_kernel_each(st, dev, NULL, collect_kernel, &c), PS_OK);
	assert_int_equal(c.n, 2);
	assert_memory_equal(&c.k[0], &k, sizeof k); /* every field, including padding zeroed by memset */
	assert_string_equal(c.k[1].op, "gelu_fwd");
	assert_int_equal(c.k[1].n, 99);
	assert_true(c.k[1].median_s != c.k[1].median_s);
	memset(&c, 0, sizeof c);
	assert_int_equal(store_kernel_each(st, dev, "gelu_fwd", collect_kernel, &c), PS_OK);
	assert_int_equal(c.n, 1);
	memset(&c, 0, sizeof c);
	c.stop_after = 1;
	assert_int_equal(store_kernel_each(st, dev, NULL, collect_kernel, &c), PS_OK);
	assert_int_equal(c.n, 1);
	memset(&c, 0, sizeof c);
	assert_int_equal(store_kernel_each(st, dev2, NULL, collect_kernel, &c), PS_OK);
	assert_int_equal(c.n, 0);

	struct ps_comm_sample cs;
	memset(&cs, 0, sizeof cs);
	snprintf(cs.op, sizeof cs.op, "allreduce");
	cs.ranks = 4, cs.bytes = 1 << 20, cs.median_s = 3.5e-4, cs.spread_s = 1e-6, cs.reps = 20;
	assert_int_equal(store_comm_put(st, dev2, &cs), PS_OK);
	assert_int_equal(store_comm_put(st, 424242, &cs), PS_ERR_NOTFOUND);
	memset(&c, 0, sizeof c);
	assert_int_equal(store_comm_each(st, dev2, "allreduce", collect_comm, &c), PS_OK);
	assert_int_equal(c.n, 1);
	assert_memory_equal(&c.c[0], &cs, sizeof cs);
	memset(&c, 0, sizeof c);
	assert_int_equal(store_comm_each(st, dev2, "sendrecv", collect_comm, &c), PS_OK);
	assert_int_equal(c.n, 0);
	/* The collective sample is the newest: dev2 is the latest profiled device. */
	assert_int_equal(store_device_latest(st, &found, fp, sizeof fp), PS_OK);
	assert_int_equal(found, dev2);
	assert_string_equal(fp, "cuda:h100");
	store_close(st);
	rm_db(path);
}

/* ---- a writer killed mid-transaction ---- */

static void test_killed_writer(void **state)
{
	(void)state;
	char path[64];
	tmp_db(path, sizeof path);
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		alarm(60); /* never outlive a broken parent */
		struct ps_store *st;
		int64_t done, run;
		if (store_open(path, &st) || store_run_begin(st, 0, "simulate", 1, &done) ||
		    store_run_param(st, done, "tp", "8") || store_run_metric(st, done, "step_time_s", 1.5) ||
		    store_run_finish(st, done, "finished", NULL) ||
		    store_run_begin(st, 0, "simulate", 2, &run) || store_run_param(st, run, "tp", "4") ||
		    store_run_metric(st, run, "step_time_s", 2.5) ||
		    store_run_breakdown(st, run, 0, "memory", "weights_bytes", 1e9))
			_exit(10);
		struct ps_trace_event ev[1000];
		for (uint32_t i = 0; i < 1000; i++)
			ev[i] = make_event(i);
		/* Enough rows that pages spill into the WAL before the commit. */
		for (int b = 0; b < 50; b++)
			if (store_run_trace(st, run, ev, 1000))
				_exit(11);
		if (write(pfd[1], "k", 1) != 1)
			_exit(12);
		for (;;)
			if (store_run_trace(st, run, ev, 1000))
				_exit(13);
	}
	close(pfd[1]);
	char c = 0;
	assert_int_equal(read(pfd[0], &c, 1), 1);
	assert_int_equal(kill(pid, SIGKILL), 0);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(pfd[0]);

	/* The WAL holds uncommitted pages of the killed transaction. */
	char wal[80];
	snprintf(wal, sizeof wal, "%s-wal", path);
	struct stat sb;
	assert_int_equal(stat(wal, &sb), 0);
	assert_true(sb.st_size > 0);

	struct ps_store *st;
	assert_int_equal(store_open(path, &st), PS_OK);
	sqlite3 *db = store_db(st);
	assert_q_text(db, "PRAGMA integrity_check", 0, "ok");
	assert_int_equal(q_int(db, "SELECT count(*) FROM runs", 0), 2);
	/* The run written before the kill is intact. */
	assert_int_equal(q_int(db, "SELECT count(*) FROM runs WHERE status = 'finished'", 0), 1);
	int64_t done = q_int(db, "SELECT id FROM runs WHERE status = 'finished'", 0);
	assert_q_text(db, "SELECT value FROM params WHERE run_id = ?1 AND key = 'tp'", done, "8");
	assert_true(q_num(db, "SELECT value FROM metrics WHERE run_id = ?1", done) == 1.5);
	/* The killed run: still 'running', none of its rows. */
	int64_t killed = q_int(db, "SELECT id FROM runs WHERE id <> ?1", done);
	assert_q_text(db, "SELECT status FROM runs WHERE id = ?1", killed, "running");
	assert_int_equal(q_int(db, "SELECT count(*) FROM params WHERE run_id = ?1", killed), 0);
	assert_int_equal(q_int(db, "SELECT count(*) FROM metrics WHERE run_id = ?1", killed), 0);
	assert_int_equal(q_int(db, "SELECT count(*) FROM breakdowns WHERE run_id = ?1", killed), 0);
	assert_int_equal(q_int(db, "SELECT count(*) FROM traces", 0), 0);
	/* The file takes new runs. */
	int64_t run;
	assert_int_equal(store_run_begin(st, 0, "simulate", 3, &run), PS_OK);
	assert_int_equal(store_run_metric(st, run, "mfu", 0.5), PS_OK);
	assert_int_equal(store_run_finish(st, run, "finished", NULL), PS_OK);
	assert_q_text(db, "PRAGMA integrity_check", 0, "ok");
	store_close(st);
	rm_db(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_migrate_empty_file),	cmocka_unit_test(test_refuse_other_application),
	    cmocka_unit_test(test_refuse_newer_schema), cmocka_unit_test(test_refuse_not_sqlite),
	    cmocka_unit_test(test_refuse_bad_paths),	cmocka_unit_test(test_scenario_dedup),
	    cmocka_unit_test(test_run_round_trip),	cmocka_unit_test(test_failed_and_abandoned_runs),
	    cmocka_unit_test(test_trace_many_rows),	cmocka_unit_test(test_device_profiles),
	    cmocka_unit_test(test_killed_writer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
