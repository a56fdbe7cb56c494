/* threads.c — one place that sets how many threads the CPU kernels use, for
 * OpenMP and for OpenBLAS together, and reports which BLAS core runs.
 *
 * Kernels call sgemm only outside their OpenMP regions, so giving both the
 * same count never runs more threads than cores asked for.  This file does
 * not pin threads to cores. */
#include "config.h"

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels.h"

void cpu_threads_set(int n)
{
	if (n < 1)
		n = 1;
#ifdef _OPENMP
	omp_set_num_threads(n);
#endif
#ifdef OPENBLAS_VERSION
	openblas_set_num_threads(n);
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
