/* embed.cu — token + learned position embedding on CUDA, forward and
 * backward (kernels/cpu/embed.c semantics).
 *
 * Forward: one thread per output element.  Backward: dwpe[t,c] is summed
 * over the batch in fp32 by one thread per (t,c) — deterministic; dwte is a
 * scatter by token id, done with atomicAdd per element (fp32, or bf16 on
 * sm_80+), so the order in which repeated tokens add up is not fixed.  A
 * sort-by-token deterministic scatter (llm.c style) is not done here. */
#include "common.cuh"

#define EMB_THREADS 256

template <typename T>
__global__ void embed_fwd_kernel(T *out, const int *tokens, const T *wte, const T *wpe, int B, int T_, int C)
{
	const size_t n = (size_t)B * T_ * C;
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		size_t bt = i / (size_t)C, c = i % (size_t)C;
		size_t t = bt % (size_t)T_;
		float v = ld(wte + (size_t)tokens[bt] * C + c);
		if (wpe)
			v += ld(wpe + t * C + c);
		st(out + i, v);
	}
}

__device__ __forceinline__ void atomic_add_st(float *p, float v)
{
	atomicAdd(p, v);
}
__device__ __forceinline__ void atomic_add_st(bf16 *p, float v)
{
	atomicAdd(p, __float2bfloat16_rn(v));
}

template <typename T>
__global__ void embed_bwd_wte_kernel(T *dwte, const T *dout, const int *tokens, int BT, int C)
{
	const size_t n = (size_t)BT * C;
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		size_t bt = i / (size_t)C, c = i % (size_t)C;
		atomic_add_st(dwte + (size_t)tokens[bt] * C + c, ld(dout + i));
	}
}

template <typename T> __global__ void embed_bwd_wpe_kernel(T *dwpe, const T *dout, int B, int T_, int C)
{
	const size_t n = (size_t)T_ * C;
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		float s = 0.0f;
		for (int b = 0; b < B; b++)
			s += ld(dout + (size_t)b * n + i);
		st(dwpe + i, ld(dwpe + i) + s);
	}
}

template <typename T>
static int embed_fwd(void *out, const int *tokens, const void *wte, const void *wpe, int B, int T_, int C)
{
	size_t n = (size_t)B * T_ * C;
	embed_fwd_kernel<T><<<cu_grid_1d(n, EMB_THREADS), EMB_THREADS, 0, ps_cuda_g.stream>>>(
	    (T *)out, tokens, (const T *)wte, (const T *)wpe, B, T_, C);
	CU_LAUNCH_CHECK("embed_fwd_kernel");
	return PS_OK;
}

template <typename T>
static int embed_bwd(void *dwte, void *dwpe, const void *dout, const int *tokens, int B, int T_, int C)
{
	size_t n = (size_t)B * T_ * C;
	if (dwte) {
		embed_bwd_wte_kernel<T><<<cu_grid_1d(n, EMB_THREADS), EMB_THREADS, 0, ps_cuda_g.stream>>>(
		    (T *)dwte, (const T *)dout, tokens, B * T_, C);
		CU_LAUNCH_CHECK("embed_bwd_wte_kernel");
	}
	if (dwpe) {
		size_t np = (size_t)T_ * C;
		embed_bwd_wpe_kernel<T><<<cu_grid_1d(np, EMB_THREADS), EMB_THREADS, 0, ps_cuda_g.stream>>>(
		    (T *)dwpe, (const T *)dout, B, T_, C);
		CU_LAUNCH_CHECK("embed_bwd_wpe_kernel");
	}
	return PS_OK;
}

extern "C" int ps_cuda_embed_forward(int dt, void *out, const int *tokens, const void *wte, const void *wpe,
				     int B, int T, int C)
{
	CU_DT_CHECK(dt);
	if (B <= 0 || T <= 0 || C <= 0)
		return PS_OK;
	return CU_DISPATCH(dt, embed_fwd, out, tokens, wte, wpe, B, T, C);
}

extern "C" int ps_cuda_embed_backward(int dt, void *dwte, void *dwpe, const void *dout, const int *tokens,
				      int B, int T, int C)
{
	CU_DT_CHECK(dt);
	if (B <= 0 || T <= 0 || C <= 0)
		return PS_OK;
	return CU_DISPATCH(dt, embed_bwd, dwte, dwpe, dout, tokens, B, T, C);
}
