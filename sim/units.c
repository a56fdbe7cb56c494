/* units.c — parse and format quantities with units ("400Gb/s", "936ns").
 *
 * A quantity is a decimal number (digits, optional fraction, optional
 * exponent; no sign, no hex, no inf/nan), one optional blank, and a unit.
 * The unit is looked up per kind: a prefix (k/K M G T P E decimal, Ki Mi Gi
 * Ti Pi Ei binary for sizes and bandwidths) in front of a base symbol, or a
 * whole symbol from a table (time, money).  The value is computed with a
 * single rounding (q * m or q / d with m, d exact doubles) so that the
 * canonical formatter can find a spelling that parses back bit for bit.
 *
 * Accepted values are 0 or within [1e-30, 1e30] in SI base units; anything
 * else is a range error, which also keeps every accepted value a normal
 * double whose %.17g text is exact.
 *
 * This file does not know about YAML, files or key paths: the caller adds
 * "file:line:col: key.path: " in front of the messages raised here. */
#include "config.h"
#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNITS_MAX 1e30
#define UNITS_MIN 1e-30

/* One way to spell a unit: value = (q * 10^e10) * mul / div, where the
 * power of ten is applied by strtod (correctly rounded) and mul, div are
 * exact (powers of two, 60, 3600, 86400, 8); at most one of them is not 1. */
struct unit_sym {
	const char *sym;
	int e10;
	double mul, div;
};

struct unit_prefix {
	const char *sym;
	int e10;
	double mul;
	int binary;
};

static const struct unit_prefix prefixes[] = {
	{"", 0, 1, 0},
	{"k", 3, 1, 0},
	{"K", 3, 1, 0},
	{"M", 6, 1, 0},
	{"G", 9, 1, 0},
	{"T", 12, 1, 0},
	{"P", 15, 1, 0},
	{"E", 18, 1, 0},
	{"Ki", 0, 1024.0, 1},
	{"Mi", 0, 1048576.0, 1},
	{"Gi", 0, 1073741824.0, 1},
	{"Ti", 0, 1099511627776.0, 1},
	{"Pi", 0, 1125899906842624.0, 1},
	{"Ei", 0, 1152921504606846976.0, 1},
};

/* Base symbols that take a prefix, per kind.  bits: divided by 8. */
struct unit_base {
	const char *sym;
	double div;
};

static const struct unit_base bytes_bases[] = {{"B", 1}, {"b", 8}, {NULL, 0}};
static const struct unit_base bw_bases[] = {{"B/s", 1}, {"Bps", 1}, {"b/s", 8}, {"bps", 8}, {NULL, 0}};
static const struct unit_base flops_bases[] = {
	{"FLOPS", 1}, {"FLOP/s", 1}, {"flops", 1}, {"flop/s", 1}, {NULL, 0}};
static const struct unit_base flop_bases[] = {{"FLOP", 1}, {"flop", 1}, {NULL, 0}};
static const struct unit_base power_bases[] = {{"W", 1}, {NULL, 0}};

static const struct unit_sym time_syms[] = {
	{"ps", -12, 1, 1}, {"ns", -9, 1, 1}, {"us", -6, 1, 1},   {"\xc2\xb5s", -6, 1, 1},
	{"ms", -3, 1, 1},  {"s", 0, 1, 1},   {"min", 0, 60, 1}, {"h", 0, 3600, 1},
	{"d", 0, 86400, 1}, {NULL, 0, 0, 0},
};

/* Money: "$" number "/" period. */
static const struct unit_sym money_syms[] = {
	{"/s", 0, 1, 1},       {"/min", 0, 1, 60},    {"/h", 0, 1, 3600},    {"/hr", 0, 1, 3600},
	{"/hour", 0, 1, 3600}, {"/d", 0, 1, 86400},   {"/day", 0, 1, 86400}, {NULL, 0, 0, 0},
};

