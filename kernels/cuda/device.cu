/* device.cu — the CUDA context of the CUDA backend: device discovery,
 * init/fini (stream, cuBLAS and cuBLASLt handles, workspace), device memory
 * and copies, the grow-only scratch area, and the device description used in
 * profile fingerprints.
 *
 * Discovery must never crash on a machine without a driver or GPU:
 * cudaGetDeviceCount then returns an error (cudaErrorInsufficientDriver,
 * cudaErrorNoDevice), which becomes PS_ERR_CUDA with its message.  No kernels
 * live here. */
#include <stdio.h>
#include <string.h>

#include "common.cuh"

struct ps_cuda_ctx ps_cuda_g;

#define PS_CUDA_LT_WS_BYTES ((size_t)32 << 20)

extern "C" int ps_cuda_device_count(int *count)
{
	int n = 0;
	*count = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess) {
		(void)cudaGetLastError(); /* clear the sticky-free error state */
		return PS_ERROR(PS_ERR_CUDA, "cudaGetDeviceCount: %s (%s)", cudaGetErrorString(e),
				cudaGetErrorName(e));
	}
	*count = n;
	return PS_OK;
}

extern "C" void ps_cuda_fini(void)
{
	struct ps_cuda_ctx *g = &ps_cuda_g;
	if (g->stream)
		(void)cudaStreamSynchronize(g->stream);
	if (g->lt)
		(void)cublasLtDestroy(g->lt);
	if (g->blas)
		(void)cublasDestroy(g->blas);
	if (g->lt_ws)
		(void)cudaFree(g->lt_ws);
	if (g->scratch)
		(void)cudaFree(g->scratch);
	if (g->stream)
		(void)cudaStreamDestroy(g->stream);
	memset(g, 0, sizeof *g);
}

static int cuda_init_(int dev)
{
	struct ps_cuda_ctx *g = &ps_cuda_g;
	int n = 0, v = 0;
	int rc = ps_cuda_device_count(&n);
	if (rc != PS_OK)
		return rc;
	if (dev < 0 || dev >= n)
		return PS_ERROR(PS_ERR_CUDA, "CUDA device %d requested, %d present", dev, n);
	CU_CHECK(cudaSetDevice(dev));
	g->dev = dev;
	CU_CHECK(cudaDeviceGetAttribute(&g->sm_count, cudaDevAttrMultiProcessorCount, dev));
	CU_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
	g->smem_optin_bytes = (size_t)v;
	CU_CHECK(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking));
	CUBLAS_CHECK(cublasCreate(&g->blas));
	CUBLAS_CHECK(cublasSetStream(g->blas, g->stream));
	/* fp32 GEMMs stay fp32 unless a call asks for TF32 explicitly */
	CUBLAS_CHECK(cublasSetMathMode(g->blas, CUBLAS_DEFAULT_MATH));
	CUBLAS_CHECK(cublasLtCreate(&g->lt));
	CU_CHECK(cudaMalloc(&g->lt_ws, PS_CUDA_LT_WS_BYTES));
	g->lt_ws_bytes = PS_CUDA_LT_WS_BYTES;
	g->ready = 1;
	return PS_OK;
}

extern "C" int ps_cuda_init(int dev)
{
	if (ps_cuda_g.ready)
		return PS_OK;
	int rc = cuda_init_(dev);
	if (rc != PS_OK) {
		ps_cuda_fini();
		(void)cudaGetLastError();
	}
	return rc;
}

extern "C" int ps_cuda_describe(char *buf, size_t len)
{
	CU_READY();
	cudaDeviceProp p;
	int rt = 0, drv = 0;
	CU_CHECK(cudaGetDeviceProperties(&p, ps_cuda_g.dev));
	CU_CHECK(cudaRuntimeGetVersion(&rt));
	CU_CHECK(cudaDriverGetVersion(&drv));
	if (len)
		snprintf(buf, len, "%s, %d SMs, cc %d.%d, %.1f GiB, CUDA runtime %d, driver %d", p.name,
			 p.multiProcessorCount, p.major, p.minor,
			 (double)p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), rt, drv);
	return PS_OK;
}

extern "C" int ps_cuda_malloc(size_t bytes, void **out)
{
	*out = NULL;
	CU_READY();
	if (bytes == 0)
		return PS_OK;
	CU_CHECK(cudaMalloc(out, bytes));
	return PS_OK;
}

extern "C" void ps_cuda_free(void *p)
{
	if (p && ps_cuda_g.ready) {
		(void)cudaStreamSynchronize(ps_cuda_g.stream);
		(void)cudaFree(p);
	}
}

extern "C" int ps_cuda_memzero(void *p, size_t bytes)
{
	CU_READY();
	if (bytes)
		CU_CHECK(cudaMemsetAsync(p, 0, bytes, ps_cuda_g.stream));
	return PS_OK;
}

extern "C" int ps_cuda_copy_h2d(void *dst, const void *src, size_t bytes)
{
	CU_READY();
	if (!bytes)
		return PS_OK;
	CU_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ps_cuda_g.stream));
	CU_CHECK(cudaStreamSynchronize(ps_cuda_g.stream));
	return PS_OK;
}

extern "C" int ps_cuda_copy_d2h(void *dst, const void *src, size_t bytes)
{
	CU_READY();
	if (!bytes)
		return PS_OK;
	CU_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ps_cuda_g.stream));
	CU_CHECK(cudaStreamSynchronize(ps_cuda_g.stream));
	return PS_OK;
}

extern "C" int ps_cuda_sync(void)
{
	CU_READY();
	CU_CHECK(cudaStreamSynchronize(ps_cuda_g.stream));
	CU_CHECK(cudaGetLastError());
	return PS_OK;
}

int ps_cuda_scratch(size_t bytes, void **out)
{
	struct ps_cuda_ctx *g = &ps_cuda_g;
	*out = NULL;
	CU_READY();
	if (bytes <= g->scratch_bytes) {
		*out = g->scratch;
		return PS_OK;
	}
	/* grow by at least 1.5x so a slowly growing sequence of shapes does not
	 * reallocate every call; the stream sync makes the old area unused */
	size_t want = g->scratch_bytes + g->scratch_bytes / 2;
	if (want < bytes)
		want = bytes;
	CU_CHECK(cudaStreamSynchronize(g->stream));
	if (g->scratch)
		CU_CHECK(cudaFree(g->scratch));
	g->scratch = NULL;
	g->scratch_bytes = 0;
	CU_CHECK(cudaMalloc(&g->scratch, want));
	g->scratch_bytes = want;
	*out = g->scratch;
	return PS_OK;
}
