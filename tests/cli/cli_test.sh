#!/usr/bin/env bash
# Behaviour of the `edgehal` command, checked from outside: exit codes,
# where usage goes, --help on every command, `info --json` against the op
# catalog, and a broken plugin on EHAL_BACKEND_PATH.
#
# usage: cli_test.sh <check>   with the environment set by tests/cli/CMakeLists.txt:
#   EDGEHAL           the binary          EHAL_CMD_LIST   file, one command per line
#   EHAL_ABI_HEADER   backend_abi.h       EHAL_TEST_PLUGINS dir of broken test plugins
#   EHAL_HAVE_CPU     1 if the cpu plugin is built     PYTHON  python3 or empty
# Exit 0 pass, 1 fail, 77 skipped (with the reason printed).
set -u

check=${1:?usage: cli_test.sh <check>}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
skip() { echo "SKIP: $*"; exit 77; }

# run NAME ARGS...: runs the binary with ARGS, stdout/stderr to $tmp/NAME.out/.err,
# the status in $rc. The user's plugin selection must not leak in.
run() {
    local name=$1
    shift
    env -u EHAL_BACKENDS -u EHAL_BACKEND_PATH -u EHAL_LOG "$EDGEHAL" "$@" \
        >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null
    rc=$?
}

expect_rc() { # expect_rc NAME WANT DESCRIPTION
    if [ "$rc" -eq "$2" ]; then pass "$3: exit $rc"; else
        fail "$3: exit $rc, want $2"; sed 's/^/  stderr: /' "$tmp/$1.err" | head -20; fi
}

expect_grep() { # expect_grep FILE PATTERN DESCRIPTION  (fixed string)
    if grep -qF -- "$2" "$1"; then pass "$3"; else
        fail "$3: '$2' not in $(basename "$1")"; sed 's/^/  | /' "$1" | head -20; fi
}

commands() { grep -v '^[[:space:]]*$' "$EHAL_CMD_LIST"; }

case $check in
help)
    run top --help
    expect_rc top 0 "edgehal --help"
    expect_grep "$tmp/top.out" "usage: edgehal" "edgehal --help prints usage on stdout"
    for c in $(commands); do
        expect_grep "$tmp/top.out" "  $c " "edgehal --help lists '$c'"
        run "$c" "$c" --help
        expect_rc "$c" 0 "edgehal $c --help"
        expect_grep "$tmp/$c.out" "usage: edgehal $c" "edgehal $c --help prints its usage"
        run "$c-h" help "$c"
        expect_rc "$c-h" 0 "edgehal help $c"
        expect_grep "$tmp/$c-h.out" "usage: edgehal $c" "edgehal help $c prints its usage"
    done
    run version --version
    expect_rc version 0 "edgehal --version"
    expect_grep "$tmp/version.out" "edgehal " "edgehal --version names itself"
    ;;
unknown-flag)
    for c in $(commands); do
        run "$c" "$c" --no-such-flag
        expect_rc "$c" 2 "edgehal $c --no-such-flag"
        expect_grep "$tmp/$c.err" "edgehal $c: unknown option '--no-such-flag'" \
            "edgehal $c names the unknown flag on stderr"
        expect_grep "$tmp/$c.err" "usage: edgehal $c" "edgehal $c prints usage on stderr"
        if [ -s "$tmp/$c.out" ]; then fail "edgehal $c --no-such-flag wrote to stdout"; fi
    done
    ;;
unknown-command)
    run none frobnicate --json
    expect_rc none 2 "edgehal frobnicate"
    expect_grep "$tmp/none.err" "unknown command 'frobnicate'" "the unknown command is named"
    expect_grep "$tmp/none.err" "usage: edgehal" "usage goes to stderr"
    run empty
    expect_rc empty 2 "edgehal with no command"
    expect_grep "$tmp/empty.err" "usage: edgehal" "usage goes to stderr"
    run flag --frobnicate
    expect_rc flag 2 "edgehal --frobnicate"
    expect_grep "$tmp/flag.err" "unknown option '--frobnicate'" "the unknown option is named"
    ;;
