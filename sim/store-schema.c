/* store-schema.c — opening the SQLite store: file checks, pragmas (WAL,
 * foreign keys, busy timeout), the schema and its migrations, and the
 * helpers every store file shares (errors, busy retries, number format).
 *
 * Migrations are a table of SQL steps; store_open runs the missing ones in
 * one BEGIN IMMEDIATE transaction, so two processes opening a fresh file at
 * once migrate it exactly once.  A file of another program (other
 * application_id, or an SQLite file with tables but no id) and a file from a
 * newer parasim (higher user_version) are refused untouched.
 *
 * It does not read or write runs or profiles (store.c) nor export (store-export.c). */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store-int.h"

/* Timestamps are ISO 8601 UTC with milliseconds, written by SQLite. */
#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

/* Schema migrations: step i takes user_version i to i+1.  Never edit a
 * released step; append a new one.  SQLite identifiers ignore case, so the
 * element count ps_shape.n is the column `numel` (N is the matmul dim). */
static const char *const migrations[] = {
    /* 0 -> 1: the initial schema (DESIGN section 7). */
    "CREATE TABLE scenarios ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " canonical TEXT NOT NULL,"
    " sha256 TEXT NOT NULL UNIQUE,"
    " created TEXT NOT NULL);"
    "CREATE TABLE runs ("
    " id INTEGER PRIMARY KEY,"
    " scenario_id INTEGER REFERENCES scenarios(id),"
    " backend TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('running','finished','failed')),"
    " message TEXT,"
    " tool_version TEXT NOT NULL,"
    " host TEXT,"
    " pid INTEGER,"
    " seed INTEGER,"
    " started_at TEXT NOT NULL,"
    " finished_at TEXT);"
    "CREATE INDEX runs_scenario ON runs(scenario_id);"
    "CREATE INDEX runs_status ON runs(status);"
    "CREATE TABLE params ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " key TEXT NOT NULL,"
    " value TEXT,"
    " value_num REAL,"
    " PRIMARY KEY (run_id, key));"
    "CREATE INDEX params_key ON params(key);"
    "CREATE TABLE metrics ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " key TEXT NOT NULL,"
    " value REAL,"
    " PRIMARY KEY (run_id, key));"
    "CREATE INDEX metrics_key ON metrics(key);"
    "CREATE TABLE breakdowns ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " rank INTEGER NOT NULL,"
    " component TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " value REAL,"
    " PRIMARY KEY (run_id, rank, component, key));"
    "CREATE TABLE traces ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " task_id INTEGER NOT NULL,"
    " rank INTEGER NOT NULL,"
    " stream INTEGER NOT NULL,"
    " kind INTEGER NOT NULL,"
    " phase INTEGER NOT NULL,"
    " layer INTEGER NOT NULL,"
    " microbatch INTEGER NOT NULL,"
    " start_s REAL NOT NULL,"
    " end_s REAL NOT NULL,"
    " flops REAL,"
    " bytes REAL,"
    " name TEXT NOT NULL);"
    "CREATE INDEX traces_run_task ON traces(run_id, task_id);"
    "CREATE TABLE devices ("
    " id INTEGER PRIMARY KEY,"
    " fingerprint TEXT NOT NULL UNIQUE,"
    " description TEXT,"
    " created TEXT NOT NULL);"
    "CREATE TABLE kernel_profiles ("
    " id INTEGER PRIMARY KEY,"
    " device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    " op TEXT NOT NULL,"
    " dtype TEXT NOT NULL,"
    " M INTEGER NOT NULL, N INTEGER NOT NULL, K INTEGER NOT NULL,"
    " B INTEGER NOT NULL, T INTEGER NOT NULL, C INTEGER NOT NULL,"
    " NH INTEGER NOT NULL, KVH INTEGER NOT NULL, HS INTEGER NOT NULL,"
    " V INTEGER NOT NULL, numel INTEGER NOT NULL, variant INTEGER NOT NULL,"
    " median_s REAL, spread_s REAL, reps INTEGER,"
    " flops REAL, bytes REAL,"
    " created TEXT NOT NULL);"
    "CREATE INDEX kernel_profiles_device_op ON kernel_profiles(device_id, op);"
    "CREATE TABLE comm_profiles ("
    " id INTEGER PRIMARY KEY,"
    " device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    " op TEXT NOT NULL,"
    " ranks INTEGER NOT NULL,"
    " bytes REAL NOT NULL,"
    " median_s REAL, spread_s REAL, reps INTEGER,"
    " created TEXT NOT NULL);"
    "CREATE INDEX comm_profiles_device_op ON comm_profiles(device_id, op);"
    "CREATE TABLE validations ("
    " id INTEGER PRIMARY KEY,"
    " sim_run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " exec_run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " task_id INTEGER,"
    " predicted_s REAL,"
    " measured_s REAL,"
    " rel_error REAL);"
    "CREATE INDEX validations_sim ON validations(sim_run_id);"
    "CREATE INDEX validations_exec ON validations(exec_run_id);",
};

