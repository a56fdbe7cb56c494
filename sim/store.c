/* store.c — writing to and reading from the SQLite store: scenarios, the run
 * life cycle (params, metrics, breakdowns, traces), devices and their kernel
 * and collective profiles.
 *
 * Run life cycle (store.h): store_run_begin commits the 'running' row at
 * once.  The run's transaction is a BEGIN IMMEDIATE issued at the run's first
 * row (or at store_run_finish), so the file's write lock is held only while
 * the run's rows are written, never while the caller computes them.  All rows
 * of the run and the final status are in that one transaction; a process
 * killed before the commit leaves the run 'running' with no rows.
 *
 * Every statement is prepared once per handle and reused; all values are
 * bound parameters.  Opening and migrations are in store-schema.c, exports
 * in store-export.c. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store-int.h"

#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

static const char *const stmt_sql[ST_COUNT_] = {
    [ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SCEN_INSERT] = "INSERT OR IGNORE INTO scenarios(name, canonical, sha256, created) "
		       "VALUES(?1, ?2, ?3, " NOW ")",
    [ST_SCEN_FIND] = "SELECT id, canonical FROM scenarios WHERE sha256 = ?1",
    [ST_RUN_INSERT] = "INSERT INTO runs(scenario_id, backend, status, tool_version, host, pid, seed, "
		      "started_at) VALUES(?1, ?2, 'running', ?3, ?4, ?5, ?6, " NOW ")",
    [ST_RUN_FINISH] = "UPDATE runs SET status = ?2, message = ?3, finished_at = " NOW " WHERE id = ?1",
    [ST_PARAM] = "INSERT OR REPLACE INTO params(run_id, key, value, value_num) VALUES(?1, ?2, ?3, ?4)",
    [ST_METRIC] = "INSERT OR REPLACE INTO metrics(run_id, key, value) VALUES(?1, ?2, ?3)",
    [ST_BREAKDOWN] = "INSERT OR REPLACE INTO breakdowns(run_id, rank, component, key, value) "
		     "VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_TRACE] = "INSERT INTO traces(run_id, task_id, rank, stream, kind, phase, layer, microbatch, "
		 "start_s, end_s, flops, bytes, name) "
		 "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [ST_DEV_INSERT] = "INSERT OR IGNORE INTO devices(fingerprint, description, created) "
		      "VALUES(?1, ?2, " NOW ")",
    [ST_DEV_UPDATE] = "UPDATE devices SET description = ?2 WHERE fingerprint = ?1 "
		      "AND description IS NOT ?2",
    [ST_DEV_FIND] = "SELECT id FROM devices WHERE fingerprint = ?1",
    [ST_KERNEL] = "INSERT INTO kernel_profiles(device_id, op, dtype, M, N, K, B, T, C, NH, KVH, HS, "
		  "V, numel, variant, median_s, spread_s, reps, flops, bytes, created) "
		  "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
		  "?17, ?18, ?19, ?20, " NOW ")",
    [ST_COMM] = "INSERT INTO comm_profiles(device_id, op, ranks, bytes, median_s, spread_s, reps, "
		"created) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, " NOW ")",
};

sqlite3_stmt *store_stmt(struct ps_store *st, enum store_stmt which)
{
	sqlite3_stmt *s = st->stmt[which];
	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		return s;
	}
	if (sqlite3_prepare_v3(st->db, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) !=
	    SQLITE_OK) {
		store_err(st, "preparing a statement");
		return NULL;
	}
	st->stmt[which] = s;
	return s;
}

/* Step a cached write statement once; raise PS_ERR_DB naming `what`. */
static ps_status step_done(struct ps_store *st, sqlite3_stmt *s, const char *what)
{
	int rc = store_step(st, s);
	ps_status r = PS_OK;
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = store_err(st, what);
	sqlite3_reset(s);
	return r;
}

static int bad_text(const char *s)
{
	return !s || !*s;
}

/* Bind a double; SQLite has no NaN (it would bind NULL anyway). */
static void bind_num(sqlite3_stmt *s, int i, double v)
{
	if (v != v)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_double(s, i, v);
}

/* ---- scenarios ---- */

