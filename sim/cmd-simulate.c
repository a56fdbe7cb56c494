/* cmd-simulate.c — `parasim simulate`. */
#include "config.h"
#include "cli.h"

int cmd_simulate(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_not_built("simulate", "issue 4, simulator");
}
