/* cmd-train.c — `parasim train`. */
#include "config.h"
#include "cli.h"

int cmd_train(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_not_built("train", "a later issue");
}
