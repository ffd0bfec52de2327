#!/usr/bin/env bash
# Runs the whole suite against the machine's PostgreSQL (127.0.0.1:5432, user postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
PGHOST=${PGHOST:-127.0.0.1}
if ! pg_isready -h "$PGHOST" -q 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  for _ in $(seq 30); do pg_isready -h "$PGHOST" -q && break; sleep 1; done
fi
DB=${ZHIKU_PG_DB:-zhiku_ci}
# A UTF-8 database with a UTF-8 ctype: a C-ctype database mishandles Chinese text.
psql -h "$PGHOST" -U postgres -qc "DROP DATABASE IF EXISTS test_${DB}" >/dev/null
psql -h "$PGHOST" -U postgres -qc "DROP DATABASE IF EXISTS ${DB}" >/dev/null
createdb -h "$PGHOST" -U postgres -T template0 -E UTF8 --locale=C.UTF-8 "$DB"
DATABASE_URL="postgres://postgres@${PGHOST}:5432/${DB}" .venv/bin/python -m pytest -m "not browser" ${PYTEST_ARGS:-}
