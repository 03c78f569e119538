# shellcheck shell=bash
# Shared by scripts/test, scripts/demo and the stages in scripts/test.d:
# logging, Debian package checks, stage timing. Source it; it sets
# EHAL_ROOT (the repository root) and never changes the caller's options.

EHAL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export EHAL_ROOT

# Build parallelism: every core, at least 1.
EHAL_JOBS=${EHAL_JOBS:-$(nproc 2>/dev/null || echo 2)}
export EHAL_JOBS

ehal_ts() { date -u +%H:%M:%S; }
log() { printf '[%s] %s\n' "$(ehal_ts)" "$*"; }
warn() { printf '[%s] warning: %s\n' "$(ehal_ts)" "$*" >&2; }
die() {
    printf '[%s] error: %s\n' "$(ehal_ts)" "$*" >&2
    exit 1
}

# Seconds as "1m05s".
fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# ensure_packages PKG...: installs the Debian packages that are missing.
# As root: apt-get update + install, non-interactive (no stdin needed).
# Otherwise with passwordless sudo if there is one; else names the packages
# and the command to run, and exits 1.
ensure_packages() {
    local missing=() pkg status native
    if ! command -v dpkg-query >/dev/null 2>&1; then
        warn "dpkg-query not found (not Debian?); assuming these are installed: $*"
        return 0
    fi
    # Installed for this machine's architecture (or "all"): with a foreign
    # architecture added (arm64 for cross builds) dpkg lists one line per
    # installed architecture, and only the native one counts.
    native=$(dpkg --print-architecture)
    for pkg in "$@"; do
        status=$(dpkg-query -W -f='${Architecture} ${db:Status-Status}\n' "$pkg" 2>/dev/null |
            awk -v a="$native" '($1 == a || $1 == "all") && $2 == "installed" { print "yes" }')
        [ -n "$status" ] || missing+=("$pkg")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        log "Debian packages: all ${#} present"
        return 0
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            printf 'missing Debian packages: %s; run: sudo apt-get install %s\n' \
                "${missing[*]}" "${missing[*]}" >&2
            exit 1
        fi
    fi
    log "installing missing Debian packages: ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null ||
        die "apt-get update failed"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}" </dev/null ||
        die "apt-get install failed for: ${missing[*]}"
}

# configure_build DIR [cmake args...]: configures DIR with Ninja. CMake
# refuses a cache made from another checkout (a copied tree), so such a
# cache is dropped first.
configure_build() {
    local dir=$1
    shift
    if [ -f "$dir/CMakeCache.txt" ] &&
        ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$EHAL_ROOT" "$dir/CMakeCache.txt"; then
        warn "$dir was configured from another source tree; reconfiguring from scratch"
        rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
    fi
    cmake -S "$EHAL_ROOT" -B "$dir" -G Ninja "$@"
}

