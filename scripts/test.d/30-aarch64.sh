#!/usr/bin/env bash
# summary: aarch64 cross build + device bundle; ops/cpu tests and bundle conformance under qemu (3 CPUs)
# ARM: cross-builds the whole tree with cmake/toolchains/aarch64-linux-gnu.cmake
# into build-aarch64/ and packs the device bundle from it
# (scripts/package-device), unpacked into a temporary directory. Then, under
# qemu-aarch64, once per emulated CPU:
#   max          every feature qemu has (NEON, dotprod, i8mm, SVE): the full run
#   cortex-a53   NEON without dotprod: runtime dispatch must fall back
#   cortex-a76   NEON with dotprod, without i8mm: it must fall back again
# a probe checks that the model reports (AT_HWCAP/AT_HWCAP2) the features
# above, ctest runs the tests labelled ops and cpu from the build tree, and
# `edgehal conformance --quick` on the cpu backend runs FROM THE BUNDLE, in
# another working directory, writing r.json and r.xml (both checked).
# Quick mode (EHAL_QUICK=1): -cpu max only.
# Needs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross (not pulled in without
# recommends), qemu-user and libcmocka-dev:arm64 (dpkg
# multiarch); installs them as root, else skips (exit 77) naming them.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

skip() {
    log "aarch64: SKIPPED: $*"
    exit 77
}

# ---- packages: the cross compiler, qemu, arm64 cmocka (multiarch) -----------
pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user libcmocka-dev:arm64 cmake ninja-build pkg-config binutils)
missing=()
for p in "${pkgs[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if ! command -v dpkg >/dev/null 2>&1; then
        skip "not a Debian system (no dpkg); needs ${missing[*]}"
    fi
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            skip "missing Debian packages: ${missing[*]}; as root run:" \
                "dpkg --add-architecture arm64 && apt-get update &&" \
                "apt-get install ${missing[*]}"
        fi
    fi
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        log "aarch64: enabling the arm64 architecture (dpkg multiarch) for libcmocka-dev:arm64"
        "${sudo[@]}" dpkg --add-architecture arm64 || skip "dpkg --add-architecture arm64 failed"
    fi
    log "aarch64: installing ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null ||
        skip "apt-get update failed; cannot install ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}" </dev/null ||
        skip "apt-get install failed for: ${missing[*]}"
fi
for tool in aarch64-linux-gnu-gcc qemu-aarch64 cmake ninja readelf; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool not found after installing ${pkgs[*]}"
done
[ -e /lib/ld-linux-aarch64.so.1 ] ||
    skip "/lib/ld-linux-aarch64.so.1 missing (libc6:arm64); qemu with the cross ld.so hangs in fork()"
# qemu's default interpreter is the multiarch one (see the toolchain file).
unset QEMU_LD_PREFIX QEMU_CPU

# Run alone (not from scripts/test), quick mode still leaves out slow tests.
if [ -z "${EHAL_CTEST_ARGS+x}" ]; then
    EHAL_CTEST_ARGS=""
    [ "${EHAL_QUICK:-0}" = 1 ] && EHAL_CTEST_ARGS="-LE slow"
fi
cpus=(max cortex-a53 cortex-a76)
[ "${EHAL_QUICK:-0}" = 1 ] && cpus=(max)
jobs=${EHAL_JOBS:-2}
# Cases run slowly under qemu: generous per-case timeout.
conf_args=(--backend cpu --profile llm-core --quick --jobs "$jobs" --timeout 600 --progress plain)

# ---- build ------------------------------------------------------------------
build="$EHAL_ROOT/build-aarch64"
configure_build "$build" -DCMAKE_TOOLCHAIN_FILE="$EHAL_ROOT/cmake/toolchains/aarch64-linux-gnu.cmake" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEHAL_WERROR=ON -DEHAL_BUILD_TESTS=ON \
    -DCMAKE_INSTALL_LIBDIR=lib -DEHAL_SANITIZE= || die "aarch64: configure failed"
