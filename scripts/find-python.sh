#!/usr/bin/env sh
# Prints the path of a Python >= 3.12 interpreter, or explains what is missing and fails.
# Looks at the usual names first, then at pyenv's and the system's installed versions.
for cand in "${PYTHON:-}" python3.12 python3.13 python3.14 python3 \
    "$(pyenv root 2>/dev/null)"/versions/3.1[2-9]*/bin/python3 \
    /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9]; do
  [ -n "$cand" ] || continue
  if "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then
    command -v "$cand" 2>/dev/null || echo "$cand"
    exit 0
  fi
done
echo "error: openweight-sim needs Python >= 3.12 (Mesa >= 3.4 requires it); install python3.12 or set PYTHON=/path/to/python3.12" >&2
exit 1
