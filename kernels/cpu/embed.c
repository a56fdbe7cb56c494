/* embed.c — token + learned position embedding, forward and backward.
 *
 * The backward scatters into dwte by token id; to stay race-free and
 * deterministic without atomics or per-thread copies, threads split the
 * channels, and each walks all tokens in order over its channel range. */
#include "config.h"

#include "kernels.h"
#include "kernels-int.h"

#ifdef _OPENMP
#include <omp.h>
#endif

void cpu_embed_forward(float *out, const int *tokens, const float *wte, const float *wpe, int B, int T, int C)
{
	const long BT = (long)B * T;
#pragma omp parallel for schedule(static) if (BT * C > KERN_PAR_MIN)
	for (long bt = 0; bt < BT; bt++) {
		int t = (int)(bt % T);
		float *restrict o = out + bt * C;
		const float *restrict we = wte + (size_t)tokens[bt] * C;
		if (wpe) {
			const float *restrict pe = wpe + (size_t)t * C;
#pragma omp simd
			for (int c = 0; c < C; c++)
				o[c] = we[c] + pe[c];
		} else {
			memcpy(o, we, sizeof(float) * (size_t)C);
		}
	}
}

void cpu_embed_backward(float *dwte, float *dwpe, const float *dout, const int *tokens, int B, int T, int C)
{
	const long BT = (long)B * T;
#pragma omp parallel if (BT * C > KERN_PAR_MIN)
	{
		int nt = 1, id = 0;
#ifdef _OPENMP
		nt = omp_get_num_threads();
		id = omp_get_thread_num();
#endif
		size_t lo, hi;
		kern_range((size_t)C, nt, id, &lo, &hi);
		for (long bt = 0; bt < BT && lo < hi; bt++) {
			const float *restrict d = dout + bt * C;
			float *restrict w = dwte + (size_t)tokens[bt] * C;
#pragma omp simd
			for (size_t c = lo; c < hi; c++)
				w[c] += d[c];
			if (dwpe) {
				float *restrict p = dwpe + (size_t)(bt % T) * C;
#pragma omp simd
				for (size_t c = lo; c < hi; c++)
					p[c] += d[c];
			}
		}
	}
}
