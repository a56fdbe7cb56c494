/* backend.c — host helpers every backend and its callers share: bfloat16
 * <-> fp32 conversion (round to nearest even) and element sizes.  Kept
 * apart from the backends so a program that only drives CUDA (the GPU
 * check's standalone build) links without the CPU kernels' BLAS. */
#include "config.h"

#include <string.h>

#include "backend.h"

uint16_t ps_bf16_from_f32(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it quiet and a NaN */
		return (uint16_t)((u >> 16) | 0x0040u);
	u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
	return (uint16_t)(u >> 16);
}

float ps_f32_from_bf16(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

float ps_bf16_round(float f)
{
	return ps_f32_from_bf16(ps_bf16_from_f32(f));
}

size_t ps_backend_elem_bytes(ps_dtype dt)
{
	return dt == DTYPE_BF16 ? 2 : 4;
}
