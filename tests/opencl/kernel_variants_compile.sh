#!/usr/bin/env bash
# Compiles the OpenCL program (the kernels in program order) with clang for
# every combination of optional-feature defines the plugin can pass
# (backends/opencl/cl_device.c): fp16, subgroups (khr and intel), int8 dot
# (khr and arm), GEMM tile 16 and 8. PoCL here offers none of those
# features, so the run-time tests only reach the portable path; this check
# at least keeps the feature paths compiling, with warnings as errors.
#
# usage: kernel_variants_compile.sh CLANG KERNEL_FILE...   (in program order)
# Exit 0 pass, 1 fail, 77 skipped (with the reason printed).
set -u
clang=${1:?usage: kernel_variants_compile.sh CLANG KERNEL_FILE...}
shift
[ $# -gt 0 ] || { echo "kernel_variants_compile.sh: no kernel files"; exit 1; }
if ! command -v "$clang" >/dev/null 2>&1; then
    echo "SKIP: clang ('$clang') not found; install clang"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat "$@" >"$tmp/program.cl" || exit 1

# clang declares the subgroup and integer-dot builtins for OpenCL C 2.0 only;
# the plugin asks for 1.2 and a driver with the extension declares them.
variants=(
    "CL1.2|-DEHAL_TILE=16"
    "CL1.2|-DEHAL_TILE=8"
    "CL1.2|-DEHAL_TILE=16 -DEHAL_FP16"
    "CL2.0|-DEHAL_TILE=16 -DEHAL_SUBGROUPS -DEHAL_SUBGROUPS_KHR"
    "CL2.0|-DEHAL_TILE=8 -DEHAL_SUBGROUPS"
    "CL2.0|-DEHAL_TILE=16 -DEHAL_DOT8_KHR"
    "CL1.2|-DEHAL_TILE=16 -DEHAL_DOT8_ARM"
    "CL2.0|-DEHAL_TILE=16 -DEHAL_FP16 -DEHAL_SUBGROUPS -DEHAL_SUBGROUPS_KHR -DEHAL_DOT8_KHR"
)
failures=0
for v in "${variants[@]}"; do
    std=${v%%|*}
    defs=${v#*|}
    # shellcheck disable=SC2086 # defs is a list of flags
    if "$clang" -x cl -cl-std="$std" -Xclang -finclude-default-header -target spir64 \
        -fsyntax-only -Werror -Wno-ignored-pragmas $defs "$tmp/program.cl" >"$tmp/out" 2>&1; then
        echo "ok: -cl-std=$std $defs"
    else
        echo "FAIL: -cl-std=$std $defs"
        sed 's/^/  | /' "$tmp/out" | head -20
        failures=$((failures + 1))
    fi
done
[ "$failures" -eq 0 ] || { echo "kernel variants: $failures failed"; exit 1; }
echo "kernel variants: all ${#variants[@]} compile"
