#!/usr/bin/env bash
# One command: set up and run the whole test suite (lint, migrations check, pytest).
# Integration tests use PostgreSQL / Redis / Chromium when DATABASE_URL / REDIS_URL are set
# and /usr/bin/chromium exists; they are skipped (with the reason) otherwise, unless
# SECUREFLOW_REQUIRE_SERVICES=1, which turns a missing service into a failure (CI sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --dev
# The browser tests drive Debian's Chromium (never a downloaded browser). Install it when
# missing and this user may; otherwise those tests report why they did not run.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "==> Installing Chromium for the browser tests (Debian package)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
    || echo "    Chromium could not be installed; browser tests will say so."
fi
export DJANGO_SETTINGS_MODULE=secureflow.settings.test

echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check . >/dev/null || { .venv/bin/ruff format --diff . | head -50; exit 1; }
echo "==> makemigrations --check"
.venv/bin/python manage.py makemigrations --check --dry-run >/dev/null
echo "==> pytest"
exec .venv/bin/pytest "$@"
