#!/bin/sh
# Every C fragment of docs/writing-a-backend.md compiles (the convention is
# in the HTML comment at the top of the doc and in extract_fragments.sh).
#
# usage: test_doc_fragments.sh SOURCE_DIR CC [WORK_DIR]
# DOC=path overrides the doc (the self-test feeds it a broken copy).
# Exit 0 when every fragment compiles with -Werror and at least one file
# fragment and one snippet were found; 1 otherwise, naming each fragment that
# failed with the doc line where it starts.
set -eu
src=$1
cc=$2
work=${3:-$(mktemp -d)}
doc=${DOC:-$src/docs/writing-a-backend.md}
frag=$work/fragments
rm -rf "$frag"
mkdir -p "$frag"
sh "$src/tests/npu/extract_fragments.sh" "$doc" "$frag"

flags="-std=c11 -Wall -Wextra -Wpedantic -Werror -Wno-unused-function"
incs="-I$frag -I$src/hal/include -I$src/ops/include -I$src/backends/sdk/include -I$src/backends/npu_stub/src"
fail=0
n_file=0
n_snip=0
while read -r kind name line; do
    case $kind in
    file)
        n_file=$((n_file + 1))
        case $name in
        *.h) tu=$work/check_$name.c
             printf '#include "%s"\n' "$name" > "$tu" ;;
        *) tu=$frag/$name ;;
        esac ;;
    snippet)
        n_snip=$((n_snip + 1))
        tu=$work/wrapped_$name
        {
            printf '#include <stddef.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <string.h>\n'
            printf '#include "edgehal/backend_abi.h"\n#include "edgehal/ops.h"\n'
            printf '#include "edgehal/quant.h"\n#include "edgehal/backend_sdk.h"\n'
            printf '#include "tutorial_backend.h"\n#line %s "%s"\n' "$line" "$doc"
            cat "$frag/$name"
        } > "$tu" ;;
    *) echo "unknown fragment kind '$kind'"; fail=1; continue ;;
    esac
    # shellcheck disable=SC2086
    if $cc $flags $incs -c "$tu" -o "$work/$name.o" 2> "$work/$name.err"; then
        echo "ok   $kind $name (doc line $line)"
    else
        echo "FAIL $kind $name (doc line $line):"
        sed 's/^/    /' "$work/$name.err"
        fail=1
    fi
done < "$frag/MANIFEST"

echo "$n_file file fragments, $n_snip snippets"
if [ "$n_file" -lt 1 ] || [ "$n_snip" -lt 1 ]; then
    echo "expected at least one file fragment and one snippet in $doc"
    exit 1
fi
exit $fail
