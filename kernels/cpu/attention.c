/* attention.c — causal multi-head self-attention with grouped KV heads,
 * flash-style, forward and backward.
 *
 * Forward: for each (sequence, query head, block of CPU_ATTN_BLOCK query
 * rows), walk the key blocks up to the diagonal: compute the tile of scores
 * S = Q K^T / sqrt(HS), then an online softmax per row (running max m and
 * sum l, output rescaled when m grows) and O += P V.  A thread holds one
 * CPU_ATTN_BLOCK^2 tile of scores at a time; only the output and the
 * per-row log-sum-exp are written.
 *
 * Backward (FlashAttention-2 order): recompute each tile P = exp(S - lse),
 * then dP = dO V^T, dS = P * (dP - D) / sqrt(HS) with D = rowsum(dO * O),
 * dQ += dS K, dK += dS^T Q, dV += P^T dO.  Threads own whole (sequence, kv
 * head) pairs, including the query heads of that group, so no two threads
 * write the same gradient row: no atomics, deterministic.
 *
 * Two inner kernels do all the arithmetic, both without horizontal sums:
 * tile_dots (a tile of dot products against a transposed copy of the
 * key/value block, accumulating across the block's keys) and rows_axpy
 * (y(HS) += sum_k c_k x_k(HS), accumulating in registers across the head
 * dimension).  They use GCC vector types of 8 floats, which the
 * x86-64-v3 clone (KERN_CLONES) maps to AVX2/FMA and the baseline clone to
 * pairs of SSE registers.  No heap allocation: the tiles live on the
 * thread's stack (a few KiB). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "kernels.h"
#include "kernels-int.h"

#define BLK CPU_ATTN_BLOCK /* 16: two vectors of 8 */
#define HCH 64             /* head-dimension chunk of the transposed block */

typedef float v8f __attribute__((vector_size(32)));
/* the v8f helpers are static and always inlined: no cross-unit ABI to warn about */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

static inline v8f v8_load(const float *p)
{
	v8f v;
	memcpy(&v, p, sizeof v);
	return v;
}

static inline void v8_store(float *p, v8f v) { memcpy(p, &v, sizeof v); }

/* S[r][c] = scale * sum_i a_r[i] b_c[i] for r < nr, c < nc, 0 for c >= nc.
 * Rows of a and b hold HS floats at strides sa and sb.  b is copied
 * transposed, HCH dimensions at a time, so each row of S is two vector
 * accumulators updated by a broadcast of a_r[i]. */
static inline void tile_dots(float S[BLK][BLK], const float *a, size_t sa, int nr, const float *b, size_t sb, int nc,
			     int HS, float scale)
{
	float bt[HCH][BLK];
	for (int i0 = 0; i0 < HS; i0 += HCH) {
		const int ni = HS - i0 < HCH ? HS - i0 : HCH;
		for (int c = 0; c < nc; c++) {
			const float *restrict bc = b + (size_t)c * sb + i0;
			for (int i = 0; i < ni; i++)
				bt[i][c] = bc[i];
		}
		for (int i = 0; i < ni; i++)
			for (int c = nc; c < BLK; c++)
				bt[i][c] = 0.0f;
		for (int r = 0; r < nr; r++) {
			const float *restrict ar = a + (size_t)r * sa + i0;
			v8f s0 = {0}, s1 = {0};
			if (i0)
				s0 = v8_load(S[r]), s1 = v8_load(S[r] + 8);
			for (int i = 0; i < ni; i++) {
				const float ai = ar[i];
				s0 += ai * v8_load(bt[i]);
				s1 += ai * v8_load(bt[i] + 8);
			}
			v8_store(S[r], s0);
			v8_store(S[r] + 8, s1);
		}
	}
	for (int r = 0; r < nr; r++) {
		v8_store(S[r], v8_load(S[r]) * scale);
		v8_store(S[r] + 8, v8_load(S[r] + 8) * scale);
	}
}

/* y(HS) += sum_{k < n} coef[k * cs] * x[k * xs + (0..HS)].  Up to 64
 * dimensions of y stay in eight vector registers while k runs. */