/* Canonical spellings for the formatter, largest first. */
static const struct unit_sym fmt_bytes[] = {
	{"EB", 18, 1, 1},
	{"EiB", 0, 1152921504606846976.0, 1},
	{"PiB", 0, 1125899906842624.0, 1},
	{"PB", 15, 1, 1},
	{"TiB", 0, 1099511627776.0, 1},
	{"TB", 12, 1, 1},
	{"GiB", 0, 1073741824.0, 1},
	{"GB", 9, 1, 1},
	{"MiB", 0, 1048576.0, 1},
	{"MB", 6, 1, 1},
	{"KiB", 0, 1024.0, 1},
	{"KB", 3, 1, 1},
	{"B", 0, 1, 1},
	{NULL, 0, 0, 0},
};
static const struct unit_sym fmt_bw[] = {
	{"EB/s", 18, 1, 1},
	{"EiB/s", 0, 1152921504606846976.0, 1},
	{"PiB/s", 0, 1125899906842624.0, 1},
	{"PB/s", 15, 1, 1},
	{"TiB/s", 0, 1099511627776.0, 1},
	{"TB/s", 12, 1, 1},
	{"GiB/s", 0, 1073741824.0, 1},
	{"GB/s", 9, 1, 1},
	{"MiB/s", 0, 1048576.0, 1},
	{"MB/s", 6, 1, 1},
	{"KiB/s", 0, 1024.0, 1},
	{"KB/s", 3, 1, 1},
	{"B/s", 0, 1, 1},
	{NULL, 0, 0, 0},
};
static const struct unit_sym fmt_time[] = {
	{"d", 0, 86400, 1}, {"h", 0, 3600, 1}, {"min", 0, 60, 1}, {"s", 0, 1, 1},     {"ms", -3, 1, 1},
	{"us", -6, 1, 1},   {"ns", -9, 1, 1},  {"ps", -12, 1, 1}, {NULL, 0, 0, 0},
};
static const struct unit_sym fmt_flops[] = {
	{"EFLOPS", 18, 1, 1}, {"PFLOPS", 15, 1, 1}, {"TFLOPS", 12, 1, 1}, {"GFLOPS", 9, 1, 1},
	{"MFLOPS", 6, 1, 1},  {"KFLOPS", 3, 1, 1},  {"FLOPS", 0, 1, 1},   {NULL, 0, 0, 0},
};
static const struct unit_sym fmt_flop[] = {
	{"EFLOP", 18, 1, 1}, {"PFLOP", 15, 1, 1}, {"TFLOP", 12, 1, 1}, {"GFLOP", 9, 1, 1},
	{"MFLOP", 6, 1, 1},  {"KFLOP", 3, 1, 1},  {"FLOP", 0, 1, 1},   {NULL, 0, 0, 0},
};
static const struct unit_sym fmt_power[] = {
	{"GW", 9, 1, 1}, {"MW", 6, 1, 1}, {"kW", 3, 1, 1}, {"W", 0, 1, 1}, {NULL, 0, 0, 0},
};
/* Money: order = preference on ties; no "q >= 1" rule. */
static const struct unit_sym fmt_money[] = {
	{"/h", 0, 1, 3600}, {"/day", 0, 1, 86400}, {"/s", 0, 1, 1}, {"/min", 0, 1, 60}, {NULL, 0, 0, 0},
};

struct kind_info {
	const char *name;     /* for messages */
	const char *example;  /* "80GiB" */
	const char *units;    /* the accepted units, for messages */
	const struct unit_base *bases;
	int binary_ok;        /* binary prefixes allowed */
	const struct unit_sym *syms; /* whole-symbol table (time, money) */
	const struct unit_sym *fmt;
	const char *zero;     /* canonical text of 0 */
	const char *base;     /* base unit, for the all-digits fallback */
};