cmake --build "$build" -j "$jobs" || die "aarch64: cross build failed"
edgehal="$build/bin/edgehal"
log "aarch64: built plugins: $(find "$build/lib/edgehal" -maxdepth 1 -name 'libedgehal-*.so' -printf '%f ')"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ehal-aarch64.XXXXXX") || die "aarch64: mktemp failed"
trap 'rm -rf "$tmp"' EXIT

# ---- probe: does each CPU model have the features it should? ----------------
cat >"$tmp/hwcap.c" <<'EOF'
/* Prints the AArch64 features the dispatch keys on, from the kernel's (here:
 * qemu's) auxiliary vector: HWCAP_ASIMD, HWCAP_ASIMDDP, HWCAP2_I8MM. */
#include <stdio.h>
#include <sys/auxv.h>
int main(void) {
    unsigned long h = getauxval(AT_HWCAP), h2 = getauxval(AT_HWCAP2);
    printf("neon=%d dotprod=%d i8mm=%d\n", (int)((h >> 1) & 1), (int)((h >> 20) & 1),
           (int)((h2 >> 13) & 1));
    return 0;
}
EOF
aarch64-linux-gnu-gcc -O1 -o "$tmp/hwcap" "$tmp/hwcap.c" || die "aarch64: cannot build the HWCAP probe"
declare -A want=([max]="neon=1 dotprod=1 i8mm=1" [cortex-a53]="neon=1 dotprod=0 i8mm=0"
    [cortex-a76]="neon=1 dotprod=1 i8mm=0")

fail=0
summary=()

# ---- the device bundle: packed from this tree, unpacked elsewhere -----------
# Every conformance run below uses the unpacked bundle, from an unrelated
# working directory with no edgehal variables set, exactly as a QA engineer
# runs it on a device: everything must come from the bundle.
log "=== aarch64: device bundle"
bundle=$("$EHAL_ROOT/scripts/package-device" --build-dir "$build" --no-build \
    --output "$build/edgehal-device-aarch64.tar.gz" | tail -n 1)
edgehal_conf="$edgehal"
where="build tree"
if [ ! -f "$bundle" ]; then
    warn "aarch64: scripts/package-device failed; conformance runs from the build tree instead"
    fail=1
    summary+=("bundle      scripts/package-device FAILED")
else
    mkdir -p "$tmp/unpack"
    tar -C "$tmp/unpack" -xzf "$bundle" || die "aarch64: cannot unpack $bundle"
    top=$(find "$tmp/unpack" -mindepth 1 -maxdepth 1 -type d | head -n 1)
    (cd "$tmp" && env -u EHAL_BACKEND_PATH -u EHAL_BACKENDS -u LD_LIBRARY_PATH QEMU_CPU=max \
        qemu-aarch64 "$top/bin/edgehal" info) >"$tmp/bundle-info.log" 2>&1
    irc=$?
    if [ $irc -ne 0 ] || ! grep -q "$top/lib/edgehal/libedgehal-cpu.so" "$tmp/bundle-info.log"; then
        cat "$tmp/bundle-info.log"
        warn "aarch64: the bundle's edgehal info failed (exit $irc) or did not load cpu from the bundle"
        fail=1
        summary+=("bundle      $(basename "$bundle"): edgehal info FAILED")
    else
        edgehal_conf="$top/bin/edgehal"
        where="bundle"
        log "aarch64: $(basename "$bundle") ($(du -h "$bundle" | cut -f1)): plugins $(sed -n 's/^plugins: //p' "$top/BUILDINFO"); cpu loaded from the bundle"
        summary+=("bundle      $(basename "$bundle") ($(du -h "$bundle" | cut -f1)): unpacked, edgehal info loads cpu from it")
    fi
fi

