/* profile.h — the kernel and collective profiler behind `parasim profile`.
 *
 * Kernel profiling: a grid of shapes per op (profile_grid), each shape timed
 * by profile_measure (warm-up, then repetitions until the 95% confidence
 * interval of the median is narrow or a time cap is reached) giving a
 * struct ps_kernel_sample (store.h) ready for store_kernel_put.  Samples are
 * filed under a device fingerprint (profile_fingerprint): a JSON description
 * of this machine and its software, and a hash of it.
 *
 * Collective profiling (profile_comm_*): MPI behind a small interface
 * (kernels/comm-mpi.c when configure found MPI, kernels/comm-none.c
 * otherwise, which answers PS_ERR_UNSUPPORTED), timing loops and the
 * alpha-beta fit in kernels/comm-profile.c.
 *
 * Library code: nothing here prints; the command layer (sim/cmd-profile.c)
 * does.  See doc/cost-model.md for the grid, the stopping rule and the fit. */
#ifndef PS_PROFILE_H
#define PS_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "ops.h"
#include "scenario.h"
#include "status.h"

struct ps_kernel_sample;
struct ps_comm_sample;
struct ps_backend;
struct ps_store;

/* --- device fingerprint ----------------------------------------------- */

#define PROFILE_FINGERPRINT_MAX 64

/* File name of the shared library that serves cblas_sgemm in this process
 * ("libopenblas.so.0"; "libgslcblas.so.0" means GSL's slow reference BLAS
 * won the link order), "unknown" if it cannot be told.  Static string. */
const char *profile_blas_library(void);

/* Online CPUs of this machine: the default thread count. */
int profile_default_threads(void);

/* Fingerprint of the device of backend be (NULL = the CPU) running with
 * `threads` CPU threads (0 = the default): "cpu-" (or "cuda-") + 16 hex
 * digits of a 64-bit FNV-1a hash of the JSON description.  CPU: model and
 * flags, online CPUs, threads, the library serving cblas_sgemm, OpenBLAS
 * core and configuration, GSL, SQLite and
 * libyaml versions, max clock if readable, parasim version.  GPU: the
 * backend's describe() line (name, SMs, compute capability, runtime), the
 * host CPU model, parasim version.  *json (may be NULL) receives the
 * malloc'd description.  Two calls on the same machine with the same
 * threads and software give the same text. */
ps_status profile_fingerprint(const struct ps_backend *be, int threads, char *fp, size_t fpsize, char **json);
/* The same, noting a non-default timer ("clock":"cpu" in the description,
 * hence another fingerprint) when cpu_clock is set. */
ps_status profile_fingerprint_clock(const struct ps_backend *be, int threads, int cpu_clock, char *fp,
				    size_t fpsize, char **json);

/* --- grid and measurement --------------------------------------------- */

typedef enum {
	PROFILE_TINY = 0, /* 1-2 shapes per op: tests */
	PROFILE_QUICK,	  /* a coarse grid, < 60 s on 2 cores */
	PROFILE_FULL	  /* the full grid, ~10 min on 2 cores */
} ps_profile_level;

struct ps_profile_shape {
	ps_op op;
	struct ps_shape shape;
};

/* The grid of level for a CPU (gpu 0) or a GPU (gpu 1): *out malloc'd
 * (caller frees), *n entries, forward ops then backward ops. */
ps_status profile_grid(ps_profile_level level, int gpu, struct ps_profile_shape **out, size_t *n);

struct ps_profile_opts {
	ps_profile_level level;
	int threads;	 /* 0 = default */
	double warmup_s; /* warm-up time per shape (at least one call) */
	double max_s;	 /* time cap of the repetitions per shape */
	int min_reps, max_reps;
	double target_ci; /* stop when the 95% CI half-width of the median / median <= this */
	int cpu_clock;	  /* 1: time samples with the calling thread's CPU clock
			   * (CLOCK_THREAD_CPUTIME_ID) instead of the wall clock:
			   * time spent waiting for a core is not counted, so other
			   * load does not inflate the samples.  Only meaningful
			   * with one thread and the CPU backend. */
	int rounds;	  /* passes over the whole grid; a shape's result is the
			   * median of its per-pass medians (profile_combine), so
			   * a burst of other load during one pass does not decide
			   * it.  The per-shape budgets above are per pass. */
};
/* Defaults per level. */
void profile_opts_init(struct ps_profile_opts *o, ps_profile_level level);

/* Run delay of a thread from the text of /proc/<pid>/task/<tid>/schedstat
 * ("<ns on cpu> <ns waiting on a run queue> <timeslices>"): the second
 * field in seconds.  PS_ERR_PARSE when the text is not of that form. */
ps_status profile_schedstat_parse(const char *text, double *run_delay_s);
/* Sum of the run delays of every thread of this process, in seconds, or
 * -1 when /proc does not say (another OS, a kernel without schedstats). */
double profile_run_delay_s(void);

/* Set the thread count of the kernels and of the BLAS (0 = default). */
void profile_threads_set(int threads);