info-json)
    [ "${EHAL_HAVE_CPU:-0}" = 1 ] || skip "the cpu backend plugin is not built"
    [ -n "${PYTHON:-}" ] || skip "python3 not found at configure time"
    run info info --json
    expect_rc info 0 "edgehal info --json"
    if "$PYTHON" -m json.tool "$tmp/info.out" >/dev/null 2>"$tmp/jsontool.err"; then
        pass "python3 -m json.tool parses the document"
    else
        fail "python3 -m json.tool: $(head -1 "$tmp/jsontool.err")"
    fi
    if "$PYTHON" "$here/check_info_json.py" "$tmp/info.out" "$EHAL_ABI_HEADER" --backend cpu; then
        pass "cpu is listed with every catalog op"
    else
        fail "check_info_json.py"
    fi
    run text info
    expect_rc text 0 "edgehal info"
    expect_grep "$tmp/text.out" "Op support: P preferred, S supported" "the matrix has a legend"
    ops=$("$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); import check_info_json as c; print(" ".join(c.catalog(sys.argv[2])[0]))' "$here" "$EHAL_ABI_HEADER")
    [ -n "$ops" ] || fail "no op names read from $EHAL_ABI_HEADER"
    for op in $ops; do
        expect_grep "$tmp/text.out" "  $op " "the text matrix has a row for $op"
    done
    ;;
broken-plugin)
    [ "${EHAL_HAVE_CPU:-0}" = 1 ] || skip "the cpu backend plugin is not built"
    [ -n "${PYTHON:-}" ] || skip "python3 not found at configure time"
    junk="$tmp/libedgehal-junk.so"
    printf 'this is not an ELF file\n' >"$junk"
    path=$junk
    # The loader tests' deliberately broken plugins, when they are built.
    # The ones whose names say they are broken must be skipped, with a reason.
    want=(--skipped "$junk")
    for so in "${EHAL_TEST_PLUGINS:-/nonexistent}"/*.so; do
        [ -f "$so" ] || continue
        path="$path:$so"
        case $(basename "$so") in
        *nosym* | *badver* | *short* | *initfail* | *junk*) want+=(--skipped "$so") ;;
        esac
    done
    echo "EHAL_BACKEND_PATH=$path"
    env -u EHAL_BACKENDS EHAL_BACKEND_PATH="$path" "$EDGEHAL" info --json \
        >"$tmp/json.out" 2>"$tmp/json.err" </dev/null
    rc=$?
    expect_rc json 0 "info --json with a broken plugin"
    expect_grep "$tmp/json.err" "edgehal: skipped $junk: " "the junk file's reason is on stderr"
    if "$PYTHON" "$here/check_info_json.py" "$tmp/json.out" "$EHAL_ABI_HEADER" \
        --backend cpu "${want[@]}"; then
        pass "cpu still listed; $((${#want[@]} / 2)) broken plugin(s) in skipped[] with a reason"
    else
        fail "check_info_json.py"
    fi
    env -u EHAL_BACKENDS EHAL_BACKEND_PATH="$path" "$EDGEHAL" info \
        >"$tmp/text.out" 2>"$tmp/text.err" </dev/null
    rc=$?
    expect_rc text 0 "info with a broken plugin"
    expect_grep "$tmp/text.out" "Skipped plugins:" "the text report lists skipped plugins"
    expect_grep "$tmp/text.out" "  $junk: " "the text report gives the junk file's reason"
    expect_grep "$tmp/text.out" "cpu (ABI " "the text report still lists cpu"
    ;;
common-options)
    [ "${EHAL_HAVE_CPU:-0}" = 1 ] || skip "the cpu backend plugin is not built"
    [ -n "${PYTHON:-}" ] || skip "python3 not found at configure time"
    chk() { "$PYTHON" "$here/check_info_json.py" "$tmp/$1.out" "$EHAL_ABI_HEADER" "${@:2}"; }
    run none info --json --backends nothing
    expect_rc none 0 "info --backends nothing"
    if chk none --absent cpu; then pass "--backends nothing loads no cpu"; else
        fail "--backends nothing"; fi
    EHAL_BACKENDS=nothing "$EDGEHAL" info --json --backends cpu >"$tmp/over.out" \
        2>"$tmp/over.err" </dev/null
    rc=$?
    expect_rc over 0 "info --backends cpu with EHAL_BACKENDS=nothing"
    if chk over --backend cpu; then pass "--backends overrides EHAL_BACKENDS"; else
        fail "--backends does not override EHAL_BACKENDS"; fi
    junk="$tmp/libedgehal-junk2.so"
    printf 'junk\n' >"$junk"
    run path info --json --backend-path "$junk"
    expect_rc path 0 "info --backend-path JUNK"
    if chk path --backend cpu --skipped "$junk"; then pass "--backend-path is searched"; else
        fail "--backend-path"; fi
    # An option the cpu backend refuses reaches it: its init fails, so it is
    # skipped (with a reason) instead of loaded.
    run opt info --json --option cpu.threads=not-a-number
    expect_rc opt 0 "info --option cpu.threads=not-a-number"
    if chk opt --absent cpu; then pass "--option reaches the backend's init"; else
        fail "--option cpu.threads=not-a-number did not reach the cpu backend"; fi
    run badopt info --option threads
    expect_rc badopt 2 "info --option threads (no backend)"
    expect_grep "$tmp/badopt.err" "--option 'threads' is not BACKEND.KEY=VALUE" \
        "the malformed --option is named"
    run extra info surplus
    expect_rc extra 2 "info with a positional argument"
    expect_grep "$tmp/extra.err" "unexpected argument 'surplus'" "the surplus argument is named"
    run cmds --commands
    expect_rc cmds 0 "edgehal --commands"
    if diff <(commands) "$tmp/cmds.out" >/dev/null; then
        pass "--commands matches the generated command list"
    else fail "--commands differs from $EHAL_CMD_LIST"; fi
    ;;
bench-model)
    # `edgehal bench --model`: pp/tg rows with positive tokens/s in the table
    # and the JSON, one-line errors for a missing file and nothing to measure.
    [ "$EHAL_HAVE_CPU" = 1 ] || skip "the cpu plugin is not built"
    run bm bench --model builtin -p 8 -n 4 -t 1 --reps 2 --json "$tmp/bm.json"
    expect_rc bm 0 "bench --model builtin -p 8 -n 4"
    expect_grep "$tmp/bm.out" "threads  test" "the table header is printed"
    for t in pp8 tg4; do
        if grep -Eq "^1 +$t +[0-9]+\.[0-9]" "$tmp/bm.out"; then pass "a $t row for 1 thread"; else
            fail "no $t row"; sed 's/^/  | /' "$tmp/bm.out"; fi
    done
    if [ -n "$PYTHON" ]; then
        if "$PYTHON" - "$tmp/bm.json" <<'PY'; then pass "--json has both tests with tokens/s > 0"; else fail "--json"; fi
import json, sys
r = json.load(open(sys.argv[1]))["results"]
assert [x["test"] for x in r] == ["pp8", "tg4"], r
assert all(x["tokens_per_s"] > 0 and x["min"] <= x["tokens_per_s"] <= x["max"] for x in r), r
assert r[1]["weight_gb_per_s"] > 0, r
PY
    fi
    run bmiss bench --model "$tmp/none.gguf"
    expect_rc bmiss 1 "bench --model of a missing file"
    expect_grep "$tmp/bmiss.err" "$tmp/none.gguf" "the missing file is named"
    [ "$(wc -l <"$tmp/bmiss.err")" = 1 ] && pass "one error line" || fail "not one error line"
    run bnone bench --model builtin -p 0 -n 0
    expect_rc bnone 2 "bench --model with -p 0 -n 0"
    ;;
run-check)
    # `run --check` on the cpu backend alone passes for every KV cache dtype:
    # int8 activations upstream of a Q4_0 cache round K/V a 4-bit step
    # apart from the reference, which the tolerance must allow for.
    [ "$EHAL_HAVE_CPU" = 1 ] || skip "the cpu plugin is not built"
    for kv in f16 q8_0 q4_0; do
        run chk_$kv run --backends cpu -t 1 -n 32 -q --check --kv-type $kv
        expect_rc chk_$kv 0 "run --check --kv-type $kv"
        expect_grep "$tmp/chk_$kv.out" ": PASS" "--check --kv-type $kv says PASS"
    done
    # The tiny preset's head dim (48) is not a whole number of 32-value blocks.
    run mkt mkmodel --preset tiny --quant q8_0 --out "$tmp/tiny.gguf"
    expect_rc mkt 0 "mkmodel --preset tiny"
    run kvblk run --model "$tmp/tiny.gguf" --kv-type q8_0 -n 2 -q
    expect_rc kvblk 1 "run --kv-type q8_0 on a head dim of 48"
    expect_grep "$tmp/kvblk.err" "head dim 48 is not a multiple of the q8_0 block" "the error names the head dim and the block"
    ;;
replan-while-planning)
    # A backend whose allocation fails while the decode program is built is
    # dropped and every T re-planned; the prefill plan handed out before
    # must not be used after that (it was freed: a use-after-free that
    # printed garbage). Fail the k-th npu_sim allocation for every k up to
    # past the last one: each run finishes with the healthy tokens and
    # prints both plans whole.
    [ "$EHAL_HAVE_CPU" = 1 ] || skip "the cpu plugin is not built"
    have_npu=$("$EDGEHAL" info --backends npu_sim 2>/dev/null | grep -c '^npu_sim')
    [ "$have_npu" -ge 1 ] || skip "the npu_sim plugin is not built"
    args=(run --backends cpu,npu_sim --pin 'layer 0 op:matmul=npu_sim' -t 1 -n 4)
    run healthy "${args[@]}"
    expect_rc healthy 0 "run with npu_sim, no fault"
    want=$(grep '^tokens:' "$tmp/healthy.out")
    bad=0
    for k in $(seq 0 40); do
        EHAL_FAULT="npu_sim:alloc:after=$k" run "f$k" "${args[@]}"
        got=$(grep '^tokens:' "$tmp/f$k.out")
        if [ "$rc" -ne 0 ] || [ "$got" != "$want" ] ||
            ! grep -Eq '^prefill \(T=8\) plan: 71 nodes in [0-9]+ partitions?,' "$tmp/f$k.out" ||
            ! grep -Eq '^decode \(T=1\) plan: 71 nodes in [0-9]+ partitions?,' "$tmp/f$k.out" ||
            grep -q 'Sanitizer' "$tmp/f$k.err"; then
            fail "npu_sim:alloc:after=$k: exit $rc, $got"
            sed 's/^/  | /' "$tmp/f$k.err" | head -5
            bad=$((bad + 1))
        fi
    done
    [ "$bad" -eq 0 ] && pass "41 runs, each npu_sim allocation failing in turn: healthy tokens, whole plans"
    ;;
memory-budget)
    # Issue #5's memory bar: peak RSS <= 1.1 x (weights as held + KV caches)
    # + 64 MiB, on a model written here (weights memory-mapped, imported by
    # the host-shared cpu backend rather than copied).
    [ "$EHAL_HAVE_CPU" = 1 ] || skip "the cpu plugin is not built"
    run mk mkmodel --preset small --quant q4_0 --out "$tmp/small.gguf"
    expect_rc mk 0 "mkmodel --preset small --quant q4_0"
    run mem run --model "$tmp/small.gguf" --backends cpu -t 1 -n 8 -q
    expect_rc mem 0 "run --model small.gguf"
    line=$(grep '^memory:' "$tmp/mem.out")
    read -r w kv peak < <(sed -E 's/^memory: weights ([0-9.]+) MiB.*KV caches ([0-9.]+) MiB.*peak RSS ([0-9.]+) MiB.*/\1 \2 \3/' <<<"$line")
    if [ -z "${peak:-}" ]; then fail "no memory line in run's output: '$line'"
    elif awk -v w="$w" -v kv="$kv" -v p="$peak" 'BEGIN { exit !(p <= 1.1 * (w + kv) + 64 && w > 40) }'; then
        pass "peak RSS $peak MiB <= 1.1 x ($w + $kv) + 64 MiB"
    else fail "peak RSS $peak MiB > 1.1 x (weights $w + KV $kv) + 64 MiB"; fi
    ;;
*)
    echo "cli_test.sh: unknown check '$check'"
    exit 1
    ;;
esac

if [ "$failures" -gt 0 ]; then
    echo "$check: $failures check(s) failed"
    exit 1
fi
echo "$check: all checks passed"
