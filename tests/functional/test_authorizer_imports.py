"""The standalone authorizer's cold start stays light: what Lambda's init and its first decision
import, read in a fresh interpreter. PynamoDB and pydantic belong to the management routes only."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import PEPPER

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent
HEAVY = ("pynamodb", "pydantic")
ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/intelligence/reports/42"

DECIDE = """
import json, sys
import app
answer = app.app.handler_map["gateway_authorizer"](json.loads(sys.argv[1]), None)
print(json.dumps({
    "effect": answer["policyDocument"]["Statement"][0]["Effect"],
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in %r or m.startswith("chalicelib.")),
}))
""" % (HEAVY,)  # noqa: UP031 - the code's own braces stay as they are

IMPORT_ONLY = """
import json, sys
import chalicelib.authorizer.gateway, chalicelib.authorizer.policy, chalicelib.authorizer.verifier
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("pynamodb", "pydantic", "chalice", "app")
                        or m.startswith(("chalicelib.routes", "chalicelib.keys.", "chalicelib.plans")))))
"""


def _python(code: str, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_authorizer_modules_import_no_store_no_routes_no_models():
    """Read alone, the authorizer package needs the key format and records, the roles, and nothing heavier."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
    loaded = json.loads(_python(IMPORT_ONLY, env=env))
    assert loaded == ["chalicelib.keys.format", "chalicelib.keys.records"]


def _cold_env(moto_server: str) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/"),
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "APIKEYS_PEPPERS": f"p2:{PEPPER}",
        "APIKEYS_KEYS_TABLE": f"cold-{suffix}-keys",
        "APIKEYS_EVENTS_TABLE": f"cold-{suffix}-events",
        "APIKEYS_IDEMPOTENCY_TABLE": f"cold-{suffix}-idem",
        "APIKEYS_ROLES_TABLE": f"cold-{suffix}-roles",
        "APIKEYS_VAULT_TARGETS": "[]",
    }


def _admin_secret(env: dict[str, str], role: str = "ic_viewer") -> str:
    cli = [sys.executable, "-m", "chalicelib.cli"]
    for args in (["init"], ["create-key", "--community", "acme", "--name", "Feed", "--role", role]):
        done = subprocess.run([*cli, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["secret"])


def test_a_first_decision_from_a_cold_start_imports_no_pynamodb_or_pydantic(moto_server):
    env = _cold_env(moto_server)
    secret = _admin_secret(env)
    event = json.dumps({"type": "TOKEN", "authorizationToken": f"Bearer {secret}", "methodArn": ARN})

    seen = json.loads(_python(DECIDE, event, env=env).splitlines()[-1])  # after the decision log line

    assert seen["effect"] == "Allow"
    assert [m for m in seen["modules"] if m.split(".")[0] in HEAVY] == []
    assert not [module for module in seen["modules"] if module.startswith("chalicelib.storage")]


APP_DECIDE = """
import json, sys
import app
answers = []
for token in sys.argv[1:]:
    event = {"type": "TOKEN", "authorizationToken": "Bearer " + token,
             "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/api/GET/whoami"}
    try:
        answer = app.app.handler_map["app_authorizer"](event, None)
        effect = answer["policyDocument"]["Statement"][0]["Effect"]
    except Exception as error:
        effect = str(error)
    answers.append({"effect": effect, "people": sorted(m for m in sys.modules
                    if m.split(".")[0] == "jwt" or m == "chalicelib.authorizer.tokens")})
print(json.dumps(answers))
"""


def test_with_people_signing_in_an_api_key_still_imports_no_token_library(moto_server):
    """The app's authorizer with an identity provider configured: a key's decision costs what it
    did (no PyJWT); the first token loads it."""
    from tests.oidc import Issuer

    env = {**_cold_env(moto_server), "APIKEYS_OIDC_ISSUER": "https://issuer.test/pool", "APIKEYS_OIDC_AUDIENCE": "c"}
    env["APIKEYS_OIDC_JWKS_URL"] = "http://127.0.0.1:9/jwks.json"  # nothing listens: keys unavailable
    secret = _admin_secret(env, "community_admin")
    token = Issuer(owner="imports").sign()

    by_key, by_token = json.loads(_python(APP_DECIDE, secret, token, env=env).splitlines()[-1])

    assert by_key == {"effect": "Allow", "people": []}
    assert "Unauthorized" in by_token["effect"]  # the refusal API Gateway turns into 401
    assert "jwt" in by_token["people"] and "chalicelib.authorizer.tokens" in by_token["people"]


# Lambda's init and first invocation of one authorizer function, counting the botocore sessions
# made (the class's own constructor, wrapped before anything imports botocore).
AS_DEPLOYED = """
import importlib, json, sys
import botocore.session
sessions = []
made = botocore.session.Session.__init__
def counted(self, *args, **kwargs):
    sessions.append(self)
    made(self, *args, **kwargs)
botocore.session.Session.__init__ = counted
module, _, name = sys.argv[1].rpartition(".")
answer = getattr(importlib.import_module(module), name)(json.loads(sys.argv[2]), None)
print(json.dumps({
    "effect": answer["policyDocument"]["Statement"][0]["Effect"],
    "sessions": len(sessions),
    "boto3": sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "s3transfer")),
}))
"""


@pytest.mark.parametrize(
    "handler", ["chalicelib.routes.gateway.gateway_authorizer", "chalicelib.routes.auth.app_authorizer"]
)
def test_a_deployed_cold_start_makes_one_botocore_session_and_imports_no_boto3(moto_server, handler):
    """As a deployed stage runs: the pepper read from Secrets Manager on the first event, then
    the key. One session serves both clients (credentials, endpoints and botocore's data files
    resolved once) and boto3, which adds nothing botocore lacks, is never imported."""
    import boto3

    suffix = uuid.uuid4().hex[:8]
    secret_id = f"apikeys/cold-{suffix}/peppers"
    boto3.client(
        "secretsmanager", endpoint_url=moto_server, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    ).create_secret(Name=secret_id, SecretString=f"p2:{PEPPER}")  # fmt: skip
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/"),
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "APIKEYS_PEPPERS_SOURCE": f"secretsmanager:{secret_id}",
        "APIKEYS_KEYS_TABLE": f"cold-{suffix}-keys",
        "APIKEYS_EVENTS_TABLE": f"cold-{suffix}-events",
        "APIKEYS_IDEMPOTENCY_TABLE": f"cold-{suffix}-idem",
        "APIKEYS_ROLES_TABLE": f"cold-{suffix}-roles",
        "APIKEYS_VAULT_TARGETS": "[]",
    }
    cli = [sys.executable, "-m", "chalicelib.cli"]
    for args in (["init"], ["create-key", "--community", "acme", "--name", "Feed", "--role", "ic_viewer"]):
        done = subprocess.run([*cli, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    secret = json.loads(done.stdout)["secret"]
    event = json.dumps({"type": "TOKEN", "authorizationToken": f"Bearer {secret}", "methodArn": ARN})

    seen = json.loads(_python(AS_DEPLOYED, handler, event, env=env).splitlines()[-1])

    assert seen == {"effect": "Allow", "sessions": 1, "boto3": []}
