#!/usr/bin/env bash
# The whole suite (browser tests aside) against the machine's PostgreSQL, with
# the cache on the machine's Redis: the production combination.
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/services.sh
make --no-print-directory venv-dev

PGHOST=${PGHOST:-127.0.0.1}
DB=${ZHIKU_PG_DB:-zhiku_ci}
# UTF-8 with a UTF-8 ctype: in a C-ctype database lower()/upper() and
# case-insensitive matching do not work on Chinese (or any non-ASCII) text.
# Django cannot pass a locale when it creates the test database, so both
# databases are made here and pytest reuses the test one (--reuse-db).
for name in "$DB" "test_$DB"; do
  dropdb -h "$PGHOST" -U postgres --if-exists "$name"
  createdb -h "$PGHOST" -U postgres -T template0 -E UTF8 --locale=C.UTF-8 "$name"
done

export DATABASE_URL="postgres://postgres@${PGHOST}:5432/${DB}"
# Redis database 12 is flushed between tests; nothing else may live there.
export REDIS_URL=${ZHIKU_CI_REDIS_URL:-redis://127.0.0.1:6379/12}
.venv/bin/python -m pytest tests -m "not browser and not nginx and not faults" --reuse-db -p no:cacheprovider ${PYTEST_ARGS:-}
