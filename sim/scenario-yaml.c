/* scenario-yaml.c — YAML text to a position-carrying tree, and include:.
 *
 * Uses libyaml's event API so that every node keeps the file, line and
 * column it came from (1-based), so that duplicate keys (which libyaml's
 * document API accepts silently) are refused, and so that aliases are
 * refused before they can blow a small file up into a huge tree.
 *
 * Includes: a model, cluster or cluster.device value may be a preset name
 * (looked up in DATADIR/models, DATADIR/clusters, DATADIR/hardware), a path
 * (contains '/' or ends in .yaml/.yml; relative to the including file), or a
 * mapping with `include: NAME|PATH` plus overrides.  Overrides replace the
 * included value of the same key; a mapping overriding a mapping is merged
 * key by key (so `device: { efficiency: { matmul_max: 0.7 } }` changes one
 * number); lists and scalars are replaced whole.  A preset file may itself
 * start with `include:` (at most SC_MAX_INCLUDE_DEPTH levels; cycles are
 * errors).
 *
 * This file knows nothing of the schema beyond which keys include presets;
 * scenario.c validates the resolved tree. */
#include "config.h"
#include "scenario-int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* ---- arena ------------------------------------------------------------ */

struct sc_arena_block {
	struct sc_arena_block *next;
	size_t used, size;
	max_align_t data[];
};

#define SC_ARENA_BLOCK (64 * 1024)

