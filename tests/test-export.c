/* test-export.c — store_export (CSV, JSON lines), store_export_chrome_trace
 * and `parasim export`.
 *
 * The output is read back with readers written here from the formats'
 * specifications (an RFC 4180 reader, a small JSON parser), and, where
 * python3 is installed, cross-checked with Python's csv and json modules.
 * Numbers must read back (strtod) to the very same doubles (SQLite itself
 * keeps no sign of zero and no NaN, so those are not exported values). */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "status.h"
#include "store.h"
#include "testutil.h"

/* ---- an RFC 4180 reader ---- */

struct csv {
	int nrows;
	int nf[16];
	char *f[16][32];
	int crlf_records; /* records ended by CRLF */
};

static void csv_free(struct csv *c)
{
	for (int r = 0; r < c->nrows; r++)
		for (int i = 0; i < c->nf[r]; i++)
			free(c->f[r][i]);
	memset(c, 0, sizeof *c);
}

/* Parse s into records; returns 0, or -1 if s is not RFC 4180. */
static int csv_parse(const char *s, struct csv *c)
{
	memset(c, 0, sizeof *c);
	size_t len = strlen(s), i = 0;
	while (i < len) {
		if (c->nrows == 16)
			return -1;
		int r = c->nrows++;
		for (;;) {
			char *buf = malloc(len + 1);
			size_t n = 0;
			if (s[i] == '"') {
				i++;
				for (;;) {
					if (i >= len) {
						free(buf);
						return -1; /* unterminated quote */
					}
					if (s[i] == '"') {
						if (s[i + 1] == '"') {
							buf[n++] = '"';
							i += 2;
							continue;
						}
						i++;
						break;
					}
					buf[n++] = s[i++];
				}
			} else {
				while (i < len && s[i] != ',' && s[i] != '\r' && s[i] != '\n') {
					if (s[i] == '"') {
						free(buf);
						return -1; /* quote inside an unquoted field */
					}
					buf[n++] = s[i++];
				}
			}
			buf[n] = '\0';
			if (c->nf[r] == 32) {
				free(buf);
				return -1;
			}
			c->f[r][c->nf[r]++] = buf;
			if (i < len && s[i] == ',') {
				i++;
				continue;
			}
			if (i + 1 < len + 1 && s[i] == '\r' && s[i + 1] == '\n') {
				c->crlf_records++;
				i += 2;
			} else if (i < len && s[i] == '\n') {
				i++;
			} else if (i < len) {
				return -1; /* junk after a closing quote */
			}
			break;
		}
	}
	return 0;
}

/* ---- a small JSON parser (RFC 8259) ---- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };
struct jv {
	enum jtype t;
	double num;
	char *str;   /* J_STR: decoded UTF-8 */
	int n;	     /* J_ARR / J_OBJ: members */
	char **keys; /* J_OBJ */
	struct jv *items;
};

struct jp {
	const char *s;
	int depth;
};

static void jv_free(struct jv *v)
{
	free(v->str);
	for (int i = 0; i < v->n; i++) {
		if (v->keys)
			free(v->keys[i]);
		jv_free(&v->items[i]);
	}
	free(v->keys);
	free(v->items);
	memset(v, 0, sizeof *v);
}

