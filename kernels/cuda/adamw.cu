/* adamw.cu — the optimizer step and the pieces of global gradient-norm
 * clipping on CUDA (kernels/cpu/adamw.c semantics).
 *
 * AdamW: one streaming pass; bias corrections 1 - beta^t are computed on the
 * host in double, as on the CPU.  With an fp32 master copy the update is
 * applied to the master and the parameter receives it rounded to its storage
 * dtype (mixed precision); without one the parameter is updated in its own
 * dtype.  Sum of squares: each thread accumulates in double over a grid-stride
 * slice, blocks reduce to one partial each, the host adds the partials in
 * block order (deterministic for a given device and n).  The clip factor
 * itself is computed by the C glue with the CPU's formula. */
#include <math.h>

#include "common.cuh"

#define OPT_THREADS 256
#define SUMSQ_MAX_BLOCKS 1024

template <typename T>
__global__ void adamw_kernel(T *param, float *master, const T *grad, float *m, float *v, size_t n, float lr,
			     float beta1, float beta2, float eps, float wd, float grad_scale, float ib1,
			     float ib2)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		const float g = ld(grad + i) * grad_scale;
		const float mi = beta1 * m[i] + (1.0f - beta1) * g;
		const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
		m[i] = mi;
		v[i] = vi;
		float p = master ? master[i] : ld(param + i);
		p -= lr * ((mi * ib1) / (sqrtf(vi * ib2) + eps) + wd * p);
		if (master)
			master[i] = p;
		st(param + i, p);
	}
}

template <typename T> __global__ void sumsq_kernel(double *partial, const T *x, size_t n)
{
	__shared__ double sh[32];
	double s = 0.0;
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		const float xv = ld(x + i);
		s += (double)(xv * xv);
	}
	const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
	s = warp_sum_d(s);
	if (lane == 0)
		sh[wid] = s;
	__syncthreads();
	if (wid == 0) {
		s = lane < nw ? sh[lane] : 0.0;
		s = warp_sum_d(s);
		if (lane == 0)
			partial[blockIdx.x] = s;
	}
}

template <typename T> __global__ void scale_kernel(T *x, size_t n, float s)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x)
		st(x + i, ld(x + i) * s);
}

template <typename T>
static int adamw(void *param, float *master, const void *grad, float *m, float *v, size_t n, float lr,
		 float beta1, float beta2, float eps, float wd, float grad_scale, float ib1, float ib2)
{
	adamw_kernel<T><<<cu_grid_1d(n, OPT_THREADS), OPT_THREADS, 0, ps_cuda_g.stream>>>(
	    (T *)param, master, (const T *)grad, m, v, n, lr, beta1, beta2, eps, wd, grad_scale, ib1, ib2);
	CU_LAUNCH_CHECK("adamw_kernel");
	return PS_OK;
}

template <typename T> static int sumsq(const void *x, size_t n, double *out)
{
	unsigned blocks = cu_grid_1d(n, OPT_THREADS);
	if (blocks > SUMSQ_MAX_BLOCKS)
		blocks = SUMSQ_MAX_BLOCKS;
	void *scr = NULL;
	int rc = ps_cuda_scratch(blocks * sizeof(double), &scr);
	if (rc != PS_OK)
		return rc;
	sumsq_kernel<T><<<blocks, OPT_THREADS, 0, ps_cuda_g.stream>>>((double *)scr, (const T *)x, n);
	CU_LAUNCH_CHECK("sumsq_kernel");
	double part[SUMSQ_MAX_BLOCKS];
	CU_CHECK(
	    cudaMemcpyAsync(part, scr, blocks * sizeof(double), cudaMemcpyDeviceToHost, ps_cuda_g.stream));
	CU_CHECK(cudaStreamSynchronize(ps_cuda_g.stream));
	double s = 0.0;
	for (unsigned i = 0; i < blocks; i++)
		s += part[i];
	*out = s;
	return PS_OK;
}

template <typename T> static int scale(void *x, size_t n, float s)
{
	scale_kernel<T><<<cu_grid_1d(n, OPT_THREADS), OPT_THREADS, 0, ps_cuda_g.stream>>>((T *)x, n, s);
	CU_LAUNCH_CHECK("scale_kernel");
	return PS_OK;
}

extern "C" int ps_cuda_adamw_update(int dt, void *param, float *master, const void *grad, float *m, float *v,
				    size_t n, float lr, float beta1, float beta2, float eps,
				    float weight_decay, float grad_scale, int t)
{
	CU_DT_CHECK(dt);
	if (!n)
		return PS_OK;
	const float bc1 = (float)(1.0 - pow((double)beta1, (double)t));
	const float bc2 = (float)(1.0 - pow((double)beta2, (double)t));
	return CU_DISPATCH(dt, adamw, param, master, grad, m, v, n, lr, beta1, beta2, eps, weight_decay,
			   grad_scale, 1.0f / bc1, 1.0f / bc2);
}

extern "C" int ps_cuda_sumsq(int dt, const void *x, size_t n, double *out)
{
	*out = 0.0;
	CU_DT_CHECK(dt);
	if (!n)
		return PS_OK;
	return CU_DISPATCH(dt, sumsq, x, n, out);
}

extern "C" int ps_cuda_scale(int dt, void *x, size_t n, float s)
{
	CU_DT_CHECK(dt);
	if (!n)
		return PS_OK;
	return CU_DISPATCH(dt, scale, x, n, s);
}
