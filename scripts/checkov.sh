#!/usr/bin/env bash
# checkov in its own virtualenv under .local/checkov (git-ignored): its requirements pin older
# boto3, botocore, packaging and networkx than requirements-dev.txt does, so installing it into
# .venv would change the versions the tests and Lambda run with. Idempotent and quiet when all
# is there; prints the checkov executable's path on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=3.3.30
DIR=.local/checkov
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] && PYTHON="$(.venv/bin/python -c 'import sys; print(sys._base_executable)')"

if [ "$("$DIR/bin/checkov" --version 2>/dev/null || true)" != "$VERSION" ]; then
    rm -rf "$DIR"
    "$PYTHON" -m venv "$DIR"
    "$DIR/bin/python" -m pip install --quiet --disable-pip-version-check "checkov==$VERSION" >&2
fi
echo "$PWD/$DIR/bin/checkov"
