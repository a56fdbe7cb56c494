/* backend-cuda.c — the CUDA backend: struct ps_backend over the extern "C"
 * entry points of kernels/cuda.  Built only into the CUDA plugin,
 * parasim-cuda.so, together with the kernels/cuda objects; the program
 * reaches it through kernels/backend-cuda-loader.c (see
 * kernels/backend-cuda-plugin.h for the contract).
 *
 * The plugin's entry initialises device 0 once.  On a machine without a
 * driver or a GPU, cudaGetDeviceCount fails or reports 0 devices: the entry
 * then returns NULL with the reason — no abort, no message printed.  This
 * file does host-side work only: fp32 <-> bf16 conversion for
 * upload/download (a temporary host buffer per call, so upload/download are
 * setup-time operations, not hot-loop ones) and the clip factor of
 * grad_clip, computed with the CPU's formula.
 *
 * The plugin uses no symbol of the program: the error record, the bf16
 * conversions and the clip factor come from the loader's host table.  This
 * file therefore defines the status.h functions the plugin's code calls
 * (ps_error_set_ and friends) as forwarders to that table; the version
 * script keeps them (and everything but the two plugin symbols) local, so
 * they never meet the program's own definitions. */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend-cuda-plugin.h"
#include "backend.h"
#include "cuda/kernels-cuda.h"

/* Set by the entry before anything else runs; never NULL afterwards. */
static const struct ps_cuda_plugin_host *host;

/* ---- status.h for the plugin's code: forward to the program's record ---- */
ps_status ps_error_setv_(ps_status code, const char *src_file, int src_line, const char *fmt, va_list ap)
{
	return host ? host->error_setv(code, src_file, src_line, fmt, ap) : code;
}

ps_status ps_error_set_(ps_status code, const char *src_file, int src_line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ps_status rc = ps_error_setv_(code, src_file, src_line, fmt, ap);
	va_end(ap);
	return rc;
}

const char *ps_error_message(void)
{
	return host ? host->error_message() : "";
}

void ps_error_clear(void)
{
	if (host)
		host->error_clear();
}

_Static_assert(PS_CUDA_DT_FP32 == DTYPE_FP32 && PS_CUDA_DT_TF32 == DTYPE_TF32 &&
		   PS_CUDA_DT_BF16 == DTYPE_BF16,
	       "kernels/cuda dtype codes must match ps_dtype");

static int cu_dt_ok(ps_dtype dt)
{
	return dt == DTYPE_FP32 || dt == DTYPE_TF32 || dt == DTYPE_BF16;
}

#define CU_BE_DT_CHECK(dt)                                                                                   \
	do {                                                                                                 \
		if (!cu_dt_ok(dt))                                                                           \
			return PS_ERROR(PS_ERR_UNSUPPORTED, "cuda backend: storage dtype %d not supported",  \
					(int)(dt));                                                          \
	} while (0)

static int cu_has_dtype(const struct ps_backend *be, ps_dtype dt)
{
	return cu_dt_ok(dt);
}

static ps_status cu_describe(const struct ps_backend *be, char *buf, size_t len)
{
	return (ps_status)ps_cuda_describe(buf, len);
}

static ps_status cu_alloc(const struct ps_backend *be, size_t bytes, void **out)
{
	return (ps_status)ps_cuda_malloc(bytes, out);
}

static void cu_free(const struct ps_backend *be, void *p)
{
	ps_cuda_free(p);
}

static ps_status cu_zero(const struct ps_backend *be, void *p, size_t bytes)
{
	return (ps_status)ps_cuda_memzero(p, bytes);
}

static ps_status cu_copy_to(const struct ps_backend *be, void *dst, const void *src, size_t bytes)
{
	return (ps_status)ps_cuda_copy_h2d(dst, src, bytes);
}

static ps_status cu_copy_from(const struct ps_backend *be, void *dst, const void *src, size_t bytes)
{
	return (ps_status)ps_cuda_copy_d2h(dst, src, bytes);
}

