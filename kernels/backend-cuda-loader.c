/* backend-cuda-loader.c — ps_backend_cuda() for every build: find the CUDA
 * plugin (parasim-cuda.so), dlopen() it on the first call, check its ABI and
 * open it.  Programs no longer link cudart/cuBLAS/cuBLASLt; only a caller
 * that asks for the CUDA backend pays for loading them.
 *
 * Search (the first file that exists is used; a later candidate is not
 * tried when it fails to load, so what is reported is what was found):
 *   1. $PARASIM_CUDA_PLUGIN, a full path, if set and non-empty (only that);
 *   2. the directory of the running executable (/proc/self/exe), then its
 *      parent: ./parasim and tests/test-* in a build tree find the
 *      top-level build's plugin;
 *   3. $(pkglibdir), compiled in (kernels/cuda-plugin-dir.h, made by
 *      kernels/cuda.mk).
 * A build without CUDA searches only 1 and otherwise says it was built
 * without CUDA.  Any failure gives NULL and a reason naming the paths, the
 * dlerror() text, the ABI numbers or the device problem, in
 * ps_backend_cuda_unavailable().
 *
 * What this does not do: unload the plugin (the CUDA runtime may hold
 * threads), pick a device other than 0 (the plugin does that), or print. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_DLFCN_H
#include <dlfcn.h>
#endif

#include "backend-cuda-plugin.h"
#include "backend.h"
#include "cpu/kernels.h"
#include "kernels/cuda-plugin-dir.h" /* PS_CUDA_PLUGIN_DIR, generated */

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

static const struct ps_cuda_plugin_host loader_host = {
    .abi = PS_CUDA_PLUGIN_ABI,
    .host_size = sizeof(struct ps_cuda_plugin_host),
    .backend_size = sizeof(struct ps_backend),
    .error_setv = ps_error_setv_,
    .error_message = ps_error_message,
    .error_clear = ps_error_clear,
    .clip_factor = cpu_clip_factor,
    .bf16_from_f32 = ps_bf16_from_f32,
    .f32_from_bf16 = ps_f32_from_bf16,
};

ps_cuda_plugin_status ps_cuda_plugin_load(const char *path, int want_abi, const struct ps_backend **out,
					  char *why, size_t why_len)
{
	*out = NULL;
	if (!path || !*path) {
		snprintf(why, why_len, "CUDA plugin: empty path");
		return PS_CUDA_PLUGIN_NOT_FOUND;
	}
	if (access(path, F_OK) != 0) {
		snprintf(why, why_len, "CUDA plugin %s not found (%s)", path, strerror(errno));
		return PS_CUDA_PLUGIN_NOT_FOUND;
	}
#ifndef HAVE_DLFCN_H
	(void)want_abi;
	snprintf(why, why_len, "CUDA plugin %s cannot be loaded: this system has no dlopen()", path);
	return PS_CUDA_PLUGIN_DLOPEN_FAILED;
#else
	(void)dlerror();
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		const char *e = dlerror();
		snprintf(why, why_len, "CUDA plugin %s failed to load: %s", path,
			 e ? e : "unknown dlopen error");
		return PS_CUDA_PLUGIN_DLOPEN_FAILED;
	}
	const int *abi = dlsym(dl, PS_CUDA_PLUGIN_ABI_SYMBOL);
	if (!abi) {
		snprintf(why, why_len, "%s is not a parasim CUDA plugin (no symbol %s)", path,
			 PS_CUDA_PLUGIN_ABI_SYMBOL);
		dlclose(dl);
		return PS_CUDA_PLUGIN_NOT_PLUGIN;
	}
	if (*abi != want_abi) {
		snprintf(why, why_len,
			 "CUDA plugin %s has plugin ABI %d but this parasim needs ABI %d: a stale plugin "
			 "(rebuild or reinstall it with this parasim)",
			 path, *abi, want_abi);
		dlclose(dl);
		return PS_CUDA_PLUGIN_ABI_MISMATCH;
	}
	/* POSIX guarantees a function's address survives the round trip
	 * through dlsym's void *; copy it without an ISO C cast warning */
	ps_cuda_plugin_open_fn open_fn = NULL;
	void *sym = dlsym(dl, PS_CUDA_PLUGIN_ENTRY_SYMBOL);
	if (!sym) {
		snprintf(why, why_len, "CUDA plugin %s (ABI %d) has no entry %s", path, *abi,
			 PS_CUDA_PLUGIN_ENTRY_SYMBOL);
		dlclose(dl);
		return PS_CUDA_PLUGIN_NOT_PLUGIN;
	}
	memcpy(&open_fn, &sym, sizeof open_fn);
	char reason[512] = "";
	const struct ps_backend *be = open_fn(&loader_host, reason, sizeof reason);
	if (!be) {
		snprintf(why, why_len, "CUDA plugin %s loaded, but: %s", path,
			 reason[0] ? reason : "it gave no backend and no reason");
		return PS_CUDA_PLUGIN_NO_DEVICE;
	}
	*out = be;
	if (why_len)
		why[0] = '\0';
	return PS_CUDA_PLUGIN_OK;
