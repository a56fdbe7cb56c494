/* matmul.cu — the linear layer on CUDA through cuBLAS/cuBLASLt
 * (kernels/cpu/matmul.c semantics): out(M,OC) = inp(M,C) . W(OC,C)^T + b.
 *
 * Row-major tensors are column-major transposes, so the forward is the
 * column-major GEMM out^T(OC,M) = W^T^T(OC,C) . inp^T(C,M): A = W with op T,
 * B = inp with op N.  With a bias the forward runs on cuBLASLt with the BIAS
 * epilogue (bias along the OC rows of out^T); if cuBLASLt offers no algorithm
 * for the shape and operand alignments (or refuses the call), it falls back
 * to cublasGemmEx plus a broadcast bias kernel.
 * Backward: dinp += dout . W and dweight += dout^T . inp are two
 * cublasGemmEx calls with beta = 1; dbias += column sums of dout uses the
 * deterministic column reduction of norm.cu (no cuBLASLt BGRADB epilogue).
 *
 * Precision: fp32 storage computes in fp32 (CUBLAS_COMPUTE_32F, no TF32);
 * DTYPE_TF32 asks for CUBLAS_COMPUTE_32F_FAST_TF32; bf16 storage multiplies
 * on tensor cores with fp32 accumulation.  cuBLASLt descriptors are built per
 * call (a plan cache is future work). */
#include "common.cuh"

static cudaDataType_t mm_type(int dt)
{
	return dt == PS_CUDA_DT_BF16 ? CUDA_R_16BF : CUDA_R_32F;
}

static cublasComputeType_t mm_compute(int dt)
{
	return dt == PS_CUDA_DT_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

template <typename T> __global__ void add_bias_kernel(T *out, const T *bias, int M, int OC)
{
	const size_t n = (size_t)M * OC;
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x)
		st(out + i, ld(out + i) + ld(bias + i % (size_t)OC));
}

template <typename T> static int add_bias(void *out, const void *bias, int M, int OC)
{
	add_bias_kernel<T>
	    <<<cu_grid_1d((size_t)M * OC, 256), 256, 0, ps_cuda_g.stream>>>((T *)out, (const T *)bias, M, OC);
	CU_LAUNCH_CHECK("add_bias_kernel");
	return PS_OK;
}

/* Everything a cuBLASLt call needs, destroyed in one place. */
struct lt_plan {
	cublasLtMatmulDesc_t op;
	cublasLtMatrixLayout_t a, b, c;
	cublasLtMatmulPreference_t pref;
};

static void lt_plan_free(struct lt_plan *p)
{
	if (p->pref)
		(void)cublasLtMatmulPreferenceDestroy(p->pref);
	if (p->c)
		(void)cublasLtMatrixLayoutDestroy(p->c);
	if (p->b)
		(void)cublasLtMatrixLayoutDestroy(p->b);
	if (p->a)
		(void)cublasLtMatrixLayoutDestroy(p->a);
	if (p->op)
		(void)cublasLtMatmulDescDestroy(p->op);
}

/* Largest power of two (<= 256) dividing the address: cuBLASLt assumes
 * 256-byte aligned operands unless told otherwise, and a tensor inside a
 * larger parameter buffer may be less aligned. */
static uint32_t ptr_align(const void *p)
{
	uint32_t al = 256;
	while (al > 1 && ((uintptr_t)p % al) != 0)
		al >>= 1;
	return al;
}

/* out = inp . W^T + bias on cuBLASLt.  *done = 0 (and PS_OK) when cuBLASLt
 * has no algorithm for this case, so the caller falls back. */