ps_status store_scenario_put(struct ps_store *st, const char *name, const char *canonical, const char *sha256,
			     int64_t *scenario_id)
{
	if (bad_text(name) || !canonical || !sha256)
		return PS_ERROR(PS_ERR_INVALID,
				"store_scenario_put: name, canonical text and sha256 required");
	char hash[65];
	size_t n = strlen(sha256);
	if (n != 64)
		return PS_ERROR(PS_ERR_INVALID, "scenario sha256 '%.80s' is not 64 hex digits", sha256);
	for (size_t i = 0; i < 64; i++) {
		if (!isxdigit((unsigned char)sha256[i]))
			return PS_ERROR(PS_ERR_INVALID, "scenario sha256 '%s' is not 64 hex digits", sha256);
		hash[i] = (char)tolower((unsigned char)sha256[i]);
	}
	hash[64] = '\0';
	sqlite3_stmt *s = store_stmt(st, ST_SCEN_INSERT);
	if (!s)
		return ps_error_code();
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, canonical, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, hash, 64, SQLITE_STATIC);
	ps_status r = step_done(st, s, "storing a scenario");
	if (r)
		return r;
	if (!(s = store_stmt(st, ST_SCEN_FIND)))
		return ps_error_code();
	sqlite3_bind_text(s, 1, hash, 64, SQLITE_STATIC);
	int rc = store_step(st, s);
	if (rc == SQLITE_ROW) {
		const char *have = (const char *)sqlite3_column_text(s, 1);
		if (!have || strcmp(have, canonical) != 0)
			r = PS_ERROR(
			    PS_ERR_INVALID,
			    "%s: scenario sha256 %s is already stored with a different canonical text",
			    st->path, hash);
		else if (scenario_id)
			*scenario_id = sqlite3_column_int64(s, 0);
	} else if (rc == SQLITE_DONE) {
		r = PS_ERROR(PS_ERR_INTERNAL, "%s: scenario %s vanished after insert", st->path, hash);
	} else {
		r = store_err(st, "finding a scenario");
	}
	sqlite3_reset(s);
	return r;
}

/* ---- the run life cycle ---- */

ps_status store_run_begin(struct ps_store *st, int64_t scenario_id, const char *backend, uint64_t seed,
			  int64_t *run_id)
{
	if (st->run_state != RUN_NONE)
		return PS_ERROR(PS_ERR_INVALID,
				"%s: run %lld is still open; finish it before beginning another", st->path,
				(long long)st->run_id);
	if (bad_text(backend))
		return PS_ERROR(PS_ERR_INVALID, "store_run_begin: backend name required");
	char host[256] = "";
	if (gethostname(host, sizeof host) != 0)
		host[0] = '\0';
	host[sizeof host - 1] = '\0';
	sqlite3_stmt *s = store_stmt(st, ST_RUN_INSERT);
	if (!s)
		return ps_error_code();
	if (scenario_id > 0)
		sqlite3_bind_int64(s, 1, scenario_id);
	else
		sqlite3_bind_null(s, 1);
	sqlite3_bind_text(s, 2, backend, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, PACKAGE_VERSION, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (int64_t)getpid());
	sqlite3_bind_int64(s, 6, (int64_t)seed); /* seeds above 2^63 read back negative */
	int rc = store_step(st, s);
	ps_status r = PS_OK;
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		r = PS_ERROR(PS_ERR_NOTFOUND, "%s: scenario %lld is not in the store", st->path,
			     (long long)scenario_id);
	else if (rc != SQLITE_DONE)
		r = store_err(st, "beginning a run");
	sqlite3_reset(s);
	if (r)
		return r;
	st->run_id = sqlite3_last_insert_rowid(st->db);
	st->run_state = RUN_PENDING;
	if (run_id)
		*run_id = st->run_id;
	return PS_OK;
}

/* Make sure run_id's transaction is open before writing one of its rows. */
static ps_status run_txn(struct ps_store *st, int64_t run_id)
{
	if (st->run_state == RUN_NONE || run_id != st->run_id)
		return PS_ERROR(PS_ERR_INVALID, "%s: run %lld is not the open run of this store handle",
				st->path, (long long)run_id);
	if (st->run_state == RUN_PENDING) {
		ps_status r = store_run_stmt(st, ST_BEGIN_IMMEDIATE, "beginning the run's transaction");
		if (r)
			return r;
		st->run_state = RUN_OPEN;
		return PS_OK;
	}
	if (st->run_state == RUN_OPEN && sqlite3_get_autocommit(st->db))
		st->run_state = RUN_BROKEN; /* SQLite rolled back after an error */
	if (st->run_state == RUN_BROKEN)
		return PS_ERROR(PS_ERR_DB,
				"%s: run %lld lost its rows when an earlier error rolled its "
				"transaction back; finish it as failed",
				st->path, (long long)run_id);
	return PS_OK;
}