#endif
}

/* ---- the search behind ps_backend_cuda() ------------------------------------ */

static pthread_once_t loader_once = PTHREAD_ONCE_INIT;
static const struct ps_backend *loader_backend;
static ps_cuda_plugin_status loader_status = PS_CUDA_PLUGIN_NOT_FOUND;
static char loader_path[PATH_MAX + 64];
static char loader_reason[3 * PATH_MAX + 512];

static void loader_try(const char *path)
{
	size_t n = strlen(path);
	if (n >= sizeof loader_path)
		n = sizeof loader_path - 1; /* only for display: the load uses path */
	memcpy(loader_path, path, n);
	loader_path[n] = '\0';
	loader_status = ps_cuda_plugin_load(path, PS_CUDA_PLUGIN_ABI, &loader_backend, loader_reason,
					    sizeof loader_reason);
}

#ifdef HAVE_CUDA
/* Strip the last path component of p in place; 0 if there is none left. */
static int loader_dirname(char *p)
{
	char *slash = strrchr(p, '/');
	if (!slash)
		return 0;
	if (slash == p)
		slash[1] = '\0'; /* "/x" -> "/" */
	else
		*slash = '\0';
	return 1;
}
#endif

static void loader_init(void)
{
	const char *env = getenv("PARASIM_CUDA_PLUGIN");
	if (env && *env) {
		loader_try(env);
		if (loader_status == PS_CUDA_PLUGIN_NOT_FOUND) {
			const size_t used = strlen(loader_reason);
			snprintf(loader_reason + used, sizeof loader_reason - used,
				 " ($PARASIM_CUDA_PLUGIN names it; unset it to search the default places)");
		}
		return;
	}
#ifndef HAVE_CUDA
	loader_status = PS_CUDA_PLUGIN_NOT_BUILT;
	snprintf(loader_reason, sizeof loader_reason,
		 "parasim was built without CUDA (configure --with-cuda needs nvcc and cuBLAS); "
		 "$PARASIM_CUDA_PLUGIN can name a " PS_CUDA_PLUGIN_FILE " built elsewhere");
#else
	/* candidates: the executable's directory, its parent, pkglibdir */
	char cand[3][PATH_MAX + 64];
	int nc = 0;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		if (loader_dirname(exe)) {
			snprintf(cand[nc++], sizeof cand[0], "%s/%s", strcmp(exe, "/") ? exe : "",
				 PS_CUDA_PLUGIN_FILE);
			if (strcmp(exe, "/") && loader_dirname(exe))
				snprintf(cand[nc++], sizeof cand[0], "%s/%s", strcmp(exe, "/") ? exe : "",
					 PS_CUDA_PLUGIN_FILE);
		}
	}
	snprintf(cand[nc++], sizeof cand[0], "%s/%s", PS_CUDA_PLUGIN_DIR, PS_CUDA_PLUGIN_FILE);
	for (int i = 0; i < nc; i++) {
		if (access(cand[i], F_OK) == 0) {
			loader_try(cand[i]);
			return;
		}
	}
	loader_status = PS_CUDA_PLUGIN_NOT_FOUND;
	loader_path[0] = '\0';
	int off =
	    snprintf(loader_reason, sizeof loader_reason, "CUDA plugin " PS_CUDA_PLUGIN_FILE " not found at");
	for (int i = 0; i < nc && off > 0 && (size_t)off < sizeof loader_reason; i++)
		off += snprintf(loader_reason + off, sizeof loader_reason - (size_t)off, "%s %s",
				i ? "," : "", cand[i]);
	if (off > 0 && (size_t)off < sizeof loader_reason)
		snprintf(loader_reason + off, sizeof loader_reason - (size_t)off,
			 " (set PARASIM_CUDA_PLUGIN to its full path)");
#endif
}

const struct ps_backend *ps_backend_cuda(void)
{
	pthread_once(&loader_once, loader_init);
	return loader_backend;
}

const char *ps_backend_cuda_unavailable(void)
{
	pthread_once(&loader_once, loader_init);
	return loader_backend ? "" : loader_reason;
}

ps_cuda_plugin_status ps_cuda_plugin_state(void)
{
	pthread_once(&loader_once, loader_init);
	return loader_status;
}

const char *ps_cuda_plugin_path(void)
{
	pthread_once(&loader_once, loader_init);
	return loader_path;
}