static const struct kind_info kinds[UNIT_COUNT_] = {
	[UNIT_BYTES] = {"size", "80GiB", "B, KB..EB, KiB..EiB, or bits b, Kb..Eb", bytes_bases, 1, NULL,
			fmt_bytes, "0B", "B"},
	[UNIT_BANDWIDTH] = {"bandwidth", "400Gb/s", "B/s, KB/s..EB/s, KiB/s..EiB/s, b/s..Eb/s, GBps, Gbps",
			    bw_bases, 1, NULL, fmt_bw, "0B/s", "B/s"},
	[UNIT_TIME] = {"time", "936ns", "ps, ns, us, ms, s, min, h, d", NULL, 0, time_syms, fmt_time, "0s", "s"},
	[UNIT_FLOPS] = {"FLOP rate", "989TFLOPS", "FLOPS, KFLOPS..EFLOPS, TFLOP/s", flops_bases, 0, NULL,
			fmt_flops, "0FLOPS", "FLOPS"},
	[UNIT_MONEY_RATE] = {"price rate", "$2.10/h", "$N/s, $N/min, $N/h, $N/hour, $N/day", NULL, 0,
			     money_syms, fmt_money, "$0/h", "/s"},
	[UNIT_POWER] = {"power", "700W", "W, kW, MW, GW", power_bases, 0, NULL, fmt_power, "0W", "W"},
	[UNIT_FLOP] = {"FLOP amount", "5GFLOP", "FLOP, KFLOP..EFLOP", flop_bases, 0, NULL, fmt_flop,
		       "0FLOP", "FLOP"},
};

const char *units_kind_name(ps_unit_kind kind)
{
	if ((int)kind < 0 || kind >= UNIT_COUNT_)
		return "quantity";
	return kinds[kind].name;
}

/* Quote text for a message: escapes, at most 40 characters shown. */
static void quote(const char *s, char *buf, size_t size)
{
	size_t o = 0;
	int shown = 0;
	if (size < 8) {
		if (size)
			buf[0] = '\0';
		return;
	}
	buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p && o + 8 < size; p++, shown++) {
		if (shown >= 40) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (*p == '"' || *p == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)*p;
		} else if (*p < 0x20 || *p == 0x7f) {
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", *p);
		} else {
			buf[o++] = (char)*p;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Look a unit up; returns 1 and sets *u when known. */
static int unit_lookup(const struct kind_info *ki, const char *u, size_t ulen, struct unit_sym *out)
{
	if (ki->syms) {
		for (const struct unit_sym *s = ki->syms; s->sym; s++)
			if (strlen(s->sym) == ulen && memcmp(s->sym, u, ulen) == 0) {
				*out = *s;
				return 1;
			}
		return 0;
	}
	for (const struct unit_base *b = ki->bases; b->sym; b++) {
		size_t blen = strlen(b->sym);
		if (blen > ulen || memcmp(u + ulen - blen, b->sym, blen) != 0)
			continue;
		size_t plen = ulen - blen;
		for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
			const struct unit_prefix *p = &prefixes[i];
			if (strlen(p->sym) != plen || memcmp(p->sym, u, plen) != 0)
				continue;
			if (p->binary && !ki->binary_ok)
				continue;
			out->sym = NULL;
			out->e10 = p->e10;
			out->mul = p->mul / b->div; /* 2^k / 8: exact */
			out->div = 1;
			return 1;
		}
	}
	return 0;
}

