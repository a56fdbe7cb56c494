/* ref.c — naive reference kernels: the truth the optimised CPU kernels and
 * the CUDA kernels are tested against.
 *
 * Plain single-threaded loops written straight from the definitions, with
 * double accumulators and libm functions; no blocking, no online softmax, no
 * BLAS, no allocation.  Same signatures and semantics as kernels.h.  Never
 * used on a hot path. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "kernels.h"

void cpu_ref_embed_forward(float *out, const int *tokens, const float *wte, const float *wpe, int B, int T, int C)
{
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			for (int c = 0; c < C; c++) {
				size_t bt = (size_t)b * T + t;
				float pe = wpe ? wpe[(size_t)t * C + c] : 0.0f;
				out[bt * C + c] = wte[(size_t)tokens[bt] * C + c] + pe;
			}
}

void cpu_ref_embed_backward(float *dwte, float *dwpe, const float *dout, const int *tokens, int B, int T, int C)
{
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			for (int c = 0; c < C; c++) {
				size_t bt = (size_t)b * T + t;
				dwte[(size_t)tokens[bt] * C + c] += dout[bt * C + c];
				if (dwpe)
					dwpe[(size_t)t * C + c] += dout[bt * C + c];
			}
}

void cpu_ref_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
			       const float *bias, int M, int C)
{
	for (int i = 0; i < M; i++) {
		const float *x = inp + (size_t)i * C;
		double mu = 0.0, var = 0.0;
		for (int c = 0; c < C; c++)
			mu += x[c];
		mu /= C;
		for (int c = 0; c < C; c++)
			var += (x[c] - mu) * (x[c] - mu);
		var /= C;
		double rs = 1.0 / sqrt(var + CPU_NORM_EPS);
		for (int c = 0; c < C; c++)
			out[(size_t)i * C + c] = (float)((x[c] - mu) * rs * weight[c] + (bias ? bias[c] : 0.0f));
		mean[i] = (float)mu;
		rstd[i] = (float)rs;
	}
}

void cpu_ref_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
				const float *weight, const float *mean, const float *rstd, int M, int C)
{
	for (int i = 0; i < M; i++) {
		const float *x = inp + (size_t)i * C, *d = dout + (size_t)i * C;
		double mdn = 0.0, mdnn = 0.0;
		for (int c = 0; c < C; c++) {
			double n = (x[c] - (double)mean[i]) * rstd[i];
			mdn += (double)d[c] * weight[c];
			mdnn += (double)d[c] * weight[c] * n;
		}
		mdn /= C;
		mdnn /= C;
		for (int c = 0; c < C; c++) {
			double n = (x[c] - (double)mean[i]) * rstd[i];
			dinp[(size_t)i * C + c] += (float)(((double)d[c] * weight[c] - mdn - n * mdnn) * rstd[i]);
			dweight[c] += (float)(d[c] * n);
			if (dbias)
				dbias[c] += d[c];
		}
	}
}

void cpu_ref_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int M, int C)
{
	for (int i = 0; i < M; i++) {
		const float *x = inp + (size_t)i * C;
		double ss = 0.0;
		for (int c = 0; c < C; c++)
			ss += (double)x[c] * x[c];
		double rs = 1.0 / sqrt(ss / C + CPU_NORM_EPS);
		for (int c = 0; c < C; c++)
			out[(size_t)i * C + c] = (float)(x[c] * rs * weight[c]);
		rstd[i] = (float)rs;
	}
}

void cpu_ref_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
			      const float *weight, const float *rstd, int M, int C)
{
	for (int i = 0; i < M; i++) {
		const float *x = inp + (size_t)i * C, *d = dout + (size_t)i * C;
		double mdnn = 0.0;
		for (int c = 0; c < C; c++)
			mdnn += (double)d[c] * weight[c] * x[c] * rstd[i];
		mdnn /= C;
		for (int c = 0; c < C; c++) {
			double n = (double)x[c] * rstd[i];
			dinp[(size_t)i * C + c] += (float)(((double)d[c] * weight[c] - n * mdnn) * rstd[i]);
			dweight[c] += (float)(d[c] * n);
		}
	}
}

void cpu_ref_matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int M, int C,
			    int OC)
{
	for (int i = 0; i < M; i++)
		for (int o = 0; o < OC; o++) {
			double s = bias ? bias[o] : 0.0;
			for (int c = 0; c < C; c++)
				s += (double)inp[(size_t)i * C + c] * weight[(size_t)o * C + c];
			out[(size_t)i * OC + o] = (float)s;
		}
}

void cpu_ref_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
			     const float *weight, int M, int C, int OC)
{
	if (dinp)
		for (int i = 0; i < M; i++)
			for (int c = 0; c < C; c++) {
				double s = 0.0;
				for (int o = 0; o < OC; o++)
					s += (double)dout[(size_t)i * OC + o] * weight[(size_t)o * C + c];
				dinp[(size_t)i * C + c] += (float)s;
			}
	if (dweight)
		for (int o = 0; o < OC; o++)
			for (int c = 0; c < C; c++) {
				double s = 0.0;
				for (int i = 0; i < M; i++)
					s += (double)dout[(size_t)i * OC + o] * inp[(size_t)i * C + c];
				dweight[(size_t)o * C + c] += (float)s;
			}
	if (dbias)
		for (int o = 0; o < OC; o++) {
			double s = 0.0;
			for (int i = 0; i < M; i++)
				s += dout[(size_t)i * OC + o];
			dbias[o] += (float)s;
		}
}

/* score of query (b,t,h) against key (b,j,kv head of h), scaled */
static double ref_score(const float *qkv, int b, int t, int j, int h, int T, int NH, int KVH, int HS)
{
	const size_t QS = (size_t)(NH + 2 * KVH) * HS;
	const int g = h / (NH / KVH);
	const float *q = qkv + ((size_t)b * T + t) * QS + (size_t)h * HS;
	const float *k = qkv + ((size_t)b * T + j) * QS + (size_t)(NH + g) * HS;
	double s = 0.0;
	for (int i = 0; i < HS; i++)
		s += (double)q[i] * k[i];
	return s / sqrt((double)HS);
}

