#!/usr/bin/env bash
# API suite: schemathesis fuzzes the JSON API against its own OpenAPI document
# (/api/openapi.json) on gunicorn, with the demo content on a scratch SQLite
# database and rate limits off. Fails on any 5xx, any response that breaks the
# documented schema and any undocumented content type. Bounded to a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

make --no-print-directory venv-dev

scratch=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

export DATABASE_URL="sqlite:///$scratch/db.sqlite3"
export MEDIA_ROOT="$scratch/media"
export DJANGO_STATIC_ROOT="$scratch/static"
export DJANGO_DEBUG=false
export ZHIKU_RATELIMIT=off
export GUNICORN_ACCESSLOG=
# The 4xx answers the fuzzer provokes are expected: log only errors.
export DJANGO_LOG_LEVEL=ERROR

.venv/bin/python manage.py migrate --noinput --verbosity 0
.venv/bin/python manage.py load_demo qa/demo/demo.json
.venv/bin/python manage.py collectstatic --noinput --verbosity 0

port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/gunicorn config.wsgi -c config/gunicorn.conf.py --bind "127.0.0.1:$port" --workers 2 &
server=$!
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done

mkdir -p test-artifacts
.venv/bin/schemathesis run "http://127.0.0.1:$port/api/openapi.json" \
  --checks "${SCHEMATHESIS_CHECKS:-not_a_server_error,response_schema_conformance,content_type_conformance}" \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-80}" \
  --workers 2 \
  --seed "${SCHEMATHESIS_SEED:-$RANDOM}" \
  --request-timeout 20 \
  --report junit --report-junit-path test-artifacts/schemathesis.xml \
  ${SCHEMATHESIS_ARGS:-}
