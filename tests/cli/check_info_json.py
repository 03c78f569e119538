#!/usr/bin/env python3
"""Checks the document `edgehal info --json` printed (argv[1], a file).

The op and dtype names come from the EHAL_OP_LIST / EHAL_DTYPE_LIST tables
in backend_abi.h (argv[2]), read independently of the code under test.
Options: --backend NAME (must be listed, with every catalog op),
--absent NAME (must not be listed), --skipped PATH (must be listed as
skipped with a non-empty reason).
Exit 0 when every check passes; otherwise one line per failure, exit 1."""
import json
import re
import sys


def catalog(header):
    text = open(header, encoding="utf-8").read()

    def table(macro, pattern):
        body = text.split("#define " + macro + "(X)", 1)[1]
        lines = []
        for line in body.splitlines():
            lines.append(line)
            if not line.rstrip().endswith("\\"):
                break
        return re.findall(pattern, "\n".join(lines))

    ops = table("EHAL_OP_LIST", r'X\(\s*\w+\s*,\s*\d+\s*,\s*"(\w+)"')
    dtypes = table("EHAL_DTYPE_LIST", r'X\(\s*\w+\s*,\s*\d+\s*,\s*"(\w+)"')
    return ops, dtypes


def main(argv):
    doc_path, header = argv[1], argv[2]
    want = {"--backend": [], "--absent": [], "--skipped": []}
    rest = argv[3:]
    while rest:
        flag, value, rest = rest[0], rest[1], rest[2:]
        want[flag].append(value)
    want_backends, want_skipped = want["--backend"], want["--skipped"]
    ops, dtypes = catalog(header)
    failures = []
    if not ops or not dtypes:
        failures.append("could not read the op/dtype tables from " + header)
    with open(doc_path, encoding="utf-8") as f:
        doc = json.load(f)  # raises, and so fails, on invalid JSON
    for key in ("edgehal_version", "abi", "dtypes", "backends", "skipped"):
        if key not in doc:
            failures.append("missing top-level key '%s'" % key)
    if sorted(doc.get("dtypes", [])) != sorted(dtypes):
        failures.append("dtypes %s != catalog %s" % (doc.get("dtypes"), dtypes))
    backends = {b.get("name"): b for b in doc.get("backends", [])}
    for name in want_backends:
        be = backends.get(name)
        if be is None:
            failures.append("backend '%s' not listed (have %s)" % (name, sorted(backends)))
            continue
        for key in ("path", "abi_version", "device", "ops"):
            if key not in be:
                failures.append("backend '%s' lacks '%s'" % (name, key))
        dev = be.get("device", {})
        if dev.get("kind") not in ("cpu", "gpu", "npu", "other"):
            failures.append("backend '%s' device kind %r" % (name, dev.get("kind")))
        for op in ops:
            cells = be.get("ops", {}).get(op)
            if cells is None:
                failures.append("backend '%s' lacks op '%s'" % (name, op))
                continue
            if not cells:
                failures.append("backend '%s' op '%s' has no dtype" % (name, op))
            for dt, level in cells.items():
                if dt not in dtypes or level not in ("preferred", "supported", "unsupported"):
                    failures.append("backend '%s' op '%s': %r: %r" % (name, op, dt, level))
        extra = set(be.get("ops", {})) - set(ops)
        if extra:
            failures.append("backend '%s' lists ops not in the catalog: %s" % (name, sorted(extra)))
    for name in want["--absent"]:
        if name in backends:
            failures.append("backend '%s' is listed but should not be" % name)
    skipped = {s.get("path"): s.get("reason") for s in doc.get("skipped", [])}
    for path, reason in skipped.items():
        if not reason:
            failures.append("skipped '%s' has no reason" % path)
    for path in want_skipped:
        if path not in skipped:
            failures.append("'%s' not in skipped (have %s)" % (path, sorted(skipped)))
    for f in failures:
        print("check_info_json: " + f)
    if not failures:
        print("check_info_json: ok: %d backends, %d ops, %d skipped"
              % (len(backends), len(ops), len(skipped)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
