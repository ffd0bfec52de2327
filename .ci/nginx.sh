#!/usr/bin/env bash
# nginx suite: Debian's nginx in front of gunicorn on loopback, as docs/deploy.md
# sets it up (downloads by X-Accel-Redirect, static files, size limits, proxy
# headers, slow downloaders). Installs nginx if it is missing; touches nothing
# in /etc/nginx: nginx runs in a scratch prefix with a generated configuration.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi
# The package starts a system nginx on port 80; this suite does not need it.
if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
  systemctl stop nginx
fi

make --no-print-directory venv-dev
rm -f test-artifacts/nginx-load.json
.venv/bin/python -m pytest tests/test_nginx.py -m nginx -p no:cacheprovider ${PYTEST_ARGS:-}
echo "Slow-client figures: test-artifacts/nginx-load.json"
