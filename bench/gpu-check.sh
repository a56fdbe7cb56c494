#!/bin/sh
# bench/gpu-check.sh — the one prepared check of the CUDA backend on a machine
# with an NVIDIA GPU: build parasim's CUDA kernels and run
# tests/test-kernels-cuda (every CUDA kernel against the CPU reference, fp32,
# TF32 and bf16, forward and backward), then print a summary.
#
# Usage (from anywhere; SRC is the tree this script sits in):
#   bench/gpu-check.sh [--mode auto|configure|standalone] [--build DIR]
#                      [--deps DIR] [--sanitize memcheck|racecheck|synccheck|initcheck]
#   bench/gpu-check.sh --prepare-deps DIR     (on the build machine, see below)
#
# Modes:
#   configure   SRC/configure --with-cuda in the build dir (autogen.sh first if
#               there is no configure and autoreconf exists), then
#               make parasim-cuda.so tests/test-kernels-cuda tests/test-backend.
#               Needs every library configure requires (GSL, SQLite, libyaml,
#               BLAS, cmocka).
#   standalone  nvcc + cc on just what the CUDA test needs: the plugin
#               parasim-cuda.so (kernels/cuda/*.cu and kernels/backend-cuda.c,
#               linked -shared with the version script as make does) and the
#               test program (kernels/backend.c, the loader
#               kernels/backend-cuda-loader.c, kernels/cpu/ref.c,
#               kernels/cpu/adamw.c, sim/status.c and the test).  Needs only the
#               CUDA toolkit (cuBLAS, cuBLASLt) and cmocka — for a GPU image
#               without the project's other -dev packages.
# Either way the test finds the plugin as parasim does (beside the executable
# or in its parent directory); PARASIM_CUDA_PLUGIN is unset for the run.
#   auto        (default) configure; if that fails, standalone.
# --deps DIR: headers in DIR/include and libraries in DIR/lib are used first
#   (cmocka, for a machine that lacks it).  --prepare-deps DIR fills such a
#   folder from this machine's cmocka (header and shared library) so it can
#   be carried to the GPU machine.
# --sanitize TOOL: after the plain run, run the test again under
#   compute-sanitizer --tool TOOL (slow; memcheck finds out-of-bounds
#   accesses, racecheck shared-memory races).
#
# Logs go to $OUT when it is set (the device tool brings that folder back),
# else to the build dir: gpu-check.log, test-kernels-cuda.tap,
# test-backend.tap, and sanitizer-TOOL.log.
#
# Exit status: 0 all CUDA tests passed; 1 a test failed; 2 the CUDA tests were
# skipped (no GPU or driver: a skip is never reported as a pass);
# 3 build failure; 4 usage error.
set -u
unset PARASIM_CUDA_PLUGIN

SRC=$(cd "$(dirname "$0")/.." && pwd)
MODE=auto
BUILD=${TMPDIR:-/tmp}/parasim-gpu-check
DEPS=
SANITIZE=
while [ $# -gt 0 ]; do
	case $1 in
	--mode) MODE=$2; shift 2 ;;
	--build) BUILD=$2; shift 2 ;;
	--deps) DEPS=$(cd "$2" && pwd); shift 2 ;;
	--sanitize) SANITIZE=$2; shift 2 ;;
	--prepare-deps)
		mkdir -p "$2/include" "$2/lib" || exit 3
		hdr=$(echo '#include <cmocka.h>' | ${CC:-cc} -E -include stdarg.h -include stddef.h -include setjmp.h - 2>/dev/null |
			sed -n 's/^# [0-9]* "\(.*cmocka\.h\)".*/\1/p' | head -n 1)
		lib=$(${CC:-cc} -print-file-name=libcmocka.so)
		if [ -z "$hdr" ] || [ ! -e "$lib" ]; then
			echo "gpu-check: cmocka header or library not found here" >&2
			exit 3
		fi
		cp "$hdr" "$2/include/" && cp -L "$lib" "$2/lib/libcmocka.so" &&
			cp -L "$lib" "$2/lib/libcmocka.so.0" || exit 3
		echo "gpu-check: cmocka copied to $2 (carry it; pass --deps $2)"
		exit 0 ;;
	-h | --help) sed -n '2,/^set -u/p' "$0" | sed 's/^# \{0,1\}//; /^set -u/d'; exit 0 ;;
	*) echo "gpu-check: unknown argument $1 (see --help)" >&2; exit 4 ;;
	esac
done
case $MODE in auto | configure | standalone) ;; *) echo "gpu-check: bad --mode $MODE" >&2; exit 4 ;; esac
case $SANITIZE in '' | memcheck | racecheck | synccheck | initcheck) ;; *) echo "gpu-check: bad --sanitize $SANITIZE" >&2; exit 4 ;; esac