static ps_status cu_upload(const struct ps_backend *be, void *dst, ps_dtype dt, const float *src, size_t n)
{
	CU_BE_DT_CHECK(dt);
	if (!n)
		return PS_OK;
	if (dt != DTYPE_BF16)
		return (ps_status)ps_cuda_copy_h2d(dst, src, n * sizeof(float));
	uint16_t *tmp = malloc(n * sizeof *tmp);
	if (!tmp)
		return PS_ERROR(PS_ERR_NOMEM, "cuda upload: cannot allocate %zu bytes of staging",
				n * sizeof *tmp);
	for (size_t i = 0; i < n; i++)
		tmp[i] = host->bf16_from_f32(src[i]);
	ps_status rc = (ps_status)ps_cuda_copy_h2d(dst, tmp, n * sizeof *tmp);
	free(tmp);
	return rc;
}

static ps_status cu_download(const struct ps_backend *be, float *dst, const void *src, ps_dtype dt, size_t n)
{
	CU_BE_DT_CHECK(dt);
	if (!n)
		return PS_OK;
	if (dt != DTYPE_BF16)
		return (ps_status)ps_cuda_copy_d2h(dst, src, n * sizeof(float));
	uint16_t *tmp = malloc(n * sizeof *tmp);
	if (!tmp)
		return PS_ERROR(PS_ERR_NOMEM, "cuda download: cannot allocate %zu bytes of staging",
				n * sizeof *tmp);
	ps_status rc = (ps_status)ps_cuda_copy_d2h(tmp, src, n * sizeof *tmp);
	if (rc == PS_OK)
		for (size_t i = 0; i < n; i++)
			dst[i] = host->f32_from_bf16(tmp[i]);
	free(tmp);
	return rc;
}

static ps_status cu_sync(const struct ps_backend *be)
{
	return (ps_status)ps_cuda_sync();
}

static ps_status cu_embed_fwd(const struct ps_backend *be, ps_dtype dt, void *out, const int *tokens,
			      const void *wte, const void *wpe, int B, int T, int C)
{
	return (ps_status)ps_cuda_embed_forward((int)dt, out, tokens, wte, wpe, B, T, C);
}

static ps_status cu_embed_bwd(const struct ps_backend *be, ps_dtype dt, void *dwte, void *dwpe,
			      const void *dout, const int *tokens, int B, int T, int C)
{
	return (ps_status)ps_cuda_embed_backward((int)dt, dwte, dwpe, dout, tokens, B, T, C);
}

static ps_status cu_layernorm_fwd(const struct ps_backend *be, ps_dtype dt, void *out, float *mean,
				  float *rstd, const void *inp, const void *weight, const void *bias, int M,
				  int C)
{
	return (ps_status)ps_cuda_layernorm_forward((int)dt, out, mean, rstd, inp, weight, bias, M, C);
}

static ps_status cu_layernorm_bwd(const struct ps_backend *be, ps_dtype dt, void *dinp, void *dweight,
				  void *dbias, const void *dout, const void *inp, const void *weight,
				  const float *mean, const float *rstd, int M, int C)
{
	return (ps_status)ps_cuda_layernorm_backward((int)dt, dinp, dweight, dbias, dout, inp, weight, mean,
						     rstd, M, C);
}

static ps_status cu_rmsnorm_fwd(const struct ps_backend *be, ps_dtype dt, void *out, float *rstd,
				const void *inp, const void *weight, int M, int C)
{
	return (ps_status)ps_cuda_rmsnorm_forward((int)dt, out, rstd, inp, weight, M, C);
}

static ps_status cu_rmsnorm_bwd(const struct ps_backend *be, ps_dtype dt, void *dinp, void *dweight,
				const void *dout, const void *inp, const void *weight, const float *rstd,
				int M, int C)
{
	return (ps_status)ps_cuda_rmsnorm_backward((int)dt, dinp, dweight, dout, inp, weight, rstd, M, C);
}

static ps_status cu_matmul_fwd(const struct ps_backend *be, ps_dtype dt, void *out, const void *inp,
			       const void *weight, const void *bias, int M, int C, int OC)
{
	return (ps_status)ps_cuda_matmul_forward((int)dt, out, inp, weight, bias, M, C, OC);
}

