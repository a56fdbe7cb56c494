/* xent.c — fused softmax + cross-entropy over the vocabulary.
 *
 * Forward reads the logits once from memory: each row is walked in chunks
 * that fit in L1 (max of the chunk, then the sum of exponentials of the same
 * chunk while it is cached), chunk results combined with an online
 * log-sum-exp.  Only lse and the per-token loss are saved; the probabilities
 * are never stored.  Backward recomputes softmax from lse and writes dlogits
 * in one read-write pass, in place over the logits if the caller wants. */
#include "config.h"

#include <math.h>

#include "kernels.h"
#include "kernels-int.h"

#define XENT_CHUNK 2048

/* log-sum-exp of one row of V logits */
KERN_CLONES
static float xent_row_lse(const float *restrict x, int V)
{
	float mx = -INFINITY, sum = 0.0f;
	for (int c0 = 0; c0 < V; c0 += XENT_CHUNK) {
		const int c1 = c0 + XENT_CHUNK < V ? c0 + XENT_CHUNK : V;
		float cm = -INFINITY;
#pragma omp simd reduction(max : cm)
		for (int c = c0; c < c1; c++)
			cm = x[c] > cm ? x[c] : cm;
		float cs = 0.0f;
#pragma omp simd reduction(+ : cs)
		for (int c = c0; c < c1; c++)
			cs += kern_expf(x[c] - cm);
		if (cm > mx) {
			sum = (mx == -INFINITY ? 0.0f : sum * kern_expf(mx - cm)) + cs;
			mx = cm;
		} else {
			sum += cs * kern_expf(cm - mx);
		}
	}
	return mx + logf(sum);
}

/* d(V) = scale * exp(x - l); no restrict: d may be x (read, then written) */
KERN_CLONES
static void xent_row_grad(float *d, const float *x, float l, float scale, int V)
{
#pragma omp simd
	for (int c = 0; c < V; c++)
		d[c] = scale * kern_expf(x[c] - l);
}

void cpu_xent_forward(float *losses, float *lse, const float *logits, const int *targets, int M, int V)
{
#pragma omp parallel for schedule(static) if ((long)M * V > KERN_PAR_MIN)
	for (int i = 0; i < M; i++) {
		const float *x = logits + (size_t)i * V;
		const float l = xent_row_lse(x, V);
		lse[i] = l;
		const int tg = targets[i];
		losses[i] = (tg >= 0 && tg < V) ? l - x[tg] : 0.0f;
	}
}

void cpu_xent_backward(float *dlogits, const float *logits, const float *lse, const int *targets, float dloss,
		       int M, int V)
{
	const float scale = dloss / (float)M;
#pragma omp parallel for schedule(static) if ((long)M * V > KERN_PAR_MIN)
	for (int i = 0; i < M; i++) {
		const float *x = logits + (size_t)i * V;
		float *d = dlogits + (size_t)i * V;
		const int tg = targets[i];
		if (tg < 0 || tg >= V) {
			memset(d, 0, sizeof(float) * (size_t)V);
			continue;
		}
		xent_row_grad(d, x, lse[i], scale, V);
		d[tg] -= scale;
	}
}
