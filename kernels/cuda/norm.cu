/* norm.cu — layernorm and rmsnorm on CUDA, forward and backward
 * (kernels/cpu/norm.c semantics, eps = CPU_NORM_EPS), and the column
 * reduction shared with the matmul bias gradient.
 *
 * Row work (statistics, dinp) is one warp per row with fp32 sums; the mean
 * and variance are two passes over the row, as on the CPU.  Parameter
 * gradients (dweight, dbias: sums over all M rows) are a two-stage column
 * reduction: blocks of 32 channels x a chunk of rows write fp32 partial sums
 * to scratch, then one thread per channel adds its partials in chunk order
 * and accumulates into the gradient.  No atomics: results are deterministic
 * for a given device and shape. */
#include "common.cuh"

#define NORM_EPS 1e-5f /* == CPU_NORM_EPS of kernels/cpu/kernels.h */
#define ROW_WARPS 8    /* rows (warps) per block of the row kernels */

/* ---- forward ----------------------------------------------------------- */

template <typename T>
__global__ void layernorm_fwd_kernel(T *out, float *mean, float *rstd, const T *inp, const T *weight,
				     const T *bias, int M, int C)
{
	const int lane = threadIdx.x & 31;
	const int row = blockIdx.x * ROW_WARPS + (threadIdx.x >> 5);
	if (row >= M)
		return;
	const T *x = inp + (size_t)row * C;
	T *o = out + (size_t)row * C;
	float s = 0.0f;
	for (int c = lane; c < C; c += 32)
		s += ld(x + c);
	const float mu = warp_sum(s) / (float)C;
	float v = 0.0f;
	for (int c = lane; c < C; c += 32) {
		float d = ld(x + c) - mu;
		v += d * d;
	}
	const float rs = 1.0f / sqrtf(warp_sum(v) / (float)C + NORM_EPS);
	for (int c = lane; c < C; c += 32) {
		float y = (ld(x + c) - mu) * rs * ld(weight + c);
		if (bias)
			y += ld(bias + c);
		st(o + c, y);
	}
	if (lane == 0) {
		mean[row] = mu;
		rstd[row] = rs;
	}
}

template <typename T>
__global__ void rmsnorm_fwd_kernel(T *out, float *rstd, const T *inp, const T *weight, int M, int C)
{
	const int lane = threadIdx.x & 31;
	const int row = blockIdx.x * ROW_WARPS + (threadIdx.x >> 5);
	if (row >= M)
		return;
	const T *x = inp + (size_t)row * C;
	T *o = out + (size_t)row * C;
	float s = 0.0f;
	for (int c = lane; c < C; c += 32) {
		float xv = ld(x + c);
		s += xv * xv;
	}
	const float rs = 1.0f / sqrtf(warp_sum(s) / (float)C + NORM_EPS);
	for (int c = lane; c < C; c += 32)
		st(o + c, ld(x + c) * rs * ld(weight + c));
	if (lane == 0)
		rstd[row] = rs;
}

/* ---- backward: dinp, one warp per row ----------------------------------- */

/* RMS = 0: layernorm (mean used); RMS = 1: rmsnorm (mean ignored, 0). */
template <typename T, int RMS>
__global__ void norm_bwd_dinp_kernel(T *dinp, const T *dout, const T *inp, const T *weight, const float *mean,
				     const float *rstd, int M, int C)
{
	const int lane = threadIdx.x & 31;
	const int row = blockIdx.x * ROW_WARPS + (threadIdx.x >> 5);
	if (row >= M)
		return;
	const T *x = inp + (size_t)row * C;
	const T *d = dout + (size_t)row * C;
	T *dx = dinp + (size_t)row * C;
	const float mu = RMS ? 0.0f : mean[row], rs = rstd[row];
	float sdn = 0.0f, sdnn = 0.0f;
	for (int c = lane; c < C; c += 32) {
		float dn = ld(d + c) * ld(weight + c);
		sdn += dn;
		sdnn += dn * (ld(x + c) - mu) * rs;
	}
	sdn = RMS ? 0.0f : warp_sum(sdn) / (float)C;
	sdnn = warp_sum(sdnn) / (float)C;
	for (int c = lane; c < C; c += 32) {
		float n = (ld(x + c) - mu) * rs;
		st(dx + c, ld(dx + c) + (ld(d + c) * ld(weight + c) - sdn - n * sdnn) * rs);
	}
}

/* ---- column reductions over rows (parameter gradients, bias) ------------ */

#define COL_TX 32
#define COL_TY 8

