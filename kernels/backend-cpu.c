/* backend-cpu.c — the CPU backend: struct ps_backend over kernels/cpu.
 *
 * "Device" memory is host memory (64-byte aligned), copies are memcpy, sync
 * does nothing.  Storage dtypes FP32 and TF32 (computed as fp32); BF16 is
 * refused with PS_ERR_UNSUPPORTED — the CPU kernels are fp32 only.  This file
 * adds no arithmetic of its own: each kernel entry is one call of its
 * kernels/cpu twin, so the CPU backend is exactly the reference the CUDA one
 * is tested against. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cpu/kernels.h"

static int cpu_dt_ok(ps_dtype dt)
{
	return dt == DTYPE_FP32 || dt == DTYPE_TF32;
}

static const char *cpu_dt_str(ps_dtype dt)
{
	static const char *const names[DTYPE_COUNT_] = {"fp32", "tf32", "bf16", "fp16", "fp8"};
	return (unsigned)dt < DTYPE_COUNT_ ? names[dt] : "unknown";
}

#define CPU_DT_CHECK(dt)                                                                                     \
	do {                                                                                                 \
		if (!cpu_dt_ok(dt))                                                                          \
			return PS_ERROR(PS_ERR_UNSUPPORTED, "cpu backend: storage dtype %s not supported",   \
					cpu_dt_str(dt));                                                     \
	} while (0)

static int cpu_has_dtype(const struct ps_backend *be, ps_dtype dt)
{
	return cpu_dt_ok(dt);
}

static ps_status cpu_describe(const struct ps_backend *be, char *buf, size_t len)
{
	if (len)
		snprintf(buf, len, "cpu, %d threads, BLAS %s", cpu_threads_get(), cpu_blas_corename());
	return PS_OK;
}

static ps_status cpu_alloc(const struct ps_backend *be, size_t bytes, void **out)
{
	*out = NULL;
	if (bytes == 0)
		return PS_OK;
	size_t rounded = (bytes + 63) / 64 * 64;
	if (rounded < bytes)
		return PS_ERROR(PS_ERR_RANGE, "cpu backend: allocation of %zu bytes overflows", bytes);
	void *p = aligned_alloc(64, rounded);
	if (!p)
		return PS_ERROR(PS_ERR_NOMEM, "cpu backend: cannot allocate %zu bytes", bytes);
	*out = p;
	return PS_OK;
}

static void cpu_free(const struct ps_backend *be, void *p)
{
	free(p);
}

static ps_status cpu_zero(const struct ps_backend *be, void *p, size_t bytes)
{
	if (bytes)
		memset(p, 0, bytes);
	return PS_OK;
}

static ps_status cpu_copy(const struct ps_backend *be, void *dst, const void *src, size_t bytes)
{
	if (bytes)
		memmove(dst, src, bytes);
	return PS_OK;
}

static ps_status cpu_upload(const struct ps_backend *be, void *dst, ps_dtype dt, const float *src, size_t n)
{
	CPU_DT_CHECK(dt);
	if (n)
		memmove(dst, src, n * sizeof(float));
	return PS_OK;
}

static ps_status cpu_download(const struct ps_backend *be, float *dst, const void *src, ps_dtype dt, size_t n)
{
	CPU_DT_CHECK(dt);
	if (n)
		memmove(dst, src, n * sizeof(float));
	return PS_OK;
}

static ps_status cpu_sync(const struct ps_backend *be)
{
	return PS_OK;
}

static ps_status cpu_embed_fwd(const struct ps_backend *be, ps_dtype dt, void *out, const int *tokens,
			       const void *wte, const void *wpe, int B, int T, int C)
{
	CPU_DT_CHECK(dt);
	cpu_embed_forward(out, tokens, wte, wpe, B, T, C);
	return PS_OK;
}

static ps_status cpu_embed_bwd(const struct ps_backend *be, ps_dtype dt, void *dwte, void *dwpe,
			       const void *dout, const int *tokens, int B, int T, int C)
{
	CPU_DT_CHECK(dt);
	cpu_embed_backward(dwte, dwpe, dout, tokens, B, T, C);
	return PS_OK;
}

static ps_status cpu_layernorm_fwd(const struct ps_backend *be, ps_dtype dt, void *out, float *mean,
				   float *rstd, const void *inp, const void *weight, const void *bias, int M,
				   int C)
{
	CPU_DT_CHECK(dt);
	cpu_layernorm_forward(out, mean, rstd, inp, weight, bias, M, C);
	return PS_OK;
}

static ps_status cpu_layernorm_bwd(const struct ps_backend *be, ps_dtype dt, void *dinp, void *dweight,
				   void *dbias, const void *dout, const void *inp, const void *weight,
				   const float *mean, const float *rstd, int M, int C)
{
	CPU_DT_CHECK(dt);
	cpu_layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, M, C);
	return PS_OK;
}

static ps_status cpu_rmsnorm_fwd(const struct ps_backend *be, ps_dtype dt, void *out, float *rstd,
				 const void *inp, const void *weight, int M, int C)
{
	CPU_DT_CHECK(dt);
	cpu_rmsnorm_forward(out, rstd, inp, weight, M, C);
	return PS_OK;
}

static ps_status cpu_rmsnorm_bwd(const struct ps_backend *be, ps_dtype dt, void *dinp, void *dweight,
				 const void *dout, const void *inp, const void *weight, const float *rstd,
				 int M, int C)
{
	CPU_DT_CHECK(dt);
	cpu_rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, M, C);
	return PS_OK;
}

static ps_status cpu_matmul_fwd(const struct ps_backend *be, ps_dtype dt, void *out, const void *inp,
				const void *weight, const void *bias, int M, int C, int OC)
{
	CPU_DT_CHECK(dt);
	cpu_matmul_forward(out, inp, weight, bias, M, C, OC);
	return PS_OK;
}

static ps_status cpu_matmul_bwd(const struct ps_backend *be, ps_dtype dt, void *dinp, void *dweight,
				void *dbias, const void *dout, const void *inp, const void *weight, int M,
				int C, int OC)
{
	CPU_DT_CHECK(dt);
	cpu_matmul_backward(dinp, dweight, dbias, dout, inp, weight, M, C, OC);
	return PS_OK;
}

static ps_status cpu_attention_fwd(const struct ps_backend *be, ps_dtype dt, void *out, float *lse,
				   const void *qkv, int B, int T, int NH, int KVH, int HS)
{
	CPU_DT_CHECK(dt);
	cpu_attention_forward(out, lse, qkv, B, T, NH, KVH, HS);
	return PS_OK;
}

static ps_status cpu_attention_bwd(const struct ps_backend *be, ps_dtype dt, void *dqkv, const void *dout,
				   const void *qkv, const void *out, const float *lse, int B, int T, int NH,
				   int KVH, int HS)
{
	CPU_DT_CHECK(dt);
	cpu_attention_backward(dqkv, dout, qkv, out, lse, B, T, NH, KVH, HS);
	return PS_OK;
}

static ps_status cpu_gelu_fwd(const struct ps_backend *be, ps_dtype dt, void *out, const void *inp, size_t n)
{
	CPU_DT_CHECK(dt);
	cpu_gelu_forward(out, inp, n);
	return PS_OK;
}

static ps_status cpu_gelu_bwd(const struct ps_backend *be, ps_dtype dt, void *dinp, const void *inp,
			      const void *dout, size_t n)
{
	CPU_DT_CHECK(dt);
	cpu_gelu_backward(dinp, inp, dout, n);
	return PS_OK;
}

static ps_status cpu_swiglu_fwd(const struct ps_backend *be, ps_dtype dt, void *out, const void *inp, int M,
				int F)
{
	CPU_DT_CHECK(dt);
	cpu_swiglu_forward(out, inp, M, F);
	return PS_OK;
}

static ps_status cpu_swiglu_bwd(const struct ps_backend *be, ps_dtype dt, void *dinp, const void *inp,
				const void *dout, int M, int F)
{
	CPU_DT_CHECK(dt);
	cpu_swiglu_backward(dinp, inp, dout, M, F);
	return PS_OK;
}

static ps_status cpu_residual_fwd(const struct ps_backend *be, ps_dtype dt, void *out, const void *a,
				  const void *b, size_t n)
{
	CPU_DT_CHECK(dt);
	cpu_residual_forward(out, a, b, n);
	return PS_OK;
}

static ps_status cpu_residual_bwd(const struct ps_backend *be, ps_dtype dt, void *da, void *db,
				  const void *dout, size_t n)
{
	CPU_DT_CHECK(dt);
	cpu_residual_backward(da, db, dout, n);
	return PS_OK;
}

static ps_status cpu_xent_fwd(const struct ps_backend *be, ps_dtype dt, float *losses, float *lse,
			      const void *logits, const int *targets, int M, int V)
{
	CPU_DT_CHECK(dt);
	cpu_xent_forward(losses, lse, logits, targets, M, V);
	return PS_OK;
}

static ps_status cpu_xent_bwd(const struct ps_backend *be, ps_dtype dt, void *dlogits, const void *logits,
			      const float *lse, const int *targets, float dloss, int M, int V)
{
	CPU_DT_CHECK(dt);
	cpu_xent_backward(dlogits, logits, lse, targets, dloss, M, V);
	return PS_OK;
}

static ps_status cpu_adamw(const struct ps_backend *be, ps_dtype dt, void *param, float *master,
			   const void *grad, float *m, float *v, size_t n, float lr, float beta1, float beta2,
			   float eps, float weight_decay, float grad_scale, int t)
{
	CPU_DT_CHECK(dt);
	if (master) {
		cpu_adamw_update(master, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, grad_scale, t);
		if (n && (void *)master != param)
			memmove(param, master, n * sizeof(float));
	} else {
		cpu_adamw_update(param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, grad_scale, t);
	}
	return PS_OK;
}

static ps_status cpu_sumsq_(const struct ps_backend *be, ps_dtype dt, const void *x, size_t n, double *out)
{
	CPU_DT_CHECK(dt);
	*out = cpu_sumsq(x, n);
	return PS_OK;
}

static ps_status cpu_scale_(const struct ps_backend *be, ps_dtype dt, void *x, size_t n, float s)
{
	CPU_DT_CHECK(dt);
	cpu_scale(x, n, s);
	return PS_OK;
}

static ps_status cpu_grad_clip_(const struct ps_backend *be, ps_dtype dt, void *grad, size_t n,
				float max_norm, double *norm, float *factor)
{
	CPU_DT_CHECK(dt);
	float f = cpu_grad_clip(grad, n, max_norm, norm);
	if (factor)
		*factor = f;
	return PS_OK;
}

static const struct ps_backend cpu_backend = {
    .name = "cpu",
    .ctx = NULL,
    .has_dtype = cpu_has_dtype,
    .describe = cpu_describe,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .zero = cpu_zero,
    .copy_to_device = cpu_copy,
    .copy_from_device = cpu_copy,
    .upload = cpu_upload,
    .download = cpu_download,
    .sync = cpu_sync,
    .embed_forward = cpu_embed_fwd,
    .embed_backward = cpu_embed_bwd,
    .layernorm_forward = cpu_layernorm_fwd,
    .layernorm_backward = cpu_layernorm_bwd,
    .rmsnorm_forward = cpu_rmsnorm_fwd,
    .rmsnorm_backward = cpu_rmsnorm_bwd,
    .matmul_forward = cpu_matmul_fwd,
    .matmul_backward = cpu_matmul_bwd,
    .attention_forward = cpu_attention_fwd,
    .attention_backward = cpu_attention_bwd,
    .gelu_forward = cpu_gelu_fwd,
    .gelu_backward = cpu_gelu_bwd,
    .swiglu_forward = cpu_swiglu_fwd,
    .swiglu_backward = cpu_swiglu_bwd,
    .residual_forward = cpu_residual_fwd,
    .residual_backward = cpu_residual_bwd,
    .xent_forward = cpu_xent_fwd,
    .xent_backward = cpu_xent_bwd,
    .adamw_update = cpu_adamw,
    .sumsq = cpu_sumsq_,
    .scale = cpu_scale_,
    .grad_clip = cpu_grad_clip_,
};

const struct ps_backend *ps_backend_cpu(void)
{
	return &cpu_backend;
}
