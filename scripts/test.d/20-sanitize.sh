#!/usr/bin/env bash
# summary: build-asan/ with AddressSanitizer + UBSan, run ctest
# ehal-stage: slow
# The whole suite again under ASan + UBSan: out-of-bounds accesses, use
# after free, leaks (LeakSanitizer) and undefined behaviour fail the test.
# Leaks inside third-party GPU/OpenCL drivers are suppressed by
# scripts/sanitizers/lsan.supp (driver libraries only, never ours).
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

build="$EHAL_ROOT/build-asan"
configure_build "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEHAL_WERROR=OFF \
    -DEHAL_BUILD_TESTS=ON -DEHAL_SANITIZE=address,undefined || die "configure failed"
cmake --build "$build" -j "$EHAL_JOBS" || die "build failed"

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$EHAL_ROOT/scripts/sanitizers/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# shellcheck disable=SC2086 # EHAL_CTEST_ARGS is a list of words
ctest --test-dir "$build" --output-on-failure -j "$EHAL_JOBS" $EHAL_CTEST_ARGS
rc=$?
log "cmocka and CLI test summaries (build-asan/):"
ctest_summary "$build"
exit $rc
