/* test-list.c — `parasim list`: every preset is listed with its summary,
 * `list verbs` matches the verb table, bad arguments are usage errors, and a
 * broken or missing data directory is a failure, not a crash.
 *
 * The expected names are written out here (not read from the directory the
 * command lists), so a preset that disappears or is renamed fails the test. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "cli.h"
#include "testutil.h"

static const char *const models[] = {
	"gpt2-124m", "gpt2-355m", "gpt2-774m", "gpt2-1.5b", "gpt3-2.7b", "gpt3-6.7b", "gpt3-13b",
	"gpt3-175b", "llama2-7b", "llama2-13b", "llama2-70b", "llama3-8b", "llama3-70b", "llama3-405b", NULL};
static const char *const hardware[] = {"a100-40gb", "a100-80gb", "h100-sxm", "h200", "v100-32gb",
				       "tpu-v4", "alveo-u280", "this-cpu", NULL};
static const char *const clusters[] = {"dgx-a100", "dgx-h100", "dgx-h200", "local", NULL};
static const char *const scenarios[] = {"gpt3-175b-dgx-a100", "llama3-70b-dgx-h100", "llama2-7b-dgx-a100-zero3",
					"gpt2-124m-local", "gpt3-13b-sweep", NULL};

/* The line of out that starts with "name" followed by blanks, or NULL. */
static const char *find_line(const char *out, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return p;
	return NULL;
}

/* Run `parasim list kind`, assert every name has a complete summary line;
 * returns the output (caller frees). */
static char *check_kind(const char *kind, const char *const *names)
{
	char *out, *err;
	assert_int_equal(test_run_parasim(&out, &err, "list", kind, NULL), 0);
	for (const char *const *n = names; *n; n++) {
		const char *line = find_line(out, *n);
		if (!line)
			fail_msg("`parasim list %s` does not list %s:\n%s", kind, *n, out);
		const char *eol = strchr(line, '\n');
		assert_non_null(eol);
		char buf[1024];
		snprintf(buf, sizeof buf, "%.*s", (int)(eol - line), line);
		if (strstr(buf, "unreadable") || strstr(buf, "?"))
			fail_msg("incomplete summary: %s", buf);
	}
	assert_string_equal(err, "");
	free(err);
	return out;
}

static void test_list_models(void **state)
{
	(void)state;
	char *out = check_kind("models", models);
	/* Spot-check the summary: GQA heads and the closed-form count. */
	const char *l = find_line(out, "llama2-70b");
	assert_non_null(l);
	assert_ptr_equal(strstr(l, "68.98B params"), strchr(l + strlen("llama2-70b"), '6'));
	assert_non_null(strstr(l, "heads 64/8 kv"));
	l = find_line(out, "gpt2-124m");
	assert_ptr_equal(strstr(l, "124.4M params"), strchr(l + strlen("gpt2-124m"), '1'));
	free(out);
}

static void test_list_hardware(void **state)
{
	(void)state;
	char *out = check_kind("hardware", hardware);
	const char *l = find_line(out, "a100-80gb");
	assert_non_null(l);
	assert_non_null(strstr(l, "bf16 312TFLOPS, memory 80GB, bandwidth 2039GB/s"));
	/* No bf16 on Volta: the summary falls back to the fp16 peak. */
	assert_non_null(strstr(find_line(out, "v100-32gb"), "fp16 125TFLOPS"));
	free(out);
}

static void test_list_clusters(void **state)
{
	(void)state;
	char *out = check_kind("clusters", clusters);
	assert_non_null(strstr(find_line(out, "dgx-a100"), "8 x a100-80gb per node"));
	assert_non_null(strstr(find_line(out, "dgx-a100"), "ib-hdr 200Gb/s x 8 rails"));
	free(out);
}

static void test_list_scenarios(void **state)
{
	(void)state;
	char *out = check_kind("scenarios", scenarios);
	assert_non_null(strstr(find_line(out, "gpt3-13b-sweep"), "with sweep"));
	assert_null(strstr(find_line(out, "gpt3-175b-dgx-a100"), "sweep"));
	free(out);
}

