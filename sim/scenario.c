/* scenario.c — the strict scenario loader: sections, defaults, sweeps, consistency.
 *
 * scenario-yaml.c builds the tree and inlines include:; this file checks the
 * resolved tree against the schema (scenario-schema.c), fills struct ps_scenario in SI
 * units, applies defaults, and checks that the parts fit together.  Every
 * error is "FILE:LINE:COL: key.path: expected ..., got ..." with the
 * position of the offending node (for a missing key: the enclosing mapping;
 * for an inconsistency: the key most to blame, or its mapping when the key
 * was defaulted).  It does not write YAML (scenario-canon.c) and prints
 * nothing.
 *
 * Defaults (every optional key; `parasim check` prints them all explicitly):
 *
 *   name                          file stem ("<string>" stem when loaded from text)
 *   model.name                    stem of the preset file, else "custom"
 *   model.kv_heads                heads (multi-head attention)
 *   model.head_dim                hidden / heads (then hidden % heads must be 0;
 *                                 an explicit head_dim may differ from hidden/heads)
 *   model.ffn_hidden              gelu: 4 * hidden;  swiglu: the Llama rule
 *                                 256 * ceil(floor(2 * 4 * hidden / 3) / 256)
 *   model.ffn gelu, norm layernorm, position learned, tied_embeddings true,
 *   bias true, parallel_block false                          (GPT-2/3 style)
 *   cluster.name / device.name    stem of the preset file, else "custom"
 *   cluster.network[i].name       "level<i>"
 *   network rails 1, leaf_nodes 0 (all nodes under one switch),
 *   oversubscription 1, efficiency 1   (rails, leaf_nodes, oversubscription
 *                                 only allowed on scope: cluster levels)
 *   cluster.stragglers            [] ;  cluster.failure_rate 0
 *   device.kind gpu, power "0W" (unknown), price "$0/h" (unknown)
 *   device.efficiency: matmul_max 0.7, matmul_half "1GFLOP", attention_max 0.5,
 *                      memory_max 0.8, memory_half "1MB", launch_overhead "5us",
 *                      overlap_slowdown 0.1, comm_overlap_slowdown 0,
 *                      allocator_overhead 0.05,
 *                      reserved_memory "1GiB"
 *   strategy.dp                   auto: world size / (tp * pp * cp)
 *   strategy.tp 1, pp 1, vpp 1, cp 1, micro_batch 1    (global_batch is required)
 *   strategy.zero_stage           0, or 1 when distributed_optimizer is true
 *   strategy.distributed_optimizer false, recompute none, sequence_parallel false
 *   strategy.schedule             interleaved when vpp > 1, else 1f1b
 *   strategy.overlap_grad_reduce true, overlap_param_gather true,
 *   overlap_tp_comm false
 *   strategy.parallel_block       model.parallel_block
 *   strategy.dtype bf16
 *   strategy.grad_dtype           fp32 when distributed_optimizer, else dtype
 *   strategy.bucket_size "40MB", collective_algo auto, allow_tp_across_nodes false,
 *   flash_attention true
 *   training.tokens 0 (unset), training.deadline "0s" (unset)
 *
 * Consistency rules (sc_consistency; each names the key it blames):
 *   model.kv_heads divides model.heads                           -> model.kv_heads
 *   reserved_memory < memory                  -> cluster.device.efficiency.reserved_memory
 *   a node-scope level when devices_per_node > 1, a cluster-scope
 *   level when nodes > 1                                         -> cluster.network
 *   dp * tp * pp * cp == nodes * devices_per_node (dp: auto: tp*pp*cp divides it) -> strategy.dp
 *   heads % tp == 0; kv_heads % tp == 0 (the Megatron rule: query groups
 *   are split across TP ranks, never replicated); ffn_hidden % tp == 0;
 *   tp <= devices_per_node unless allow_tp_across_nodes           -> strategy.tp
 *   sequence_parallel requires tp > 1                 -> strategy.sequence_parallel
 *   sequence_parallel requires seq_len % tp == 0                  -> strategy.tp
 *   cp > 1 requires seq_len % (2 * cp) == 0 (load-balanced causal CP) -> strategy.cp
 *   vpp > 1 requires schedule interleaved and pp > 1              -> strategy.vpp
 *   schedule interleaved requires vpp > 1                         -> strategy.schedule
 *   layers % (pp * vpp) == 0                          -> strategy.pp (or strategy.vpp)
 *   global_batch % (dp * micro_batch) == 0; with interleaved, the number
 *   of micro-batches global_batch / (dp * micro_batch) % pp == 0  -> strategy.global_batch
 *   distributed_optimizer requires zero_stage 1 (it is ZeRO-1)    -> strategy.zero_stage
 *   the device has a peak for strategy.dtype                      -> strategy.dtype
 *   stragglers' rank < world size                -> cluster.stragglers[i].rank
 *
 * Sweeps: with a sweep the base scenario is not checked for consistency;
 * each combination is (scenario-canon.c), and none valid is an error. */
#include "config.h"
#include "scenario-int.h"
#include "units.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(ps_schedule) == sizeof(int) && sizeof(ps_dtype) == sizeof(int) &&
		       sizeof(ps_recompute) == sizeof(int) && sizeof(ps_coll_algo) == sizeof(int) &&
		       sizeof(ps_ffn_type) == sizeof(int) && sizeof(ps_norm_type) == sizeof(int) &&
		       sizeof(ps_pos_type) == sizeof(int) && sizeof(ps_level_scope) == sizeof(int),
	       "enums are stored through int pointers");

/* ---- dtypes ----------------------------------------------------------- */

const char *const sc_dtype_names[] = {"fp32", "tf32", "bf16", "fp16", "fp8", NULL};

const char *dtype_name(ps_dtype d)
{
	if ((int)d < 0 || d >= DTYPE_COUNT_)
		return "unknown";
	return sc_dtype_names[d];
}

int dtype_bytes(ps_dtype d)
{
	static const int bytes[DTYPE_COUNT_] = {4, 4, 2, 2, 1};
	if ((int)d < 0 || d >= DTYPE_COUNT_)
		return 0;
	return bytes[d];
}

ps_status dtype_parse(const char *s, ps_dtype *out)
{
	for (int i = 0; s && i < DTYPE_COUNT_; i++)
		if (strcmp(s, sc_dtype_names[i]) == 0) {
			*out = (ps_dtype)i;
			return PS_OK;
		}
	return PS_ERROR(PS_ERR_PARSE, "expected one of fp32, tf32, bf16, fp16, fp8, got \"%.40s\"", s ? s : "");
}

