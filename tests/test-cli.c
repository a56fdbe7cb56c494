/* test-cli.c — the verb table and exit codes of the `parasim` command. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cli.h"
#include "testutil.h"

static void test_help_lists_every_verb(void **state)
{
	(void)state;
	char *out;
	assert_int_equal(test_run_parasim(&out, NULL, "--help", NULL), 0);
	for (const struct ps_verb *v = cli_verbs(); v->name; v++)
		assert_non_null(strstr(out, v->name));
	free(out);
}

static void test_version(void **state)
{
	(void)state;
	char *out;
	assert_int_equal(test_run_parasim(&out, NULL, "--version", NULL), 0);
	assert_non_null(strstr(out, "parasim " PACKAGE_VERSION));
	free(out);
}

static void test_usage_errors(void **state)
{
	(void)state;
	char *err;
	assert_int_equal(test_run_parasim(NULL, &err, NULL), 2);
	free(err);
	assert_int_equal(test_run_parasim(NULL, &err, "no-such-verb", NULL), 2);
	assert_non_null(strstr(err, "unknown verb 'no-such-verb'"));
	free(err);
	assert_int_equal(test_run_parasim(NULL, &err, "help", "nope", NULL), 2);
	free(err);
}

static void test_help_verb(void **state)
{
	(void)state;
	for (const struct ps_verb *v = cli_verbs(); v->name; v++) {
		char *out;
		assert_int_equal(test_run_parasim(&out, NULL, "help", v->name, NULL), 0);
		assert_non_null(strstr(out, v->usage));
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_lists_every_verb),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_help_verb),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
