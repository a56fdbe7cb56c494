/* act.cu — elementwise CUDA kernels: GELU (tanh form), SwiGLU and the
 * residual add, forward and backward, fp32 or bf16 storage with fp32
 * arithmetic.  Formulas are those of kernels/cpu/act.c (GELU as
 * x * sigmoid(2u), u = sqrt(2/pi)(x + 0.044715 x^3)); backward kernels add
 * into their gradients.  Grid-stride loops, one element per thread per step;
 * nothing here is fused beyond what the CPU twin fuses. */
#include "common.cuh"

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_A 0.044715f
#define ACT_THREADS 256

template <typename T> __global__ void gelu_fwd_kernel(T *out, const T *inp, size_t n)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		float x = ld(inp + i);
		float u = GELU_K * (x + GELU_A * x * x * x);
		st(out + i, x / (1.0f + expf(-2.0f * u)));
	}
}

template <typename T> __global__ void gelu_bwd_kernel(T *dinp, const T *inp, const T *dout, size_t n)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		float x = ld(inp + i);
		float u = GELU_K * (x + GELU_A * x * x * x);
		float sg = 1.0f / (1.0f + expf(-2.0f * u));
		float du = GELU_K * (1.0f + 3.0f * GELU_A * x * x);
		st(dinp + i, ld(dinp + i) + (sg + 2.0f * x * sg * (1.0f - sg) * du) * ld(dout + i));
	}
}

template <typename T> __global__ void swiglu_fwd_kernel(T *out, const T *inp, int M, int F)
{
	const size_t n = (size_t)M * F;
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		size_t r = i / (size_t)F, c = i % (size_t)F;
		const T *row = inp + r * 2 * (size_t)F;
		float a = ld(row + c), b = ld(row + F + c);
		st(out + i, a / (1.0f + expf(-a)) * b);
	}
}

template <typename T> __global__ void swiglu_bwd_kernel(T *dinp, const T *inp, const T *dout, int M, int F)
{
	const size_t n = (size_t)M * F;
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		size_t r = i / (size_t)F, c = i % (size_t)F;
		const T *row = inp + r * 2 * (size_t)F;
		T *drow = dinp + r * 2 * (size_t)F;
		float a = ld(row + c), b = ld(row + F + c), d = ld(dout + i);
		float sg = 1.0f / (1.0f + expf(-a));
		st(drow + c, ld(drow + c) + d * b * sg * (1.0f + a * (1.0f - sg)));
		st(drow + F + c, ld(drow + F + c) + d * a * sg);
	}
}

/* out may equal a or b: each element is read before it is written. */
template <typename T> __global__ void residual_fwd_kernel(T *out, const T *a, const T *b, size_t n)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x)
		st(out + i, ld(a + i) + ld(b + i));
}

template <typename T> __global__ void accumulate_kernel(T *d, const T *dout, size_t n)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x)
		st(d + i, ld(d + i) + ld(dout + i));
}

template <typename T> static int gelu_fwd(void *out, const void *inp, size_t n)
{
	gelu_fwd_kernel<T>
	    <<<cu_grid_1d(n, ACT_THREADS), ACT_THREADS, 0, ps_cuda_g.stream>>>((T *)out, (const T *)inp, n);
	CU_LAUNCH_CHECK("gelu_fwd_kernel");
	return PS_OK;
}

template <typename T> static int gelu_bwd(void *dinp, const void *inp, const void *dout, size_t n)
{
	gelu_bwd_kernel<T><<<cu_grid_1d(n, ACT_THREADS), ACT_THREADS, 0, ps_cuda_g.stream>>>(
	    (T *)dinp, (const T *)inp, (const T *)dout, n);
	CU_LAUNCH_CHECK("gelu_bwd_kernel");
	return PS_OK;
}

template <typename T> static int swiglu_fwd(void *out, const void *inp, int M, int F)
{
	size_t n = (size_t)M * (size_t)F;
	swiglu_fwd_kernel<T><<<cu_grid_1d(n, ACT_THREADS), ACT_THREADS, 0, ps_cuda_g.stream>>>(
	    (T *)out, (const T *)inp, M, F);
	CU_LAUNCH_CHECK("swiglu_fwd_kernel");
	return PS_OK;
}

template <typename T> static int swiglu_bwd(void *dinp, const void *inp, const void *dout, int M, int F)
{
	size_t n = (size_t)M * (size_t)F;
	swiglu_bwd_kernel<T><<<cu_grid_1d(n, ACT_THREADS), ACT_THREADS, 0, ps_cuda_g.stream>>>(
	    (T *)dinp, (const T *)inp, (const T *)dout, M, F);
	CU_LAUNCH_CHECK("swiglu_bwd_kernel");
	return PS_OK;
}

template <typename T> static int residual_fwd(void *out, const void *a, const void *b, size_t n)
{
	residual_fwd_kernel<T><<<cu_grid_1d(n, ACT_THREADS), ACT_THREADS, 0, ps_cuda_g.stream>>>(
	    (T *)out, (const T *)a, (const T *)b, n);
	CU_LAUNCH_CHECK("residual_fwd_kernel");
	return PS_OK;
}

template <typename T> static int residual_bwd(void *da, void *db, const void *dout, size_t n)
{
	const unsigned int grid = cu_grid_1d(n, ACT_THREADS);
	if (da) {
		accumulate_kernel<T><<<grid, ACT_THREADS, 0, ps_cuda_g.stream>>>((T *)da, (const T *)dout, n);
		CU_LAUNCH_CHECK("accumulate_kernel");
	}
	if (db) {
		accumulate_kernel<T><<<grid, ACT_THREADS, 0, ps_cuda_g.stream>>>((T *)db, (const T *)dout, n);
		CU_LAUNCH_CHECK("accumulate_kernel");
	}
	return PS_OK;
}

extern "C" int ps_cuda_gelu_forward(int dt, void *out, const void *inp, size_t n)
{
	CU_DT_CHECK(dt);
	return n ? CU_DISPATCH(dt, gelu_fwd, out, inp, n) : PS_OK;
}

extern "C" int ps_cuda_gelu_backward(int dt, void *dinp, const void *inp, const void *dout, size_t n)
{
	CU_DT_CHECK(dt);
	return n ? CU_DISPATCH(dt, gelu_bwd, dinp, inp, dout, n) : PS_OK;
}

extern "C" int ps_cuda_swiglu_forward(int dt, void *out, const void *inp, int M, int F)
{
	CU_DT_CHECK(dt);
	return M > 0 && F > 0 ? CU_DISPATCH(dt, swiglu_fwd, out, inp, M, F) : PS_OK;
}

extern "C" int ps_cuda_swiglu_backward(int dt, void *dinp, const void *inp, const void *dout, int M, int F)
{
	CU_DT_CHECK(dt);
	return M > 0 && F > 0 ? CU_DISPATCH(dt, swiglu_bwd, dinp, inp, dout, M, F) : PS_OK;
}

extern "C" int ps_cuda_residual_forward(int dt, void *out, const void *a, const void *b, size_t n)
{
	CU_DT_CHECK(dt);
	return n ? CU_DISPATCH(dt, residual_fwd, out, a, b, n) : PS_OK;
}

extern "C" int ps_cuda_residual_backward(int dt, void *da, void *db, const void *dout, size_t n)
{
	CU_DT_CHECK(dt);
	return n ? CU_DISPATCH(dt, residual_bwd, da, db, dout, n) : PS_OK;
}
