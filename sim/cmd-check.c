/* cmd-check.c — `parasim check`. */
#include "config.h"
#include "cli.h"

int cmd_check(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_not_built("check", "issue 2, scenario loader");
}
