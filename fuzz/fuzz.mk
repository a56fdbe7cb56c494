# fuzz/fuzz.mk — libFuzzer targets, built only with
#   CC=clang ./configure --enable-fuzz && make fuzz/fuzz-scenario
# Run (work/ collects new inputs; the seed corpus stays read-only):
#   mkdir -p work && ./fuzz/fuzz-scenario -dict=SRCDIR/fuzz/scenario.dict -max_total_time=600 work SRCDIR/fuzz/corpus
EXTRA_DIST += fuzz/corpus fuzz/fuzz-scenario.c fuzz/scenario.dict fuzz/README.md
if ENABLE_FUZZ
noinst_PROGRAMS += fuzz/fuzz-scenario
fuzz_fuzz_scenario_SOURCES = fuzz/fuzz-scenario.c
fuzz_fuzz_scenario_LDFLAGS = -fsanitize=fuzzer,address,undefined
fuzz_fuzz_scenario_LDADD = $(PS_CORE) $(PS_LIBS)
endif
