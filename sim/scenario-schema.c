/* scenario-schema.c — the scenario schema: one table of fields per section
 * (key, type, offset in the struct, range, unit kind, enum names) and the
 * parsing and canonical formatting of one field's value.  scenario.c walks
 * the YAML tree with these tables; scenario-canon.c writes them back.
 * It does not read YAML or check cross-field consistency. */
#include "config.h"
#include "scenario-int.h"
#include "units.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- schema ----------------------------------------------------------- */

static const char *const ffn_names[] = {"gelu", "swiglu", NULL};
static const char *const norm_names[] = {"layernorm", "rmsnorm", NULL};
static const char *const pos_names[] = {"learned", "rope", NULL};
static const char *const kind_names[] = {"gpu", "cpu", "tpu", "fpga", NULL};
static const char *const scope_names[] = {"node", "cluster", NULL};
const char *const sc_sched_names[] = {"gpipe", "1f1b", "interleaved", NULL};
static const char *const recompute_names[] = {"none", "selective", "full", NULL};
static const char *const algo_names[] = {"auto", "ring", "tree", "hierarchical", NULL};

#define I(k, s, f, lo, hi, fl) {k, FT_INT, offsetof(s, f), lo, hi, 0, 0, fl, 0, NULL}
#define D(k, s, f, lo, hi, fl) {k, FT_DOUBLE, offsetof(s, f), 0, 0, lo, hi, fl, 0, NULL}
#define U(k, s, f, u, fl) {k, FT_UNIT, offsetof(s, f), 0, 0, 0, INFINITY, fl, u, NULL}
#define B(k, s, f) {k, FT_BOOL, offsetof(s, f), 0, 0, 0, 0, 0, 0, NULL}
#define E(k, s, f, names, fl) {k, FT_ENUM, offsetof(s, f), 0, 0, 0, 0, fl, 0, names}
#define N(k, s, f) {k, FT_NAME, offsetof(s, f), 0, 0, 0, 0, 0, 0, NULL}
#define END {NULL, FT_INT, 0, 0, 0, 0, 0, 0, 0, NULL}

#define BIG 1000000L

const struct sc_field sc_fields_model[] = {
	N("name", struct ps_model, name),
	I("layers", struct ps_model, layers, 1, 100000, F_REQUIRED),
	I("hidden", struct ps_model, hidden, 1, 1L << 20, F_REQUIRED),
	I("heads", struct ps_model, heads, 1, 65536, F_REQUIRED),
	I("kv_heads", struct ps_model, kv_heads, 1, 65536, 0),
	I("head_dim", struct ps_model, head_dim, 1, 65536, 0),
	I("ffn_hidden", struct ps_model, ffn_hidden, 1, 1L << 24, 0),
	E("ffn", struct ps_model, ffn, ffn_names, 0),
	I("vocab", struct ps_model, vocab, 1, 1L << 26, F_REQUIRED),
	I("seq_len", struct ps_model, seq_len, 1, 1L << 26, F_REQUIRED),
	E("norm", struct ps_model, norm, norm_names, 0),
	E("position", struct ps_model, position, pos_names, 0),
	B("tied_embeddings", struct ps_model, tied_embeddings),
	B("bias", struct ps_model, bias),
	B("parallel_block", struct ps_model, parallel_block),
	END,
};

/* peak_flops and efficiency are sub-mappings handled in load_device. */
const struct sc_field sc_fields_device[] = {
	N("name", struct ps_device, name),
	{"kind", FT_KIND, offsetof(struct ps_device, kind), 0, 0, 0, 0, 0, 0, kind_names},
	U("memory", struct ps_device, mem_bytes, UNIT_BYTES, F_REQUIRED | F_MIN_OPEN),
	U("memory_bandwidth", struct ps_device, mem_bw_Bps, UNIT_BANDWIDTH, F_REQUIRED | F_MIN_OPEN),
	U("power", struct ps_device, power_W, UNIT_POWER, 0),
	U("price", struct ps_device, cost_per_s, UNIT_MONEY_RATE, 0),
	END,
};