void cpu_ref_attention_forward(float *out, float *lse, const float *qkv, int B, int T, int NH, int KVH, int HS)
{
	const size_t QS = (size_t)(NH + 2 * KVH) * HS, OS = (size_t)NH * HS;
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++) {
			const int g = h / (NH / KVH);
			for (int t = 0; t < T; t++) {
				double mx = -INFINITY, sum = 0.0;
				for (int j = 0; j <= t; j++)
					mx = fmax(mx, ref_score(qkv, b, t, j, h, T, NH, KVH, HS));
				for (int j = 0; j <= t; j++)
					sum += exp(ref_score(qkv, b, t, j, h, T, NH, KVH, HS) - mx);
				float *o = out + ((size_t)b * T + t) * OS + (size_t)h * HS;
				for (int i = 0; i < HS; i++) {
					double acc = 0.0;
					for (int j = 0; j <= t; j++) {
						double p = exp(ref_score(qkv, b, t, j, h, T, NH, KVH, HS) - mx) / sum;
						acc += p * qkv[((size_t)b * T + j) * QS + (size_t)(NH + KVH + g) * HS + i];
					}
					o[i] = (float)acc;
				}
				lse[((size_t)b * NH + h) * T + t] = (float)(mx + log(sum));
			}
		}
}

void cpu_ref_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out,
				const float *lse, int B, int T, int NH, int KVH, int HS)
{
	const size_t QS = (size_t)(NH + 2 * KVH) * HS, OS = (size_t)NH * HS;
	const double scale = 1.0 / sqrt((double)HS);
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++) {
			const int g = h / (NH / KVH);
			for (int t = 0; t < T; t++) {
				const size_t row = (size_t)b * T + t;
				const float *dO = dout + row * OS + (size_t)h * HS, *O = out + row * OS + (size_t)h * HS;
				const float *q = qkv + row * QS + (size_t)h * HS;
				float *dq = dqkv + row * QS + (size_t)h * HS;
				double D = 0.0;
				for (int i = 0; i < HS; i++)
					D += (double)dO[i] * O[i];
				const double l = lse[((size_t)b * NH + h) * T + t];
				for (int j = 0; j <= t; j++) {
					const size_t rj = (size_t)b * T + j;
					const float *k = qkv + rj * QS + (size_t)(NH + g) * HS;
					const float *v = qkv + rj * QS + (size_t)(NH + KVH + g) * HS;
					float *dk = dqkv + rj * QS + (size_t)(NH + g) * HS;
					float *dv = dqkv + rj * QS + (size_t)(NH + KVH + g) * HS;
					double p = exp(ref_score(qkv, b, t, j, h, T, NH, KVH, HS) - l);
					double dp = 0.0;
					for (int i = 0; i < HS; i++)
						dp += (double)dO[i] * v[i];
					double ds = p * (dp - D) * scale;
					for (int i = 0; i < HS; i++) {
						dq[i] += (float)(ds * k[i]);
						dk[i] += (float)(ds * q[i]);
						dv[i] += (float)(p * dO[i]);
					}
				}
			}
		}
}

