"""The operator CLI as an operator runs it: a separate process against moto in server mode."""

import json
import os
import subprocess
import sys
import uuid

import pytest

from tests.conftest import PEPPER

pytestmark = pytest.mark.slow


@pytest.fixture
def cli(moto_server):
    suffix = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_server,
        "APIKEYS_PEPPERS": f"p2:{PEPPER}",
        "APIKEYS_KEYS_TABLE": f"cli-{suffix}-keys",
        "APIKEYS_EVENTS_TABLE": f"cli-{suffix}-events",
        "APIKEYS_IDEMPOTENCY_TABLE": f"cli-{suffix}-idem",
        "APIKEYS_ROLES_TABLE": f"cli-{suffix}-roles",
    }

    def run(*args, ok=True):
        done = subprocess.run(
            [sys.executable, "-m", "chalicelib.cli", *args], env=env, capture_output=True, text=True, timeout=60
        )
        if ok:
            assert done.returncode == 0, done.stderr
            return json.loads(done.stdout)
        return done

    run("init")
    run.env = env
    return run


def test_operator_creates_lists_finds_and_revokes(cli):
    made = cli("create-key", "--community", "acme", "--name", "Feed", "--role", "ic_viewer",
               "--role", "playbooks_operator", "--description", "SOAR connector")  # fmt: skip
    assert made["secret"].startswith("apk_") and made["roles"] == ["ic_viewer", "playbooks_operator"]
    other = cli("create-key", "--community", "acme", "--name", "Other", "--role", "ic_viewer")
    listed = cli("list", "--community", "acme")["items"]
    assert [i["id"] for i in listed] == [other["id"], made["id"]]
    assert "secret" not in json.dumps(listed)
    assert [i["id"] for i in cli("list", "--community", "acme", "--search", "soar")["items"]] == [made["id"]]
    revoked = cli("revoke", "--community", "acme", "--id", made["id"], "--reason", "test")
    assert revoked["status"] == "revoked"
    assert [i["id"] for i in cli("list", "--community", "acme", "--status", "revoked")["items"]] == [made["id"]]
    assert [i["id"] for i in cli("list", "--community", "acme", "--status", "active")["items"]] == [other["id"]]
    assert cli("list", "--community", "elsewhere")["items"] == []


def test_keys_made_before_search_entries_are_found_after_index_search(cli):
    """An upgraded deployment: keys whose search entries were never written (deleted here, as
    an older version left them) are listed but not found, until ``index-search`` runs once."""
    import boto3

    made = cli("create-key", "--community", "acme", "--name", "Legacy Feed", "--role", "ic_viewer")
    revoked = cli("create-key", "--community", "acme", "--name", "Legacy Old", "--role", "ic_viewer")
    cli("revoke", "--community", "acme", "--id", revoked["id"])
    dynamodb = boto3.client("dynamodb", endpoint_url=cli.env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    roles_table = cli.env["APIKEYS_ROLES_TABLE"]
    entries = dynamodb.scan(
        TableName=roles_table,
        FilterExpression="begins_with(#n, :p)",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":p": {"S": "#search#"}},
    )
    assert len(entries["Items"]) == 2
    for entry in entries["Items"]:
        dynamodb.delete_item(TableName=roles_table, Key={"community": entry["community"], "name": entry["name"]})
    assert cli("list", "--community", "acme", "--search", "legacy")["items"] == []
    assert len(cli("list", "--community", "acme")["items"]) == 2

    assert cli("index-search") == {"indexed": 2, "present": 0}
    found = cli("list", "--community", "acme", "--search", "LEGACY")["items"]
    assert [(i["id"], i["status"]) for i in found] == [(revoked["id"], "revoked"), (made["id"], "active")]
    assert cli("index-search") == {"indexed": 0, "present": 2}  # a second run changes nothing


def test_operator_errors_are_clear_and_write_nothing(cli):
    unknown_role = cli("create-key", "--community", "acme", "--name", "x", "--role", "root", ok=False)
    assert unknown_role.returncode == 2 and "roles: unknown role 'root'" in unknown_role.stderr
    missing = cli("revoke", "--community", "acme", "--id", "AAAAAAAAAAAAAAAA", ok=False)
    assert missing.returncode == 2 and "no such API key" in missing.stderr
    assert cli("list", "--community", "acme")["items"] == []


