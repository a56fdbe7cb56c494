# bench/sim.mk — simulator benchmarks (BENCH_PROGS += ...).