/* MODE 0: pw += d*(x-mean)*rstd, pb += d   (layernorm weight and bias)
 * MODE 1: pw += d*x*rstd                   (rmsnorm weight)
 * MODE 2: pb += d                          (plain column sum: matmul bias)
 * Block (32, 8): 32 channels, 8 row lanes; blockIdx.y = chunk of rows. */
template <typename T, int MODE>
__global__ void colred_partial_kernel(float *pw, float *pb, const T *dout, const T *inp, const float *mean,
				      const float *rstd, int M, int C, int rows_per_chunk)
{
	__shared__ float sw[COL_TY][COL_TX + 1], sb[COL_TY][COL_TX + 1];
	const int tx = threadIdx.x, ty = threadIdx.y;
	const int c = blockIdx.x * COL_TX + tx;
	const int r0 = blockIdx.y * rows_per_chunk;
	const int r1 = min(M, r0 + rows_per_chunk);
	float aw = 0.0f, ab = 0.0f;
	if (c < C) {
		for (int r = r0 + ty; r < r1; r += COL_TY) {
			float d = ld(dout + (size_t)r * C + c);
			if (MODE == 0)
				aw += d * (ld(inp + (size_t)r * C + c) - mean[r]) * rstd[r];
			else if (MODE == 1)
				aw += d * ld(inp + (size_t)r * C + c) * rstd[r];
			if (MODE != 1)
				ab += d;
		}
	}
	sw[ty][tx] = aw;
	sb[ty][tx] = ab;
	__syncthreads();
	if (ty == 0 && c < C) {
		float w = 0.0f, b = 0.0f;
		for (int k = 0; k < COL_TY; k++) {
			w += sw[k][tx];
			b += sb[k][tx];
		}
		if (MODE != 2)
			pw[(size_t)blockIdx.y * C + c] = w;
		if (MODE != 1)
			pb[(size_t)blockIdx.y * C + c] = b;
	}
}

/* acc[c] += sum over chunks of part[chunk, c] (acc may be NULL: skipped). */
template <typename T> __global__ void colred_final_kernel(T *acc, const float *part, int nchunk, int C)
{
	const int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= C || !acc)
		return;
	float s = 0.0f;
	for (int k = 0; k < nchunk; k++)
		s += part[(size_t)k * C + c];
	st(acc + c, ld(acc + c) + s);
}

/* Chunking of M rows so that the partial kernel fills the device. */
static void colred_plan(int M, int C, int *nchunk, int *rows_per_chunk)
{
	int gx = (C + COL_TX - 1) / COL_TX;
	int want = (4 * (ps_cuda_g.sm_count > 0 ? ps_cuda_g.sm_count : 80) + gx - 1) / gx;
	int maxc = (M + 63) / 64; /* at least 64 rows per chunk */
	int n = want < maxc ? want : maxc;
	if (n < 1)
		n = 1;
	if (n > 1024)
		n = 1024;
	int rpc = (M + n - 1) / n;
	*rows_per_chunk = rpc;
	*nchunk = (M + rpc - 1) / rpc;
}

template <typename T, int MODE>
static int colred(T *accw, T *accb, const T *dout, const T *inp, const float *mean, const float *rstd, int M,
		  int C)
{
	int nchunk, rpc;
	colred_plan(M, C, &nchunk, &rpc);
	void *scr = NULL;
	int rc = ps_cuda_scratch(2 * (size_t)nchunk * C * sizeof(float), &scr);
	if (rc != PS_OK)
		return rc;
	float *pw = (float *)scr, *pb = pw + (size_t)nchunk * C;
	dim3 grid((unsigned)((C + COL_TX - 1) / COL_TX), (unsigned)nchunk), block(COL_TX, COL_TY);
	colred_partial_kernel<T, MODE>
	    <<<grid, block, 0, ps_cuda_g.stream>>>(pw, pb, dout, inp, mean, rstd, M, C, rpc);
	CU_LAUNCH_CHECK("colred_partial_kernel");
	const unsigned fb = (unsigned)((C + 255) / 256);
	if (MODE != 2 && accw) {
		colred_final_kernel<T><<<fb, 256, 0, ps_cuda_g.stream>>>(accw, pw, nchunk, C);
		CU_LAUNCH_CHECK("colred_final_kernel");
	}
	if (MODE != 1 && accb) {
		colred_final_kernel<T><<<fb, 256, 0, ps_cuda_g.stream>>>(accb, pb, nchunk, C);
		CU_LAUNCH_CHECK("colred_final_kernel");
	}
	return PS_OK;
}

template <typename T> static int colsum_acc(void *acc, const void *src, int M, int N)
{
	return colred<T, 2>(NULL, (T *)acc, (const T *)src, NULL, NULL, NULL, M, N);
}

