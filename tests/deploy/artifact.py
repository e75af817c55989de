"""The packaged deployment run as AWS runs it: Lambda loading the zip, API Gateway reading the
definition. Used by tests/deploy/test_artifact.py.

- ``Stack`` reads a packaged stage (CloudFormation's ``sam.json`` or Terraform's
  ``chalice.tf.json``): each function's ``Handler``, environment and memory, the tables, and the
  API definition.
- ``LambdaFunction`` is one warm container: a fresh interpreter (``python -I -S``: no site-packages,
  no user paths, no current directory) whose ``sys.path`` starts with the unzipped
  ``deployment.zip`` alone, started with the environment the template gives the function, that
  imports the ``Handler`` at init and then answers invocations. What the function prints goes to
  its log file, as Lambda sends stdout and stderr to CloudWatch Logs.
- ``RestApi`` is API Gateway's part of a REST request, driven by the packaged definition: it finds
  the route, calls the route's Lambda authorizer with a TOKEN event for the method ARN, judges the
  returned policy against that ARN as IAM does (an explicit Deny wins, then an Allow), caches the
  answer by the identity source for the definition's TTL, and calls the integration with a REST
  proxy event carrying the authorizer's context.

Event shapes are AWS's documented payloads, kept in tests/events/.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from scripts.lifeline import tied
from tests.iam import iam_allows

EVENTS = Path(__file__).resolve().parents[1] / "events"
REGION = "us-east-1"
ACCOUNT = "123456789012"

# Runs inside the function's interpreter. Its own stdout is the invocation channel (a dup of fd 1
# taken before anything else runs); fd 1 and 2 then go to the log, as Lambda's runtime does.
_BOOTSTRAP = r"""
import json, os, sys, time
channel = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
code, handler = sys.argv[1], sys.argv[2]
sys.path.insert(0, code)
os.chdir(code)
module_name, _, attribute = handler.rpartition(".")
import importlib
function = getattr(importlib.import_module(module_name), attribute)

class Context:
    def __init__(self, request_id, timeout):
        self.aws_request_id = request_id
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.invoked_function_arn = "arn:aws:lambda:%s:%s:function:%s" % (
            os.environ["AWS_REGION"], "123456789012", self.function_name)
        self.log_group_name = "/aws/lambda/" + self.function_name
        self.log_stream_name = "2026/12/06/[$LATEST]0123456789abcdef"
        self._deadline = time.monotonic() + timeout
    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

channel.write(json.dumps({"ready": True}) + "\n"); channel.flush()
for line in sys.stdin:
    request = json.loads(line)
    try:
        answer = {"result": function(request["event"], Context(request["request_id"], request["timeout"]))}
    except Exception as error:
        answer = {"errorType": type(error).__name__, "errorMessage": str(error)}
    sys.stdout.flush(); sys.stderr.flush()
    channel.write(json.dumps(answer) + "\n"); channel.flush()
"""


class FunctionError(Exception):
    """The function raised: Lambda answers ``{"errorType", "errorMessage"}``."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # the deployed function's name, apikeys-<stage>-<name>
    handler: str
    environment: dict[str, str]
    memory_mb: int
    timeout_s: int


def lambda_environment(spec: FunctionSpec, endpoint: str) -> dict[str, str]:
    """What a Lambda container's environment holds: the template's variables, the runtime's own,
    and credentials; ``AWS_ENDPOINT_URL`` points the SDK at the stand-in for AWS."""
    return {
        **spec.environment,
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "ASIAARTIFACTTEST0000",
        "AWS_SECRET_ACCESS_KEY": "artifact-test-secret",
        "AWS_SESSION_TOKEN": "artifact-test-session",
        "AWS_ENDPOINT_URL": endpoint,
        "LAMBDA_TASK_ROOT": "/var/task",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
    }


class LambdaFunction:
    """One warm container of a packaged function."""

    def __init__(self, spec: FunctionSpec, code: Path, endpoint: str, log: Path) -> None:
        self.spec = spec
        self.log = log
        self._log_file: IO[str] = log.open("a")
        self._process = subprocess.Popen(
            # tied: the container dies with the test process, however that ends.
            tied([sys.executable, "-I", "-S", "-c", _BOOTSTRAP, str(code), spec.handler]),
            env=lambda_environment(spec, endpoint),
            cwd=code,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            text=True,
        )
        ready = self._read()
        assert ready == {"ready": True}, f"{spec.name} did not start: {ready} (log: {log.read_text()[-2000:]})"

    def _read(self) -> Any:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            self._process.wait(timeout=10)
            raise AssertionError(f"{self.spec.name} exited {self._process.returncode}: {self.log.read_text()[-3000:]}")
        return json.loads(line)

    def invoke(self, event: dict[str, Any], request_id: str | None = None) -> Any:
        assert self._process.stdin is not None
        request = {"event": event, "request_id": request_id or str(uuid.uuid4()), "timeout": self.spec.timeout_s}
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        answer = self._read()
        if "errorType" in answer:
            raise FunctionError(answer["errorType"], answer["errorMessage"])
        return answer["result"]

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._log_file.close()