def run_fresh(*args: str, **settings: str) -> subprocess.CompletedProcess:
    """The CLI from a shell that has only what the operator set: nothing inherited from the suite."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), **settings}
    return subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


def assert_one_line_error(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr  # never a traceback, never a usage block
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in lines[0]


GOOD_PEPPER = {"APIKEYS_PEPPERS": f"p2:{PEPPER}", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.mark.parametrize(
    "community",
    ["", "a" * 3000, "Bad Community!", "a/b", "a" * 65, "démo"],
    ids=["empty", "3000 chars", "space and bang", "slash", "65 chars", "non-ascii"],
)
@pytest.mark.parametrize("command", ["list", "create-key", "revoke"])
def test_community_the_api_cannot_reach_is_refused(command, community):
    extra = {"list": [], "create-key": ["--name", "n", "--role", "ic_viewer"], "revoke": ["--id", "A" * 16]}[command]
    done = run_fresh(command, "--community", community, *extra, **GOOD_PEPPER)
    assert_one_line_error(done, "--community")
    assert community[:100] not in done.stderr or community == ""


def test_community_names_at_the_edge_of_the_rule_work(cli):
    for name in ("a" * 64, "Team_A-9"):
        made = cli("create-key", "--community", name, "--name", "edge", "--role", "ic_viewer")
        assert [item["id"] for item in cli("list", "--community", name)["items"]] == [made["id"]]


def test_openapi_documents_the_cli_rule_for_the_path():
    """The routes' community parameter and the CLI accept the same names: one definition."""
    from app import app
    from chalicelib.api import openapi
    from chalicelib.params import COMMUNITY_PATTERN

    document = openapi.document(openapi.routes_of(app))
    params = [p for path in document["paths"].values() for op in path.values() if isinstance(op, dict)
              for p in op.get("parameters", []) if p.get("name") == "community"]  # fmt: skip
    assert params and {p["schema"]["pattern"] for p in params} == {f"^{COMMUNITY_PATTERN.pattern}$"}


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"AWS_DEFAULT_REGION": "us-east-1"}, ["APIKEYS_PEPPERS", "not set"]),
        ({"APIKEYS_PEPPERS": "p1:short", "AWS_DEFAULT_REGION": "us-east-1"}, ["APIKEYS_PEPPERS", "p1"]),
        ({"APIKEYS_PEPPERS": "no-colon", "AWS_DEFAULT_REGION": "us-east-1"}, ["APIKEYS_PEPPERS"]),
        ({**GOOD_PEPPER, "APIKEYS_VAULT_TARGETS": '[{"name": "x", "kind": "nope"}]'}, ["vault target 'x'", "kind"]),
        ({**GOOD_PEPPER, "APIKEYS_VAULT_TARGETS": "not json"}, ["APIKEYS_VAULT_TARGETS"]),
    ],
    ids=["pepper unset", "pepper not base64", "pepper malformed", "unknown vault kind", "targets not JSON"],
)
def test_bad_setting_is_one_line_and_exit_2(settings, words):
    assert_one_line_error(run_fresh("list", "--community", "demo", **settings), *words)


def test_vault_without_targets_says_which_setting(moto_server):
    aws = {"AWS_ENDPOINT_URL": moto_server, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    done = run_fresh("create-key", "--community", "demo", "--name", "n", "--role", "ic_viewer", "--vault", "bao",
                     **aws, **GOOD_PEPPER)  # fmt: skip
    assert_one_line_error(done, "vault", "APIKEYS_VAULT_TARGETS")


@pytest.mark.parametrize("value", ["-5", "nan", "inf", "soon"])
def test_sweep_refuses_a_negative_or_non_number_age(value):
    assert_one_line_error(run_fresh("sweep", "--older-than", value, **GOOD_PEPPER), "--older-than")


def test_init_needs_no_pepper(moto_server):
    suffix = uuid.uuid4().hex[:8]
    tables = {f"APIKEYS_{t}_TABLE": f"init-{suffix}-{t.lower()}" for t in ("KEYS", "EVENTS", "IDEMPOTENCY", "ROLES")}
    done = run_fresh("init", AWS_ENDPOINT_URL=moto_server, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
                     AWS_DEFAULT_REGION="us-east-1", **tables)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(json.loads(done.stdout)["tables"]) == sorted(tables.values())


def test_unreachable_store_is_one_line():
    from tests.conftest import free_port

    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    aws = {"AWS_ENDPOINT_URL": nowhere, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    done = run_fresh("init", **aws, AWS_DEFAULT_REGION="us-east-1", APIKEYS_DDB_MAX_RETRIES="0")
    assert_one_line_error(done, "tables could not be created")
