/* norm.c — layernorm and rmsnorm over the channels of each row, forward and
 * backward.
 *
 * Rows are independent and split across threads.  The weight/bias gradients
 * sum over rows; threads split the channels for that second loop, so every
 * output is summed in row order whatever the thread count (deterministic,
 * no per-thread partial buffers).  Row statistics use float sums: relative
 * error ~1e-7 for C up to a few thousand. */
#include "config.h"

#include <math.h>

#include "kernels.h"
#include "kernels-int.h"

#ifdef _OPENMP
#include <omp.h>
#endif

void cpu_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
			   const float *bias, int M, int C)
{
#pragma omp parallel for schedule(static) if ((long)M * C > KERN_PAR_MIN)
	for (int i = 0; i < M; i++) {
		const float *restrict x = inp + (size_t)i * C;
		float *restrict o = out + (size_t)i * C;
		float s = 0.0f;
#pragma omp simd reduction(+ : s)
		for (int c = 0; c < C; c++)
			s += x[c];
		float mu = s / (float)C;
		float v = 0.0f;
#pragma omp simd reduction(+ : v)
		for (int c = 0; c < C; c++) {
			float d = x[c] - mu;
			v += d * d;
		}
		float rs = 1.0f / sqrtf(v / (float)C + CPU_NORM_EPS);
		if (bias) {
#pragma omp simd
			for (int c = 0; c < C; c++)
				o[c] = (x[c] - mu) * rs * weight[c] + bias[c];
		} else {
#pragma omp simd
			for (int c = 0; c < C; c++)
				o[c] = (x[c] - mu) * rs * weight[c];
		}
		mean[i] = mu;
		rstd[i] = rs;
	}
}

void cpu_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
			    const float *weight, const float *mean, const float *rstd, int M, int C)
{
#pragma omp parallel if ((long)M * C > KERN_PAR_MIN)
	{
#pragma omp for schedule(static)
		for (int i = 0; i < M; i++) {
			const float *restrict x = inp + (size_t)i * C;
			const float *restrict d = dout + (size_t)i * C;
			float *restrict dx = dinp + (size_t)i * C;
			const float mu = mean[i], rs = rstd[i];
			float sdn = 0.0f, sdnn = 0.0f;
#pragma omp simd reduction(+ : sdn, sdnn)
			for (int c = 0; c < C; c++) {
				float dn = d[c] * weight[c];
				sdn += dn;
				sdnn += dn * (x[c] - mu) * rs;
			}
			sdn /= (float)C;
			sdnn /= (float)C;
#pragma omp simd
			for (int c = 0; c < C; c++) {
				float n = (x[c] - mu) * rs;
				dx[c] += (d[c] * weight[c] - sdn - n * sdnn) * rs;
			}
		}
		int nt = 1, id = 0;
#ifdef _OPENMP
		nt = omp_get_num_threads();
		id = omp_get_thread_num();
#endif
		size_t lo, hi;
		kern_range((size_t)C, nt, id, &lo, &hi);
		for (int i = 0; i < M && lo < hi; i++) {
			const float *restrict x = inp + (size_t)i * C;
			const float *restrict d = dout + (size_t)i * C;
			const float mu = mean[i], rs = rstd[i];
			float *restrict dw = dweight;
#pragma omp simd
			for (size_t c = lo; c < hi; c++)
				dw[c] += d[c] * (x[c] - mu) * rs;
			if (dbias) {
				float *restrict db = dbias;
#pragma omp simd
				for (size_t c = lo; c < hi; c++)
					db[c] += d[c];
			}
		}
	}
}

void cpu_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int M, int C)
{
#pragma omp parallel for schedule(static) if ((long)M * C > KERN_PAR_MIN)
	for (int i = 0; i < M; i++) {
		const float *restrict x = inp + (size_t)i * C;
		float *restrict o = out + (size_t)i * C;
		float s = 0.0f;
#pragma omp simd reduction(+ : s)
		for (int c = 0; c < C; c++)
			s += x[c] * x[c];
		float rs = 1.0f / sqrtf(s / (float)C + CPU_NORM_EPS);
#pragma omp simd
		for (int c = 0; c < C; c++)
			o[c] = x[c] * rs * weight[c];
		rstd[i] = rs;
	}
}

void cpu_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
			  const float *rstd, int M, int C)
{
#pragma omp parallel if ((long)M * C > KERN_PAR_MIN)
	{
#pragma omp for schedule(static)
		for (int i = 0; i < M; i++) {
			const float *restrict x = inp + (size_t)i * C;
			const float *restrict d = dout + (size_t)i * C;
			float *restrict dx = dinp + (size_t)i * C;
			const float rs = rstd[i];
			float sdnn = 0.0f;
#pragma omp simd reduction(+ : sdnn)
			for (int c = 0; c < C; c++)
				sdnn += d[c] * weight[c] * x[c] * rs;
			sdnn /= (float)C;
#pragma omp simd
			for (int c = 0; c < C; c++)
				dx[c] += (d[c] * weight[c] - x[c] * rs * sdnn) * rs;
		}
		int nt = 1, id = 0;
#ifdef _OPENMP
		nt = omp_get_num_threads();
		id = omp_get_thread_num();
#endif
		size_t lo, hi;
		kern_range((size_t)C, nt, id, &lo, &hi);
		for (int i = 0; i < M && lo < hi; i++) {
			const float *restrict x = inp + (size_t)i * C;
			const float *restrict d = dout + (size_t)i * C;
			const float rs = rstd[i];
			float *restrict dw = dweight;
#pragma omp simd
			for (size_t c = lo; c < hi; c++)
				dw[c] += d[c] * x[c] * rs;
		}
	}
}
