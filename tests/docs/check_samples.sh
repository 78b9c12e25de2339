#!/usr/bin/env bash
# The docs include their code samples verbatim: a line `<!-- sample: PATH -->` right before a fenced block says
# the block is the file PATH (relative to the repository), byte for byte. This checks every such block in
# README.md and docs/*.md, that a doc with samples has no other C++ block (its code is all compiled and run),
# and that every file under examples/docs/ is shown by some doc.
# Usage: check_samples.sh SOURCE_DIR
set -uo pipefail
root=$1
cd "$root" || exit 2
failures=0 checked=0
declare -A shown
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

for doc in README.md docs/*.md; do
  grep -q '^<!-- sample: ' "$doc" || continue
  sample="" in_block=0 block="" line_no=0 start=0
  while IFS= read -r line || [ -n "$line" ]; do
    line_no=$((line_no + 1))
    if [ $in_block -eq 1 ]; then
      if [ "$line" = '```' ]; then
        in_block=0
        if [ -n "$sample" ]; then
          checked=$((checked + 1))
          if [ ! -f "$sample" ]; then
            fail "$doc:$start names $sample, which does not exist"
          elif ! diff -q <(printf '%s' "$block") "$sample" > /dev/null; then
            fail "$doc:$start: the block differs from $sample:"
            diff <(printf '%s' "$block") "$sample" | head -10
          fi
          shown[$sample]=1
        fi
        sample=""
      else
        block+="$line"$'\n'
      fi
      continue
    fi
    if [[ $line =~ ^'<!-- sample: '(.+)' -->'$ ]]; then
      sample=${BASH_REMATCH[1]}
      start=$line_no
    elif [[ $line == '```'* ]]; then
      [[ $line == '```cpp' && -z $sample ]] && fail "$doc:$line_no: a C++ block that is not a sample file"
      in_block=1 block=""
      [ -n "$sample" ] && start=$line_no
    elif [ -n "$sample" ] && [ -n "$line" ]; then
      fail "$doc:$start: the sample marker for $sample is not followed by a fenced block"
      sample=""
    fi
  done < "$doc"
done

while IFS= read -r file; do
  [ -n "${shown[$file]:-}" ] || fail "$file is not shown by any doc (add <!-- sample: $file --> and the block)"
done < <(find examples/docs -type f \( -name '*.cpp' -o -name '*.py' -o -name '*.yaml' \) | sort)

echo "$checked sample blocks checked, $failures problems"
[ $failures -eq 0 ] || echo "After changing a sample, copy it into the docs again: python3 tools/sync_doc_samples.py"
[ $failures -eq 0 ]
