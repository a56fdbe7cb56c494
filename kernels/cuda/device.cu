/* device.cu — CUDA device discovery for the CUDA backend. */
#include <cuda_runtime.h>

extern "C" int ps_cuda_device_count(void)
{
	int n = 0;
	if (cudaGetDeviceCount(&n) != cudaSuccess)
		return 0;
	return n;
}
