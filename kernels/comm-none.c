/* comm-none.c — the collective profiler's backend when parasim is built
 * without MPI: one rank, and every collective is unsupported, so that
 * `parasim profile --comm` fails with a clear message. */
#include "config.h"
#include "profile.h"

int profile_comm_available(void)
{
	return 0;
}

ps_status profile_comm_init(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return PS_ERROR(PS_ERR_UNSUPPORTED,
			"collectives need MPI, and this parasim was built without it (configure --with-mpi, "
			"needs libopenmpi-dev)");
}

ps_status profile_comm_finalize(void)
{
	return PS_OK;
}
int profile_comm_rank(void)
{
	return 0;
}
int profile_comm_size(void)
{
	return 1;
}
ps_status profile_comm_barrier(void)
{
	return PS_OK;
}
ps_status profile_comm_bcast_int(int *v)
{
	(void)v;
	return PS_OK;
}

ps_status profile_comm_run(const char *op, size_t bytes, int iters, void *sendbuf, void *recvbuf,
			   double *max_s)
{
	(void)bytes, (void)iters, (void)sendbuf, (void)recvbuf;
	*max_s = 0;
	return PS_ERROR(PS_ERR_UNSUPPORTED, "collective %s needs MPI, and this parasim was built without it",
			op);
}