void cpu_ref_gelu_forward(float *out, const float *inp, size_t n)
{
	const double k = sqrt(2.0 / M_PI);
	for (size_t i = 0; i < n; i++) {
		double x = inp[i];
		out[i] = (float)(0.5 * x * (1.0 + tanh(k * (x + 0.044715 * x * x * x))));
	}
}

void cpu_ref_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
	const double k = sqrt(2.0 / M_PI);
	for (size_t i = 0; i < n; i++) {
		double x = inp[i];
		double u = k * (x + 0.044715 * x * x * x);
		double th = tanh(u);
		double sech2 = 1.0 - th * th;
		double g = 0.5 * (1.0 + th) + 0.5 * x * sech2 * k * (1.0 + 3.0 * 0.044715 * x * x);
		dinp[i] += (float)(g * dout[i]);
	}
}

void cpu_ref_swiglu_forward(float *out, const float *inp, int M, int F)
{
	for (int i = 0; i < M; i++)
		for (int c = 0; c < F; c++) {
			double a = inp[(size_t)i * 2 * F + c], b = inp[(size_t)i * 2 * F + F + c];
			out[(size_t)i * F + c] = (float)(a / (1.0 + exp(-a)) * b);
		}
}

void cpu_ref_swiglu_backward(float *dinp, const float *inp, const float *dout, int M, int F)
{
	for (int i = 0; i < M; i++)
		for (int c = 0; c < F; c++) {
			double a = inp[(size_t)i * 2 * F + c], b = inp[(size_t)i * 2 * F + F + c];
			double d = dout[(size_t)i * F + c];
			double sg = 1.0 / (1.0 + exp(-a));
			dinp[(size_t)i * 2 * F + c] += (float)(d * b * (sg + a * sg * (1.0 - sg)));
			dinp[(size_t)i * 2 * F + F + c] += (float)(d * a * sg);
		}
}

void cpu_ref_residual_forward(float *out, const float *a, const float *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

void cpu_ref_residual_backward(float *da, float *db, const float *dout, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (da)
			da[i] += dout[i];
		if (db)
			db[i] += dout[i];
	}
}

void cpu_ref_xent_forward(float *losses, float *lse, const float *logits, const int *targets, int M, int V)
{
	for (int i = 0; i < M; i++) {
		const float *x = logits + (size_t)i * V;
		double mx = -INFINITY, sum = 0.0;
		for (int c = 0; c < V; c++)
			mx = fmax(mx, x[c]);
		for (int c = 0; c < V; c++)
			sum += exp(x[c] - mx);
		double l = mx + log(sum);
		lse[i] = (float)l;
		losses[i] = (targets[i] >= 0 && targets[i] < V) ? (float)(l - x[targets[i]]) : 0.0f;
	}
}

void cpu_ref_xent_backward(float *dlogits, const float *logits, const float *lse, const int *targets, float dloss,
			   int M, int V)
{
	for (int i = 0; i < M; i++) {
		const int tg = targets[i];
		for (int c = 0; c < V; c++) {
			size_t k = (size_t)i * V + c;
			if (tg < 0 || tg >= V) {
				dlogits[k] = 0.0f;
				continue;
			}
			double p = exp((double)logits[k] - lse[i]);
			dlogits[k] = (float)((double)dloss / M * (p - (c == tg ? 1.0 : 0.0)));
		}
	}
}

void cpu_ref_adamw_update(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1,
			  float beta2, float eps, float weight_decay, float grad_scale, int t)
{
	for (size_t i = 0; i < n; i++) {
		double g = (double)grad[i] * grad_scale;
		double mi = beta1 * (double)m[i] + (1.0 - beta1) * g;
		double vi = beta2 * (double)v[i] + (1.0 - beta2) * g * g;
		m[i] = (float)mi;
		v[i] = (float)vi;
		double mh = mi / (1.0 - pow(beta1, t)), vh = vi / (1.0 - pow(beta2, t));
		param[i] = (float)(param[i] - lr * (mh / (sqrt(vh) + eps) + weight_decay * param[i]));
	}
}
