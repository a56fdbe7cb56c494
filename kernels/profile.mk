# kernels/profile.mk — the kernel and collective profiler and the cost model
# (fragment of Makefile.am, see the top-level file).  MPI sits behind
# kernels/comm-mpi.c, or kernels/comm-none.c when configure found no MPI.
libparasim_a_SOURCES += kernels/costmodel.c kernels/costmodel-fit.c kernels/costmodel-int.h \
	kernels/profile.c kernels/profile-kernels.c kernels/profile.h kernels/comm-profile.c
if HAVE_MPI
libparasim_a_SOURCES += kernels/comm-mpi.c
else
libparasim_a_SOURCES += kernels/comm-none.c
endif
EXTRA_DIST += kernels/comm-mpi.c kernels/comm-none.c bench/profile-repeat.sh doc/cost-model.md


if HAVE_CMOCKA
check_PROGRAMS += tests/test-costmodel tests/test-profile tests/test-comm-profile
TESTS += tests/test-costmodel tests/test-profile tests/test-comm-profile
endif
