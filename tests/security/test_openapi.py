"""The OpenAPI document: in sync with the routes and the validator, and Schemathesis against the
real local run on loopback (negative data, ignored auth, use after free, stateful links)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from chalicelib import params
from chalicelib.api import openapi, schemas
from chalicelib.errors import ValidationError
from chalicelib.roles.catalog import BUILTIN_ROLES
from tests.security import hygiene
from tests.security.conftest import LocalRun, count

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
    use_after_free,
    ensure_resource_availability,
]
EXAMPLES_PER_OPERATION = 20
STATEFUL_EXAMPLES = 20


def test_every_route_is_documented_and_nothing_else():
    from app import app

    routed = openapi.routes_of(app)
    described = set(openapi.operations())
    assert routed - described == set(), "routes missing from chalicelib/api/openapi.py"
    assert described - routed == set(), "documented operations the app does not serve"
    served = openapi.document(routed)
    documented = {(path, method.upper()) for path, item in served["paths"].items() for method in item}
    assert documented == routed


def test_bodies_allow_exactly_the_fields_the_validator_allows():
    documented = openapi.document()["components"]["schemas"]
    for name, allowed in (
        ("CreateKey", {"name", "description", "roles", "expires_at", "expires_in_days", "vault", "reveal", "plan",
                       "allowed_cidrs"}),
        ("EditKey", {"name", "description", "roles", "plan", "allowed_cidrs"}),
        ("RevokeKey", {"reason"}),
        ("RotateKey", {"grace", "reveal"}),
        ("CreateRole", {"name", "description", "permissions"}),
        ("EditRole", {"description", "permissions"}),
    ):  # fmt: skip
        assert set(documented[name]["properties"]) == set(schemas.BODIES[name].model_fields) == allowed, name
        assert documented[name]["additionalProperties"] is False, name
        with pytest.raises(ValidationError) as refused:
            schemas.parse(schemas.BODIES[name], {"unknown": 1})
        assert refused.value.field == "unknown", name
    listing = openapi.document()["paths"]["/communities/{community}/apikeys"]["get"]
    assert {p["name"] for p in listing["parameters"] if p["in"] == "query"} == set(params.LIST_PARAMS)
    assert set(documented["CreateKey"]["properties"]["roles"]["items"]["enum"]) == set(BUILTIN_ROLES)
    assert documented["CreateKey"]["properties"]["name"]["maxLength"] == schemas.NAME_MAX


def test_management_routes_need_a_key_and_say_so(client):
    served = client.http.get("/openapi.json")
    assert served.status_code == 200
    document = served.json_body
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path.startswith("/communities/"):
                assert operation["security"] == [{"apiKey": []}], (method, path)
                assert "401" in operation["responses"] and "403" in operation["responses"], (method, path)


# -- Schemathesis against the local run ----------------------------------------------------------


def _remember_secrets(response: Any) -> None:
    """Keys made in the local run's process are learnt from the answers that carry them."""
    try:
        body = response.json()
    except ValueError:
        return
    if isinstance(body, dict) and isinstance(body.get("secret"), str):
        hygiene.remember(body["secret"])
    if response.status_code >= 400:
        hygiene.inspect("error body", response.text)


@pytest.fixture(scope="module")
def api_schema(local_run: LocalRun) -> Any:
    schema = schemathesis.openapi.from_url(local_run.url + "/openapi.json")
    schema.config.update(base_url=local_run.url)
    schema.config.generation.update(
        modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
        max_examples=EXAMPLES_PER_OPERATION,
        allow_x00=False,
        database="none",
    )
    return schema


OPERATIONS = sorted(
    f"{method.upper()} {path}"
    for path, item in openapi.document()["paths"].items()
    for method in item
    if path not in ("/", "/console/{name}", "/openapi.json")  # pages, and the document itself
)


