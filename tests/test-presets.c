/* test-presets.c — the preset files and ready scenarios of scenarios/.
 *
 *  1. Every ready scenario (scenarios/NAME.yaml) passes `parasim check`, and its
 *     canonical text passes `parasim check` again unchanged (round trip).
 *  2. Every model preset, as the loader resolves it, has the parameter count
 *     its authors published, within a stated tolerance.  The count is
 *     computed here in closed form from layers/hidden/heads/... (the numbers
 *     of the preset); the expected totals come from the papers and model
 *     cards, never from the presets.  `parasim list models` must print the
 *     same count.
 *  3. Every device and cluster preset loads in a minimal scenario.
 *
 * Everything goes through the `parasim` binary (`check` prints the resolved
 * scenario), so this test exercises exactly what users run. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <yaml.h>

#include "testutil.h"

/* Write text to a new temporary .yaml file; returns its path in a static
 * buffer of slot (0..63). */
static const char *write_tmp_n(const char *text, int slot)
{
	static char paths[64][64];
	assert_true(slot >= 0 && slot < 64);
	snprintf(paths[slot], sizeof paths[slot], "/tmp/ps-test-presetXXXXXX.yaml");
	int fd = mkstemps(paths[slot], 5);
	assert_true(fd >= 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return paths[slot];
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- 1. ready scenarios: check and round trip ---- */

/* Run `parasim check` on files[0..n) in one process (each start of the
 * binary costs time); returns the exit status, *out gets the documents
 * separated by "---" lines. */
static int check_files(const char *const *files, int n, char **out, char **err)
{
	assert_true(n > 0 && n < 60);
	const char *a[64];
	for (int i = 0; i < n; i++)
		a[i] = files[i];
	for (int i = n; i < 64; i++)
		a[i] = NULL;
	/* test_run_parasim takes a NULL-terminated list: pass all slots. */
	return test_run_parasim(out, err, "check", a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9],
				a[10], a[11], a[12], a[13], a[14], a[15], a[16], a[17], a[18], a[19], a[20], a[21],
				a[22], a[23], a[24], a[25], a[26], a[27], a[28], a[29], a[30], a[31], a[32], a[33],
				a[34], a[35], a[36], a[37], a[38], a[39], a[40], a[41], a[42], a[43], a[44], a[45],
				a[46], a[47], a[48], a[49], a[50], a[51], a[52], a[53], a[54], a[55], a[56], a[57],
				a[58], a[59], NULL);
}

/* Split text at "---" lines into at most max documents (strdup'ed). */
static int split_docs(const char *text, char **docs, int max)
{
	int n = 0;
	const char *p = text;
	while (n < max) {
		const char *sep = strstr(p, "\n---\n");
		size_t len = sep ? (size_t)(sep - p) + 1 : strlen(p);
		docs[n++] = strndup(p, len);
		if (!sep)
			break;
		p = sep + 5;
	}
	return n;
}

static const char *const required_scenarios[] = {"gpt3-175b-dgx-a100.yaml", "llama3-70b-dgx-h100.yaml",
						 "llama2-7b-dgx-a100-zero3.yaml", "gpt2-124m-local.yaml",
						 "gpt3-13b-sweep.yaml", NULL};

static void test_scenarios_round_trip(void **state)
{
	(void)state;
	char dir[2048];
	snprintf(dir, sizeof dir, "%s/scenarios", test_env("PS_SRCDIR", "."));
	DIR *d = opendir(dir);
	assert_non_null(d);
	char *names[48];
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) && n < 48;) {
		size_t len = strlen(e->d_name);
		if (len > 5 && strcmp(e->d_name + len - 5, ".yaml") == 0)
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof names[0], cmp_str);
	for (const char *const *r = required_scenarios; *r; r++) {
		bool found = false;
		for (int i = 0; i < n; i++)
			found |= strcmp(names[i], *r) == 0;
		if (!found)
			fail_msg("scenarios/%s is missing", *r);
	}
	/* First pass: every scenario is valid. */
	char *paths[48];
	for (int i = 0; i < n; i++) {
		paths[i] = malloc(4096);
		snprintf(paths[i], 4096, "%s/%s", dir, names[i]);
	}
	char *out1, *err1;
	int rc = check_files((const char *const *)paths, n, &out1, &err1);
	if (rc != 0)
		fail_msg("parasim check of the ready scenarios: exit %d\n%s", rc, err1);
	char *docs[48];
	assert_int_equal(split_docs(out1, docs, 48), n);
	/* Second pass: the canonical texts, checked again, come out unchanged. */
	char *tmps[48];
	for (int i = 0; i < n; i++) {
		tmps[i] = strdup(write_tmp_n(docs[i], i));
		if (strncmp(docs[i], "name: ", 6) != 0)
			fail_msg("canonical text of %s does not start with its name:\n%s", names[i], docs[i]);
	}
	char *out2, *err2;
	rc = check_files((const char *const *)tmps, n, &out2, &err2);
	if (rc != 0)
		fail_msg("parasim check of the canonical texts: exit %d\n%s", rc, err2);
	char *docs2[48];
	assert_int_equal(split_docs(out2, docs2, 48), n);
	for (int i = 0; i < n; i++) {
		if (strcmp(docs[i], docs2[i]) != 0)
			fail_msg("canonical text of %s is not a fixed point:\n--- first\n%s\n--- second\n%s", names[i],
				 docs[i], docs2[i]);
		unlink(tmps[i]);
		free(tmps[i]);
		free(docs[i]);
		free(docs2[i]);
		free(paths[i]);
		free(names[i]);
	}
	assert_string_equal(out1, out2);
	free(out1);
	free(err1);
	free(out2);
	free(err2);
}

