#!/usr/bin/env python3
"""The docs' code samples are files that the test suite compiles and runs; the docs include them verbatim.

In README.md and docs/*.md, a line `<!-- sample: PATH -->` right before a fenced block says the block is the file
PATH (relative to the repository), and `<!-- sample: PATH#NAME -->` says it is the region NAME of that file: the
lines between `// [doc:NAME]` and `// [/doc:NAME]` (`#` comments in Python and YAML), without their common
indentation. Region marker lines never appear in a doc.

    python3 tools/sync_doc_samples.py           rewrites every sample block from its file (the fix)
    python3 tools/sync_doc_samples.py --check   checks (ctest DocSamplesMatchTheDocs), and also that every C++
                                                block of every doc is a sample, and that every file under
                                                examples/docs/ is shown by some doc
"""
import pathlib
import re
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent
FENCE = {".cpp": "cpp", ".py": "python", ".yaml": "yaml", ".sh": "sh"}
MARKER = re.compile(r"<!-- sample: ([^#]+?)(?:#(\w+))? -->")
REGION = re.compile(r"\s*(//|#) \[(/?)doc:(\w+)\]\s*")


class SampleError(Exception):
    pass


def sample_text(path, region):
    """The text a doc shows for PATH or PATH#REGION."""
    file = ROOT / path
    if not file.is_file():
        raise SampleError(f"{path} does not exist")
    lines = file.read_text().rstrip("\n").split("\n")
    if region is None:
        return [line for line in lines if not REGION.fullmatch(line)]
    starts = [i for i, line in enumerate(lines) if (m := REGION.fullmatch(line)) and not m[2] and m[3] == region]
    ends = [i for i, line in enumerate(lines) if (m := REGION.fullmatch(line)) and m[2] and m[3] == region]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise SampleError(f"{path} needs exactly one `[doc:{region}]` ... `[/doc:{region}]` pair of comment lines")
    body = [line for line in lines[starts[0] + 1:ends[0]] if not REGION.fullmatch(line)]
    return textwrap.dedent("\n".join(body)).split("\n")


def process(doc, fix, problems, shown):
    """Checks (or, with fix, rewrites) one doc's sample blocks; returns the number of blocks."""
    lines = doc.read_text().split("\n")
    out, i, count = [], 0, 0
    name = doc.relative_to(ROOT)
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        match = MARKER.fullmatch(line)
        if line.startswith("```cpp"):
            problems.append(f"{name}:{i}: a C++ block that is not a sample file (add `<!-- sample: PATH -->`)")
        if line.startswith("```"):  # an ordinary block: copy it through
            while i < len(lines) and lines[i] != "```":
                out.append(lines[i])
                i += 1
            if i < len(lines):
                out.append(lines[i])
                i += 1
            continue
        if not match:
            continue
        path, region = match[1], match[2]
        if i >= len(lines) or not lines[i].startswith("```"):
            problems.append(f"{name}:{i}: the marker for {path} is not followed by a fenced block")
            continue
        end = i + 1
        while end < len(lines) and lines[end] != "```":
            end += 1
        count += 1
        shown.add(path)
        try:
            want = sample_text(path, region)
        except SampleError as e:
            problems.append(f"{name}:{i}: {e}")
            want = lines[i + 1:end]
        if lines[i + 1:end] != want:
            problems.append(f"{name}:{i + 1}: the block differs from {match[0][13:-4]}")
        out.append("```" + FENCE.get(pathlib.Path(path).suffix, ""))
        out.extend(want)
        out.append("```")
        i = end + 1
    if fix:
        doc.write_text("\n".join(out))
    return count


def main():
    check = "--check" in sys.argv[1:]
    problems, shown, count = [], set(), 0
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        count += process(doc, not check, problems, shown)
    for file in sorted((ROOT / "examples" / "docs").rglob("*")):
        rel = str(file.relative_to(ROOT))
        if file.suffix in (".cpp", ".py", ".yaml") and rel not in shown:
            problems.append(f"{rel} is not shown by any doc (add `<!-- sample: {rel} -->` and a block)")
    if not check:
        print(f"{count} sample blocks rewritten")
        return 0
    for p in problems:
        print("FAIL:", p)
    print(f"{count} sample blocks checked, {len(problems)} problems")
    if problems:
        print("After changing a sample, copy it into the docs again: python3 tools/sync_doc_samples.py")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
