#!/usr/bin/env bash
# docs/hooks.md must be exactly what tools/gen_hook_reference.cpp prints from the hook table.
# Usage: check_hook_reference.sh GENERATOR DOC
set -euo pipefail
generator=$1 doc=$2
if ! diff -u "$doc" <("$generator") > /tmp/hook_reference.$$.diff; then
  head -40 /tmp/hook_reference.$$.diff
  rm -f /tmp/hook_reference.$$.diff
  echo "docs/hooks.md is out of date with the hook table (src/hooks.cpp). Regenerate it:"
  echo "  build/bin/gen_hook_reference > docs/hooks.md"
  exit 1
fi
rm -f /tmp/hook_reference.$$.diff
echo "docs/hooks.md matches the hook table"
