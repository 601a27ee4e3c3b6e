#!/usr/bin/env bash
# Creates .venv and installs the pinned dependencies (runtime, or runtime + dev with --dev).
# Re-running is cheap: it reinstalls only when a requirements file changed.
set -euo pipefail
cd "$(dirname "$0")/.."

req="requirements.txt"
[ "${1:-}" = "--dev" ] && req="requirements-dev.txt"

python_bin="${PYTHON:-}"
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python_bin="$candidate"; break; fi
  done
fi
[ -n "$python_bin" ] || { echo "SecureFlow needs Python 3.11 (python3.11 or python3 on PATH)." >&2; exit 1; }
"$python_bin" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { echo "SecureFlow needs Python >= 3.11; $python_bin is $("$python_bin" --version)." >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "==> Creating virtualenv .venv with $python_bin"
  "$python_bin" -m venv .venv
fi

stamp=".venv/.installed-$(basename "$req" .txt)"
digest=$(cat requirements.txt "$req" | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
  echo "==> Installing $req (first time takes a few minutes: TensorFlow, scikit-learn, SHAP)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r "$req"
  echo "$digest" > "$stamp"
fi
