/* attention.c — causal multi-head self-attention with grouped KV heads,
 * flash-style, forward and backward.
 *
 * Forward: for each (sequence, query head, block of CPU_ATTN_BLOCK query
 * rows), walk the key blocks up to the diagonal with an online softmax
 * (running max m and sum l per row, output rescaled when m grows).  A thread
 * holds one row of one key block of scores at a time; only the output and
 * the per-row log-sum-exp are written.
 *
 * Backward (FlashAttention-2 order): recompute each CPU_ATTN_BLOCK^2 tile of
 * probabilities from lse, then dV += P^T dO, dS = P * (dO V^T - D) with
 * D = rowsum(dO * O), dQ += dS K, dK += dS^T Q (scaled).  Threads own whole
 * (sequence, kv head) pairs, including the query heads of that group, so no
 * two threads write the same gradient row: no atomics, deterministic.
 *
 * Inner loops run over the head dimension, contiguous in memory, with
 * restrict pointers and `omp simd`.  No heap allocation: the tiles live on
 * the thread's stack (2 * CPU_ATTN_BLOCK^2 floats). */
#include "config.h"

#include <math.h>

#include "kernels.h"
#include "kernels-int.h"

#define BLK CPU_ATTN_BLOCK

static inline float dotf(const float *restrict a, const float *restrict b, int n)
{
	float s = 0.0f;
#pragma omp simd reduction(+ : s)
	for (int i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static inline void axpyf(float *restrict y, float a, const float *restrict x, int n)
{
#pragma omp simd
	for (int i = 0; i < n; i++)
		y[i] += a * x[i];
}

/* One forward unit: query rows [t0, t0+nt) of head h of sequence b. */
KERN_CLONES
static void attn_fwd_unit(float *out, float *lse, const float *qkv, int b, int h, int qb, int T, int NH, int KVH,
			  int HS)
{
	const size_t QS = (size_t)(NH + 2 * KVH) * HS; /* qkv row stride */
	const size_t OS = (size_t)NH * HS;             /* out row stride */
	const int g = h / (NH / KVH);
	const float scale = 1.0f / sqrtf((float)HS);
	const float *base = qkv + (size_t)b * T * QS;
	const float *kbase = base + (size_t)(NH + g) * HS;
	const float *vbase = base + (size_t)(NH + KVH + g) * HS;
	float s[BLK];
	const int t0 = qb * BLK, t1 = t0 + BLK < T ? t0 + BLK : T;
	for (int t = t0; t < t1; t++) {
		const float *restrict q = base + (size_t)t * QS + (size_t)h * HS;
		float *restrict o = out + ((size_t)b * T + t) * OS + (size_t)h * HS;
		for (int i = 0; i < HS; i++)
			o[i] = 0.0f;
		float m = -INFINITY, l = 0.0f;
		for (int j0 = 0; j0 <= t; j0 += BLK) {
			const int j1 = j0 + BLK <= t + 1 ? j0 + BLK : t + 1;
			const int nj = j1 - j0;
			float bm = -INFINITY;
			for (int j = 0; j < nj; j++) {
				s[j] = dotf(q, kbase + (size_t)(j0 + j) * QS, HS) * scale;
				bm = s[j] > bm ? s[j] : bm;
			}
			float mnew = bm > m ? bm : m;
			float corr = m == -INFINITY ? 0.0f : kern_expf(m - mnew);
			float bl = 0.0f;
#pragma omp simd reduction(+ : bl)
			for (int j = 0; j < nj; j++) {
				s[j] = kern_expf(s[j] - mnew);
				bl += s[j];
			}
			if (corr != 1.0f) {
#pragma omp simd
				for (int i = 0; i < HS; i++)
					o[i] *= corr;
			}
			l = l * corr + bl;
			m = mnew;
			for (int j = 0; j < nj; j++)
				axpyf(o, s[j], vbase + (size_t)(j0 + j) * QS, HS);
		}
		const float inv = 1.0f / l;
#pragma omp simd
		for (int i = 0; i < HS; i++)
			o[i] *= inv;
		lse[((size_t)b * NH + h) * T + t] = m + logf(l);
	}
}

void cpu_attention_forward(float *out, float *lse, const float *qkv, int B, int T, int NH, int KVH, int HS)
{
	const int nblk = (T + BLK - 1) / BLK;
	const long units = (long)B * NH * nblk;
#pragma omp parallel for schedule(dynamic, 1)
	for (long u = 0; u < units; u++) {
		/* big query blocks first: the diagonal makes later blocks costlier */
		const int qb = nblk - 1 - (int)(u % nblk);
		const int h = (int)((u / nblk) % NH);
		const int b = (int)(u / ((long)nblk * NH));
		attn_fwd_unit(out, lse, qkv, b, h, qb, T, NH, KVH, HS);
	}
}

/* One backward unit: kv head g of sequence b, with its G query heads. */
KERN_CLONES
static void attn_bwd_unit(float *dqkv, const float *dout, const float *qkv, const float *out, const float *lse,
			  int b, int g, int T, int NH, int KVH, int HS)
{
	const size_t QS = (size_t)(NH + 2 * KVH) * HS;
	const size_t OS = (size_t)NH * HS;
	const int G = NH / KVH;
	const int nblk = (T + BLK - 1) / BLK;
	const float scale = 1.0f / sqrtf((float)HS);
	const float *base = qkv + (size_t)b * T * QS;
	float *dbase = dqkv + (size_t)b * T * QS;
	const size_t koff = (size_t)(NH + g) * HS, voff = (size_t)(NH + KVH + g) * HS;
	float P[BLK][BLK], dS[BLK][BLK], D[BLK];
	for (int h = g * G; h < (g + 1) * G; h++) {
		const size_t qoff = (size_t)h * HS;
		const float *lrow = lse + ((size_t)b * NH + h) * T;
		for (int qb = 0; qb < nblk; qb++) {
			const int t0 = qb * BLK, nt = t0 + BLK < T ? BLK : T - t0;
			for (int r = 0; r < nt; r++) {
				const size_t row = (size_t)b * T + t0 + r;
				D[r] = dotf(dout + row * OS + qoff, out + row * OS + qoff, HS);
			}
			for (int kb = 0; kb <= qb; kb++) {
				const int j0 = kb * BLK, nj = j0 + BLK < T ? BLK : T - j0;
				/* P and dS tiles; masked entries are exactly 0 */
				for (int r = 0; r < nt; r++) {
					const int t = t0 + r;
					const float *restrict q = base + (size_t)t * QS + qoff;
					const float *restrict dO = dout + ((size_t)b * T + t) * OS + qoff;
					const float lt = lrow[t];
					for (int c = 0; c < nj; c++) {
						const int j = j0 + c;
						if (j > t) {
							P[r][c] = 0.0f;
							dS[r][c] = 0.0f;
							continue;
						}
						float sc = dotf(q, base + (size_t)j * QS + koff, HS) * scale;
						float p = kern_expf(sc - lt);
						float dp = dotf(dO, base + (size_t)j * QS + voff, HS);
						P[r][c] = p;
						dS[r][c] = p * (dp - D[r]) * scale;
					}
				}
				/* dQ rows of this query block */
				for (int r = 0; r < nt; r++) {
					float *restrict dq = dbase + (size_t)(t0 + r) * QS + qoff;
					for (int c = 0; c < nj; c++)
						if (dS[r][c] != 0.0f)
							axpyf(dq, dS[r][c], base + (size_t)(j0 + c) * QS + koff, HS);
				}
				/* dK, dV rows of this key block */
				for (int c = 0; c < nj; c++) {
					float *restrict dk = dbase + (size_t)(j0 + c) * QS + koff;
					float *restrict dv = dbase + (size_t)(j0 + c) * QS + voff;
					for (int r = 0; r < nt; r++) {
						if (P[r][c] == 0.0f)
							continue;
						const size_t row = (size_t)b * T + t0 + r;
						axpyf(dk, dS[r][c], base + (size_t)(t0 + r) * QS + qoff, HS);
						axpyf(dv, P[r][c], dout + row * OS + qoff, HS);
					}
				}
			}
		}
	}
}

void cpu_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out, const float *lse,
			    int B, int T, int NH, int KVH, int HS)
{
	const long units = (long)B * KVH;
#pragma omp parallel for schedule(dynamic, 1)
	for (long u = 0; u < units; u++)
		attn_bwd_unit(dqkv, dout, qkv, out, lse, (int)(u / KVH), (int)(u % KVH), T, NH, KVH, HS);
}