int scenario_world_size(const struct ps_scenario *sc) { return sc->cluster.nodes * sc->cluster.devices_per_node; }

const char *scenario_datadir(void)
{
	const char *dirs[3];
	if (sc_datadirs(dirs) > 0)
		return dirs[0];
#ifdef PS_INSTALL_DATADIR
	return PS_INSTALL_DATADIR;
#else
	return "scenarios";
#endif
}

/* Allowed keys per mapping, in canonical order (for messages). */
static const char *const top_keys[] = {"name", "model", "cluster", "strategy", "training", "sweep", NULL};
static const char *const model_keys[] = {"name", "layers", "hidden", "heads", "kv_heads", "head_dim",
					 "ffn_hidden", "ffn", "vocab", "seq_len", "norm", "position",
					 "tied_embeddings", "bias", "parallel_block", NULL};
static const char *const device_keys[] = {"name", "kind", "peak_flops", "memory", "memory_bandwidth",
					  "power", "price", "efficiency", NULL};
static const char *const cluster_keys[] = {"name", "devices_per_node", "nodes", "device", "network",
					   "stragglers", "failure_rate", NULL};

/* ---- loading helpers --------------------------------------------------- */

static ps_status pos_add(struct sc_ctx *ctx, const char *path, const struct sc_node *node)
{
	if (ctx->npos == ctx->cappos) {
		int cap = ctx->cappos ? ctx->cappos * 2 : 128;
		struct sc_pos *p = realloc(ctx->pos, sizeof *p * (size_t)cap);
		if (!p)
			return PS_ERROR(PS_ERR_NOMEM, "out of memory");
		ctx->pos = p;
		ctx->cappos = cap;
	}
	const char *cp = sc_arena_strndup(&ctx->arena, path, strlen(path));
	if (!cp)
		return PS_ERROR(PS_ERR_NOMEM, "out of memory");
	ctx->pos[ctx->npos].path = cp;
	ctx->pos[ctx->npos].node = node;
	ctx->npos++;
	return PS_OK;
}

/* Node recorded for path, else for its nearest recorded parent. */
static const struct sc_node *pos_find(const struct sc_ctx *ctx, const char *path)
{
	char p[512];
	snprintf(p, sizeof p, "%s", path);
	for (;;) {
		for (int i = 0; i < ctx->npos; i++)
			if (strcmp(ctx->pos[i].path, p) == 0)
				return ctx->pos[i].node;
		char *dot = strrchr(p, '.'), *br = strrchr(p, '[');
		char *cut = dot > br ? dot : br;
		if (!cut)
			break;
		*cut = '\0';
	}
	for (int i = 0; i < ctx->npos; i++)
		if (ctx->pos[i].path[0] == '\0')
			return ctx->pos[i].node;
	return NULL;
}

static void join(char *buf, size_t size, const char *path, const char *key)
{
	if (path && *path)
		snprintf(buf, size, "%s.%s", path, key);
	else
		snprintf(buf, size, "%s", key);
}

static int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 40 || lb > 40)
		return 99;
	int d[41][41];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < c)
				c = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < c)
				c = d[i][j - 1] + 1;
			d[i][j] = c;
		}
	return d[la][lb];
}

static ps_status unknown_key(const struct sc_node *k, const char *path, const char *const *allowed)
{
	char list[600], got[160], hint[120] = "", kp[512];
	sc_list_names(allowed, list, sizeof list);
	sc_quote(k->str, k->len, got, sizeof got);
	int best = 99;
	const char *near = NULL;
	for (int i = 0; allowed[i]; i++) {
		int d = edit_distance(k->str, allowed[i]);
		if (d < best) {
			best = d;
			near = allowed[i];
		}
	}
	if (near && best <= 2 && (size_t)best < strlen(k->str))
		snprintf(hint, sizeof hint, " (did you mean \"%s\"?)", near);
	char kname[80];
	sc_quote(k->str, k->len < 60 ? k->len : 60, kname, sizeof kname);
	/* the key path names the key itself, without quotes when it is plain */
	if (strlen(kname) == k->len + 2 && strlen(k->str) == k->len)
		join(kp, sizeof kp, path, k->str);
	else
		join(kp, sizeof kp, path, kname);
	return sc_error(PS_ERR_INVALID, k, kp, "expected one of %s%s, got %s", list, hint, got);
}

static ps_status check_keys(const struct sc_node *map, const char *path, const char *const *allowed)
{
	for (int i = 0; i < map->n; i++) {
		const struct sc_node *k = map->keys[i];
		bool ok = false;
		for (int j = 0; allowed[j] && !ok; j++)
			ok = strlen(allowed[j]) == k->len && memcmp(allowed[j], k->str, k->len) == 0;
		if (!ok)
			return unknown_key(k, path, allowed);
	}
	return PS_OK;
}

static ps_status expect_map(const struct sc_node *n, const struct sc_node *parent, const char *path,
			    const char *what)
{
	if (n && n->type == SC_MAP)
		return PS_OK;
	char got[160];
	sc_describe(n, got, sizeof got);
	return sc_error(PS_ERR_INVALID, n ? n : parent, path, "expected %s, got %s", what, got);
}

static ps_status missing_key(const struct sc_node *map, const char *path, const char *key)
{
	return sc_error(PS_ERR_INVALID, map, path, "expected required key \"%s\", got a mapping without it", key);
}

/* Parse one scalar node into a field. */
static ps_status load_value(struct sc_ctx *ctx, const struct sc_field *f, const struct sc_node *v, const char *path,
			    void *base)
{
	char expected[600], got[160];
	sc_describe(v, got, sizeof got);
	if (v->type != SC_SCALAR || sc_is_null(v) || strlen(v->str) != v->len) {
		sc_field_expected(f, expected, sizeof expected);
		return sc_error(PS_ERR_INVALID, v, path, "%s, got %s", expected, got);
	}
	ps_status st = sc_field_parse(f, v->str, base, expected, sizeof expected);
	if (st)
		return sc_error(st, v, path, "%s, got %s", expected, got);
	return pos_add(ctx, path, v);
}

