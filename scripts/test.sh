#!/bin/bash
# test.sh — build in ./build (or in the source tree when it is already
# configured there, as README command 1 does) and run the whole test suite
# (make check); prints the summary line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
jobs=$(nproc 2>/dev/null || echo 2)
[ -x configure ] || ./autogen.sh >/dev/null 2>&1 || { echo "autogen failed"; echo "0 passed, 1 failed"; exit 1; }
if [ -f config.status ]; then
	# configured in the source tree (README command 1): autoconf refuses a
	# second, out-of-tree build next to it, so test that build
	:
else
	mkdir -p build && cd build
	if [ ! -f Makefile ]; then
		../configure ${PS_CONFIGURE_FLAGS:-} >configure.out 2>&1 || { cat configure.out; echo "0 passed, 1 failed"; exit 1; }
	fi
fi
make -j"$jobs" >make.out 2>&1 || { tail -50 make.out; echo "0 passed, 1 failed"; exit 1; }
make -j"$jobs" check >check.out 2>&1
rc=$?
grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' check.out | grep -v '^PASS' || true
[ $rc -ne 0 ] && { for f in $(find . -name 'test-suite.log'); do tail -80 "$f"; done; }
pass=$(sed -n 's/^# PASS: *//p' check.out | tail -1)
fail=$(sed -n 's/^# FAIL: *//p' check.out | tail -1)
err=$(sed -n 's/^# ERROR: *//p' check.out | tail -1)
skip=$(sed -n 's/^# SKIP: *//p' check.out | tail -1)
pass=${pass:-0}; fail=$(( ${fail:-0} + ${err:-0} )); skip=${skip:-0}
[ $rc -ne 0 ] && [ "$fail" -eq 0 ] && fail=1
echo "${pass} passed, ${fail} failed, ${skip} skipped"
exit $rc
