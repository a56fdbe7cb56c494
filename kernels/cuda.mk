# kernels/cuda.mk — the backend interface (kernels/backend*.c) and the CUDA
# kernels (optional, --with-cuda): nvcc builds the .cu files into a plain
# static library, libparasim_cuda.a, with extern "C" entry points that
# kernels/backend-cuda.c wraps.  Without CUDA, backend-cuda-none.c is built
# instead and ps_backend_cuda() is NULL, so no caller needs #ifdef.
libparasim_a_SOURCES += kernels/backend.h kernels/backend.c kernels/backend-cpu.c
if HAVE_CUDA
libparasim_a_SOURCES += kernels/backend-cuda.c
else
libparasim_a_SOURCES += kernels/backend-cuda-none.c
endif

PS_CUDA_CU = kernels/cuda/device.cu kernels/cuda/act.cu kernels/cuda/embed.cu kernels/cuda/norm.cu \
	kernels/cuda/matmul.cu kernels/cuda/attention.cu kernels/cuda/xent.cu kernels/cuda/adamw.cu
PS_CUDA_HDRS = kernels/cuda/common.cuh kernels/cuda/kernels-cuda.h
EXTRA_DIST += $(PS_CUDA_CU) $(PS_CUDA_HDRS) bench/gpu-check.sh doc/cuda-backend.md

# Device code for A100 (sm_80) in addition to what NVCCFLAGS names (configure's
# default -arch=sm_90: H100/H200 SASS plus compute_90 PTX).  Override with
# `make PS_NVCC_ARCHFLAGS=` to build only what NVCCFLAGS asks for.
PS_NVCC_ARCHFLAGS = -gencode arch=compute_80,code=sm_80
PS_NVCC_WARN = -Xcompiler -Wall -Xcompiler -Wextra

if HAVE_CUDA
noinst_LIBRARIES += libparasim_cuda.a
libparasim_cuda_a_SOURCES =
libparasim_cuda_a_LIBADD = $(PS_CUDA_CU:.cu=.$(OBJEXT))
libparasim_cuda_a_DEPENDENCIES = $(PS_CUDA_CU:.cu=.$(OBJEXT))
CLEANFILES += $(PS_CUDA_CU:.cu=.$(OBJEXT))
# the suffix rule knows no header dependencies: name them
$(PS_CUDA_CU:.cu=.$(OBJEXT)): $(PS_CUDA_HDRS:%=$(top_srcdir)/%) $(top_srcdir)/sim/status.h
endif
SUFFIXES = .cu
.cu.$(OBJEXT):
	@$(MKDIR_P) $(@D)
	$(AM_V_GEN)$(NVCC) $(NVCCFLAGS) $(PS_NVCC_ARCHFLAGS) $(PS_NVCC_WARN) -I$(top_srcdir) -I$(top_srcdir)/kernels -I$(top_builddir) -c -o $@ $<

if HAVE_CMOCKA
check_PROGRAMS += tests/test-backend tests/test-kernels-cuda
TESTS += tests/test-backend tests/test-kernels-cuda
endif