def run_module(
    code: Path, module: str, args: list[str], environment: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE ARGS`` from the zip alone (the operator CLI), in a fresh interpreter."""
    bootstrap = (
        "import runpy, sys; sys.path.insert(0, sys.argv[1]); module = sys.argv[2]; "
        "sys.argv = [module, *sys.argv[3:]]; runpy.run_module(module, run_name='__main__', alter_sys=True)"
    )
    return subprocess.run(
        tied([sys.executable, "-I", "-S", "-c", bootstrap, str(code), module, *args]),
        env=environment,
        cwd=code,
        capture_output=True,
        text=True,
        timeout=120,
    )


# -- the packaged stack -------------------------------------------------------------------------


@dataclass
class Stack:
    """A packaged stage, read from either format into the same terms."""

    directory: Path
    functions: dict[str, FunctionSpec]  # by the template's reference (logical id or Terraform name)
    tables: list[dict[str, Any]]  # CreateTable requests, plus "TimeToLive" when the table has one
    definition: dict[str, Any]
    function_ref: Callable[[Any], str]
    pkg_format: str = "cloudformation"
    resources: dict[str, Any] = dataclasses.field(default_factory=dict)  # as the template holds them

    @classmethod
    def read(cls, directory: Path, stage: str, pkg_format: str) -> Stack:
        return _read_cloudformation(directory, stage) if pkg_format == "cloudformation" else _read_terraform(directory)

    def by_handler(self, handler: str) -> FunctionSpec:
        [spec] = [spec for spec in self.functions.values() if spec.handler == handler]
        return spec


def _read_cloudformation(directory: Path, stage: str) -> Stack:
    template = json.loads((directory / "sam.json").read_text())
    resources = template["Resources"]
    functions = {}
    for ref, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        p = resource["Properties"]
        name = p.get("FunctionName") or f"apikeys-{stage}-{_snake(ref)}"
        functions[ref] = FunctionSpec(name, p["Handler"], p["Environment"]["Variables"], p["MemorySize"], p["Timeout"])
    tables = []
    for resource in resources.values():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        p = resource["Properties"]
        request = {
            k: p[k]
            for k in ("TableName", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")
            if k in p
        }  # fmt: skip
        if "StreamSpecification" in p:  # CloudFormation's form has no StreamEnabled: CreateTable's needs it
            request["StreamSpecification"] = {"StreamEnabled": True, **p["StreamSpecification"]}
        if p.get("TimeToLiveSpecification", {}).get("Enabled"):
            request["TimeToLive"] = p["TimeToLiveSpecification"]["AttributeName"]
        tables.append(request)

    def function_ref(uri: Any) -> str:
        match = re.search(r"/functions/\$\{(\w+)\.Arn\}/invocations$", uri["Fn::Sub"])
        assert match, uri
        return match.group(1)

    definition = resources["RestAPI"]["Properties"]["DefinitionBody"]
    return Stack(directory, functions, tables, definition, function_ref, "cloudformation", resources)


def _read_terraform(directory: Path) -> Stack:
    resources: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.tf.json")):
        overriding = path.name.endswith("_override.tf.json")
        for kind, named in json.loads(path.read_text()).get("resource", {}).items():
            for name, attributes in named.items():
                if overriding:
                    resources[kind][name].update(attributes)
                else:
                    resources.setdefault(kind, {})[name] = dict(attributes)
    config = json.loads((directory / "chalice.tf.json").read_text())
    functions = {
        ref: FunctionSpec(
            f["function_name"], f["handler"], f["environment"]["variables"], f["memory_size"], f["timeout"]
        )
        for ref, f in resources["aws_lambda_function"].items()
    }
    tables = []
    for t in resources.get("aws_dynamodb_table", {}).values():

        def key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
            return [{"AttributeName": hash_key, "KeyType": "HASH"}] + (
                [{"AttributeName": range_key, "KeyType": "RANGE"}] if range_key else []
            )

        request: dict[str, Any] = {
            "TableName": t["name"],
            "AttributeDefinitions": [{"AttributeName": a["name"], "AttributeType": a["type"]} for a in t["attribute"]],
            "KeySchema": key_schema(t["hash_key"], t.get("range_key")),
            "BillingMode": t["billing_mode"],
        }
        indexes = [
            {
                "IndexName": ix["name"],
                "KeySchema": key_schema(ix["hash_key"], ix.get("range_key")),
                "Projection": {"ProjectionType": ix["projection_type"]}
                | ({"NonKeyAttributes": ix["non_key_attributes"]} if ix.get("non_key_attributes") else {}),
            }
            for ix in t.get("global_secondary_index", [])
        ]
        if indexes:
            request["GlobalSecondaryIndexes"] = indexes
        if t.get("stream_enabled"):
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": t["stream_view_type"]}
        ttl = (t.get("ttl") or [{}])[0]
        if ttl.get("enabled"):
            request["TimeToLive"] = ttl["attribute_name"]
        tables.append(request)

    def function_ref(uri: Any) -> str:
        match = re.fullmatch(r"\$\{aws_lambda_function\.(\w+)\.invoke_arn\}", uri)
        assert match, uri
        return match.group(1)

    definition = json.loads(config["locals"]["chalice_api_swagger"])
    return Stack(directory, functions, tables, definition, function_ref, "terraform", resources)


def _snake(logical_id: str) -> str:
    known = {"APIHandler": "api_handler"}
    return known.get(logical_id) or re.sub(r"(?<!^)(?=[A-Z])", "_", logical_id).lower()


def create_user_pools(cognito: Any, stack: Stack) -> dict[str, str]:
    """The Cognito user pools and app clients the stack declares, made on moto; returns what the
    template's references resolve to (CloudFormation: logical id → physical id; Terraform:
    ``resource.name.attribute`` → value)."""
    found: dict[str, str] = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"}
    if stack.pkg_format == "cloudformation":
        of_type = lambda kind: [(n, r["Properties"]) for n, r in stack.resources.items() if r["Type"] == kind]  # noqa: E731
        for name, p in of_type("AWS::Cognito::UserPool"):
            found[name] = cognito.create_user_pool(PoolName=p["UserPoolName"])["UserPool"]["Id"]
        for name, p in of_type("AWS::Cognito::UserPoolClient"):
            client = cognito.create_user_pool_client(
                UserPoolId=resolve(p["UserPoolId"], found), ClientName=p["ClientName"],
                ExplicitAuthFlows=p.get("ExplicitAuthFlows", []),
            )  # fmt: skip
            found[name] = client["UserPoolClient"]["ClientId"]
        return found
    found["data.aws_region.chalice.name"] = REGION
    for name, p in stack.resources.get("aws_cognito_user_pool", {}).items():
        pool_id = cognito.create_user_pool(PoolName=p["name"])["UserPool"]["Id"]
        found[f"aws_cognito_user_pool.{name}.id"] = pool_id
        found[f"aws_cognito_user_pool.{name}.endpoint"] = f"cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    for name, p in stack.resources.get("aws_cognito_user_pool_client", {}).items():
        client = cognito.create_user_pool_client(
            UserPoolId=resolve(p["user_pool_id"], found), ClientName=p["name"],
            ExplicitAuthFlows=p.get("explicit_auth_flows", []),
        )  # fmt: skip
        found[f"aws_cognito_user_pool_client.{name}.id"] = client["UserPoolClient"]["ClientId"]
    return found


def resolve(value: Any, found: dict[str, str]) -> str:
    """A template value as the deployed function sees it: CloudFormation's ``Ref`` and
    ``Fn::Sub``, or Terraform's ``${...}`` interpolations, from what ``create_user_pools`` made."""
    if isinstance(value, dict) and "Ref" in value:
        return found[value["Ref"]]
    text = value["Fn::Sub"] if isinstance(value, dict) else str(value)
    resolved = re.sub(r"\$\{([^}]+)\}", lambda m: found[m.group(1)], text)
    return resolved