ps_status units_parse(ps_unit_kind kind, const char *text, double *out)
{
	if ((int)kind < 0 || kind >= UNIT_COUNT_)
		return PS_ERROR(PS_ERR_INTERNAL, "units_parse: bad unit kind %d", (int)kind);
	const struct kind_info *ki = &kinds[kind];
	char q[128];
	quote(text ? text : "", q, sizeof q);
	if (!text)
		text = "";
	const char *s = text, *end = text + strlen(text);
	while (is_blank(*s))
		s++;
	while (end > s && is_blank(end[-1]))
		end--;
	if (s == end)
		return PS_ERROR(PS_ERR_PARSE, "expected a %s such as \"%s\", got %s", ki->name, ki->example, q);
	const char *num = s;
	if (kind == UNIT_MONEY_RATE && *num == '$')
		num++;
	if (*num == '-')
		return PS_ERROR(PS_ERR_RANGE, "expected a non-negative %s such as \"%s\", got %s", ki->name,
				ki->example, q);
	{
		const char *t = *num == '+' ? num + 1 : num;
		if (strncasecmp(t, "inf", 3) == 0 || strncasecmp(t, "nan", 3) == 0)
			return PS_ERROR(PS_ERR_RANGE, "expected a finite %s such as \"%s\", got %s", ki->name,
					ki->example, q);
	}
	/* The number: digits [. digits] [e [+-] digits]. */
	const char *p = num;
	int digits = 0;
	while (isdigit((unsigned char)*p))
		p++, digits++;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p))
			p++, digits++;
	}
	if (digits == 0)
		return PS_ERROR(PS_ERR_PARSE, "expected a %s such as \"%s\" (a number, then a unit), got %s",
				ki->name, ki->example, q);
	const char *mant_end = p;
	long exp10 = 0;
	if (*p == 'e' || *p == 'E') {
		const char *e = p + 1;
		int neg = 0;
		if (*e == '+' || *e == '-')
			neg = *e++ == '-';
		if (isdigit((unsigned char)*e)) {
			while (isdigit((unsigned char)*e)) {
				if (exp10 < 100000)
					exp10 = exp10 * 10 + (*e - '0');
				e++;
			}
			if (neg)
				exp10 = -exp10;
			p = e;
		}
		/* else: 'e' starts the unit (nothing we know; the lookup fails) */
	}
	size_t mlen = (size_t)(mant_end - num);
	if (mlen >= 100)
		return PS_ERROR(PS_ERR_PARSE, "expected a %s with a number of at most 99 characters, got %s",
				ki->name, q);
	/* The unit. */
	const char *u = p;
	if (u < end && is_blank(*u))
		u++;
	size_t ulen = (size_t)(end - u);
	struct unit_sym us = {NULL, 0, 1, 1};
	int is_zero = 1;
	for (const char *c = num; c < mant_end; c++)
		if (*c >= '1' && *c <= '9')
			is_zero = 0;
	if (kind == UNIT_MONEY_RATE && num == s && !(ulen == 0 && is_zero))
		return PS_ERROR(PS_ERR_PARSE, "expected a %s such as \"%s\" (starting with $), got %s", ki->name,
				ki->example, q);
	if (ulen == 0) {
		if (!is_zero)
			return PS_ERROR(PS_ERR_PARSE, "expected a %s with a unit (%s), got %s", ki->name,
					ki->units, q);
	} else if (!unit_lookup(ki, u, ulen, &us)) {
		return PS_ERROR(PS_ERR_PARSE, "expected a %s such as \"%s\" (units: %s), got %s", ki->name,
				ki->example, ki->units, q);
	}
	/* mantissa * 10^(exponent + prefix), rounded once by strtod */
	char nbuf[140];
	snprintf(nbuf, sizeof nbuf, "%.*se%ld", (int)mlen, num, exp10 + us.e10);
	errno = 0;
	double v = strtod(nbuf, NULL);
	if (errno == ERANGE)
		return PS_ERROR(PS_ERR_RANGE, "expected a %s from 1e-30 to 1e30 in base units, got %s", ki->name,
				q);
	double val = us.div != 1 ? v / us.div : v * us.mul;
	if (!isfinite(val) || val > UNITS_MAX || (val != 0 && val < UNITS_MIN))
		return PS_ERROR(PS_ERR_RANGE, "expected a %s from 1e-30 to 1e30 in base units, got %s", ki->name,
				q);
	*out = val;
	return PS_OK;
}

/* Does text parse back to exactly value? */
static int round_trips(ps_unit_kind kind, const char *text, double value)
{
	double back;
	ps_status st = units_parse(kind, text, &back);
	return st == PS_OK && back == value && signbit(back) == signbit(value);
}