/* After a failed row insert, note whether SQLite rolled the transaction back. */
static ps_status row_failed(struct ps_store *st, const char *what)
{
	ps_status r = store_err(st, what);
	if (st->run_state == RUN_OPEN && sqlite3_get_autocommit(st->db))
		st->run_state = RUN_BROKEN;
	return r;
}

static ps_status row_step(struct ps_store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	ps_status r = rc == SQLITE_DONE ? PS_OK : row_failed(st, what);
	sqlite3_reset(s);
	return r;
}

static ps_status param_put(struct ps_store *st, int64_t run_id, const char *key, const char *text,
			   const double *num)
{
	if (bad_text(key))
		return PS_ERROR(PS_ERR_INVALID, "run param: empty key");
	if (!text)
		return PS_ERROR(PS_ERR_INVALID, "run param %s: no value", key);
	ps_status r = run_txn(st, run_id);
	if (r)
		return r;
	sqlite3_stmt *s = store_stmt(st, ST_PARAM);
	if (!s)
		return ps_error_code();
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, text, -1, SQLITE_STATIC);
	if (num)
		bind_num(s, 4, *num);
	return row_step(st, s, "storing a param");
}

ps_status store_run_param(struct ps_store *st, int64_t run_id, const char *key, const char *value)
{
	return param_put(st, run_id, key, value, NULL);
}

ps_status store_run_param_num(struct ps_store *st, int64_t run_id, const char *key, double value)
{
	char text[40];
	store_fmt_double(text, sizeof text, value);
	return param_put(st, run_id, key, text, &value);
}

ps_status store_run_metric(struct ps_store *st, int64_t run_id, const char *key, double value)
{
	if (bad_text(key))
		return PS_ERROR(PS_ERR_INVALID, "run metric: empty key");
	ps_status r = run_txn(st, run_id);
	if (r)
		return r;
	sqlite3_stmt *s = store_stmt(st, ST_METRIC);
	if (!s)
		return ps_error_code();
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	bind_num(s, 3, value);
	return row_step(st, s, "storing a metric");
}

ps_status store_run_breakdown(struct ps_store *st, int64_t run_id, int rank, const char *component,
			      const char *key, double value)
{
	if (bad_text(component) || bad_text(key))
		return PS_ERROR(PS_ERR_INVALID, "run breakdown: empty component or key");
	ps_status r = run_txn(st, run_id);
	if (r)
		return r;
	sqlite3_stmt *s = store_stmt(st, ST_BREAKDOWN);
	if (!s)
		return ps_error_code();
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_int(s, 2, rank);
	sqlite3_bind_text(s, 3, component, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, key, -1, SQLITE_STATIC);
	bind_num(s, 5, value);
	return row_step(st, s, "storing a breakdown");
}

ps_status store_run_trace(struct ps_store *st, int64_t run_id, const struct ps_trace_event *ev, size_t n)
{
	if (n && !ev)
		return PS_ERROR(PS_ERR_INVALID, "run trace: no events");
	ps_status r = run_txn(st, run_id);
	if (r)
		return r;
	sqlite3_stmt *s = store_stmt(st, ST_TRACE);
	if (!s)
		return ps_error_code();
	sqlite3_bind_int64(s, 1, run_id);
	for (size_t i = 0; i < n; i++) {
		const struct ps_trace_event *e = &ev[i];
		sqlite3_bind_int64(s, 2, e->task_id);
		sqlite3_bind_int(s, 3, e->rank);
		sqlite3_bind_int(s, 4, e->stream);
		sqlite3_bind_int(s, 5, e->kind);
		sqlite3_bind_int(s, 6, e->phase);
		sqlite3_bind_int(s, 7, e->layer);
		sqlite3_bind_int(s, 8, e->microbatch);
		bind_num(s, 9, e->start_s);
		bind_num(s, 10, e->end_s);
		bind_num(s, 11, e->flops);
		bind_num(s, 12, e->bytes);
		/* name may fill its array without a terminator */
		sqlite3_bind_text(s, 13, e->name, (int)strnlen(e->name, sizeof e->name), SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE) {
			r = row_failed(st, "storing trace events");
			sqlite3_reset(s);
			return r;
		}
		sqlite3_reset(s); /* bindings stay: run_id is bound once */
	}
	return PS_OK;
}

