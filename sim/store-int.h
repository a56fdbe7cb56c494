/* store-int.h — private to sim/store*.c: the store handle and the helpers the
 * store's files share (statement cache, busy retries, error reporting,
 * locale-independent number formatting).
 *
 * Not a public interface: everything outside the store goes through store.h. */
#ifndef PS_STORE_INT_H
#define PS_STORE_INT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "store.h"

/* Cached prepared statements, one of each per store handle (SQL in store.c). */
enum store_stmt {
	ST_BEGIN_IMMEDIATE = 0,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SCEN_INSERT,
	ST_SCEN_FIND,
	ST_RUN_INSERT,
	ST_RUN_FINISH,
	ST_PARAM,
	ST_METRIC,
	ST_BREAKDOWN,
	ST_TRACE,
	ST_DEV_INSERT,
	ST_DEV_UPDATE,
	ST_DEV_FIND,
	ST_KERNEL,
	ST_COMM,
	ST_COUNT_
};

/* Where the handle's run is in its life cycle (see store.h). */
enum store_run_state {
	RUN_NONE = 0, /* no run open */
	RUN_PENDING,  /* 'running' row committed; run transaction not begun yet */
	RUN_OPEN,     /* BEGIN IMMEDIATE done; rows go into it */
	RUN_BROKEN    /* SQLite rolled the run transaction back after an error */
};

/* The store handle.  Owned by the caller of store_open; store_close frees it
 * (finalising every statement, closing the connection). */
struct ps_store {
	sqlite3 *db;
	char *path;		       /* as given to store_open (for messages) */
	int version;		       /* schema version after migrations */
	sqlite3_stmt *stmt[ST_COUNT_]; /* lazily prepared, NULL until first use */
	int64_t run_id;		       /* run of run_state, -1 when RUN_NONE */
	enum store_run_state run_state;
};

/* Extra wall time spent retrying SQLITE_BUSY/SQLITE_LOCKED after SQLite's
 * own busy handler (PS_STORE_BUSY_MS) gave up, in milliseconds. */
#define PS_STORE_BUSY_MS 10000
#define PS_STORE_RETRY_MS 30000

/* Schema version this build writes (the last migration's number). */
int store_schema_current(void);

/* Raise PS_ERR_DB: "<path>: <what>: <sqlite message>" (rc: the failing code;
 * the message is taken from the connection). */
ps_status store_err(struct ps_store *st, const char *what);

/* The cached statement `which`, reset and with bindings cleared; prepared on
 * first use.  NULL with the error raised on failure. */
sqlite3_stmt *store_stmt(struct ps_store *st, enum store_stmt which);

/* sqlite3_step that retries SQLITE_BUSY/SQLITE_LOCKED (after resetting the
 * statement) for up to PS_STORE_RETRY_MS with a growing sleep.  Returns the
 * final SQLite code. */
int store_step(struct ps_store *st, sqlite3_stmt *s);

/* Run a cached statement that returns no rows (BEGIN, COMMIT, ...) with
 * retries; raises PS_ERR_DB naming `what` on failure. */
ps_status store_run_stmt(struct ps_store *st, enum store_stmt which, const char *what);

/* Open / migrate (store-schema.c). */
ps_status store_schema_open(struct ps_store *st);

/* store_close with a run still open: roll its transaction back and mark it
 * 'failed' (store.c). */
void store_run_abandon(struct ps_store *st);

/* "%.17g" in the C locale, whatever the process locale is. */
void store_fmt_double(char *buf, size_t size, double v);

#endif