LOGDIR=${OUT:-$BUILD}
mkdir -p "$BUILD" "$LOGDIR" || exit 3
LOG=$LOGDIR/gpu-check.log
: >"$LOG"
say() { echo "gpu-check: $*" | tee -a "$LOG"; }
NPROC=$(nproc 2>/dev/null || echo 2)

NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
if [ ! -x "$NVCC" ]; then
	say "nvcc not found (set NVCC or PATH)"
	exit 3
fi
CUDA_DIR=$(cd "$(dirname "$NVCC")/.." && pwd)
CUDA_LIBDIR=$CUDA_DIR/lib64
[ -d "$CUDA_DIR/targets/x86_64-linux/lib" ] && CUDA_LIBDIR=$CUDA_DIR/targets/x86_64-linux/lib
say "source $SRC, build $BUILD, logs $LOGDIR, mode $MODE"
say "nvcc: $("$NVCC" --version | tail -n 1)"
if command -v nvidia-smi >/dev/null 2>&1; then
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/gpu-check: gpu: /' | tee -a "$LOG"
else
	say "nvidia-smi not found"
fi
if [ -n "$DEPS" ]; then
	CPATH=$DEPS/include${CPATH:+:$CPATH}
	LIBRARY_PATH=$DEPS/lib${LIBRARY_PATH:+:$LIBRARY_PATH}
	LD_LIBRARY_PATH=$DEPS/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	export CPATH LIBRARY_PATH LD_LIBRARY_PATH
fi

# ---- build ------------------------------------------------------------------
build_configure() {
	if [ ! -x "$SRC/configure" ]; then
		command -v autoreconf >/dev/null 2>&1 || { say "no configure and no autoreconf"; return 1; }
		(cd "$SRC" && ./autogen.sh) >>"$LOG" 2>&1 || { say "autogen.sh failed"; return 1; }
	fi
	mkdir -p "$BUILD/cfg" && cd "$BUILD/cfg" || return 1
	say "configure --with-cuda"
	"$SRC/configure" --with-cuda >>"$LOG" 2>&1 || { say "configure failed (see $LOG)"; return 1; }
	say "make parasim-cuda.so tests/test-kernels-cuda tests/test-backend"
	make -j"$NPROC" parasim-cuda.so tests/test-kernels-cuda tests/test-backend >>"$LOG" 2>&1 ||
		{ say "make failed (see $LOG)"; return 1; }
	TEST_CUDA=$BUILD/cfg/tests/test-kernels-cuda
	TEST_BACKEND=$BUILD/cfg/tests/test-backend
}