#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int store_schema_current(void)
{
	return NMIGRATIONS;
}

ps_status store_err(struct ps_store *st, const char *what)
{
	int rc = sqlite3_extended_errcode(st->db);
	const char *msg = sqlite3_errmsg(st->db);
	if ((rc & 0xff) == SQLITE_NOTADB)
		return PS_ERROR(PS_ERR_DB, "%s: not an SQLite database (%s)", st->path, msg);
	if ((rc & 0xff) == SQLITE_CANTOPEN) {
		int e = sqlite3_system_errno(st->db);
		if (e)
			return PS_ERROR(PS_ERR_DB, "%s: %s: %s (%s)", st->path, what, msg, strerror(e));
	}
	return PS_ERROR(PS_ERR_DB, "%s: %s: %s", st->path, what, msg);
}

static int is_busy(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int store_step(struct ps_store *st, sqlite3_stmt *s)
{
	(void)st;
	int waited_ms = 0, delay_ms = 1;
	for (;;) {
		int rc = sqlite3_step(s);
		if (!is_busy(rc) || waited_ms >= PS_STORE_RETRY_MS)
			return rc;
		sqlite3_reset(s);
		sleep_ms(delay_ms);
		waited_ms += delay_ms;
		delay_ms = delay_ms < 32 ? 2 * delay_ms : 50;
	}
}

ps_status store_run_stmt(struct ps_store *st, enum store_stmt which, const char *what)
{
	sqlite3_stmt *s = store_stmt(st, which);
	if (!s)
		return ps_error_code();
	int rc = store_step(st, s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		ps_status r = store_err(st, what);
		sqlite3_reset(s);
		return r;
	}
	sqlite3_reset(s);
	return PS_OK;
}

/* Run an SQL statement that yields at most one integer (a pragma). */
static ps_status exec_int(struct ps_store *st, const char *sql, const char *what, int64_t *out)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_err(st, what);
	int rc = store_step(st, s);
	if (rc == SQLITE_ROW && out)
		*out = sqlite3_column_int64(s, 0);
	ps_status r = PS_OK;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = store_err(st, what);
	sqlite3_finalize(s);
	return r;
}

/* Is the file parasim's (or empty)?  Reads application_id, user_version
 * and the number of schema objects; refuses foreign and newer files. */
static ps_status check_identity(struct ps_store *st, int64_t *version)
{
	int64_t app = 0, ver = 0, objects = 0;
	ps_status r;
	if ((r = exec_int(st, "PRAGMA application_id", "reading application_id", &app)) ||
	    (r = exec_int(st, "PRAGMA user_version", "reading user_version", &ver)) ||
	    (r = exec_int(st, "SELECT count(*) FROM sqlite_master", "reading the schema", &objects)))
		return r;
	if (app != PS_STORE_APPLICATION_ID && app != 0)
		return PS_ERROR(
		    PS_ERR_DB, "%s: not a parasim database (application_id 0x%08llx, expected 0x%08x)",
		    st->path, (unsigned long long)(uint32_t)app, (unsigned)PS_STORE_APPLICATION_ID);
	if (app == 0 && objects > 0)
		return PS_ERROR(PS_ERR_DB,
				"%s: not a parasim database (an SQLite file of another program: "
				"%lld schema objects and no parasim application_id)",
				st->path, (long long)objects);
	if (ver > NMIGRATIONS)
		return PS_ERROR(PS_ERR_DB,
				"%s: schema version %lld is newer than this parasim (%s) knows (%d); "
				"use a newer parasim",
				st->path, (long long)ver, PACKAGE_VERSION, NMIGRATIONS);
	if (ver < 0)
		return PS_ERROR(PS_ERR_DB, "%s: invalid schema version %lld", st->path, (long long)ver);
	*version = ver;
	return PS_OK;
}