static inline void rows_axpy(float *restrict y, const float *restrict coef, size_t cs, int n,
			     const float *restrict x, size_t xs, int HS)
{
	int i0 = 0;
	for (; i0 + 64 <= HS; i0 += 64) {
		/* eight named accumulators: an array would live on the stack at -O2 */
		float *yy = y + i0;
		v8f a0 = v8_load(yy), a1 = v8_load(yy + 8), a2 = v8_load(yy + 16), a3 = v8_load(yy + 24);
		v8f a4 = v8_load(yy + 32), a5 = v8_load(yy + 40), a6 = v8_load(yy + 48), a7 = v8_load(yy + 56);
		for (int k = 0; k < n; k++) {
			const float c = coef[(size_t)k * cs];
			if (c == 0.0f)
				continue;
			const float *xk = x + (size_t)k * xs + i0;
			a0 += c * v8_load(xk), a1 += c * v8_load(xk + 8), a2 += c * v8_load(xk + 16);
			a3 += c * v8_load(xk + 24), a4 += c * v8_load(xk + 32), a5 += c * v8_load(xk + 40);
			a6 += c * v8_load(xk + 48), a7 += c * v8_load(xk + 56);
		}
		v8_store(yy, a0), v8_store(yy + 8, a1), v8_store(yy + 16, a2), v8_store(yy + 24, a3);
		v8_store(yy + 32, a4), v8_store(yy + 40, a5), v8_store(yy + 48, a6), v8_store(yy + 56, a7);
	}
	for (; i0 + 8 <= HS; i0 += 8) {
		v8f acc = v8_load(y + i0);
		for (int k = 0; k < n; k++)
			acc += coef[(size_t)k * cs] * v8_load(x + (size_t)k * xs + i0);
		v8_store(y + i0, acc);
	}
	for (; i0 < HS; i0++) {
		float acc = y[i0];
		for (int k = 0; k < n; k++)
			acc += coef[(size_t)k * cs] * x[(size_t)k * xs + i0];
		y[i0] = acc;
	}
}