/* Mark a run failed outside any transaction (its rows are gone). */
static ps_status run_mark_failed(struct ps_store *st, int64_t run_id, const char *message)
{
	sqlite3_stmt *s = store_stmt(st, ST_RUN_FINISH);
	if (!s)
		return ps_error_code();
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_text(s, 2, "failed", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, message, -1, SQLITE_TRANSIENT);
	return step_done(st, s, "marking a run failed");
}

static void rollback(struct ps_store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		store_run_stmt(st, ST_ROLLBACK, "rolling back");
}

ps_status store_run_finish(struct ps_store *st, int64_t run_id, const char *status, const char *message)
{
	if (!status || (strcmp(status, "finished") != 0 && strcmp(status, "failed") != 0))
		return PS_ERROR(PS_ERR_INVALID, "run status '%s': expected finished or failed",
				status ? status : "(null)");
	if (st->run_state == RUN_NONE || run_id != st->run_id)
		return PS_ERROR(PS_ERR_INVALID, "%s: run %lld is not the open run of this store handle",
				st->path, (long long)run_id);
	ps_status r = run_txn(st, run_id);
	if (r == PS_ERR_DB && st->run_state == RUN_BROKEN) {
		/* Its rows are lost: it can only be a failed run now. */
		char msg[1200];
		snprintf(msg, sizeof msg, "rows lost when the run's transaction was rolled back%s%s",
			 message ? ": " : "", message ? message : "");
		st->run_state = RUN_NONE;
		st->run_id = -1;
		if (strcmp(status, "failed") == 0)
			return run_mark_failed(st, run_id, message ? message : msg);
		ps_status r2 = run_mark_failed(st, run_id, msg);
		(void)r2;
		return PS_ERROR(PS_ERR_DB,
				"%s: run %lld cannot be finished: an earlier error rolled back "
				"its rows; marked failed",
				st->path, (long long)run_id);
	}
	if (r)
		goto fail;
	sqlite3_stmt *s = store_stmt(st, ST_RUN_FINISH);
	if (!s) {
		r = ps_error_code();
		goto fail;
	}
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_text(s, 2, status, -1, SQLITE_STATIC);
	if (message)
		sqlite3_bind_text(s, 3, message, -1, SQLITE_STATIC);
	if ((r = row_step(st, s, "finishing a run")))
		goto fail;
	if (sqlite3_changes(st->db) != 1) {
		r = PS_ERROR(PS_ERR_NOTFOUND, "%s: run %lld is not in the store", st->path,
			     (long long)run_id);
		goto fail;
	}
	if ((r = store_run_stmt(st, ST_COMMIT, "committing a run")))
		goto fail;
	st->run_state = RUN_NONE;
	st->run_id = -1;
	return PS_OK;
fail:;
	/* Keep the error of the failure, mark the run failed without its rows. */
	char msg[1200];
	snprintf(msg, sizeof msg, "could not commit the run: %s", ps_error_message());
	rollback(st);
	st->run_state = RUN_NONE;
	st->run_id = -1;
	char keep[1024];
	snprintf(keep, sizeof keep, "%s", ps_error_message());
	run_mark_failed(st, run_id, msg);
	return PS_ERROR(r, "%s", keep);
}

void store_run_abandon(struct ps_store *st)
{
	int64_t run_id = st->run_id;
	rollback(st);
	st->run_state = RUN_NONE;
	st->run_id = -1;
	run_mark_failed(st, run_id, "abandoned: the store was closed before the run finished");
}

/* ---- devices and profiles ---- */

ps_status store_device_put(struct ps_store *st, const char *fingerprint, const char *description_json,
			   int64_t *device_id)
{
	if (bad_text(fingerprint))
		return PS_ERROR(PS_ERR_INVALID, "store_device_put: empty device fingerprint");
	sqlite3_stmt *s = store_stmt(st, ST_DEV_INSERT);
	if (!s)
		return ps_error_code();
	sqlite3_bind_text(s, 1, fingerprint, -1, SQLITE_STATIC);
	if (description_json)
		sqlite3_bind_text(s, 2, description_json, -1, SQLITE_STATIC);
	ps_status r = step_done(st, s, "storing a device");
	if (r)
		return r;
	if (description_json && sqlite3_changes(st->db) == 0) {
		if (!(s = store_stmt(st, ST_DEV_UPDATE)))
			return ps_error_code();
		sqlite3_bind_text(s, 1, fingerprint, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, description_json, -1, SQLITE_STATIC);
		if ((r = step_done(st, s, "updating a device")))
			return r;
	}
	return store_device_find(st, fingerprint, device_id);
}