static ps_status migrate(struct ps_store *st)
{
	ps_status r = store_run_stmt(st, ST_BEGIN_IMMEDIATE, "beginning the migration");
	if (r)
		return r;
	int64_t ver = 0;
	/* Another process may have migrated between our check and our lock. */
	if ((r = check_identity(st, &ver)))
		goto fail;
	for (int v = (int)ver; v < NMIGRATIONS; v++) {
		char what[64];
		snprintf(what, sizeof what, "migrating schema %d to %d", v, v + 1);
		if (sqlite3_exec(st->db, migrations[v], NULL, NULL, NULL) != SQLITE_OK) {
			r = store_err(st, what);
			goto fail;
		}
	}
	if (ver < NMIGRATIONS) {
		char sql[96];
		/* Integers from this file, not user values: formatting them is safe. */
		snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d",
			 (int)PS_STORE_APPLICATION_ID, NMIGRATIONS);
		if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			r = store_err(st, "setting the schema version");
			goto fail;
		}
	}
	if ((r = store_run_stmt(st, ST_COMMIT, "committing the migration")))
		goto fail;
	return PS_OK;
fail:
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

ps_status store_schema_open(struct ps_store *st)
{
	int64_t ver = 0;
	/* One read transaction: the three reads see one snapshot even while
	 * another process migrates the file. */
	if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return store_err(st, "reading the file");
	ps_status r = check_identity(st, &ver);
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	if (r)
		return r;
	/* WAL: readers never block the writer; one writer at a time. */
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s, NULL) != SQLITE_OK)
		return store_err(st, "setting WAL mode");
	int rc = store_step(st, s);
	if (rc != SQLITE_ROW) {
		r = store_err(st, "setting WAL mode");
		sqlite3_finalize(s);
		return r;
	}
	const char *mode = (const char *)sqlite3_column_text(s, 0);
	int wal = mode && strcmp(mode, "wal") == 0;
	int memory = mode && strcmp(mode, "memory") == 0;
	char got[32];
	snprintf(got, sizeof got, "%s", mode ? mode : "?");
	sqlite3_finalize(s);
	if (!wal && !memory)
		return PS_ERROR(PS_ERR_DB,
				"%s: cannot use WAL mode (journal mode stays '%s'); "
				"is the file on a file system without shared memory?",
				st->path, got);
	if (sqlite3_exec(st->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return store_err(st, "setting pragmas");
	if (ver < NMIGRATIONS && (r = migrate(st)))
		return r;
	st->version = NMIGRATIONS;
	return PS_OK;
}

ps_status store_open(const char *path, struct ps_store **out)
{
	*out = NULL;
	if (!path)
		path = PS_STORE_DEFAULT;
	if (!*path)
		return PS_ERROR(PS_ERR_INVALID, "empty database path");
	struct stat sb;
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return PS_ERROR(PS_ERR_IO, "%s: is a directory, not a database file", path);
	struct ps_store *st = calloc(1, sizeof *st);
	if (!st || !(st->path = strdup(path))) {
		free(st);
		return PS_ERROR(PS_ERR_NOMEM, "out of memory opening %s", path);
	}
	st->run_id = -1;
	int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	ps_status r = PS_OK;
	if (rc != SQLITE_OK) {
		if (st->db)
			r = store_err(st, "cannot open");
		else
			r = PS_ERROR(PS_ERR_NOMEM, "%s: out of memory opening the database", path);
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, PS_STORE_BUSY_MS);
	if ((r = store_schema_open(st)))
		goto fail;
	*out = st;
	return PS_OK;
fail:
	store_close(st);
	return r;
}

void store_close(struct ps_store *st)
{
	if (!st)
		return;
	if (st->db && st->run_state != RUN_NONE)
		store_run_abandon(st);
	for (int i = 0; i < ST_COUNT_; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
	free(st->path);
	free(st);
}

struct sqlite3 *store_db(struct ps_store *st)
{
	return st->db;
}

int store_schema_version(struct ps_store *st)
{
	return st->version;
}

/* One C locale for number formatting, made once per process. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_make(void)
{
	c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

void store_fmt_double(char *buf, size_t size, double v)
{
	pthread_once(&c_locale_once, c_locale_make);
	locale_t old = c_locale ? uselocale(c_locale) : (locale_t)0;
	snprintf(buf, size, "%.17g", v);
	if (c_locale)
		uselocale(old);
}