/* Every field of a table that the mapping has; required ones must be there. */
static ps_status load_fields(struct sc_ctx *ctx, const struct sc_node *map, const char *path,
			     const struct sc_field *fields, void *base)
{
	char sub[512];
	for (const struct sc_field *f = fields; f->key; f++) {
		struct sc_node *v = sc_map_get(map, f->key, NULL);
		if (!v) {
			if (f->flags & F_REQUIRED)
				return missing_key(map, path, f->key);
			continue;
		}
		join(sub, sizeof sub, path, f->key);
		ps_status st = load_value(ctx, f, v, sub, base);
		if (st)
			return st;
	}
	return PS_OK;
}

/* A name from a file stem: printable, valid UTF-8, at most PS_NAME_MAX-1 bytes. */
static void name_from_stem(const char *stem, char *out)
{
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)(stem ? stem : "");
	while (*p && o < PS_NAME_MAX - 1) {
		int n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
		bool ok = n > 0;
		for (int i = 1; ok && i < n; i++)
			ok = (p[i] & 0xc0) == 0x80;
		if (ok && n == 2 && *p < 0xc2)
			ok = false; /* overlong */
		if (ok && n == 3) {
			unsigned cp = ((p[0] & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu);
			ok = cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff);
		}
		if (ok && n == 4) {
			unsigned cp = ((p[0] & 0x07u) << 18) | ((p[1] & 0x3fu) << 12) | ((p[2] & 0x3fu) << 6) | (p[3] & 0x3fu);
			ok = cp >= 0x10000 && cp <= 0x10ffff;
		}
		if (!ok || (n == 1 && (*p < 0x20 || *p == 0x7f))) {
			out[o++] = '?';
			p++;
			continue;
		}
		if (o + (size_t)n > PS_NAME_MAX - 1)
			break;
		memcpy(out + o, p, (size_t)n);
		o += (size_t)n;
		p += n;
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, PS_NAME_MAX, "scenario");
}

static const char *stem_of(char *buf, size_t size, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	snprintf(buf, size, "%s", base);
	size_t n = strlen(buf);
	if (n > 5 && strcmp(buf + n - 5, ".yaml") == 0)
		buf[n - 5] = '\0';
	else if (n > 4 && strcmp(buf + n - 4, ".yml") == 0)
		buf[n - 4] = '\0';
	return buf;
}

/* ---- sections --------------------------------------------------------- */

static ps_status load_model(struct sc_ctx *ctx, const struct sc_node *n, const struct sc_node *parent,
			    struct ps_model *m)
{
	ps_status st = expect_map(n, parent, "model", "a model preset name or a mapping");
	if (st)
		return st;
	if ((st = check_keys(n, "model", model_keys)) || (st = pos_add(ctx, "model", n)))
		return st;
	memset(m, 0, sizeof *m);
	m->ffn = FFN_GELU;
	m->norm = NORM_LAYERNORM;
	m->position = POS_LEARNED;
	m->tied_embeddings = true;
	m->bias = true;
	m->parallel_block = false;
	if ((st = load_fields(ctx, n, "model", sc_fields_model, m)))
		return st;
	if (!sc_map_get(n, "name", NULL))
		name_from_stem(n->default_name ? n->default_name : "custom", m->name);
	if (!sc_map_get(n, "kv_heads", NULL))
		m->kv_heads = m->heads;
	if (!sc_map_get(n, "head_dim", NULL)) {
		if (m->hidden % m->heads != 0) {
			const struct sc_node *h = sc_map_get(n, "heads", NULL);
			return sc_error(PS_ERR_INVALID, h, "model.heads",
					"expected a divisor of hidden (%d) when head_dim is not given, got \"%d\"",
					m->hidden, m->heads);
		}
		m->head_dim = m->hidden / m->heads;
	}
	if (!sc_map_get(n, "ffn_hidden", NULL)) {
		if (m->ffn == FFN_GELU) {
			m->ffn_hidden = 4 * m->hidden;
		} else {
			long h = 2L * 4 * m->hidden / 3;
			m->ffn_hidden = (int)(256 * ((h + 255) / 256));
		}
	}
	return PS_OK;
}

static ps_status load_device(struct sc_ctx *ctx, const struct sc_node *n, const struct sc_node *parent,
			     struct ps_device *d)
{
	const char *path = "cluster.device";
	char sub[512];
	ps_status st = expect_map(n, parent, path, "a device preset name or a mapping");
	if (st)
		return st;
	if ((st = check_keys(n, path, device_keys)) || (st = pos_add(ctx, path, n)))
		return st;
	memset(d, 0, sizeof *d);
	snprintf(d->kind, sizeof d->kind, "gpu");
	d->matmul_eff_max = 0.7;
	d->matmul_half_flop = 1e9;
	d->attn_eff_max = 0.5;
	d->mem_eff_max = 0.8;
	d->mem_half_bytes = 1e6;
	d->kernel_launch_s = 5e-6;
	d->overlap_slowdown = 0.1;
	d->alloc_overhead = 0.05;
	d->reserved_bytes = 1073741824.0;
	/* In canonical order: name, kind, peak_flops, memory... */
	for (const struct sc_field *f = sc_fields_device; f->key; f++) {
		if (strcmp(f->key, "memory") == 0) {
			struct sc_node *pf = sc_map_get(n, "peak_flops", NULL);
			if (!pf)
				return missing_key(n, path, "peak_flops");
			snprintf(sub, sizeof sub, "%s.peak_flops", path);
			if ((st = expect_map(pf, n, sub, "a mapping from dtype to FLOP rate")))
				return st;
			if ((st = check_keys(pf, sub, sc_dtype_names)) || (st = pos_add(ctx, sub, pf)))
				return st;
			static const struct sc_field peak = {"peak", FT_UNIT, 0, 0, 0, 0, INFINITY, 0, UNIT_FLOPS, NULL};
			bool any = false;
			for (int i = 0; i < DTYPE_COUNT_; i++) {
				struct sc_node *v = sc_map_get(pf, sc_dtype_names[i], NULL);
				if (!v)
					continue;
				char ps[540];
				snprintf(ps, sizeof ps, "%s.%s", sub, sc_dtype_names[i]);
				if ((st = load_value(ctx, &peak, v, ps, &d->peak_flops[i])))
					return st;
				any |= d->peak_flops[i] > 0;
			}
			if (!any)
				return sc_error(PS_ERR_INVALID, pf, sub,
						"expected a peak above 0 for at least one dtype, got none");
		}
		struct sc_node *v = sc_map_get(n, f->key, NULL);
		if (!v) {
			if (f->flags & F_REQUIRED)
				return missing_key(n, path, f->key);
			continue;
		}
		join(sub, sizeof sub, path, f->key);
		if ((st = load_value(ctx, f, v, sub, d)))
			return st;
	}
	if (!sc_map_get(n, "name", NULL))
		name_from_stem(n->default_name ? n->default_name : "custom", d->name);
	struct sc_node *eff = sc_map_get(n, "efficiency", NULL);
	if (eff) {
		snprintf(sub, sizeof sub, "%s.efficiency", path);
		static const char *const eff_keys[] = {"matmul_max", "matmul_half", "attention_max", "memory_max",
						       "memory_half", "launch_overhead", "overlap_slowdown",
						       "comm_overlap_slowdown", "allocator_overhead",
						       "reserved_memory", NULL};
		if ((st = expect_map(eff, n, sub, "a mapping of efficiency parameters")))
			return st;
		if ((st = check_keys(eff, sub, eff_keys)) || (st = pos_add(ctx, sub, eff)) ||
		    (st = load_fields(ctx, eff, sub, sc_fields_eff, d)))
			return st;
	}
	return PS_OK;
}

