#!/usr/bin/env bash
# summary: build-fuzz/ with clang + libFuzzer, run each fuzz target ~12 s
# The libFuzzer targets of tests/fuzz (GGUF reader, op validator, --pin
# parser, EHAL_FAULT/EHAL_BACKENDS parsers, ehal_prepare's argument checks)
# with ASan + UBSan. Each first replays its seed corpus (tests/fuzz/corpus/
# <target>/, crashes found earlier are kept there as regression inputs),
# then fuzzes for EHAL_FUZZ_SECONDS (12; 3 in quick mode), from a copy of
# the corpus in build-fuzz/. Any crash, leak, timeout or sanitizer report
# fails the stage and leaves the input in build-fuzz/fuzz-artifacts/.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

command -v clang >/dev/null 2>&1 || {
    echo "clang not found; the fuzz targets need clang 14 with libclang-rt-14-dev"
    exit 77
}
build="${EHAL_FUZZ_BUILD_DIR:-$EHAL_ROOT/build-fuzz}"
if [ "${EHAL_QUICK:-0}" = 1 ]; then
    secs=${EHAL_FUZZ_SECONDS:-3}
else
    secs=${EHAL_FUZZ_SECONDS:-12}
fi
CC=clang configure_build "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEHAL_WERROR=OFF \
    -DEHAL_BUILD_TESTS=ON -DEHAL_FUZZ=ON -DEHAL_SANITIZE= || die "configure failed"
cmake --build "$build" -j "$EHAL_JOBS" --target fuzz_all || die "build failed"

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
art="$build/fuzz-artifacts"
mkdir -p "$art"
failed=0
for t in fuzz_gguf fuzz_validate fuzz_pins fuzz_specs fuzz_prepare; do
    exe="$build/fuzz/$t"
    seeds="$EHAL_ROOT/tests/fuzz/corpus/$t"
    work="$build/fuzz-corpus/$t"
    mkdir -p "$work"
    # Regression: every seed (and earlier crash) must run clean.
    if ! "$exe" -runs=0 "$seeds" >"$art/$t.replay.log" 2>&1; then
        warn "$t: a seed input fails (log: $art/$t.replay.log)"
        tail -n 30 "$art/$t.replay.log" >&2
        failed=$((failed + 1))
        continue
    fi
    log "$t: fuzzing for ${secs}s ($(find "$seeds" -type f | wc -l) seeds)"
    if "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$art/$t-" "$work" "$seeds" >"$art/$t.log" 2>&1; then
        log "$t: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$art/$t.log" |
            grep -o '[0-9]*$') runs, no finding"
    else
        warn "$t: finding (log: $art/$t.log; input: $(find "$art" -maxdepth 1 -name "$t-*" | head -n1))"
        grep -m5 -E 'ERROR|SUMMARY|runtime error' "$art/$t.log" >&2
        failed=$((failed + 1))
    fi
done
[ $failed -eq 0 ] || die "$failed fuzz target(s) failed"
log "fuzz: 5 targets, ${secs}s each, no finding"
