/* cmd-list.c — `parasim list models|hardware|clusters|scenarios|verbs`.
 *
 * Lists the preset files of the data directory (scenario_datadir():
 * $PARASIM_DATADIR, else the source tree, else the install dir) with a
 * one-line summary each: models with their parameter count in closed form,
 * devices with their peak, memory and bandwidth, clusters with their device
 * and network levels, ready scenarios with their layout.  `list verbs`
 * prints the verb names one per line (the bash completion asks for them).
 *
 * Presets are read with libyaml directly and tolerantly: this is a summary,
 * not a validation (`parasim check` validates; the scenario loader reads
 * whole scenarios, not single presets).  Values with units are printed as
 * written in the file.  A file that cannot be read is listed with the
 * reason and makes the exit status 1. */
#include "config.h"
#include "cli.h"
#include "scenario.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define LIST_MAX_FILES 4096

/* ---- a tiny read-only view of a YAML document ---- */

static yaml_node_t *yget(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

static const char *yscalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static const char *ystr(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	return yscalar(yget(doc, map, key));
}

/* Integer value of map[key], or dflt when absent or not an integer. */
static long yint(yaml_document_t *doc, yaml_node_t *map, const char *key, long dflt)
{
	const char *s = ystr(doc, map, key);
	if (!s || !*s)
		return dflt;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	return (*end || errno) ? dflt : v;
}

static bool ybool(yaml_document_t *doc, yaml_node_t *map, const char *key, bool dflt)
{
	const char *s = ystr(doc, map, key);
	if (!s)
		return dflt;
	if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
		return true;
	if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
		return false;
	return dflt;
}

/* Load path into doc; on failure writes the reason into why. */
static bool yload(const char *path, yaml_document_t *doc, char *why, size_t whysize)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(why, whysize, "%s", strerror(errno));
		return false;
	}
	yaml_parser_t parser;
	bool ok = false;
	if (!yaml_parser_initialize(&parser)) {
		snprintf(why, whysize, "out of memory");
		fclose(f);
		return false;
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, doc)) {
		snprintf(why, whysize, "line %lu: %s", (unsigned long)parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "YAML error");
	} else if (!yaml_document_get_root_node(doc) ||
		   yaml_document_get_root_node(doc)->type != YAML_MAPPING_NODE) {
		snprintf(why, whysize, "not a YAML mapping");
		yaml_document_delete(doc);
	} else {
		ok = true;
	}
	yaml_parser_delete(&parser);
	fclose(f);
	return ok;
}

/* ---- parameter count in closed form ---- */

/* Parameters of a decoder-only Transformer, counted matrix by matrix
 * (the generalisation of N = 12 L h^2 (1 + 13/(12h) + (V+s)/(12Lh)) of
 * Narayanan et al., SC21, Sec. 5.1, to GQA, SwiGLU, RMSNorm and untied
 * embeddings):
 *   attention  h*a*d (Q) + 2*h*g*d (K, V) + a*d*h (output) [+ a*d + 2*g*d + h biases]
 *   MLP        gelu: 2*h*f [+ f + h];  swiglu: 3*h*f [+ 2*f + h]
 *   norms      2 per layer (1 with a parallel block) + 1 final;
 *              layernorm 2h (gain, bias), rmsnorm h (gain)
 *   embeddings V*h, + V*h for an untied output layer, + s*h learned positions
 * with h hidden, a heads, g kv_heads, d head_dim, f ffn_hidden, V vocab,
 * s seq_len, L layers. */
struct list_model_shape {
	double layers, hidden, heads, kv_heads, head_dim, ffn_hidden, vocab, seq_len;
	bool swiglu, rmsnorm, rope, tied, bias, parallel_block;
};

static double list_model_params(const struct list_model_shape *m)
{
	double h = m->hidden, a = m->heads, g = m->kv_heads, d = m->head_dim, f = m->ffn_hidden;
	double attn = h * a * d + 2 * h * g * d + a * d * h;
	double mlp = (m->swiglu ? 3 : 2) * h * f;
	if (m->bias) {
		attn += a * d + 2 * g * d + h;
		mlp += (m->swiglu ? 2 : 1) * f + h;
	}
	double norm = m->rmsnorm ? h : 2 * h;
	double per_layer = attn + mlp + (m->parallel_block ? 1 : 2) * norm;
	double emb = m->vocab * h * (m->tied ? 1 : 2) + (m->rope ? 0 : m->seq_len * h);
	return m->layers * per_layer + emb + norm;
}

static void fmt_count(double n, char *buf, size_t size)
{
	if (n >= 1e12)
		snprintf(buf, size, "%.4gT", n / 1e12);
	else if (n >= 1e9)
		snprintf(buf, size, "%.4gB", n / 1e9);
	else if (n >= 1e6)
		snprintf(buf, size, "%.4gM", n / 1e6);
	else
		snprintf(buf, size, "%.0f", n);
}

