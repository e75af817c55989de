"""The API definition API Gateway applies, read route by route from what `chalice package` wrote.

``chalice local`` and ``chalice.test`` attach authorizers by Python object; API Gateway reads the
packaged definition (``DefinitionBody`` of ``RestAPI`` in CloudFormation, the swagger local in
Terraform). A name Chalice's generator reserves (``api_key``) once turned the app's authorizer
into an ``x-api-key`` requirement there while every local test passed, so these tests judge the
definition itself: which routes are guarded, by which function, with which identity source and
cache, and whether API Gateway may invoke that function.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from tests.deploy.packaging import packaged

pytestmark = pytest.mark.slow

STAGES = ("dev", "prod")
FORMATS = ("cloudformation", "terraform")
# The routes anyone may call: the console's page and files, the API's document, and GitHub's leak
# reports (which carry GitHub's signature instead of a key).
PUBLIC = {("GET", "/"), ("GET", "/console/{name}"), ("GET", "/openapi.json"), ("POST", "/leaks/github")}
APP_AUTHORIZER = "chalicelib.routes.auth.app_authorizer"
API_HANDLER = "app.app"
APIGATEWAY = "apigateway.amazonaws.com"


@dataclass(frozen=True)
class Deployment:
    """One packaged stage, as API Gateway and Lambda would read it."""

    definition: dict[str, Any]
    handlers: dict[str, str]  # function reference (logical id or Terraform name) -> Handler
    invokable_by_apigateway: set[str]  # function references with a permission scoped to this API

    def function_of(self, uri: Any) -> str:
        """The function an ``authorizerUri`` or integration ``uri`` names: CloudFormation's
        ``.../functions/${Name.Arn}/invocations``, or Terraform's ``${aws_lambda_function.name.invoke_arn}``."""
        if isinstance(uri, dict):
            prefix = r"arn:\$\{AWS::Partition\}:apigateway:\$\{AWS::Region\}:lambda:path/2015-03-31/functions/"
            match = re.fullmatch(prefix + r"\$\{(\w+)\.Arn\}/invocations", uri["Fn::Sub"])
        else:
            match = re.fullmatch(r"\$\{aws_lambda_function\.(\w+)\.invoke_arn\}", uri)
        assert match, f"no function in {uri!r}"
        assert match.group(1) in self.handlers, f"{uri!r} names no function of the stack"
        return match.group(1)


def _cloudformation(stage: str) -> Deployment:
    template = json.loads((packaged(stage, "cloudformation") / "sam.json").read_text())
    resources = template["Resources"]
    handlers = {
        name: r["Properties"]["Handler"] for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"
    }
    invokable = set()
    for resource in resources.values():
        p = resource["Properties"]
        if resource["Type"] != "AWS::Lambda::Permission" or p["Principal"] != APIGATEWAY:
            continue
        function = p["FunctionName"].get("Ref") or p["FunctionName"]["Fn::GetAtt"][0]
        source, variables = p["SourceArn"]["Fn::Sub"]
        assert source.endswith(":${RestAPIId}/*") and variables == {"RestAPIId": {"Ref": "RestAPI"}}, p
        assert p["Action"] == "lambda:InvokeFunction"
        invokable.add(function)
    return Deployment(resources["RestAPI"]["Properties"]["DefinitionBody"], handlers, invokable)


def _terraform(stage: str) -> Deployment:
    config = json.loads((packaged(stage, "terraform") / "chalice.tf.json").read_text())
    resources = config["resource"]
    assert resources["aws_api_gateway_rest_api"]["rest_api"]["body"] == "${local.chalice_api_swagger}"
    definition = json.loads(config["locals"]["chalice_api_swagger"])
    handlers = {name: f["handler"] for name, f in resources["aws_lambda_function"].items()}
    invokable = set()
    for permission in resources["aws_lambda_permission"].values():
        if permission["principal"] != APIGATEWAY:
            continue
        assert permission["source_arn"] == "${aws_api_gateway_rest_api.rest_api.execution_arn}/*", permission
        assert permission["action"] == "lambda:InvokeFunction"
        match = re.fullmatch(r"\$\{aws_lambda_function\.(\w+)\.arn\}", permission["function_name"])
        assert match, permission
        invokable.add(match.group(1))
    return Deployment(definition, handlers, invokable)


@pytest.fixture(scope="module", params=[(s, f) for s in STAGES for f in FORMATS], ids=lambda p: "-".join(p))
def deployment(request: pytest.FixtureRequest) -> Deployment:
    stage, pkg_format = request.param
    return _cloudformation(stage) if pkg_format == "cloudformation" else _terraform(stage)


def _operations(definition: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, methods in definition["paths"].items()
        for method, operation in methods.items()
        if method != "parameters"
    }


def test_every_route_of_the_app_is_deployed_and_nothing_else(deployment):
    from app import app

    routes = {(method, path) for path, entries in app.routes.items() for method in entries}
    assert set(_operations(deployment.definition)) == routes


def test_every_guarded_route_calls_the_apps_lambda_authorizer(deployment):
    from chalicelib.routes.auth import AUTHORIZER_TTL_SECONDS

    schemes = deployment.definition.get("securityDefinitions", {})
    guarded = {route: op for route, op in _operations(deployment.definition).items() if route not in PUBLIC}
    assert guarded
    for route, operation in guarded.items():
        [requirement] = operation.get("security") or [{}]
        assert len(requirement) == 1, (route, operation.get("security"))
        [(name, scopes)] = requirement.items()
        scheme = schemes[name]
        assert scopes == [], route
        assert scheme["x-amazon-apigateway-authtype"] == "custom", (route, scheme)
        authorizer = scheme["x-amazon-apigateway-authorizer"]
        # A TOKEN authorizer: API Gateway passes the Authorization header as authorizationToken
        # and caches its answer by that header for the TTL.
        assert authorizer["type"] == "token", route
        assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization"), route
        assert authorizer.get("identitySource", "method.request.header.Authorization") == (
            "method.request.header.Authorization"
        )
        assert authorizer["authorizerResultTtlInSeconds"] == AUTHORIZER_TTL_SECONDS
        function = deployment.function_of(authorizer["authorizerUri"])
        assert deployment.handlers[function] == APP_AUTHORIZER, route
        assert function in deployment.invokable_by_apigateway, f"API Gateway may not invoke {function}"


def test_public_routes_are_public(deployment):
    operations = _operations(deployment.definition)
    for route in PUBLIC:
        assert not operations[route].get("security"), route


def test_no_route_asks_for_an_api_gateway_api_key(deployment):
    """``x-api-key`` would make API Gateway refuse every ``Bearer`` key before any authorizer runs."""
    for name, scheme in deployment.definition.get("securityDefinitions", {}).items():
        assert scheme.get("x-amazon-apigateway-authtype") == "custom", (name, scheme)
    assert "x-api-key" not in json.dumps(deployment.definition).lower()
    assert "apiKeyRequired" not in json.dumps(deployment.definition)


def test_every_route_is_proxied_to_the_api_handler(deployment):
    for route, operation in _operations(deployment.definition).items():
        integration = operation["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy" and integration["httpMethod"] == "POST", route
        function = deployment.function_of(integration["uri"])
        assert deployment.handlers[function] == API_HANDLER, route
        assert function in deployment.invokable_by_apigateway, route
