#!/usr/bin/env python3
"""Writes Tests/DataPipelineTests/Fixtures/brace-expansion.json: patterns and what the `braceexpand`
package (what webdataset expands its URLs with) makes of them, for `BraceExpansion`'s tests.

    .venv-ref/bin/pip install braceexpand && .venv-ref/bin/python Scripts/make-brace-expansion-fixture.py

Each entry: {"pattern": P, "expanded": [...]} or {"pattern": P, "error": true} when braceexpand raises.
"""
import json
import os
import sys

import braceexpand

patterns = [
    "shards/{00000..00003}.tar", "shards/{0..3}.tar", "shards/{8..11}.tar", "shards/{008..011}.tar",
    "{1..10..3}", "{10..1..3}", "{3..1}", "{-03..2}", "{-2..2}", "{a..e}", "{e..a..2}",
    "cc3m/{00000..00002}.tar.gz", "a{b,c}d{1,2}", "{x,y}/{0..1}/{p,q}.tar", "{a,b{1..2},c}", "{a,{b,c}d}",
    "{x}", "{}", "plain.tar", r"\{a,b\}.tar", r"a\,b", "{a,}", "{,b}", "x{1..3}y{04..05}",
    "{a,b", "a}b", "{a,b}}",
]
cases = []
for pattern in patterns:
    try:
        cases.append({"pattern": pattern, "expanded": list(braceexpand.braceexpand(pattern))})
    except Exception:   # braceexpand.UnbalancedBracesError
        cases.append({"pattern": pattern, "error": True})
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "DataPipelineTests", "Fixtures", "brace-expansion.json")
with open(out, "w", encoding="utf-8") as f:
    json.dump({"braceexpand_version": braceexpand.__version__, "cases": cases}, f, indent=1)
print("wrote", len(cases), "cases to", os.path.normpath(out))
