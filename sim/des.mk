# sim/des.mk — the simulation engine: event queue, network model (topology,
# collective algorithms, analytic and max-min flow tiers) and the
# discrete-event simulator (issue 4, helper "engine").
libparasim_a_SOURCES += sim/event-queue.c sim/event-queue.h sim/net.c sim/des.c
EXTRA_DIST += doc/network-model.md
if HAVE_CMOCKA
check_PROGRAMS += tests/test-event-queue tests/test-net tests/test-des tests/test-des-diff
TESTS += tests/test-event-queue tests/test-net tests/test-des tests/test-des-diff
# the optimised engine against a frozen copy of the engine it replaced
tests_test_des_diff_SOURCES = tests/test-des-diff.c tests/des-ref.c
endif
