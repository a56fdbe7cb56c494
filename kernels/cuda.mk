# kernels/cuda.mk — the backend interface (kernels/backend*.c) and the CUDA
# kernels (optional, --with-cuda).
#
# No program links the CUDA libraries: nvcc builds the .cu files (with
# -fPIC) and they go, with kernels/backend-cuda.c, into a plugin,
# parasim-cuda.so, linked with cudart/cuBLAS/cuBLASLt and installed in
# $(pkglibdir).  libparasim.a holds only the loader
# (kernels/backend-cuda-loader.c): ps_backend_cuda() dlopen()s the plugin on
# first use (beside the executable, its parent directory, $(pkglibdir), or
# $PARASIM_CUDA_PLUGIN).  Without CUDA the loader is built all the same and
# says so, so no caller needs #ifdef.
libparasim_a_SOURCES += kernels/backend.h kernels/backend.c kernels/backend-cpu.c \
	kernels/backend-cuda-loader.c kernels/backend-cuda-plugin.h
EXTRA_DIST += kernels/backend-cuda-plugin.map

# Where the loader looks last: written at make time, so `make install
# prefix=...` (or pkglibdir=...) is honoured; rewritten only when the
# directory changed, so the loader is recompiled only then.
BUILT_SOURCES += kernels/cuda-plugin-dir.h
CLEANFILES += kernels/cuda-plugin-dir.h kernels/cuda-plugin-dir.h-t
kernels/cuda-plugin-dir.h: ps-cuda-plugin-dir-force
	@$(MKDIR_P) $(@D)
	@echo '#define PS_CUDA_PLUGIN_DIR "$(pkglibdir)"' >$@-t
	@if cmp -s $@-t $@; then rm -f $@-t; else mv $@-t $@ && echo "  GEN      $@"; fi
ps-cuda-plugin-dir-force:
.PHONY: ps-cuda-plugin-dir-force
kernels/backend-cuda-loader.$(OBJEXT): kernels/cuda-plugin-dir.h

PS_CUDA_CU = kernels/cuda/device.cu kernels/cuda/act.cu kernels/cuda/embed.cu kernels/cuda/norm.cu \
	kernels/cuda/matmul.cu kernels/cuda/attention.cu kernels/cuda/xent.cu kernels/cuda/adamw.cu
PS_CUDA_HDRS = kernels/cuda/common.cuh kernels/cuda/kernels-cuda.h
EXTRA_DIST += $(PS_CUDA_CU) $(PS_CUDA_HDRS) bench/gpu-check.sh doc/cuda-backend.md

# Device code for A100 (sm_80) in addition to what NVCCFLAGS names (configure's
# default -arch=sm_90: H100/H200 SASS plus compute_90 PTX).  Override with
# `make PS_NVCC_ARCHFLAGS=` to build only what NVCCFLAGS asks for.
PS_NVCC_ARCHFLAGS = -gencode arch=compute_80,code=sm_80
PS_NVCC_WARN = -Xcompiler -Wall -Xcompiler -Wextra

# The plugin.  Automake has no shared-library primary without libtool, so it
# is a "program" linked with -shared into its own directory variable
# (pkglib_PROGRAMS is not allowed).  The version script exports only the
# two plugin symbols; -z defs proves it needs nothing from the program
# (dropped under the sanitizers, whose runtime the executable provides).
if HAVE_CUDA
cudaplugindir = $(pkglibdir)
cudaplugin_PROGRAMS = parasim-cuda.so
parasim_cuda_so_SOURCES = kernels/backend-cuda.c kernels/backend-cuda-plugin.h kernels/backend.h
parasim_cuda_so_CFLAGS = -std=gnu11 $(WARN_CFLAGS) -fPIC
parasim_cuda_so_LDFLAGS = -shared -Wl,--version-script=$(srcdir)/kernels/backend-cuda-plugin.map \
	$(PS_CUDA_ZDEFS)
parasim_cuda_so_LDADD = $(PS_CUDA_CU:.cu=.$(OBJEXT)) $(CUDA_LIBS) -lpthread -lm
parasim_cuda_so_DEPENDENCIES = $(PS_CUDA_CU:.cu=.$(OBJEXT)) $(srcdir)/kernels/backend-cuda-plugin.map
if ENABLE_SANITIZERS
PS_CUDA_ZDEFS =
else
if ENABLE_FUZZ
PS_CUDA_ZDEFS =
else
PS_CUDA_ZDEFS = -Wl,-z,defs
endif
endif
CLEANFILES += $(PS_CUDA_CU:.cu=.$(OBJEXT))
# the suffix rule knows no header dependencies: name them
$(PS_CUDA_CU:.cu=.$(OBJEXT)): $(PS_CUDA_HDRS:%=$(top_srcdir)/%) $(top_srcdir)/sim/status.h
endif
SUFFIXES = .cu
.cu.$(OBJEXT):
	@$(MKDIR_P) $(@D)
	$(AM_V_GEN)$(NVCC) $(NVCCFLAGS) $(PS_NVCC_ARCHFLAGS) $(PS_NVCC_WARN) -Xcompiler -fPIC -I$(top_srcdir) -I$(top_srcdir)/kernels -I$(top_builddir) -c -o $@ $<

if HAVE_CMOCKA
check_PROGRAMS += tests/test-backend tests/test-kernels-cuda
TESTS += tests/test-backend tests/test-kernels-cuda
endif
