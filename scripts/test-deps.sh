#!/usr/bin/env bash
# System packages the test suite needs beyond the virtualenv. Idempotent; quiet when all is there.
set -euo pipefail
# Headless Chromium for tests/browser (Playwright drives /usr/bin/chromium; never `playwright install`).
command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
exit 0