static void test_list_verbs(void **state)
{
	(void)state;
	char *out;
	assert_int_equal(test_run_parasim(&out, NULL, "list", "verbs", NULL), 0);
	/* Exactly the verb table, one per line, in order. */
	char want[1024] = "";
	for (const struct ps_verb *v = cli_verbs(); v->name; v++) {
		strcat(want, v->name);
		strcat(want, "\n");
	}
	assert_string_equal(out, want);
	free(out);
}

static void test_list_usage(void **state)
{
	(void)state;
	char *err;
	assert_int_equal(test_run_parasim(NULL, &err, "list", NULL), 2);
	assert_non_null(strstr(err, "usage:"));
	free(err);
	assert_int_equal(test_run_parasim(NULL, &err, "list", "gpus", NULL), 2);
	assert_non_null(strstr(err, "unknown kind 'gpus'"));
	free(err);
	assert_int_equal(test_run_parasim(NULL, &err, "list", "models", "extra", NULL), 2);
	free(err);
	char *out;
	assert_int_equal(test_run_parasim(&out, NULL, "list", "--help", NULL), 0);
	assert_non_null(strstr(out, "usage:"));
	free(out);
}

/* A data directory with a broken preset and one without the folder. */
static void test_list_bad_datadir(void **state)
{
	(void)state;
	char dir[] = "/tmp/ps-test-listXXXXXX";
	assert_non_null(mkdtemp(dir));
	char sub[256], path[512];
	snprintf(sub, sizeof sub, "%s/models", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof path, "%s/broken.yaml", sub);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("layers: [1, 2\nhidden: {", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/scalar.yaml", sub);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("just a string\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/tiny.yaml", sub);
	f = fopen(path, "w");
	assert_non_null(f);
	/* 2 layers, h 64, gelu 4h, V 256, s 64, tied, biases, layernorm, learned:
	 * 2*(12*64^2 + 13*64) + 256*64 + 64*64 + 2*64 = 120,576. */
	fputs("layers: 2\nhidden: 64\nheads: 4\nffn: gelu\nvocab: 256\nseq_len: 64\n"
	      "tied_embeddings: true\nbias: true\nnorm: layernorm\nposition: learned\n",
	      f);
	fclose(f);

	snprintf(path, sizeof path, "%s/defaults.yaml", sub);
	f = fopen(path, "w");
	assert_non_null(f);
	/* Llama 2 7B with the loader's defaults: ffn_hidden from the Llama rule
	 * 256 * ceil(floor(8 * 4096 / 3) / 256) = 11008, kv_heads = heads. */
	fputs("layers: 32\nhidden: 4096\nheads: 32\nffn: swiglu\nvocab: 32000\nseq_len: 4096\n"
	      "norm: rmsnorm\nposition: rope\ntied_embeddings: false\nbias: false\n",
	      f);
	fclose(f);

	char *old = getenv("PARASIM_DATADIR") ? strdup(getenv("PARASIM_DATADIR")) : NULL;
	setenv("PARASIM_DATADIR", dir, 1);
	char *out, *err;
	assert_int_equal(test_run_parasim(&out, &err, "list", "models", NULL), 1);
	assert_non_null(strstr(find_line(out, "broken"), "(unreadable: line"));
	assert_non_null(strstr(find_line(out, "scalar"), "(unreadable: not a YAML mapping)"));
	assert_non_null(strstr(find_line(out, "tiny"), "120576 params"));
	assert_non_null(strstr(find_line(out, "defaults"), "6.738B params"));
	assert_non_null(strstr(find_line(out, "defaults"), "heads 32/32 kv, ffn 11008 swiglu"));
	free(out);
	free(err);
	/* No clusters/ folder at all. */
	assert_int_equal(test_run_parasim(&out, &err, "list", "clusters", NULL), 1);
	assert_non_null(strstr(err, "cannot open"));
	free(out);
	free(err);
	if (old) {
		setenv("PARASIM_DATADIR", old, 1);
		free(old);
	} else {
		unsetenv("PARASIM_DATADIR");
	}
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_models),   cmocka_unit_test(test_list_hardware),
		cmocka_unit_test(test_list_clusters), cmocka_unit_test(test_list_scenarios),
		cmocka_unit_test(test_list_verbs),    cmocka_unit_test(test_list_usage),
		cmocka_unit_test(test_list_bad_datadir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