/* The sweep scenario expands as its comment says: 4 x 4 x 3 = 48
 * combinations, the 12 with tp = 1 skipped (sequence parallelism needs
 * tp > 1), 36 runs, each with dp = 128 / (tp * pp). */
static void test_sweep_expansion(void **state)
{
	(void)state;
	char path[2048];
	snprintf(path, sizeof path, "%s/scenarios/gpt3-13b-sweep.yaml", test_env("PS_SRCDIR", "."));
	char *out, *err;
	assert_int_equal(test_run_parasim(&out, &err, "check", "--expand", path, NULL), 0);
	char *docs[64];
	int n = split_docs(out, docs, 64);
	assert_int_equal(n, 36);
	int skipped = 0;
	for (const char *p = err; (p = strstr(p, ": skipped ")); p++) {
		skipped++;
		const char *eol = strchr(p, '\n');
		const char *tp1 = strstr(p, "tp=1");
		assert_true(tp1 && (!eol || tp1 < eol));
	}
	assert_int_equal(skipped, 12);
	for (int i = 0; i < n; i++) {
		const char *st = strstr(docs[i], "\nstrategy:\n");
		assert_non_null(st);
		int dp = atoi(strstr(st, "  dp: ") + 6), tp = atoi(strstr(st, "  tp: ") + 6),
		    pp = atoi(strstr(st, "  pp: ") + 6);
		assert_int_equal(dp * tp * pp, 128);
		assert_true(tp > 1);
		free(docs[i]);
	}
	free(out);
	free(err);
}

/* ---- 2. parameter counts against published sizes ---- */

/* Published totals.  Tolerances: the published figure's rounding (2-4
 * significant digits) plus what its authors counted (the GPT-2 paper's
 * Table 2 figures are known to differ from the released weights, which is why
 * the model cards' counts are used for the three smaller GPT-2 models; GPT-3
 * Table 2.1 gives 2-4 digits and does not say whether embeddings and biases
 * are included).  Every tolerance is wider than the rounding of its figure
 * and narrower than the gap to the neighbouring model size. */
