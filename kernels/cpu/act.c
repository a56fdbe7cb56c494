/* act.c — elementwise kernels: GELU (tanh approximation), SwiGLU and the
 * residual add, forward and backward.
 *
 * GELU is evaluated as x * sigmoid(2u) with u = sqrt(2/pi)(x + 0.044715 x^3),
 * which equals 0.5 x (1 + tanh u) exactly but avoids the cancellation of
 * 1 + tanh u for negative x, and uses the vectorisable kern_expf instead of
 * tanhf (a libm call would stop vectorisation). */
#include "config.h"

#include "kernels.h"
#include "kernels-int.h"

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_A 0.044715f

static void gelu_forward_span(float *out, const float *inp, size_t lo, size_t hi)
{
	/* no restrict: out may equal inp (same index read then written) */
#pragma omp simd
	for (size_t i = lo; i < hi; i++) {
		float x = inp[i];
		float u = GELU_K * (x + GELU_A * x * x * x);
		out[i] = x / (1.0f + kern_expf(-2.0f * u));
	}
}

void cpu_gelu_forward(float *out, const float *inp, size_t n)
{
	KERN_SPAN(n, gelu_forward_span(out, inp, lo, hi));
}

static void gelu_backward_span(float *restrict di, const float *restrict x_, const float *restrict d, size_t lo,
			       size_t hi)
{
#pragma omp simd
	for (size_t i = lo; i < hi; i++) {
		float x = x_[i];
		float u = GELU_K * (x + GELU_A * x * x * x);
		float sg = 1.0f / (1.0f + kern_expf(-2.0f * u));
		float du = GELU_K * (1.0f + 3.0f * GELU_A * x * x);
		di[i] += (sg + 2.0f * x * sg * (1.0f - sg) * du) * d[i];
	}
}

void cpu_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
	KERN_SPAN(n, gelu_backward_span(dinp, inp, dout, lo, hi));
}

void cpu_swiglu_forward(float *out, const float *inp, int M, int F)
{
#pragma omp parallel for schedule(static) if ((long)M * F > KERN_PAR_MIN)
	for (int i = 0; i < M; i++) {
		const float *restrict a = inp + (size_t)i * 2 * F;
		const float *restrict bb = a + F;
		float *restrict o = out + (size_t)i * F;
#pragma omp simd
		for (int c = 0; c < F; c++)
			o[c] = a[c] / (1.0f + kern_expf(-a[c])) * bb[c];
	}
}

void cpu_swiglu_backward(float *dinp, const float *inp, const float *dout, int M, int F)
{
#pragma omp parallel for schedule(static) if ((long)M * F > KERN_PAR_MIN)
	for (int i = 0; i < M; i++) {
		const float *restrict a = inp + (size_t)i * 2 * F;
		const float *restrict bb = a + F;
		const float *restrict d = dout + (size_t)i * F;
		float *restrict da = dinp + (size_t)i * 2 * F;
		float *restrict db = da + F;
#pragma omp simd
		for (int c = 0; c < F; c++) {
			float sg = 1.0f / (1.0f + kern_expf(-a[c]));
			da[c] += d[c] * bb[c] * sg * (1.0f + a[c] * (1.0f - sg));
			db[c] += d[c] * a[c] * sg;
		}
	}
}

static void residual_forward_span(float *out, const float *a, const float *b, size_t lo, size_t hi)
{
	/* no restrict: out may equal a or b */
#pragma omp simd
	for (size_t i = lo; i < hi; i++)
		out[i] = a[i] + b[i];
}

void cpu_residual_forward(float *out, const float *a, const float *b, size_t n)
{
	KERN_SPAN_MIN(n, KERN_PAR_MIN_STREAM, residual_forward_span(out, a, b, lo, hi));
}

static void accumulate_span(float *restrict x, const float *restrict d, size_t lo, size_t hi)
{
#pragma omp simd
	for (size_t i = lo; i < hi; i++)
		x[i] += d[i];
}

void cpu_residual_backward(float *da, float *db, const float *dout, size_t n)
{
	if (da)
		KERN_SPAN_MIN(n, KERN_PAR_MIN_STREAM, accumulate_span(da, dout, lo, hi));
	if (db)
		KERN_SPAN_MIN(n, KERN_PAR_MIN_STREAM, accumulate_span(db, dout, lo, hi));
}