/* ---- one summary per kind ---- */

static void summary_model(yaml_document_t *doc, yaml_node_t *r, char *out, size_t size)
{
	struct list_model_shape m;
	long hidden = yint(doc, r, "hidden", 0), heads = yint(doc, r, "heads", 0);
	const char *ffn = ystr(doc, r, "ffn");
	m.layers = (double)yint(doc, r, "layers", 0);
	m.hidden = (double)hidden;
	m.heads = (double)heads;
	m.kv_heads = (double)yint(doc, r, "kv_heads", heads);
	m.head_dim = (double)yint(doc, r, "head_dim", heads > 0 ? hidden / heads : 0);
	m.swiglu = ffn && !strcmp(ffn, "swiglu");
	/* The loader's defaults: 4h for gelu, the Llama rule for swiglu. */
	long ffn_default = m.swiglu ? 256 * ((8 * hidden / 3 + 255) / 256) : 4 * hidden;
	m.ffn_hidden = (double)yint(doc, r, "ffn_hidden", ffn_default);
	m.vocab = (double)yint(doc, r, "vocab", 0);
	m.seq_len = (double)yint(doc, r, "seq_len", 0);
	m.rmsnorm = ystr(doc, r, "norm") && !strcmp(ystr(doc, r, "norm"), "rmsnorm");
	m.rope = ystr(doc, r, "position") && !strcmp(ystr(doc, r, "position"), "rope");
	m.tied = ybool(doc, r, "tied_embeddings", true);
	m.bias = ybool(doc, r, "bias", true);
	m.parallel_block = ybool(doc, r, "parallel_block", false);
	char params[32];
	fmt_count(list_model_params(&m), params, sizeof params);
	snprintf(out, size, "%s params, %.0f layers, hidden %.0f, heads %.0f/%.0f kv, ffn %.0f %s, vocab %.0f, seq %.0f",
		 params, m.layers, m.hidden, m.heads, m.kv_heads, m.ffn_hidden, m.swiglu ? "swiglu" : "gelu",
		 m.vocab, m.seq_len);
}

static void summary_device(yaml_document_t *doc, yaml_node_t *r, char *out, size_t size)
{
	static const char *const pref[] = {"bf16", "fp16", "fp32", "tf32", "fp8"};
	yaml_node_t *peaks = yget(doc, r, "peak_flops");
	const char *dt = "peak", *peak = NULL;
	for (size_t i = 0; i < sizeof pref / sizeof pref[0] && !peak; i++)
		if ((peak = ystr(doc, peaks, pref[i])))
			dt = pref[i];
	const char *kind = ystr(doc, r, "kind"), *mem = ystr(doc, r, "memory"),
		   *bw = ystr(doc, r, "memory_bandwidth");
	snprintf(out, size, "%s, %s %s, memory %s, bandwidth %s", kind ? kind : "?", dt, peak ? peak : "?",
		 mem ? mem : "?", bw ? bw : "?");
}

/* "name" of a scalar preset reference or of a mapping's include:. */
static const char *ref_name(yaml_document_t *doc, yaml_node_t *n, bool *overridden)
{
	*overridden = false;
	if (yscalar(n))
		return yscalar(n);
	if (n && n->type == YAML_MAPPING_NODE) {
		*overridden = (n->data.mapping.pairs.top - n->data.mapping.pairs.start) > 1 ||
			      !yget(doc, n, "include");
		const char *inc = ystr(doc, n, "include");
		return inc ? inc : ystr(doc, n, "name");
	}
	return NULL;
}

static void summary_cluster(yaml_document_t *doc, yaml_node_t *r, char *out, size_t size)
{
	bool ovr;
	const char *dev = ref_name(doc, yget(doc, r, "device"), &ovr);
	int n = snprintf(out, size, "%ld x %s%s per node, nodes %ld (default), levels:",
			 yint(doc, r, "devices_per_node", 0), dev ? dev : "?", ovr ? " (overridden)" : "",
			 yint(doc, r, "nodes", 1));
	yaml_node_t *net = yget(doc, r, "network");
	if (!net || net->type != YAML_SEQUENCE_NODE) {
		snprintf(out + n, size - (size_t)n, " none");
		return;
	}
	const char *sep = " ";
	for (yaml_node_item_t *it = net->data.sequence.items.start; it < net->data.sequence.items.top; it++) {
		yaml_node_t *lv = yaml_document_get_node(doc, *it);
		const char *name = ystr(doc, lv, "name"), *bw = ystr(doc, lv, "bandwidth");
		long rails = yint(doc, lv, "rails", 0);
		char rail[32] = "";
		if (rails > 1)
			snprintf(rail, sizeof rail, " x %ld rails", rails);
		if ((size_t)n < size)
			n += snprintf(out + n, size - (size_t)n, "%s%s %s%s", sep, name ? name : "?", bw ? bw : "?", rail);
		sep = ", ";
	}
}

