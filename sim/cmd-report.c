/* cmd-report.c — `parasim report`. */
#include "config.h"
#include "cli.h"

int cmd_report(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_not_built("report", "a later issue");
}
