/* matmul.c — linear layer out = inp . W^T + b, forward and backward, on
 * cblas_sgemm.
 *
 * Threads (kernels.h, cpu_gemm_threads_set): in CPU_GEMM_SPLIT mode (the
 * default) each product is cut into one block of output columns (or rows,
 * whichever dimension is larger) per OpenMP thread, each block a
 * single-threaded sgemm; in CPU_GEMM_BLAS mode sgemm is called once, here,
 * outside any OpenMP region, and OpenBLAS uses its own threads.  The blocks partition
 * the output and every element keeps its whole K sum inside one sgemm call;
 * OpenBLAS still rounds the last bits differently for different partitions
 * (in either mode), so products depend on the thread count at ~1e-7.
 * The forward preloads the bias into out and runs sgemm with beta = 1:
 * OpenBLAS would otherwise spend a pass zeroing out for beta = 0, so the
 * bias costs nothing extra.  The backward is two sgemms (dinp, dweight)
 * accumulating with beta = 1 and one vectorised column-sum loop for dbias. */
#include "config.h"

#include <cblas.h>
#include <string.h>

#include "kernels.h"
#include "kernels-int.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* C(M,N) = op(A) op(B) + beta C, row-major, ta/tb: 1 = transposed.
 * op(A) is (M,K): A is (M,lda) or, transposed, (K,lda); op(B) is (K,N): B is
 * (K,ldb) or, transposed, (N,ldb). */
static void gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
		 float *C, int ldc)
{
	const CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
	int nt = cpu_threads_get();
	/* below ~1 MFLOP per thread the fork/join costs more than it saves */
	if (cpu_gemm_threads_get() != CPU_GEMM_SPLIT || nt < 2 || 2.0 * M * N * K < 2e6 * nt) {
		cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
		return;
	}
#ifdef OPENBLAS_VERSION
	/* the split relies on single-threaded sgemm calls, even if nobody
	 * called cpu_threads_set (OpenBLAS starts with one thread per core) */
	if (openblas_get_num_threads() != 1)
		openblas_set_num_threads(1);
#endif
	const int by_cols = N >= M;
	const int len = by_cols ? N : M;
	if (nt > len / 16)
		nt = len / 16 > 1 ? len / 16 : 1;
#pragma omp parallel num_threads(nt)
	{
		int id = 0, n = 1;
#ifdef _OPENMP
		id = omp_get_thread_num();
		n = omp_get_num_threads();
#endif
		/* blocks of whole 16-column (or row) groups: aligned vector edges */
		size_t lo, hi;
		kern_range((size_t)(len + 15) / 16, n, id, &lo, &hi);
		lo *= 16, hi *= 16;
		if (hi > (size_t)len)
			hi = (size_t)len;
		if (lo < hi) {
			const int w = (int)(hi - lo);
			if (by_cols)
				cblas_sgemm(CblasRowMajor, TA, TB, M, w, K, 1.0f, A, lda,
					    tb ? B + lo * (size_t)ldb : B + lo, ldb, beta, C + lo, ldc);
			else
				cblas_sgemm(CblasRowMajor, TA, TB, w, N, K, 1.0f, ta ? A + lo : A + lo * (size_t)lda,
					    lda, B, ldb, beta, C + lo * (size_t)ldc, ldc);
		}
	}
}

void cpu_matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int M, int C,
			int OC)
{
	float beta = 0.0f;
	if (bias) {
#pragma omp parallel for schedule(static) if ((long)M * OC > KERN_PAR_MIN)
		for (int i = 0; i < M; i++)
			memcpy(out + (size_t)i * OC, bias, sizeof(float) * (size_t)OC);
		beta = 1.0f;
	}
	gemm(0, 1, M, OC, C, inp, C, weight, C, beta, out, OC);
}

void cpu_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
			 const float *weight, int M, int C, int OC)
{
	if (dbias) {
#pragma omp parallel if ((long)M * OC > KERN_PAR_MIN)
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
	if (dinp) /* dinp(M,C) += dout(M,OC) . W(OC,C) */
		gemm(0, 0, M, C, OC, dout, OC, weight, C, 1.0f, dinp, C);
	if (dweight) /* dW(OC,C) += dout(M,OC)^T . inp(M,C) */
		gemm(1, 0, OC, C, M, dout, OC, inp, C, 1.0f, dweight, C);
}
