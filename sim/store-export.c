/* store-export.c — runs out of the store for other tools: wide CSV (RFC
 * 4180) or JSON lines (one object per run: run_id, scenario, backend,
 * status, then params and metrics sorted by key), and one run's trace as a
 * Chrome trace (Perfetto) JSON file.
 *
 * Numbers are "%.17g" in the C locale whatever the process locale is, so a
 * printed double reads back (strtod) to the same bits.  Strings in JSON are
 * escaped (quotes, backslash, control characters as \u00XX) and invalid
 * UTF-8 bytes become U+FFFD, so the output is always valid JSON.
 *
 * It only reads; it never changes the store.  Reports are built elsewhere. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"

/* ---- writers ---- */

static void csv_field(FILE *out, const char *s)
{
	if (!s)
		return;
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, out);
		return;
	}
	putc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			putc('"', out);
		putc(*s, out);
	}
	putc('"', out);
}

static void csv_num(FILE *out, double v)
{
	char buf[40];
	store_fmt_double(buf, sizeof buf, v);
	fputs(buf, out);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static int utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	int n;
	unsigned lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		if (c == 0xED)
			hi = 0x9F; /* no UTF-16 surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

static void json_str(FILE *out, const char *str)
{
	if (!str) {
		fputs("null", out);
		return;
	}
	const unsigned char *s = (const unsigned char *)str;
	putc('"', out);
	while (*s) {
		unsigned c = *s;
		if (c == '"' || c == '\\') {
			putc('\\', out);
			putc((int)c, out);
			s++;
		} else if (c < 0x20) {
			fprintf(out, "\\u%04x", c);
			s++;
		} else if (c < 0x80) {
			putc((int)c, out);
			s++;
		} else {
			int n = utf8_len(s);
			if (n) {
				fwrite(s, 1, (size_t)n, out);
				s += n;
			} else {
				fputs("\\ufffd", out);
				s++;
			}
		}
	}
	putc('"', out);
}

static void json_num(FILE *out, double v)
{
	if (!isfinite(v)) {
		fputs("null", out);
		return;
	}
	char buf[40];
	store_fmt_double(buf, sizeof buf, v);
	fputs(buf, out);
}

/* ---- wide export of runs ---- */

/* Runs selected by run_id: that run (any status) if >= 0, else all finished. */
#define RUN_FILTER "((?1 >= 0 AND r.id = ?1) OR (?1 < 0 AND r.status = 'finished'))"

struct column {
	char *key;   /* the param or metric key */
	char *label; /* column name: the key, or "param."/"metric." + key on a clash */
};

struct columns {
	struct column *c;
	size_t n;
};

static void columns_fini(struct columns *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		free(cs->c[i].key);
		free(cs->c[i].label);
	}
	free(cs->c);
	cs->c = NULL;
	cs->n = 0;
}

static const char *const fixed_cols[] = {"run_id", "scenario", "backend", "status"};

static int is_fixed(const char *k)
{
	for (size_t i = 0; i < sizeof fixed_cols / sizeof fixed_cols[0]; i++)
		if (strcmp(k, fixed_cols[i]) == 0)
			return 1;
	return 0;
}

static int has_key(const struct columns *cs, const char *k)
{
	size_t lo = 0, hi = cs->n; /* keys are sorted (SQLite BINARY order = strcmp) */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(cs->c[mid].key, k);
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Distinct keys of params or metrics over the selected runs, sorted. */
static ps_status columns_load(struct ps_store *st, const char *sql, int64_t run_id, const char *prefix,
			      const struct columns *other, struct columns *cs)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_err(st, "reading export columns");
	sqlite3_bind_int64(s, 1, run_id);
	size_t cap = 0;
	int rc;
	ps_status r = PS_OK;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(s, 0);
		if (!k)
			continue;
		if (cs->n == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct column *nc = realloc(cs->c, ncap * sizeof *nc);
			if (!nc) {
				r = PS_ERROR(PS_ERR_NOMEM, "out of memory exporting");
				break;
			}
			cs->c = nc;
			cap = ncap;
		}
		struct column *c = &cs->c[cs->n];
		int clash = is_fixed(k) || (other && has_key(other, k));
		size_t len = strlen(k) + strlen(prefix) + 1;
		c->key = strdup(k);
		c->label = malloc(len);
		if (!c->key || !c->label) {
			free(c->key);
			free(c->label);
			r = PS_ERROR(PS_ERR_NOMEM, "out of memory exporting");
			break;
		}
		snprintf(c->label, len, "%s%s", clash ? prefix : "", k);
		cs->n++;
	}
	if (!r && rc != SQLITE_DONE)
		r = store_err(st, "reading export columns");
	sqlite3_finalize(s);
	return r;
}