static ps_status load_levels(struct sc_ctx *ctx, const struct sc_node *n, const struct sc_node *parent,
			     struct ps_cluster *c)
{
	static const char *const level_keys[] = {"name", "scope", "bandwidth", "latency", "rails",
						 "leaf_nodes", "oversubscription", "efficiency", NULL};
	char got[160], sub[512], sub2[600];
	ps_status st;
	if (!n)
		return missing_key(parent, "cluster", "network");
	if (n->type != SC_SEQ || n->n < 1 || n->n > PS_MAX_LEVELS) {
		if (n->type == SC_SEQ)
			snprintf(got, sizeof got, "%d levels", n->n);
		else
			sc_describe(n, got, sizeof got);
		return sc_error(PS_ERR_INVALID, n, "cluster.network",
				"expected a list of 1 to %d network levels (innermost first), got %s", PS_MAX_LEVELS, got);
	}
	if ((st = pos_add(ctx, "cluster.network", n)))
		return st;
	c->nlevels = n->n;
	bool seen_cluster = false;
	for (int i = 0; i < n->n; i++) {
		const struct sc_node *lv = n->vals[i];
		struct ps_net_level *l = &c->levels[i];
		snprintf(sub, sizeof sub, "cluster.network[%d]", i);
		if ((st = expect_map(lv, n, sub, "a network level mapping")) || (st = check_keys(lv, sub, level_keys)) ||
		    (st = pos_add(ctx, sub, lv)))
			return st;
		memset(l, 0, sizeof *l);
		snprintf(l->name, sizeof l->name, "level%d", i);
		l->rails = 1;
		l->leaf_nodes = 0;
		l->oversubscription = 1;
		l->eff = 1;
		if ((st = load_fields(ctx, lv, sub, sc_fields_level, l)))
			return st;
		if (l->scope == LEVEL_NODE) {
			static const char *const cluster_only[] = {"rails", "leaf_nodes", "oversubscription", NULL};
			for (int j = 0; cluster_only[j]; j++) {
				struct sc_node *v = sc_map_get(lv, cluster_only[j], NULL);
				if (v) {
					sc_describe(v, got, sizeof got);
					snprintf(sub2, sizeof sub2, "%s.%s", sub, cluster_only[j]);
					return sc_error(PS_ERR_INVALID, v, sub2,
							"expected no %s on a level with scope: node (only for scope: cluster), got %s",
							cluster_only[j], got);
				}
			}
			if (seen_cluster) {
				snprintf(sub2, sizeof sub2, "%s.scope", sub);
				return sc_error(PS_ERR_INVALID, sc_map_get(lv, "scope", NULL), sub2,
						"expected node levels before cluster levels (innermost first), got \"node\"");
			}
		} else {
			seen_cluster = true;
		}
	}
	return PS_OK;
}

static ps_status load_stragglers(struct sc_ctx *ctx, const struct sc_node *n, struct ps_cluster *c)
{
	static const char *const keys[] = {"rank", "slowdown", NULL};
	char got[160], sub[512];
	ps_status st;
	if (n->type != SC_SEQ || n->n > PS_MAX_PERTURB) {
		if (n->type == SC_SEQ)
			snprintf(got, sizeof got, "%d entries", n->n);
		else
			sc_describe(n, got, sizeof got);
		return sc_error(PS_ERR_INVALID, n, "cluster.stragglers",
				"expected a list of at most %d {rank, slowdown} entries, got %s", PS_MAX_PERTURB, got);
	}
	if ((st = pos_add(ctx, "cluster.stragglers", n)))
		return st;
	c->nperturb = n->n;
	for (int i = 0; i < n->n; i++) {
		const struct sc_node *e = n->vals[i];
		snprintf(sub, sizeof sub, "cluster.stragglers[%d]", i);
		if ((st = expect_map(e, n, sub, "a mapping {rank, slowdown}")) || (st = check_keys(e, sub, keys)) ||
		    (st = pos_add(ctx, sub, e)) || (st = load_fields(ctx, e, sub, sc_fields_perturb, &c->perturb[i])))
			return st;
		for (int j = 0; j < i; j++)
			if (c->perturb[j].rank == c->perturb[i].rank) {
				char rp[540];
				snprintf(rp, sizeof rp, "%s.rank", sub);
				return sc_error(PS_ERR_INVALID, sc_map_get(e, "rank", NULL), rp,
						"expected each rank once (first in stragglers[%d]), got \"%d\" again", j,
						c->perturb[i].rank);
			}
	}
	return PS_OK;
}

static ps_status load_cluster(struct sc_ctx *ctx, const struct sc_node *n, const struct sc_node *parent,
			      struct ps_cluster *c)
{
	ps_status st = expect_map(n, parent, "cluster", "a cluster preset name or a mapping");
	if (st)
		return st;
	if ((st = check_keys(n, "cluster", cluster_keys)) || (st = pos_add(ctx, "cluster", n)))
		return st;
	memset(c, 0, sizeof *c);
	/* canonical order: name, devices_per_node, nodes, device, network, stragglers, failure_rate */
	for (const struct sc_field *f = sc_fields_cluster; f->key; f++) {
		if (strcmp(f->key, "failure_rate") == 0) {
			struct sc_node *dv = sc_map_get(n, "device", NULL);
			if (!dv)
				return missing_key(n, "cluster", "device");
			if ((st = load_device(ctx, dv, n, &c->device)))
				return st;
			if ((st = load_levels(ctx, sc_map_get(n, "network", NULL), n, c)))
				return st;
			struct sc_node *sg = sc_map_get(n, "stragglers", NULL);
			if (sg && (st = load_stragglers(ctx, sg, c)))
				return st;
		}
		struct sc_node *v = sc_map_get(n, f->key, NULL);
		if (!v) {
			if (f->flags & F_REQUIRED)
				return missing_key(n, "cluster", f->key);
			continue;
		}
		char sub[512];
		join(sub, sizeof sub, "cluster", f->key);
		if ((st = load_value(ctx, f, v, sub, c)))
			return st;
	}
	if (!sc_map_get(n, "name", NULL))
		name_from_stem(n->default_name ? n->default_name : "custom", c->name);
	return PS_OK;
}

