/* adamw.c — AdamW update with bias correction and decoupled weight decay,
 * and the pieces of global gradient-norm clipping.
 *
 * All memory-bound streaming loops: one pass over param, grad, m, v.
 * Clipping is folded into AdamW through grad_scale so clipping costs one
 * read pass (the norm), not a read-write pass over the gradients. */
#include "config.h"

#include <math.h>
#ifdef __SSE2__
#include <immintrin.h>
#endif

#include "kernels.h"
#include "kernels-int.h"

void cpu_adamw_update(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1,
		      float beta2, float eps, float weight_decay, float grad_scale, int t)
{
	const float bc1 = (float)(1.0 - pow((double)beta1, (double)t));
	const float bc2 = (float)(1.0 - pow((double)beta2, (double)t));
	const float ib1 = 1.0f / bc1, ib2 = 1.0f / bc2;
	float *restrict p = param, *restrict mm = m, *restrict vv = v;
	const float *restrict g = grad;
	const size_t nb = n / 1024 + (n % 1024 != 0);
#pragma omp parallel for schedule(static) if (n > KERN_PAR_MIN)
	for (size_t b = 0; b < nb; b++) {
		const size_t lo = b * 1024, hi = lo + 1024 < n ? lo + 1024 : n;
		size_t i = lo;
#ifdef __SSE2__
		/* sqrtf with errno checks would keep GCC from vectorising */
		const __m128 gs = _mm_set1_ps(grad_scale), b1 = _mm_set1_ps(beta1), b2 = _mm_set1_ps(beta2);
		const __m128 c1 = _mm_set1_ps(1.0f - beta1), c2 = _mm_set1_ps(1.0f - beta2);
		const __m128 i1 = _mm_set1_ps(ib1), i2 = _mm_set1_ps(ib2), ep = _mm_set1_ps(eps);
		const __m128 vlr = _mm_set1_ps(lr), wd = _mm_set1_ps(weight_decay);
		for (; i + 4 <= hi; i += 4) {
			__m128 gi = _mm_mul_ps(_mm_loadu_ps(g + i), gs);
			__m128 mi = _mm_add_ps(_mm_mul_ps(b1, _mm_loadu_ps(mm + i)), _mm_mul_ps(c1, gi));
			__m128 vi = _mm_add_ps(_mm_mul_ps(b2, _mm_loadu_ps(vv + i)), _mm_mul_ps(_mm_mul_ps(c2, gi), gi));
			_mm_storeu_ps(mm + i, mi);
			_mm_storeu_ps(vv + i, vi);
			__m128 mh = _mm_mul_ps(mi, i1), vh = _mm_mul_ps(vi, i2);
			__m128 pi = _mm_loadu_ps(p + i);
			__m128 upd = _mm_add_ps(_mm_div_ps(mh, _mm_add_ps(_mm_sqrt_ps(vh), ep)), _mm_mul_ps(wd, pi));
			_mm_storeu_ps(p + i, _mm_sub_ps(pi, _mm_mul_ps(vlr, upd)));
		}
#endif
		for (; i < hi; i++) {
			float gi = g[i] * grad_scale;
			float mi = beta1 * mm[i] + (1.0f - beta1) * gi;
			float vi = beta2 * vv[i] + ((1.0f - beta2) * gi) * gi;
			mm[i] = mi;
			vv[i] = vi;
			float mh = mi * ib1, vh = vi * ib2;
			p[i] -= lr * (mh / (sqrtf(vh) + eps) + weight_decay * p[i]);
		}
	}
}

double cpu_sumsq(const float *x, size_t n)
{
	double s = 0.0;
	/* float partial sums over blocks of 1024 (vectorised), summed in double */
#pragma omp parallel for reduction(+ : s) schedule(static) if (n > KERN_PAR_MIN)
	for (size_t b = 0; b < (n + 1023) / 1024; b++) {
		const size_t lo = b * 1024, hi = lo + 1024 < n ? lo + 1024 : n;
		const float *restrict xx = x;
		float part = 0.0f;
#pragma omp simd reduction(+ : part)
		for (size_t i = lo; i < hi; i++)
			part += xx[i] * xx[i];
		s += (double)part;
	}
	return s;
}

static void scale_span(float *restrict x, float s, size_t lo, size_t hi)
{
#pragma omp simd
	for (size_t i = lo; i < hi; i++)
		x[i] *= s;
}

void cpu_scale(float *x, size_t n, float s)
{
	KERN_SPAN_MIN(n, KERN_PAR_MIN_STREAM, scale_span(x, s, lo, hi));
}

float cpu_clip_factor(double norm, float max_norm)
{
	if (max_norm <= 0.0f || !(norm > (double)max_norm))
		return 1.0f;
	return (float)((double)max_norm / (norm + 1e-6));
}

float cpu_grad_clip(float *grad, size_t n, float max_norm, double *norm)
{
	double nrm = sqrt(cpu_sumsq(grad, n));
	if (norm)
		*norm = nrm;
	float f = cpu_clip_factor(nrm, max_norm);
	if (f != 1.0f)
		cpu_scale(grad, n, f);
	return f;
}