static void summary_scenario(yaml_document_t *doc, yaml_node_t *r, char *out, size_t size)
{
	bool movr, covr;
	yaml_node_t *cl = yget(doc, r, "cluster"), *st = yget(doc, r, "strategy"), *sw = yget(doc, r, "sweep");
	const char *model = ref_name(doc, yget(doc, r, "model"), &movr);
	const char *cluster = ref_name(doc, cl, &covr);
	long nodes = yint(doc, cl, "nodes", -1);
	char nodestr[32] = "";
	if (nodes > 0)
		snprintf(nodestr, sizeof nodestr, " x %ld nodes", nodes);
	snprintf(out, size, "model %s%s, cluster %s%s, dp %ld tp %ld pp %ld%s", model ? model : "?",
		 movr ? " (overridden)" : "", cluster ? cluster : "?", nodestr, yint(doc, st, "dp", 1),
		 yint(doc, st, "tp", 1), yint(doc, st, "pp", 1),
		 sw && sw->type == YAML_MAPPING_NODE ? ", with sweep" : "");
}

/* ---- listing ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef void (*summary_fn)(yaml_document_t *doc, yaml_node_t *root, char *out, size_t size);

static int list_dir(const char *dir, summary_fn summary)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "parasim list: cannot open %s: %s\n", dir, strerror(errno));
		return PS_EXIT_FAIL;
	}
	char *names[LIST_MAX_FILES];
	size_t n = 0;
	for (struct dirent *e; (e = readdir(d)) && n < LIST_MAX_FILES;) {
		size_t len = strlen(e->d_name);
		if (len > 5 && e->d_name[0] != '.' && strcmp(e->d_name + len - 5, ".yaml") == 0)
			if ((names[n] = strdup(e->d_name)))
				n++;
	}
	closedir(d);
	qsort(names, n, sizeof names[0], cmp_str);
	size_t width = 0;
	for (size_t i = 0; i < n; i++)
		if (strlen(names[i]) - 5 > width)
			width = strlen(names[i]) - 5;
	int rc = PS_EXIT_OK;
	for (size_t i = 0; i < n; i++) {
		char path[8192], line[1024], why[256];
		yaml_document_t doc;
		int len = snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		names[i][strlen(names[i]) - 5] = '\0'; /* the stem is the preset name */
		if (len < 0 || (size_t)len >= sizeof path) {
			snprintf(line, sizeof line, "(unreadable: path too long)");
			rc = PS_EXIT_FAIL;
		} else if (yload(path, &doc, why, sizeof why)) {
			summary(&doc, yaml_document_get_root_node(&doc), line, sizeof line);
			yaml_document_delete(&doc);
		} else {
			snprintf(line, sizeof line, "(unreadable: %s)", why);
			rc = PS_EXIT_FAIL;
		}
		printf("%-*s  %s\n", (int)width, names[i], line);
		free(names[i]);
	}
	return rc;
}

int cmd_list(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: parasim list models|hardware|clusters|scenarios|verbs\n");
		return PS_EXIT_OK;
	}
	if (argc != 2) {
		fprintf(stderr, "parasim list: expected one of models, hardware, clusters, scenarios, verbs\n");
		return cli_usage("list");
	}
	const char *what = argv[1];
	if (!strcmp(what, "verbs")) {
		for (const struct ps_verb *v = cli_verbs(); v->name; v++)
			printf("%s\n", v->name);
		return PS_EXIT_OK;
	}
	static const struct {
		const char *kind, *sub;
		summary_fn fn;
	} kinds[] = {
		{"models", "models", summary_model},
		{"hardware", "hardware", summary_device},
		{"clusters", "clusters", summary_cluster},
		{"scenarios", "", summary_scenario},
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		if (strcmp(what, kinds[i].kind))
			continue;
		char dir[4096];
		int len = snprintf(dir, sizeof dir, "%s%s%s", scenario_datadir(), *kinds[i].sub ? "/" : "", kinds[i].sub);
		if (len < 0 || (size_t)len >= sizeof dir) {
			fprintf(stderr, "parasim list: data directory path too long\n");
			return PS_EXIT_FAIL;
		}
		return list_dir(dir, kinds[i].fn);
	}
	fprintf(stderr, "parasim list: unknown kind '%s' (expected models, hardware, clusters, scenarios, verbs)\n",
		what);
	return cli_usage("list");
}
