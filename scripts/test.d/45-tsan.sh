#!/usr/bin/env bash
# summary: build-tsan/ with ThreadSanitizer, run the threading tests
# ehal-stage: slow
# The threading contract of docs/threading.md under ThreadSanitizer: two
# contexts decoding the built-in model at once and one session shared by
# turns (tests/resilience/test_threads_tsan.c), and the core's own threads
# test (tests/hal/test_hal_threads.c). Only the targets those tests need are
# built. Reports inside glibc's dynamic loader are suppressed by
# tests/resilience/tsan.supp (documented there); any other report fails.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

build="${EHAL_TSAN_BUILD_DIR:-$EHAL_ROOT/build-tsan}"
configure_build "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEHAL_WERROR=OFF \
    -DEHAL_BUILD_TESTS=ON -DEHAL_SANITIZE=thread || die "configure failed"
cmake --build "$build" -j "$EHAL_JOBS" --target test_threads_tsan test_hal_threads \
    edgehal-cpu || die "build failed"

# halt_on_error: the first report fails the test (exit 66 by default).
export TSAN_OPTIONS="suppressions=$EHAL_ROOT/tests/resilience/tsan.supp:halt_on_error=1:second_deadlock_stack=1:report_signal_unsafe=0${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
ctest --test-dir "$build" --output-on-failure -R '^(test_threads_tsan|test_hal_threads)$'
rc=$?
log "cmocka summaries ($build):"
ctest_summary "$build"
exit $rc
