#!/usr/bin/env bash
# summary: run `edgehal conformance --profile llm-core` on every backend built
# The suite on every plugin in build/lib/edgehal, with JSON and JUnit reports
# in build/conformance/. A backend whose device is an NPU claims only some
# ops by design: it must pass every case it claims (no failure, crash or
# hang) but is not expected to meet the profile; every other backend must
# meet llm-core. Vulkan runs under the Khronos validation layer.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

build="${EHAL_BUILD_DIR:-$EHAL_ROOT/build}"
edgehal="$build/bin/edgehal"
[ -x "$edgehal" ] || die "no $edgehal: the build stage must run first"
out="$build/conformance"
mkdir -p "$out"

quick=()
[ "$EHAL_QUICK" = 1 ] && quick=(--quick)

# name<TAB>kind for each loaded backend, from `edgehal info --json`.
mapfile -t backends < <("$edgehal" info --json --compact 2>/dev/null | python3 -c '
import json, sys
for b in json.load(sys.stdin)["backends"]:
    print(b["name"] + "\t" + str(b["device"]["kind"]).lower())')
[ ${#backends[@]} -gt 0 ] || die "edgehal info lists no backend"

failed=0
for entry in "${backends[@]}"; do
    name=${entry%%$'\t'*}
    kind=${entry#*$'\t'}
    log "--- conformance on $name ($kind)"
    EHAL_VULKAN_VALIDATION=1 "$edgehal" conformance --backend "$name" --profile llm-core \
        --jobs "$EHAL_JOBS" --progress plain "${quick[@]}" \
        --json "$out/$name.json" --junit "$out/$name.xml" >"$out/$name.log" 2>&1
    rc=$?
    tail -n 3 "$out/$name.log"
    verdict=$(python3 - "$out/$name.json" "$kind" "$rc" <<'PY'
import json, sys
path, kind, rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    d = json.load(open(path))
except Exception as e:
    print(f"FAIL: no report ({e})"); sys.exit()
c = d["counts"]
bad = [x["id"] + ": " + (x.get("message") or x["status"])
       for x in d["cases"] if x["status"] not in ("pass", "unsupported", "xfail", "skip")]
if bad:
    print(f"FAIL: {len(bad)} claimed case(s) failed; first: {bad[0]}")
elif kind == "npu":
    print(f"ok: every claimed case passes ({c.get('pass', 0)} pass, "
          f"{c.get('unsupported', 0)} unsupported by design)")
elif rc != 0 or not d.get("profile_met"):
    print(f"FAIL: profile llm-core not met (exit {rc})")
else:
    print(f"ok: llm-core met ({c.get('pass', 0)} cases)")
PY
)
    log "$name: $verdict (report: $out/$name.json)"
    case $verdict in FAIL*) failed=$((failed + 1)) ;; esac
done
[ "$failed" -eq 0 ] || die "conformance failed on $failed backend(s); see $out/*.log"
log "conformance: every backend built meets what it claims"
