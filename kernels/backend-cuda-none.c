/* backend-cuda-none.c — the CUDA backend of a build without CUDA
 * (configure found no nvcc/cuBLAS, or --without-cuda): ps_backend_cuda()
 * is always NULL, so callers never need #ifdef HAVE_CUDA.  Compiled instead
 * of backend-cuda.c; it holds nothing else. */
#include "config.h"

#include <stddef.h>

#include "backend.h"

const struct ps_backend *ps_backend_cuda(void)
{
	return NULL;
}

const char *ps_backend_cuda_unavailable(void)
{
	return "parasim was built without CUDA (configure --with-cuda needs nvcc and cuBLAS)";
}