static inline float dotf(const float *restrict a, const float *restrict b, int n)
{
	float s = 0.0f;
#pragma omp simd reduction(+ : s)
	for (int i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* One forward unit: query block qb of head h of sequence b. */
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
	const int t0 = qb * BLK, nt = t0 + BLK < T ? BLK : T - t0;
	const float *qrows = base + (size_t)t0 * QS + (size_t)h * HS;
	float *orows = out + ((size_t)b * T + t0) * OS + (size_t)h * HS;
	float S[BLK][BLK], m[BLK], l[BLK];
	for (int r = 0; r < nt; r++) {
		memset(orows + (size_t)r * OS, 0, sizeof(float) * (size_t)HS);
		m[r] = -INFINITY;
		l[r] = 0.0f;
	}
	for (int kb = 0; kb <= qb; kb++) {
		const int j0 = kb * BLK, nj = j0 + BLK < T ? BLK : T - j0;
		tile_dots(S, qrows, QS, nt, kbase + (size_t)j0 * QS, QS, nj, HS, scale);
		for (int r = 0; r < nt; r++) {
			/* causal: row t0+r sees keys j0 .. t0+r of this block (at least one) */
			const int jn = t0 + r - j0 + 1 < nj ? t0 + r - j0 + 1 : nj;
			float *restrict sr = S[r];
			float bm = -INFINITY;
			for (int c = 0; c < jn; c++)
				bm = sr[c] > bm ? sr[c] : bm;
			const float mnew = bm > m[r] ? bm : m[r];
			const float corr = m[r] == -INFINITY ? 0.0f : kern_expf(m[r] - mnew);
			float bl = 0.0f;
#pragma omp simd reduction(+ : bl)
			for (int c = 0; c < jn; c++) {
				sr[c] = kern_expf(sr[c] - mnew);
				bl += sr[c];
			}
			float *restrict o = orows + (size_t)r * OS;
			if (corr != 1.0f) {
#pragma omp simd
				for (int i = 0; i < HS; i++)
					o[i] *= corr;
			}
			l[r] = l[r] * corr + bl;
			m[r] = mnew;
			rows_axpy(o, sr, 1, jn, vbase + (size_t)j0 * QS, QS, HS);
		}
	}
	for (int r = 0; r < nt; r++) {
		float *restrict o = orows + (size_t)r * OS;
		const float inv = 1.0f / l[r];
#pragma omp simd
		for (int i = 0; i < HS; i++)
			o[i] *= inv;
		lse[((size_t)b * NH + h) * T + t0 + r] = m[r] + logf(l[r]);
	}
}

void cpu_attention_forward(float *out, float *lse, const float *qkv, int B, int T, int NH, int KVH, int HS)
{
	const int nblk = (T + BLK - 1) / BLK;
	const long units = (long)B * NH * nblk;
#pragma omp parallel for schedule(dynamic, 1) if ((double)B * NH * T * T * HS > 64.0 * KERN_PAR_MIN)
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
			const float *qrows = base + (size_t)t0 * QS + qoff;
			const float *dorows = dout + ((size_t)b * T + t0) * OS + qoff;
			float *dqrows = dbase + (size_t)t0 * QS + qoff;
			for (int r = 0; r < nt; r++)
				D[r] = dotf(dorows + (size_t)r * OS, out + ((size_t)b * T + t0 + r) * OS + qoff, HS);
			for (int kb = 0; kb <= qb; kb++) {
				const int j0 = kb * BLK, nj = j0 + BLK < T ? BLK : T - j0;
				tile_dots(P, qrows, QS, nt, base + (size_t)j0 * QS + koff, QS, nj, HS, scale);
				tile_dots(dS, dorows, OS, nt, base + (size_t)j0 * QS + voff, QS, nj, HS, 1.0f);
				/* P = exp(S - lse), dS = P (dP - D) scale; masked and padding entries exactly 0 */
				for (int r = 0; r < BLK; r++) {
					const int jn = r >= nt ? 0 : t0 + r - j0 + 1 < nj ? t0 + r - j0 + 1 : nj;
					float *restrict pr = P[r], *restrict dsr = dS[r];
					const float lt = r < nt ? lrow[t0 + r] : 0.0f, dr = r < nt ? D[r] : 0.0f;
#pragma omp simd
					for (int c = 0; c < jn; c++) {
						const float p = kern_expf(pr[c] - lt);
						pr[c] = p;
						dsr[c] = p * (dsr[c] - dr) * scale;
					}
					for (int c = jn; c < BLK; c++)
						pr[c] = dsr[c] = 0.0f;
				}
				const float *krows = base + (size_t)j0 * QS + koff;
				/* dQ rows of this query block: dQ_r += sum_c dS[r][c] K_c */
				for (int r = 0; r < nt; r++)
					rows_axpy(dqrows + (size_t)r * QS, dS[r], 1, nj, krows, QS, HS);
				/* dK_c += sum_r dS[r][c] Q_r,  dV_c += sum_r P[r][c] dO_r */
				for (int c = 0; c < nj; c++) {
					float *dk = dbase + (size_t)(j0 + c) * QS + koff;
					float *dv = dbase + (size_t)(j0 + c) * QS + voff;
					rows_axpy(dk, &dS[0][c], BLK, nt, qrows, QS, HS);
					rows_axpy(dv, &P[0][c], BLK, nt, dorows, OS, HS);
				}
			}
		}
	}
}

void cpu_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out, const float *lse,
			    int B, int T, int NH, int KVH, int HS)
{
	const long units = (long)B * KVH;
#pragma omp parallel for schedule(dynamic, 1) if ((double)B * NH * T * T * HS > 64.0 * KERN_PAR_MIN)
	for (long u = 0; u < units; u++)
		attn_bwd_unit(dqkv, dout, qkv, out, lse, (int)(u / KVH), (int)(u % KVH), T, NH, KVH, HS);
}