static ps_status cu_matmul_bwd(const struct ps_backend *be, ps_dtype dt, void *dinp, void *dweight,
			       void *dbias, const void *dout, const void *inp, const void *weight, int M,
			       int C, int OC)
{
	return (ps_status)ps_cuda_matmul_backward((int)dt, dinp, dweight, dbias, dout, inp, weight, M, C, OC);
}

static ps_status cu_attention_fwd(const struct ps_backend *be, ps_dtype dt, void *out, float *lse,
				  const void *qkv, int B, int T, int NH, int KVH, int HS)
{
	return (ps_status)ps_cuda_attention_forward((int)dt, out, lse, qkv, B, T, NH, KVH, HS);
}

static ps_status cu_attention_bwd(const struct ps_backend *be, ps_dtype dt, void *dqkv, const void *dout,
				  const void *qkv, const void *out, const float *lse, int B, int T, int NH,
				  int KVH, int HS)
{
	return (ps_status)ps_cuda_attention_backward((int)dt, dqkv, dout, qkv, out, lse, B, T, NH, KVH, HS);
}

static ps_status cu_gelu_fwd(const struct ps_backend *be, ps_dtype dt, void *out, const void *inp, size_t n)
{
	return (ps_status)ps_cuda_gelu_forward((int)dt, out, inp, n);
}

static ps_status cu_gelu_bwd(const struct ps_backend *be, ps_dtype dt, void *dinp, const void *inp,
			     const void *dout, size_t n)
{
	return (ps_status)ps_cuda_gelu_backward((int)dt, dinp, inp, dout, n);
}

static ps_status cu_swiglu_fwd(const struct ps_backend *be, ps_dtype dt, void *out, const void *inp, int M,
			       int F)
{
	return (ps_status)ps_cuda_swiglu_forward((int)dt, out, inp, M, F);
}

static ps_status cu_swiglu_bwd(const struct ps_backend *be, ps_dtype dt, void *dinp, const void *inp,
			       const void *dout, int M, int F)
{
	return (ps_status)ps_cuda_swiglu_backward((int)dt, dinp, inp, dout, M, F);
}

static ps_status cu_residual_fwd(const struct ps_backend *be, ps_dtype dt, void *out, const void *a,
				 const void *b, size_t n)
{
	return (ps_status)ps_cuda_residual_forward((int)dt, out, a, b, n);
}

static ps_status cu_residual_bwd(const struct ps_backend *be, ps_dtype dt, void *da, void *db,
				 const void *dout, size_t n)
{
	return (ps_status)ps_cuda_residual_backward((int)dt, da, db, dout, n);
}

static ps_status cu_xent_fwd(const struct ps_backend *be, ps_dtype dt, float *losses, float *lse,
			     const void *logits, const int *targets, int M, int V)
{
	return (ps_status)ps_cuda_xent_forward((int)dt, losses, lse, logits, targets, M, V);
}

static ps_status cu_xent_bwd(const struct ps_backend *be, ps_dtype dt, void *dlogits, const void *logits,
			     const float *lse, const int *targets, float dloss, int M, int V)
{
	return (ps_status)ps_cuda_xent_backward((int)dt, dlogits, logits, lse, targets, dloss, M, V);
}

static ps_status cu_adamw(const struct ps_backend *be, ps_dtype dt, void *param, float *master,
			  const void *grad, float *m, float *v, size_t n, float lr, float beta1, float beta2,
			  float eps, float weight_decay, float grad_scale, int t)
{
	return (ps_status)ps_cuda_adamw_update((int)dt, param, master, grad, m, v, n, lr, beta1, beta2, eps,
					       weight_decay, grad_scale, t);
}

static ps_status cu_sumsq(const struct ps_backend *be, ps_dtype dt, const void *x, size_t n, double *out)
{
	return (ps_status)ps_cuda_sumsq((int)dt, x, n, out);
}

static ps_status cu_scale(const struct ps_backend *be, ps_dtype dt, void *x, size_t n, float s)
{
	return (ps_status)ps_cuda_scale((int)dt, x, n, s);
}

