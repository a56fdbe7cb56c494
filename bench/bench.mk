# bench/bench.mk — `make bench` builds and runs every benchmark in BENCH_PROGS.
# Benchmarks print their figures (medians, ratios measured in the same run);
# they are never part of `make check`.
EXTRA_PROGRAMS += $(BENCH_PROGS)
CLEANFILES += $(BENCH_PROGS)
bench: $(BENCH_PROGS)
	@for b in $(BENCH_PROGS); do echo "== $$b"; ./$$b || exit 1; done
.PHONY: bench