def resolved(spec: FunctionSpec, found: dict[str, str]) -> FunctionSpec:
    return dataclasses.replace(spec, environment={k: resolve(v, found) for k, v in spec.environment.items()})


def create_tables(dynamodb: Any, stack: Stack) -> None:
    for table in stack.tables:
        request = {k: v for k, v in table.items() if k != "TimeToLive"}
        dynamodb.create_table(**request)
        if "TimeToLive" in table:
            dynamodb.update_time_to_live(
                TableName=table["TableName"],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table["TimeToLive"]},
            )


# -- API Gateway ----------------------------------------------------------------------------------


def _event(name: str, **values: str) -> dict[str, Any]:
    text = (EVENTS / f"{name}.json").read_text()
    parsed = json.loads(text)

    def fill(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: fill(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fill(v) for v in node]
        if isinstance(node, str):
            return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), node)
        return node

    return fill(parsed)  # type: ignore[no-any-return]


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str]


class RestApi:
    """API Gateway's side of a REST API stage, from the packaged definition."""

    def __init__(
        self,
        stack: Stack,
        functions: dict[str, LambdaFunction],
        *,
        api_id: str = "abcdef123",
        stage: str = "api",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stack = stack
        self.functions = functions
        self.api_id = api_id
        self.stage = stage
        self.clock = clock
        self._cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self.authorizer_calls = 0

    def method_arn(self, method: str, path: str) -> str:
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{self.api_id}/{self.stage}/{method}{path}"

    def _route(self, method: str, path: str) -> tuple[str, dict[str, Any], dict[str, str]] | None:
        for template, operations in self.stack.definition["paths"].items():
            names = re.findall(r"\{(\w+)\}", template)
            regex = re.sub(r"\\\{\w+\\\}", "([^/]+)", re.escape(template))
            match = re.fullmatch(regex, path)
            if match and method.lower() in operations:
                return template, operations[method.lower()], dict(zip(names, match.groups(), strict=True))
        return None

    def request(
        self, method: str, path: str, *, token: str | None = None, body: Any = None, query: dict[str, str] | None = None
    ) -> Response:
        found = self._route(method, path.split("?")[0])
        if found is None:
            return Response(403, {"message": "Missing Authentication Token"}, {})
        resource, operation, path_parameters = found
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        authorizer_context = None
        for requirement in operation.get("security") or []:
            [name] = requirement
            answer = self._authorize(name, headers.get("Authorization"), self.method_arn(method, path))
            if isinstance(answer, Response):
                return answer
            authorizer_context = answer
        request_id = f"req-{next(self._ids)}"
        event = _event("rest_proxy", resource=resource, path=path, method=method, stage=self.stage,
                       request_id=request_id)  # fmt: skip
        event["headers"].update(headers)
        event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
        if query:
            event["queryStringParameters"] = dict(query)
            event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
        event["pathParameters"] = path_parameters or None
        event["requestContext"]["authorizer"] = authorizer_context
        event["body"] = None if body is None else json.dumps(body)
        integration = operation["x-amazon-apigateway-integration"]
        function = self.functions[self.stack.function_ref(integration["uri"])]
        try:
            result = function.invoke(event, request_id=f"lambda-{request_id}")
        except FunctionError:
            return Response(502, {"message": "Internal server error"}, {})
        text = result.get("body") or ""
        return Response(int(result["statusCode"]), json.loads(text) if text else None, result.get("headers") or {})

    def _authorize(self, name: str, identity: str | None, method_arn: str) -> dict[str, Any] | Response:
        """API Gateway's TOKEN authorizer: no identity, 401 without a call; a cached answer for the
        same identity within the TTL; ``Unauthorized`` raised, 401; any other failure, 500; a
        policy that does not allow the method ARN, 403."""
        scheme = self.stack.definition["securityDefinitions"][name]
        if scheme.get("x-amazon-apigateway-authtype") != "custom":
            # An API key requirement (``x-api-key``): a Bearer key never satisfies it.
            return Response(403, {"message": "Forbidden"}, {})
        config = scheme["x-amazon-apigateway-authorizer"]
        if identity is None:
            return Response(401, {"message": "Unauthorized"}, {})
        cached = self._cache.get((name, identity))
        if cached is not None and self.clock() < cached[0]:
            answer = cached[1]
        else:
            function = self.functions[self.stack.function_ref(config["authorizerUri"])]
            event = _event("rest_token", token="")
            event.update(authorizationToken=identity, methodArn=method_arn)
            self.authorizer_calls += 1
            try:
                answer = function.invoke(event)
            except FunctionError as error:
                if error.message == "Unauthorized":
                    return Response(401, {"message": "Unauthorized"}, {})
                return Response(500, {"message": None}, {})
            if config.get("authorizerResultTtlInSeconds", 300) > 0:
                self._cache[(name, identity)] = (self.clock() + config["authorizerResultTtlInSeconds"], answer)
        if not iam_allows(answer["policyDocument"], method_arn):
            return Response(403, {"Message": "User is not authorized to access this resource"}, {})
        context = {k: str(v) for k, v in (answer.get("context") or {}).items()}
        return {**context, "principalId": answer["principalId"], "integrationLatency": 12}


def environment_for_operator(spec: FunctionSpec, endpoint: str) -> dict[str, str]:
    """The CLI run by an operator with the stage's settings (the API handler's environment)."""
    environment = lambda_environment(spec, endpoint)
    for name in [
        n for n in environment if n.startswith("AWS_LAMBDA") or n in ("LAMBDA_TASK_ROOT", "AWS_EXECUTION_ENV")
    ]:
        del environment[name]
    return environment


def unzip(archive: Path, into: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(into)
    # The zip's modes: Lambda runs what it holds as it holds it.
    for info in zipfile.ZipFile(archive).infolist():
        mode = info.external_attr >> 16
        if mode:
            os.chmod(into / info.filename, mode)
    return into
