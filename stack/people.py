"""People signing in (chalicelib/authorizer/tokens.py), when a stage asks for its own user pool
(``"user_pool": true`` in the stage of ``.chalice/config.json``): a Cognito user pool (people
invited by an administrator, multi-factor sign-in optional, a strong password policy) and the
console's app client (public: no secret; password and refresh-token sign-in), and the settings
of the functions that read people's tokens (``APIKEYS_OIDC_ISSUER`` and ``APIKEYS_OIDC_AUDIENCE``)
pointed at them.

A stage without it may point at an existing issuer instead (Okta, Entra ID, Auth0, Keycloak,
another Cognito pool): ``APIKEYS_OIDC_*`` in its ``environment_variables``, which Chalice
packages as it is. Asking for both is refused: the pool's settings would silently win.
"""

from __future__ import annotations

from typing import Any

from stack.config import StackError, Stage
from stack.functions import API_HANDLER, cfn_function_id

SETTING = "user_pool"
POOL_CFN = "UserPool"
CLIENT_CFN = "UserPoolClient"
POOL_TF = "people"
CLIENT_TF = "console"
# The functions that read people's settings: the app's authorizer verifies the tokens, the API
# handler serves the console page that names the pool's sign-in.
FUNCTIONS = (API_HANDLER, "app_authorizer")
MINIMUM_PASSWORD_LENGTH = 12
TEMPORARY_PASSWORD_DAYS = 7
ID_TOKEN_MINUTES = 60  # the Bearer the console sends; renewed with the refresh token
REFRESH_TOKEN_HOURS = 12  # a working day: then the person signs in again
OIDC_SETTINGS = ("APIKEYS_OIDC_ISSUER", "APIKEYS_OIDC_AUDIENCE", "APIKEYS_OIDC_JWKS_URL")
AUTH_FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def wanted(stage: Stage) -> bool:
    """Whether the stage's stack creates its own user pool; refuses a stage that also names
    another issuer."""
    if not stage.own.get(SETTING, False):
        return False
    for environment in _environments(stage):
        named = sorted(set(environment) & set(OIDC_SETTINGS))
        if named:
            raise StackError(f"stage {stage.name}: {SETTING} creates the issuer; remove {', '.join(named)}")
    return True


def _environments(stage: Stage) -> list[dict[str, str]]:
    """Every environment block a variable could come from: top level, stage, each function's."""
    functions = stage.own.get("lambda_functions", {}).values()
    return [
        stage.config.get("environment_variables", {}),
        stage.own.get("environment_variables", {}),
        *(function.get("environment_variables", {}) for function in functions),
    ]


def _names(stage: Stage) -> tuple[str, str]:
    return f"{stage.prefix}-people", f"{stage.prefix}-console"


def _deletion_protection(stage: Stage) -> str:
    return "ACTIVE" if stage.protected else "INACTIVE"


