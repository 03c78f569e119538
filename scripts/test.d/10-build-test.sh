#!/usr/bin/env bash
# summary: configure build/ (Ninja, -Werror), build everything, run ctest
# The main build: warnings are errors, every test runs (slow ones too unless
# scripts/test --quick put "-LE slow" in EHAL_CTEST_ARGS).
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

build="${EHAL_BUILD_DIR:-$EHAL_ROOT/build}"
configure_build "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEHAL_WERROR=ON \
    -DEHAL_BUILD_TESTS=ON -DEHAL_SANITIZE= || die "configure failed"
cmake --build "$build" -j "$EHAL_JOBS" || die "build failed"
# shellcheck disable=SC2086 # EHAL_CTEST_ARGS is a list of words
ctest --test-dir "$build" --output-on-failure -j "$EHAL_JOBS" $EHAL_CTEST_ARGS
rc=$?
log "cmocka and CLI test summaries ($build):"
ctest_summary "$build"
ctest_slowest "$build"
exit $rc
