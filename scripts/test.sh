#!/usr/bin/env bash
# One command: set up and run the whole test suite (lint, migrations check, pytest).
# Integration tests use PostgreSQL / Redis / Chromium when DATABASE_URL / REDIS_URL are set
# and /usr/bin/chromium exists; they are skipped (with the reason) otherwise, unless
# SECUREFLOW_REQUIRE_SERVICES=1, which turns a missing service into a failure (CI sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --dev
export DJANGO_SETTINGS_MODULE=secureflow.settings.test

echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check . >/dev/null || { .venv/bin/ruff format --diff . | head -50; exit 1; }
echo "==> makemigrations --check"
.venv/bin/python manage.py makemigrations --check --dry-run >/dev/null
echo "==> pytest"
exec .venv/bin/pytest "$@"
