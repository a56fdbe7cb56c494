/* attention.cu — causal multi-head self-attention with grouped KV heads on
 * CUDA, forward and backward, flash-style (kernels/cpu/attention.c
 * semantics and layouts: qkv (B,T,(NH+2*KVH)*HS), out (B,T,NH*HS),
 * lse (B,NH,T), scale 1/sqrt(HS); query head h uses kv head h/(NH/KVH)).
 *
 * Written for correctness first, in plain CUDA C (no tensor cores):
 *  - forward: a block holds ATT_WARPS query rows of one (b, h), one warp
 *    per row; key/value tiles of ATT_BK rows are staged in shared memory as
 *    fp32; each lane scores one key of the tile, the warp keeps an online
 *    softmax (running max m and sum l) and each lane accumulates HS/32
 *    output dimensions in registers.  The T x T scores are never stored.
 *  - backward (FlashAttention-2 algebra, recomputing P from lse):
 *    D = rowsum(dO * O); then two kernels with no atomics and no races:
 *    dQ by query rows (warp per query row, loop over key tiles), and dK, dV
 *    by key rows (warp per key row of a kv head, loop over the query heads
 *    of its group and over query tiles at or after the key).
 * Storage fp32 or bf16, all arithmetic and staging in fp32.  HS <= 256
 * (register arrays of HS/32 per lane); larger HS returns
 * PS_ERR_UNSUPPORTED.  T need not be a multiple of any block size. */
#include "common.cuh"

#define ATT_WARPS 8 /* query rows (fwd, dQ) or key rows (dK/dV) per block */
#define ATT_BK 32   /* rows per shared-memory tile = lanes of a warp */
#define ATT_MAX_HS 256

/* ---- forward --------------------------------------------------------------- */

template <typename T, int DPL>
__global__ void __launch_bounds__(ATT_WARPS * 32)
    attn_fwd_kernel(T *out, float *lse, const T *qkv, int T_, int NH, int KVH, int HS, float scale)
{
	extern __shared__ float smem[];
	const int HSP = HS + 1;	       /* padded row: lane-per-key dot products hit distinct banks */
	float *Ks = smem;	       /* [ATT_BK][HSP] */
	float *Vs = Ks + ATT_BK * HSP; /* [ATT_BK][HS] */
	float *Qs = Vs + ATT_BK * HS;  /* [ATT_WARPS][HS] */
	const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
	const int b = blockIdx.z, h = blockIdx.y, g = h / (NH / KVH);
	const int tq0 = blockIdx.x * ATT_WARPS, t = tq0 + warp;
	const size_t QS = (size_t)(NH + 2 * KVH) * HS;
	const T *base = qkv + (size_t)b * T_ * QS;
	const size_t qoff = (size_t)h * HS, koff = (size_t)(NH + g) * HS, voff = (size_t)(NH + KVH + g) * HS;

	for (int i = threadIdx.x; i < ATT_WARPS * HS; i += blockDim.x) {
		const int r = i / HS, d = i % HS, tt = tq0 + r;
		Qs[i] = tt < T_ ? ld(base + (size_t)tt * QS + qoff + d) : 0.0f;
	}
	float o[DPL];
#pragma unroll
	for (int k = 0; k < DPL; k++)
		o[k] = 0.0f;
	float m = -INFINITY, l = 0.0f;
	const int tlast = min(T_ - 1, tq0 + ATT_WARPS - 1);
	for (int j0 = 0; j0 <= tlast; j0 += ATT_BK) {
		__syncthreads();
		for (int i = threadIdx.x; i < ATT_BK * HS; i += blockDim.x) {
			const int r = i / HS, d = i % HS, j = j0 + r;
			float kv = 0.0f, vv = 0.0f;
			if (j < T_) {
				kv = ld(base + (size_t)j * QS + koff + d);
				vv = ld(base + (size_t)j * QS + voff + d);
			}
			Ks[r * HSP + d] = kv;
			Vs[r * HS + d] = vv;
		}
		__syncthreads();
		if (t >= T_ || j0 > t) /* warp-uniform */
			continue;
		const int j = j0 + lane;
		float s = -INFINITY;
		if (j <= t) {
			const float *q = Qs + warp * HS, *kr = Ks + lane * HSP;
			float acc = 0.0f;
			for (int d = 0; d < HS; d++)
				acc += q[d] * kr[d];
			s = acc * scale;
		}
		const float mnew = fmaxf(m, warp_max(s)); /* lane 0 always holds a valid key */
		const float corr = m == -INFINITY ? 0.0f : expf(m - mnew);
		const float p = j <= t ? expf(s - mnew) : 0.0f;
		l = l * corr + warp_sum(p);
#pragma unroll
		for (int k = 0; k < DPL; k++)
			o[k] *= corr;
		const int nj = min(ATT_BK, t - j0 + 1);
		for (int jj = 0; jj < nj; jj++) {
			const float pj = __shfl_sync(0xffffffffu, p, jj);
			const float *vr = Vs + jj * HS;
#pragma unroll
			for (int k = 0; k < DPL; k++) {
				const int d = lane + 32 * k;
				if (d < HS)
					o[k] += pj * vr[d];
			}
		}
		m = mnew;
	}
	if (t < T_) {
		const float inv = 1.0f / l;
		T *orow = out + ((size_t)b * T_ + t) * NH * HS + qoff;
#pragma unroll
		for (int k = 0; k < DPL; k++) {
			const int d = lane + 32 * k;
			if (d < HS)
				st(orow + d, o[k] * inv);
		}
		if (lane == 0)
			lse[((size_t)b * NH + h) * T_ + t] = m + logf(l);
	}
}

