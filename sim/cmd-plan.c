/* cmd-plan.c — `parasim plan`. */
#include "config.h"
#include "cli.h"

int cmd_plan(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_not_built("plan", "a later issue");
}