int cu_colsum_accumulate(int dt, void *acc, const void *src, int M, int N)
{
	return CU_DISPATCH(dt, colsum_acc, acc, src, M, N);
}

/* ---- host wrappers ------------------------------------------------------ */

template <typename T>
static int layernorm_fwd(void *out, float *mean, float *rstd, const void *inp, const void *weight,
			 const void *bias, int M, int C)
{
	unsigned grid = (unsigned)((M + ROW_WARPS - 1) / ROW_WARPS);
	layernorm_fwd_kernel<T><<<grid, ROW_WARPS * 32, 0, ps_cuda_g.stream>>>(
	    (T *)out, mean, rstd, (const T *)inp, (const T *)weight, (const T *)bias, M, C);
	CU_LAUNCH_CHECK("layernorm_fwd_kernel");
	return PS_OK;
}

template <typename T>
static int layernorm_bwd(void *dinp, void *dweight, void *dbias, const void *dout, const void *inp,
			 const void *weight, const float *mean, const float *rstd, int M, int C)
{
	if (dinp) {
		unsigned grid = (unsigned)((M + ROW_WARPS - 1) / ROW_WARPS);
		norm_bwd_dinp_kernel<T, 0><<<grid, ROW_WARPS * 32, 0, ps_cuda_g.stream>>>(
		    (T *)dinp, (const T *)dout, (const T *)inp, (const T *)weight, mean, rstd, M, C);
		CU_LAUNCH_CHECK("norm_bwd_dinp_kernel");
	}
	if (dweight || dbias)
		return colred<T, 0>((T *)dweight, (T *)dbias, (const T *)dout, (const T *)inp, mean, rstd, M,
				    C);
	return PS_OK;
}

template <typename T>
static int rmsnorm_fwd(void *out, float *rstd, const void *inp, const void *weight, int M, int C)
{
	unsigned grid = (unsigned)((M + ROW_WARPS - 1) / ROW_WARPS);
	rmsnorm_fwd_kernel<T><<<grid, ROW_WARPS * 32, 0, ps_cuda_g.stream>>>((T *)out, rstd, (const T *)inp,
									     (const T *)weight, M, C);
	CU_LAUNCH_CHECK("rmsnorm_fwd_kernel");
	return PS_OK;
}

template <typename T>
static int rmsnorm_bwd(void *dinp, void *dweight, const void *dout, const void *inp, const void *weight,
		       const float *rstd, int M, int C)
{
	if (dinp) {
		unsigned grid = (unsigned)((M + ROW_WARPS - 1) / ROW_WARPS);
		norm_bwd_dinp_kernel<T, 1><<<grid, ROW_WARPS * 32, 0, ps_cuda_g.stream>>>(
		    (T *)dinp, (const T *)dout, (const T *)inp, (const T *)weight, NULL, rstd, M, C);
		CU_LAUNCH_CHECK("norm_bwd_dinp_kernel");
	}
	if (dweight)
		return colred<T, 1>((T *)dweight, NULL, (const T *)dout, (const T *)inp, NULL, rstd, M, C);
	return PS_OK;
}

extern "C" int ps_cuda_layernorm_forward(int dt, void *out, float *mean, float *rstd, const void *inp,
					 const void *weight, const void *bias, int M, int C)
{
	CU_DT_CHECK(dt);
	if (M <= 0 || C <= 0)
		return PS_OK;
	return CU_DISPATCH(dt, layernorm_fwd, out, mean, rstd, inp, weight, bias, M, C);
}

extern "C" int ps_cuda_layernorm_backward(int dt, void *dinp, void *dweight, void *dbias, const void *dout,
					  const void *inp, const void *weight, const float *mean,
					  const float *rstd, int M, int C)
{
	CU_DT_CHECK(dt);
	if (M <= 0 || C <= 0)
		return PS_OK;
	return CU_DISPATCH(dt, layernorm_bwd, dinp, dweight, dbias, dout, inp, weight, mean, rstd, M, C);
}

extern "C" int ps_cuda_rmsnorm_forward(int dt, void *out, float *rstd, const void *inp, const void *weight,
				       int M, int C)
{
	CU_DT_CHECK(dt);
	if (M <= 0 || C <= 0)
		return PS_OK;
	return CU_DISPATCH(dt, rmsnorm_fwd, out, rstd, inp, weight, M, C);
}

extern "C" int ps_cuda_rmsnorm_backward(int dt, void *dinp, void *dweight, const void *dout, const void *inp,
					const void *weight, const float *rstd, int M, int C)
{
	CU_DT_CHECK(dt);
	if (M <= 0 || C <= 0)
		return PS_OK;
	return CU_DISPATCH(dt, rmsnorm_bwd, dinp, dweight, dout, inp, weight, rstd, M, C);
}