def cloudformation(stage: Stage) -> dict[str, Any]:
    if not wanted(stage):
        return {}
    pool_name, client_name = _names(stage)
    people = {
        "APIKEYS_OIDC_ISSUER": {"Fn::Sub": f"https://cognito-idp.${{AWS::Region}}.amazonaws.com/${{{POOL_CFN}}}"},
        "APIKEYS_OIDC_AUDIENCE": {"Ref": CLIENT_CFN},
    }
    return {
        POOL_CFN: {
            "Type": "AWS::Cognito::UserPool",
            # People's accounts outlive the stack, as the tables do.
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "UserPoolName": pool_name,
                "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
                "UsernameConfiguration": {"CaseSensitive": False},
                "AutoVerifiedAttributes": ["email"],
                "AccountRecoverySetting": {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]},
                "MfaConfiguration": "OPTIONAL",
                "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
                "Policies": {
                    "PasswordPolicy": {
                        "MinimumLength": MINIMUM_PASSWORD_LENGTH,
                        "RequireLowercase": True,
                        "RequireUppercase": True,
                        "RequireNumbers": True,
                        "RequireSymbols": True,
                        "TemporaryPasswordValidityDays": TEMPORARY_PASSWORD_DAYS,
                    }
                },
                "DeletionProtection": _deletion_protection(stage),
                "UserPoolTags": stage.tags,
            },
        },
        CLIENT_CFN: {
            "Type": "AWS::Cognito::UserPoolClient",
            "Properties": {
                "ClientName": client_name,
                "UserPoolId": {"Ref": POOL_CFN},
                "GenerateSecret": False,
                "ExplicitAuthFlows": AUTH_FLOWS,
                "PreventUserExistenceErrors": "ENABLED",
                "EnableTokenRevocation": True,
                "IdTokenValidity": ID_TOKEN_MINUTES,
                "AccessTokenValidity": ID_TOKEN_MINUTES,
                "RefreshTokenValidity": REFRESH_TOKEN_HOURS,
                "TokenValidityUnits": {"IdToken": "minutes", "AccessToken": "minutes", "RefreshToken": "hours"},
            },
        },
        # Merged into Chalice's functions: their other settings stay as the stage declares them.
        **{cfn_function_id(name): {"Properties": {"Environment": {"Variables": people}}} for name in FUNCTIONS},
    }


def terraform(stage: Stage) -> dict[str, Any]:
    if not wanted(stage):
        return {}
    pool_name, client_name = _names(stage)
    return {
        "aws_cognito_user_pool": {
            POOL_TF: {
                "name": pool_name,
                "admin_create_user_config": [{"allow_admin_create_user_only": True}],
                "username_configuration": [{"case_sensitive": False}],
                "auto_verified_attributes": ["email"],
                "account_recovery_setting": [{"recovery_mechanism": [{"name": "verified_email", "priority": 1}]}],
                "mfa_configuration": "OPTIONAL",
                "software_token_mfa_configuration": [{"enabled": True}],
                "password_policy": [
                    {
                        "minimum_length": MINIMUM_PASSWORD_LENGTH,
                        "require_lowercase": True,
                        "require_uppercase": True,
                        "require_numbers": True,
                        "require_symbols": True,
                        "temporary_password_validity_days": TEMPORARY_PASSWORD_DAYS,
                    }
                ],
                "deletion_protection": _deletion_protection(stage),
                "tags": stage.tags,
            }
        },
        "aws_cognito_user_pool_client": {
            CLIENT_TF: {
                "name": client_name,
                "user_pool_id": f"${{aws_cognito_user_pool.{POOL_TF}.id}}",
                "generate_secret": False,
                "explicit_auth_flows": AUTH_FLOWS,
                "prevent_user_existence_errors": "ENABLED",
                "enable_token_revocation": True,
                "id_token_validity": ID_TOKEN_MINUTES,
                "access_token_validity": ID_TOKEN_MINUTES,
                "refresh_token_validity": REFRESH_TOKEN_HOURS,
                "token_validity_units": [{"id_token": "minutes", "access_token": "minutes", "refresh_token": "hours"}],
            }
        },
    }


def terraform_overrides(stage: Stage) -> dict[str, Any]:
    """The functions' environment with the pool's settings added. A Terraform override replaces
    a nested block whole, so each function's block repeats every variable Chalice gives it (the
    app's, the stage's, the function's own, in Chalice's order of precedence)."""
    if not wanted(stage):
        return {}
    people = {
        "APIKEYS_OIDC_ISSUER": f"https://${{aws_cognito_user_pool.{POOL_TF}.endpoint}}",
        "APIKEYS_OIDC_AUDIENCE": f"${{aws_cognito_user_pool_client.{CLIENT_TF}.id}}",
    }
    return {
        "aws_lambda_function": {
            name: {"environment": {"variables": {**stage.function_environment(name), **people}}} for name in FUNCTIONS
        }
    }
