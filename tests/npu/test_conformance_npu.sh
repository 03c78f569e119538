#!/bin/sh
# `edgehal conformance` on the two NPU backends.
#  npu_stub: llm-core is NOT met, cleanly: exit 1, no case fails, crashes or
#    hangs; every op case is unsupported (listed as missing); the only
#    passes are API/ABI checks.
#  npu_sim: each claimed op family (matmul q8_0/q4_0, rms_norm, add, mul,
#    swiglu) and the api checks pass with exit 0 under --filter; the whole
#    llm-core run has 0 failures and its unsupported cases are exactly those
#    of the ops npu_sim does not claim (the profile is therefore NOT met:
#    rope, softmax, attention, ... are missing by design).
#
# usage: test_conformance_npu.sh EDGEHAL_BIN WORK_DIR
set -eu
edgehal=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
status=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; status=1; }

# "id status" per case from a --json report (one key per line, id before status).
statuses() {
    awk -F'"' '/^      "id": / { id = $4 } /^      "status": / { print id, $4 }' "$1"
}

run() { # run NAME ARGS... ; sets rc, output in $work/NAME.txt, json in $work/NAME.json
    name=$1
    shift
    set +e
    "$edgehal" conformance --progress plain --json "$work/$name.json" "$@" > "$work/$name.txt" 2>&1
    rc=$?
    set -e
}

# ---- npu_stub ------------------------------------------------------------
run stub --backend npu_stub
n=$("$edgehal" conformance --backend npu_stub --list | grep -c /)
statuses "$work/stub.json" > "$work/stub.st"
tail -4 "$work/stub.txt"
[ "$rc" -eq 1 ] && ok "npu_stub: exit 1" || bad "npu_stub: exit $rc, want 1"
grep -q '^profile llm-core: NOT MET' "$work/stub.txt" && ok "npu_stub: profile NOT MET" \
    || bad "npu_stub: no 'profile llm-core: NOT MET' line"
[ "$(wc -l < "$work/stub.st")" -eq "$n" ] && ok "npu_stub: all $n listed cases reported" \
    || bad "npu_stub: $(wc -l < "$work/stub.st") cases reported, $n listed"
nf=$(awk '$2 != "pass" && $2 != "unsupported"' "$work/stub.st" | wc -l)
[ "$nf" -eq 0 ] && ok "npu_stub: no case failed, crashed or hung" \
    || { bad "npu_stub: $nf cases neither pass nor unsupported:"; awk '$2 != "pass" && $2 != "unsupported"' "$work/stub.st"; }
np=$(awk '$2 == "pass" && $1 !~ /^api\//' "$work/stub.st" | wc -l)
[ "$np" -eq 0 ] && ok "npu_stub: no op case passes (it supports no op)" \
    || bad "npu_stub: $np op cases pass"
nu=$(awk '$2 == "unsupported" && $1 !~ /^api\//' "$work/stub.st" | wc -l)
no=$(awk '$1 !~ /^api\//' "$work/stub.st" | wc -l)
[ "$nu" -eq "$no" ] && [ "$nu" -gt 0 ] && ok "npu_stub: all $nu op cases unsupported" \
    || bad "npu_stub: $nu of $no op cases unsupported"
missing=$(sed -n '/^missing for llm-core/,/^$/p' "$work/stub.txt" | grep -c '^  [a-z_]*/' || true)
nu_all=$(awk '$2 == "unsupported"' "$work/stub.st" | wc -l)
[ "$missing" -eq "$nu_all" ] && ok "npu_stub: the report lists all $missing unsupported cases as missing" \
    || bad "npu_stub: report lists $missing missing cases, $nu_all unsupported"
grep -q 'api/-/buffers/s1 pass' "$work/stub.st" && ok "npu_stub: buffer API checks pass" \
    || bad "npu_stub: api buffers case did not pass"

# ---- npu_sim, claimed ops one family at a time -----------------------------
for f in 'matmul/q8_0/*' 'matmul/q4_0/*' 'rms_norm/*' 'add/*' 'mul/*' 'swiglu/*' 'api/*'; do
    run sim_family --backend npu_sim --filter "$f"
    k=$("$edgehal" conformance --backend npu_sim --list --filter "$f" | grep -c /)
    if [ "$rc" -eq 0 ] && [ "$k" -gt 0 ] && grep -q "^$k cases: $k pass, 0 fail, 0 unsupported" "$work/sim_family.txt"; then
        ok "npu_sim: $f: $k of $k pass (exit 0)"
    else
        bad "npu_sim: $f: exit $rc:"; tail -5 "$work/sim_family.txt"
    fi
done

# ---- npu_sim, whole profile -------------------------------------------------
run sim --backend npu_sim
statuses "$work/sim.json" > "$work/sim.st"
tail -3 "$work/sim.txt"
claimed='^(matmul/q8_0|matmul/q4_0|rms_norm|add|mul|swiglu|api)/'
nf=$(awk '$2 != "pass" && $2 != "unsupported"' "$work/sim.st" | wc -l)
[ "$nf" -eq 0 ] && ok "npu_sim llm-core: no case failed" || bad "npu_sim llm-core: $nf cases failed"
wrong=$(grep -E "$claimed" "$work/sim.st" | awk '$2 != "pass"' | wc -l)
[ "$wrong" -eq 0 ] && ok "npu_sim llm-core: every case of a claimed op passes ($(grep -cE "$claimed" "$work/sim.st"))" \
    || bad "npu_sim llm-core: $wrong claimed cases did not pass"
extra=$(grep -vE "$claimed" "$work/sim.st" | awk '$2 != "unsupported"' | wc -l)
[ "$extra" -eq 0 ] && ok "npu_sim llm-core: every other case is unsupported ($(grep -cvE "$claimed" "$work/sim.st"))" \
    || bad "npu_sim llm-core: $extra unclaimed cases were not refused"
[ "$rc" -eq 1 ] && grep -q '^profile llm-core: NOT MET' "$work/sim.txt" \
    && ok "npu_sim llm-core: NOT MET (rope, softmax, attention, ... missing by design)" \
    || bad "npu_sim llm-core: exit $rc"
exit $status