static int lt_forward_bias(int dt, void *out, const void *inp, const void *weight, const void *bias, int M,
			   int C, int OC, int *done)
{
	struct lt_plan p = {};
	const cudaDataType_t ty = mm_type(dt);
	const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
	const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
	const size_t ws = ps_cuda_g.lt_ws_bytes;
	const float alpha = 1.0f, beta = 0.0f;
	cublasLtMatmulHeuristicResult_t heur;
	int nres = 0;
	cublasStatus_t s;
	*done = 0;
#define LT_TRY(call)                                                                                         \
	do {                                                                                                 \
		s = (call);                                                                                  \
		if (s != CUBLAS_STATUS_SUCCESS) {                                                            \
			lt_plan_free(&p);                                                                    \
			return PS_ERROR(PS_ERR_CUDA, "%s: %s", #call, cublasGetStatusString(s));             \
		}                                                                                            \
	} while (0)
	LT_TRY(cublasLtMatmulDescCreate(&p.op, mm_compute(dt), CUDA_R_32F));
	LT_TRY(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
	LT_TRY(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
	LT_TRY(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
	LT_TRY(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
	LT_TRY(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &ty, sizeof ty));
	/* layouts describe the stored (column-major) matrices before op() */
	LT_TRY(cublasLtMatrixLayoutCreate(&p.a, ty, (uint64_t)C, (uint64_t)OC, (int64_t)C));
	LT_TRY(cublasLtMatrixLayoutCreate(&p.b, ty, (uint64_t)C, (uint64_t)M, (int64_t)C));
	LT_TRY(cublasLtMatrixLayoutCreate(&p.c, ty, (uint64_t)OC, (uint64_t)M, (int64_t)OC));
	LT_TRY(cublasLtMatmulPreferenceCreate(&p.pref));
	LT_TRY(cublasLtMatmulPreferenceSetAttribute(p.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
						    sizeof ws));
	const uint32_t al_a = ptr_align(weight), al_b = ptr_align(inp), al_d = ptr_align(out);
	LT_TRY(cublasLtMatmulPreferenceSetAttribute(p.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a,
						    sizeof al_a));
	LT_TRY(cublasLtMatmulPreferenceSetAttribute(p.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b,
						    sizeof al_b));
	LT_TRY(cublasLtMatmulPreferenceSetAttribute(p.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_d,
						    sizeof al_d));
	LT_TRY(cublasLtMatmulPreferenceSetAttribute(p.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_d,
						    sizeof al_d));
	s = cublasLtMatmulAlgoGetHeuristic(ps_cuda_g.lt, p.op, p.a, p.b, p.c, p.c, p.pref, 1, &heur, &nres);
	if (s == CUBLAS_STATUS_NOT_SUPPORTED || (s == CUBLAS_STATUS_SUCCESS && nres == 0)) {
		lt_plan_free(&p);
		return PS_OK; /* no algorithm: caller falls back */
	}
	LT_TRY(s);
	s = cublasLtMatmul(ps_cuda_g.lt, p.op, &alpha, weight, p.a, inp, p.b, &beta, out, p.c, out, p.c,
			   &heur.algo, ps_cuda_g.lt_ws, ws, ps_cuda_g.stream);
	if (s == CUBLAS_STATUS_NOT_SUPPORTED) {
		lt_plan_free(&p);
		return PS_OK; /* caller falls back */
	}
	LT_TRY(s);
#undef LT_TRY
	lt_plan_free(&p);
	*done = 1;
	return PS_OK;
}

/* Column-major C(m,n) = alpha op(A) op(B) + beta C, storage dtype dt. */
static int gemm(int dt, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const void *A,
		int lda, const void *B, int ldb, float beta, void *Cm, int ldc)
{
	const float alpha = 1.0f;
	const cudaDataType_t ty = mm_type(dt);
	CUBLAS_CHECK(cublasGemmEx(ps_cuda_g.blas, ta, tb, m, n, k, &alpha, A, ty, lda, B, ty, ldb, &beta, Cm,
				  ty, ldc, mm_compute(dt), CUBLAS_GEMM_DEFAULT));
	return PS_OK;
}

extern "C" int ps_cuda_matmul_forward(int dt, void *out, const void *inp, const void *weight,
				      const void *bias, int M, int C, int OC)
{
	CU_DT_CHECK(dt);
	if (M <= 0 || OC <= 0)
		return PS_OK;
	if (C <= 0) /* an empty inner dimension is not a layer */
		return PS_ERROR(PS_ERR_UNSUPPORTED, "cuda matmul_forward: C = %d", C);
	int rc;
	if (bias) {
		int done = 0;
		rc = lt_forward_bias(dt, out, inp, weight, bias, M, C, OC, &done);
		if (rc != PS_OK || done)
			return rc;
	}
	rc = gemm(dt, CUBLAS_OP_T, CUBLAS_OP_N, OC, M, C, weight, C, inp, C, 0.0f, out, OC);
	if (rc != PS_OK || !bias)
		return rc;
	return CU_DISPATCH(dt, add_bias, out, bias, M, OC);
}

extern "C" int ps_cuda_matmul_backward(int dt, void *dinp, void *dweight, void *dbias, const void *dout,
				       const void *inp, const void *weight, int M, int C, int OC)
{
	CU_DT_CHECK(dt);
	if (M <= 0 || C <= 0 || OC <= 0)
		return PS_OK;
	int rc;
	if (dbias) {
		rc = cu_colsum_accumulate(dt, dbias, dout, M, OC);
		if (rc != PS_OK)
			return rc;
	}
	/* dinp^T(C,M) += W^T(C,OC) . dout^T(OC,M): W stored col-major (C,OC) */
	if (dinp) {
		rc = gemm(dt, CUBLAS_OP_N, CUBLAS_OP_N, C, M, OC, weight, C, dout, OC, 1.0f, dinp, C);
		if (rc != PS_OK)
			return rc;
	}
	/* dW^T(C,OC) += inp^T(C,M) . dout(M,OC): dout^T stored col-major (OC,M), op T */
	if (dweight) {
		rc = gemm(dt, CUBLAS_OP_N, CUBLAS_OP_T, C, OC, M, inp, C, dout, OC, 1.0f, dweight, C);
		if (rc != PS_OK)
			return rc;
	}
	return PS_OK;
}