/* value expressed in unit s (approximately: spell() checks exactly). */
static double unit_quotient(double value, const struct unit_sym *s)
{
	double q = s->div != 1 ? value * s->div : value / s->mul;
	return s->e10 ? q / pow(10, s->e10) : q;
}

/* Rewrite %e-style text ("1.25e+03") positionally ("1250") when the
 * exponent is moderate; the decimal value is unchanged. */
static void positional(const char *g, char *out, size_t size)
{
	const char *e = strchr(g, 'e');
	if (!e) {
		snprintf(out, size, "%s", g);
		return;
	}
	long ex = strtol(e + 1, NULL, 10);
	char digits[40];
	size_t nd = 0;
	for (const char *p = g; p < e && nd < sizeof digits - 1; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	digits[nd] = '\0';
	/* value = 0.d1d2d3... * 10^(ex+1) */
	long point = ex + 1;
	if (ex < -6 || ex > 20 || nd == 0) {
		snprintf(out, size, "%s", g);
		return;
	}
	size_t o = 0;
	char buf[64];
	if (point <= 0) {
		buf[o++] = '0';
		buf[o++] = '.';
		for (long i = 0; i < -point; i++)
			buf[o++] = '0';
		memcpy(buf + o, digits, nd);
		o += nd;
	} else {
		for (long i = 0; i < point; i++)
			buf[o++] = (size_t)i < nd ? digits[i] : '0';
		if ((size_t)point < nd) {
			buf[o++] = '.';
			memcpy(buf + o, digits + point, nd - (size_t)point);
			o += nd - (size_t)point;
		}
	}
	buf[o] = '\0';
	snprintf(out, size, "%s", buf);
}

/* Spell value in unit s: the shortest %.Ng that round-trips, written
 * positionally.  Returns the score of the spelling (lower is better: the
 * length of the number; for money the number of significant digits, so
 * that "$0.5/h" beats "$12/day"), or 0 if no spelling round-trips. */
static int spell(ps_unit_kind kind, double value, const struct unit_sym *s, char *out, size_t size)
{
	double q = unit_quotient(value, s);
	const char *pre = kind == UNIT_MONEY_RATE ? "$" : "";
	char g[40], num[64], text[96];
	for (int p = 1; p <= 17; p++) {
		snprintf(g, sizeof g, "%.*g", p, q);
		positional(g, num, sizeof num);
		snprintf(text, sizeof text, "%s%s%s", pre, num, s->sym);
		if (!round_trips(kind, text, value))
			continue;
		snprintf(out, size, "%s", text);
		int penalty = strchr(num, 'e') ? 100 : 0; /* positional text first */
		return penalty + (kind == UNIT_MONEY_RATE ? p : (int)strlen(num));
	}
	return 0;
}

int units_format(ps_unit_kind kind, double value, char *buf, size_t size)
{
	char best[96] = "", cand[96];
	if ((int)kind < 0 || kind >= UNIT_COUNT_)
		return snprintf(buf, size, "%.17g", value);
	const struct kind_info *ki = &kinds[kind];
	if (value == 0)
		return snprintf(buf, size, "%s", ki->zero);
	if (!isfinite(value) || value < 0)
		return snprintf(buf, size, "%.17g", value); /* not a value units_parse gives */
	int best_len = 999;
	for (const struct unit_sym *s = ki->fmt; s->sym; s++) {
		int smallest = s[1].sym == NULL;
		if (kind != UNIT_MONEY_RATE && !smallest) {
			if (unit_quotient(value, s) < 1 - 1e-9)
				continue;
		}
		int p = spell(kind, value, s, cand, sizeof cand);
		if (p > 0 && p < best_len) { /* ties: the earlier (larger) unit wins */
			best_len = p;
			memcpy(best, cand, sizeof best);
		}
	}
	if (best_len == 999) {
		/* Base unit with all digits: exact for every normal double. */
		snprintf(best, sizeof best, "%s%.17g%s", kind == UNIT_MONEY_RATE ? "$" : "", value, ki->base);
	}
	return snprintf(buf, size, "%s", best);
}
