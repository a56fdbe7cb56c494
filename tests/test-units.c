/* test-units.c — quantities with units: every family, decimal vs binary,
 * bits vs bytes, errors, and exact round trips through the formatter. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

/* Failure details as TAP comments (cmocka's own text goes to stderr, which
 * the TAP log does not keep). */
static void diag_lines(const char *m)
{
	while (*m) {
		size_t n = strcspn(m, "\n");
		printf("# %.*s\n", (int)n, m);
		m += n + (m[n] == '\n');
	}
	fflush(stdout);
}
#define FAILF(...)                                                                                             \
	do {                                                                                                   \
		char m_[8192];                                                                                 \
		snprintf(m_, sizeof m_, __VA_ARGS__);                                                          \
		diag_lines(m_);                                                                                \
		fail();                                                                                        \
	} while (0)

/* Bit-for-bit equality (the value a correct parse must give). */
static void check(ps_unit_kind k, const char *text, double want)
{
	double v = -1;
	ps_status st = units_parse(k, text, &v);
	if (st != PS_OK)
		FAILF("parse \"%s\": %s", text, ps_error_message());
	if (memcmp(&v, &want, sizeof v) != 0)
		FAILF("parse \"%s\": got %.17g, want %.17g", text, v, want);
}

static void check_err(ps_unit_kind k, const char *text, ps_status code, const char *substr)
{
	double v = 12345;
	ps_status st = units_parse(k, text, &v);
	if (st != code)
		FAILF("parse \"%s\": status %d, want %d (%s)", text, st, code, ps_error_message());
	if (substr && !strstr(ps_error_message(), substr))
		FAILF("parse \"%s\": message \"%s\" lacks \"%s\"", text, ps_error_message(), substr);
	assert_true(v == 12345); /* untouched on error */
}

static void test_bytes(void **state)
{
	(void)state;
	check(UNIT_BYTES, "80GB", 80e9);
	check(UNIT_BYTES, "80GiB", 80.0 * 1073741824.0);
	check(UNIT_BYTES, "1KiB", 1024);
	check(UNIT_BYTES, "1kB", 1000);
	check(UNIT_BYTES, "1KB", 1000);
	check(UNIT_BYTES, "2MiB", 2.0 * 1048576);
	check(UNIT_BYTES, "3TiB", 3.0 * 1099511627776.0);
	check(UNIT_BYTES, "1PB", 1e15);
	check(UNIT_BYTES, "1EiB", 1152921504606846976.0);
	check(UNIT_BYTES, "512B", 512);
	check(UNIT_BYTES, "0.5 MB", 5e5);
	check(UNIT_BYTES, "  4MiB\t", 4.0 * 1048576);
	check(UNIT_BYTES, "1e3B", 1000);
	check(UNIT_BYTES, "1.5e9B", 1.5e9);
	check(UNIT_BYTES, ".5KB", 500);
	check(UNIT_BYTES, "0", 0);
	/* bits */
	check(UNIT_BYTES, "8b", 1);
	check(UNIT_BYTES, "1b", 0.125);
	check(UNIT_BYTES, "1Kb", 125);
	check(UNIT_BYTES, "1Gb", 1.25e8);
	check(UNIT_BYTES, "1Kib", 128);
	/* decimal and binary differ */
	double a, b;
	assert_int_equal(units_parse(UNIT_BYTES, "1GB", &a), PS_OK);
	assert_int_equal(units_parse(UNIT_BYTES, "1GiB", &b), PS_OK);
	assert_true(b - a == 73741824.0);
}

static void test_bandwidth(void **state)
{
	(void)state;
	check(UNIT_BANDWIDTH, "400Gb/s", 50e9);
	check(UNIT_BANDWIDTH, "400Gbps", 50e9);
	check(UNIT_BANDWIDTH, "50GBps", 50e9);
	check(UNIT_BANDWIDTH, "50GB/s", 50e9);
	check(UNIT_BANDWIDTH, "2039GB/s", 2039e9);
	check(UNIT_BANDWIDTH, "1GiB/s", 1073741824.0);
	check(UNIT_BANDWIDTH, "8b/s", 1);
	check(UNIT_BANDWIDTH, "100 Mb/s", 12.5e6);
	check(UNIT_BANDWIDTH, "1B/s", 1);
	check_err(UNIT_BANDWIDTH, "50GB", PS_ERR_PARSE, "expected a bandwidth");
}

