/* cli.h — the command layer: one function per verb of `parasim`.
 *
 * Each verb parses its own options (getopt_long), prints data on stdout and
 * diagnostics on stderr, and returns the exit code: 0 success, 1 failure,
 * 2 usage error.  Only this layer prints to the user. */
#ifndef PS_CLI_H
#define PS_CLI_H

#include <stdio.h>

#define PS_EXIT_OK 0
#define PS_EXIT_FAIL 1
#define PS_EXIT_USAGE 2

struct ps_verb {
	const char *name;
	int (*run)(int argc, char **argv);  /* argv[0] is the verb name */
	const char *summary;                /* one line for `parasim help` */
	const char *usage;                  /* usage synopsis */
};

int cmd_check(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_list(int argc, char **argv);

const struct ps_verb *cli_verbs(void);          /* NULL-name terminated table */
const struct ps_verb *cli_verb_find(const char *name);

/* Print "parasim VERB: message" for the last ps_error to stderr. */
void cli_error(const char *verb);
/* Print usage of a verb to stderr and return PS_EXIT_USAGE. */
int cli_usage(const char *verb);
/* A verb whose engine is not built yet: says so, returns PS_EXIT_FAIL. */
int cli_not_built(const char *verb, const char *issue);

#endif
