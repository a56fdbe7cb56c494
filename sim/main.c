/* main.c — `parasim <verb> [options]`: dispatch to the verb table. */
#include "config.h"
#include "cli.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

static void print_help(FILE *f)
{
	fprintf(f, "usage: parasim <verb> [options]\n"
		   "       parasim help [verb] | --help | --version\n\n"
		   "parasim simulates and executes parallel training of Transformer language models.\n\n"
		   "verbs:\n");
	for (const struct ps_verb *v = cli_verbs(); v->name; v++)
		fprintf(f, "  %-9s %s\n", v->name, v->summary);
	fprintf(f, "\nexit status: 0 success, 1 failure, 2 usage error\n");
}

int main(int argc, char **argv)
{
	setlocale(LC_ALL, "C");
	if (argc < 2) {
		print_help(stderr);
		return PS_EXIT_USAGE;
	}
	const char *verb = argv[1];
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		print_help(stdout);
		return PS_EXIT_OK;
	}
	if (strcmp(verb, "--version") == 0 || strcmp(verb, "-V") == 0) {
		printf("parasim %s\n", PACKAGE_VERSION);
		return PS_EXIT_OK;
	}
	if (strcmp(verb, "help") == 0) {
		if (argc < 3) {
			print_help(stdout);
			return PS_EXIT_OK;
		}
		const struct ps_verb *v = cli_verb_find(argv[2]);
		if (!v) {
			fprintf(stderr, "parasim: unknown verb '%s'\n", argv[2]);
			return PS_EXIT_USAGE;
		}
		printf("usage: %s\n\n%s\n\nSee man parasim-%s for details.\n", v->usage, v->summary, v->name);
		return PS_EXIT_OK;
	}
	const struct ps_verb *v = cli_verb_find(verb);
	if (!v) {
		fprintf(stderr, "parasim: unknown verb '%s' (try `parasim --help`)\n", verb);
		return PS_EXIT_USAGE;
	}
	return v->run(argc - 1, argv + 1);
}
