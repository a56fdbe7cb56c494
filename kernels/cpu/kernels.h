/* kernels.h — the fp32 CPU kernels of a GPT-style Transformer, forward and
 * backward, plus a naive reference beside each one (cpu_ref_*).
 *
 * The execute backend trains with these kernels, the profiler times them, and
 * the CUDA kernels are tested against them.  This header is the contract;
 * it does not define a model (see gpt.h) nor price anything (costmodel.h).
 *
 * ONE SHAPE CONVENTION (llm.c style), used by every kernel:
 *   B   sequences in the micro-batch        T   tokens per sequence
 *   M   rows = B*T (an activation (B,T,X) is the same memory as (M,X))
 *   C   channels of the input of an op      OC  output channels of a matmul
 *   NH  query heads   KVH key/value heads (NH % KVH == 0)   HS head size
 *   F   hidden width of the MLP (after the activation)      V vocabulary
 * All tensors are dense, row-major fp32; token ids are int (int32).
 *   - Activations (B,T,C): channel index fastest.
 *   - Linear layers: weight (OC,C), bias (OC):  out(M,OC) = inp(M,C).W^T + b
 *     (ops.h names these M, N=OC, K=C).
 *   - Attention input qkv (B,T,(NH+2*KVH)*HS): per token, first the NH query
 *     heads, then the KVH key heads, then the KVH value heads, each head HS
 *     contiguous floats.  Query head h reads key/value head h / (NH/KVH).
 *     Output (B,T,NH*HS), heads contiguous per token (ready for the output
 *     projection).  lse (B,NH,T): log-sum-exp of each query row's scaled
 *     scores s_tj = q_t.k_j / sqrt(HS), j <= t (causal).
 *   - SwiGLU input (M,2F): columns [0,F) are the gate a, [F,2F) the value b
 *     (one fused matmul with weight (2F,C)); out(M,F) = silu(a) * b.
 *   - Cross-entropy: logits (M,V), targets (M).
 *
 * RULES
 *   - No kernel allocates: every buffer is caller-owned.  Attention keeps its
 *     tiles (at most two CPU_ATTN_BLOCK^2 score tiles and a transposed
 *     64 x CPU_ATTN_BLOCK key/value block per thread, under 8 KiB) on the
 *     thread's stack; nothing else needs scratch.
 *   - Backward kernels ACCUMULATE (+=) into their gradient outputs, so the
 *     caller zeroes gradients once before a backward pass (shared weights
 *     such as a tied wte simply receive two contributions).  The only
 *     exception is cpu_xent_backward, which OVERWRITES dlogits (it may run in
 *     place over the logits).  A gradient pointer documented "or NULL" is
 *     skipped when NULL.
 *   - Forward outputs are overwritten.  Unless stated, inputs and outputs must
 *     not overlap.
 *   - Preconditions (positive sizes, token ids in [0,V), NH % KVH == 0) are
 *     the caller's job: kernels do not validate (gpt.c validates user input).
 *
 * THREADS
 *   Kernels parallelise with OpenMP over omp_get_max_threads() threads.
 *   Matrix products go to cblas_sgemm in one of two ways
 *   (cpu_gemm_threads_set): split across the OpenMP team with OpenBLAS
 *   single-threaded (default), or whole on OpenBLAS's own threads called from
 *   outside any OpenMP region.  Either way no more than n threads compute at
 *   once (no oversubscription).  cpu_threads_set(n) sets the OpenMP team size
 *   and the matching OpenBLAS thread count (1 or n); call it once before
 *   timing or training (callers must not change them behind its back).
 *   Our kernels' results do not depend on the thread count: row and column
 *   reductions are partitioned so each output is summed in a fixed order.
 *   Exceptions: cpu_sumsq (partial sums per thread, accumulated in double)
 *   and whatever OpenBLAS does inside sgemm.
 *   Attention and the cross-entropy exp loops also carry an AVX2/FMA copy
 *   chosen at load time on CPUs that have it (GCC target_clones), so the
 *   last bits of their results can differ between machines.
 */
#ifndef PS_KERNELS_CPU_H
#define PS_KERNELS_CPU_H

#include <stddef.h>

/* Key/query block of the flash-style attention: a thread materialises at
 * most one CPU_ATTN_BLOCK x CPU_ATTN_BLOCK tile of the T x T score matrix. */
#define CPU_ATTN_BLOCK 16
/* epsilon of layernorm and rmsnorm: x * 1/sqrt(var + eps) */
#define CPU_NORM_EPS 1e-5f

/* ---- threads and BLAS identity ------------------------------------------ */

