#!/bin/sh
# Extracts the C code fragments of a Markdown file (docs/writing-a-backend.md)
# into a directory, so that they can be compiled (test_doc_fragments.sh) or
# dropped into a copy of npu_stub (test_walkthrough.sh, and step 3 of
# backends/npu_stub/README.md).
#
# usage: extract_fragments.sh DOC.md OUTDIR
#
# Convention (also stated in an HTML comment at the top of the doc): every
# ```c block is preceded, on the last non-blank line before its fence, by
#   <!-- fragment: file NAME.c -->   a whole file, written to OUTDIR/NAME.c
#   <!-- fragment: snippet -->       top-level C, written to
#                                    OUTDIR/snippet-NN.c (NN = 01, 02, ...)
# OUTDIR/MANIFEST gets one line per fragment: "file|snippet NAME LINE".
# A ```c block without a marker, an unterminated block or a repeated file
# name is an error (exit 1, one line naming the doc line).
set -eu
if [ $# -ne 2 ]; then
    echo "usage: extract_fragments.sh DOC.md OUTDIR" >&2
    exit 2
fi
doc=$1
out=$2
[ -r "$doc" ] || { echo "extract_fragments: cannot read $doc" >&2; exit 1; }
mkdir -p "$out"
: > "$out/MANIFEST"
awk -v out="$out" -v doc="$doc" '
function fail(msg) { printf "extract_fragments: %s:%d: %s\n", doc, NR, msg > "/dev/stderr"; bad = 1; exit 1 }
BEGIN { inblk = 0; marker = ""; nsnip = 0; bad = 0 }
inblk {
    if ($0 ~ /^```[ \t]*$/) { inblk = 0; close(path); next }
    print > path
    next
}
/^<!-- fragment: / {
    m = $0
    sub(/^<!-- fragment: /, "", m); sub(/[ \t]*-->[ \t]*$/, "", m)
    marker = m; mline = NR
    next
}
/^```c[ \t]*$/ {
    if (marker == "") fail("```c block without a <!-- fragment: ... --> marker")
    n = split(marker, f, /[ \t]+/)
    if (f[1] == "file" && n == 2 && f[2] ~ /^[A-Za-z0-9_.-]+\.[ch]$/) {
        name = f[2]
        if (name in seen) fail("file fragment " name " appears twice")
        seen[name] = 1
        kind = "file"
    } else if (f[1] == "snippet" && n == 1) {
        nsnip++
        name = sprintf("snippet-%02d.c", nsnip)
        kind = "snippet"
    } else fail("bad fragment marker \"" marker "\" (want \"file NAME.c\" or \"snippet\")")
    path = out "/" name
    printf "" > path
    printf "%s %s %d\n", kind, name, NR + 1 >> (out "/MANIFEST")
    inblk = 1; marker = ""
    next
}
/^[ \t]*$/ { next }
{ if (marker != "" && NR > mline) fail("fragment marker of line " mline " is not followed by a ```c block") }
END {
    if (bad) exit 1
    if (inblk) { printf "extract_fragments: %s: unterminated ```c block\n", doc > "/dev/stderr"; exit 1 }
}
' "$doc"