/* Same order as sc_fields_strategy. */
static const char *const strategy_key_list[] = {
	"dp", "tp", "pp", "vpp", "cp", "micro_batch", "global_batch", "zero_stage", "distributed_optimizer",
	"recompute", "sequence_parallel", "schedule", "overlap_grad_reduce", "overlap_param_gather",
	"overlap_tp_comm", "parallel_block", "dtype", "grad_dtype", "bucket_size", "collective_algo",
	"allow_tp_across_nodes", "flash_attention", NULL};

static const char *const *strategy_keys(void) { return strategy_key_list; }

static ps_status load_strategy(struct sc_ctx *ctx, const struct sc_node *n, const struct sc_node *parent,
			       struct ps_scenario *sc)
{
	struct ps_strategy *s = &sc->strategy;
	ps_status st = expect_map(n, parent, "strategy", "a mapping");
	if (st)
		return st;
	if ((st = check_keys(n, "strategy", strategy_keys())) || (st = pos_add(ctx, "strategy", n)))
		return st;
	memset(s, 0, sizeof *s);
	s->dp_auto = true;
	s->tp = s->pp = s->vpp = s->cp = s->micro_batch = 1;
	s->recompute = RECOMPUTE_NONE;
	s->overlap_grad_reduce = true;
	s->overlap_param_gather = true;
	s->flash_attention = true;
	s->parallel_block = sc->model.parallel_block;
	s->dtype = DTYPE_BF16;
	s->bucket_bytes = 40e6;
	s->coll_algo = ALGO_AUTO;
	if ((st = load_fields(ctx, n, "strategy", sc_fields_strategy, s)))
		return st;
	if (!sc_map_get(n, "zero_stage", NULL))
		s->zero_stage = s->distributed_optimizer ? 1 : 0;
	if (!sc_map_get(n, "schedule", NULL))
		s->schedule = s->vpp > 1 ? SCHED_INTERLEAVED : SCHED_1F1B;
	if (!sc_map_get(n, "grad_dtype", NULL))
		s->grad_dtype = s->distributed_optimizer ? DTYPE_FP32 : s->dtype;
	return PS_OK;
}

static ps_status load_training(struct sc_ctx *ctx, const struct sc_node *n, const struct sc_node *parent,
			       struct ps_training *t)
{
	static const char *const keys[] = {"tokens", "deadline", NULL};
	ps_status st = expect_map(n, parent, "training", "a mapping {tokens, deadline}");
	if (st)
		return st;
	if ((st = check_keys(n, "training", keys)) || (st = pos_add(ctx, "training", n)))
		return st;
	return load_fields(ctx, n, "training", sc_fields_training, t);
}

/* ---- sweep ------------------------------------------------------------ */

static void sweep_free(struct ps_sweep *sw)
{
	for (int i = 0; i < sw->naxes; i++) {
		for (int j = 0; j < sw->axes[i].nvalues; j++)
			free(sw->axes[i].values[j]);
		free(sw->axes[i].values);
	}
	free(sw->axes);
	sw->axes = NULL;
	sw->naxes = 0;
}

/* Canonical order of sweep keys: cluster.nodes, then strategy keys. */
static int sweep_rank(const char *key)
{
	if (strcmp(key, "cluster.nodes") == 0)
		return 0;
	int i = 1;
	for (const struct sc_field *f = sc_fields_strategy; f->key; f++, i++)
		if (strcmp(key + 9, f->key) == 0)
			return i;
	return 1000;
}


ps_status sc_sweep_apply(struct ps_scenario *sc, const char *key, const char *value)
{
	char expected[600];
	ps_status st;
	if (strcmp(key, "cluster.nodes") == 0)
		st = sc_field_parse(&sc_field_nodes, value, &sc->cluster, expected, sizeof expected);
	else if (strncmp(key, "strategy.", 9) == 0 && sc_field_find(sc_fields_strategy, key + 9))
		st = sc_field_parse(sc_field_find(sc_fields_strategy, key + 9), value, &sc->strategy, expected,
				    sizeof expected);
	else
		return PS_ERROR(PS_ERR_INTERNAL, "sweep key %s is not sweepable", key);
	if (st)
		return PS_ERROR(st, "%s: %s, got \"%s\"", key, expected, value);
	return PS_OK;
}

