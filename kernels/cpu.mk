# kernels/cpu.mk — fp32 CPU kernels (kernels/cpu), the op vocabulary
# (kernels/ops.c), the CPU GPT model built on them, and their tests.
libparasim_a_SOURCES += kernels/ops.c \
	kernels/cpu/kernels.h kernels/cpu/kernels-int.h kernels/cpu/threads.c \
	kernels/cpu/embed.c kernels/cpu/norm.c kernels/cpu/matmul.c kernels/cpu/attention.c \
	kernels/cpu/act.c kernels/cpu/xent.c kernels/cpu/adamw.c kernels/cpu/ref.c \
	kernels/cpu/gpt.c kernels/cpu/gpt.h
noinst_HEADERS += tests/kernels-dref.h
if HAVE_CMOCKA
check_PROGRAMS += tests/test-kernels-cpu tests/test-kernels-grad tests/test-gpt-cpu
TESTS += tests/test-kernels-cpu tests/test-kernels-grad tests/test-gpt-cpu
endif