@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize("label", OPERATIONS)
def test_api_answers_every_input_with_a_documented_non_5xx(
    api_schema: Any, local_run: LocalRun, label: str, mode: str
) -> None:
    # schemathesis' own pytest loader needs a pytest private this pytest lacks; its strategies work.
    generation_mode = schemathesis.GenerationMode(mode)
    operation = next(result.ok() for result in api_schema.get_all_operations() if result.ok().label == label)

    @given(case=operation.as_strategy(generation_mode=generation_mode))
    @settings(
        deadline=None, suppress_health_check=list(HealthCheck), max_examples=EXAMPLES_PER_OPERATION, database=None
    )
    def check(case: Any) -> None:
        if "community" in (case.path_parameters or {}) and not _negative_at_path(case):
            case.path_parameters["community"] = local_run.community
        if generation_mode == schemathesis.GenerationMode.NEGATIVE:
            # A query parameter whose value is None never reaches the wire (requests drops it), so
            # an "unknown parameter" case made of one is a valid request: not a negative case.
            assume(not any(value is None for value in (case.query or {}).values()))
            count("bad inputs")
        response = case.call(headers=local_run.headers(), timeout=15)
        _remember_secrets(response)
        case.validate_response(response, checks=CHECKS, headers=local_run.headers())

    check()


def _negative_at_path(case: Any) -> bool:
    from schemathesis.core.parameters import ParameterLocation

    return bool(case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH))


def test_stateful_links_create_then_read_edit_revoke(local_run: LocalRun, tmp_path: Any) -> None:
    """Schemathesis' own stateful engine (its CLI: Hypothesis state machines over live servers need
    the engine's handling of server state): create -> get / edit / revoke / rotate via the links."""
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[parameters]\n"path.community" = "{local_run.community}"\n')
    report = tmp_path / "report"
    checks = ",".join(check.__name__ for check in CHECKS)
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run", local_run.url + "/openapi.json",
        "--phases", "stateful", "--checks", checks, "--max-examples", str(STATEFUL_EXAMPLES),
        "--header", f"Authorization: Bearer {local_run.admin_key}", "--request-timeout", "15",
        "--generation-database", "none", "--report", "har", "--report-dir", str(report), "--no-color",
    ]  # fmt: skip
    if os.environ.get("CI") == "true":
        command += ["--seed", "20261127"]  # repeatable in CI, as the Hypothesis profile there
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    output = finished.stdout + finished.stderr
    for har in report.glob("har-*.json"):
        for entry in json.loads(har.read_text())["log"]["entries"]:
            text = entry["response"]["content"].get("text", "")
            if '"secret"' in text:
                hygiene.remember(json.loads(text)["secret"])
            if entry["response"]["status"] >= 400:
                hygiene.inspect("error body", text)
                count("bad inputs")
    assert finished.returncode == 0, output[-6000:]
    assert "Stateful" in output and "No issues found" in output, output[-3000:]
    count("stateful cases", sum(int(n) for n in re.findall(r"(\d+) generated", output)))


def test_openapi_document_is_public_over_http(local_run: LocalRun) -> None:
    answer = requests.get(local_run.url + "/openapi.json", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["openapi"].startswith("3.")


# -- bodies nested past any bound: what Schemathesis' generators never send ---------------------

BODY_OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in openapi.document()["paths"].items()
    for method, operation in item.items()
    if "requestBody" in operation and path != "/leaks/github"  # signed: tests/functional/test_bounds.py
)


@st.composite
def deep_bodies(draw: Any) -> bytes:
    """JSON nested from just past the bound to far past the parser's recursion limit, with
    arrays and objects mixed, inside a field or at the top, closed or left open."""
    depth = draw(st.integers(min_value=schemas.BODY_MAX_DEPTH + 1, max_value=5000))
    openings = draw(st.lists(st.sampled_from(["[", '{"a":']), min_size=1, max_size=4))
    opened = [openings[i % len(openings)] for i in range(depth)]
    closed = "".join("]" if o == "[" else "}" for o in reversed(opened)) if draw(st.booleans()) else ""
    text = "".join(opened) + "1" + closed
    if draw(st.booleans()):
        text = '{"name": ' + text + ("}" if closed else "")
    return text.encode()


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
def test_deeply_nested_bodies_are_a_400_naming_body(local_run: LocalRun, method: str, path: str) -> None:
    url = local_run.url + path.replace("{community}", local_run.community).replace("{key_id}", local_run.admin_key_id)
    url = url.replace("{name}", "no_such_role")

    @given(body=deep_bodies())
    @settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=10, database=None)
    def check(body: bytes) -> None:
        count("bad inputs")
        answer = requests.request(method, url, data=body, headers=local_run.headers(), timeout=15)
        assert answer.status_code == 400, (answer.status_code, answer.text[:200])
        assert answer.json()["Message"].startswith("body:"), answer.text[:200]

    check()
