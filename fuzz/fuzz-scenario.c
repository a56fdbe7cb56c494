/* fuzz-scenario.c — libFuzzer target for the scenario loader.
 *
 * Loads the input as a scenario; when it loads, checks that the canonical
 * text reloads to the same canonical text (and sha256), expands the sweep
 * and checks the same round trip for every combination (at most a few).
 * Presets are looked up in $PARASIM_DATADIR, set by default to the test
 * fixtures of the source tree so that includes resolve. */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#ifndef PS_FUZZ_DATADIR
#define PS_FUZZ_DATADIR PS_SRC_DATADIR "/../tests/data/presets"
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("PARASIM_DATADIR", PS_FUZZ_DATADIR, 0);
	return 0;
}

static void reload_same(const char *canonical, const char *sha)
{
	struct ps_scenario b;
	if (scenario_load_string(canonical, strlen(canonical), "canonical.yaml", &b) != PS_OK) {
		fprintf(stderr, "canonical text does not reload: %s\n%s", ps_error_message(), canonical);
		abort();
	}
	if (strcmp(b.canonical, canonical) != 0 || strcmp(b.sha256, sha) != 0) {
		fprintf(stderr, "canonical text changes on reload:\n%s---\n%s", canonical, b.canonical);
		abort();
	}
	scenario_fini(&b);
}

static ps_status each(const struct ps_scenario *one, void *arg)
{
	int *n = arg;
	reload_same(one->canonical, one->sha256);
	return ++*n >= 4 ? PS_ERR_INVALID : PS_OK; /* a few combinations are enough */
}

static void skip(const char *combo, const char *reason, void *arg)
{
	(void)arg;
	if (!combo || !reason || !*reason)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ps_scenario a;
	if (scenario_load_string((const char *)data, size, "fuzz.yaml", &a) != PS_OK) {
		if (a.canonical || a.sweep.naxes)
			abort(); /* a failed load leaves the struct finalised */
		return 0;
	}
	char *again = NULL;
	if (scenario_canonical(&a, &again) != PS_OK || strcmp(again, a.canonical) != 0)
		abort();
	free(again);
	reload_same(a.canonical, a.sha256);
	int n = 0;
	scenario_expand(&a, each, skip, &n);
	scenario_fini(&a);
	return 0;
}