/* Write the cells of one run for one column set: rows of s (key, text, num)
 * sorted by key, merged with the sorted columns.  text_col < 0: numbers only. */
static ps_status write_cells(struct ps_store *st, sqlite3_stmt *s, int64_t run_id, const struct columns *cs,
			     int json, int text_col, int num_col, int *first_field, FILE *out)
{
	sqlite3_reset(s);
	sqlite3_bind_int64(s, 1, run_id);
	int rc = sqlite3_step(s);
	for (size_t i = 0; i < cs->n; i++) {
		/* Skip row keys not in the columns (cannot happen within one snapshot). */
		while (rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(s, 0), cs->c[i].key) < 0)
			rc = sqlite3_step(s);
		int have =
		    rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(s, 0), cs->c[i].key) == 0;
		if (json) {
			fputs(*first_field ? "" : ",", out);
			json_str(out, cs->c[i].label);
			putc(':', out);
		} else if (!*first_field) {
			putc(',', out);
		}
		*first_field = 0;
		if (!have) {
			if (json)
				fputs("null", out);
			continue;
		}
		if (sqlite3_column_type(s, num_col) != SQLITE_NULL) {
			double v = sqlite3_column_double(s, num_col);
			if (json)
				json_num(out, v);
			else
				csv_num(out, v);
		} else if (text_col >= 0 && sqlite3_column_type(s, text_col) != SQLITE_NULL) {
			const char *t = (const char *)sqlite3_column_text(s, text_col);
			if (json)
				json_str(out, t);
			else
				csv_field(out, t);
		} else if (json) {
			fputs("null", out);
		}
		rc = sqlite3_step(s);
	}
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return store_err(st, "reading export values");
	return PS_OK;
}

static ps_status check_written(FILE *out)
{
	if (fflush(out) != 0 || ferror(out))
		return PS_ERROR(PS_ERR_IO, "writing the export failed: %s", strerror(errno));
	return PS_OK;
}

