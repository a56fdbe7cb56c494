/* kernels-cuda.h — the extern "C" entry points of the CUDA kernels
 * (the .cu files of kernels/cuda), called by the C glue in kernels/backend-cuda.c.
 *
 * Each kernel mirrors its kernels/cpu/kernels.h twin (same shapes, same
 * accumulate/overwrite rules) with a storage dtype first: dt is a ps_dtype
 * value (DTYPE_FP32, DTYPE_TF32 or DTYPE_BF16, passed as int so this header
 * needs nothing from sim/).  All tensor pointers are device pointers; the
 * (f32) tensors of backend.h are `float *`.  Every function returns a
 * ps_status (PS_OK, PS_ERR_UNSUPPORTED, PS_ERR_CUDA) and records failures
 * with PS_ERROR.  Kernels are queued on the one stream of the context and
 * return before they finish; ps_cuda_sync waits.  Only backend-cuda.c
 * should call these: other code goes through struct ps_backend. */
#ifndef PS_KERNELS_CUDA_H
#define PS_KERNELS_CUDA_H

#include <stddef.h>

/* Storage dtypes as the C side passes them: the ps_dtype values of
 * sim/scenario.h (backend-cuda.c checks at compile time that they agree). */
#define PS_CUDA_DT_FP32 0
#define PS_CUDA_DT_TF32 1
#define PS_CUDA_DT_BF16 2

#ifdef __cplusplus
extern "C" {
#endif

/* ---- device and context (device.cu) ---------------------------------------- */

/* *count = number of CUDA devices; an error (no driver, no device) is
 * PS_ERR_CUDA with the runtime's message, never a crash. */
int ps_cuda_device_count(int *count);
/* Select device `dev`, create the stream, cuBLAS and cuBLASLt handles. */
int ps_cuda_init(int dev);
/* Destroy what ps_cuda_init created (safe to call when not initialised). */
void ps_cuda_fini(void);
int ps_cuda_describe(char *buf, size_t len);
int ps_cuda_malloc(size_t bytes, void **out);
void ps_cuda_free(void *p);
int ps_cuda_memzero(void *p, size_t bytes);
/* Raw copies on the context stream; both wait until the copy is done. */
int ps_cuda_copy_h2d(void *dst, const void *src, size_t bytes);
int ps_cuda_copy_d2h(void *dst, const void *src, size_t bytes);
int ps_cuda_sync(void);

/* ---- kernels --------------------------------------------------------------- */
int ps_cuda_embed_forward(int dt, void *out, const int *tokens, const void *wte, const void *wpe, int B,
			  int T, int C);
int ps_cuda_embed_backward(int dt, void *dwte, void *dwpe, const void *dout, const int *tokens, int B, int T,
			   int C);
int ps_cuda_layernorm_forward(int dt, void *out, float *mean, float *rstd, const void *inp,
			      const void *weight, const void *bias, int M, int C);
int ps_cuda_layernorm_backward(int dt, void *dinp, void *dweight, void *dbias, const void *dout,
			       const void *inp, const void *weight, const float *mean, const float *rstd,
			       int M, int C);
int ps_cuda_rmsnorm_forward(int dt, void *out, float *rstd, const void *inp, const void *weight, int M,
			    int C);
int ps_cuda_rmsnorm_backward(int dt, void *dinp, void *dweight, const void *dout, const void *inp,
			     const void *weight, const float *rstd, int M, int C);
int ps_cuda_matmul_forward(int dt, void *out, const void *inp, const void *weight, const void *bias, int M,
			   int C, int OC);
int ps_cuda_matmul_backward(int dt, void *dinp, void *dweight, void *dbias, const void *dout, const void *inp,
			    const void *weight, int M, int C, int OC);
int ps_cuda_attention_forward(int dt, void *out, float *lse, const void *qkv, int B, int T, int NH, int KVH,
			      int HS);
int ps_cuda_attention_backward(int dt, void *dqkv, const void *dout, const void *qkv, const void *out,
			       const float *lse, int B, int T, int NH, int KVH, int HS);
int ps_cuda_gelu_forward(int dt, void *out, const void *inp, size_t n);
int ps_cuda_gelu_backward(int dt, void *dinp, const void *inp, const void *dout, size_t n);
int ps_cuda_swiglu_forward(int dt, void *out, const void *inp, int M, int F);
int ps_cuda_swiglu_backward(int dt, void *dinp, const void *inp, const void *dout, int M, int F);
int ps_cuda_residual_forward(int dt, void *out, const void *a, const void *b, size_t n);
int ps_cuda_residual_backward(int dt, void *da, void *db, const void *dout, size_t n);
int ps_cuda_xent_forward(int dt, float *losses, float *lse, const void *logits, const int *targets, int M,
			 int V);
int ps_cuda_xent_backward(int dt, void *dlogits, const void *logits, const float *lse, const int *targets,
			  float dloss, int M, int V);
int ps_cuda_adamw_update(int dt, void *param, float *master, const void *grad, float *m, float *v, size_t n,
			 float lr, float beta1, float beta2, float eps, float weight_decay, float grad_scale,
			 int t);
int ps_cuda_sumsq(int dt, const void *x, size_t n, double *out);
int ps_cuda_scale(int dt, void *x, size_t n, float s);

#ifdef __cplusplus
}
#endif

#endif
