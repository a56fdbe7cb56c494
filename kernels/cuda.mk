# kernels/cuda.mk — CUDA kernels (optional, --with-cuda): nvcc builds the
# .cu files into a plain static library with extern "C" entry points.
PS_CUDA_CU = kernels/cuda/device.cu
EXTRA_DIST += $(PS_CUDA_CU)
if HAVE_CUDA
noinst_LIBRARIES += libparasim_cuda.a
libparasim_cuda_a_SOURCES =
libparasim_cuda_a_LIBADD = $(PS_CUDA_CU:.cu=.$(OBJEXT))
libparasim_cuda_a_DEPENDENCIES = $(PS_CUDA_CU:.cu=.$(OBJEXT))
CLEANFILES += $(PS_CUDA_CU:.cu=.$(OBJEXT))
endif
SUFFIXES = .cu
.cu.$(OBJEXT):
	@$(MKDIR_P) $(@D)
	$(AM_V_GEN)$(NVCC) $(NVCCFLAGS) -I$(top_srcdir) -I$(top_srcdir)/kernels -I$(top_builddir) -c -o $@ $<