ps_status store_device_find(struct ps_store *st, const char *fingerprint, int64_t *device_id)
{
	if (bad_text(fingerprint))
		return PS_ERROR(PS_ERR_INVALID, "store_device_find: empty device fingerprint");
	sqlite3_stmt *s = store_stmt(st, ST_DEV_FIND);
	if (!s)
		return ps_error_code();
	sqlite3_bind_text(s, 1, fingerprint, -1, SQLITE_STATIC);
	int rc = store_step(st, s);
	ps_status r = PS_OK;
	if (rc == SQLITE_ROW) {
		if (device_id)
			*device_id = sqlite3_column_int64(s, 0);
	} else if (rc == SQLITE_DONE) {
		r = PS_ERROR(PS_ERR_NOTFOUND, "%s: no profile of device '%s'", st->path, fingerprint);
	} else {
		r = store_err(st, "finding a device");
	}
	sqlite3_reset(s);
	return r;
}

ps_status store_device_latest(struct ps_store *st, int64_t *device_id, char *fingerprint, size_t fpsize)
{
	/* The device whose newest kernel or collective sample is the newest. */
	static const char sql[] =
	    "SELECT d.id, d.fingerprint FROM devices d JOIN ("
	    " SELECT device_id, created FROM kernel_profiles"
	    " UNION ALL SELECT device_id, created FROM comm_profiles) p ON p.device_id = d.id"
	    " ORDER BY p.created DESC, d.id DESC LIMIT 1";
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_err(st, "finding the latest device");
	int rc = store_step(st, s);
	ps_status r = PS_OK;
	if (rc == SQLITE_ROW) {
		if (device_id)
			*device_id = sqlite3_column_int64(s, 0);
		if (fingerprint && fpsize) {
			const char *fp = (const char *)sqlite3_column_text(s, 1);
			snprintf(fingerprint, fpsize, "%s", fp ? fp : "");
		}
	} else if (rc == SQLITE_DONE) {
		r = PS_ERROR(PS_ERR_NOTFOUND, "%s: no device has been profiled (run `parasim profile`)",
			     st->path);
	} else {
		r = store_err(st, "finding the latest device");
	}
	sqlite3_finalize(s);
	return r;
}

ps_status store_kernel_put(struct ps_store *st, int64_t device_id, const struct ps_kernel_sample *k)
{
	size_t oplen = strnlen(k->op, sizeof k->op), dtlen = strnlen(k->dtype, sizeof k->dtype);
	if (!oplen || !dtlen)
		return PS_ERROR(PS_ERR_INVALID, "kernel sample: empty op or dtype");
	sqlite3_stmt *s = store_stmt(st, ST_KERNEL);
	if (!s)
		return ps_error_code();
	sqlite3_bind_int64(s, 1, device_id);
	sqlite3_bind_text(s, 2, k->op, (int)oplen, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, k->dtype, (int)dtlen, SQLITE_STATIC);
	const int64_t dims[] = {k->M, k->N, k->K, k->B, k->T, k->C, k->NH, k->KVH, k->HS, k->V, k->n};
	for (int i = 0; i < 11; i++)
		sqlite3_bind_int64(s, 4 + i, dims[i]);
	sqlite3_bind_int(s, 15, k->variant);
	bind_num(s, 16, k->median_s);
	bind_num(s, 17, k->spread_s);
	sqlite3_bind_int(s, 18, k->reps);
	bind_num(s, 19, k->flops);
	bind_num(s, 20, k->bytes);
	int rc = store_step(st, s);
	ps_status r = PS_OK;
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		r = PS_ERROR(PS_ERR_NOTFOUND, "%s: device %lld is not in the store", st->path,
			     (long long)device_id);
	else if (rc != SQLITE_DONE)
		r = store_err(st, "storing a kernel sample");
	sqlite3_reset(s);
	return r;
}

static double col_num(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL ? 0.0 / 0.0 : sqlite3_column_double(s, i);
}

