/* backend-cuda-plugin.h — the contract between libparasim's CUDA loader
 * (kernels/backend-cuda-loader.c) and the CUDA plugin, parasim-cuda.so
 * (kernels/backend-cuda.c plus the kernels/cuda objects, linked with cudart,
 * cuBLAS and cuBLASLt).
 *
 * Why a plugin: linking the CUDA libraries into every program made each
 * start load them (about 1.6 s and 225 MB of RSS) even for commands that
 * never touch a GPU.  Now ps_backend_cuda() dlopen()s the plugin on its
 * first call, and nothing else pays.
 *
 * The plugin exports exactly two symbols (kernels/backend-cuda-plugin.map):
 *  - `const int ps_cuda_plugin_abi`, the PS_CUDA_PLUGIN_ABI it was built with;
 *    the loader reads it first and refuses a plugin of another ABI (a stale
 *    build or install) before calling anything in it;
 *  - the entry PS_CUDA_PLUGIN_ENTRY (its name carries the ABI number), a
 *    ps_cuda_plugin_open_fn.
 * Everything else in the plugin is local: it uses no symbol of the program
 * (it is linked with -z defs); what it needs of libparasim (the thread-local
 * error record, the bf16 conversions, the clip factor) comes through the
 * host table below.
 *
 * Bump PS_CUDA_PLUGIN_ABI (and the entry's name, and the .map file) whenever
 * struct ps_backend, struct ps_cuda_plugin_host, ps_status or ps_dtype
 * change in a way that moves a field or a value.
 *
 * What this does not do: search for the plugin (the loader does), or
 * describe the kernels (kernels/backend.h does). */
#ifndef PS_BACKEND_CUDA_PLUGIN_H
#define PS_BACKEND_CUDA_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

#define PS_CUDA_PLUGIN_ABI 1
#define PS_CUDA_PLUGIN_ABI_SYMBOL "ps_cuda_plugin_abi"
#define PS_CUDA_PLUGIN_ENTRY ps_cuda_plugin_open_v1
#define PS_CUDA_PLUGIN_ENTRY_SYMBOL "ps_cuda_plugin_open_v1"
/* File name of the plugin in the build tree and in $(pkglibdir). */
#define PS_CUDA_PLUGIN_FILE "parasim-cuda.so"

/* What the program lends the plugin.  Owned by the loader (static); the
 * plugin keeps the pointer for its whole life. */
struct ps_cuda_plugin_host {
	int abi;	     /* PS_CUDA_PLUGIN_ABI of the loader */
	size_t host_size;    /* sizeof(struct ps_cuda_plugin_host) */
	size_t backend_size; /* sizeof(struct ps_backend) */
	/* the program's ps_error_setv_, ps_error_message, ps_error_clear: the
	 * plugin's PS_ERROR lands in the caller's thread-local record */
	ps_status (*error_setv)(ps_status code, const char *src_file, int src_line, const char *fmt,
				va_list ap);
	const char *(*error_message)(void);
	void (*error_clear)(void);
	/* kernels/cpu's cpu_clip_factor and backend.c's bf16 conversions */
	float (*clip_factor)(double norm, float max_norm);
	uint16_t (*bf16_from_f32)(float f);
	float (*f32_from_bf16)(uint16_t h);
};

/* The entry: initialise device 0 (once; later calls give the same answer)
 * and return the backend, or NULL with the reason ("no CUDA device present",
 * the runtime's message, a host table of another size) written to
 * why[why_len].  Never aborts, never prints. */
typedef const struct ps_backend *(*ps_cuda_plugin_open_fn)(const struct ps_cuda_plugin_host *host, char *why,
							   size_t why_len);

/* How far a load got (ps_cuda_plugin_load's result, ps_cuda_plugin_state). */
typedef enum {
	PS_CUDA_PLUGIN_OK = 0,	      /* loaded, entry found, ABI matches, device 0 initialised */
	PS_CUDA_PLUGIN_NOT_BUILT,     /* built without CUDA and $PARASIM_CUDA_PLUGIN not set */
	PS_CUDA_PLUGIN_NOT_FOUND,     /* no plugin file at the path(s) searched */
	PS_CUDA_PLUGIN_DLOPEN_FAILED, /* dlopen refused it (dlerror text in the reason) */
	PS_CUDA_PLUGIN_NOT_PLUGIN,    /* a shared object without the plugin symbols */
	PS_CUDA_PLUGIN_ABI_MISMATCH,  /* a plugin of another ABI (stale build or install) */
	PS_CUDA_PLUGIN_NO_DEVICE      /* plugin loaded and accepted; no usable driver/device */
} ps_cuda_plugin_status;

/* Load the plugin at `path` (no search) and open it, expecting ABI
 * `want_abi` (PS_CUDA_PLUGIN_ABI; tests pass another value to exercise the
 * refusal).  On PS_CUDA_PLUGIN_OK *out is the backend; otherwise *out is
 * NULL and why[why_len] says what happened, naming the path.  A plugin
 * refused before its entry ran is dlclose()d; one whose entry ran stays
 * loaded (the CUDA runtime may have started threads).  Not thread-safe
 * against itself; ps_backend_cuda() calls it once. */
ps_cuda_plugin_status ps_cuda_plugin_load(const char *path, int want_abi, const struct ps_backend **out,
					  char *why, size_t why_len);

/* How ps_backend_cuda()'s search ended (runs the search if not yet done),
 * and the path of the plugin it loaded or tried last ("" if none). */
ps_cuda_plugin_status ps_cuda_plugin_state(void);
const char *ps_cuda_plugin_path(void);

#endif
