/* test-status.c — the error record behind PS_ERROR. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "status.h"

static ps_status fail_with(int n) { return PS_ERROR(PS_ERR_INVALID, "value %d is bad", n); }

static void test_error_set(void **state)
{
	(void)state;
	ps_error_clear();
	assert_int_equal(ps_error_code(), PS_OK);
	assert_string_equal(ps_error_message(), "");
	assert_int_equal(fail_with(7), PS_ERR_INVALID);
	assert_int_equal(ps_error_code(), PS_ERR_INVALID);
	assert_string_equal(ps_error_message(), "value 7 is bad");
	assert_non_null(strstr(ps_error_origin(), "test-status.c:"));
	ps_error_prefix("a.yaml:3:4");
	assert_string_equal(ps_error_message(), "a.yaml:3:4: value 7 is bad");
}

static void test_status_names(void **state)
{
	(void)state;
	for (int c = PS_OK; c <= PS_ERR_INTERNAL; c++)
		assert_string_not_equal(ps_status_name((ps_status)c), "unknown status");
	assert_string_equal(ps_status_name((ps_status)999), "unknown status");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_set),
		cmocka_unit_test(test_status_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
