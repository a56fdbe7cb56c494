# sim/graph.mk — step graph builder, pipeline schedules, memory model, FLOP
# counting and the `simulate` driver (issue 4, helper "graph").
libparasim_a_SOURCES += sim/graph.c sim/graph-ir.c sim/fold.c sim/fold.h sim/schedule.c sim/schedule.h sim/flops.c sim/flops.h sim/memory.c sim/memory.h \
	sim/simulate.c sim/simulate.h
noinst_HEADERS += tests/fixtures-sim.h
EXTRA_DIST += doc/memory-model.md doc/step-graph.md
if HAVE_CMOCKA
check_PROGRAMS += tests/test-schedule tests/test-flops tests/test-memory tests/test-graph tests/test-fold tests/test-simulate
TESTS += tests/test-schedule tests/test-flops tests/test-memory tests/test-graph tests/test-fold tests/test-simulate
endif

# Regenerate the golden outputs of tests/test-simulate (deliberately only;
# review the diff): see tests/data/golden/regen.sh.
golden-regen: parasim$(EXEEXT)
	PARASIM=$(abs_top_builddir)/parasim$(EXEEXT) $(SHELL) $(top_srcdir)/tests/data/golden/regen.sh
.PHONY: golden-regen
