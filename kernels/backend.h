/* backend.h — one small interface over the places kernels can run: the CPU
 * (kernels/cpu, the reference and the fallback) and, when built and a device
 * is present, CUDA (kernels/cuda).  Callers (the execute backend, the
 * profiler, the tests) pick a backend once and never #ifdef.
 *
 * A backend is a struct of function pointers (ggml style).  Every kernel has
 * exactly the semantics of its kernels/cpu/kernels.h twin — same shape
 * convention (llm.c: activations (B,T,C) = (M,C) row-major, weights (OC,C),
 * qkv (B,T,(NH+2*KVH)*HS), lse (B,NH,T)), same rule that backward kernels
 * ACCUMULATE (+=) into gradients except xent_backward, which overwrites
 * (and may run in place), same "or NULL" optional gradients — plus two
 * things the CPU kernels do not have:
 *
 *  - a storage dtype `dt` for the tensors marked (dt) below: DTYPE_FP32,
 *    DTYPE_TF32 (fp32 storage; matmuls may use TF32 tensor cores) or
 *    DTYPE_BF16 (bfloat16 storage).  Arithmetic is always fp32.  Tensors
 *    marked (f32) are fp32 whatever dt is: norm statistics (mean, rstd),
 *    attention and cross-entropy log-sum-exps, losses, AdamW moments and
 *    master weights.  Token ids are int32.  The CPU backend takes FP32 and
 *    TF32 (computed as fp32) and returns PS_ERR_UNSUPPORTED for BF16.
 *  - a status: kernels return PS_OK, or PS_ERR_UNSUPPORTED (dtype or shape
 *    the backend cannot run: e.g. CUDA attention with HS > 256), or
 *    PS_ERR_CUDA with the failing call and the driver's message recorded by
 *    PS_ERROR.  The CUDA backend runs kernels asynchronously on one stream:
 *    an error in a kernel may surface at a later call or at sync().
 *
 * Pointers: tensor arguments are *device* pointers of that backend — memory
 * from be->alloc (plain host memory for the CPU backend).  Move data with
 * upload/download (fp32 host arrays, converted to/from dt) or copy_* (raw
 * bytes).  Kernels never allocate; the CUDA backend keeps one grow-only
 * scratch area (reductions, attention row sums, cuBLASLt workspace) that
 * grows on first use of a larger shape, never in steady state.
 *
 * Preconditions are the caller's job, as in kernels.h (positive sizes,
 * token ids in [0,V), NH % KVH == 0, buffers of the documented sizes).
 *
 * Ownership: ps_backend_cpu() and ps_backend_cuda() return static objects
 * that live until exit; callers never free them.  Not thread-safe: one
 * thread drives a backend at a time.
 *
 * What this does not do: choose a backend for the user (callers decide),
 * overlap streams, or run collectives (sim/ owns MPI and NCCL). */
#ifndef PS_BACKEND_H
#define PS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "scenario.h" /* ps_dtype */
#include "status.h"

struct ps_backend {
	const char *name; /* "cpu" or "cuda" */
	void *ctx;	  /* backend-private state */

	/* 1 if tensors of storage dtype dt are supported, else 0. */
	int (*has_dtype)(const struct ps_backend *be, ps_dtype dt);
	/* One line naming the device, for profile fingerprints
	 * ("NVIDIA H100 80GB HBM3, 132 SMs, cc 9.0, CUDA runtime 13000"). */
	ps_status (*describe)(const struct ps_backend *be, char *buf, size_t len);

	/* ---- memory -------------------------------------------------------- */
	/* bytes of device memory (64-byte aligned on the CPU, 256 on CUDA); *out NULL for 0 bytes. */
	ps_status (*alloc)(const struct ps_backend *be, size_t bytes, void **out);
	void (*free)(const struct ps_backend *be, void *p); /* NULL is a no-op */
	ps_status (*zero)(const struct ps_backend *be, void *p, size_t bytes);
	ps_status (*copy_to_device)(const struct ps_backend *be, void *dst, const void *src, size_t bytes);
	ps_status (*copy_from_device)(const struct ps_backend *be, void *dst, const void *src, size_t bytes);
	/* dst (n elements of dt, device) = src (n fp32, host), rounded to nearest even for bf16. */
	ps_status (*upload)(const struct ps_backend *be, void *dst, ps_dtype dt, const float *src, size_t n);
	/* dst (n fp32, host) = src (n elements of dt, device). */
	ps_status (*download)(const struct ps_backend *be, float *dst, const void *src, ps_dtype dt,
			      size_t n);
	/* Wait for all queued work; reports errors raised by earlier kernels. */
	ps_status (*sync)(const struct ps_backend *be);

