/* scenario-canon.c — canonical YAML of a scenario, its sha256, sweep expansion.
 *
 * The canonical text is what the store keeps and hashes: includes inlined,
 * every default explicit, units in their canonical spelling (units.h), keys
 * in the fixed order of the schema tables (scenario.c), two-space block
 * style, user text (names) double-quoted with every non-ASCII character as
 * a \u escape so that no byte can be read back differently.  Loading the
 * canonical text gives the same scenario and the same text again.
 *
 * Sweep expansion walks the Cartesian product of the axes in canonical
 * axis order (cluster.nodes, then strategy keys in schema order), first axis
 * slowest, values in the order written.  It does not re-read YAML: each
 * combination is the base struct with the axis values applied. */
#include "config.h"
#include "scenario-int.h"
#include "units.h"

#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (b->len + n + 1 > cap)
			cap *= 2;
		char *t = realloc(b->s, cap);
		if (!t) {
			b->oom = true;
			return;
		}
		b->s = t;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* YAML double-quoted scalar: \" \\ \xNN for controls, \uXXXX / \UXXXXXXXX for
 * non-ASCII (decoded from UTF-8; a stray byte becomes '?'). */
static void sb_quoted(struct sbuf *b, const char *str)
{
	const unsigned char *p = (const unsigned char *)str;
	sb_add(b, "\"", 1);
	while (*p) {
		unsigned c = *p;
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			sb_add(b, e, 2);
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			sb_printf(b, "\\x%02x", c);
			p++;
		} else if (c < 0x80) {
			sb_add(b, (const char *)p, 1);
			p++;
		} else {
			int n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
			unsigned cp = n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
			bool ok = n > 0;
			for (int i = 1; ok && i < n; i++) {
				ok = (p[i] & 0xc0) == 0x80;
				cp = (cp << 6) | (p[i] & 0x3fu);
			}
			if (ok && ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
				   cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)))
				ok = false;
			if (!ok) {
				sb_add(b, "?", 1);
				p++;
				continue;
			}
			if (cp > 0xffff)
				sb_printf(b, "\\U%08x", cp);
			else
				sb_printf(b, "\\u%04x", cp);
			p += n;
		}
	}
	sb_add(b, "\"", 1);
}

static void sb_indent(struct sbuf *b, int indent)
{
	for (int i = 0; i < indent; i++)
		sb_add(b, "  ", 2);
}

/* The value of a field as YAML: units and names quoted. */
static void sb_value(struct sbuf *b, const struct sc_field *f, const char *text)
{
	if (f->type == FT_NAME || f->type == FT_UNIT)
		sb_quoted(b, text);
	else
		sb_add(b, text, strlen(text));
}

static void sb_field(struct sbuf *b, int indent, const char *prefix, const struct sc_field *f, const void *base)
{
	char text[128];
	sc_field_format(f, base, text, sizeof text);
	sb_indent(b, indent);
	sb_printf(b, "%s%s: ", prefix, f->key);
	sb_value(b, f, text);
	sb_add(b, "\n", 1);
}

static void sb_fields(struct sbuf *b, int indent, const struct sc_field *fields, const void *base)
{
	for (const struct sc_field *f = fields; f->key; f++)
		sb_field(b, indent, "", f, base);
}

static const struct sc_field *find(const struct sc_field *t, const char *key) { return sc_field_find(t, key); }

static void write_device(struct sbuf *b, const struct ps_device *d)
{
	sb_field(b, 2, "", find(sc_fields_device, "name"), d);
	sb_field(b, 2, "", find(sc_fields_device, "kind"), d);
	sb_add(b, "    peak_flops:\n", 16);
	for (int i = 0; i < DTYPE_COUNT_; i++) {
		if (!(d->peak_flops[i] > 0))
			continue;
		char text[64];
		units_format(UNIT_FLOPS, d->peak_flops[i], text, sizeof text);
		sb_printf(b, "      %s: ", sc_dtype_names[i]);
		sb_quoted(b, text);
		sb_add(b, "\n", 1);
	}
	for (const char *const *k = (const char *const[]){"memory", "memory_bandwidth", "power", "price", NULL}; *k; k++)
		sb_field(b, 2, "", find(sc_fields_device, *k), d);
	sb_add(b, "    efficiency:\n", 16);
	sb_fields(b, 3, sc_fields_eff, d);
}