const struct sc_field sc_fields_eff[] = {
	D("matmul_max", struct ps_device, matmul_eff_max, 0, 1, F_MIN_OPEN),
	U("matmul_half", struct ps_device, matmul_half_flop, UNIT_FLOP, 0),
	D("attention_max", struct ps_device, attn_eff_max, 0, 1, F_MIN_OPEN),
	D("memory_max", struct ps_device, mem_eff_max, 0, 1, F_MIN_OPEN),
	U("memory_half", struct ps_device, mem_half_bytes, UNIT_BYTES, 0),
	U("launch_overhead", struct ps_device, kernel_launch_s, UNIT_TIME, 0),
	D("overlap_slowdown", struct ps_device, overlap_slowdown, 0, 10, 0),
	D("comm_overlap_slowdown", struct ps_device, comm_overlap_slowdown, 0, 10, 0),
	D("allocator_overhead", struct ps_device, alloc_overhead, 0, 1, F_MAX_OPEN),
	U("reserved_memory", struct ps_device, reserved_bytes, UNIT_BYTES, 0),
	END,
};

const struct sc_field sc_fields_level[] = {
	N("name", struct ps_net_level, name),
	E("scope", struct ps_net_level, scope, scope_names, F_REQUIRED),
	U("bandwidth", struct ps_net_level, bw_Bps, UNIT_BANDWIDTH, F_REQUIRED | F_MIN_OPEN),
	U("latency", struct ps_net_level, lat_s, UNIT_TIME, F_REQUIRED),
	I("rails", struct ps_net_level, rails, 1, 64, 0),
	I("leaf_nodes", struct ps_net_level, leaf_nodes, 0, BIG, 0),
	D("oversubscription", struct ps_net_level, oversubscription, 1, 1000, 0),
	D("efficiency", struct ps_net_level, eff, 0, 1, F_MIN_OPEN),
	END,
};

/* device, network, stragglers are handled in load_cluster. */
const struct sc_field sc_fields_cluster[] = {
	N("name", struct ps_cluster, name),
	I("devices_per_node", struct ps_cluster, devices_per_node, 1, 1024, F_REQUIRED),
	I("nodes", struct ps_cluster, nodes, 1, BIG, F_REQUIRED),
	D("failure_rate", struct ps_cluster, failure_rate_per_device_h, 0, INFINITY, 0),
	END,
};

const struct sc_field sc_fields_perturb[] = {
	I("rank", struct ps_perturb, rank, 0, INT_MAX, F_REQUIRED),
	D("slowdown", struct ps_perturb, slowdown, 1, 1000, F_REQUIRED),
	END,
};

const struct sc_field sc_fields_strategy[] = {
	{"dp", FT_DP, offsetof(struct ps_strategy, dp), 1, BIG, 0, 0, 0, 0, NULL},
	I("tp", struct ps_strategy, tp, 1, BIG, 0),
	I("pp", struct ps_strategy, pp, 1, BIG, 0),
	I("vpp", struct ps_strategy, vpp, 1, 10000, 0),
	I("cp", struct ps_strategy, cp, 1, BIG, 0),
	I("micro_batch", struct ps_strategy, micro_batch, 1, BIG, 0),
	I("global_batch", struct ps_strategy, global_batch, 1, 1000000000L, F_REQUIRED),
	I("zero_stage", struct ps_strategy, zero_stage, 0, 3, 0),
	B("distributed_optimizer", struct ps_strategy, distributed_optimizer),
	E("recompute", struct ps_strategy, recompute, recompute_names, 0),
	B("sequence_parallel", struct ps_strategy, sequence_parallel),
	E("schedule", struct ps_strategy, schedule, sc_sched_names, 0),
	B("overlap_grad_reduce", struct ps_strategy, overlap_grad_reduce),
	B("overlap_param_gather", struct ps_strategy, overlap_param_gather),
	B("overlap_tp_comm", struct ps_strategy, overlap_tp_comm),
	B("parallel_block", struct ps_strategy, parallel_block),
	E("dtype", struct ps_strategy, dtype, sc_dtype_names, 0),
	E("grad_dtype", struct ps_strategy, grad_dtype, sc_dtype_names, 0),
	U("bucket_size", struct ps_strategy, bucket_bytes, UNIT_BYTES, F_MIN_OPEN),
	E("collective_algo", struct ps_strategy, coll_algo, algo_names, 0),
	B("allow_tp_across_nodes", struct ps_strategy, allow_tp_across_nodes),
	B("flash_attention", struct ps_strategy, flash_attention),
	END,
};