	/* ---- kernels (see kernels/cpu/kernels.h for each one's semantics) -- */
	/* out(B,T,C) (dt) = wte(V,C)[tokens] + wpe(>=T,C) (wpe or NULL). */
	ps_status (*embed_forward)(const struct ps_backend *be, ps_dtype dt, void *out, const int *tokens,
				   const void *wte, const void *wpe, int B, int T, int C);
	/* dwte += scatter(dout); dwpe += sum_b dout (dwpe or NULL).  CUDA: the
	 * order of the dwte sums is not fixed (atomics). */
	ps_status (*embed_backward)(const struct ps_backend *be, ps_dtype dt, void *dwte, void *dwpe,
				    const void *dout, const int *tokens, int B, int T, int C);
	/* out, inp (M,C), weight, bias (C) (dt; bias or NULL); mean, rstd (M) (f32). */
	ps_status (*layernorm_forward)(const struct ps_backend *be, ps_dtype dt, void *out, float *mean,
				       float *rstd, const void *inp, const void *weight, const void *bias,
				       int M, int C);
	ps_status (*layernorm_backward)(const struct ps_backend *be, ps_dtype dt, void *dinp, void *dweight,
					void *dbias, const void *dout, const void *inp, const void *weight,
					const float *mean, const float *rstd, int M, int C);
	ps_status (*rmsnorm_forward)(const struct ps_backend *be, ps_dtype dt, void *out, float *rstd,
				     const void *inp, const void *weight, int M, int C);
	ps_status (*rmsnorm_backward)(const struct ps_backend *be, ps_dtype dt, void *dinp, void *dweight,
				      const void *dout, const void *inp, const void *weight,
				      const float *rstd, int M, int C);
	/* out(M,OC) = inp(M,C) . weight(OC,C)^T + bias(OC), all dt. */
	ps_status (*matmul_forward)(const struct ps_backend *be, ps_dtype dt, void *out, const void *inp,
				    const void *weight, const void *bias, int M, int C, int OC);
	ps_status (*matmul_backward)(const struct ps_backend *be, ps_dtype dt, void *dinp, void *dweight,
				     void *dbias, const void *dout, const void *inp, const void *weight,
				     int M, int C, int OC);
	/* out(B,T,NH*HS), qkv (dt); lse(B,NH,T) (f32).  Causal, GQA. */
	ps_status (*attention_forward)(const struct ps_backend *be, ps_dtype dt, void *out, float *lse,
				       const void *qkv, int B, int T, int NH, int KVH, int HS);
	ps_status (*attention_backward)(const struct ps_backend *be, ps_dtype dt, void *dqkv,
					const void *dout, const void *qkv, const void *out, const float *lse,
					int B, int T, int NH, int KVH, int HS);
	ps_status (*gelu_forward)(const struct ps_backend *be, ps_dtype dt, void *out, const void *inp,
				  size_t n);
	ps_status (*gelu_backward)(const struct ps_backend *be, ps_dtype dt, void *dinp, const void *inp,
				   const void *dout, size_t n);
	/* out(M,F) = silu(inp[:, :F]) * inp[:, F:], inp (M,2F). */
	ps_status (*swiglu_forward)(const struct ps_backend *be, ps_dtype dt, void *out, const void *inp,
				    int M, int F);
	ps_status (*swiglu_backward)(const struct ps_backend *be, ps_dtype dt, void *dinp, const void *inp,
				     const void *dout, int M, int F);
	ps_status (*residual_forward)(const struct ps_backend *be, ps_dtype dt, void *out, const void *a,
				      const void *b, size_t n);
	ps_status (*residual_backward)(const struct ps_backend *be, ps_dtype dt, void *da, void *db,
				       const void *dout, size_t n);
	/* logits (M,V) (dt); losses, lse (M) (f32); targets (M) int32. */
	ps_status (*xent_forward)(const struct ps_backend *be, ps_dtype dt, float *losses, float *lse,
				  const void *logits, const int *targets, int M, int V);
	/* dlogits (M,V) (dt), OVERWRITTEN; may equal logits. */
	ps_status (*xent_backward)(const struct ps_backend *be, ps_dtype dt, void *dlogits,
				   const void *logits, const float *lse, const int *targets, float dloss,
				   int M, int V);
	/* One AdamW step on n parameters (cpu_adamw_update).  param, grad (dt);
	 * m, v (f32).  master (f32) or NULL: when given, master holds the fp32
	 * weights that are updated and param receives master rounded to dt
	 * (mixed precision); when NULL, param itself is updated (in dt). */
	ps_status (*adamw_update)(const struct ps_backend *be, ps_dtype dt, void *param, float *master,
				  const void *grad, float *m, float *v, size_t n, float lr, float beta1,
				  float beta2, float eps, float weight_decay, float grad_scale, int t);
	/* *out = sum of x[i]^2 (x in dt), summed in double at the end; waits for the device. */
	ps_status (*sumsq)(const struct ps_backend *be, ps_dtype dt, const void *x, size_t n, double *out);
	/* x(n) (dt) *= s. */
	ps_status (*scale)(const struct ps_backend *be, ps_dtype dt, void *x, size_t n, float s);
	/* cpu_grad_clip on one buffer: norm into *norm (or NULL), grad scaled in
	 * place by cpu_clip_factor(norm, max_norm), factor into *factor (or NULL). */
	ps_status (*grad_clip)(const struct ps_backend *be, ps_dtype dt, void *grad, size_t n, float max_norm,
			       double *norm, float *factor);
};

/* The CPU backend (always available; FP32 and TF32 storage only). */
const struct ps_backend *ps_backend_cpu(void);
/* The CUDA backend on device 0, initialised on first call; NULL when parasim
 * was built without CUDA or no usable device/driver is present (then
 * ps_backend_cuda_unavailable() says why).  Never aborts. */
const struct ps_backend *ps_backend_cuda(void);
/* Why ps_backend_cuda() returned NULL ("" when it did not): a static string. */
const char *ps_backend_cuda_unavailable(void);

/* bfloat16 <-> fp32 on the host (round to nearest even; NaN stays NaN). */
uint16_t ps_bf16_from_f32(float f);
float ps_f32_from_bf16(uint16_t h);
/* Round an fp32 value to the nearest bf16 and back (for building references). */
float ps_bf16_round(float f);
/* Bytes of one element of storage dtype dt as backends store it (fp32/tf32 4, bf16 2). */
size_t ps_backend_elem_bytes(ps_dtype dt);

#endif
