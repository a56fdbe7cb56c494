/* common.cuh — what every kernels/cuda .cu file shares: the one CUDA
 * context (device, stream, cuBLAS/cuBLASLt handles, scratch), error-checking
 * macros that turn CUDA and cuBLAS failures into PS_ERR_CUDA records,
 * fp32/bf16 load-store helpers (storage dtype T, arithmetic in fp32), and
 * warp/block reductions.
 *
 * It does not hold kernels of its own beyond these helpers, and nothing in
 * here prints or exits: failures are returned as ps_status codes. */
#ifndef PS_CUDA_COMMON_CUH
#define PS_CUDA_COMMON_CUH

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

extern "C" {
#include "sim/status.h"
}
#include "kernels/cuda/kernels-cuda.h"

typedef __nv_bfloat16 bf16;

/* The single CUDA context of the process (device.cu owns it). */
struct ps_cuda_ctx {
	int ready;
	int dev;
	int sm_count;
	size_t smem_optin_bytes; /* max dynamic shared memory per block with opt-in */
	cudaStream_t stream;
	cublasHandle_t blas;
	cublasLtHandle_t lt;
	void *lt_ws; /* cuBLASLt workspace */
	size_t lt_ws_bytes;
	void *scratch; /* grow-only scratch for reductions and attention */
	size_t scratch_bytes;
};
extern struct ps_cuda_ctx ps_cuda_g;

/* At least `bytes` of device scratch (256-byte aligned), valid until the next
 * call; grows (with a stream sync) only when a larger size is asked for. */
int ps_cuda_scratch(size_t bytes, void **out);

/* acc(N) (dt) += column sums of src(M,N) (dt), deterministic (norm.cu). */
int cu_colsum_accumulate(int dt, void *acc, const void *src, int M, int N);

/* ---- error checks: return PS_ERR_CUDA with the call and the message --- */
#define CU_CHECK(call)                                                                                       \
	do {                                                                                                 \
		cudaError_t e_ = (call);                                                                     \
		if (e_ != cudaSuccess)                                                                       \
			return PS_ERROR(PS_ERR_CUDA, "%s: %s (%s)", #call, cudaGetErrorString(e_),           \
					cudaGetErrorName(e_));                                               \
	} while (0)

#define CUBLAS_CHECK(call)                                                                                   \
	do {                                                                                                 \
		cublasStatus_t s_ = (call);                                                                  \
		if (s_ != CUBLAS_STATUS_SUCCESS)                                                             \
			return PS_ERROR(PS_ERR_CUDA, "%s: %s", #call, cublasGetStatusString(s_));            \
	} while (0)

/* After a <<<>>> launch: launch-configuration errors show up here; errors
 * inside the kernel surface at a later call or at sync. */
#define CU_LAUNCH_CHECK(kernel_name)                                                                         \
	do {                                                                                                 \
		cudaError_t e_ = cudaGetLastError();                                                         \
		if (e_ != cudaSuccess)                                                                       \
			return PS_ERROR(PS_ERR_CUDA, "launch of %s: %s (%s)", kernel_name,                   \
					cudaGetErrorString(e_), cudaGetErrorName(e_));                       \
	} while (0)

#define CU_READY()                                                                                           \
	do {                                                                                                 \
		if (!ps_cuda_g.ready)                                                                        \
			return PS_ERROR(PS_ERR_CUDA, "CUDA backend used before ps_cuda_init");               \
	} while (0)

#define CU_DT_CHECK(dt)                                                                                      \
	do {                                                                                                 \
		CU_READY();                                                                                  \
		if ((dt) != PS_CUDA_DT_FP32 && (dt) != PS_CUDA_DT_TF32 && (dt) != PS_CUDA_DT_BF16)           \
			return PS_ERROR(PS_ERR_UNSUPPORTED, "cuda backend: storage dtype %d not supported",  \
					(int)(dt));                                                          \
	} while (0)

/* Call fn<float>(args) or fn<bf16>(args) by storage dtype. */
#define CU_DISPATCH(dt, fn, ...) ((dt) == PS_CUDA_DT_BF16 ? fn<bf16>(__VA_ARGS__) : fn<float>(__VA_ARGS__))

/* ---- storage <-> fp32 ----------------------------------------------------- */
__device__ __forceinline__ float ld(const float *p)
{
	return *p;
}
__device__ __forceinline__ float ld(const bf16 *p)
{
	return __bfloat162float(*p);
}
__device__ __forceinline__ void st(float *p, float v)
{
	*p = v;
}
__device__ __forceinline__ void st(bf16 *p, float v)
{
	*p = __float2bfloat16_rn(v);
}

/* ---- reductions ------------------------------------------------------------ */
__device__ __forceinline__ float warp_sum(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

__device__ __forceinline__ double warp_sum_d(double v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

__device__ __forceinline__ float warp_max(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}

/* Sum over the block (blockDim.x a multiple of 32, <= 1024); every thread
 * gets the result.  `sh` holds 32 floats; the call syncs the block. */
__device__ __forceinline__ float block_sum(float v, float *sh)
{
	const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
	v = warp_sum(v);
	__syncthreads(); /* sh may still be read from a previous call */
	if (lane == 0)
		sh[wid] = v;
	__syncthreads();
	v = lane < nw ? sh[lane] : 0.0f;
	return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v, float *sh)
{
	const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
	v = warp_max(v);
	__syncthreads();
	if (lane == 0)
		sh[wid] = v;
	__syncthreads();
	v = lane < nw ? sh[lane] : -INFINITY;
	return warp_max(v);
}

/* Blocks for an elementwise grid-stride loop over n items. */
static inline unsigned int cu_grid_1d(size_t n, int threads)
{
	size_t b = (n + (size_t)threads - 1) / (size_t)threads;
	size_t cap = (size_t)(ps_cuda_g.sm_count > 0 ? ps_cuda_g.sm_count : 80) * 32;
	if (b > cap)
		b = cap;
	return (unsigned int)(b ? b : 1);
}

#endif
