/* store.h — the SQLite store: scenarios, runs, params, metrics, breakdowns,
 * traces, kernel profiles, validations (DESIGN section 7).
 *
 * One file, WAL mode, foreign keys on, busy timeout with retries so several
 * processes can write at once.  PRAGMA application_id marks the file as
 * parasim's; PRAGMA user_version is the schema version and migrations run in
 * store_open.
 *
 * Run life cycle: store_run_begin() commits a row with status 'running' and
 * opens a transaction; params, metrics, breakdowns and trace rows go into
 * that transaction; store_run_finish() sets status 'finished' (or 'failed')
 * and commits.  A process killed in between leaves the run 'running' with
 * none of its rows — never a half-written run marked finished.
 *
 * Every value from a user goes through bound parameters.
 * Ownership: store_open allocates, store_close frees. */
#ifndef PS_STORE_H
#define PS_STORE_H

#include <stdint.h>
#include <stdio.h>
#include "status.h"
#include "trace.h"

struct ps_store;
struct sqlite3;

#define PS_STORE_DEFAULT "parasim.db"
#define PS_STORE_APPLICATION_ID 0x50534D31 /* "PSM1" */

ps_status store_open(const char *path, struct ps_store **out);
void store_close(struct ps_store *st);
struct sqlite3 *store_db(struct ps_store *st);
int store_schema_version(struct ps_store *st);

/* Insert (or find, by sha256) a scenario's canonical text. */
ps_status store_scenario_put(struct ps_store *st, const char *name, const char *canonical,
			     const char *sha256, int64_t *scenario_id);

/* backend: "simulate", "analytic", "execute", ... */
ps_status store_run_begin(struct ps_store *st, int64_t scenario_id, const char *backend,
			  uint64_t seed, int64_t *run_id);
ps_status store_run_param(struct ps_store *st, int64_t run_id, const char *key, const char *value);
ps_status store_run_param_num(struct ps_store *st, int64_t run_id, const char *key, double value);
/* key carries its unit: "step_time_s", "peak_mem_bytes", "mfu". */
ps_status store_run_metric(struct ps_store *st, int64_t run_id, const char *key, double value);
/* Per-rank breakdown: component "memory"/"time", key "weights_bytes", ... */
ps_status store_run_breakdown(struct ps_store *st, int64_t run_id, int rank, const char *component,
			      const char *key, double value);
ps_status store_run_trace(struct ps_store *st, int64_t run_id, const struct ps_trace_event *ev, size_t n);
/* status: "finished" or "failed"; message may be NULL. Commits. */
ps_status store_run_finish(struct ps_store *st, int64_t run_id, const char *status, const char *message);

/* Kernel profiles, keyed by a device fingerprint (text) with its description (JSON). */
ps_status store_device_put(struct ps_store *st, const char *fingerprint, const char *description_json,
			   int64_t *device_id);
ps_status store_device_find(struct ps_store *st, const char *fingerprint, int64_t *device_id);
/* Latest profiled device (any fingerprint), PS_ERR_NOTFOUND if none. */
ps_status store_device_latest(struct ps_store *st, int64_t *device_id, char *fingerprint, size_t fpsize);
struct ps_kernel_sample {
	char op[32];            /* op_name() */
	char dtype[8];          /* dtype_name() */
	int64_t M, N, K, B, T, C, NH, KVH, HS, V, n;
	int variant;
	double median_s, spread_s;  /* spread: median absolute deviation, seconds */
	int reps;
	double flops, bytes;
	int disturbed;          /* timed samples thrown away because the profiled
				 * threads waited for a CPU (not stored) */
};
ps_status store_kernel_put(struct ps_store *st, int64_t device_id, const struct ps_kernel_sample *s);
/* Calls cb for each stored sample of device_id (op NULL = all ops), in the
 * order stored; a nonzero return from cb stops the walk (still PS_OK). */
ps_status store_kernel_each(struct ps_store *st, int64_t device_id, const char *op,
			    int (*cb)(const struct ps_kernel_sample *s, void *arg), void *arg);
struct ps_comm_sample {
	char op[32];            /* "sendrecv", "allreduce", "allgather", "reducescatter" */
	int ranks;
	double bytes, median_s, spread_s;
	int reps;
};
ps_status store_comm_put(struct ps_store *st, int64_t device_id, const struct ps_comm_sample *s);
ps_status store_comm_each(struct ps_store *st, int64_t device_id, const char *op,
			  int (*cb)(const struct ps_comm_sample *s, void *arg), void *arg);

/* Export runs wide: params then metrics, units in column names.
 * format: "csv" (RFC 4180, C locale numbers) or "json" (one object per line).
 * run_id < 0: all finished runs. */
ps_status store_export(struct ps_store *st, const char *format, int64_t run_id, FILE *out);
/* Chrome trace (Perfetto) JSON of one run's trace. */
ps_status store_export_chrome_trace(struct ps_store *st, int64_t run_id, FILE *out);

#endif