static ps_status load_sweep(struct sc_ctx *ctx, const struct sc_node *n, struct ps_scenario *sc)
{
	char got[160], sub[512], allowed[700];
	ps_status st;
	if ((st = expect_map(n, n, "sweep", "a mapping from keys to lists of values")))
		return st;
	if (n->n == 0)
		return sc_error(PS_ERR_INVALID, n, "sweep", "expected at least one key, got an empty mapping");
	if ((st = pos_add(ctx, "sweep", n)))
		return st;
	sc_list_names(strategy_keys(), allowed, sizeof allowed);
	struct ps_sweep *sw = &sc->sweep;
	sw->axes = calloc((size_t)n->n, sizeof *sw->axes);
	if (!sw->axes)
		return PS_ERROR(PS_ERR_NOMEM, "out of memory");
	double combos = 1;
	for (int i = 0; i < n->n; i++) {
		const struct sc_node *k = n->keys[i], *v = n->vals[i];
		char key[PS_NAME_MAX];
		const struct sc_field *f = NULL;
		const char *ks = k->str;
		if (strlen(ks) == k->len && strlen(ks) < 40) {
			if (strcmp(ks, "cluster.nodes") == 0)
				f = &sc_field_nodes;
			else if (strncmp(ks, "strategy.", 9) == 0)
				f = sc_field_find(sc_fields_strategy, ks + 9);
			else
				f = sc_field_find(sc_fields_strategy, ks);
		}
		if (!f) {
			sc_quote(k->str, k->len, got, sizeof got);
			join(sub, sizeof sub, "sweep", strlen(k->str) == k->len && k->len < 60 ? k->str : "?");
			return sc_error(PS_ERR_INVALID, k, sub,
					"expected a strategy key (%s; also written strategy.KEY) or cluster.nodes, got %s",
					allowed, got);
		}
		if (f == &sc_field_nodes)
			snprintf(key, sizeof key, "cluster.nodes");
		else
			snprintf(key, sizeof key, "strategy.%s", f->key);
		join(sub, sizeof sub, "sweep", ks);
		for (int j = 0; j < sw->naxes; j++)
			if (strcmp(sw->axes[j].key, key) == 0) {
				sc_quote(k->str, k->len, got, sizeof got);
				return sc_error(PS_ERR_INVALID, k, sub, "expected each key once (%s is swept twice), got %s",
						key, got);
			}
		if (v->type != SC_SEQ || v->n < 1 || v->n > SC_MAX_SWEEP_VALUES) {
			if (v->type == SC_SEQ)
				snprintf(got, sizeof got, "%d values", v->n);
			else
				sc_describe(v, got, sizeof got);
			return sc_error(PS_ERR_INVALID, v, sub, "expected a list of 1 to %d values, got %s",
					SC_MAX_SWEEP_VALUES, got);
		}
		struct ps_sweep_axis *ax = &sw->axes[sw->naxes++];
		snprintf(ax->key, sizeof ax->key, "%s", key);
		ax->line = v->line;
		ax->col = v->col;
		ax->values = calloc((size_t)v->n, sizeof *ax->values);
		if (!ax->values)
			return PS_ERROR(PS_ERR_NOMEM, "out of memory");
		for (int j = 0; j < v->n; j++) {
			char ep[540], text[128];
			snprintf(ep, sizeof ep, "%s[%d]", sub, j);
			struct ps_scenario scratch = *sc;
			void *base = f == &sc_field_nodes ? (void *)&scratch.cluster : (void *)&scratch.strategy;
			if ((st = load_value(ctx, f, v->vals[j], ep, base)))
				return st;
			sc_field_format(f, base, text, sizeof text);
			for (int m = 0; m < ax->nvalues; m++)
				if (strcmp(ax->values[m], text) == 0) {
					sc_describe(v->vals[j], got, sizeof got);
					return sc_error(PS_ERR_INVALID, v->vals[j], ep,
							"expected each value once (same as item %d), got %s", m, got);
				}
			if (!(ax->values[ax->nvalues] = strdup(text)))
				return PS_ERROR(PS_ERR_NOMEM, "out of memory");
			ax->nvalues++;
		}
		combos *= v->n;
	}
	if (combos > SC_MAX_SWEEP_COMBOS)
		return sc_error(PS_ERR_INVALID, n, "sweep", "expected at most %d combinations, got %.0f",
				SC_MAX_SWEEP_COMBOS, combos);
	/* Fixed axis order (insertion sort, few axes). */
	for (int i = 1; i < sw->naxes; i++)
		for (int j = i; j > 0 && sweep_rank(sw->axes[j].key) < sweep_rank(sw->axes[j - 1].key); j--) {
			struct ps_sweep_axis t = sw->axes[j];
			sw->axes[j] = sw->axes[j - 1];
			sw->axes[j - 1] = t;
		}
	return PS_OK;
}

/* ---- consistency ------------------------------------------------------ */

static int64_t mul_sat(int64_t a, int64_t b)
{
	if (a <= 0 || b <= 0)
		return 0;
	if (a > INT64_MAX / b)
		return INT64_MAX;
	return a * b;
}

bool sc_derive_dp(struct ps_scenario *sc)
{
	struct ps_strategy *s = &sc->strategy;
	if (!s->dp_auto)
		return true;
	int64_t d = mul_sat(mul_sat(s->tp, s->pp), s->cp);
	int64_t world = (int64_t)sc->cluster.nodes * sc->cluster.devices_per_node;
	if (d <= 0 || world % d != 0) {
		s->dp = 0;
		return false;
	}
	s->dp = (int)(world / d);
	return true;
}

#define FAIL(k, ...)                                                                                           \
	do {                                                                                                   \
		snprintf(key, keysize, "%s", k);                                                               \
		snprintf(msg, msgsize, __VA_ARGS__);                                                           \
		return PS_ERR_INVALID;                                                                         \
	} while (0)

