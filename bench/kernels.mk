# bench/kernels.mk — kernel and GPT-2 step benchmarks (BENCH_PROGS += ...).
