/* cmd-validate.c — `parasim validate`. */
#include "config.h"
#include "cli.h"

int cmd_validate(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_not_built("validate", "a later issue");
}
