#!/usr/bin/env bash
# One command: set up, load demo data, train models, and run SecureFlow (web + Celery worker).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
py=.venv/bin/python
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-secureflow.settings.local}"
host="${SECUREFLOW_HOST:-127.0.0.1}"
port="${SECUREFLOW_PORT:-8000}"

echo "==> Migrating the database"
$py manage.py migrate --noinput >/dev/null
$py manage.py collectstatic --noinput >/dev/null

$py manage.py setup_demo --customers "${SECUREFLOW_DEMO_CUSTOMERS:-1000}" \
  --days "${SECUREFLOW_DEMO_DAYS:-120}" 2> >(grep -v -E '^(I0000|E0000|W0000|WARNING: All log|To enable)' >&2)
logins=$($py manage.py ensure_demo_users)

mkdir -p var/log
echo "==> Starting the Celery worker (log: var/log/worker.log)"
.venv/bin/celery -A secureflow worker --beat --schedule var/celerybeat-schedule \
  --loglevel INFO --concurrency 2 >var/log/worker.log 2>&1 &
worker_pid=$!
trap 'kill $worker_pid 2>/dev/null || true; wait $worker_pid 2>/dev/null || true' EXIT INT TERM

cat <<MSG

  SecureFlow is running at http://$host:$port/
  Admin:   http://$host:$port/admin/      API docs: http://$host:$port/api/docs/
  Health:  http://$host:$port/healthz
$(echo "$logins" | sed 's/^/  /')
  API key: .venv/bin/python manage.py create_api_key investigator --name demo
           (prints a key once; send it as "Authorization: Token <key>")

  Stop with Ctrl-C.
MSG

.venv/bin/gunicorn -c python:secureflow.gunicorn_conf secureflow.wsgi:application \
  --bind "$host:$port" --workers 3 --threads 2 \
  --access-logfile var/log/access.log --error-logfile - --log-level warning