for cpu in "${cpus[@]}"; do
    log "=== aarch64: qemu -cpu $cpu"
    got=$(QEMU_CPU=$cpu qemu-aarch64 "$tmp/hwcap")
    if [ "$got" != "${want[$cpu]}" ]; then
        warn "aarch64: -cpu $cpu reports '$got', expected '${want[$cpu]}'"
        fail=1
    else
        log "aarch64: -cpu $cpu features: $got"
    fi

    # What the cpu plugin says it runs with on this model (its kernel choice).
    (cd "$tmp" && QEMU_CPU=$cpu qemu-aarch64 "$edgehal" info 2>&1) |
        awk '/^cpu /{c=1; next} /^[^ ]/{c=0} c && /^  (device|driver) /' | sed 's/^/  /'

    # ctest runs each test under qemu (CMAKE_CROSSCOMPILING_EMULATOR); QEMU_CPU
    # picks the model. EHAL_CTEST_ARGS is "-LE slow" in quick mode.
    # shellcheck disable=SC2086 # EHAL_CTEST_ARGS is a list of words
    QEMU_CPU=$cpu ctest --test-dir "$build" -L '^(ops|cpu)$' $EHAL_CTEST_ARGS \
        --output-on-failure -j "$jobs" >"$tmp/ctest-$cpu.log" 2>&1
    rc=$?
    grep -E 'tests passed|\*\*\*|Failed|Not Run' "$tmp/ctest-$cpu.log" | sed 's/^/  /'
    [ $rc -eq 0 ] || { cat "$tmp/ctest-$cpu.log"; fail=1; }
    tline=$(grep -Eo '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$tmp/ctest-$cpu.log")
    ctest_summary "$build" | sed 's/^/  /'
    # Kernel variants the tests report choosing ("... dispatch on this CPU:
    # <variant>", named <dtypes>_<op>_<tile>__<isa>): a model without an
    # extension must not get a variant that needs it (qemu would also raise
    # SIGILL, failing the test).
    dispatch=$(grep -h 'dispatch on this CPU' "$build/Testing/Temporary/LastTest.log" 2>/dev/null |
        LC_ALL=C sort -u)
    [ -z "$dispatch" ] || printf '%s\n' "$dispatch" | sed 's/^/  /'
    case $cpu in
    cortex-a53) bad='__[a-z0-9_]*(dotprod|i8mm)' ;;
    cortex-a76) bad='__[a-z0-9_]*i8mm' ;;
    *) bad='' ;;
    esac
    if [ -n "$bad" ] && printf '%s\n' "$dispatch" | grep -Eq "$bad"; then
        warn "aarch64: -cpu $cpu lacks an extension a chosen kernel variant needs: $dispatch"
        fail=1
    fi

    mkdir -p "$tmp/cwd-$cpu"
    (cd "$tmp/cwd-$cpu" && env -u EHAL_BACKEND_PATH -u EHAL_BACKENDS -u LD_LIBRARY_PATH \
        QEMU_CPU="$cpu" qemu-aarch64 "$edgehal_conf" conformance "${conf_args[@]}" \
        --json r.json --junit r.xml) >"$tmp/conf-$cpu.log" 2>&1
    crc=$?
    cline=$(grep -E '^[0-9]+ cases: ' "$tmp/conf-$cpu.log" | tail -n 1)
    if [ $crc -ne 0 ] || [ ! -s "$tmp/cwd-$cpu/r.json" ] || [ ! -s "$tmp/cwd-$cpu/r.xml" ] ||
        ! grep -q '"profile_met": *true' "$tmp/cwd-$cpu/r.json"; then
        cat "$tmp/conf-$cpu.log"
        warn "aarch64: -cpu $cpu: conformance failed (exit $crc) or wrote no r.json/r.xml"
        fail=1
    else
        grep -E '^[0-9]+ cases: |^profile ' "$tmp/conf-$cpu.log" | sed 's/^/  /'
    fi
    summary+=("$(printf '%-11s ctest ops+cpu: %s; conformance --quick (%s): %s (exit %d)' "$cpu" \
        "${tline:-no result (exit $rc)}" "$where" "${cline:-no result}" "$crc")")
done

log "aarch64 summary:"
printf '  %s\n' "${summary[@]}"
exit $fail
