#!/bin/sh
# The fragment check fails when it should: a copy of the doc with one
# snippet broken (a missing semicolon) and one with an unmarked ```c block
# must both make test_doc_fragments.sh exit non-zero, naming the problem.
#
# usage: test_doc_fragments_selfcheck.sh SOURCE_DIR CC WORK_DIR
set -eu
src=$1
cc=$2
work=$3
rm -rf "$work"
mkdir -p "$work"
doc=$src/docs/writing-a-backend.md
status=0

# 1. A compile error inside the first snippet (its first "return EHAL_STATUS_OK;").
awk 'BEGIN { done = 0 }
     !done && /^    return EHAL_STATUS_OK;$/ { print "    return EHAL_STATUS_OK"; done = 1; next }
     { print }' "$doc" > "$work/broken.md"
if DOC=$work/broken.md sh "$src/tests/npu/test_doc_fragments.sh" "$src" "$cc" "$work/b" > "$work/broken.log" 2>&1; then
    echo "FAIL a snippet with a syntax error was accepted"; status=1
elif grep -q '^FAIL snippet' "$work/broken.log"; then
    echo "ok   a snippet with a syntax error fails: $(grep -m1 '^FAIL' "$work/broken.log")"
else
    echo "FAIL the broken snippet was not named:"; cat "$work/broken.log"; status=1
fi

# 2. A ```c block without a fragment marker.
{ cat "$doc"; printf '\nText.\n\n```c\nint unmarked;\n```\n'; } > "$work/unmarked.md"
if DOC=$work/unmarked.md sh "$src/tests/npu/test_doc_fragments.sh" "$src" "$cc" "$work/u" > "$work/unmarked.log" 2>&1; then
    echo "FAIL an unmarked c block was accepted"; status=1
elif grep -q 'without a <!-- fragment' "$work/unmarked.log"; then
    echo "ok   an unmarked c block fails: $(grep -m1 'without' "$work/unmarked.log")"
else
    echo "FAIL the unmarked block was not named:"; cat "$work/unmarked.log"; status=1
fi

# 3. The real doc passes (so 1 and 2 failed for their reason, not the setup).
if sh "$src/tests/npu/test_doc_fragments.sh" "$src" "$cc" "$work/ok" > "$work/ok.log" 2>&1; then
    echo "ok   the unmodified doc passes"
else
    echo "FAIL the unmodified doc fails:"; cat "$work/ok.log"; status=1
fi
exit $status
