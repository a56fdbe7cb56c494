/* comm-mpi.c — the MPI side of the collective profiler (built when
 * configure found Open MPI; kernels/comm-none.c otherwise).  Thin wrappers:
 * init/finalize, rank/size, barrier, one timed collective, broadcast of the
 * timing loop's decisions.  The loops and the fit are in comm-profile.c. */
#include "config.h"
#include "profile.h"

#include <mpi.h>
#include <string.h>

static int pc_did_init;

int profile_comm_available(void)
{
	return 1;
}

ps_status profile_comm_init(int *argc, char ***argv)
{
	int flag = 0;
	MPI_Initialized(&flag);
	if (flag)
		return PS_OK;
	if (MPI_Init(argc, argv) != MPI_SUCCESS)
		return PS_ERROR(PS_ERR_MPI, "MPI_Init failed");
	pc_did_init = 1;
	return PS_OK;
}

ps_status profile_comm_finalize(void)
{
	int fin = 0;
	MPI_Finalized(&fin);
	if (pc_did_init && !fin && MPI_Finalize() != MPI_SUCCESS)
		return PS_ERROR(PS_ERR_MPI, "MPI_Finalize failed");
	pc_did_init = 0;
	return PS_OK;
}

int profile_comm_rank(void)
{
	int r = 0;
	MPI_Comm_rank(MPI_COMM_WORLD, &r);
	return r;
}

int profile_comm_size(void)
{
	int s = 1;
	MPI_Comm_size(MPI_COMM_WORLD, &s);
	return s;
}

ps_status profile_comm_barrier(void)
{
	if (MPI_Barrier(MPI_COMM_WORLD) != MPI_SUCCESS)
		return PS_ERROR(PS_ERR_MPI, "MPI_Barrier failed");
	return PS_OK;
}

ps_status profile_comm_bcast_int(int *v)
{
	if (MPI_Bcast(v, 1, MPI_INT, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
		return PS_ERROR(PS_ERR_MPI, "MPI_Bcast failed");
	return PS_OK;
}

ps_status profile_comm_run(const char *op, size_t bytes, int iters, void *sendbuf, void *recvbuf,
			   double *max_s)
{
	int rank = profile_comm_rank(), size = profile_comm_size();
	int count = (int)(bytes / sizeof(float));
	if (count < 1)
		count = 1;
	int part = count / size > 0 ? count / size : 1; /* per-rank share of allgather / reducescatter */
	int peer = (rank ^ 1) < size ? rank ^ 1 : -1;
	int rc = MPI_Barrier(MPI_COMM_WORLD);
	double t0 = MPI_Wtime();
	for (int i = 0; i < iters && rc == MPI_SUCCESS; i++) {
		if (strcmp(op, "sendrecv") == 0) {
			if (peer >= 0)
				rc = MPI_Sendrecv(sendbuf, count, MPI_FLOAT, peer, 7, recvbuf, count,
						  MPI_FLOAT, peer, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		} else if (strcmp(op, "allreduce") == 0) {
			rc = MPI_Allreduce(sendbuf, recvbuf, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
		} else if (strcmp(op, "allgather") == 0) {
			rc =
			    MPI_Allgather(sendbuf, part, MPI_FLOAT, recvbuf, part, MPI_FLOAT, MPI_COMM_WORLD);
		} else if (strcmp(op, "reducescatter") == 0) {
			rc = MPI_Reduce_scatter_block(sendbuf, recvbuf, part, MPI_FLOAT, MPI_SUM,
						      MPI_COMM_WORLD);
		} else {
			return PS_ERROR(PS_ERR_INVALID, "unknown collective \"%s\"", op);
		}
	}
	double dt = (MPI_Wtime() - t0) / (iters > 0 ? iters : 1);
	if (rc == MPI_SUCCESS)
		rc = MPI_Allreduce(&dt, max_s, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
	if (rc != MPI_SUCCESS)
		return PS_ERROR(PS_ERR_MPI, "MPI %s of %zu bytes failed (code %d)", op, bytes, rc);
	return PS_OK;
}
