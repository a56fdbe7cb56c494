/* cmd-check.c — `parasim check [--expand] FILE...`: validate scenarios and
 * print their canonical YAML.
 *
 * Each file is loaded with scenario_load(); its canonical text goes to
 * stdout (several documents separated by "---" lines); a file that fails
 * prints its message ("FILE:LINE:COL: key.path: expected ..., got ...") on
 * stderr and makes the exit status 1, the other files are still checked.
 * With --expand, each consistent sweep combination is printed as its own
 * document and skipped combinations are listed on stderr with the reason.
 * Exit: 0 all files valid, 1 any invalid, 2 usage. */
#include "config.h"
#include "cli.h"
#include "scenario.h"
#include "status.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

struct check_out {
	int ndocs;
	const char *file;
};

static void print_doc(struct check_out *o, const char *text)
{
	if (o->ndocs++ > 0)
		fputs("---\n", stdout);
	fputs(text, stdout);
}

static ps_status print_one(const struct ps_scenario *one, void *arg)
{
	print_doc(arg, one->canonical);
	return PS_OK;
}

static void print_skip(const char *combo, const char *reason, void *arg)
{
	const struct check_out *o = arg;
	fprintf(stderr, "%s: skipped %s: %s\n", o->file, combo, reason);
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{"expand", no_argument, NULL, 'e'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int expand = 0, c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+eh", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			expand = 1;
			break;
		case 'h':
			printf("usage: parasim check [--expand] FILE...\n"
			       "Validate scenario files and print them in canonical form (includes inlined,\n"
			       "units normalised, every default explicit).  --expand prints each consistent\n"
			       "sweep combination instead, and lists skipped ones on stderr.\n");
			return PS_EXIT_OK;
		default:
			fprintf(stderr, "parasim check: unknown option '%s'\n", argv[optind - 1]);
			return cli_usage("check");
		}
	}
	if (optind >= argc)
		return cli_usage("check");
	struct check_out out = {0};
	int rc = PS_EXIT_OK;
	for (int i = optind; i < argc; i++) {
		struct ps_scenario sc;
		if (scenario_load(argv[i], &sc) != PS_OK) {
			fprintf(stderr, "%s\n", ps_error_message());
			rc = PS_EXIT_FAIL;
			continue;
		}
		out.file = argv[i];
		if (expand) {
			if (scenario_expand(&sc, print_one, print_skip, &out) != PS_OK) {
				fprintf(stderr, "%s\n", ps_error_message());
				rc = PS_EXIT_FAIL;
			}
		} else {
			print_doc(&out, sc.canonical);
		}
		scenario_fini(&sc);
	}
	fflush(stdout);
	return rc;
}
