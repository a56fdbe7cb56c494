# fuzz/fuzz.mk — libFuzzer targets, built only with
#   CC=clang ./configure --enable-fuzz && make fuzz/fuzz-scenario
# Run:  ./fuzz/fuzz-scenario -max_total_time=600 fuzz/corpus-work $(srcdir)/fuzz/corpus
EXTRA_DIST += fuzz/corpus fuzz/fuzz-scenario.c
if ENABLE_FUZZ
noinst_PROGRAMS += fuzz/fuzz-scenario
fuzz_fuzz_scenario_SOURCES = fuzz/fuzz-scenario.c
fuzz_fuzz_scenario_LDFLAGS = -fsanitize=fuzzer,address,undefined
fuzz_fuzz_scenario_LDADD = $(PS_CORE) $(PS_LIBS)
endif