static const struct {
	const char *name;
	double params, tol; /* relative tolerance */
	const char *source;
} published[] = {
	{"gpt2-124m", 124e6, 0.005, "Hugging Face model card openai-community/gpt2: 124M parameters"},
	{"gpt2-355m", 355e6, 0.005, "model card openai-community/gpt2-medium: 355M parameters"},
	{"gpt2-774m", 774e6, 0.005, "model card openai-community/gpt2-large: 774M parameters"},
	{"gpt2-1.5b", 1542e6, 0.015, "Radford et al. 2019, Table 2: 1542M parameters"},
	{"gpt3-2.7b", 2.7e9, 0.025, "Brown et al. 2020, Table 2.1: n_params 2.7B"},
	{"gpt3-6.7b", 6.7e9, 0.025, "Brown et al. 2020, Table 2.1: n_params 6.7B"},
	{"gpt3-13b", 13.0e9, 0.025, "Brown et al. 2020, Table 2.1: n_params 13.0B"},
	{"gpt3-175b", 175.0e9, 0.025, "Brown et al. 2020, Table 2.1: n_params 175.0B"},
	/* Llama 2 7B/13B have the architecture of LLaMA 7B/13B (same dims,
	 * vocabulary and FFN; only the context grew, which RoPE does not count). */
	{"llama2-7b", 6.7e9, 0.01, "Touvron et al. 2023a (LLaMA), Table 2: 6.7B"},
	{"llama2-13b", 13.0e9, 0.01, "Touvron et al. 2023a (LLaMA), Table 2: 13.0B"},
	{"llama2-70b", 70e9, 0.02, "Touvron et al. 2023b (Llama 2), Table 1: 70B (checkpoint: 68.98B)"},
	{"llama3-8b", 8e9, 0.02, "Llama 3 Herd paper, Table 3: 8B"},
	{"llama3-70b", 70e9, 0.02, "Llama 3 Herd paper, Table 3: 70B"},
	{"llama3-405b", 405e9, 0.02, "Llama 3 Herd paper, Table 3: 405B"},
};

struct shape {
	long layers, hidden, heads, kv_heads, head_dim, ffn_hidden, vocab, seq_len;
	bool swiglu, rmsnorm, rope, tied, bias, parallel_block;
};

/* Parameters counted matrix by matrix (Narayanan et al. SC21 Sec. 5.1,
 * N = 12 L h^2 (1 + 13/(12h) + (V+s)/(12Lh)) for GPT, generalised):
 * Q and output projections h x a*d, K and V h x g*d, MLP 2 (gelu) or
 * 3 (swiglu) matrices h x f, biases on all of them when bias is set, two
 * norms per layer (one with a parallel block) and a final one, layernorm
 * with gain and bias, rmsnorm with gain only, token embedding V x h, an
 * output layer V x h unless tied, learned positions s x h. */
static double closed_form_params(const struct shape *m)
{
	double h = (double)m->hidden, ad = (double)m->heads * (double)m->head_dim,
	       gd = (double)m->kv_heads * (double)m->head_dim, f = (double)m->ffn_hidden;
	double attn = 2 * h * ad + 2 * h * gd + (m->bias ? ad + 2 * gd + h : 0);
	double mlp = m->swiglu ? 3 * h * f + (m->bias ? 2 * f + h : 0) : 2 * h * f + (m->bias ? f + h : 0);
	double norm = m->rmsnorm ? h : 2 * h;
	double layer = attn + mlp + (m->parallel_block ? 1 : 2) * norm;
	double emb = (double)m->vocab * h * (m->tied ? 1 : 2) + (m->rope ? 0 : (double)m->seq_len * h);
	return (double)m->layers * layer + emb + norm;
}

/* Read the resolved model section from canonical YAML text. */
static void parse_model(const char *canon, struct shape *m)
{
	yaml_parser_t p;
	yaml_document_t doc;
	assert_true(yaml_parser_initialize(&p));
	yaml_parser_set_input_string(&p, (const unsigned char *)canon, strlen(canon));
	assert_true(yaml_parser_load(&p, &doc));
	yaml_node_t *root = yaml_document_get_root_node(&doc), *model = NULL;
	assert_non_null(root);
	assert_int_equal(root->type, YAML_MAPPING_NODE);
	for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < root->data.mapping.pairs.top; q++)
		if (!strcmp((char *)yaml_document_get_node(&doc, q->key)->data.scalar.value, "model"))
			model = yaml_document_get_node(&doc, q->value);
	assert_non_null(model);
	assert_int_equal(model->type, YAML_MAPPING_NODE);
	memset(m, 0, sizeof *m);
	int seen = 0;
	for (yaml_node_pair_t *q = model->data.mapping.pairs.start; q < model->data.mapping.pairs.top; q++) {
		const char *k = (char *)yaml_document_get_node(&doc, q->key)->data.scalar.value;
		yaml_node_t *vn = yaml_document_get_node(&doc, q->value);
		if (vn->type != YAML_SCALAR_NODE)
			continue;
		const char *v = (char *)vn->data.scalar.value;
		long iv = strtol(v, NULL, 10);
		bool bv = !strcmp(v, "true");
		struct {
			const char *key;
			long *dst;
		} ints[] = {{"layers", &m->layers},     {"hidden", &m->hidden},         {"heads", &m->heads},
			    {"kv_heads", &m->kv_heads}, {"head_dim", &m->head_dim},     {"ffn_hidden", &m->ffn_hidden},
			    {"vocab", &m->vocab},       {"seq_len", &m->seq_len}};
		for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
			if (!strcmp(k, ints[i].key)) {
				*ints[i].dst = iv;
				seen++;
			}
		if (!strcmp(k, "ffn"))
			m->swiglu = !strcmp(v, "swiglu"), seen++;
		else if (!strcmp(k, "norm"))
			m->rmsnorm = !strcmp(v, "rmsnorm"), seen++;
		else if (!strcmp(k, "position"))
			m->rope = !strcmp(v, "rope"), seen++;
		else if (!strcmp(k, "tied_embeddings"))
			m->tied = bv, seen++;
		else if (!strcmp(k, "bias"))
			m->bias = bv, seen++;
		else if (!strcmp(k, "parallel_block"))
			m->parallel_block = bv, seen++;
	}
	/* The canonical text writes every model key explicitly. */
	assert_int_equal(seen, 14);
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
}

