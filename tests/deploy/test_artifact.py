"""The artifact tier: the packaged template and zip, run the way API Gateway and Lambda run them.

For each packaged format of the dev stage: ``deployment.zip`` is unzipped into a clean folder;
every function runs in a fresh interpreter that sees only the zip (``python -I -S``) with the
``Handler`` and environment the template gives it; moto in server mode stands in for AWS with the
template's tables, the stage's pepper secret and KMS alias. The first session then goes through
API Gateway's part as the packaged definition describes it (tests/deploy/artifact.py): the route's
authorizer with a TOKEN event, its policy judged against the method ARN, the integration with a
REST proxy event carrying the authorizer's context.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.stream_poller import lambda_record
from tests.conftest import free_port
from tests.deploy.artifact import (
    FunctionError,
    LambdaFunction,
    RestApi,
    Stack,
    create_tables,
    create_user_pools,
    environment_for_operator,
    iam_allows,
    resolved,
    unzip,
)
from tests.deploy.packaging import packaged

pytestmark = pytest.mark.slow

STAGE = "dev"
APP_AUTHORIZER = "chalicelib.routes.auth.app_authorizer"
GATEWAY_AUTHORIZER = "chalicelib.routes.gateway.gateway_authorizer"
API_HANDLER = "app.app"
PUBLISHER = "chalicelib.routes.lifecycle.publish_events"


@pytest.fixture(scope="module")
def aws() -> Iterator[str]:
    """moto in server mode on loopback: what the functions reach through ``AWS_ENDPOINT_URL``."""
    from scripts.embedded_moto import serialized_moto_server

    port = free_port()
    server = serialized_moto_server(port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _client(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


@pytest.fixture(scope="module", params=["cloudformation", "terraform"])
def deployed(
    request: pytest.FixtureRequest, aws: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, dict[str, LambdaFunction], Path]]:
    """The stage as a deployer would stand it up: tables from the template, the pepper secret and
    the KMS alias its settings name; then one warm container per function."""
    import requests

    pkg_format = request.param
    requests.post(f"{aws}/moto-api/reset", timeout=10).raise_for_status()
    directory = packaged(STAGE, pkg_format)
    stack = Stack.read(directory, STAGE, pkg_format)
    code = unzip(directory / "deployment.zip", tmp_path_factory.mktemp(f"task-{pkg_format}"))
    create_tables(_client("dynamodb", aws), stack)
    found = create_user_pools(_client("cognito-idp", aws), stack)
    stack.functions = {ref: resolved(spec, found) for ref, spec in stack.functions.items()}
    api_env = stack.by_handler(API_HANDLER).environment
    kind, _, secret_id = api_env["APIKEYS_PEPPERS_SOURCE"].partition(":")
    assert kind == "secretsmanager"
    pepper = base64.b64encode(secrets.token_bytes(32)).decode()
    _client("secretsmanager", aws).create_secret(Name=secret_id, SecretString=f"d1:{pepper}")
    kms = _client("kms", aws)
    aliases = {t["kms_key_id"] for t in json.loads(api_env["APIKEYS_VAULT_TARGETS"]) if t.get("kms_key_id")}
    for alias in aliases:
        kms.create_alias(AliasName=alias, TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    logs = tmp_path_factory.mktemp(f"logs-{pkg_format}")
    functions: dict[str, LambdaFunction] = {}
    try:
        for ref, spec in stack.functions.items():
            if spec.handler in (APP_AUTHORIZER, GATEWAY_AUTHORIZER, API_HANDLER, PUBLISHER):
                functions[ref] = LambdaFunction(spec, code, aws, logs / f"{ref}.log")
        yield stack, functions, code
    finally:
        for function in functions.values():
            function.close()


@pytest.fixture(scope="module")
def gateway(deployed: tuple[Stack, dict[str, LambdaFunction], Path]) -> RestApi:
    stack, functions, _ = deployed
    return RestApi(stack, functions)


@pytest.fixture(scope="module")
def first_admin(deployed: tuple[Stack, dict[str, LambdaFunction], Path], aws: str) -> dict[str, Any]:
    """The deploying section's first key: the operator CLI, from the zip, with the stage's settings."""
    from tests.deploy.artifact import run_module

    stack, _, code = deployed
    environment = environment_for_operator(stack.by_handler(API_HANDLER), aws)
    done = run_module(
        code,
        "chalicelib.cli",
        ["create-key", "--community", "demo", "--name", "First admin", "--role", "community_admin"],
        environment,
    )
    assert done.returncode == 0, done.stderr
    created: dict[str, Any] = json.loads(done.stdout)
    return created


def test_each_function_loads_from_the_zip_alone(deployed):
    """Every handler the template names imports in an interpreter that sees only the zip."""
    stack, _, code = deployed
    for spec in stack.functions.values():
        function = LambdaFunction(spec, code, "http://127.0.0.1:9", code.parent / f"load-{spec.name}.log")
        function.close()


def test_the_first_session_through_api_gateway_and_lambda(gateway, first_admin):
    admin = first_admin["secret"]

    whoami = gateway.request("GET", "/whoami", token=admin)
    assert whoami.status == 200, whoami.body
    assert whoami.body["id"] == first_admin["id"] and whoami.body["community"] == "demo"
    assert "apikeys:manage" in whoami.body["permissions"]

    created = gateway.request(
        "POST", "/communities/demo/apikeys", token=admin,
        body={"name": "Threat feed", "description": "TIP sync", "roles": ["ic_viewer"]},
    )  # fmt: skip
    assert created.status == 201, created.body
    key, secret = created.body["api_key"], created.body["secret"]
    assert key["created_by"] == f"key:{first_admin['id']}"  # who acted, from the authorizer's context

    listed = gateway.request(
        "GET", "/communities/demo/apikeys", token=admin, query={"search": "tip", "status": "active"}
    )
    assert listed.status == 200, listed.body
    assert [item["id"] for item in listed.body["items"]] == [key["id"]]

    edited = gateway.request(
        "PATCH", f"/communities/demo/apikeys/{key['id']}", token=admin, body={"description": "TIP sync v2"}
    )
    assert edited.status == 200, edited.body
    assert edited.body["description"] == "TIP sync v2"

    # The new key reaches what its role allows through the same authorizer, and no further.
    assert gateway.request("GET", "/whoami", token=secret).body["roles"] == ["ic_viewer"]
    assert gateway.request("GET", "/communities/demo/apikeys", token=secret).status == 403

    revoked = gateway.request("POST", f"/communities/demo/apikeys/{key['id']}/revoke", token=admin)
    assert revoked.status == 200, revoked.body
    assert revoked.body["status"] == "revoked"


def test_a_wrong_key_gets_api_gateways_401(gateway, first_admin):
    body = first_admin["secret"][:-1] + ("A" if first_admin["secret"][-1] != "A" else "B")
    for token in (body, "apk_" + "0" * 40, "not a key"):
        answer = gateway.request("GET", "/whoami", token=token)
        assert (answer.status, answer.body) == (401, {"message": "Unauthorized"}), token
    assert gateway.request("GET", "/whoami").status == 401


def test_a_revoked_key_is_refused_once_api_gateways_cache_forgets_it(deployed, first_admin):
    stack, functions, _ = deployed
    now = [0.0]
    gateway = RestApi(stack, functions, clock=lambda: now[0])
    admin = first_admin["secret"]
    created = gateway.request("POST", "/communities/demo/apikeys", token=admin,
                              body={"name": "Short lived", "roles": ["ic_viewer"]})  # fmt: skip
    assert created.status == 201, created.body
    secret, key_id = created.body["secret"], created.body["api_key"]["id"]
    assert gateway.request("GET", "/whoami", token=secret).status == 200
    assert gateway.request("POST", f"/communities/demo/apikeys/{key_id}/revoke", token=admin).status == 200
    ttl = stack.definition["securityDefinitions"]["app_authorizer"]["x-amazon-apigateway-authorizer"][
        "authorizerResultTtlInSeconds"
    ]
    now[0] += ttl + 1
    assert gateway.request("GET", "/whoami", token=secret).status == 401


def test_the_standalone_authorizer_with_its_own_environment(deployed, gateway, first_admin):
    """Another API's TOKEN authorizer: the route map's permission decides, per method ARN."""
    stack, functions, _ = deployed
    [ref] = [ref for ref, spec in stack.functions.items() if spec.handler == GATEWAY_AUTHORIZER]
    authorizer = functions[ref]
    created = gateway.request("POST", "/communities/demo/apikeys", token=first_admin["secret"],
                              body={"name": "Reader", "roles": ["ic_viewer"]})  # fmt: skip
    assert created.status == 201, created.body
    arn = "arn:aws:execute-api:us-east-1:123456789012:other123/prod/{}/intelligence/reports/42"
    answer = authorizer.invoke(
        {"type": "TOKEN", "authorizationToken": f"Bearer {created.body['secret']}", "methodArn": arn.format("GET")}
    )
    assert answer["principalId"] == created.body["api_key"]["id"]
    assert iam_allows(answer["policyDocument"], arn.format("GET"))
    assert not iam_allows(answer["policyDocument"], arn.format("DELETE"))
    with pytest.raises(FunctionError) as refused:
        authorizer.invoke({"type": "TOKEN", "authorizationToken": "Bearer apk_nope", "methodArn": arn.format("GET")})
    assert refused.value.message == "Unauthorized"


def test_no_secret_reaches_a_functions_log(deployed, gateway, first_admin):
    """What Lambda would send to CloudWatch Logs, after the session above, holds no secret."""
    stack, functions, _ = deployed
    created = gateway.request("POST", "/communities/demo/apikeys", token=first_admin["secret"],
                              body={"name": "Logged?", "roles": ["ic_viewer"]})  # fmt: skip
    assert gateway.request("GET", "/whoami", token=created.body["secret"]).status == 200
    for function in functions.values():
        log = function.log.read_text()
        for secret in (first_admin["secret"], created.body["secret"]):
            assert secret not in log and secret.split("_", 1)[1] not in log, function.spec.name


def test_lifecycle_events_leave_through_the_packaged_publisher(deployed, gateway, first_admin, aws):
    """The events table's stream, read from moto as Lambda's event source mapping reads it, handed
    to the packaged ``publish_events``; a rule on the stage's bus sends what arrives to a queue."""
    stack, functions, _ = deployed
    [ref] = [ref for ref, spec in stack.functions.items() if spec.handler == PUBLISHER]
    publisher = functions[ref]
    bus = publisher.spec.environment["APIKEYS_EVENT_BUS"]
    events, sqs = _client("events", aws), _client("sqs", aws)
    events.create_event_bus(Name=bus)
    queue = sqs.create_queue(QueueName=f"watch-{bus}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventBusName=bus, EventPattern=json.dumps({"source": ["apikeys"]}))
    events.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
    created = gateway.request("POST", "/communities/demo/apikeys", token=first_admin["secret"],
                              body={"name": "Announced", "roles": ["ic_viewer"]})  # fmt: skip
    assert created.status == 201, created.body

    table = stack.by_handler(PUBLISHER).environment["APIKEYS_EVENTS_TABLE"]
    stream_arn = _client("dynamodb", aws).describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = _client("dynamodbstreams", aws)
    [shard] = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]  # fmt: skip
    records = [lambda_record(r, stream_arn) for r in streams.get_records(ShardIterator=iterator)["Records"]]
    assert publisher.invoke({"Records": records}) == {"batchItemFailures": []}

    bodies = [
        json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    ]
    announced = [b for b in bodies if b["detail"]["key_id"] == created.body["api_key"]["id"]]
    assert [b["detail-type"] for b in announced] == ["API key created"]
    assert announced[0]["detail"]["api_key"]["name"] == "Announced"
    assert created.body["secret"] not in json.dumps(bodies)
