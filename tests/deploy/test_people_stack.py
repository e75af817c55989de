"""What the packaged stack declares for people signing in, in both formats: a stage with
``"user_pool": true`` gets a Cognito user pool (invited people, optional MFA, a strong password
policy) and a public app client for the console, and the functions that read people's tokens
are pointed at them; a stage without it packages no pool and the issuer its environment names."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from stack import people
from stack.config import StackError, Stage
from tests.deploy.packaging import packaged
from tests.deploy.test_package import CONFIG, STAGES, _tf

POOL_STAGES = [stage for stage in STAGES if CONFIG["stages"][stage].get("user_pool")]
OTHER_STAGES = [stage for stage in STAGES if stage not in POOL_STAGES]
# The authorizer checks people's tokens; the handler serves the page that names the sign-in.
PEOPLE_FUNCTIONS = ("api_handler", "app_authorizer")
CFN_IDS = {"api_handler": "APIHandler", "app_authorizer": "AppAuthorizer", "gateway_authorizer": "GatewayAuthorizer"}


def _cfn(stage: str) -> dict[str, Any]:
    return json.loads((packaged(stage, "cloudformation") / "sam.json").read_text())["Resources"]  # type: ignore[no-any-return]


def _chalice_tf(stage: str) -> dict[str, Any]:
    """Chalice's own Terraform, before the override file."""
    return json.loads((packaged(stage, "terraform") / "chalice.tf.json").read_text())["resource"]  # type: ignore[no-any-return]


def test_some_stage_creates_its_pool_and_some_does_not():
    assert POOL_STAGES and OTHER_STAGES  # both shapes are packaged and checked below


@pytest.mark.slow
@pytest.mark.parametrize("stage", POOL_STAGES)
def test_cloudformation_creates_the_pool_and_the_console_client_and_points_the_functions_at_them(stage):
    resources = _cfn(stage)
    [pool_id] = [name for name, r in resources.items() if r["Type"] == "AWS::Cognito::UserPool"]
    [client_id] = [name for name, r in resources.items() if r["Type"] == "AWS::Cognito::UserPoolClient"]
    pool = resources[pool_id]["Properties"]
    assert pool["MfaConfiguration"] == "OPTIONAL" and pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    policy = pool["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(policy[f"Require{kind}"] for kind in ("Lowercase", "Uppercase", "Numbers", "Symbols"))
    assert pool["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}  # no self sign-up
    assert resources[pool_id]["DeletionPolicy"] == "Retain"
    client = resources[client_id]["Properties"]
    assert client["UserPoolId"] == {"Ref": pool_id}
    assert client["GenerateSecret"] is False  # a browser cannot keep a secret
    assert sorted(client["ExplicitAuthFlows"]) == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]
    assert client["EnableTokenRevocation"] is True and client["PreventUserExistenceErrors"] == "ENABLED"
    for name in PEOPLE_FUNCTIONS:
        variables = resources[CFN_IDS[name]]["Properties"]["Environment"]["Variables"]
        issuer = variables["APIKEYS_OIDC_ISSUER"]["Fn::Sub"]
        assert issuer == f"https://cognito-idp.${{AWS::Region}}.amazonaws.com/${{{pool_id}}}"  # the pool's iss
        assert variables["APIKEYS_OIDC_AUDIENCE"] == {"Ref": client_id}  # Ref is the client id
        # Merged into the function's environment, not in place of it.
        assert variables["APIKEYS_KEYS_TABLE"] == CONFIG["stages"][stage]["environment_variables"]["APIKEYS_KEYS_TABLE"]
    gateway = resources["GatewayAuthorizer"]["Properties"]["Environment"]["Variables"]
    assert not any(name.startswith("APIKEYS_OIDC_") for name in gateway)  # machines only


@pytest.mark.slow
@pytest.mark.parametrize("stage", POOL_STAGES)
def test_terraform_creates_the_pool_and_the_console_client_and_points_the_functions_at_them(stage):
    resources = _tf({(stage, "terraform"): packaged(stage, "terraform")}, stage)["resource"]
    [(pool_name, pool)] = resources["aws_cognito_user_pool"].items()
    [(client_name, client)] = resources["aws_cognito_user_pool_client"].items()
    assert pool["mfa_configuration"] == "OPTIONAL" and pool["software_token_mfa_configuration"] == [{"enabled": True}]
    [policy] = pool["password_policy"]
    assert policy["minimum_length"] >= 12
    assert all(policy[f"require_{kind}"] for kind in ("lowercase", "uppercase", "numbers", "symbols"))
    assert pool["admin_create_user_config"] == [{"allow_admin_create_user_only": True}]
    assert client["user_pool_id"] == f"${{aws_cognito_user_pool.{pool_name}.id}}"
    assert client["generate_secret"] is False
    assert sorted(client["explicit_auth_flows"]) == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]
    own = _chalice_tf(stage)["aws_lambda_function"]
    functions = resources["aws_lambda_function"]
    for name in PEOPLE_FUNCTIONS:
        variables = functions[name]["environment"]["variables"]
        # The pool's endpoint attribute is cognito-idp.<region>.amazonaws.com/<pool id>: its iss.
        assert variables["APIKEYS_OIDC_ISSUER"] == f"https://${{aws_cognito_user_pool.{pool_name}.endpoint}}"
        assert variables["APIKEYS_OIDC_AUDIENCE"] == f"${{aws_cognito_user_pool_client.{client_name}.id}}"
        # The override replaces the environment block whole: every variable Chalice set is kept.
        assert own[name]["environment"]["variables"].items() <= variables.items()
    assert functions["gateway_authorizer"]["environment"] == own["gateway_authorizer"]["environment"]


@pytest.mark.slow
@pytest.mark.parametrize("stage", OTHER_STAGES)
@pytest.mark.parametrize("pkg_format", ["cloudformation", "terraform"])
def test_a_stage_without_the_setting_packages_no_pool_and_only_the_issuer_it_names(stage, pkg_format):
    named = {k: v for k, v in CONFIG["stages"][stage].get("environment_variables", {}).items() if "OIDC" in k}
    if pkg_format == "cloudformation":
        resources = _cfn(stage)
        assert not [r for r in resources.values() if r["Type"].startswith("AWS::Cognito::")]
        environments = [resources[CFN_IDS[name]]["Properties"]["Environment"]["Variables"] for name in PEOPLE_FUNCTIONS]
    else:
        resources = _tf({(stage, "terraform"): packaged(stage, "terraform")}, stage)["resource"]
        assert not [kind for kind in resources if kind.startswith("aws_cognito_")]
        functions = resources["aws_lambda_function"]
        environments = [functions[name]["environment"]["variables"] for name in PEOPLE_FUNCTIONS]
    for variables in environments:
        assert {k: v for k, v in variables.items() if k.startswith("APIKEYS_OIDC_")} == named


def test_a_stage_that_creates_a_pool_and_names_another_issuer_is_refused():
    config = copy.deepcopy(CONFIG)
    [stage, *_] = POOL_STAGES
    config["stages"][stage]["environment_variables"]["APIKEYS_OIDC_ISSUER"] = "https://idp.example.com/"
    with pytest.raises(StackError, match="APIKEYS_OIDC_ISSUER"):
        people.cloudformation(Stage(config, stage))
    config = copy.deepcopy(CONFIG)
    authorizer = config["stages"][stage]["lambda_functions"]["app_authorizer"]
    authorizer["environment_variables"]["APIKEYS_OIDC_AUDIENCE"] = "c"
    with pytest.raises(StackError, match="APIKEYS_OIDC_AUDIENCE"):
        people.terraform(Stage(config, stage))
