/* xent.cu — fused softmax + cross-entropy over the vocabulary on CUDA
 * (kernels/cpu/xent.c semantics).
 *
 * Forward: one block per row; each thread keeps an online (max, sum of
 * exponentials) over its strided slice of the logits, then the block
 * combines them: lse = max + log(sum), loss = lse - logit[target] (0 for an
 * ignored row, target outside [0,V)).  The probabilities are never stored.
 * Backward: one block per row rewrites dlogits = dloss/M * (softmax - onehot)
 * from lse, element by element, so it may run in place over the logits. */
#include "common.cuh"

#define XENT_THREADS 256

template <typename T>
__global__ void xent_fwd_kernel(float *losses, float *lse, const T *logits, const int *targets, int V)
{
	__shared__ float sh[32];
	const size_t row = blockIdx.x;
	const T *x = logits + row * (size_t)V;
	float m = -INFINITY, s = 0.0f;
	for (int c = threadIdx.x; c < V; c += blockDim.x) {
		float v = ld(x + c);
		if (v > m) {
			s = s * expf(m - v) + 1.0f; /* m = -inf gives s * 0 + 1 */
			m = v;
		} else {
			s += expf(v - m);
		}
	}
	const float bm = block_max(m, sh);
	const float part = m == -INFINITY ? 0.0f : s * expf(m - bm);
	const float bs = block_sum(part, sh);
	if (threadIdx.x == 0) {
		const float l = bm + logf(bs);
		const int tg = targets[row];
		lse[row] = l;
		losses[row] = (tg >= 0 && tg < V) ? l - ld(x + tg) : 0.0f;
	}
}

/* No __restrict__: dlogits may be logits (each element read, then written by the same thread). */
template <typename T>
__global__ void xent_bwd_kernel(T *dlogits, const T *logits, const float *lse, const int *targets,
				float scale, int V)
{
	const size_t row = blockIdx.x;
	const T *x = logits + row * (size_t)V;
	T *d = dlogits + row * (size_t)V;
	const int tg = targets[row];
	if (tg < 0 || tg >= V) {
		for (int c = threadIdx.x; c < V; c += blockDim.x)
			st(d + c, 0.0f);
		return;
	}
	const float l = lse[row];
	for (int c = threadIdx.x; c < V; c += blockDim.x) {
		float g = scale * expf(ld(x + c) - l);
		if (c == tg)
			g -= scale;
		st(d + c, g);
	}
}

template <typename T>
static int xent_fwd(float *losses, float *lse, const void *logits, const int *targets, int M, int V)
{
	xent_fwd_kernel<T>
	    <<<(unsigned)M, XENT_THREADS, 0, ps_cuda_g.stream>>>(losses, lse, (const T *)logits, targets, V);
	CU_LAUNCH_CHECK("xent_fwd_kernel");
	return PS_OK;
}

template <typename T>
static int xent_bwd(void *dlogits, const void *logits, const float *lse, const int *targets, float dloss,
		    int M, int V)
{
	xent_bwd_kernel<T><<<(unsigned)M, XENT_THREADS, 0, ps_cuda_g.stream>>>(
	    (T *)dlogits, (const T *)logits, lse, targets, dloss / (float)M, V);
	CU_LAUNCH_CHECK("xent_bwd_kernel");
	return PS_OK;
}

extern "C" int ps_cuda_xent_forward(int dt, float *losses, float *lse, const void *logits, const int *targets,
				    int M, int V)
{
	CU_DT_CHECK(dt);
	if (M <= 0 || V <= 0)
		return PS_OK;
	return CU_DISPATCH(dt, xent_fwd, losses, lse, logits, targets, M, V);
}

extern "C" int ps_cuda_xent_backward(int dt, void *dlogits, const void *logits, const float *lse,
				     const int *targets, float dloss, int M, int V)
{
	CU_DT_CHECK(dt);
	if (M <= 0 || V <= 0)
		return PS_OK;
	return CU_DISPATCH(dt, xent_bwd, dlogits, logits, lse, targets, dloss, M, V);
}
