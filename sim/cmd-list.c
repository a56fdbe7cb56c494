/* cmd-list.c — `parasim list`. */
#include "config.h"
#include "cli.h"

int cmd_list(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_not_built("list", "issue 2, scenario loader");
}
