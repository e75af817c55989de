#!/usr/bin/env bash
# System packages the test suite needs beyond the virtualenv. Idempotent; quiet when all is there.
set -euo pipefail
exit 0
