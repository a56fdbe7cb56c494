/* cmd-profile.c — `parasim profile`. */
#include "config.h"
#include "cli.h"

int cmd_profile(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_not_built("profile", "issue 3, profiler");
}
