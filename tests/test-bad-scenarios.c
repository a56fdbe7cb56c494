/* test-bad-scenarios.c — every tests/data/bad/NAME.yaml must make
 * `parasim check NAME.yaml` exit 1 without crashing and print the message in
 * NAME.err (its first line) on stderr.  When NAME.err starts with
 * "NAME.yaml:" the first line of stderr must equal it exactly, or start with
 * it when it ends in "..." (the rest names directories of this machine);
 * otherwise (an error inside a preset, whose path depends on
 * PARASIM_DATADIR) stderr must contain it.  The directory is enumerated: adding a pair adds a case.
 * Presets come from tests/data/presets. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define MIN_CASES 50

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

static char *read_first_line(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char buf[2048];
	char *r = fgets(buf, sizeof buf, f);
	fclose(f);
	if (!r)
		return strdup("");
	buf[strcspn(buf, "\n")] = '\0';
	return strdup(buf);
}

static void test_bad_file(void **state)
{
	const char *name = *state; /* NAME.yaml, relative to the bad/ folder (our cwd) */
	char errpath[1024];
	snprintf(errpath, sizeof errpath, "%.*s.err", (int)(strlen(name) - 5), name);
	char *want = read_first_line(errpath);
	if (!want || !*want)
		FAILF("%s: missing or empty %s", name, errpath);
	char *out = NULL, *err = NULL;
	int rc = test_run_parasim(&out, &err, "check", name, NULL);
	if (rc != 1)
		FAILF("%s: exit status %d (want 1; -1 = crashed)\nstderr: %s", name, rc, err);
	if (out[0] != '\0')
		FAILF("%s: unexpected stdout: %s", name, out);
	char first[2048];
	snprintf(first, sizeof first, "%.*s", (int)strcspn(err, "\n"), err);
	char prefix[1024];
	snprintf(prefix, sizeof prefix, "%s:", name);
	size_t wl = strlen(want);
	bool dots = wl > 3 && strcmp(want + wl - 3, "...") == 0;
	if (strncmp(want, prefix, strlen(prefix)) == 0 && dots) {
		if (strncmp(first, want, wl - 3) != 0)
			FAILF("%s:\n got: %s\nwant (prefix): %s", name, first, want);
	} else if (strncmp(want, prefix, strlen(prefix)) == 0) {
		if (strcmp(first, want) != 0)
			FAILF("%s:\n got: %s\nwant: %s", name, first, want);
	} else if (!strstr(err, want)) {
		FAILF("%s:\n got: %s\nwant (substring): %s", name, err, want);
	}
	/* every message has the FILE:LINE:COL: key.path: expected ..., got ... form */
	assert_non_null(strstr(first, ": expected "));
	assert_non_null(strstr(first, ", got "));
	free(want);
	free(out);
	free(err);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void)
{
	char dir[2048];
	snprintf(dir, sizeof dir, "%s", test_data("bad"));
	setenv("PARASIM_DATADIR", test_data("presets"), 1);
	if (chdir(dir) != 0) {
		fprintf(stderr, "cannot enter %s\n", dir);
		return 1;
	}
	DIR *d = opendir(".");
	if (!d) {
		fprintf(stderr, "cannot list %s\n", dir);
		return 1;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len > 5 && strcmp(e->d_name + len - 5, ".yaml") == 0) {
			names = realloc(names, sizeof *names * (n + 1));
			names[n++] = strdup(e->d_name);
		}
	}
	closedir(d);
	qsort(names, n, sizeof *names, by_name);
	printf("# %zu malformed scenario files in %s\n", n, dir);
	if (n < MIN_CASES) {
		printf("1..1\nnot ok 1 - at least %d malformed files (found %zu)\n", MIN_CASES, n);
		return 1;
	}
	struct CMUnitTest *tests = calloc(n, sizeof *tests);
	for (size_t i = 0; i < n; i++) {
		tests[i].name = names[i];
		tests[i].test_func = test_bad_file;
		tests[i].initial_state = names[i];
	}
	int rc = _cmocka_run_group_tests("bad-scenarios", tests, n, NULL, NULL);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(tests);
	return rc;
}
