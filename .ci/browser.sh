#!/usr/bin/env bash
# Browser suite: Playwright (pip, pinned in requirements-dev.txt) drives Debian's
# Chromium; nothing downloads a browser of its own (no `playwright install`).
# The HTML validity test runs vnu-jar (tests/browser/package.json) with Debian's Java.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
# CJK fonts so Chinese text renders in screenshots instead of empty boxes.
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing+=(fonts-noto-cjk)
# Java runs the Nu HTML Checker (vnu-jar, from npm) on every kind of page.
command -v java >/dev/null || missing+=(default-jre-headless)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

make venv-dev
# --ignore-scripts: vnu-jar's install script would fetch a Java of its own.
(cd tests/browser && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

mkdir -p test-artifacts/screenshots
.venv/bin/python -m pytest tests/browser -m browser -p no:cacheprovider ${PYTEST_ARGS:-}
echo "Screenshots: $(ls test-artifacts/screenshots | wc -l) files in test-artifacts/screenshots/"