void *sc_arena_alloc(struct sc_arena *a, size_t size)
{
	size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	struct sc_arena_block *b = a->head;
	if (!b || b->size - b->used < size) {
		size_t bsize = size > SC_ARENA_BLOCK ? size : SC_ARENA_BLOCK;
		b = malloc(sizeof *b + bsize);
		if (!b)
			return NULL;
		b->size = bsize;
		b->used = 0;
		/* A big one-off allocation goes behind the current block so that
		 * the current one keeps serving small requests. */
		if (a->head && size > SC_ARENA_BLOCK) {
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	void *p = (char *)b->data + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

char *sc_arena_strndup(struct sc_arena *a, const char *s, size_t n)
{
	char *d = sc_arena_alloc(a, n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

void sc_arena_free(struct sc_arena *a)
{
	struct sc_arena_block *b = a->head;
	while (b) {
		struct sc_arena_block *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
}

void sc_ctx_init(struct sc_ctx *ctx) { memset(ctx, 0, sizeof *ctx); }

void sc_ctx_fini(struct sc_ctx *ctx)
{
	sc_arena_free(&ctx->arena);
	free(ctx->pos);
	memset(ctx, 0, sizeof *ctx);
}

/* ---- messages --------------------------------------------------------- */

void sc_quote(const char *s, size_t len, char *buf, size_t size)
{
	size_t o = 0;
	if (size < 12) {
		if (size)
			buf[0] = '\0';
		return;
	}
	buf[o++] = '"';
	for (size_t i = 0; i < len && o + 10 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i >= 48) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

bool sc_is_null(const struct sc_node *n)
{
	if (!n || n->type != SC_SCALAR || !n->plain)
		return false;
	return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
	       strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

void sc_describe(const struct sc_node *n, char *buf, size_t size)
{
	if (!n)
		snprintf(buf, size, "nothing");
	else if (n->type == SC_MAP)
		snprintf(buf, size, "a mapping");
	else if (n->type == SC_SEQ)
		snprintf(buf, size, "a list");
	else if (sc_is_null(n))
		snprintf(buf, size, "nothing");
	else
		sc_quote(n->str, n->len, buf, size);
}

ps_status sc_error(ps_status code, const struct sc_node *at, const char *path, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!path || !*path)
		path = "(top level)";
	if (at)
		return PS_ERROR(code, "%s:%d:%d: %s: %s", at->file, at->line, at->col, path, msg);
	return PS_ERROR(code, "%s: %s", path, msg);
}

struct sc_node *sc_map_get(const struct sc_node *map, const char *key, struct sc_node **key_out)
{
	if (!map || map->type != SC_MAP)
		return NULL;
	size_t klen = strlen(key);
	for (int i = 0; i < map->n; i++)
		if (map->keys[i]->len == klen && memcmp(map->keys[i]->str, key, klen) == 0) {
			if (key_out)
				*key_out = map->keys[i];
			return map->vals[i];
		}
	return NULL;
}

/* ---- tree building ---------------------------------------------------- */

struct frame {
	struct sc_node *node;
	struct sc_node *pending_key; /* map: key waiting for its value */
};

struct builder {
	struct sc_ctx *ctx;
	const char *file, *dir, *rootpath;
	struct frame stack[SC_MAX_DEPTH + 1];
	int depth;
	struct sc_node *root;
};

/* Key path of the place being built, for messages.  An open child
 * container is the last entry of its parent; the innermost frame names the
 * key waiting for its value, or the next list index. */
static void builder_path(const struct builder *b, char *buf, size_t size)
{
	size_t o = (size_t)snprintf(buf, size, "%s", b->rootpath);
	for (int i = 0; i < b->depth && o < size; i++) {
		const struct frame *f = &b->stack[i];
		if (o > 120) {
			snprintf(buf + o, size - o, "...");
			break;
		}
		bool inner = i == b->depth - 1;
		if (f->node->type == SC_MAP) {
			const struct sc_node *k = inner ? f->pending_key : f->node->n ? f->node->keys[f->node->n - 1] : NULL;
			if (!k)
				break;
			char comp[80];
			size_t n = k->len < 60 ? k->len : 60;
			memcpy(comp, k->str, n);
			comp[n] = '\0';
			for (char *c = comp; *c; c++)
				if ((unsigned char)*c < 0x20)
					*c = '?';
			o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? "." : "", comp);
		} else {
			o += (size_t)snprintf(buf + o, size - o, "[%d]", inner ? f->node->n : f->node->n - 1);
		}
	}
}

static ps_status builder_error(struct builder *b, int line0, int col0, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static ps_status builder_error(struct builder *b, int line0, int col0, const char *fmt, ...)
{
	char path[512], msg[700];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	builder_path(b, path, sizeof path);
	struct sc_node at = {.file = b->file, .line = line0 + 1, .col = col0 + 1};
	return sc_error(PS_ERR_PARSE, &at, path, "%s", msg);
}

static struct sc_node *node_new(struct builder *b, enum sc_node_type type, const yaml_mark_t *mark)
{
	struct sc_node *n = sc_arena_alloc(&b->ctx->arena, sizeof *n);
	if (!n)
		return NULL;
	n->type = type;
	n->file = b->file;
	n->dir = b->dir;
	n->line = (int)mark->line + 1;
	n->col = (int)mark->column + 1;
	return n;
}

static int node_push(struct sc_arena *a, struct sc_node *parent, struct sc_node *key, struct sc_node *val)
{
	if (parent->n == parent->cap) {
		int cap = parent->cap ? parent->cap * 2 : 8;
		struct sc_node **vals = sc_arena_alloc(a, sizeof *vals * (size_t)cap);
		struct sc_node **keys = parent->type == SC_MAP ? sc_arena_alloc(a, sizeof *keys * (size_t)cap) : NULL;
		if (!vals || (parent->type == SC_MAP && !keys))
			return -1;
		if (parent->n) {
			memcpy(vals, parent->vals, sizeof *vals * (size_t)parent->n);
			if (keys)
				memcpy(keys, parent->keys, sizeof *keys * (size_t)parent->n);
		}
		parent->vals = vals;
		parent->keys = keys;
		parent->cap = cap;
	}
	if (parent->type == SC_MAP)
		parent->keys[parent->n] = key;
	parent->vals[parent->n++] = val;
	return 0;
}

/* Attach a finished or just-opened node to the current container. */
static ps_status builder_add(struct builder *b, struct sc_node *n)
{
	if (b->depth == 0) {
		b->root = n;
		return PS_OK;
	}
	struct frame *f = &b->stack[b->depth - 1];
	struct sc_node *p = f->node;
	if (p->type == SC_SEQ) {
		if (p->n >= SC_MAX_MAP_ENTRIES)
			return builder_error(b, n->line - 1, n->col - 1, "expected at most %d list items, got more",
					     SC_MAX_MAP_ENTRIES);
		if (node_push(&b->ctx->arena, p, NULL, n))
			return PS_ERROR(PS_ERR_NOMEM, "out of memory reading %s", b->file);
		return PS_OK;
	}
	if (!f->pending_key) {
		if (n->type != SC_SCALAR)
			return builder_error(b, n->line - 1, n->col - 1, "expected a plain key, got %s",
					     n->type == SC_MAP ? "a mapping" : "a list");
		if (p->n >= SC_MAX_MAP_ENTRIES)
			return builder_error(b, n->line - 1, n->col - 1, "expected at most %d keys, got more",
					     SC_MAX_MAP_ENTRIES);
		for (int i = 0; i < p->n; i++) {
			const struct sc_node *k = p->keys[i];
			if (k->len == n->len && memcmp(k->str, n->str, n->len) == 0) {
				char q[128];
				sc_quote(n->str, n->len, q, sizeof q);
				f->pending_key = n; /* so the path names the key */
				return builder_error(b, n->line - 1, n->col - 1,
						     "expected each key once (first at line %d, column %d), got %s again",
						     k->line, k->col, q);
			}
		}
		f->pending_key = n;
		return PS_OK;
	}
	if (node_push(&b->ctx->arena, p, f->pending_key, n))
		return PS_ERROR(PS_ERR_NOMEM, "out of memory reading %s", b->file);
	f->pending_key = NULL;
	return PS_OK;
}

static ps_status builder_open(struct builder *b, struct sc_node *n)
{
	ps_status st = builder_add(b, n);
	if (st)
		return st;
	if (b->depth >= SC_MAX_DEPTH)
		return builder_error(b, n->line - 1, n->col - 1, "expected at most %d levels of nesting, got more",
				     SC_MAX_DEPTH);
	b->stack[b->depth].node = n;
	b->stack[b->depth].pending_key = NULL;
	b->depth++;
	return PS_OK;
}

/* Line and column (0-based) of a byte offset, for reader errors. */
static void offset_mark(const char *text, size_t len, size_t off, int *line, int *col)
{
	int l = 0, c = 0;
	for (size_t i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			l++;
			c = 0;
		} else if (((unsigned char)text[i] & 0xc0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

static ps_status syntax_error(struct builder *b, yaml_parser_t *p, const char *text, size_t len)
{
	if (p->error == YAML_MEMORY_ERROR)
		return PS_ERROR(PS_ERR_NOMEM, "out of memory reading %s", b->file);
	const char *problem = p->problem ? p->problem : "unknown problem";
	if (p->error == YAML_READER_ERROR) {
		int line, col;
		size_t off = p->problem_offset < len ? p->problem_offset : len;
		unsigned byte = (unsigned)p->problem_value & 0xffu;
		if (strstr(problem, "UTF-8")) {
			/* point at the first byte of the broken sequence */
			size_t o = off;
			while (o > 0 && off - o < 4 && ((unsigned char)text[o] & 0xc0) != 0xc0)
				o--;
			if (((unsigned char)text[o] & 0xc0) != 0xc0)
				o = off;
			off = o;
			byte = off < len ? (unsigned char)text[off] : byte;
			offset_mark(text, len, off, &line, &col);
			return builder_error(b, line, col,
					     "expected valid UTF-8 YAML text, got an invalid UTF-8 sequence starting with byte 0x%02x",
					     byte);
		}
		offset_mark(text, len, off, &line, &col);
		if (strstr(problem, "control characters"))
			return builder_error(b, line, col, "expected printable YAML text, got the control character 0x%02x",
					     byte);
		return builder_error(b, line, col, "expected valid YAML text, got %s (byte 0x%02x)", problem, byte);
	}
	if (p->context)
		return builder_error(b, (int)p->problem_mark.line, (int)p->problem_mark.column,
				     "expected valid YAML, got a syntax error: %s (%s at line %d, column %d)",
				     problem, p->context, (int)p->context_mark.line + 1,
				     (int)p->context_mark.column + 1);
	return builder_error(b, (int)p->problem_mark.line, (int)p->problem_mark.column,
			     "expected valid YAML, got a syntax error: %s", problem);
}

ps_status sc_yaml_parse(struct sc_ctx *ctx, const char *text, size_t len, const char *file, const char *dir,
			const char *rootpath, struct sc_node **out)
{
	struct builder b = {.ctx = ctx, .file = file, .dir = dir, .rootpath = rootpath ? rootpath : ""};
	yaml_parser_t p;
	yaml_event_t ev;
	ps_status st = PS_OK;
	int ndocs = 0, done = 0;

	*out = NULL;
	if (!yaml_parser_initialize(&p))
		return PS_ERROR(PS_ERR_NOMEM, "out of memory reading %s", file);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done && st == PS_OK) {
		if (!yaml_parser_parse(&p, &ev)) {
			st = syntax_error(&b, &p, text, len);
			break;
		}
		struct sc_node *n;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++ndocs > 1)
				st = builder_error(&b, (int)ev.start_mark.line, (int)ev.start_mark.column,
						   "expected a single YAML document, got a second one");
			break;
		case YAML_ALIAS_EVENT:
			st = builder_error(&b, (int)ev.start_mark.line, (int)ev.start_mark.column,
					   "expected a value (anchors and aliases are not supported), got the alias *%.40s",
					   (const char *)ev.data.alias.anchor);
			break;
		case YAML_SCALAR_EVENT:
			n = node_new(&b, SC_SCALAR, &ev.start_mark);
			if (n) {
				n->len = ev.data.scalar.length;
				n->str = sc_arena_strndup(&ctx->arena, (const char *)ev.data.scalar.value, n->len);
				n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			}
			if (!n || !n->str)
				st = PS_ERROR(PS_ERR_NOMEM, "out of memory reading %s", file);
			else
				st = builder_add(&b, n);
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			n = node_new(&b, ev.type == YAML_MAPPING_START_EVENT ? SC_MAP : SC_SEQ, &ev.start_mark);
			st = n ? builder_open(&b, n) : PS_ERROR(PS_ERR_NOMEM, "out of memory reading %s", file);
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			if (b.depth > 0)
				b.depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (st == PS_OK)
		*out = b.root;
	return st;
}

/* ---- includes --------------------------------------------------------- */

static const char *preset_subdir(enum sc_preset kind)
{
	switch (kind) {
	case SC_PRESET_MODEL: return "models";
	case SC_PRESET_CLUSTER: return "clusters";
	case SC_PRESET_DEVICE: return "hardware";
	}
	return "";
}

static const char *preset_what(enum sc_preset kind)
{
	switch (kind) {
	case SC_PRESET_MODEL: return "model";
	case SC_PRESET_CLUSTER: return "cluster";
	case SC_PRESET_DEVICE: return "device";
	}
	return "";
}

static bool is_dir(const char *p)
{
	struct stat s;
	return p && *p && stat(p, &s) == 0 && S_ISDIR(s.st_mode);
}

int sc_datadirs(const char *dirs[3])
{
	int n = 0;
	const char *env = getenv("PARASIM_DATADIR");
	if (env && *env)
		dirs[n++] = env;
#ifdef PS_SRC_DATADIR
	if (is_dir(PS_SRC_DATADIR))
		dirs[n++] = PS_SRC_DATADIR;
#endif
#ifdef PS_INSTALL_DATADIR
	if (is_dir(PS_INSTALL_DATADIR))
		dirs[n++] = PS_INSTALL_DATADIR;
#endif
	return n;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Read a regular file of at most SC_MAX_FILE_BYTES; malloc'd, NUL-terminated. */
static int read_small_file(const char *path, char **text, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	struct stat s;
	if (fstat(fd, &s) != 0 || !S_ISREG(s.st_mode) || s.st_size > SC_MAX_FILE_BYTES) {
		int e = (fstat(fd, &s) == 0 && S_ISREG(s.st_mode)) ? EFBIG : EINVAL;
		close(fd);
		return e;
	}
	char *buf = malloc((size_t)s.st_size + 1);
	if (!buf) {
		close(fd);
		return ENOMEM;
	}
	size_t got = 0;
	while (got < (size_t)s.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)s.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return 0;
}

/* Stem of a path: basename without .yaml/.yml (arena). */
static const char *path_stem(struct sc_arena *a, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (n > 5 && ends_with(base, ".yaml"))
		n -= 5;
	else if (n > 4 && ends_with(base, ".yml"))
		n -= 4;
	return sc_arena_strndup(a, base, n);
}

static const char *path_dir(struct sc_arena *a, const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return ".";
	if (slash == path)
		return "/";
	return sc_arena_strndup(a, path, (size_t)(slash - path));
}

static ps_status sc_resolve_at(struct sc_ctx *ctx, struct sc_node *node, enum sc_preset kind, const char *path,
			       struct sc_node **out);

/* Load the preset named by scalar node name (a name or a path) and resolve it. */
static ps_status load_include(struct sc_ctx *ctx, struct sc_node *name, enum sc_preset kind, const char *path,
			      const char *inc_path, struct sc_node **out)
{
	char got[160], file[PATH_MAX + 64];
	sc_describe(name, got, sizeof got);
	const char *what = preset_what(kind);
	if (name->type != SC_SCALAR || sc_is_null(name) || name->len == 0 || strlen(name->str) != name->len)
		return sc_error(PS_ERR_INVALID, name, inc_path,
				"expected a %s preset name or a path to a YAML file, got %s", what, got);
	const char *s = name->str;
	bool is_path = strchr(s, '/') || ends_with(s, ".yaml") || ends_with(s, ".yml");
	bool found = false;
	if (is_path) {
		if (s[0] == '/' || !name->dir || strcmp(name->dir, ".") == 0)
			snprintf(file, sizeof file, "%s", s);
		else
			snprintf(file, sizeof file, "%s/%s", name->dir, s);
		found = true;
	} else {
		const char *dirs[3];
		int nd = sc_datadirs(dirs);
		struct stat st;
		for (int i = 0; i < nd && !found; i++) {
			snprintf(file, sizeof file, "%s/%s/%s.yaml", dirs[i], preset_subdir(kind), s);
			found = stat(file, &st) == 0;
		}
		if (!found) {
			char where[1200];
			size_t o = 0;
			where[0] = '\0';
			for (int i = 0; i < nd && o < sizeof where; i++)
				o += (size_t)snprintf(where + o, sizeof where - o, "%s%s/%s", i ? ", " : "",
						      dirs[i], preset_subdir(kind));
			return sc_error(PS_ERR_NOTFOUND, name, inc_path,
					"expected a %s preset name or a path to a YAML file, got %s (no %s.yaml in %s)",
					what, got, s, nd ? where : "any preset directory: set PARASIM_DATADIR");
		}
	}
	if (ctx->nchain > SC_MAX_INCLUDE_DEPTH)
		return sc_error(PS_ERR_INVALID, name, inc_path, "expected at most %d nested includes, got %s",
				SC_MAX_INCLUDE_DEPTH, got);
	char real[PATH_MAX];
	if (!realpath(file, real))
		return sc_error(PS_ERR_NOTFOUND, name, inc_path, "expected a readable %s preset file, got %s (%s: %s)",
				what, got, file, strerror(errno));
	for (int i = 0; i < ctx->nchain; i++)
		if (ctx->chain[i] && strcmp(ctx->chain[i], real) == 0)
			return sc_error(PS_ERR_INVALID, name, inc_path,
					"expected an include that does not include itself, got %s (cycle through %s)",
					got, real);
	char *text = NULL;
	size_t len = 0;
	int err = read_small_file(file, &text, &len);
	if (err)
		return sc_error(PS_ERR_IO, name, inc_path, "expected a readable %s preset file, got %s (%s: %s)",
				what, got, file, err == EFBIG ? "larger than 1 MiB" :
						 err == EINVAL ? "not a regular file" : strerror(err));
	const char *fname = sc_arena_strndup(&ctx->arena, file, strlen(file));
	const char *rchain = sc_arena_strndup(&ctx->arena, real, strlen(real));
	if (!fname || !rchain) {
		free(text);
		return PS_ERROR(PS_ERR_NOMEM, "out of memory");
	}
	struct sc_node *root = NULL;
	ps_status st = sc_yaml_parse(ctx, text, len, fname, path_dir(&ctx->arena, fname), path, &root);
	free(text);
	if (st)
		return st;
	if (!root) {
		struct sc_node at = {.file = fname, .line = 1, .col = 1};
		return sc_error(PS_ERR_INVALID, &at, path, "expected a %s mapping, got an empty file", what);
	}
	if (root->type != SC_MAP) {
		char g2[160];
		sc_describe(root, g2, sizeof g2);
		return sc_error(PS_ERR_INVALID, root, path, "expected a %s mapping, got %s", what, g2);
	}
	root->default_name = path_stem(&ctx->arena, fname);
	ctx->chain[ctx->nchain++] = rchain;
	st = sc_resolve_at(ctx, root, kind, path, out);
	ctx->nchain--;
	return st;
}

static struct sc_node *map_copy(struct sc_arena *a, const struct sc_node *m)
{
	struct sc_node *c = sc_arena_alloc(a, sizeof *c);
	if (!c)
		return NULL;
	*c = *m;
	c->n = c->cap = 0;
	c->keys = c->vals = NULL;
	for (int i = 0; i < m->n; i++)
		if (node_push(a, c, m->keys[i], m->vals[i]))
			return NULL;
	return c;
}

static int map_index(const struct sc_node *m, const struct sc_node *key)
{
	for (int i = 0; i < m->n; i++)
		if (m->keys[i]->len == key->len && memcmp(m->keys[i]->str, key->str, key->len) == 0)
			return i;
	return -1;
}

/* Merge over into a copy of base (both mappings); include keys of over skipped. */
static ps_status merge(struct sc_ctx *ctx, struct sc_node *base, struct sc_node *over, enum sc_preset kind,
		       bool top, const char *path, struct sc_node **out)
{
	struct sc_node *m = map_copy(&ctx->arena, base);
	if (!m)
		return PS_ERROR(PS_ERR_NOMEM, "out of memory");
	for (int i = 0; i < over->n; i++) {
		struct sc_node *k = over->keys[i], *v = over->vals[i];
		if (top && strcmp(k->str, "include") == 0 && k->len == 7)
			continue;
		int j = map_index(m, k);
		struct sc_node *old = j >= 0 ? m->vals[j] : NULL;
		struct sc_node *nv = v;
		char sub[512];
		snprintf(sub, sizeof sub, "%s.%s", path, k->str);
		if (top && kind == SC_PRESET_CLUSTER && k->len == 6 && strcmp(k->str, "device") == 0) {
			if (old && old->type == SC_MAP && v->type == SC_MAP && !sc_map_get(v, "include", NULL)) {
				ps_status st = merge(ctx, old, v, SC_PRESET_DEVICE, true, sub, &nv);
				if (st)
					return st;
			} else {
				ps_status st = sc_resolve_at(ctx, v, SC_PRESET_DEVICE, sub, &nv);
				if (st)
					return st;
			}
		} else if (old && old->type == SC_MAP && v->type == SC_MAP) {
			ps_status st = merge(ctx, old, v, kind, false, sub, &nv);
			if (st)
				return st;
		}
		if (j >= 0) {
			m->keys[j] = k;
			m->vals[j] = nv;
		} else if (node_push(&ctx->arena, m, k, nv)) {
			return PS_ERROR(PS_ERR_NOMEM, "out of memory");
		}
	}
	/* Report positions in the overriding mapping; keep the preset's name. */
	m->file = over->file;
	m->line = over->line;
	m->col = over->col;
	m->dir = over->dir;
	m->default_name = over->default_name ? over->default_name : base->default_name;
	*out = m;
	return PS_OK;
}

static ps_status sc_resolve_at(struct sc_ctx *ctx, struct sc_node *node, enum sc_preset kind, const char *path,
			       struct sc_node **out)
{
	*out = node;
	if (node->type == SC_SCALAR) {
		if (sc_is_null(node))
			return PS_OK; /* the validator says what was expected */
		return load_include(ctx, node, kind, path, path, out);
	}
	if (node->type != SC_MAP)
		return PS_OK;
	char sub[512];
	struct sc_node *inc = sc_map_get(node, "include", NULL);
	if (inc) {
		snprintf(sub, sizeof sub, "%s.include", path);
		if (inc->type != SC_SCALAR || sc_is_null(inc)) {
			char got[160];
			sc_describe(inc, got, sizeof got);
			return sc_error(PS_ERR_INVALID, inc, sub,
					"expected a %s preset name or a path to a YAML file, got %s",
					preset_what(kind), got);
		}
		struct sc_node *base = NULL;
		ps_status st = load_include(ctx, inc, kind, path, sub, &base);
		if (st)
			return st;
		if (base->type != SC_MAP) /* cannot happen: load_include checks */
			return PS_ERROR(PS_ERR_INTERNAL, "include did not give a mapping");
		return merge(ctx, base, node, kind, true, path, out);
	}
	if (kind == SC_PRESET_CLUSTER) {
		for (int i = 0; i < node->n; i++) {
			if (node->keys[i]->len == 6 && strcmp(node->keys[i]->str, "device") == 0) {
				snprintf(sub, sizeof sub, "%s.device", path);
				ps_status st = sc_resolve_at(ctx, node->vals[i], SC_PRESET_DEVICE, sub, &node->vals[i]);
				if (st)
					return st;
			}
		}
	}
	return PS_OK;
}

ps_status sc_resolve(struct sc_ctx *ctx, struct sc_node *node, enum sc_preset kind, const char *path,
		     struct sc_node **out)
{
	return sc_resolve_at(ctx, node, kind, path, out);
}