/* Use n threads (n >= 1) for OpenMP kernels and for sgemm. */
void cpu_threads_set(int n);
/* The OpenMP team size kernels use now. */
int cpu_threads_get(void);
/* How matrix products use the threads of cpu_threads_set:
 *   CPU_GEMM_SPLIT (default): each product is cut into one block of output
 *     rows or columns per thread, run by the OpenMP team, every block a
 *     single-threaded cblas_sgemm (OpenBLAS set to 1 thread).  Only one pool
 *     of n threads ever exists, so OpenBLAS's idle workers never compete
 *     with the OpenMP ones (which they do on a loaded or small machine).
 *   CPU_GEMM_BLAS: OpenBLAS runs each sgemm on its own n threads, called
 *     from outside any OpenMP region.
 * Call cpu_threads_set after changing it. */
enum cpu_gemm_threads { CPU_GEMM_SPLIT = 0, CPU_GEMM_BLAS = 1 };
void cpu_gemm_threads_set(enum cpu_gemm_threads how);
enum cpu_gemm_threads cpu_gemm_threads_get(void);
/* OpenBLAS kernel core in use ("Haswell", ...) and build configuration
 * string; "unknown" when the BLAS is not OpenBLAS.  Static strings. */
const char *cpu_blas_corename(void);
const char *cpu_blas_config(void);

/* ---- embedding ------------------------------------------------------------ */

/* out(B,T,C) = wte[tokens[b,t]] + wpe[t].
 * tokens (B,T) in [0,V); wte (V,C); wpe (>=T,C) or NULL (no learned
 * positions: out = wte[token]). */
void cpu_embed_forward(float *out, const int *tokens, const float *wte, const float *wpe, int B, int T, int C);
/* dwte(V,C) += scatter of dout(B,T,C) by token; dwpe(>=T,C) += sum over b
 * (dwpe or NULL).  Deterministic: threads split the channels. */
void cpu_embed_backward(float *dwte, float *dwpe, const float *dout, const int *tokens, int B, int T, int C);

/* ---- normalisation ---------------------------------------------------------- */

/* out(M,C) = (inp - mean) * rstd * weight + bias, per row.
 * weight (C); bias (C) or NULL; saves mean (M), rstd (M) for backward. */
void cpu_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
			   const float *bias, int M, int C);
/* dinp(M,C) +=, dweight(C) +=, dbias(C) += (dbias or NULL). */
void cpu_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
			    const float *weight, const float *mean, const float *rstd, int M, int C);
/* out(M,C) = inp * rstd * weight, rstd = 1/sqrt(mean(inp^2) + eps); saves rstd (M). */
void cpu_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int M, int C);
/* dinp(M,C) +=, dweight(C) +=. */
void cpu_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
			  const float *rstd, int M, int C);

/* ---- matmul (cblas_sgemm) --------------------------------------------------- */

/* out(M,OC) = inp(M,C) . weight(OC,C)^T + bias(OC) (bias or NULL). */
void cpu_matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int M, int C,
			int OC);
/* dinp(M,C) += dout(M,OC) . weight(OC,C)      (one sgemm; dinp or NULL)
 * dweight(OC,C) += dout^T . inp(M,C)          (one sgemm; dweight or NULL)
 * dbias(OC) += column sums of dout            (dbias or NULL). */
void cpu_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
			 const float *weight, int M, int C, int OC);

/* ---- causal self-attention with grouped KV heads (flash-style) ------------ */

/* out(B,T,NH*HS) and lse(B,NH,T) from qkv(B,T,(NH+2*KVH)*HS); scale
 * 1/sqrt(HS), causal mask.  Online softmax over key blocks: the T x T
 * probabilities are never stored. */
void cpu_attention_forward(float *out, float *lse, const float *qkv, int B, int T, int NH, int KVH, int HS);
/* dqkv(B,T,(NH+2*KVH)*HS) += gradient, from dout(B,T,NH*HS) and the forward's
 * qkv, out and lse; scores are recomputed block by block.  Threads split
 * (b, kv head) pairs, so B*KVH bounds the parallelism. */
void cpu_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out, const float *lse,
			    int B, int T, int NH, int KVH, int HS);

/* ---- activations and residual ---------------------------------------------- */

/* out(n) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); out may equal inp. */
void cpu_gelu_forward(float *out, const float *inp, size_t n);
/* dinp(n) += gelu'(inp) * dout. */
void cpu_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);
/* out(M,F) = silu(inp[:, :F]) * inp[:, F:], inp (M,2F), silu(a) = a / (1 + exp(-a)). */
void cpu_swiglu_forward(float *out, const float *inp, int M, int F);
/* dinp(M,2F) += gradient through both halves, from dout(M,F). */
void cpu_swiglu_backward(float *dinp, const float *inp, const float *dout, int M, int F);
/* out(n) = a + b; out may equal a or b. */
void cpu_residual_forward(float *out, const float *a, const float *b, size_t n);
/* da(n) += dout, db(n) += dout (either may be NULL). */
void cpu_residual_backward(float *da, float *db, const float *dout, size_t n);