static void test_time(void **state)
{
	(void)state;
	check(UNIT_TIME, "936ns", 936 / 1e9);
	check(UNIT_TIME, "1ps", 1 / 1e12);
	check(UNIT_TIME, "3us", 3 / 1e6);
	check(UNIT_TIME, "3\xc2\xb5s", 3 / 1e6);
	check(UNIT_TIME, "5ms", 5 / 1e3);
	check(UNIT_TIME, "2s", 2);
	check(UNIT_TIME, "1.5min", 90);
	check(UNIT_TIME, "720h", 2592000);
	check(UNIT_TIME, "30d", 2592000);
	check_err(UNIT_TIME, "3 weeks", PS_ERR_PARSE, "expected a time such as \"936ns\"");
}

static void test_flops(void **state)
{
	(void)state;
	check(UNIT_FLOPS, "312TFLOPS", 312e12);
	check(UNIT_FLOPS, "312TFLOP/s", 312e12);
	check(UNIT_FLOPS, "19.5TFLOPS", 19.5e12);
	check(UNIT_FLOPS, "989 TFLOPS", 989e12);
	check(UNIT_FLOPS, "1EFLOPS", 1e18);
	check(UNIT_FLOPS, "2GFLOPS", 2e9);
	check(UNIT_FLOPS, "7FLOPS", 7);
	check(UNIT_FLOP, "5GFLOP", 5e9);
	check(UNIT_FLOP, "1.5PFLOP", 1.5e15);
	check(UNIT_FLOP, "3FLOP", 3);
	check_err(UNIT_FLOPS, "1KiFLOPS", PS_ERR_PARSE, "expected a FLOP rate"); /* no binary prefix */
	check_err(UNIT_FLOP, "5GFLOPS", PS_ERR_PARSE, "expected a FLOP amount");
}

static void test_money_power(void **state)
{
	(void)state;
	check(UNIT_MONEY_RATE, "$2.10/h", 2.10 / 3600);
	check(UNIT_MONEY_RATE, "$0.5/hour", 0.5 / 3600);
	check(UNIT_MONEY_RATE, "$100/day", 100 / 86400.0);
	check(UNIT_MONEY_RATE, "$1/s", 1);
	check(UNIT_MONEY_RATE, "$3/min", 3 / 60.0);
	check(UNIT_MONEY_RATE, "0", 0);
	check_err(UNIT_MONEY_RATE, "2.10/h", PS_ERR_PARSE, "starting with $");
	check_err(UNIT_MONEY_RATE, "$2/week", PS_ERR_PARSE, "expected a price rate");
	check(UNIT_POWER, "700W", 700);
	check(UNIT_POWER, "1.5kW", 1500);
	check(UNIT_POWER, "2MW", 2e6);
	check_err(UNIT_POWER, "80GiB", PS_ERR_PARSE, "expected a power such as \"700W\"");
	check_err(UNIT_POWER, "1KiW", PS_ERR_PARSE, NULL);
}

