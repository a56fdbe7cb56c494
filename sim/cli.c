/* cli.c — the verb table and shared helpers of the command layer. */
#include "config.h"
#include "cli.h"
#include "status.h"

#include <string.h>

static const struct ps_verb verbs[] = {
	{"check", cmd_check, "validate scenario files and print them in canonical form",
	 "parasim check [--expand] FILE..."},
	{"simulate", cmd_simulate, "simulate one training step of each scenario and store the runs",
	 "parasim simulate FILE [--db PATH] [--format table|json|csv] [--trace] [--analytic] [--no-fold]"},
	{"plan", cmd_plan, "search the strategy space under memory and budget constraints",
	 "parasim plan FILE [--db PATH]"},
	{"profile", cmd_profile, "measure kernels and collectives on this machine and store the profile",
	 "parasim profile [--device cpu|cuda] [--quick] [--threads N] [--comm] [--db PATH]"},
	{"train", cmd_train, "train a small model for real with the execute backend",
	 "parasim train FILE [--db PATH]"},
	{"validate", cmd_validate, "run a scenario through both backends and compare",
	 "parasim validate FILE [--db PATH]"},
	{"report", cmd_report, "write an HTML report with tables and plots from stored runs",
	 "parasim report [--db PATH] [-o FILE]"},
	{"export", cmd_export, "export stored runs as CSV, JSON or a Chrome trace",
	 "parasim export [--db PATH] [--format csv|json|chrome-trace] [--run ID] [-o FILE]"},
	{"list", cmd_list, "list known models, hardware and clusters",
	 "parasim list models|hardware|clusters|scenarios|verbs"},
	{NULL, NULL, NULL, NULL},
};

const struct ps_verb *cli_verbs(void) { return verbs; }

const struct ps_verb *cli_verb_find(const char *name)
{
	for (const struct ps_verb *v = verbs; v->name; v++)
		if (strcmp(v->name, name) == 0)
			return v;
	return NULL;
}

void cli_error(const char *verb)
{
	fprintf(stderr, "parasim %s: %s\n", verb, ps_error_message());
}

int cli_usage(const char *verb)
{
	const struct ps_verb *v = cli_verb_find(verb);
	if (v)
		fprintf(stderr, "usage: %s\n(see `parasim help %s` or `man parasim-%s`)\n", v->usage, verb, verb);
	return PS_EXIT_USAGE;
}

int cli_not_built(const char *verb, const char *issue)
{
	fprintf(stderr, "parasim %s: not built yet (%s)\n", verb, issue);
	return PS_EXIT_FAIL;
}