/* Measure one shape on backend be (kernels/backend.h) in storage dtype dt:
 * allocates and fills its buffers (random data, fixed seed), runs warm-up
 * and repetitions (each timed sample: `inner` back-to-back calls and a
 * sync, >= 100-200 us), fills *out (op, dtype, shape, median and MAD of the
 * per-call time over samples, reps = samples, flops and bytes from
 * op_flops/op_bytes).  *wall_s (may be NULL) receives the wall time spent. */
ps_status profile_measure(const struct ps_backend *be, ps_dtype dt, const struct ps_profile_shape *sh,
			  const struct ps_profile_opts *o, struct ps_kernel_sample *out, double *wall_s);

/* Combine the measurements of one shape from r passes (r >= 1, same op
 * and shape) into *out: median = the median of the per-pass medians,
 * spread = max(median of the per-pass MADs, MAD of the per-pass medians),
 * reps = the sum.  Other fields from r[0]. */
void profile_combine(const struct ps_kernel_sample *passes, int r, struct ps_kernel_sample *out);

/* Median, median absolute deviation and the relative half-width of the
 * distribution-free 95% confidence interval of the median (order
 * statistics n/2 -+ 0.98 sqrt(n); infinity below 6 values) of t[0..n).
 * Sorts t. */
void profile_stats(double *t, int n, double *median, double *mad, double *ci_rel);

/* Parse a CSV of kernel samples (doc/cost-model.md) for devices that are
 * not at hand.  *out malloc'd; *source malloc'd provenance text (the
 * "# source:" header line and/or the distinct values of a source column).
 * Errors name path:line:col. */
ps_status profile_csv_read(const char *path, struct ps_kernel_sample **out, size_t *n, char **source);

/* --- collectives ------------------------------------------------------ */

/* Backend (comm-mpi.c / comm-none.c). */
int profile_comm_available(void);		      /* 1 if built with MPI */
ps_status profile_comm_init(int *argc, char ***argv); /* MPI_Init unless already initialised */
ps_status profile_comm_finalize(void);		      /* MPI_Finalize if init did MPI_Init */
int profile_comm_rank(void);
int profile_comm_size(void);
ps_status profile_comm_barrier(void);
/* Run op ("sendrecv", "allreduce", "allgather", "reducescatter") iters
 * times back to back, after a barrier, on a message of `bytes` (float data):
 * bytes is the whole vector as in nccl-tests — each way for sendrecv (ranks
 * paired 0-1, 2-3, ...), the reduced vector for allreduce, the gathered
 * output for allgather, the input of reducescatter (each rank contributes or
 * receives bytes / size).  sendbuf and recvbuf hold at least `bytes` each.
 * *max_s: the slowest rank's time per call (on every rank). */
ps_status profile_comm_run(const char *op, size_t bytes, int iters, void *sendbuf, void *recvbuf,
			   double *max_s);
/* Broadcast an int from rank 0 (the stop decision of the timing loop). */
ps_status profile_comm_bcast_int(int *v);

/* Message sizes of the level: 8 B .. 256 MiB, powers of 2 (quick: 8 B ..
 * 128 MiB, powers of 4; tiny: 8 B, 512 B, 32 KiB).  *out malloc'd. */
ps_status profile_comm_sizes(ps_profile_level level, double **out, size_t *n);
extern const char *const profile_comm_ops[4]; /* sendrecv allreduce allgather reducescatter */

/* Time op on bytes (collective call on every rank; results on all). */
ps_status profile_comm_measure(const char *op, size_t bytes, const struct ps_profile_opts *o, void *sendbuf,
			       void *recvbuf, struct ps_comm_sample *out);

/* Alpha-beta fit t = alpha + bytes / bw (weighted linear least squares,
 * weights 1/t^2, coefficients kept >= 0) over the samples of one op with
 * `ranks` ranks (0: the largest rank count present).  When a size was
 * measured more than once, the last sample counts. */
#define PS_COMM_SEGMENTS 5
struct ps_comm_fit {
	char op[32];
	int ranks;
	int n;
	double alpha_s;		    /* latency */
	double bw_Bps;		    /* bandwidth (message bytes per second) */
	double r2_log;		    /* R^2 of log t */
	double median_rel, p90_rel; /* relative error of the fit */
	/* Piecewise: the sizes split into nseg contiguous ranges (a protocol
	 * change, a transport or cache cliff), each with its own non-negative
	 * alpha + bytes / bw; breakpoints by least squares, the most
	 * segments whose last one halved the squared error.  Segment k holds the sizes from
	 * seg_from_bytes[k] (0 for the first) to the next one's start. */
	int nseg;
	double seg_from_bytes[PS_COMM_SEGMENTS];
	double seg_alpha_s[PS_COMM_SEGMENTS], seg_bw_Bps[PS_COMM_SEGMENTS];
	double seg_median_rel, seg_p90_rel; /* relative error of the piecewise fit */
};
ps_status profile_comm_fit(const struct ps_comm_sample *s, size_t n, const char *op, int ranks,
			   struct ps_comm_fit *fit);
/* Time of a message of `bytes` under the piecewise fit (the single line
 * when nseg is 0). */
double profile_comm_fit_time(const struct ps_comm_fit *fit, double bytes);
/* The same from the stored samples of device_id. */
ps_status profile_comm_fit_load(struct ps_store *st, int64_t device_id, const char *op, int ranks,
				struct ps_comm_fit *fit);

#endif
