#!/usr/bin/env bash
# Fault suite: PostgreSQL restarted under load, Redis stopped and started, the
# disk full during an upload and an import, a gunicorn worker and an import
# killed with SIGKILL, a 20,000-request soak (make soak runs 200,000), and the
# pg_dump + media tarball restore drill (tests/test_backup.py).
# Every server is private to its test (a throwaway PostgreSQL cluster and
# redis-server on free loopback ports, a tmpfs), started and stopped by the test;
# the machine's PostgreSQL and Redis are not touched. Needs root (mount, runuser).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)
make --no-print-directory venv-dev
nice .venv/bin/python -m pytest tests/test_faults.py tests/test_backup.py -m faults -p no:cacheprovider ${PYTEST_ARGS:-}
echo "Fault figures: test-artifacts/faults.json"
