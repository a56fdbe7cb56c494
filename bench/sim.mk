# bench/sim.mk — simulator benchmarks (BENCH_PROGS += ...).
# bench/bench-sim: graph build, folded discrete-event run, analytic tier
# (configurations per second) and unfolded run of a 1T GPT on 4096 H100s.
# Results and how they were measured: bench/RESULTS-sim.md.
BENCH_PROGS += bench/bench-sim
EXTRA_DIST += bench/RESULTS-sim.md
