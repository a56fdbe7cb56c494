# tests/tests.mk — shared test helpers and the core tests.  Module owners add
# their tests in their own fragment; every test is a cmocka binary (TAP).
if HAVE_CMOCKA
check_PROGRAMS += tests/test-status tests/test-cli
TESTS += tests/test-status tests/test-cli
endif
EXTRA_DIST += tests/data