static void write_cluster(struct sbuf *b, const struct ps_cluster *c)
{
	sb_add(b, "cluster:\n", 9);
	sb_field(b, 1, "", find(sc_fields_cluster, "name"), c);
	sb_field(b, 1, "", find(sc_fields_cluster, "devices_per_node"), c);
	sb_field(b, 1, "", find(sc_fields_cluster, "nodes"), c);
	sb_add(b, "  device:\n", 10);
	write_device(b, &c->device);
	sb_add(b, "  network:\n", 11);
	for (int i = 0; i < c->nlevels; i++) {
		const struct ps_net_level *l = &c->levels[i];
		bool first = true;
		for (const struct sc_field *f = sc_fields_level; f->key; f++) {
			bool cluster_only = strcmp(f->key, "rails") == 0 || strcmp(f->key, "leaf_nodes") == 0 ||
					    strcmp(f->key, "oversubscription") == 0;
			if (cluster_only && l->scope != LEVEL_CLUSTER)
				continue;
			sb_field(b, first ? 1 : 2, first ? "- " : "", f, l);
			first = false;
		}
	}
	if (c->nperturb == 0) {
		sb_add(b, "  stragglers: []\n", 17);
	} else {
		sb_add(b, "  stragglers:\n", 14);
		for (int i = 0; i < c->nperturb; i++) {
			sb_field(b, 1, "- ", &sc_fields_perturb[0], &c->perturb[i]);
			sb_field(b, 2, "", &sc_fields_perturb[1], &c->perturb[i]);
		}
	}
	sb_field(b, 1, "", find(sc_fields_cluster, "failure_rate"), c);
}

static ps_status write_canonical(const struct ps_scenario *sc, char **out)
{
	struct sbuf b = {0};
	static const struct sc_field name_field = {"name", FT_NAME, offsetof(struct ps_scenario, name), 0, 0, 0, 0,
						   0, 0, NULL};
	sb_field(&b, 0, "", &name_field, sc);
	sb_add(&b, "model:\n", 7);
	sb_fields(&b, 1, sc_fields_model, &sc->model);
	write_cluster(&b, &sc->cluster);
	sb_add(&b, "strategy:\n", 10);
	for (const struct sc_field *f = sc_fields_strategy; f->key; f++) {
		if (f->type == FT_DP && sc->sweep.naxes == 0) {
			/* without a sweep dp is resolved: write the number */
			sb_printf(&b, "  dp: %d\n", sc->strategy.dp);
			continue;
		}
		sb_field(&b, 1, "", f, &sc->strategy);
	}
	sb_add(&b, "training:\n", 10);
	sb_fields(&b, 1, sc_fields_training, &sc->training);
	if (sc->sweep.naxes > 0) {
		sb_add(&b, "sweep:\n", 7);
		for (int i = 0; i < sc->sweep.naxes; i++) {
			const struct ps_sweep_axis *ax = &sc->sweep.axes[i];
			const struct sc_field *f = strncmp(ax->key, "strategy.", 9) == 0
							   ? find(sc_fields_strategy, ax->key + 9)
							   : find(sc_fields_cluster, "nodes");
			sb_printf(&b, "  %s: [", ax->key);
			for (int j = 0; j < ax->nvalues; j++) {
				if (j)
					sb_add(&b, ", ", 2);
				if (f)
					sb_value(&b, f, ax->values[j]);
			}
			sb_add(&b, "]\n", 2);
		}
	}
	if (b.oom || !b.s) {
		free(b.s);
		return PS_ERROR(PS_ERR_NOMEM, "out of memory writing the canonical scenario");
	}
	*out = b.s;
	return PS_OK;
}

