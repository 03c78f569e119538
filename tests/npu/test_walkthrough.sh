#!/bin/sh
# The vendor walk-through, performed on a temporary copy exactly as
# backends/npu_stub/README.md writes it: the README's shell blocks marked
# <!-- walkthrough: step N --> are extracted and run in order (copy, rename,
# drop in the first-op files from docs/writing-a-backend.md, build out of
# tree, `edgehal info` and `edgehal conformance --filter 'add/*'`). Then the
# results are checked:
#  - the renamed tree no longer mentions npu_stub, and the plugin exports
#    only ehal_backend_entry;
#  - `edgehal info` lists backend myvendor as an npu with add supported;
#  - the conformance run exits 0 and passes every case that
#    `--list --filter 'add/*'` names (none fails, none is unsupported);
#  - an op the copy does not implement (mul) is refused cleanly: exit 1,
#    every mul case unsupported, none failed.
#
# usage: test_walkthrough.sh SOURCE_DIR BUILD_DIR CC [WORK_DIR]
set -eu
src=$1
build=$2
cc=$3
work=${4:-$(mktemp -d)}
readme=$src/backends/npu_stub/README.md
edgehal=$build/bin/edgehal

rm -rf "$work"
mkdir -p "$work/vendor"
script=$work/walkthrough.sh
{
    echo 'set -eu'
    awk '
    /^<!-- walkthrough: step [0-9]+ -->/ { want = 1; next }
    want && /^```sh[ \t]*$/ { inblk = 1; want = 0; next }
    inblk && /^```[ \t]*$/ { inblk = 0; n++; next }
    inblk { print; next }
    /^[ \t]*$/ { next }
    { want = 0 }
    END { if (n < 5) { print "exit 99 # fewer than 5 walkthrough steps found"; } }
    ' "$readme"
} > "$script"
echo "== steps taken from $readme =="
cat "$script"

check() { # check DESCRIPTION COMMAND...
    if "$@"; then echo "ok   $desc"; else echo "FAIL $desc"; status=1; fi
}
status=0

echo "== running them =="
set +e
# In a sanitizer build (scripts/test.d/20-sanitize.sh exports
# EHAL_SANITIZED) the SDK and ops archives are instrumented, so the vendor's
# plugin is compiled with the same sanitizers, as a vendor would.
cflags=-Werror
[ -n "${EHAL_SANITIZED:-}" ] && cflags="$cflags -fsanitize=$EHAL_SANITIZED"
EDGEHAL=$src BUILD=$build WORK=$work/vendor CC=$cc CFLAGS="$cflags" \
    sh "$script" > "$work/log" 2>&1
rc=$?
set -e
cat "$work/log"
desc="the walk-through steps run to the end (exit $rc)"
check test "$rc" -eq 0
[ "$rc" -eq 0 ] || exit 1

dir=$work/vendor/myvendor
so=$dir/libedgehal-myvendor.so
desc="no npu_stub/NPU_STUB left in the renamed sources"
check sh -c "! grep -rIl -e npu_stub -e NPU_STUB '$dir/src' '$dir/CMakeLists.txt'"
desc="plugin exports exactly ehal_backend_entry"
check test "$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBR]$/ { print $3 }')" = "ehal_backend_entry"

info=$("$edgehal" info --backends myvendor --backend-path "$so")
desc="edgehal info lists myvendor as an npu"
check sh -c "printf '%s\n' \"\$1\" | grep -q '^myvendor (ABI 1)' && printf '%s\n' \"\$1\" | grep -q 'device    npu:'" _ "$info"
desc="edgehal info shows add supported for f32"
check sh -c "printf '%s\n' \"\$1\" | grep -Eq '^  add +S'" _ "$info"

n_add=$("$edgehal" conformance --backend "$so" --list --filter 'add/*' | grep -c '^add/')
set +e
"$edgehal" conformance --backend "$so" --filter 'add/*' --json "$work/add.json" --progress plain > "$work/add.txt" 2>&1
rc_add=$?
"$edgehal" conformance --backend "$so" --filter 'mul/*' --json "$work/mul.json" --progress plain > "$work/mul.txt" 2>&1
rc_mul=$?
set -e
tail -3 "$work/add.txt"
desc="add conformance exits 0"
check test "$rc_add" -eq 0
desc="all $n_add listed add cases pass (and there are some)"
check sh -c "[ '$n_add' -gt 0 ] && grep -q '^$n_add cases: $n_add pass, 0 fail, 0 unsupported' '$work/add.txt'"
desc="mul (not implemented) exits 1 with every case unsupported and none failed"
n_mul=$("$edgehal" conformance --backend "$so" --list --filter 'mul/*' | grep -c '^mul/')
check sh -c "[ '$rc_mul' -eq 1 ] && grep -q '^$n_mul cases: 0 pass, 0 fail, $n_mul unsupported' '$work/mul.txt'"
exit $status
