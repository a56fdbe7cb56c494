/* kernels-dref.h — double-precision reference forwards for the gradient
 * checks of the CPU kernels and the CPU GPT model (header-only, tests only).
 *
 * Written straight from the definitions, independently of kernels/cpu (no
 * shared code), in double, so central finite differences of a scalar loss
 * through them are accurate to ~1e-10 and can judge the float backward
 * kernels.  Also: a deterministic RNG and the error norms the tests use. */
#ifndef PS_KERNELS_DREF_H
#define PS_KERNELS_DREF_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- random numbers and norms -------------------------------------------- */

static inline uint64_t dref_rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* uniform in [lo, hi) */
static inline double dref_unif(uint64_t *s, double lo, double hi)
{
	return lo + (hi - lo) * ((dref_rng_next(s) >> 11) * (1.0 / 9007199254740992.0));
}

static inline void dref_fill(float *x, size_t n, uint64_t *s, double lo, double hi)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float)dref_unif(s, lo, hi);
}

/* Relative error in the L2 norm: ||a - b||_2 / ||b||_2 (b the truth);
 * absolute ||a - b||_2 when ||b||_2 is 0. */
static inline double dref_relerr_f(const float *a, const float *b, size_t n)
{
	double num = 0.0, den = 0.0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)a[i] - (double)b[i];
		num += d * d;
		den += (double)b[i] * b[i];
	}
	return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

static inline double dref_relerr_fd(const float *a, const double *b, size_t n)
{
	double num = 0.0, den = 0.0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)a[i] - b[i];
		num += d * d;
		den += b[i] * b[i];
	}
	return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

static inline double *dref_from_f(const float *x, size_t n)
{
	double *d = malloc(n * sizeof *d);
	for (size_t i = 0; i < n; i++)
		d[i] = x[i];
	return d;
}

/* ---- ops (shapes as in kernels/cpu/kernels.h) -------------------------------- */

static inline void dref_embed(double *out, const int *tok, const double *wte, const double *wpe, int B, int T, int C)
{
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			for (int c = 0; c < C; c++) {
				size_t bt = (size_t)b * T + t;
				out[bt * C + c] = wte[(size_t)tok[bt] * C + c] + (wpe ? wpe[(size_t)t * C + c] : 0.0);
			}
}

static inline void dref_layernorm(double *out, const double *in, const double *w, const double *b, int M, int C)
{
	for (int i = 0; i < M; i++) {
		const double *x = in + (size_t)i * C;
		double mu = 0.0, var = 0.0;
		for (int c = 0; c < C; c++)
			mu += x[c];
		mu /= C;
		for (int c = 0; c < C; c++)
			var += (x[c] - mu) * (x[c] - mu);
		var /= C;
		double rs = 1.0 / sqrt(var + 1e-5);
		for (int c = 0; c < C; c++)
			out[(size_t)i * C + c] = (x[c] - mu) * rs * w[c] + (b ? b[c] : 0.0);
	}
}

static inline void dref_rmsnorm(double *out, const double *in, const double *w, int M, int C)
{
	for (int i = 0; i < M; i++) {
		const double *x = in + (size_t)i * C;
		double ss = 0.0;
		for (int c = 0; c < C; c++)
			ss += x[c] * x[c];
		double rs = 1.0 / sqrt(ss / C + 1e-5);
		for (int c = 0; c < C; c++)
			out[(size_t)i * C + c] = x[c] * rs * w[c];
	}
}

/* out(M,OC) = in(M,C) W(OC,C)^T + bias */
static inline void dref_matmul(double *out, const double *in, const double *W, const double *bias, int M, int C,
			       int OC)
{
	for (int i = 0; i < M; i++)
		for (int o = 0; o < OC; o++) {
			double s = bias ? bias[o] : 0.0;
			for (int c = 0; c < C; c++)
				s += in[(size_t)i * C + c] * W[(size_t)o * C + c];
			out[(size_t)i * OC + o] = s;
		}
}

/* causal softmax attention, qkv (B,T,(NH+2KVH)HS) -> out (B,T,NH*HS) */
static inline void dref_attention(double *out, const double *qkv, int B, int T, int NH, int KVH, int HS)
{
	const size_t QS = (size_t)(NH + 2 * KVH) * HS, OS = (size_t)NH * HS;
	double *p = malloc((size_t)T * sizeof *p);
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++) {
			const int g = h / (NH / KVH);
			for (int t = 0; t < T; t++) {
				const double *q = qkv + ((size_t)b * T + t) * QS + (size_t)h * HS;
				double mx = -INFINITY, sum = 0.0;
				for (int j = 0; j <= t; j++) {
					const double *k = qkv + ((size_t)b * T + j) * QS + (size_t)(NH + g) * HS;
					double s = 0.0;
					for (int i = 0; i < HS; i++)
						s += q[i] * k[i];
					p[j] = s / sqrt((double)HS);
					mx = fmax(mx, p[j]);
				}
				for (int j = 0; j <= t; j++) {
					p[j] = exp(p[j] - mx);
					sum += p[j];
				}
				double *o = out + ((size_t)b * T + t) * OS + (size_t)h * HS;
				for (int i = 0; i < HS; i++) {
					double acc = 0.0;
					for (int j = 0; j <= t; j++)
						acc += p[j] / sum *
						       qkv[((size_t)b * T + j) * QS + (size_t)(NH + KVH + g) * HS + i];
					o[i] = acc;
				}
			}
		}
	free(p);
}

static inline void dref_gelu(double *out, const double *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double x = in[i];
		out[i] = 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
	}
}

/* out(M,F) = silu(in[:, :F]) * in[:, F:] */
static inline void dref_swiglu(double *out, const double *in, int M, int F)
{
	for (int i = 0; i < M; i++)
		for (int c = 0; c < F; c++) {
			double a = in[(size_t)i * 2 * F + c], b = in[(size_t)i * 2 * F + F + c];
			out[(size_t)i * F + c] = a / (1.0 + exp(-a)) * b;
		}
}

/* mean over M rows of -log softmax(logits)[target] (targets all valid) */
static inline double dref_xent_mean(const double *logits, const int *tg, int M, int V)
{
	double tot = 0.0;
	for (int i = 0; i < M; i++) {
		const double *x = logits + (size_t)i * V;
		double mx = -INFINITY, s = 0.0;
		for (int c = 0; c < V; c++)
			mx = fmax(mx, x[c]);
		for (int c = 0; c < V; c++)
			s += exp(x[c] - mx);
		tot += mx + log(s) - x[tg[i]];
	}
	return tot / M;
}

static inline double dref_dot(const double *a, const double *b, size_t n)
{
	double s = 0.0;
	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

#endif
