/* kernels-int.h — private helpers of the CPU kernels (not part of the API):
 * a vectorisable expf and small inline utilities.
 *
 * The library is compiled for the baseline x86-64 ISA at -O2, so the hot
 * elementwise loops carry `#pragma omp simd` (honoured because OpenMP is on)
 * and avoid libm calls, which would stop vectorisation. */
#ifndef PS_KERNELS_INT_H
#define PS_KERNELS_INT_H

/* GCC refuses to if-convert (and so to vectorise) loops holding float
 * compares while -ftrapping-math is on (the default).  The kernels never
 * read floating-point exception flags, so trapping math is turned off for
 * the functions of the files that include this header.  (Clang vectorises
 * these loops without it.) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include <stdint.h>
#include <string.h>

/* Compute-bound loops outside BLAS (attention, exp-heavy elementwise work)
 * get a second copy compiled for x86-64-v3 (AVX2, FMA), picked at load time
 * by an ifunc resolver when the CPU has it; the default copy keeps the
 * baseline ISA.  Put it on a plain function that the OpenMP region calls
 * (the region's outlined body itself is not cloned). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define KERN_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define KERN_CLONES
#endif

static inline uint32_t kern_f2u(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

static inline float kern_u2f(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* exp(x) in float, within ~2 ulp of expf for x in [-87, 88]; inputs below
 * are clamped to -87 (result ~1.6e-38 instead of a subnormal or 0: callers
 * that need an exact 0 for -inf test for it), above to 88.  Range
 * reduction x = n ln2 + r with |r| <= ln2/2 (round to nearest by the 1.5*2^23
 * trick, so it vectorises on SSE2), Cephes degree-6 polynomial for e^r,
 * 2^n built in the exponent bits. */
static inline float kern_expf(float x)
{
	x = x < -87.0f ? -87.0f : x;
	x = x > 88.0f ? 88.0f : x;
	const float magic = 12582912.0f; /* 1.5 * 2^23 */
	float t = x * 1.44269504088896341f + magic;
	float n = t - magic;
	int32_t ni = (int32_t)(kern_f2u(t) - kern_f2u(magic));
	float r = x - n * 0.693359375f;
	r = r - n * -2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * r * r + r + 1.0f;
	return p * kern_u2f((uint32_t)(ni + 127) << 23);
}

/* Work (elements touched) below which a kernel runs on the calling thread
 * alone: forking a team costs microseconds, and far more on a loaded
 * machine, than ~16K elements take.  Results do not depend on it. */
#define KERN_PAR_MIN 16384

/* Split [0,n) into nparts nearly equal ranges; range k is [*lo, *hi). */
static inline void kern_range(size_t n, int nparts, int k, size_t *lo, size_t *hi)
{
	size_t q = n / (size_t)nparts, r = n % (size_t)nparts, kk = (size_t)k;
	*lo = kk * q + (kk < r ? kk : r);
	*hi = *lo + q + (kk < r ? 1 : 0);
}

/* Run the statement `span`, which works on the elements [lo, hi) (with an
 * "omp simd" loop), over [0, n): on the calling thread alone when
 * n <= KERN_PAR_MIN, else one range per thread of an OpenMP team.  The
 * combined "omp parallel for simd if (n > KERN_PAR_MIN)" meant the same,
 * but GCC 12 runs its serial branch without the simd loop: GELU backward
 * took 9.6 ns per element below the threshold and 3.3 above it on one
 * thread (measured; doc/cost-model.md).  KERN_SPAN_MIN takes the
 * threshold. */
#ifdef _OPENMP
#include <omp.h>
#define KERN_SPAN(n, span) KERN_SPAN_MIN(n, KERN_PAR_MIN, span)
#define KERN_SPAN_MIN(n, par_min, span)                                                          \
	do {                                                                                     \
		size_t kern_n_ = (n);                                                            \
		if (kern_n_ <= (par_min)) {                                                   \
			size_t lo = 0, hi = kern_n_;                                             \
			span;                                                                    \
		} else {                                                                         \
			_Pragma("omp parallel")                                                  \
			{                                                                        \
				size_t lo, hi;                                                   \
				kern_range(kern_n_, omp_get_num_threads(), omp_get_thread_num(), \
					   &lo, &hi);                                            \
				span;                                                            \
			}                                                                        \
		}                                                                                \
	} while (0)
#else
#define KERN_SPAN(n, span) KERN_SPAN_MIN(n, KERN_PAR_MIN, span)
#define KERN_SPAN_MIN(n, par_min, span)                                                          \
	do {                                                                                     \
		size_t lo = 0, hi = (n);                                                         \
		(void)(par_min);                                                                 \
		span;                                                                            \
	} while (0)
#endif

/* Elements below which a streaming kernel (an add or a scale per element:
 * memory-bound) stays on the calling thread: splitting it gained nothing
 * below about 256 Ki elements here, and forking costs microseconds. */
#define KERN_PAR_MIN_STREAM ((size_t)1 << 17)

#endif