/* ---- backward ---------------------------------------------------------------- */

/* D(B,NH,T) = sum_d dO * O per query row; one warp per (b, t, h). */
template <typename T>
__global__ void attn_bwd_rowdot_kernel(float *D, const T *dout, const T *out, int B, int T_, int NH, int HS)
{
	const int lane = threadIdx.x & 31;
	const size_t row = (size_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
	if (row >= (size_t)B * T_ * NH)
		return;
	/* row = (b*T + t)*NH + h: the memory order of dout/out */
	const int h = (int)(row % NH);
	const size_t bt = row / NH;
	const int t = (int)(bt % T_), b = (int)(bt / T_);
	const T *a = dout + row * HS, *c = out + row * HS;
	float s = 0.0f;
	for (int d = lane; d < HS; d += 32)
		s += ld(a + d) * ld(c + d);
	s = warp_sum(s);
	if (lane == 0)
		D[((size_t)b * NH + h) * T_ + t] = s;
}

template <typename T, int DPL>
__global__ void __launch_bounds__(ATT_WARPS * 32)
    attn_bwd_dq_kernel(T *dqkv, const T *dout, const T *qkv, const float *lse, const float *D, int T_, int NH,
		       int KVH, int HS, float scale)
{
	extern __shared__ float smem[];
	const int HSP = HS + 1;
	float *Ks = smem;	       /* [ATT_BK][HSP] */
	float *Vs = Ks + ATT_BK * HSP; /* [ATT_BK][HSP] */
	float *Qs = Vs + ATT_BK * HSP; /* [ATT_WARPS][HS] */
	float *dOs = Qs + ATT_WARPS * HS;
	const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
	const int b = blockIdx.z, h = blockIdx.y, g = h / (NH / KVH);
	const int tq0 = blockIdx.x * ATT_WARPS, t = tq0 + warp;
	const size_t QS = (size_t)(NH + 2 * KVH) * HS, OS = (size_t)NH * HS;
	const T *base = qkv + (size_t)b * T_ * QS;
	const size_t qoff = (size_t)h * HS, koff = (size_t)(NH + g) * HS, voff = (size_t)(NH + KVH + g) * HS;

	for (int i = threadIdx.x; i < ATT_WARPS * HS; i += blockDim.x) {
		const int r = i / HS, d = i % HS, tt = tq0 + r;
		Qs[i] = tt < T_ ? ld(base + (size_t)tt * QS + qoff + d) : 0.0f;
		dOs[i] = tt < T_ ? ld(dout + ((size_t)b * T_ + tt) * OS + qoff + d) : 0.0f;
	}
	const size_t srow = ((size_t)b * NH + h) * T_ + (t < T_ ? t : 0);
	const float lt = lse[srow], Dt = D[srow];
	float dq[DPL];
#pragma unroll
	for (int k = 0; k < DPL; k++)
		dq[k] = 0.0f;
	const int tlast = min(T_ - 1, tq0 + ATT_WARPS - 1);
	for (int j0 = 0; j0 <= tlast; j0 += ATT_BK) {
		__syncthreads();
		for (int i = threadIdx.x; i < ATT_BK * HS; i += blockDim.x) {
			const int r = i / HS, d = i % HS, j = j0 + r;
			float kv = 0.0f, vv = 0.0f;
			if (j < T_) {
				kv = ld(base + (size_t)j * QS + koff + d);
				vv = ld(base + (size_t)j * QS + voff + d);
			}
			Ks[r * HSP + d] = kv;
			Vs[r * HSP + d] = vv;
		}
		__syncthreads();
		if (t >= T_ || j0 > t)
			continue;
		const int j = j0 + lane;
		float ds = 0.0f;
		if (j <= t) {
			const float *q = Qs + warp * HS, *dO = dOs + warp * HS;
			const float *kr = Ks + lane * HSP, *vr = Vs + lane * HSP;
			float sc = 0.0f, dp = 0.0f;
			for (int d = 0; d < HS; d++) {
				sc += q[d] * kr[d];
				dp += dO[d] * vr[d];
			}
			const float p = expf(sc * scale - lt);
			ds = p * (dp - Dt) * scale;
		}
		const int nj = min(ATT_BK, t - j0 + 1);
		for (int jj = 0; jj < nj; jj++) {
			const float dsj = __shfl_sync(0xffffffffu, ds, jj);
			const float *kr = Ks + jj * HSP;
#pragma unroll
			for (int k = 0; k < DPL; k++) {
				const int d = lane + 32 * k;
				if (d < HS)
					dq[k] += dsj * kr[d];
			}
		}
	}
	if (t < T_) {
		T *dq_row = dqkv + ((size_t)b * T_ + t) * QS + qoff;
#pragma unroll
		for (int k = 0; k < DPL; k++) {
			const int d = lane + 32 * k;
			if (d < HS)
				st(dq_row + d, ld(dq_row + d) + dq[k]);
		}
	}
}

template <typename T, int DPL>
__global__ void __launch_bounds__(ATT_WARPS * 32)
    attn_bwd_dkdv_kernel(T *dqkv, const T *dout, const T *qkv, const float *lse, const float *D, int T_,
			 int NH, int KVH, int HS, float scale)
{
	extern __shared__ float smem[];
	const int HSP = HS + 1;
	float *Qt = smem;		 /* [ATT_BK][HSP] query rows of the tile */
	float *dOt = Qt + ATT_BK * HSP;	 /* [ATT_BK][HSP] */
	float *Kw = dOt + ATT_BK * HSP;	 /* [ATT_WARPS][HS] each warp's key row */
	float *Vw = Kw + ATT_WARPS * HS; /* [ATT_WARPS][HS] */
	float *lt = Vw + ATT_WARPS * HS; /* [ATT_BK] */
	float *Dt = lt + ATT_BK;	 /* [ATT_BK] */
	const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
	const int b = blockIdx.z, g = blockIdx.y, G = NH / KVH;
	const int j0 = blockIdx.x * ATT_WARPS, j = j0 + warp;
	const size_t QS = (size_t)(NH + 2 * KVH) * HS, OS = (size_t)NH * HS;
	const T *base = qkv + (size_t)b * T_ * QS;
	const size_t koff = (size_t)(NH + g) * HS, voff = (size_t)(NH + KVH + g) * HS;

	for (int i = threadIdx.x; i < ATT_WARPS * HS; i += blockDim.x) {
		const int r = i / HS, d = i % HS, jj = j0 + r;
		Kw[i] = jj < T_ ? ld(base + (size_t)jj * QS + koff + d) : 0.0f;
		Vw[i] = jj < T_ ? ld(base + (size_t)jj * QS + voff + d) : 0.0f;
	}
	float dk[DPL], dv[DPL];
#pragma unroll
	for (int k = 0; k < DPL; k++) {
		dk[k] = 0.0f;
		dv[k] = 0.0f;
	}
	for (int h = g * G; h < (g + 1) * G; h++) {
		const size_t qoff = (size_t)h * HS;
		const float *lrow = lse + ((size_t)b * NH + h) * T_, *Drow = D + ((size_t)b * NH + h) * T_;
		for (int i0 = j0; i0 < T_; i0 += ATT_BK) {
			__syncthreads();
			for (int x = threadIdx.x; x < ATT_BK * HS; x += blockDim.x) {
				const int r = x / HS, d = x % HS, i = i0 + r;
				float qv = 0.0f, ov = 0.0f;
				if (i < T_) {
					qv = ld(base + (size_t)i * QS + qoff + d);
					ov = ld(dout + ((size_t)b * T_ + i) * OS + qoff + d);
				}
				Qt[r * HSP + d] = qv;
				dOt[r * HSP + d] = ov;
			}
			for (int r = threadIdx.x; r < ATT_BK; r += blockDim.x) {
				const int i = i0 + r;
				lt[r] = i < T_ ? lrow[i] : 0.0f;
				Dt[r] = i < T_ ? Drow[i] : 0.0f;
			}
			__syncthreads();
			if (j >= T_) /* warp-uniform */
				continue;
			const int i = i0 + lane;
			float p = 0.0f, ds = 0.0f;
			if (i < T_ && i >= j) {
				const float *q = Qt + lane * HSP, *dO = dOt + lane * HSP;
				const float *kr = Kw + warp * HS, *vr = Vw + warp * HS;
				float sc = 0.0f, dp = 0.0f;
				for (int d = 0; d < HS; d++) {
					sc += q[d] * kr[d];
					dp += dO[d] * vr[d];
				}
				p = expf(sc * scale - lt[lane]);
				ds = p * (dp - Dt[lane]) * scale;
			}
			const int r0 = max(0, j - i0), r1 = min(ATT_BK, T_ - i0);
			for (int r = r0; r < r1; r++) {
				const float pr = __shfl_sync(0xffffffffu, p, r);
				const float dsr = __shfl_sync(0xffffffffu, ds, r);
				const float *qr = Qt + r * HSP, *dor = dOt + r * HSP;
#pragma unroll
				for (int k = 0; k < DPL; k++) {
					const int d = lane + 32 * k;
					if (d < HS) {
						dv[k] += pr * dor[d];
						dk[k] += dsr * qr[d];
					}
				}
			}
		}
	}
	if (j < T_) {
		T *dk_row = dqkv + ((size_t)b * T_ + j) * QS + koff;
		T *dv_row = dqkv + ((size_t)b * T_ + j) * QS + voff;
#pragma unroll
		for (int k = 0; k < DPL; k++) {
			const int d = lane + 32 * k;
			if (d < HS) {
				st(dk_row + d, ld(dk_row + d) + dk[k]);
				st(dv_row + d, ld(dv_row + d) + dv[k]);
			}
		}
	}
}

/* ---- host side ------------------------------------------------------------------ */

static size_t fwd_smem(int HS)
{
	return sizeof(float) * ((size_t)ATT_BK * (HS + 1) + (size_t)(ATT_BK + ATT_WARPS) * HS);
}
static size_t dq_smem(int HS)
{
	return sizeof(float) * (2 * (size_t)ATT_BK * (HS + 1) + 2 * (size_t)ATT_WARPS * HS);
}
static size_t dkdv_smem(int HS)
{
	return sizeof(float) *
	       (2 * (size_t)ATT_BK * (HS + 1) + 2 * (size_t)ATT_WARPS * HS + 2 * (size_t)ATT_BK);
}

/* Allow `bytes` of dynamic shared memory for kernel k (opt-in above 48 KiB). */
template <typename K> static int smem_allow(K kernel, size_t bytes, const char *name)
{
	if (bytes > ps_cuda_g.smem_optin_bytes)
		return PS_ERROR(PS_ERR_UNSUPPORTED, "%s: needs %zu bytes of shared memory, device allows %zu",
				name, bytes, ps_cuda_g.smem_optin_bytes);
	if (bytes > 48 * 1024)
		CU_CHECK(
		    cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
	return PS_OK;
}

template <typename T, int DPL>
static int attn_fwd(void *out, float *lse, const void *qkv, int B, int T_, int NH, int KVH, int HS)
{
	const size_t sm = fwd_smem(HS);
	int rc = smem_allow(attn_fwd_kernel<T, DPL>, sm, "attn_fwd_kernel");
	if (rc != PS_OK)
		return rc;
	dim3 grid((unsigned)((T_ + ATT_WARPS - 1) / ATT_WARPS), (unsigned)NH, (unsigned)B);
	attn_fwd_kernel<T, DPL><<<grid, ATT_WARPS * 32, sm, ps_cuda_g.stream>>>(
	    (T *)out, lse, (const T *)qkv, T_, NH, KVH, HS, 1.0f / sqrtf((float)HS));
	CU_LAUNCH_CHECK("attn_fwd_kernel");
	return PS_OK;
}

template <typename T, int DPL>
static int attn_bwd(void *dqkv, const void *dout, const void *qkv, const void *out, const float *lse, int B,
		    int T_, int NH, int KVH, int HS)
{
	const float scale = 1.0f / sqrtf((float)HS);
	const size_t nrows = (size_t)B * NH * T_;
	void *scr = NULL;
	int rc = ps_cuda_scratch(nrows * sizeof(float), &scr);
	if (rc != PS_OK)
		return rc;
	float *D = (float *)scr;
	attn_bwd_rowdot_kernel<T><<<(unsigned)((nrows + 7) / 8), 256, 0, ps_cuda_g.stream>>>(
	    D, (const T *)dout, (const T *)out, B, T_, NH, HS);
	CU_LAUNCH_CHECK("attn_bwd_rowdot_kernel");

	const size_t sq = dq_smem(HS), skv = dkdv_smem(HS);
	if ((rc = smem_allow(attn_bwd_dq_kernel<T, DPL>, sq, "attn_bwd_dq_kernel")) != PS_OK)
		return rc;
	if ((rc = smem_allow(attn_bwd_dkdv_kernel<T, DPL>, skv, "attn_bwd_dkdv_kernel")) != PS_OK)
		return rc;
	const unsigned nb = (unsigned)((T_ + ATT_WARPS - 1) / ATT_WARPS);
	attn_bwd_dq_kernel<T, DPL>
	    <<<dim3(nb, (unsigned)NH, (unsigned)B), ATT_WARPS * 32, sq, ps_cuda_g.stream>>>(
		(T *)dqkv, (const T *)dout, (const T *)qkv, lse, D, T_, NH, KVH, HS, scale);
	CU_LAUNCH_CHECK("attn_bwd_dq_kernel");
	attn_bwd_dkdv_kernel<T, DPL>
	    <<<dim3(nb, (unsigned)KVH, (unsigned)B), ATT_WARPS * 32, skv, ps_cuda_g.stream>>>(
		(T *)dqkv, (const T *)dout, (const T *)qkv, lse, D, T_, NH, KVH, HS, scale);
	CU_LAUNCH_CHECK("attn_bwd_dkdv_kernel");
	return PS_OK;
}

static int attn_check(int B, int NH, int KVH, int HS)
{
	if (HS > ATT_MAX_HS)
		return PS_ERROR(PS_ERR_UNSUPPORTED, "cuda attention: head size %d > %d", HS, ATT_MAX_HS);
	if (KVH <= 0 || NH % KVH != 0)
		return PS_ERROR(PS_ERR_INVALID, "cuda attention: NH %d not a multiple of KVH %d", NH, KVH);
	if (NH > 65535 || B > 65535)
		return PS_ERROR(PS_ERR_UNSUPPORTED, "cuda attention: B %d or NH %d above the grid limit", B,
				NH);
	return PS_OK;
}

/* Pick the register-array width DPL = ceil(HS/32) rounded up to 1, 2, 4 or 8. */
#define ATT_BY_DPL(fn, T, HS, ...)                                                                           \
	((HS) <= 32    ? fn<T, 1>(__VA_ARGS__)                                                               \
	 : (HS) <= 64  ? fn<T, 2>(__VA_ARGS__)                                                               \
	 : (HS) <= 128 ? fn<T, 4>(__VA_ARGS__)                                                               \
		       : fn<T, 8>(__VA_ARGS__))

extern "C" int ps_cuda_attention_forward(int dt, void *out, float *lse, const void *qkv, int B, int T, int NH,
					 int KVH, int HS)
{
	CU_DT_CHECK(dt);
	if (B <= 0 || T <= 0 || NH <= 0 || HS <= 0)
		return PS_OK;
	int rc = attn_check(B, NH, KVH, HS);
	if (rc != PS_OK)
		return rc;
	if (dt == PS_CUDA_DT_BF16)
		return ATT_BY_DPL(attn_fwd, bf16, HS, out, lse, qkv, B, T, NH, KVH, HS);
	return ATT_BY_DPL(attn_fwd, float, HS, out, lse, qkv, B, T, NH, KVH, HS);
}

extern "C" int ps_cuda_attention_backward(int dt, void *dqkv, const void *dout, const void *qkv,
					  const void *out, const float *lse, int B, int T, int NH, int KVH,
					  int HS)
{
	CU_DT_CHECK(dt);
	if (B <= 0 || T <= 0 || NH <= 0 || HS <= 0)
		return PS_OK;
	int rc = attn_check(B, NH, KVH, HS);
	if (rc != PS_OK)
		return rc;
	if (dt == PS_CUDA_DT_BF16)
		return ATT_BY_DPL(attn_bwd, bf16, HS, dqkv, dout, qkv, out, lse, B, T, NH, KVH, HS);
	return ATT_BY_DPL(attn_bwd, float, HS, dqkv, dout, qkv, out, lse, B, T, NH, KVH, HS);
}
