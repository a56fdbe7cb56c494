/* threads.c — one place that sets how many threads the CPU kernels use, for
 * OpenMP and for OpenBLAS together, how matrix products use them, and which
 * BLAS core runs.
 *
 * In CPU_GEMM_SPLIT mode OpenBLAS is held at one thread and matmul.c splits
 * each product over the OpenMP team; in CPU_GEMM_BLAS mode OpenBLAS gets the
 * n threads and is only called outside OpenMP regions.  Either way at most n
 * threads compute.  This file does not pin threads to cores. */
#include "config.h"

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels.h"

static enum cpu_gemm_threads gemm_mode = CPU_GEMM_SPLIT;

void cpu_gemm_threads_set(enum cpu_gemm_threads how)
{
	gemm_mode = how == CPU_GEMM_BLAS ? CPU_GEMM_BLAS : CPU_GEMM_SPLIT;
}

enum cpu_gemm_threads cpu_gemm_threads_get(void) { return gemm_mode; }

void cpu_threads_set(int n)
{
	if (n < 1)
		n = 1;
#ifdef _OPENMP
	omp_set_num_threads(n);
#endif
#ifdef OPENBLAS_VERSION
	openblas_set_num_threads(gemm_mode == CPU_GEMM_BLAS ? n : 1);
#endif
}

int cpu_threads_get(void)
{
#ifdef _OPENMP
	return omp_get_max_threads();
#else
	return 1;
#endif
}

const char *cpu_blas_corename(void)
{
#ifdef OPENBLAS_VERSION
	const char *s = openblas_get_corename();
	return s ? s : "unknown";
#else
	return "unknown";
#endif
}

const char *cpu_blas_config(void)
{
#ifdef OPENBLAS_VERSION
	const char *s = openblas_get_config();
	return s ? s : "unknown";
#else
	return "unknown";
#endif
}
