/* scenario-int.h — private to the scenario loader (sim/scenario*.c).
 *
 * The loader works in three passes:
 *   1. scenario-yaml.c turns YAML text into a tree of sc_node (libyaml event
 *      API), keeping file, line and column (1-based) of every node, refusing
 *      duplicate keys, aliases and more than one document;
 *   2. scenario-yaml.c resolves `include:` (model, cluster, cluster.device),
 *      merging overrides into the included mapping;
 *   3. scenario.c validates the resolved tree against the schema and fills
 *      struct ps_scenario; scenario-canon.c writes the canonical text and
 *      expands sweeps.
 * All nodes and strings of one load live in one arena, freed at once. */
#ifndef PS_SCENARIO_INT_H
#define PS_SCENARIO_INT_H

#include <stdbool.h>
#include <stddef.h>
#include "scenario.h"
#include "status.h"
#include "units.h"

#define SC_MAX_DEPTH 64          /* YAML nesting */
#define SC_MAX_INCLUDE_DEPTH 8   /* nested include: */
#define SC_MAX_FILE_BYTES (1 << 20)
#define SC_MAX_MAP_ENTRIES 10000
#define SC_MAX_SWEEP_COMBOS 100000
#define SC_MAX_SWEEP_VALUES 1000

enum sc_node_type { SC_SCALAR, SC_MAP, SC_SEQ };

struct sc_node {
	enum sc_node_type type;
	const char *file;         /* name for messages (arena) */
	int line, col;            /* 1-based */
	/* SC_SCALAR */
	char *str;                /* NUL-terminated copy (may contain NUL: see len) */
	size_t len;
	bool plain;               /* plain style (not quoted, not block) */
	/* SC_MAP: keys[i] -> vals[i]; SC_SEQ: vals[i] */
	int n, cap;
	struct sc_node **keys, **vals;
	const char *default_name; /* SC_MAP from a preset: stem of the preset file */
	const char *dir;          /* directory of the file this node was read from */
};

struct sc_arena_block;
struct sc_arena {
	struct sc_arena_block *head;
};

void *sc_arena_alloc(struct sc_arena *a, size_t size);   /* zeroed; NULL on OOM */
char *sc_arena_strndup(struct sc_arena *a, const char *s, size_t n);
void sc_arena_free(struct sc_arena *a);

/* Kinds of includable mappings: where presets are looked up. */
enum sc_preset { SC_PRESET_MODEL, SC_PRESET_CLUSTER, SC_PRESET_DEVICE };

struct sc_pos {
	const char *path;        /* "strategy.tp" (arena) */
	const struct sc_node *node;
};

struct sc_ctx {
	struct sc_arena arena;
	const char *chain[SC_MAX_INCLUDE_DEPTH + 2]; /* real paths of the files being included */
	int nchain;
	struct sc_pos *pos;      /* where each validated key was (malloc'd) */
	int npos, cappos;
};

void sc_ctx_init(struct sc_ctx *ctx);
void sc_ctx_fini(struct sc_ctx *ctx);

/* Parse YAML text into a tree.  file: name for messages; dir: directory
 * for relative includes; rootpath: key path of the root ("" at top level).
 * *out is NULL for an empty document (no error). */
ps_status sc_yaml_parse(struct sc_ctx *ctx, const char *text, size_t len, const char *file, const char *dir,
			const char *rootpath, struct sc_node **out);

/* Resolve includes of a model / cluster / device node; *out is the merged
 * mapping (or node itself when it is not a mapping or scalar). */
ps_status sc_resolve(struct sc_ctx *ctx, struct sc_node *node, enum sc_preset kind, const char *path,
		     struct sc_node **out);