const struct sc_field sc_fields_training[] = {
	D("tokens", struct ps_training, tokens, 0, INFINITY, 0),
	U("deadline", struct ps_training, deadline_s, UNIT_TIME, 0),
	END,
};

const struct sc_field *sc_field_find(const struct sc_field *table, const char *key)
{
	for (const struct sc_field *f = table; f->key; f++)
		if (strcmp(f->key, key) == 0)
			return f;
	return NULL;
}

/* ---- values ----------------------------------------------------------- */

void sc_format_double(double v, char *buf, size_t size)
{
	char tmp[40];
	for (int p = 1; p <= 17; p++) {
		snprintf(tmp, sizeof tmp, "%.*g", p, v);
		if (strtod(tmp, NULL) == v) {
			snprintf(buf, size, "%s", tmp);
			return;
		}
	}
	snprintf(buf, size, "%.17g", v);
}

void sc_list_names(const char *const *names, char *buf, size_t size)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int i = 0; names[i] && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", names[i]);
}

void sc_field_expected(const struct sc_field *f, char *buf, size_t size)
{
	char names[256];
	switch (f->type) {
	case FT_INT:
	case FT_DP: {
		const char *aut = f->type == FT_DP ? " or auto" : "";
		if (f->imax <= 64)
			snprintf(buf, size, "expected an integer from %ld to %ld", f->imin, f->imax);
		else if (f->imin == 1)
			snprintf(buf, size, "expected a positive integer (at most %ld)%s", f->imax, aut);
		else if (f->imin == 0)
			snprintf(buf, size, "expected a non-negative integer (at most %ld)", f->imax);
		else
			snprintf(buf, size, "expected an integer from %ld to %ld", f->imin, f->imax);
		break;
	}
	case FT_DOUBLE:
		if (isinf(f->dmax)) {
			if (f->dmin == 0)
				snprintf(buf, size, "expected a %s number", f->flags & F_MIN_OPEN ? "positive" : "non-negative");
			else
				snprintf(buf, size, "expected a number >= %g", f->dmin);
		} else {
			snprintf(buf, size, "expected a number in %c%g, %g%c", f->flags & F_MIN_OPEN ? '(' : '[', f->dmin,
				 f->dmax, f->flags & F_MAX_OPEN ? ')' : ']');
		}
		break;
	case FT_UNIT:
		snprintf(buf, size, "expected a %s %s", f->flags & F_MIN_OPEN ? "positive" : "non-negative",
			 units_kind_name(f->unit));
		break;
	case FT_BOOL:
		snprintf(buf, size, "expected true or false");
		break;
	case FT_ENUM:
	case FT_KIND:
		sc_list_names(f->names, names, sizeof names);
		snprintf(buf, size, "expected one of %s", names);
		break;
	case FT_NAME:
		snprintf(buf, size, "expected a name of 1 to %d bytes without control characters", PS_NAME_MAX - 1);
		break;
	}
}

/* Strict integer: [-]digits, no blanks, no fraction. */
static bool parse_long(const char *s, long *out)
{
	const char *p = s;
	if (*p == '-' || *p == '+')
		p++;
	if (!*p)
		return false;
	for (const char *q = p; *q; q++)
		if (*q < '0' || *q > '9')
			return false;
	if (strlen(p) > 18) {
		*out = *s == '-' ? LONG_MIN : LONG_MAX;
		return true;
	}
	*out = strtol(s, NULL, 10);
	return true;
}