/* "124.4M" / "68.98B" -> number. */
static double parse_count(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	switch (*end) {
	case 'T': return v * 1e12;
	case 'B': return v * 1e9;
	case 'M': return v * 1e6;
	default: return v;
	}
}

static void test_model_param_counts(void **state)
{
	(void)state;
	enum { NPUB = sizeof published / sizeof published[0] };
	char *list;
	assert_int_equal(test_run_parasim(&list, NULL, "list", "models", NULL), 0);
	/* Each model in a minimal scenario on the local cluster; one check run. */
	char *tmps[NPUB];
	for (int i = 0; i < NPUB; i++) {
		char text[512];
		snprintf(text, sizeof text,
			 "model: %s\n"
			 "cluster: local\n"
			 "strategy: {dp: 2, tp: 1, pp: 1, micro_batch: 1, global_batch: 2, dtype: fp32, grad_dtype: fp32}\n",
			 published[i].name);
		tmps[i] = strdup(write_tmp_n(text, i));
	}
	char *out, *err;
	int rc = check_files((const char *const *)tmps, NPUB, &out, &err);
	if (rc != 0)
		fail_msg("a model preset does not load:\n%s", err);
	char *docs[NPUB];
	assert_int_equal(split_docs(out, docs, NPUB), NPUB);
	for (int i = 0; i < NPUB; i++) {
		struct shape m;
		parse_model(docs[i], &m);
		double n = closed_form_params(&m), rel = n / published[i].params - 1;
		print_message("# %-12s %.6g params, published %.4g (%s): %+.2f%%\n", published[i].name, n,
			      published[i].params, published[i].source, 100 * rel);
		if (fabs(rel) > published[i].tol)
			fail_msg("%s: %.6g params, %s: off by %+.2f%% (tolerance %.1f%%)", published[i].name, n,
				 published[i].source, 100 * rel, 100 * published[i].tol);
		/* `parasim list models` prints the same count (4 significant digits). */
		const char *line = NULL;
		size_t len = strlen(published[i].name);
		for (const char *p = list; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
			if (!strncmp(p, published[i].name, len) && p[len] == ' ')
				line = p;
		assert_non_null(line);
		line += len;
		while (*line == ' ')
			line++;
		double listed = parse_count(line);
		if (fabs(listed / n - 1) > 5e-4)
			fail_msg("%s: parasim list prints %.6g, closed form gives %.6g", published[i].name, listed, n);
		unlink(tmps[i]);
		free(tmps[i]);
		free(docs[i]);
	}
	free(out);
	free(err);
	free(list);
}

/* A hand-counted model pins the closed form itself: GPT-2 124M is
 * 124,439,808 parameters (12 * (12 * 768^2 + 13 * 768) + 50257 * 768 +
 * 1024 * 768 + 2 * 768), the size of the released checkpoint. */
static void test_closed_form_gpt2(void **state)
{
	(void)state;
	struct shape m = {.layers = 12, .hidden = 768, .heads = 12, .kv_heads = 12, .head_dim = 64,
			  .ffn_hidden = 3072, .vocab = 50257, .seq_len = 1024, .tied = true, .bias = true};
	assert_true(closed_form_params(&m) == 124439808.0);
	/* Llama 2 7B: 32 * (4 * 4096^2 + 3 * 4096 * 11008 + 2 * 4096)
	 * + 2 * 32000 * 4096 + 4096 = 6,738,415,616. */
	struct shape l = {.layers = 32, .hidden = 4096, .heads = 32, .kv_heads = 32, .head_dim = 128,
			  .ffn_hidden = 11008, .vocab = 32000, .seq_len = 4096, .swiglu = true, .rmsnorm = true,
			  .rope = true};
	assert_true(closed_form_params(&l) == 6738415616.0);
}

/* ---- 3. every device and cluster preset loads ---- */

static void test_devices_and_clusters_load(void **state)
{
	(void)state;
	/* Each device with a dtype it supports (omitted dtypes are unsupported). */
	static const struct {
		const char *name, *dtype;
	} devices[] = {{"a100-40gb", "bf16"}, {"a100-80gb", "bf16"}, {"h100-sxm", "bf16"},   {"h200", "bf16"},
		       {"v100-32gb", "fp16"}, {"tpu-v4", "bf16"},    {"alveo-u280", "fp32"}, {"this-cpu", "fp32"}};
	static const struct {
		const char *name, *dtype;
		int world;
	} clusters[] = {{"dgx-a100", "bf16", 16}, {"dgx-h100", "bf16", 16}, {"dgx-h200", "bf16", 16}};
	enum { ND = sizeof devices / sizeof devices[0], NC = sizeof clusters / sizeof clusters[0] };
	char *tmps[ND + NC + 1];
	int n = 0;
	for (int i = 0; i < ND; i++) {
		char text[1024];
		snprintf(text, sizeof text,
			 "model: gpt2-124m\n"
			 "cluster:\n"
			 "  name: one-%s\n"
			 "  devices_per_node: 1\n"
			 "  nodes: 1\n"
			 "  device: %s\n"
			 "  network:\n"
			 "    - { name: loop, scope: node, bandwidth: \"100GB/s\", latency: \"1us\" }\n"
			 "strategy: {dp: 1, tp: 1, pp: 1, micro_batch: 1, global_batch: 1, dtype: %s, grad_dtype: fp32}\n",
			 devices[i].name, devices[i].name, devices[i].dtype);
		tmps[n] = strdup(write_tmp_n(text, n));
		n++;
	}
	for (int i = 0; i < NC; i++) {
		char text[1024];
		/* Two nodes, so the inter-node level is used too. */
		snprintf(text, sizeof text,
			 "model: gpt2-124m\n"
			 "cluster: { include: %s, nodes: 2 }\n"
			 "strategy: {dp: %d, tp: 1, pp: 1, micro_batch: 1, global_batch: %d, dtype: %s}\n",
			 clusters[i].name, clusters[i].world, clusters[i].world, clusters[i].dtype);
		tmps[n] = strdup(write_tmp_n(text, n));
		n++;
	}
	tmps[n] = strdup(write_tmp_n("model: gpt2-124m\ncluster: local\n"
				     "strategy: {dp: 1, tp: 2, pp: 1, micro_batch: 1, global_batch: 1, dtype: fp32, grad_dtype: fp32}\n",
				     n));
	n++;
	char *out, *err;
	int rc = check_files((const char *const *)tmps, n, &out, &err);
	if (rc != 0)
		fail_msg("a device or cluster preset does not load (exit %d):\n%s", rc, err);
	char *docs[ND + NC + 1];
	assert_int_equal(split_docs(out, docs, n), n);
	/* The presets' values arrive: the device of each one-device cluster. */
	for (int i = 0; i < ND; i++) {
		char want[128];
		snprintf(want, sizeof want, "  device:\n    name: \"%s\"\n", devices[i].name);
		if (!strstr(docs[i], want))
			fail_msg("%s: resolved device name missing:\n%s", devices[i].name, docs[i]);
	}
	for (int i = 0; i < n; i++) {
		unlink(tmps[i]);
		free(tmps[i]);
		free(docs[i]);
	}
	free(out);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenarios_round_trip),
		cmocka_unit_test(test_sweep_expansion),
		cmocka_unit_test(test_closed_form_gpt2),
		cmocka_unit_test(test_model_param_counts),
		cmocka_unit_test(test_devices_and_clusters_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