static ps_status cu_grad_clip(const struct ps_backend *be, ps_dtype dt, void *grad, size_t n, float max_norm,
			      double *norm, float *factor)
{
	double ss = 0.0;
	ps_status rc = (ps_status)ps_cuda_sumsq((int)dt, grad, n, &ss);
	if (rc != PS_OK)
		return rc;
	const double nrm = sqrt(ss);
	const float f = host->clip_factor(nrm, max_norm);
	if (norm)
		*norm = nrm;
	if (factor)
		*factor = f;
	if (f != 1.0f)
		rc = (ps_status)ps_cuda_scale((int)dt, grad, n, f);
	return rc;
}

static struct ps_backend cuda_backend = {
    .name = "cuda",
    .ctx = NULL,
    .has_dtype = cu_has_dtype,
    .describe = cu_describe,
    .alloc = cu_alloc,
    .free = cu_free,
    .zero = cu_zero,
    .copy_to_device = cu_copy_to,
    .copy_from_device = cu_copy_from,
    .upload = cu_upload,
    .download = cu_download,
    .sync = cu_sync,
    .embed_forward = cu_embed_fwd,
    .embed_backward = cu_embed_bwd,
    .layernorm_forward = cu_layernorm_fwd,
    .layernorm_backward = cu_layernorm_bwd,
    .rmsnorm_forward = cu_rmsnorm_fwd,
    .rmsnorm_backward = cu_rmsnorm_bwd,
    .matmul_forward = cu_matmul_fwd,
    .matmul_backward = cu_matmul_bwd,
    .attention_forward = cu_attention_fwd,
    .attention_backward = cu_attention_bwd,
    .gelu_forward = cu_gelu_fwd,
    .gelu_backward = cu_gelu_bwd,
    .swiglu_forward = cu_swiglu_fwd,
    .swiglu_backward = cu_swiglu_bwd,
    .residual_forward = cu_residual_fwd,
    .residual_backward = cu_residual_bwd,
    .xent_forward = cu_xent_fwd,
    .xent_backward = cu_xent_bwd,
    .adamw_update = cu_adamw,
    .sumsq = cu_sumsq,
    .scale = cu_scale,
    .grad_clip = cu_grad_clip,
};

static pthread_once_t cuda_once = PTHREAD_ONCE_INIT;
static int cuda_ok;
static char cuda_reason[512];

static void cuda_backend_init(void)
{
	int n = 0;
	if (ps_cuda_device_count(&n) != PS_OK) {
		snprintf(cuda_reason, sizeof cuda_reason, "no usable CUDA driver or device: %s",
			 ps_error_message());
		ps_error_clear();
		return;
	}
	if (n <= 0) {
		snprintf(cuda_reason, sizeof cuda_reason, "no CUDA device present");
		return;
	}
	if (ps_cuda_init(0) != PS_OK) {
		snprintf(cuda_reason, sizeof cuda_reason, "CUDA device 0 failed to initialise: %s",
			 ps_error_message());
		ps_error_clear();
		return;
	}
	cuda_ok = 1;
}

/* The plugin's identity, read by the loader before it calls anything. */
extern const int ps_cuda_plugin_abi;
const int ps_cuda_plugin_abi = PS_CUDA_PLUGIN_ABI;

const struct ps_backend *PS_CUDA_PLUGIN_ENTRY(const struct ps_cuda_plugin_host *h, char *why, size_t why_len);

const struct ps_backend *PS_CUDA_PLUGIN_ENTRY(const struct ps_cuda_plugin_host *h, char *why, size_t why_len)
{
	if (!h || h->abi != PS_CUDA_PLUGIN_ABI || h->host_size != sizeof *h ||
	    h->backend_size != sizeof(struct ps_backend)) {
		if (why && why_len)
			snprintf(why, why_len,
				 "the program's plugin interface (ABI %d, host table %zu B, backend %zu B) "
				 "is not the plugin's (ABI %d, %zu B, %zu B)",
				 h ? h->abi : -1, h ? h->host_size : 0, h ? h->backend_size : 0,
				 PS_CUDA_PLUGIN_ABI, sizeof *h, sizeof(struct ps_backend));
		return NULL;
	}
	if (!host)
		host = h;
	pthread_once(&cuda_once, cuda_backend_init);
	if (!cuda_ok && why && why_len)
		snprintf(why, why_len, "%s", cuda_reason);
	return cuda_ok ? &cuda_backend : NULL;
}