static void test_errors(void **state)
{
	(void)state;
	check_err(UNIT_BYTES, "", PS_ERR_PARSE, "expected a size such as \"80GiB\", got \"\"");
	check_err(UNIT_BYTES, "   ", PS_ERR_PARSE, "got \"   \"");
	check_err(UNIT_BYTES, "GB", PS_ERR_PARSE, "a number, then a unit");
	check_err(UNIT_BYTES, "80Gq", PS_ERR_PARSE, "got \"80Gq\"");
	check_err(UNIT_BYTES, "80", PS_ERR_PARSE, "with a unit");
	check_err(UNIT_BYTES, "2  GB", PS_ERR_PARSE, NULL); /* one blank at most */
	check_err(UNIT_BYTES, "+5GB", PS_ERR_PARSE, NULL);
	check_err(UNIT_BYTES, "0x10B", PS_ERR_PARSE, NULL);
	check_err(UNIT_BYTES, "-5GB", PS_ERR_RANGE, "non-negative");
	check_err(UNIT_BYTES, "inf", PS_ERR_RANGE, "finite");
	check_err(UNIT_BYTES, "infGB", PS_ERR_RANGE, "finite");
	check_err(UNIT_BYTES, "NaN GB", PS_ERR_RANGE, "finite");
	check_err(UNIT_BYTES, "1e31B", PS_ERR_RANGE, "1e30");
	check_err(UNIT_BYTES, "1e13EB", PS_ERR_RANGE, "1e30");
	check_err(UNIT_BYTES, "1e400B", PS_ERR_RANGE, "1e30"); /* strtod ERANGE */
	check_err(UNIT_BYTES, "1e-400B", PS_ERR_RANGE, NULL);
	check_err(UNIT_TIME, "1e-20ps", PS_ERR_RANGE, NULL);   /* 1e-32 s: below 1e-30 */
	check_err(UNIT_BYTES, "5GB/s", PS_ERR_PARSE, "expected a size");
	check_err(UNIT_BYTES, "5\"GB", PS_ERR_PARSE, "got \"5\\\"GB\"");
	check_err(UNIT_BYTES, NULL, PS_ERR_PARSE, NULL);
	char longnum[200];
	memset(longnum, '1', 150);
	strcpy(longnum + 150, "B");
	check_err(UNIT_BYTES, longnum, PS_ERR_PARSE, NULL);
	double v;
	assert_int_equal(units_parse(UNIT_BYTES, "1e30B", &v), PS_OK); /* the bound itself is fine */
	assert_true(v == 1e30);
	assert_string_equal(units_kind_name(UNIT_BANDWIDTH), "bandwidth");
	assert_string_equal(units_kind_name((ps_unit_kind)99), "quantity");
}

static void check_fmt(ps_unit_kind k, double v, const char *want)
{
	char buf[64];
	int n = units_format(k, v, buf, sizeof buf);
	assert_int_equal(n, (int)strlen(buf));
	if (strcmp(buf, want) != 0)
		FAILF("format %.17g: got \"%s\", want \"%s\"", v, buf, want);
	double back;
	assert_int_equal(units_parse(k, buf, &back), PS_OK);
	assert_memory_equal(&back, &v, sizeof v);
}

static void test_format(void **state)
{
	(void)state;
	check_fmt(UNIT_BYTES, 85899345920.0, "80GiB");
	check_fmt(UNIT_BYTES, 80e9, "80GB");
	check_fmt(UNIT_BYTES, 40e6, "40MB");
	check_fmt(UNIT_BYTES, 1024, "1KiB");
	check_fmt(UNIT_BYTES, 1000, "1KB");
	check_fmt(UNIT_BYTES, 4096000, "4000KiB");
	check_fmt(UNIT_BYTES, 1.5e9, "1.5GB");
	check_fmt(UNIT_BYTES, 512, "512B");
	check_fmt(UNIT_BYTES, 0.125, "0.125B");
	check_fmt(UNIT_BYTES, 0, "0B");
	check_fmt(UNIT_BANDWIDTH, 5e10, "50GB/s");
	check_fmt(UNIT_BANDWIDTH, 2039e9, "2039GB/s");
	check_fmt(UNIT_BANDWIDTH, 819.2e9, "819.2GB/s");
	check_fmt(UNIT_TIME, 1e-5, "10us");
	check_fmt(UNIT_TIME, 1.5e-5, "15us");
	check_fmt(UNIT_MONEY_RATE, 0.5 / 3600, "$0.5/h");
	check_fmt(UNIT_BYTES, 2e30 / 2, "1000000000000EB");
	check_fmt(UNIT_TIME, 936 / 1e9, "936ns");
	check_fmt(UNIT_TIME, 2592000, "30d");
	check_fmt(UNIT_TIME, 90, "90s");
	check_fmt(UNIT_TIME, 5400, "90min");
	check_fmt(UNIT_TIME, 9000, "2.5h");
	check_fmt(UNIT_TIME, 129600, "36h");
	check_fmt(UNIT_TIME, 1 / 1e12, "1ps");
	check_fmt(UNIT_TIME, 0.5, "500ms");
	check_fmt(UNIT_TIME, 0, "0s");
	check_fmt(UNIT_FLOPS, 312e12, "312TFLOPS");
	check_fmt(UNIT_FLOPS, 19.5e12, "19.5TFLOPS");
	check_fmt(UNIT_FLOP, 5e9, "5GFLOP");
	check_fmt(UNIT_MONEY_RATE, 2.10 / 3600, "$2.1/h");
	check_fmt(UNIT_MONEY_RATE, 100 / 86400.0, "$100/day");
	check_fmt(UNIT_MONEY_RATE, 0, "$0/h");
	check_fmt(UNIT_POWER, 1500, "1.5kW");
	check_fmt(UNIT_POWER, 700, "700W");
	/* truncation reports the needed length like snprintf */
	char small[4];
	assert_int_equal(units_format(UNIT_BYTES, 85899345920.0, small, sizeof small), 5);
	assert_string_equal(small, "80G");
}

