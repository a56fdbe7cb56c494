# bench/bench.mk — `make bench` builds and runs every benchmark in BENCH_PROGS.
# Benchmarks print their figures (medians, ratios measured in the same run);
# they are never part of `make check`.
EXTRA_PROGRAMS += $(BENCH_PROGS)
CLEANFILES += $(BENCH_PROGS)
bench: $(BENCH_PROGS)
	@for b in $(BENCH_PROGS); do echo "== $$b"; ./$$b || exit 1; done
.PHONY: bench

# `make calibration` fits the datasheet devices' efficiency curves and the
# overlap factor to the published runs and rewrites doc/calibration.md.
CALIBRATION_CSV = $(abs_top_srcdir)/../shared/calibration/published-runs.csv
EXTRA_PROGRAMS += bench/calibrate
CLEANFILES += bench/calibrate
calibration: bench/calibrate
	./bench/calibrate $(CALIBRATION_CSV) $(abs_top_srcdir)/doc/calibration.md $(CALIBRATE_FLAGS)
.PHONY: calibration