/* Raise "FILE:LINE:COL: path: message" at node (path "" -> "(top level)"). */
ps_status sc_error(ps_status code, const struct sc_node *at, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* `"text"` (escaped, shortened), `a mapping`, `a list`, `nothing`. */
void sc_describe(const struct sc_node *n, char *buf, size_t size);
/* Escaped, quoted text for messages. */
void sc_quote(const char *s, size_t len, char *buf, size_t size);
/* Is this scalar a YAML null (plain "", "~", "null")? */
bool sc_is_null(const struct sc_node *n);
/* Value of key in a mapping, or NULL; *key_out gets the key node. */
struct sc_node *sc_map_get(const struct sc_node *map, const char *key, struct sc_node **key_out);

/* Directories searched for presets, in order ($PARASIM_DATADIR, source
 * tree, install dir); returns how many were filled. */
int sc_datadirs(const char *dirs[3]);

/* Schema: one table per mapping, in canonical key order, NULL-key terminated. */
enum sc_ftype {
	FT_INT,    /* int, imin..imax */
	FT_DOUBLE, /* double, dmin..dmax (F_MIN_OPEN / F_MAX_OPEN exclude the bounds) */
	FT_UNIT,   /* double with a unit (unit); F_MIN_OPEN: must be > 0 */
	FT_BOOL,   /* bool */
	FT_ENUM,   /* int-sized enum, names[value] */
	FT_NAME,   /* char[PS_NAME_MAX], printable text */
	FT_KIND,   /* char[16], one of names */
	FT_DP      /* int "dp" or "auto" (sets ps_strategy.dp_auto) */
};
#define F_REQUIRED 1
#define F_MIN_OPEN 2
#define F_MAX_OPEN 4

struct sc_field {
	const char *key;
	enum sc_ftype type;
	size_t off;
	long imin, imax;
	double dmin, dmax;
	int flags;
	ps_unit_kind unit;
	const char *const *names;
};

extern const struct sc_field sc_fields_model[], sc_fields_device[], sc_fields_eff[], sc_fields_level[],
	sc_fields_cluster[], sc_fields_perturb[], sc_fields_strategy[], sc_fields_training[];
extern const char *const sc_dtype_names[];

/* Parse text (NUL-terminated) into the field of base; on failure writes
 * "expected ..." (without the "got" part) into expected. */
ps_status sc_field_parse(const struct sc_field *f, const char *text, void *base, char *expected, size_t size);
/* Canonical text of the field's value (unquoted). */
void sc_field_format(const struct sc_field *f, const void *base, char *buf, size_t size);
/* Field of a table by key, or NULL. */
const struct sc_field *sc_field_find(const struct sc_field *table, const char *key);
/* Shortest %.Ng text of v that strtod reads back exactly. */
void sc_format_double(double v, char *buf, size_t size);
/* "a, b or c" from a NULL-terminated list of names. */
void sc_list_names(const char *const *names, char *buf, size_t size);
/* What a value of field f must be, in words, for error messages. */
void sc_field_expected(const struct sc_field *f, char *buf, size_t size);
/* cluster.nodes, the one sweepable key outside the strategy. */
extern const struct sc_field sc_field_nodes;
/* The scenario's top-level name. */
extern const struct sc_field sc_field_name;
/* Schedule names by enum ps_schedule. */
extern const char *const sc_sched_names[];

/* The canonical writer (scenario-canon.c). */
ps_status sc_canonical(const struct ps_scenario *sc, char **out);
ps_status sc_sha256_hex(const char *text, char hex[65]);

/* Consistency (scenario.c): on violation returns PS_ERR_INVALID with the
 * blamed key path in key and "expected ..., got ..." in msg. */
ps_status sc_consistency(const struct ps_scenario *sc, char *key, size_t keysize, char *msg, size_t msgsize);

/* Sweep support (scenario.c): parse canonical value text of a sweep key into sc. */
ps_status sc_sweep_apply(struct ps_scenario *sc, const char *key, const char *value);
/* Derive dp when strategy.dp_auto; returns false if it does not divide. */
bool sc_derive_dp(struct ps_scenario *sc);
/* Count or run the combinations (scenario-canon.c). */
ps_status sc_expand(const struct ps_scenario *sc, scenario_cb cb, scenario_skip_cb skipped, void *arg,
		    int *nvalid, int *ntotal, char *first_reason, size_t reason_size);

#endif
