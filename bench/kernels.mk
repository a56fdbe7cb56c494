# bench/kernels.mk — kernel and GPT-2 step benchmarks (BENCH_PROGS += ...).
# bench/bench-kernels: raw sgemm rate, each CPU kernel's GFLOP/s, and a
# GPT-2 124M training step (B=4, T=64, 2 threads); `--quick` for a short run.
# Results and how they were measured: bench/RESULTS-kernels.md.
BENCH_PROGS += bench/bench-kernels
EXTRA_DIST += bench/RESULTS-kernels.md