/* ---- fused softmax + cross-entropy ------------------------------------------ */

/* Per row m: lse[m] = log sum_v exp(logits[m,v]),
 * losses[m] = lse[m] - logits[m, targets[m]].  One pass over the logits
 * (online max and sum).  A target outside [0,V) marks an ignored row:
 * losses[m] = 0 (lse is still written). */
void cpu_xent_forward(float *losses, float *lse, const float *logits, const int *targets, int M, int V);
/* Gradient of dloss * mean_m losses[m] (mean over all M rows):
 * dlogits(M,V) = dloss / M * (softmax(logits) - onehot(target)), zero for
 * ignored rows.  OVERWRITES dlogits, which may be the logits buffer itself
 * (in place: one read-write pass).  dloss is 1 for a plain mean loss, 1/k
 * when k micro-batches are accumulated. */
void cpu_xent_backward(float *dlogits, const float *logits, const float *lse, const int *targets, float dloss,
		       int M, int V);

/* ---- optimizer -------------------------------------------------------------- */

/* One AdamW step (Loshchilov & Hutter), on n parameters, step t >= 1:
 *   g = grad_scale * grad
 *   m = beta1 m + (1-beta1) g;  v = beta2 v + (1-beta2) g^2
 *   mhat = m / (1 - beta1^t);   vhat = v / (1 - beta2^t)
 *   param -= lr * (mhat / (sqrt(vhat) + eps) + weight_decay * param)
 * (decoupled weight decay; grad_scale carries gradient clipping, 1 if none).
 * m and v start at zero and are updated in place. */
void cpu_adamw_update(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1,
		      float beta2, float eps, float weight_decay, float grad_scale, int t);
/* sum of x[i]^2 in double (for a global norm across tensors or ranks). */
double cpu_sumsq(const float *x, size_t n);
/* x(n) *= s. */
void cpu_scale(float *x, size_t n, float s);
/* The factor that clips a gradient of L2 norm `norm` to at most max_norm:
 * max_norm / (norm + 1e-6) when norm > max_norm, else 1; also 1 when
 * max_norm <= 0 (no clipping) or norm is NaN. */
float cpu_clip_factor(double norm, float max_norm);
/* Global norm clipping of one gradient buffer: computes the norm (into *norm
 * if not NULL), scales grad in place by cpu_clip_factor and returns it. */
float cpu_grad_clip(float *grad, size_t n, float max_norm, double *norm);

/* ---- naive references (ref.c) ------------------------------------------------
 * Same signatures and semantics as above; single-threaded, plain loops with
 * double accumulators; attention recomputes each row's scores in separate
 * passes (max, sum, output) instead of blocking, and no reference allocates.
 * They are the truth the optimised CPU kernels and the CUDA kernels are
 * tested against; never fast. */
void cpu_ref_embed_forward(float *out, const int *tokens, const float *wte, const float *wpe, int B, int T, int C);
void cpu_ref_embed_backward(float *dwte, float *dwpe, const float *dout, const int *tokens, int B, int T, int C);
void cpu_ref_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
			       const float *bias, int M, int C);
void cpu_ref_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
				const float *weight, const float *mean, const float *rstd, int M, int C);
void cpu_ref_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int M, int C);
void cpu_ref_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
			      const float *weight, const float *rstd, int M, int C);
void cpu_ref_matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int M, int C,
			    int OC);
void cpu_ref_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
			     const float *weight, int M, int C, int OC);
void cpu_ref_attention_forward(float *out, float *lse, const float *qkv, int B, int T, int NH, int KVH, int HS);
void cpu_ref_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out,
				const float *lse, int B, int T, int NH, int KVH, int HS);
void cpu_ref_gelu_forward(float *out, const float *inp, size_t n);
void cpu_ref_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);
void cpu_ref_swiglu_forward(float *out, const float *inp, int M, int F);
void cpu_ref_swiglu_backward(float *dinp, const float *inp, const float *dout, int M, int F);
void cpu_ref_residual_forward(float *out, const float *a, const float *b, size_t n);
void cpu_ref_residual_backward(float *da, float *db, const float *dout, size_t n);
void cpu_ref_xent_forward(float *losses, float *lse, const float *logits, const int *targets, int M, int V);
void cpu_ref_xent_backward(float *dlogits, const float *logits, const float *lse, const int *targets, float dloss,
			   int M, int V);
void cpu_ref_adamw_update(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1,
			  float beta2, float eps, float weight_decay, float grad_scale, int t);

#endif