/* Strict finite decimal number (no hex, inf, nan). */
static bool parse_number(const char *s, double *out)
{
	if (!*s)
		return false;
	for (const char *q = s; *q; q++)
		if (!strchr("0123456789+-.eE", *q))
			return false;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (*end || end == s || errno == ERANGE || !isfinite(v) || (v != 0 && fabs(v) < DBL_MIN))
		return false;
	*out = v;
	return true;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= PS_NAME_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

ps_status sc_field_parse(const struct sc_field *f, const char *text, void *base, char *expected, size_t size)
{
	char *dst = (char *)base + f->off;
	switch (f->type) {
	case FT_DP:
		if (strcmp(text, "auto") == 0) {
			struct ps_strategy *st = base;
			st->dp = 0;
			st->dp_auto = true;
			return PS_OK;
		}
		/* fall through */
	case FT_INT: {
		long v;
		if (!parse_long(text, &v) || v < f->imin || v > f->imax) {
			sc_field_expected(f, expected, size);
			return parse_long(text, &v) ? PS_ERR_RANGE : PS_ERR_PARSE;
		}
		*(int *)dst = (int)v;
		if (f->type == FT_DP)
			((struct ps_strategy *)base)->dp_auto = false;
		return PS_OK;
	}
	case FT_DOUBLE: {
		double v;
		bool ok = parse_number(text, &v);
		if (!ok || v < f->dmin || v > f->dmax || ((f->flags & F_MIN_OPEN) && v == f->dmin) ||
		    ((f->flags & F_MAX_OPEN) && v == f->dmax)) {
			sc_field_expected(f, expected, size);
			return ok ? PS_ERR_RANGE : PS_ERR_PARSE;
		}
		*(double *)dst = v;
		return PS_OK;
	}
	case FT_UNIT: {
		double v;
		ps_status st = units_parse(f->unit, text, &v);
		if (st) {
			/* keep the units module's "expected ..." part */
			const char *m = ps_error_message();
			const char *got = NULL;
			for (const char *p = strstr(m, ", got "); p; p = strstr(p + 1, ", got "))
				got = p;
			size_t n = got ? (size_t)(got - m) : strlen(m);
			if (n >= size)
				n = size - 1;
			memcpy(expected, m, n);
			expected[n] = '\0';
			return st;
		}
		if ((f->flags & F_MIN_OPEN) && v == 0) {
			sc_field_expected(f, expected, size);
			return PS_ERR_RANGE;
		}
		*(double *)dst = v;
		return PS_OK;
	}
	case FT_BOOL:
		if (strcmp(text, "true") == 0 || strcmp(text, "True") == 0 || strcmp(text, "TRUE") == 0) {
			*(bool *)dst = true;
			return PS_OK;
		}
		if (strcmp(text, "false") == 0 || strcmp(text, "False") == 0 || strcmp(text, "FALSE") == 0) {
			*(bool *)dst = false;
			return PS_OK;
		}
		sc_field_expected(f, expected, size);
		return PS_ERR_PARSE;
	case FT_ENUM:
	case FT_KIND:
		for (int i = 0; f->names[i]; i++)
			if (strcmp(text, f->names[i]) == 0) {
				if (f->type == FT_ENUM)
					*(int *)dst = i;
				else
					snprintf(dst, 16, "%s", f->names[i]);
				return PS_OK;
			}
		sc_field_expected(f, expected, size);
		return PS_ERR_INVALID;
	case FT_NAME:
		if (!valid_name(text)) {
			sc_field_expected(f, expected, size);
			return PS_ERR_INVALID;
		}
		snprintf(dst, PS_NAME_MAX, "%s", text);
		return PS_OK;
	}
	return PS_ERR_INTERNAL;
}

void sc_field_format(const struct sc_field *f, const void *base, char *buf, size_t size)
{
	const char *src = (const char *)base + f->off;
	switch (f->type) {
	case FT_DP:
		if (((const struct ps_strategy *)base)->dp_auto) {
			snprintf(buf, size, "auto");
			return;
		}
		/* fall through */
	case FT_INT:
		snprintf(buf, size, "%d", *(const int *)src);
		return;
	case FT_DOUBLE:
		sc_format_double(*(const double *)src, buf, size);
		return;
	case FT_UNIT:
		units_format(f->unit, *(const double *)src, buf, size);
		return;
	case FT_BOOL:
		snprintf(buf, size, "%s", *(const bool *)src ? "true" : "false");
		return;
	case FT_ENUM: {
		int v = *(const int *)src;
		int n = 0;
		while (f->names[n])
			n++;
		snprintf(buf, size, "%s", v >= 0 && v < n ? f->names[v] : "?");
		return;
	}
	case FT_KIND:
	case FT_NAME:
		snprintf(buf, size, "%s", src);
		return;
	}
}

/* The sweepable cluster.nodes key (a cluster field outside the strategy). */
const struct sc_field sc_field_nodes = I("nodes", struct ps_cluster, nodes, 1, BIG, 0);
/* The top-level name key. */
const struct sc_field sc_field_name = N("name", struct ps_scenario, name);