/* Every value a parse gives must format to text that parses back to it. */
static void roundtrip(ps_unit_kind k, double v)
{
	char buf[96];
	units_format(k, v, buf, sizeof buf);
	double back = -1;
	if (units_parse(k, buf, &back) != PS_OK)
		FAILF("kind %d: %.17g formatted as \"%s\" does not parse: %s", k, v, buf, ps_error_message());
	if (memcmp(&back, &v, sizeof v) != 0)
		FAILF("kind %d: %.17g -> \"%s\" -> %.17g", k, v, buf, back);
}

static void test_roundtrip_strings(void **state)
{
	(void)state;
	static const struct {
		ps_unit_kind k;
		const char *s;
	} cases[] = {
		{UNIT_BYTES, "80GiB"},     {UNIT_BYTES, "1.1GB"},       {UNIT_BYTES, "3Gb"},
		{UNIT_BYTES, "0.1B"},      {UNIT_BYTES, "123456789B"},  {UNIT_BYTES, "7.77e-7B"},
		{UNIT_BANDWIDTH, "400Gb/s"}, {UNIT_BANDWIDTH, "0.3Mbps"}, {UNIT_BANDWIDTH, "1.1GiB/s"},
		{UNIT_TIME, "936ns"},      {UNIT_TIME, "0.1ns"},        {UNIT_TIME, "1.234567us"},
		{UNIT_TIME, "37h"},        {UNIT_TIME, "1e-18s"},       {UNIT_TIME, "0.3ms"},
		{UNIT_FLOPS, "0.3TFLOPS"}, {UNIT_FLOPS, "1e29FLOPS"},   {UNIT_FLOP, "0.7GFLOP"},
		{UNIT_MONEY_RATE, "$2.10/h"}, {UNIT_MONEY_RATE, "$0.01/s"}, {UNIT_MONEY_RATE, "$33.3/day"},
		{UNIT_MONEY_RATE, "$1e-20/h"}, {UNIT_POWER, "0.1W"},   {UNIT_POWER, "1.23456789MW"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		double v;
		if (units_parse(cases[i].k, cases[i].s, &v) != PS_OK)
			FAILF("%s: %s", cases[i].s, ps_error_message());
		roundtrip(cases[i].k, v);
	}
}

/* Random doubles, log-uniform over the accepted range, all kinds. */
static void test_roundtrip_random(void **state)
{
	(void)state;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int k = 0; k < UNIT_COUNT_; k++) {
		for (int i = 0; i < 1500; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			double u = (double)(x >> 11) / 9007199254740992.0; /* [0,1) */
			double v = pow(10, -29.9 + 59.8 * u);
			if (i % 3 == 0) /* round-ish values too */
				v = floor(v * 1000) / 1000;
			if (!(v > 1e-30 && v <= 1e30))
				continue;
			roundtrip((ps_unit_kind)k, v);
		}
		/* integers and simple decimals with every unit-ish magnitude */
		for (int e = -12; e <= 21; e++)
			for (int m = 1; m < 1000; m += 37)
				roundtrip((ps_unit_kind)k, m * pow(10, e));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes),		  cmocka_unit_test(test_bandwidth),
		cmocka_unit_test(test_time),		  cmocka_unit_test(test_flops),
		cmocka_unit_test(test_money_power),	  cmocka_unit_test(test_errors),
		cmocka_unit_test(test_format),		  cmocka_unit_test(test_roundtrip_strings),
		cmocka_unit_test(test_roundtrip_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