ps_status sc_consistency(const struct ps_scenario *sc, char *key, size_t keysize, char *msg, size_t msgsize)
{
	const struct ps_model *m = &sc->model;
	const struct ps_cluster *c = &sc->cluster;
	const struct ps_strategy *s = &sc->strategy;
	int64_t world = (int64_t)c->nodes * c->devices_per_node;

	if (m->heads < 1 || m->kv_heads < 1 || m->hidden < 1 || m->layers < 1 || m->head_dim < 1 ||
	    m->ffn_hidden < 1 || m->seq_len < 1 || m->vocab < 1)
		FAIL("model", "expected positive sizes, got a zero or negative one");
	if (c->nodes < 1 || c->devices_per_node < 1)
		FAIL("cluster", "expected positive nodes and devices_per_node, got %d and %d", c->nodes,
		     c->devices_per_node);
	if (s->tp < 1 || s->pp < 1 || s->vpp < 1 || s->cp < 1 || s->micro_batch < 1 || s->global_batch < 1 ||
	    (!s->dp_auto && s->dp < 1))
		FAIL("strategy", "expected positive parallel degrees and batch sizes, got a zero or negative one");
	if ((int)s->schedule < 0 || s->schedule > SCHED_INTERLEAVED)
		FAIL("strategy.schedule", "expected gpipe, 1f1b or interleaved, got %d", (int)s->schedule);
	if (m->kv_heads > m->heads || m->heads % m->kv_heads != 0)
		FAIL("model.kv_heads", "expected a divisor of heads (%d), got \"%d\"", m->heads, m->kv_heads);
	if (c->device.reserved_bytes >= c->device.mem_bytes) {
		char r[64], mm[64];
		units_format(UNIT_BYTES, c->device.reserved_bytes, r, sizeof r);
		units_format(UNIT_BYTES, c->device.mem_bytes, mm, sizeof mm);
		FAIL("cluster.device.efficiency.reserved_memory", "expected less than the device memory (%s), got \"%s\"",
		     mm, r);
	}
	bool has_node = false, has_cluster = false;
	for (int i = 0; i < c->nlevels; i++) {
		has_node |= c->levels[i].scope == LEVEL_NODE;
		has_cluster |= c->levels[i].scope == LEVEL_CLUSTER;
	}
	if (c->devices_per_node > 1 && !has_node)
		FAIL("cluster.network", "expected a level with scope: node when devices_per_node (%d) > 1, got none",
		     c->devices_per_node);
	if (c->nodes > 1 && !has_cluster)
		FAIL("cluster.network", "expected a level with scope: cluster when nodes (%d) > 1, got none", c->nodes);

	int64_t tpc = mul_sat(mul_sat(s->tp, s->pp), s->cp);
	if (s->dp_auto) {
		/* dp is derived: blame the first factor that breaks the division */
		const char *k = world % s->tp != 0 ? "strategy.tp" : world % mul_sat(s->tp, s->pp) != 0 ? "strategy.pp" : "strategy.cp";
		if (world % tpc != 0)
			FAIL(k,
			     "expected tp*pp*cp (%d*%d*%d) to divide the %lld devices (dp: auto), got a remainder of %lld",
			     s->tp, s->pp, s->cp, (long long)world, (long long)(world % tpc));
	}
	int64_t dp = s->dp_auto ? world / tpc : s->dp;
	if (!s->dp_auto && mul_sat(dp, tpc) != world)
		FAIL("strategy.dp",
		     "expected dp*tp*pp*cp to equal the %lld devices (nodes %d * devices_per_node %d), got %d*%d*%d*%d = %lld",
		     (long long)world, c->nodes, c->devices_per_node, s->dp, s->tp, s->pp, s->cp,
		     (long long)mul_sat(dp, tpc));
	if (m->heads % s->tp != 0)
		FAIL("strategy.tp", "expected a divisor of model.heads (%d), got \"%d\"", m->heads, s->tp);
	if (m->kv_heads % s->tp != 0)
		FAIL("strategy.tp",
		     "expected a divisor of model.kv_heads (%d) (Megatron splits key/value heads across TP ranks), got \"%d\"",
		     m->kv_heads, s->tp);
	if (m->ffn_hidden % s->tp != 0)
		FAIL("strategy.tp", "expected a divisor of model.ffn_hidden (%d), got \"%d\"", m->ffn_hidden, s->tp);
	if (s->tp > c->devices_per_node && !s->allow_tp_across_nodes)
		FAIL("strategy.tp",
		     "expected at most devices_per_node (%d) unless allow_tp_across_nodes is true, got \"%d\"",
		     c->devices_per_node, s->tp);
	if (s->sequence_parallel && s->tp == 1)
		FAIL("strategy.sequence_parallel", "expected false when tp is 1, got \"true\"");
	if (s->sequence_parallel && m->seq_len % s->tp != 0)
		FAIL("strategy.tp", "expected a divisor of model.seq_len (%d) with sequence_parallel, got \"%d\"",
		     m->seq_len, s->tp);
	if (s->cp > 1 && m->seq_len % (2 * (int64_t)s->cp) != 0)
		FAIL("strategy.cp", "expected 2*cp to divide model.seq_len (%d), got \"%d\"", m->seq_len, s->cp);
	if (s->vpp > 1 && s->schedule != SCHED_INTERLEAVED)
		FAIL("strategy.vpp", "expected 1 unless schedule is interleaved (schedule is %s), got \"%d\"",
		     sc_sched_names[s->schedule], s->vpp);
	if (s->schedule == SCHED_INTERLEAVED && s->vpp == 1)
		FAIL("strategy.schedule", "expected gpipe or 1f1b when vpp is 1 (interleaved needs vpp > 1), got \"interleaved\"");
	if (s->vpp > 1 && s->pp == 1)
		FAIL("strategy.vpp", "expected 1 when pp is 1 (interleaving needs pp > 1), got \"%d\"", s->vpp);
	if (m->layers % s->pp != 0)
		FAIL("strategy.pp", "expected a divisor of model.layers (%d), got \"%d\"", m->layers, s->pp);
	if (m->layers % mul_sat(s->pp, s->vpp) != 0)
		FAIL("strategy.vpp", "expected pp*vpp (%d*%d) to divide model.layers (%d), got \"%d\"", s->pp, s->vpp,
		     m->layers, s->vpp);
	int64_t dmb = mul_sat(dp, s->micro_batch);
	if (s->global_batch % dmb != 0)
		FAIL("strategy.global_batch", "expected a multiple of dp*micro_batch (%lld*%d = %lld), got \"%d\"",
		     (long long)dp, s->micro_batch, (long long)dmb, s->global_batch);
	if (s->schedule == SCHED_INTERLEAVED && (s->global_batch / dmb) % s->pp != 0)
		FAIL("strategy.global_batch",
		     "expected the number of micro-batches (global_batch/(dp*micro_batch) = %lld) to be a multiple of pp (%d) with the interleaved schedule, got \"%d\"",
		     (long long)(s->global_batch / dmb), s->pp, s->global_batch);
	if (s->distributed_optimizer && s->zero_stage != 1)
		FAIL("strategy.zero_stage", "expected 1 with distributed_optimizer: true (it is ZeRO-1), got \"%d\"",
		     s->zero_stage);
	if (s->dtype < 0 || s->dtype >= DTYPE_COUNT_ || !(c->device.peak_flops[s->dtype] > 0)) {
		char sup[64] = "";
		size_t o = 0;
		for (int i = 0; i < DTYPE_COUNT_; i++)
			if (c->device.peak_flops[i] > 0)
				o += (size_t)snprintf(sup + o, sizeof sup - o, "%s%s", o ? ", " : "", sc_dtype_names[i]);
		FAIL("strategy.dtype", "expected a dtype with a peak on device %s (%s), got \"%s\"", c->device.name, sup,
		     dtype_name(s->dtype));
	}
	for (int i = 0; i < c->nperturb; i++)
		if (c->perturb[i].rank >= world) {
			char k[64];
			snprintf(k, sizeof k, "cluster.stragglers[%d].rank", i);
			FAIL(k, "expected a rank below the world size (%lld), got \"%d\"", (long long)world,
			     c->perturb[i].rank);
		}
	return PS_OK;
}

