/* matmul.c — linear layer out = inp . W^T + b, forward and backward, on
 * cblas_sgemm.
 *
 * sgemm is called here, outside any OpenMP region, so OpenBLAS uses its own
 * threads (cpu_threads_set) without nesting in ours.  The forward preloads
 * the bias into out and runs sgemm with beta = 1: OpenBLAS would otherwise
 * spend a pass zeroing out for beta = 0, so the bias costs nothing extra.
 * The backward is two sgemms (dinp, dweight) accumulating with beta = 1 and
 * one vectorised column-sum loop for dbias. */
#include "config.h"

#include <cblas.h>
#include <string.h>

#include "kernels.h"
#include "kernels-int.h"

#ifdef _OPENMP
#include <omp.h>
#endif

void cpu_matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int M, int C,
			int OC)
{
	float beta = 0.0f;
	if (bias) {
#pragma omp parallel for schedule(static)
		for (int i = 0; i < M; i++)
			memcpy(out + (size_t)i * OC, bias, sizeof(float) * (size_t)OC);
		beta = 1.0f;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, OC, C, 1.0f, inp, C, weight, C, beta, out, OC);
}

void cpu_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
			 const float *weight, int M, int C, int OC)
{
	if (dbias) {
#pragma omp parallel
		{
			int nt = 1, id = 0;
#ifdef _OPENMP
			nt = omp_get_num_threads();
			id = omp_get_thread_num();
#endif
			size_t lo, hi;
			kern_range((size_t)OC, nt, id, &lo, &hi);
			float *restrict db = dbias;
			for (int i = 0; i < M && lo < hi; i++) {
				const float *restrict d = dout + (size_t)i * OC;
#pragma omp simd
				for (size_t o = lo; o < hi; o++)
					db[o] += d[o];
			}
		}
	}
	if (dinp)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, C, OC, 1.0f, dout, OC, weight, C, 1.0f,
			    dinp, C);
	if (dweight)
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, M, 1.0f, dout, OC, inp, C, 1.0f,
			    dweight, C);
}