ps_status sc_canonical(const struct ps_scenario *sc, char **out) { return write_canonical(sc, out); }

ps_status scenario_canonical(const struct ps_scenario *sc, char **out)
{
	*out = NULL;
	return write_canonical(sc, out);
}

ps_status sc_sha256_hex(const char *text, char hex[65])
{
	struct sha256_ctx ctx;
	uint8_t digest[SHA256_DIGEST_SIZE];
	sha256_init(&ctx);
	sha256_update(&ctx, strlen(text), (const uint8_t *)text);
	sha256_digest(&ctx, sizeof digest, digest);
	for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	hex[64] = '\0';
	return PS_OK;
}

/* ---- sweep expansion --------------------------------------------------- */

static void combo_text(const struct ps_sweep *sw, const int *idx, char *buf, size_t size)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int i = 0; i < sw->naxes && o < size; i++) {
		const char *k = sw->axes[i].key;
		if (strncmp(k, "strategy.", 9) == 0)
			k += 9;
		o += (size_t)snprintf(buf + o, size - o, "%s%s=%s", i ? " " : "", k, sw->axes[i].values[idx[i]]);
	}
}

ps_status sc_expand(const struct ps_scenario *sc, scenario_cb cb, scenario_skip_cb skipped, void *arg,
		    int *nvalid, int *ntotal, char *first_reason, size_t reason_size)
{
	const struct ps_sweep *sw = &sc->sweep;
	int idx[64] = {0};
	int valid = 0, total = 0;
	ps_status st = PS_OK;
	if (sw->naxes > 64)
		return PS_ERROR(PS_ERR_INTERNAL, "too many sweep axes");
	for (int i = 0; i < sw->naxes; i++)
		if (sw->axes[i].nvalues < 1)
			return PS_ERROR(PS_ERR_INTERNAL, "empty sweep axis %s", sw->axes[i].key);
	struct ps_scenario *one = malloc(sizeof *one);
	if (!one)
		return PS_ERROR(PS_ERR_NOMEM, "out of memory");
	for (;;) {
		char combo[512], key[128], msg[800];
		*one = *sc;
		one->canonical = NULL;
		one->sweep.naxes = 0;
		one->sweep.axes = NULL;
		total++;
		for (int i = 0; i < sw->naxes && !st; i++)
			st = sc_sweep_apply(one, sw->axes[i].key, sw->axes[i].values[idx[i]]);
		if (st)
			break;
		sc_derive_dp(one);
		combo_text(sw, idx, combo, sizeof combo);
		if (sc_consistency(one, key, sizeof key, msg, sizeof msg)) {
			char reason[1000];
			snprintf(reason, sizeof reason, "%s: %s", key, msg);
			if (first_reason && total - valid == 1)
				snprintf(first_reason, reason_size, "%s: %s", combo, reason);
			if (skipped)
				skipped(combo, reason, arg);
		} else {
			valid++;
			if (cb) {
				if ((st = write_canonical(one, &one->canonical)))
					break;
				sc_sha256_hex(one->canonical, one->sha256);
				st = cb(one, arg);
				free(one->canonical);
				one->canonical = NULL;
				if (st)
					break;
			}
		}
		/* odometer: last axis fastest */
		int i = sw->naxes - 1;
		while (i >= 0 && ++idx[i] == sw->axes[i].nvalues) {
			idx[i] = 0;
			i--;
		}
		if (i < 0)
			break;
	}
	free(one);
	if (nvalid)
		*nvalid = valid;
	if (ntotal)
		*ntotal = total;
	return st;
}

ps_status scenario_expand(const struct ps_scenario *sc, scenario_cb cb, scenario_skip_cb skipped, void *arg)
{
	if (sc->sweep.naxes == 0)
		return cb ? cb(sc, arg) : PS_OK;
	return sc_expand(sc, cb, skipped, arg, NULL, NULL, NULL, 0);
}
