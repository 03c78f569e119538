#!/usr/bin/env bash
# summary: build-asan/ with AddressSanitizer + UBSan, run ctest -LE bench
# ehal-stage: slow
# The whole correctness suite again under ASan + UBSan: out-of-bounds
# accesses, use after free, leaks (LeakSanitizer) and undefined behaviour
# fail the test. ctest runs EHAL_JOBS tests at a time.
# Left out here, and only these: the tests labelled `bench`
# (test_vulkan_bench, test_opencl_bench). They time the GPU plugins and
# check that `edgehal bench` works; every op they run is checked under the
# sanitizers by test_vulkan_ops_* / test_opencl_ops_* and the conformance
# tests, and the build stage runs them. Tests labelled `slow` (the full
# llm-full conformance on cpu) do run here: they cover ops and shapes no
# other test does.
# Instrumented code runs 2-5x slower (measured: test_conformance_faults
# 94 s -> 266 s), so every test's TIMEOUT is multiplied by
# EHAL_SANITIZE_TIMEOUT_SCALE (default 3) in this build only.
# Leaks inside third-party GPU/OpenCL drivers are suppressed by
# scripts/sanitizers/lsan.supp (driver libraries only, never ours);
# dlclose is disabled so that those leaks can be attributed at all.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

build="${EHAL_ASAN_BUILD_DIR:-$EHAL_ROOT/build-asan}"
configure_build "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEHAL_WERROR=OFF \
    -DEHAL_BUILD_TESTS=ON -DEHAL_SANITIZE=address,undefined || die "configure failed"
cmake --build "$build" -j "$EHAL_JOBS" || die "build failed"

# Libraries stay loaded until exit (see scripts/sanitizers/nodlclose.c);
# the shim precedes the ASan runtime, hence verify_asan_link_order=0.
shim="$build/libehal-nodlclose.so"
cc -shared -fPIC -O2 -o "$shim" "$EHAL_ROOT/scripts/sanitizers/nodlclose.c" ||
    die "cannot build $shim"

export ASAN_OPTIONS="verify_asan_link_order=0:detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$EHAL_ROOT/scripts/sanitizers/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# For tests: EHAL_SANITIZED names the sanitizers the code under test is
# built with. A test may scale its timeouts by it (instrumented code runs
# several times slower), and one that compiles and links code against the
# build's static libraries must add -fsanitize=$EHAL_SANITIZED.
export EHAL_SANITIZED=address,undefined
scale_test_timeouts "$build" "${EHAL_SANITIZE_TIMEOUT_SCALE:-3}" ||
    die "cannot scale the test timeouts in $build"
# ctest 3.25 honours only the last -LE, so quick mode's "-LE slow" is
# folded into one regex here rather than taken from EHAL_CTEST_ARGS.
exclude='^bench$'
[ "${EHAL_QUICK:-0}" = 1 ] && exclude='^(bench|slow)$'
LD_PRELOAD="$shim${LD_PRELOAD:+:$LD_PRELOAD}" \
    ctest --test-dir "$build" --output-on-failure -j "$EHAL_JOBS" -LE "$exclude"
rc=$?
log "cmocka and CLI test summaries ($build):"
ctest_summary "$build"
ctest_slowest "$build"
exit $rc
