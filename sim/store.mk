# sim/store.mk — fragment of Makefile.am (see the top-level file).
# The SQLite store (sim/store.h): schema and migrations, runs and profiles,
# exports.  `parasim export` (sim/cmd-export.c) is listed in sim/core.mk.
libparasim_a_SOURCES += sim/store-int.h sim/store-schema.c sim/store.c sim/store-export.c
if HAVE_CMOCKA
check_PROGRAMS += tests/test-store tests/test-store-concurrency tests/test-export
TESTS += tests/test-store tests/test-store-concurrency tests/test-export
endif