ps_status store_kernel_each(struct ps_store *st, int64_t device_id, const char *op,
			    int (*cb)(const struct ps_kernel_sample *s, void *arg), void *arg)
{
	static const char sql[] =
	    "SELECT op, dtype, M, N, K, B, T, C, NH, KVH, HS, V, numel, variant, median_s, spread_s,"
	    " reps, flops, bytes FROM kernel_profiles WHERE device_id = ?1 AND (?2 IS NULL OR op = ?2)"
	    " ORDER BY id";
	/* A fresh statement: the callback may call back into the store. */
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_err(st, "reading kernel samples");
	sqlite3_bind_int64(s, 1, device_id);
	if (op)
		sqlite3_bind_text(s, 2, op, -1, SQLITE_STATIC);
	int rc, first = 1;
	/* Retry busy only before the first row: a reset would restart the scan. */
	while ((rc = first ? store_step(st, s) : sqlite3_step(s)) == SQLITE_ROW) {
		first = 0;
		struct ps_kernel_sample k;
		memset(&k, 0, sizeof k);
		snprintf(k.op, sizeof k.op, "%s", (const char *)sqlite3_column_text(s, 0));
		snprintf(k.dtype, sizeof k.dtype, "%s", (const char *)sqlite3_column_text(s, 1));
		int64_t *dims[] = {&k.M, &k.N, &k.K, &k.B, &k.T, &k.C, &k.NH, &k.KVH, &k.HS, &k.V, &k.n};
		for (int i = 0; i < 11; i++)
			*dims[i] = sqlite3_column_int64(s, 2 + i);
		k.variant = sqlite3_column_int(s, 13);
		k.median_s = col_num(s, 14);
		k.spread_s = col_num(s, 15);
		k.reps = sqlite3_column_int(s, 16);
		k.flops = col_num(s, 17);
		k.bytes = col_num(s, 18);
		if (cb(&k, arg)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	ps_status r = rc == SQLITE_DONE ? PS_OK : store_err(st, "reading kernel samples");
	sqlite3_finalize(s);
	return r;
}

ps_status store_comm_put(struct ps_store *st, int64_t device_id, const struct ps_comm_sample *c)
{
	size_t oplen = strnlen(c->op, sizeof c->op);
	if (!oplen)
		return PS_ERROR(PS_ERR_INVALID, "collective sample: empty op");
	sqlite3_stmt *s = store_stmt(st, ST_COMM);
	if (!s)
		return ps_error_code();
	sqlite3_bind_int64(s, 1, device_id);
	sqlite3_bind_text(s, 2, c->op, (int)oplen, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, c->ranks);
	bind_num(s, 4, c->bytes);
	bind_num(s, 5, c->median_s);
	bind_num(s, 6, c->spread_s);
	sqlite3_bind_int(s, 7, c->reps);
	int rc = store_step(st, s);
	ps_status r = PS_OK;
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		r = PS_ERROR(PS_ERR_NOTFOUND, "%s: device %lld is not in the store", st->path,
			     (long long)device_id);
	else if (rc != SQLITE_DONE)
		r = store_err(st, "storing a collective sample");
	sqlite3_reset(s);
	return r;
}

ps_status store_comm_each(struct ps_store *st, int64_t device_id, const char *op,
			  int (*cb)(const struct ps_comm_sample *s, void *arg), void *arg)
{
	static const char sql[] = "SELECT op, ranks, bytes, median_s, spread_s, reps FROM comm_profiles"
				  " WHERE device_id = ?1 AND (?2 IS NULL OR op = ?2) ORDER BY id";
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_err(st, "reading collective samples");
	sqlite3_bind_int64(s, 1, device_id);
	if (op)
		sqlite3_bind_text(s, 2, op, -1, SQLITE_STATIC);
	int rc, first = 1;
	/* Retry busy only before the first row: a reset would restart the scan. */
	while ((rc = first ? store_step(st, s) : sqlite3_step(s)) == SQLITE_ROW) {
		first = 0;
		struct ps_comm_sample c;
		memset(&c, 0, sizeof c);
		snprintf(c.op, sizeof c.op, "%s", (const char *)sqlite3_column_text(s, 0));
		c.ranks = sqlite3_column_int(s, 1);
		c.bytes = col_num(s, 2);
		c.median_s = col_num(s, 3);
		c.spread_s = col_num(s, 4);
		c.reps = sqlite3_column_int(s, 5);
		if (cb(&c, arg)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	ps_status r = rc == SQLITE_DONE ? PS_OK : store_err(st, "reading collective samples");
	sqlite3_finalize(s);
	return r;
}
