# sim/scenario.mk — units, the scenario loader (YAML, includes, schema,
# canonical form, sweeps) and their tests.
libparasim_a_SOURCES += sim/units.c sim/scenario.c sim/scenario-schema.c sim/scenario-yaml.c sim/scenario-canon.c
noinst_HEADERS += sim/scenario-int.h

if HAVE_CMOCKA
check_PROGRAMS += tests/test-units tests/test-scenario tests/test-bad-scenarios
TESTS += tests/test-units tests/test-scenario tests/test-bad-scenarios
endif