ps_status store_export(struct ps_store *st, const char *format, int64_t run_id, FILE *out)
{
	int json;
	if (format && strcmp(format, "csv") == 0)
		json = 0;
	else if (format && strcmp(format, "json") == 0)
		json = 1;
	else
		return PS_ERROR(PS_ERR_INVALID, "export format '%s': expected csv or json",
				format ? format : "(null)");
	struct columns params = {0}, metrics = {0};
	sqlite3_stmt *runs = NULL, *pq = NULL, *mq = NULL;
	int own_txn = sqlite3_get_autocommit(st->db);
	ps_status r = PS_OK;
	/* One read transaction: one consistent snapshot for every query. */
	if (own_txn && sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return store_err(st, "beginning the export");
	if ((r = columns_load(
		 st,
		 "SELECT DISTINCT x.key FROM params x JOIN runs r ON r.id = x.run_id WHERE " RUN_FILTER
		 " ORDER BY x.key",
		 run_id, "param.", NULL, &params)) ||
	    (r = columns_load(
		 st,
		 "SELECT DISTINCT x.key FROM metrics x JOIN runs r ON r.id = x.run_id WHERE " RUN_FILTER
		 " ORDER BY x.key",
		 run_id, "metric.", &params, &metrics)))
		goto done;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT r.id, s.name, r.backend, r.status FROM runs r"
			       " LEFT JOIN scenarios s ON s.id = r.scenario_id WHERE " RUN_FILTER
			       " ORDER BY r.id",
			       -1, &runs, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db,
			       "SELECT key, value, value_num FROM params WHERE run_id = ?1 ORDER BY key", -1,
			       &pq, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, "SELECT key, value FROM metrics WHERE run_id = ?1 ORDER BY key", -1,
			       &mq, NULL) != SQLITE_OK) {
		r = store_err(st, "preparing the export");
		goto done;
	}
	if (!json) {
		for (size_t i = 0; i < 4; i++)
			fprintf(out, "%s%s", i ? "," : "", fixed_cols[i]);
		for (size_t i = 0; i < params.n; i++) {
			putc(',', out);
			csv_field(out, params.c[i].label);
		}
		for (size_t i = 0; i < metrics.n; i++) {
			putc(',', out);
			csv_field(out, metrics.c[i].label);
		}
		fputs("\r\n", out);
	}
	sqlite3_bind_int64(runs, 1, run_id);
	int rc, nruns = 0;
	while ((rc = sqlite3_step(runs)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(runs, 0);
		const char *scen = (const char *)sqlite3_column_text(runs, 1);
		const char *backend = (const char *)sqlite3_column_text(runs, 2);
		const char *status = (const char *)sqlite3_column_text(runs, 3);
		int first = 0;
		nruns++;
		if (json) {
			fprintf(out, "{\"run_id\":%lld,\"scenario\":", (long long)id);
			json_str(out, scen);
			fputs(",\"backend\":", out);
			json_str(out, backend);
			fputs(",\"status\":", out);
			json_str(out, status);
		} else {
			fprintf(out, "%lld,", (long long)id);
			csv_field(out, scen);
			putc(',', out);
			csv_field(out, backend);
			putc(',', out);
			csv_field(out, status);
		}
		if ((r = write_cells(st, pq, id, &params, json, 1, 2, &first, out)) ||
		    (r = write_cells(st, mq, id, &metrics, json, -1, 1, &first, out)))
			goto done;
		fputs(json ? "}\n" : "\r\n", out);
	}
	if (rc != SQLITE_DONE) {
		r = store_err(st, "reading runs");
		goto done;
	}
	if (run_id >= 0 && nruns == 0) {
		r = PS_ERROR(PS_ERR_NOTFOUND, "%s: run %lld is not in the store", st->path,
			     (long long)run_id);
		goto done;
	}
	r = check_written(out);
done:
	sqlite3_finalize(runs);
	sqlite3_finalize(pq);
	sqlite3_finalize(mq);
	columns_fini(&params);
	columns_fini(&metrics);
	if (own_txn && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	return r;
}

/* ---- Chrome trace ---- */

/* Names of ps_stream, ps_task_kind and ps_phase values (graph.h). */
static const char *const stream_names[] = {"compute", "tp", "dp", "pp"};
static const char *const kind_names[] = {"kernel", "collective", "send", "recv", "memory"};
static const char *const phase_names[] = {"fwd", "bwd", "recompute", "optimizer"};

static const char *enum_name(const char *const *names, int n, int v, char *buf, size_t size, const char *what)
{
	if (v >= 0 && v < n)
		return names[v];
	snprintf(buf, size, "%s %d", what, v);
	return buf;
}

#define NAMES(a) a, (int)(sizeof a / sizeof a[0])

ps_status store_export_chrome_trace(struct ps_store *st, int64_t run_id, FILE *out)
{
	sqlite3_stmt *s = NULL;
	int own_txn = sqlite3_get_autocommit(st->db);
	ps_status r = PS_OK;
	int rc;
	if (own_txn && sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return store_err(st, "beginning the export");
	if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM runs WHERE id = ?1", -1, &s, NULL) != SQLITE_OK) {
		r = store_err(st, "preparing the trace export");
		goto done;
	}
	sqlite3_bind_int64(s, 1, run_id);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	s = NULL;
	if (rc == SQLITE_DONE) {
		r = PS_ERROR(PS_ERR_NOTFOUND, "%s: run %lld is not in the store", st->path,
			     (long long)run_id);
		goto done;
	} else if (rc != SQLITE_ROW) {
		r = store_err(st, "reading runs");
		goto done;
	}
	fputs("{\"traceEvents\":[\n", out);
	int nev = 0;
	/* Metadata: a process per rank, a thread per stream, in a stable order. */
	if (sqlite3_prepare_v2(
		st->db, "SELECT DISTINCT rank, stream FROM traces WHERE run_id = ?1 ORDER BY rank, stream",
		-1, &s, NULL) != SQLITE_OK) {
		r = store_err(st, "preparing the trace export");
		goto done;
	}
	sqlite3_bind_int64(s, 1, run_id);
	long long last_rank = -1;
	int have_rank = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		long long rank = sqlite3_column_int64(s, 0);
		int stream = sqlite3_column_int(s, 1);
		char buf[32];
		if (!have_rank || rank != last_rank) {
			fprintf(out,
				"%s{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%lld,\"tid\":0,"
				"\"args\":{\"name\":\"rank %lld\"}},\n"
				"{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":%lld,\"tid\":0,"
				"\"args\":{\"sort_index\":%lld}}",
				nev ? ",\n" : "", rank, rank, rank, rank);
			nev += 2;
			last_rank = rank;
			have_rank = 1;
		}
		fprintf(
		    out,
		    ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%lld,\"tid\":%d,\"args\":{\"name\":",
		    rank, stream);
		json_str(out, enum_name(NAMES(stream_names), stream, buf, sizeof buf, "stream"));
		fprintf(out,
			"}},\n{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":%lld,\"tid\":%d,"
			"\"args\":{\"sort_index\":%d}}",
			rank, stream, stream);
		nev += 2;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (rc != SQLITE_DONE) {
		r = store_err(st, "reading the trace");
		goto done;
	}
	if (sqlite3_prepare_v2(
		st->db,
		"SELECT task_id, rank, stream, kind, phase, layer, microbatch, start_s, end_s,"
		" flops, bytes, name FROM traces WHERE run_id = ?1 ORDER BY rank, stream, start_s, task_id",
		-1, &s, NULL) != SQLITE_OK) {
		r = store_err(st, "preparing the trace export");
		goto done;
	}
	sqlite3_bind_int64(s, 1, run_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char kbuf[32], pbuf[32];
		const char *kind =
		    enum_name(NAMES(kind_names), sqlite3_column_int(s, 3), kbuf, sizeof kbuf, "kind");
		const char *phase =
		    enum_name(NAMES(phase_names), sqlite3_column_int(s, 4), pbuf, sizeof pbuf, "phase");
		double start_s = sqlite3_column_double(s, 7), end_s = sqlite3_column_double(s, 8);
		fputs(nev ? ",\n{\"ph\":\"X\",\"name\":" : "{\"ph\":\"X\",\"name\":", out);
		json_str(out, (const char *)sqlite3_column_text(s, 11));
		fputs(",\"cat\":", out);
		json_str(out, kind);
		fprintf(out, ",\"pid\":%lld,\"tid\":%d,\"ts\":", (long long)sqlite3_column_int64(s, 1),
			sqlite3_column_int(s, 2));
		json_num(out, start_s * 1e6);
		fputs(",\"dur\":", out);
		json_num(out, (end_s - start_s) * 1e6);
		fprintf(out, ",\"args\":{\"task_id\":%lld,\"phase\":", (long long)sqlite3_column_int64(s, 0));
		json_str(out, phase);
		fprintf(out, ",\"layer\":%d,\"microbatch\":%d,\"flops\":", sqlite3_column_int(s, 5),
			sqlite3_column_int(s, 6));
		json_num(out, sqlite3_column_type(s, 9) == SQLITE_NULL ? NAN : sqlite3_column_double(s, 9));
		fputs(",\"bytes\":", out);
		json_num(out, sqlite3_column_type(s, 10) == SQLITE_NULL ? NAN : sqlite3_column_double(s, 10));
		fputs("}}", out);
		nev++;
	}
	if (rc != SQLITE_DONE) {
		r = store_err(st, "reading the trace");
		goto done;
	}
	fprintf(out, "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"run_id\":%lld}}\n", (long long)run_id);
	r = check_written(out);
done:
	sqlite3_finalize(s);
	if (own_txn && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	return r;
}