static void jp_ws(struct jp *p)
{
	while (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')
		p->s++;
}

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static void put_utf8(char *buf, size_t *n, unsigned cp)
{
	if (cp < 0x80) {
		buf[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		buf[(*n)++] = (char)(0xC0 | (cp >> 6));
		buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		buf[(*n)++] = (char)(0xE0 | (cp >> 12));
		buf[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
	} else {
		buf[(*n)++] = (char)(0xF0 | (cp >> 18));
		buf[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
		buf[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
	}
}

static int jp_string(struct jp *p, char **out)
{
	if (*p->s != '"')
		return -1;
	p->s++;
	const char *end = p->s;
	while (*end && *end != '"')
		end += (*end == '\\' && end[1]) ? 2 : 1;
	char *buf = malloc((size_t)(end - p->s) * 2 + 8);
	size_t n = 0;
	while (*p->s != '"') {
		unsigned char c = (unsigned char)*p->s;
		if (c == '\0' || c < 0x20)
			goto bad; /* raw control characters are not allowed */
		if (c != '\\') {
			buf[n++] = (char)c;
			p->s++;
			continue;
		}
		p->s++;
		switch (*p->s) {
		case '"':
			buf[n++] = '"';
			break;
		case '\\':
			buf[n++] = '\\';
			break;
		case '/':
			buf[n++] = '/';
			break;
		case 'b':
			buf[n++] = '\b';
			break;
		case 'f':
			buf[n++] = '\f';
			break;
		case 'n':
			buf[n++] = '\n';
			break;
		case 'r':
			buf[n++] = '\r';
			break;
		case 't':
			buf[n++] = '\t';
			break;
		case 'u': {
			unsigned cp, lo;
			if (hex4(p->s + 1, &cp))
				goto bad;
			p->s += 4;
			if (cp >= 0xD800 && cp < 0xDC00) {
				if (p->s[1] != '\\' || p->s[2] != 'u' || hex4(p->s + 3, &lo) || lo < 0xDC00 ||
				    lo > 0xDFFF)
					goto bad;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				p->s += 6;
			} else if (cp >= 0xDC00 && cp < 0xE000) {
				goto bad;
			}
			put_utf8(buf, &n, cp);
			break;
		}
		default:
			goto bad;
		}
		p->s++;
	}
	p->s++;
	buf[n] = '\0';
	*out = buf;
	return 0;
bad:
	free(buf);
	return -1;
}

static int jp_number(struct jp *p, double *out)
{
	const char *s = p->s;
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return -1;
	if (*s == '.') {
		s++;
		if (!(*s >= '0' && *s <= '9'))
			return -1;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return -1;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	char *end;
	*out = strtod(p->s, &end);
	if (end != s)
		return -1;
	p->s = s;
	return 0;
}

static int jp_value(struct jp *p, struct jv *v)
{
	memset(v, 0, sizeof *v);
	if (++p->depth > 64)
		return -1;
	jp_ws(p);
	int rc = 0;
	if (*p->s == '{' || *p->s == '[') {
		int obj = *p->s == '{';
		char close = obj ? '}' : ']';
		v->t = obj ? J_OBJ : J_ARR;
		p->s++;
		jp_ws(p);
		int cap = 0;
		if (*p->s == close) {
			p->s++;
			goto out;
		}
		for (;;) {
			if (v->n == cap) {
				cap = cap ? 2 * cap : 8;
				v->items = realloc(v->items, (size_t)cap * sizeof *v->items);
				if (obj)
					v->keys = realloc(v->keys, (size_t)cap * sizeof *v->keys);
			}
			jp_ws(p);
			if (obj) {
				if (jp_string(p, &v->keys[v->n]))
					return -1;
				jp_ws(p);
				if (*p->s != ':') {
					free(v->keys[v->n]);
					return -1;
				}
				p->s++;
			}
			if (jp_value(p, &v->items[v->n])) {
				if (obj)
					free(v->keys[v->n]);
				jv_free(&v->items[v->n]);
				return -1;
			}
			v->n++;
			jp_ws(p);
			if (*p->s == ',') {
				p->s++;
				continue;
			}
			if (*p->s != close)
				return -1;
			p->s++;
			break;
		}
	} else if (*p->s == '"') {
		v->t = J_STR;
		rc = jp_string(p, &v->str);
	} else if (strncmp(p->s, "null", 4) == 0) {
		v->t = J_NULL;
		p->s += 4;
	} else if (strncmp(p->s, "true", 4) == 0 || strncmp(p->s, "false", 5) == 0) {
		v->t = J_BOOL;
		v->num = *p->s == 't';
		p->s += *p->s == 't' ? 4 : 5;
	} else {
		v->t = J_NUM;
		rc = jp_number(p, &v->num);
	}
out:
	p->depth--;
	return rc;
}

/* Parse a whole JSON text (one value, nothing after it but whitespace). */
static int json_parse(const char *s, struct jv *v)
{
	struct jp p = {s, 0};
	if (jp_value(&p, v)) {
		jv_free(v);
		return -1;
	}
	jp_ws(&p);
	if (*p.s) {
		jv_free(v);
		return -1;
	}
	return 0;
}

static const struct jv *jget(const struct jv *o, const char *key)
{
	if (o->t != J_OBJ)
		return NULL;
	for (int i = 0; i < o->n; i++)
		if (strcmp(o->keys[i], key) == 0)
			return &o->items[i];
	return NULL;
}

/* ---- fixtures ---- */

static char db_path[64];

static void rm_db(const char *path)
{
	char buf[512];
	unlink(path);
	snprintf(buf, sizeof buf, "%s-wal", path);
	unlink(buf);
	snprintf(buf, sizeof buf, "%s-shm", path);
	unlink(buf);
}

static const char odd_text[] = "a,b \"q\"\r\nline2 \\ back\x01\x1f\ttab end";
static const char bad_utf8[] = "ok\xffok \xc3\xa9"; /* invalid byte, then a valid é */
static const char scen_name[] = "tiny-\xc3\xbc \"v2\"";

/* Values stored, for checking what comes back. */
static const double third = 1.0 / 3.0, mfu = 0.42, peak = 7.9e10, tiny_lr = 1e-300,
		    denorm = 4.9406564584124654e-324, tok = 123456.789, big = DBL_MAX, lr = 0.1;
static int64_t run1, run2, run3;

static void put_trace(struct ps_store *st, int64_t run)
{
	struct ps_trace_event ev[5];
	memset(ev, 0, sizeof ev);
	for (int i = 0; i < 5; i++) {
		ev[i].task_id = (uint32_t)i;
		ev[i].rank = i % 2;
		ev[i].stream = i < 4 ? (i / 2) * 2 : 7; /* compute, dp, and an unknown stream 7 */
		ev[i].kind = i % 5;
		ev[i].phase = i % 4;
		ev[i].layer = i - 1;
		ev[i].microbatch = i;
		ev[i].start_s = i * 1.5e-3 + 1e-7 / 3;
		ev[i].end_s = ev[i].start_s + 1e-3;
		ev[i].flops = 1e12 * (i + 1);
		ev[i].bytes = 4096.0 * i;
		snprintf(ev[i].name, sizeof ev[i].name, "op%d", i);
	}
	snprintf(ev[3].name, sizeof ev[3].name, "quote\"back\\slash\x02");
	assert_int_equal(store_run_trace(st, run, ev, 5), PS_OK);
}

static int setup(void **state)
{
	(void)state;
	snprintf(db_path, sizeof db_path, "/tmp/ps-test-export-XXXXXX");
	int fd = mkstemp(db_path);
	if (fd < 0)
		return -1;
	close(fd);
	struct ps_store *st;
	int64_t scen;
	if (store_open(db_path, &st))
		return -1;
	assert_int_equal(
	    store_scenario_put(st, scen_name, "model: tiny\n",
			       "00000000000000000000000000000000000000000000000000000000000000aa", &scen),
	    PS_OK);
	assert_int_equal(store_run_begin(st, scen, "simulate", 1, &run1), PS_OK);
	assert_int_equal(store_run_param(st, run1, "name", odd_text), PS_OK);
	assert_int_equal(store_run_param(st, run1, "bad_utf8", bad_utf8), PS_OK);
	assert_int_equal(store_run_param_num(st, run1, "tp", 8), PS_OK);
	assert_int_equal(store_run_param_num(st, run1, "lr", lr), PS_OK);
	assert_int_equal(store_run_param(st, run1, "status", "x"), PS_OK);
	assert_int_equal(store_run_metric(st, run1, "step_time_s", third), PS_OK);
	assert_int_equal(store_run_metric(st, run1, "mfu", mfu), PS_OK);
	assert_int_equal(store_run_metric(st, run1, "peak_mem_bytes", peak), PS_OK);
	assert_int_equal(store_run_metric(st, run1, "lr", tiny_lr), PS_OK);
	assert_int_equal(store_run_metric(st, run1, "inf_s", INFINITY), PS_OK);
	assert_int_equal(store_run_metric(st, run1, "denorm", denorm), PS_OK);
	put_trace(st, run1);
	assert_int_equal(store_run_finish(st, run1, "finished", NULL), PS_OK);

	assert_int_equal(store_run_begin(st, 0, "analytic", 2, &run2), PS_OK);
	assert_int_equal(store_run_param_num(st, run2, "tp", 4), PS_OK);
	assert_int_equal(store_run_metric(st, run2, "step_time_s", big), PS_OK);
	assert_int_equal(store_run_metric(st, run2, "tokens_per_s", tok), PS_OK);
	assert_int_equal(store_run_finish(st, run2, "finished", NULL), PS_OK);

	assert_int_equal(store_run_begin(st, scen, "execute", 3, &run3), PS_OK);
	assert_int_equal(store_run_param_num(st, run3, "tp", 1), PS_OK);
	assert_int_equal(store_run_metric(st, run3, "foo_s", 1), PS_OK);
	assert_int_equal(store_run_finish(st, run3, "failed", "boom"), PS_OK);
	store_close(st);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rm_db(db_path);
	return 0;
}

/* Export into a malloc'd string. */
static char *export_str(const char *format, int64_t run_id, ps_status want)
{
	struct ps_store *st;
	assert_int_equal(store_open(db_path, &st), PS_OK);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	ps_status r = strcmp(format, "chrome-trace") == 0 ? store_export_chrome_trace(st, run_id, f)
							  : store_export(st, format, run_id, f);
	assert_int_equal(r, want);
	fclose(f);
	store_close(st);
	return buf;
}

static int same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

static void assert_num_field(const char *field, double want)
{
	char *end;
	double got = strtod(field, &end);
	assert_true(*field && *end == '\0');
	if (!same_double(got, want)) {
		fprintf(stderr, "field '%s' reads %.17g, stored %.17g\n", field, got, want);
		fail();
	}
}

static int have_python(void)
{
	return system("python3 -c 'import json, csv' >/dev/null 2>&1") == 0;
}

/* Run a python3 snippet on a text; returns its stdout (malloc'd) or NULL. */
static char *python_on(const char *code, const char *text)
{
	char path[] = "/tmp/ps-test-export-pyXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "python3 -c '%s' %s", code, path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char *out = test_slurp_fd(fileno(p));
	int rc = pclose(p);
	unlink(path);
	if (rc != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* ---- CSV ---- */

static void check_csv_all(const char *out)
{
	struct csv c;
	assert_int_equal(csv_parse(out, &c), 0);
	assert_int_equal(c.nrows, 3); /* header + the two finished runs */
	assert_int_equal(c.crlf_records, 3);
	const char *header[] = {"run_id", "scenario", "backend", "status",
				/* params, sorted; 'status' clashes with a fixed column */
				"bad_utf8", "lr", "name", "param.status", "tp",
				/* metrics, sorted; 'lr' clashes with a param */
				"denorm", "inf_s", "metric.lr", "mfu", "peak_mem_bytes", "step_time_s",
				"tokens_per_s"};
	int ncol = (int)(sizeof header / sizeof header[0]);
	for (int r = 0; r < 3; r++)
		assert_int_equal(c.nf[r], ncol);
	for (int i = 0; i < ncol; i++)
		assert_string_equal(c.f[0][i], header[i]);
	char **a = c.f[1], **b = c.f[2];
	assert_int_equal(atoll(a[0]), run1);
	assert_string_equal(a[1], scen_name);
	assert_string_equal(a[2], "simulate");
	assert_string_equal(a[3], "finished");
	assert_string_equal(a[4], bad_utf8); /* CSV carries bytes as they are */
	assert_num_field(a[5], lr);
	assert_string_equal(a[6], odd_text);
	assert_string_equal(a[7], "x");
	assert_num_field(a[8], 8);
	assert_num_field(a[9], denorm);
	assert_num_field(a[10], INFINITY);
	assert_num_field(a[11], tiny_lr);
	assert_num_field(a[12], mfu);
	assert_num_field(a[13], peak);
	assert_num_field(a[14], third);
	assert_string_equal(a[15], ""); /* missing */

	assert_int_equal(atoll(b[0]), run2);
	assert_string_equal(b[1], ""); /* no scenario */
	assert_string_equal(b[2], "analytic");
	for (int i = 4; i < 15; i++)
		if (i != 8 && i != 14)
			assert_string_equal(b[i], "");
	assert_num_field(b[8], 4);
	assert_num_field(b[14], big);
	assert_num_field(b[15], tok);
	csv_free(&c);
}

static void test_csv(void **state)
{
	(void)state;
	char *out = export_str("csv", -1, PS_OK);
	check_csv_all(out);

	/* The same, read by Python's csv module (printed back as JSON). */
	if (have_python()) {
		char *py = python_on("import csv, json, sys; "
				     "print(json.dumps(list(csv.reader(open(sys.argv[1], newline=\"\", "
				     "encoding=\"latin-1\")))))",
				     out);
		assert_non_null(py);
		struct jv v;
		assert_int_equal(json_parse(py, &v), 0);
		assert_int_equal(v.t, J_ARR);
		assert_int_equal(v.n, 3);
		assert_int_equal(v.items[1].n, 16);
		assert_string_equal(v.items[1].items[6].str, odd_text);
		assert_string_equal(v.items[0].items[7].str, "param.status");
		jv_free(&v);
		free(py);
	} else {
		fprintf(stderr, "# python3 not found: CSV cross-check skipped\n");
	}

	/* One run, whatever its status; unknown runs are errors. */
	char *one = export_str("csv", run3, PS_OK);
	struct csv c;
	assert_int_equal(csv_parse(one, &c), 0);
	assert_int_equal(c.nrows, 2);
	assert_int_equal(c.nf[0], 6);
	assert_string_equal(c.f[0][4], "tp");
	assert_string_equal(c.f[0][5], "foo_s");
	assert_string_equal(c.f[1][3], "failed");
	assert_num_field(c.f[1][5], 1);
	csv_free(&c);
	free(one);
	free(export_str("csv", 99999, PS_ERR_NOTFOUND));
	assert_non_null(strstr(ps_error_message(), "99999"));
	free(export_str("xml", -1, PS_ERR_INVALID));

	/* Numbers do not depend on the process locale. */
	const char *locs[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "ru_RU.UTF-8", NULL};
	const char *used = NULL;
	for (int i = 0; locs[i] && !used; i++)
		if (setlocale(LC_ALL, locs[i]))
			used = locs[i];
	/* None installed (a bare container): compile one, if glibc's sources are here. */
	char locdir[] = "/tmp/ps-test-locale-XXXXXX", cmd[256];
	int made = 0;
	if (!used && access("/usr/share/i18n/locales/de_DE", R_OK) == 0 && mkdtemp(locdir)) {
		made = 1;
		snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1",
			 locdir);
		if (system(cmd) != -1) {
			setenv("LOCPATH", locdir, 1);
			if (setlocale(LC_ALL, "de_DE.UTF-8"))
				used = "de_DE.UTF-8 (compiled here)";
		}
	}
	if (used) {
		char probe[16];
		snprintf(probe, sizeof probe, "%.1f", 0.5);
		char *loc_out = export_str("csv", -1, PS_OK);
		setlocale(LC_ALL, "C");
		fprintf(stderr, "# export under %s (printf gives '%s'): %s\n", used, probe,
			strcmp(loc_out, out) == 0 ? "same" : "DIFFERENT");
		assert_string_equal(loc_out, out);
		free(loc_out);
	} else {
		fprintf(stderr, "# no comma-decimal locale installed: locale check skipped\n");
	}
	if (made) {
		unsetenv("LOCPATH");
		snprintf(cmd, sizeof cmd, "rm -rf %s", locdir);
		assert_int_equal(system(cmd), 0);
	}
	free(out);
}

/* ---- JSON lines ---- */

static void test_json_lines(void **state)
{
	(void)state;
	char *out = export_str("json", -1, PS_OK);
	/* Escapes as JSON demands: quote, backslash, control characters. */
	assert_non_null(strstr(out, "\\\"q\\\""));
	assert_non_null(strstr(out, "\\\\ back\\u0001\\u001f\\u0009tab"));
	assert_non_null(strstr(out, "\\u000d\\u000a"));
	assert_non_null(strstr(out, "ok\\ufffdok \xc3\xa9"));
	int lines = 0;
	char *save = NULL;
	char *copy = strdup(out);
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct jv v;
		assert_int_equal(json_parse(line, &v), 0);
		assert_int_equal(v.t, J_OBJ);
		assert_int_equal(v.n, 16);
		assert_string_equal(v.keys[0], "run_id");
		const struct jv *id = jget(&v, "run_id");
		assert_non_null(id);
		if (lines == 0) {
			assert_true(id->num == (double)run1);
			assert_string_equal(jget(&v, "scenario")->str, scen_name);
			assert_string_equal(jget(&v, "name")->str, odd_text);
			assert_string_equal(jget(&v, "bad_utf8")->str, "ok\xef\xbf\xbdok \xc3\xa9");
			assert_string_equal(jget(&v, "param.status")->str, "x");
			assert_string_equal(jget(&v, "status")->str, "finished");
			assert_int_equal(jget(&v, "tp")->t, J_NUM);
			assert_true(same_double(jget(&v, "tp")->num, 8));
			assert_true(same_double(jget(&v, "lr")->num, lr));
			assert_true(same_double(jget(&v, "metric.lr")->num, tiny_lr));
			assert_true(same_double(jget(&v, "step_time_s")->num, third));
			assert_true(same_double(jget(&v, "denorm")->num, denorm));
			assert_int_equal(jget(&v, "inf_s")->t, J_NULL);	       /* non-finite */
			assert_int_equal(jget(&v, "tokens_per_s")->t, J_NULL); /* missing */
		} else {
			assert_true(id->num == (double)run2);
			assert_int_equal(jget(&v, "scenario")->t, J_NULL);
			assert_int_equal(jget(&v, "name")->t, J_NULL);
			assert_true(same_double(jget(&v, "step_time_s")->num, big));
			assert_true(same_double(jget(&v, "tokens_per_s")->num, tok));
		}
		jv_free(&v);
		lines++;
	}
	free(copy);
	assert_int_equal(lines, 2);
	if (have_python()) {
		char *py = python_on("import json, sys; "
				     "rows = [json.loads(l) for l in open(sys.argv[1], encoding=\"utf-8\")]; "
				     "print(len(rows), rows[0][\"name\"] == "
				     "\"a,b \\\"q\\\"\\r\\nline2 \\\\ back\\x01\\x1f\\ttab end\")",
				     out);
		assert_non_null(py);
		assert_string_equal(py, "2 True\n");
		free(py);
	}
	free(out);
	free(export_str("json", 424242, PS_ERR_NOTFOUND));
}

/* ---- Chrome trace ---- */

static void test_chrome_trace(void **state)
{
	(void)state;
	char *out = export_str("chrome-trace", run1, PS_OK);
	struct jv v;
	assert_int_equal(json_parse(out, &v), 0);
	const struct jv *evs = jget(&v, "traceEvents");
	assert_non_null(evs);
	assert_int_equal(evs->t, J_ARR);
	int nx = 0, nproc = 0, nthread = 0, found3 = 0;
	for (int i = 0; i < evs->n; i++) {
		const struct jv *e = &evs->items[i];
		const char *ph = jget(e, "ph")->str;
		const char *name = jget(e, "name")->str;
		double pid = jget(e, "pid")->num, tid = jget(e, "tid")->num;
		if (strcmp(ph, "X") == 0) {
			nx++;
			const struct jv *args = jget(e, "args");
			int task = (int)jget(args, "task_id")->num;
			double start_s = task * 1.5e-3 + 1e-7 / 3;
			assert_true(pid == task % 2);
			assert_true(fabs(jget(e, "ts")->num - start_s * 1e6) <= 1e-9);
			assert_true(fabs(jget(e, "dur")->num - 1e3) <= 1e-6);
			assert_true(jget(args, "flops")->num == 1e12 * (task + 1));
			assert_true(jget(args, "bytes")->num == 4096.0 * task);
			assert_true(jget(args, "layer")->num == task - 1);
			assert_true(jget(args, "microbatch")->num == task);
			if (task == 3) {
				found3 = 1;
				assert_string_equal(name, "quote\"back\\slash\x02");
				assert_true(tid == 2);
			}
		} else {
			assert_string_equal(ph, "M");
			const struct jv *an = jget(jget(e, "args"), "name");
			if (strcmp(name, "process_name") == 0) {
				char want[16];
				snprintf(want, sizeof want, "rank %d", (int)pid);
				assert_string_equal(an->str, want);
				nproc++;
			} else if (strcmp(name, "thread_name") == 0) {
				const char *want = tid == 0 ? "compute" : tid == 2 ? "dp" : "stream 7";
				assert_string_equal(an->str, want);
				nthread++;
			}
		}
	}
	assert_int_equal(nx, 5);
	assert_int_equal(nproc, 2);
	assert_int_equal(nthread, 5); /* (0,compute) (0,dp) (0,stream 7) (1,compute) (1,dp) */
	assert_true(found3);
	jv_free(&v);
	if (have_python()) {
		char *py = python_on("import json, sys; d = json.load(open(sys.argv[1])); "
				     "print(sum(1 for e in d[\"traceEvents\"] if e[\"ph\"] == \"X\"))",
				     out);
		assert_non_null(py);
		assert_string_equal(py, "5\n");
		free(py);
	}
	free(out);
	/* A run without trace rows: still a valid, empty trace. */
	out = export_str("chrome-trace", run2, PS_OK);
	assert_int_equal(json_parse(out, &v), 0);
	assert_int_equal(jget(&v, "traceEvents")->n, 0);
	jv_free(&v);
	free(out);
	free(export_str("chrome-trace", 424242, PS_ERR_NOTFOUND));
}

/* ---- the command ---- */

static void test_cmd_export(void **state)
{
	(void)state;
	char *out, *err;
	char run_s[32];
	snprintf(run_s, sizeof run_s, "%lld", (long long)run1);

	assert_int_equal(test_run_parasim(NULL, &err, "export", "--db", db_path, "--format", "xml", NULL), 2);
	assert_non_null(strstr(err, "xml"));
	free(err);
	assert_int_equal(
	    test_run_parasim(NULL, &err, "export", "--db", db_path, "--format", "chrome-trace", NULL), 2);
	free(err);
	assert_int_equal(test_run_parasim(NULL, &err, "export", "--db", db_path, "--run", "abc", NULL), 2);
	free(err);
	assert_int_equal(test_run_parasim(NULL, &err, "export", "--db", db_path, "extra", NULL), 2);
	free(err);
	assert_int_equal(test_run_parasim(NULL, &err, "export", "--bogus", NULL), 2);
	free(err);

	/* A missing database is an error, and export does not create it. */
	const char *missing = "/tmp/ps-test-export-no-such.db";
	unlink(missing);
	assert_int_equal(test_run_parasim(NULL, &err, "export", "--db", missing, NULL), 1);
	assert_non_null(strstr(err, "no such database"));
	assert_int_equal(access(missing, F_OK), -1);
	free(err);
	assert_int_equal(test_run_parasim(NULL, &err, "export", "--db", "/tmp", NULL), 1);
	assert_non_null(strstr(err, "is a directory"));
	free(err);
	assert_int_equal(test_run_parasim(NULL, &err, "export", "--db", db_path, "--run", "99999", NULL), 1);
	assert_non_null(strstr(err, "not in the store"));
	free(err);

	/* Default format CSV on stdout, the same as the library writes. */
	char *want = export_str("csv", -1, PS_OK);
	assert_int_equal(test_run_parasim(&out, &err, "export", "--db", db_path, NULL), 0);
	assert_string_equal(out, want);
	assert_string_equal(err, "");
	free(out);
	free(err);
	free(want);

	/* -o FILE: JSON of one run. */
	char opath[] = "/tmp/ps-test-export-outXXXXXX";
	int fd = mkstemp(opath);
	assert_true(fd >= 0);
	close(fd);
	want = export_str("json", run1, PS_OK);
	assert_int_equal(test_run_parasim(NULL, NULL, "export", "--db", db_path, "--format", "json", "--run",
					  run_s, "-o", opath, NULL),
			 0);
	fd = open(opath, O_RDONLY);
	out = test_slurp_fd(fd);
	close(fd);
	assert_string_equal(out, want);
	free(out);
	free(want);
	/* A failed export leaves the previous file alone. */
	assert_int_equal(
	    test_run_parasim(NULL, NULL, "export", "--db", db_path, "--run", "99999", "-o", opath, NULL), 1);
	fd = open(opath, O_RDONLY);
	out = test_slurp_fd(fd);
	close(fd);
	assert_non_null(strstr(out, "\"run_id\""));
	free(out);

	/* A write error is a failure, not a silent truncation. */
	if (access("/dev/full", W_OK) == 0) {
		assert_int_equal(
		    test_run_parasim(NULL, &err, "export", "--db", db_path, "-o", "/dev/full", NULL), 1);
		assert_non_null(strstr(err, "writing the export failed"));
		free(err);
	}

	want = export_str("chrome-trace", run1, PS_OK);
	assert_int_equal(test_run_parasim(&out, NULL, "export", "--db", db_path, "--format", "chrome-trace",
					  "--run", run_s, NULL),
			 0);
	assert_string_equal(out, want);
	free(out);
	free(want);
	unlink(opath);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_csv),
	    cmocka_unit_test(test_json_lines),
	    cmocka_unit_test(test_chrome_trace),
	    cmocka_unit_test(test_cmd_export),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