build_standalone() {
	D=$BUILD/standalone
	rm -rf "$D/obj" "$D/tobj"
	mkdir -p "$D/obj" "$D/tobj" "$D/kernels" && cd "$D" || return 1
	printf '/* config.h for the GPU check standalone build */\n#define HAVE_CUDA 1\n#define HAVE_DLFCN_H 1\n' >"$D/config.h"
	printf '#define PS_CUDA_PLUGIN_DIR "%s"\n' "$D" >"$D/kernels/cuda-plugin-dir.h"
	NVF=${NVCCFLAGS:--O3 -std=c++17 -arch=sm_90 -gencode arch=compute_80,code=sm_80 -Xcompiler -fPIC}
	say "standalone: nvcc $NVF"
	pids=
	for cu in "$SRC"/kernels/cuda/*.cu; do
		o=$D/obj/$(basename "$cu" .cu).o
		"$NVCC" $NVF -Xcompiler -fPIC -Xcompiler -Wall -I"$SRC" -I"$SRC/kernels" -I"$D" -c -o "$o" "$cu" >>"$LOG" 2>&1 &
		pids="$pids $!"
	done
	ok=1
	for p in $pids; do wait "$p" || ok=0; done
	[ $ok = 1 ] || { say "nvcc failed (see $LOG)"; return 1; }
	CFL="-std=gnu11 -O2 -fopenmp -Wall -I$D -I$SRC -I$SRC/sim -I$SRC/kernels -I$CUDA_DIR/include"
	# the plugin: kernels and their C glue, nothing of the program
	${CC:-cc} $CFL -fPIC -c -o "$D/obj/c_backend-cuda.o" "$SRC/kernels/backend-cuda.c" >>"$LOG" 2>&1 ||
		{ say "cc kernels/backend-cuda.c failed (see $LOG)"; return 1; }
	${CC:-cc} -shared -o "$D/parasim-cuda.so" "$D"/obj/*.o \
		-Wl,--version-script="$SRC/kernels/backend-cuda-plugin.map" -Wl,-z,defs \
		-L"$CUDA_LIBDIR" -Wl,-rpath,"$CUDA_LIBDIR" -lcublasLt -lcublas -lcudart -lstdc++ -lm -lpthread \
		>>"$LOG" 2>&1 || { say "plugin link failed (see $LOG)"; return 1; }
	# the test: the loader finds parasim-cuda.so beside it
	for c in sim/status.c kernels/backend.c kernels/backend-cuda-loader.c kernels/cpu/ref.c \
		kernels/cpu/adamw.c tests/test-kernels-cuda.c; do
		${CC:-cc} $CFL -c -o "$D/tobj/c_$(basename "$c" .c).o" "$SRC/$c" >>"$LOG" 2>&1 ||
			{ say "cc $c failed (see $LOG)"; return 1; }
	done
	${CC:-cc} -fopenmp -o "$D/test-kernels-cuda" "$D"/tobj/*.o -lcmocka -ldl -lm -lpthread >>"$LOG" 2>&1 ||
		{ say "link failed (see $LOG; cmocka missing? use --deps)"; return 1; }
	TEST_CUDA=$D/test-kernels-cuda
	TEST_BACKEND=
}

TEST_CUDA=
TEST_BACKEND=
t0=$(date +%s)
case $MODE in
configure) build_configure || exit 3 ;;
standalone) build_standalone || exit 3 ;;
auto) build_configure || { say "falling back to the standalone build"; build_standalone || exit 3; } ;;
esac
say "built in $(($(date +%s) - t0)) s"

# ---- run ------------------------------------------------------------------------
run_tap() { # name binary
	CMOCKA_MESSAGE_OUTPUT=TAP timeout 600 "$2" >"$LOGDIR/$1.tap" 2>&1
	rc=$?
	cat "$LOGDIR/$1.tap" >>"$LOG"
	return $rc
}

if [ -n "$TEST_BACKEND" ]; then
	run_tap test-backend "$TEST_BACKEND"
	say "test-backend (CPU interface): exit $?, $(grep -c '^ok' "$LOGDIR/test-backend.tap") ok, $(grep -c '^not ok' "$LOGDIR/test-backend.tap") not ok"
fi

t0=$(date +%s)
run_tap test-kernels-cuda "$TEST_CUDA"
rc=$?
TAP=$LOGDIR/test-kernels-cuda.tap
grep '^# device' "$TAP"
# worst error per kernel (first word of the check's name) and dtype, as a
# fraction of its tolerance; every figure is in the .tap file
awk '/^# .* rel L2 err / {
	dt = ""; e = ""; t = ""
	for (i = 2; i <= NF; i++) {
		if ($i ~ /^(fp32|bf16|tf32):$/) dt = substr($i, 1, 4)
		if ($i == "err") e = $(i + 1)
		if ($i == "(tol") { t = $(i + 1); sub(/\)$/, "", t) }
	}
	k = $2 " " dt; r = (t + 0 > 0) ? e / t : 0
	if (!(k in worst) || r > worst[k]) { worst[k] = r; err[k] = e; tol[k] = t }
}
END { for (k in worst) printf "gpu-check: worst %-22s rel L2 %-10s tol %-6s (%.0f%% of tol)\n", k, err[k], tol[k], 100 * worst[k] }' \
	"$TAP" | sort | tee -a "$LOG"
nok=$(grep -c '^ok' "$TAP")
nbad=$(grep -c '^not ok' "$TAP")
say "test-kernels-cuda: exit $rc in $(($(date +%s) - t0)) s, $nok ok, $nbad not ok"
status=0
if grep -q '^1\.\.0 # SKIP' "$TAP"; then
	say "SKIPPED: $(sed -n 's/^1\.\.0 # SKIP //p' "$TAP")"
	status=2
elif [ "$rc" -ne 0 ] || [ "$nbad" -ne 0 ] || [ "$nok" -eq 0 ]; then
	grep -B2 -A3 '^not ok\|ERROR\|error:' "$TAP" | tail -n 40
	say "FAILED"
	status=1
else
	say "PASSED: every CUDA kernel matches the CPU reference within tolerance"
fi

if [ -n "$SANITIZE" ] && [ $status -ne 2 ]; then
	CS=$(command -v compute-sanitizer || echo "$CUDA_DIR/bin/compute-sanitizer")
	say "compute-sanitizer --tool $SANITIZE (slow)"
	CMOCKA_MESSAGE_OUTPUT=TAP timeout 900 "$CS" --tool "$SANITIZE" --error-exitcode 9 "$TEST_CUDA" \
		>"$LOGDIR/sanitizer-$SANITIZE.log" 2>&1
	src=$?
	tail -n 5 "$LOGDIR/sanitizer-$SANITIZE.log" | tee -a "$LOG"
	say "compute-sanitizer $SANITIZE: exit $src"
	[ $src -ne 0 ] && status=1
fi
exit $status