ps_status scenario_check_consistency(const struct ps_scenario *sc, char *msg, size_t msgsize)
{
	char key[128], m[800];
	ps_status st = sc_consistency(sc, key, sizeof key, m, sizeof m);
	if (st) {
		snprintf(msg, msgsize, "%s: %s", key, m);
		return PS_ERROR(st, "%s: %s", key, m);
	}
	if (msgsize)
		msg[0] = '\0';
	return PS_OK;
}

/* ---- entry points ----------------------------------------------------- */

static ps_status load_tree(struct sc_ctx *ctx, struct sc_node *root, const char *file, struct ps_scenario *sc)
{
	char stem[PATH_MAX];
	ps_status st;
	if (!root) {
		struct sc_node at = {.file = file, .line = 1, .col = 1};
		return sc_error(PS_ERR_INVALID, &at, "", "expected a mapping with model, cluster and strategy, got nothing");
	}
	if ((st = expect_map(root, root, "", "a mapping with model, cluster and strategy")))
		return st;
	if ((st = check_keys(root, "", top_keys)) || (st = pos_add(ctx, "", root)))
		return st;
	struct sc_node *v = sc_map_get(root, "name", NULL);
	if (v) {
		if ((st = load_value(ctx, &sc_field_name, v, "name", sc)))
			return st;
	} else {
		name_from_stem(stem_of(stem, sizeof stem, file), sc->name);
	}
	struct sc_node *model = sc_map_get(root, "model", NULL), *cluster = sc_map_get(root, "cluster", NULL);
	if (!model)
		return missing_key(root, "", "model");
	if ((st = sc_resolve(ctx, model, SC_PRESET_MODEL, "model", &model)) ||
	    (st = load_model(ctx, model, root, &sc->model)))
		return st;
	if (!cluster)
		return missing_key(root, "", "cluster");
	if ((st = sc_resolve(ctx, cluster, SC_PRESET_CLUSTER, "cluster", &cluster)) ||
	    (st = load_cluster(ctx, cluster, root, &sc->cluster)))
		return st;
	struct sc_node *strat = sc_map_get(root, "strategy", NULL);
	if (!strat)
		return missing_key(root, "", "strategy");
	if ((st = load_strategy(ctx, strat, root, sc)))
		return st;
	struct sc_node *tr = sc_map_get(root, "training", NULL);
	if (tr && (st = load_training(ctx, tr, root, &sc->training)))
		return st;
	struct sc_node *sw = sc_map_get(root, "sweep", NULL);
	if (sw && (st = load_sweep(ctx, sw, sc)))
		return st;

	char key[128], msg[800];
	if (sc->sweep.naxes == 0) {
		sc_derive_dp(sc);
		if (sc_consistency(sc, key, sizeof key, msg, sizeof msg))
			return sc_error(PS_ERR_INVALID, pos_find(ctx, key), key, "%s", msg);
	} else {
		sc_derive_dp(sc); /* dp of the base values; 0 if they do not divide */
		int nvalid = 0, ntotal = 0;
		char reason[900] = "";
		if ((st = sc_expand(sc, NULL, NULL, NULL, &nvalid, &ntotal, reason, sizeof reason)))
			return st;
		if (nvalid == 0)
			return sc_error(PS_ERR_INVALID, pos_find(ctx, "sweep"), "sweep",
					"expected at least one consistent combination, got none of %d (first: %s)", ntotal,
					reason);
	}
	return PS_OK;
}

static ps_status load_text(const char *text, size_t len, const char *file, const char *dir, const char *real,
			   const char *path, struct ps_scenario *sc)
{
	struct sc_ctx ctx;
	sc_ctx_init(&ctx);
	memset(sc, 0, sizeof *sc);
	snprintf(sc->path, sizeof sc->path, "%s", path ? path : "");
	ctx.chain[0] = real;
	ctx.nchain = 1;
	struct sc_node *root = NULL;
	ps_status st = sc_yaml_parse(&ctx, text, len, file, dir, "", &root);
	if (!st)
		st = load_tree(&ctx, root, file, sc);
	if (!st)
		st = sc_canonical(sc, &sc->canonical);
	if (!st)
		st = sc_sha256_hex(sc->canonical, sc->sha256);
	sc_ctx_fini(&ctx);
	if (st)
		scenario_fini(sc);
	return st;
}

ps_status scenario_load_string(const char *text, size_t len, const char *name_for_messages, struct ps_scenario *sc)
{
	const char *file = name_for_messages && *name_for_messages ? name_for_messages : "<string>";
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", file);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	if (!text) {
		memset(sc, 0, sizeof *sc);
		return PS_ERROR(PS_ERR_INVALID, "%s: expected scenario text, got NULL", file);
	}
	return load_text(text, len, file, dir, NULL, "", sc);
}

ps_status scenario_load(const char *path, struct ps_scenario *sc)
{
	memset(sc, 0, sizeof *sc);
	if (!path || !*path)
		return PS_ERROR(PS_ERR_IO, "expected a scenario file name, got nothing");
	FILE *f = fopen(path, "rb");
	if (!f)
		return PS_ERROR(PS_ERR_IO, "%s: expected a readable scenario file, got \"%s\"", path, strerror(errno));
	size_t cap = 4096, len = 0;
	char *text = malloc(cap);
	while (text) {
		if (len + 1 >= cap) {
			if (cap > SC_MAX_FILE_BYTES) {
				free(text);
				fclose(f);
				return PS_ERROR(PS_ERR_IO, "%s: expected a scenario file of at most 1 MiB, got more", path);
			}
			char *t = realloc(text, cap * 2);
			if (!t) {
				free(text);
				text = NULL;
				break;
			}
			text = t;
			cap *= 2;
		}
		size_t r = fread(text + len, 1, cap - len - 1, f);
		len += r;
		if (r == 0)
			break;
	}
	int rerr = ferror(f);
	fclose(f);
	if (!text)
		return PS_ERROR(PS_ERR_NOMEM, "out of memory reading %s", path);
	if (rerr) {
		free(text);
		return PS_ERROR(PS_ERR_IO, "%s: expected a readable scenario file, got a read error", path);
	}
	text[len] = '\0';
	char dir[PATH_MAX], real[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	const char *rp = realpath(path, real) ? real : NULL;
	ps_status st = load_text(text, len, path, dir, rp, path, sc);
	free(text);
	return st;
}

void scenario_fini(struct ps_scenario *sc)
{
	if (!sc)
		return;
	free(sc->canonical);
	sweep_free(&sc->sweep);
	memset(sc, 0, sizeof *sc);
}
