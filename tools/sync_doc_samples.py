#!/usr/bin/env python3
"""Rewrites every sample block of README.md and docs/*.md from its file: the fenced block after a line
`<!-- sample: PATH -->` becomes the text of PATH (relative to the repository). tests/docs/check_samples.sh is the
check; this is the fix.    python3 tools/sync_doc_samples.py"""
import pathlib
import re

root = pathlib.Path(__file__).resolve().parent.parent
FENCE = {".cpp": "cpp", ".py": "python", ".yaml": "yaml", ".sh": "sh"}
for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
    lines = doc.read_text().split("\n")
    out, i = [], 0
    while i < len(lines):
        out.append(lines[i])
        match = re.fullmatch(r"<!-- sample: (.+) -->", lines[i])
        i += 1
        if not match:
            continue
        path = match.group(1)
        text = (root / path).read_text()
        assert i < len(lines) and lines[i].startswith("```"), f"{doc}: no block after the marker for {path}"
        end = i + 1
        while lines[end] != "```":
            end += 1
        out.append("```" + FENCE[pathlib.Path(path).suffix])
        out.extend(text.rstrip("\n").split("\n"))
        out.append("```")
        i = end + 1
    doc.write_text("\n".join(out))
