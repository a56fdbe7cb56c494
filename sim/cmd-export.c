/* cmd-export.c — `parasim export`. */
#include "config.h"
#include "cli.h"

int cmd_export(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_not_built("export", "issue 2, store");
}