# ctest_summary DIR: prints each test's cmocka summary lines ("[  PASSED  ]
# 5 test(s).", "[  FAILED  ] ...", "[  SKIPPED ] ...") from the last ctest
# run, so the log shows them even for tests that passed.
ctest_summary() {
    local logf="$1/Testing/Temporary/LastTest.log"
    [ -f "$logf" ] || return 0
    awk '
        /^[0-9]+\/[0-9]+ Test: / { name = $3; next }
        /\[  (PASSED|FAILED|SKIPPED) +\]/ || /: all checks passed$/ ||
            /check\(s\) failed$/ || /^SKIP: / {
            line = $0
            sub(/^.*\[  /, "[  ", line)
            printf "  %-36s %s\n", name, line
        }
    ' "$logf"
}

# ctest_slowest DIR [N]: the N (default 8) slowest tests of the last ctest
# run in DIR with their wall times, slowest first: where the stage's time
# went.
ctest_slowest() {
    local logf="$1/Testing/Temporary/LastTest.log" n=${2:-8}
    [ -f "$logf" ] || return 0
    echo "slowest tests ($1):"
    awk '
        /^[0-9]+\/[0-9]+ Test: / { name = $3; next }
        /^Test time = / && name != "" { printf "%10.1f s  %s\n", $4, name; name = "" }
    ' "$logf" | sort -rn | head -n "$n"
}

# scale_test_timeouts DIR FACTOR: multiplies every TIMEOUT property that
# ctest will apply in build DIR by FACTOR (an integer), for instrumented
# builds that run several times slower. It rewrites the CTestTestfile.cmake
# files CMake generated, so it must run after each configure (cmake
# regenerates them; scaling is not cumulative across configures).
scale_test_timeouts() {
    local dir=$1 factor=$2
    find "$dir" -name CTestTestfile.cmake -print0 |
        xargs -0 -r python3 -c '
import re, sys
factor = int(sys.argv[1])
for path in sys.argv[2:]:
    with open(path) as f:
        text = f.read()
    new = re.sub(r"( TIMEOUT \")([0-9]+)(\")",
                 lambda m: m.group(1) + str(int(m.group(2)) * factor) + m.group(3), text)
    if new != text:
        with open(path, "w") as f:
            f.write(new)
' "$factor"
}

# Stage bookkeeping for run_stage / stage_report.
EHAL_STAGE_NAMES=()
EHAL_STAGE_RESULTS=()
EHAL_STAGE_SECS=()

# run_stage NAME CMD...: runs one stage, records pass/fail/skip and time.
# Exit 77 from the stage means skipped (it prints why).
run_stage() {
    local name=$1 start rc
    shift
    log "=== stage $name"
    start=$(date +%s)
    "$@"
    rc=$?
    local secs=$(($(date +%s) - start)) result=passed
    if [ $rc -eq 77 ]; then
        result=skipped
    elif [ $rc -ne 0 ]; then
        result="failed (exit $rc)"
    fi
    log "=== stage $name: $result in $(fmt_secs $secs)"
    EHAL_STAGE_NAMES+=("$name")
    EHAL_STAGE_RESULTS+=("$result")
    EHAL_STAGE_SECS+=("$secs")
    return 0
}

# record_stage NAME RESULT: a stage that was not run ("skipped (quick mode)").
record_stage() {
    EHAL_STAGE_NAMES+=("$1")
    EHAL_STAGE_RESULTS+=("$2")
    EHAL_STAGE_SECS+=(0)
}

# stage_report PREFIX [START]: per-stage table, the total wall time since
# START (epoch seconds, when given), and last the closing line
# "PREFIX: N passed, N failed, N skipped in <sum of the stages>" (CI reads
# it); returns 1 if any stage failed.
stage_report() {
    local prefix=$1 start=${2:-} i passed=0 failed=0 skipped=0 total=0
    echo
    echo "$prefix stages:"
    for i in "${!EHAL_STAGE_NAMES[@]}"; do
        printf '  %-24s %-24s %s\n' "${EHAL_STAGE_NAMES[$i]}" "${EHAL_STAGE_RESULTS[$i]}" \
            "$(fmt_secs "${EHAL_STAGE_SECS[$i]}")"
        total=$((total + EHAL_STAGE_SECS[i]))
        case ${EHAL_STAGE_RESULTS[$i]} in
        passed) passed=$((passed + 1)) ;;
        skipped*) skipped=$((skipped + 1)) ;;
        *) failed=$((failed + 1)) ;;
        esac
    done
    if [ -n "$start" ]; then
        printf '%s total: %s wall, from %s to %s UTC\n' "$prefix" \
            "$(fmt_secs $(($(date +%s) - start)))" "$(date -u -d "@$start" +%H:%M:%S)" "$(ehal_ts)"
    fi
    printf '%s: %d passed, %d failed, %d skipped in %s\n' "$prefix" "$passed" "$failed" \
        "$skipped" "$(fmt_secs $total)"
    [ "$failed" -eq 0 ]
}
