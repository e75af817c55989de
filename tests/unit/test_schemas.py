"""The one declaration of each body and view: the authorizers' cold start never loads pydantic,
refusals are the project's words whatever the input, and the document built from it is valid."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from pydantic import Field

from chalicelib.api import openapi, schemas
from chalicelib.errors import ValidationError
from chalicelib.roles.catalog import BUILTIN_ROLES
from tests.conftest import PEPPER

ROOT = Path(__file__).resolve().parents[2]
ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/communities/demo/apikeys"

# What Lambda's init and first invocation run for each authorizer function: import the handler's
# module (the handlers of `chalice package`: chalicelib.routes.auth.app_authorizer, ...gateway.gateway_authorizer),
# then one decision; the app's module too, which imports every blueprint.
AUTHORIZER = """
import importlib, json, sys
module, name = sys.argv[1].rsplit(".", 1)
handler = getattr(importlib.import_module(module), name)
event = {"type": "TOKEN", "authorizationToken": "Bearer apk_not-a-key", "methodArn": sys.argv[2]}
try:
    handler(event, None)
except Exception as error:  # API Gateway's 401: an error saying Unauthorized
    assert "Unauthorized" in repr(error), error
else:
    raise AssertionError("a malformed key was let through")
import app
print(json.dumps(sorted(m for m in ("pydantic", "pydantic_core") if m in sys.modules)))
"""


@pytest.mark.parametrize(
    "handler", ["chalicelib.routes.auth.app_authorizer", "chalicelib.routes.gateway.gateway_authorizer"]
)
def test_the_authorizers_cold_start_loads_no_pydantic(handler: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "APIKEYS_"))}
    env.update(AWS_DEFAULT_REGION="us-east-1", APIKEYS_PEPPERS=f"p1:{PEPPER}", APIKEYS_VAULT_TARGETS="[]")
    done = subprocess.run(
        [sys.executable, "-c", AUTHORIZER, handler, ARN], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_document_is_a_valid_openapi_document():
    validate(openapi.document())


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=3),
    max_leaves=8,
)
FIELDS = st.sampled_from(
    ["name", "description", "roles", "expires_at", "expires_in_days", "vault", "reveal", "plan", "allowed_cidrs",
     "reason", "grace", "permissions", "target", "path", "token", "type", "url", "source"]
)  # fmt: skip
BODIES = JSON | st.dictionaries(FIELDS, JSON, max_size=5) | st.lists(st.dictionaries(FIELDS, JSON, max_size=3))


@pytest.mark.parametrize("name", sorted(schemas.BODIES))
@settings(max_examples=150, deadline=None, database=None)
@given(body=BODIES)
def test_a_refusal_names_a_field_in_the_projects_words_never_pydantics(name: str, body: Any) -> None:
    try:
        schemas.parse(schemas.BODIES[name], body, known_roles=BUILTIN_ROLES, max_days=365)
    except ValidationError as refused:
        assert refused.field and str(refused).startswith(f"{refused.field}: ")
        message = str(refused).removeprefix(f"{refused.field}: ")
        assert message != "is not valid", (body, str(refused))  # a refusal no rule of ours put in words
        for pydantic_words in ("Input should", "Field required", "Extra inputs", "validation error", "type=", "http"):
            assert pydantic_words not in message, (body, str(refused))


def test_a_shape_declared_with_says_is_refused_in_its_words_and_kept_when_right() -> None:
    # A shape of its own each run (parse keeps the rules of a shape it has seen): the message
    # travels from the declaration to the refusal.
    message = f"must be a count of days ({secrets.token_hex(4)})"
    count = Annotated[int, schemas.Says(message)]
    assert schemas.parse(count, 7) == 7
    for wrong in ("7", 7.5, None, [7]):
        with pytest.raises(ValidationError) as refused:
            schemas.parse(count, wrong)
        assert (refused.value.field, str(refused.value)) == ("body", f"body: {message}")


@pytest.mark.parametrize("name", ["EditKey", "EditRole"])
def test_an_edit_in_the_document_must_name_a_field_and_none_has_a_default(name: str) -> None:
    # An edit changes what it names: a default in the document would say a field left out is reset.
    built = schemas.BODIES[name].model_json_schema()  # afresh: openapi.document() is cached
    assert built["minProperties"] == 1
    assert [field for field, rule in built["properties"].items() if "default" in rule] == []
    assert set(built["properties"]) == set(schemas.BODIES[name].model_fields)
    documented = openapi.document()["components"]["schemas"][name]
    assert documented["minProperties"] == 1
    assert [field for field, rule in documented["properties"].items() if "default" in rule] == []


def test_a_refusal_no_rule_put_in_words_still_names_its_field_never_in_pydantics_words() -> None:
    # A shape declared without the project's words: pydantic's refusal is named, not quoted.
    positive = Annotated[int, Field(gt=0)]
    for shape, value, field in (
        (positive, 0, "body"),
        (list[positive], [1, 0], "[1]"),
        (dict[str, positive], {"a": 0}, "a"),
    ):
        with pytest.raises(ValidationError) as refused:
            schemas.parse(shape, value)
        assert (refused.value.field, str(refused.value)) == (field, f"{field}: is not valid")


def test_the_error_schema_states_field_optional_and_described_and_every_400_answers_it() -> None:
    document = openapi.document()
    error = document["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"Code", "Message"}  # Field is optional: only some errors name one
    assert error["properties"]["Field"]["type"] == "string"
    assert "request field" in error["properties"]["Field"]["description"]
    assert "Field" in document["components"]["schemas"]["RoleInUse"]["properties"]
    bad_requests = [
        (path, method, operation["responses"]["400"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "400" in operation["responses"]
    ]
    assert bad_requests
    for path, method, response in bad_requests:
        if path == "/leaks/github":
            continue  # GitHub's reports: their 400 is about the whole body
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        assert "Field names it" in response["description"], (method, path)


# -- what the document says a deployment decides ---------------------------------------------------


def test_the_document_names_the_deployments_plans_default_and_expiry_maximum() -> None:
    deployment = openapi.Deployment(plans=("standard", "premium"), default_plan="standard", max_expiry_days=180)
    document = openapi.document(None, deployment)
    validate(document)
    found = document["components"]["schemas"]
    create, edit = found["CreateKey"]["properties"], found["EditKey"]["properties"]
    named = [{"enum": ["standard", "premium"], "type": "string"}, {"type": "null"}]
    assert create["plan"] == {
        "anyOf": named,
        "description": "A usage plan of GET /plans; null for none. Naming it, null included, needs apikeys:plans. "
        "Left out: the deployment's default plan, standard.",
    }
    assert edit["plan"] == {
        "anyOf": named,
        "description": "A usage plan of GET /plans; null for none. Naming it, null included, needs apikeys:plans. "
        "Left out: unchanged.",
    }
    assert create["expires_in_days"] == {
        "anyOf": [{"enum": [30, 180], "type": "integer"}, {"type": "null"}],
        "default": None,
        "description": "Days from now, one of the presets; the deployment's maximum is 180 days. Not with expires_at.",
    }
    assert create["expires_at"]["description"] == (
        "A future ISO 8601 date-time, at most 180 days from now; null: never expires"
    )


def test_without_plans_the_document_offers_none_and_every_preset() -> None:
    create = openapi.document()["components"]["schemas"]["CreateKey"]["properties"]
    assert create["plan"]["anyOf"] == [{"type": "null"}]
    assert create["plan"]["description"].endswith("Left out: no plan.")
    assert create["expires_in_days"]["anyOf"][0]["enum"] == [30, 180, 365]
    assert "at most 365 days from now" in create["expires_at"]["description"]


def test_the_document_says_cursors_are_opaque() -> None:
    document = openapi.document()
    opaque = "Opaque: pass it as cursor, unchanged, with the same filters, for the next page; null on the last"
    for listing in ("KeyList", "EventList"):
        assert document["components"]["schemas"][listing]["properties"]["next_cursor"]["description"] == opaque
    listing = document["paths"]["/communities/{community}/apikeys"]["get"]
    [cursor] = [p for p in listing["parameters"] if p["name"] == "cursor"]
    assert (
        cursor["description"]
        == "next_cursor of the previous page, as given: opaque, and valid only with the same filters"
    )
