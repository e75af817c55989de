"""What the stack declares for people signing in (chalicelib/authorizer/tokens.py), when a stage
asks for its own user pool (``"user_pool": true`` in the stage of ``.chalice/config.json``): a
Cognito user pool (people invited by an administrator, multi-factor sign-in optional, a strong
password policy) and the console's app client (public: no secret; password and refresh-token
sign-in), and the settings of the functions that read people's tokens (``APIKEYS_OIDC_ISSUER``
and ``APIKEYS_OIDC_AUDIENCE``) pointed at them.

A stage without it may point at an existing issuer instead (Okta, Entra ID, Auth0, Keycloak,
another Cognito pool): ``APIKEYS_OIDC_*`` in its ``environment_variables``, which Chalice
packages as it is. Asking for both is refused: the pool's settings would silently win.
"""

from __future__ import annotations

from typing import Any

SETTING = "user_pool"
POOL_CFN = "UserPool"
CLIENT_CFN = "UserPoolClient"
POOL_TF = "people"
CLIENT_TF = "console"
# The functions that read people's settings: the app's authorizer verifies the tokens, the API
# handler serves the console page that names the pool's sign-in.
FUNCTIONS = ("api_handler", "app_authorizer")
MINIMUM_PASSWORD_LENGTH = 12
ID_TOKEN_MINUTES = 60  # the Bearer the console sends; renewed with the refresh token
REFRESH_TOKEN_HOURS = 12  # a working day: then the person signs in again
OIDC_SETTINGS = ("APIKEYS_OIDC_ISSUER", "APIKEYS_OIDC_AUDIENCE", "APIKEYS_OIDC_JWKS_URL")


class PeopleStackError(Exception):
    """A stage's people settings contradict each other."""


def wanted(config: dict[str, Any], stage: str) -> bool:
    """Whether the stage's stack creates its own user pool; refuses a stage that also names
    another issuer."""
    if not config["stages"][stage].get(SETTING, False):
        return False
    for environment in _environments(config, stage):
        named = sorted(set(environment) & set(OIDC_SETTINGS))
        if named:
            raise PeopleStackError(f"stage {stage}: {SETTING} creates the issuer; remove {', '.join(named)}")
    return True


def _environments(config: dict[str, Any], stage: str) -> list[dict[str, str]]:
    stage_config = config["stages"][stage]
    functions = stage_config.get("lambda_functions", {}).values()
    return [
        config.get("environment_variables", {}),
        stage_config.get("environment_variables", {}),
        *(function.get("environment_variables", {}) for function in functions),
    ]


def _names(config: dict[str, Any], stage: str) -> tuple[str, str]:
    prefix = f"{config['app_name']}-{stage}"
    return f"{prefix}-people", f"{prefix}-console"


def cloudformation(config: dict[str, Any], stage: str, *, protected: bool) -> dict[str, Any]:
    if not wanted(config, stage):
        return {}
    from scripts.observability import cfn_function_id

    pool_name, client_name = _names(config, stage)
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
                        "TemporaryPasswordValidityDays": 7,
                    }
                },
                "DeletionProtection": "ACTIVE" if protected else "INACTIVE",
                "UserPoolTags": {"app": config["app_name"], "stage": stage},
            },
        },
        CLIENT_CFN: {
            "Type": "AWS::Cognito::UserPoolClient",
            "Properties": {
                "ClientName": client_name,
                "UserPoolId": {"Ref": POOL_CFN},
                "GenerateSecret": False,
                "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
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


def terraform(config: dict[str, Any], stage: str, *, protected: bool) -> dict[str, Any]:
    if not wanted(config, stage):
        return {}
    pool_name, client_name = _names(config, stage)
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
                        "temporary_password_validity_days": 7,
                    }
                ],
                "deletion_protection": "ACTIVE" if protected else "INACTIVE",
                "tags": {"app": config["app_name"], "stage": stage},
            }
        },
        "aws_cognito_user_pool_client": {
            CLIENT_TF: {
                "name": client_name,
                "user_pool_id": f"${{aws_cognito_user_pool.{POOL_TF}.id}}",
                "generate_secret": False,
                "explicit_auth_flows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                "prevent_user_existence_errors": "ENABLED",
                "enable_token_revocation": True,
                "id_token_validity": ID_TOKEN_MINUTES,
                "access_token_validity": ID_TOKEN_MINUTES,
                "refresh_token_validity": REFRESH_TOKEN_HOURS,
                "token_validity_units": [{"id_token": "minutes", "access_token": "minutes", "refresh_token": "hours"}],
            }
        },
    }


def terraform_overrides(config: dict[str, Any], stage: str) -> dict[str, Any]:
    """The functions' environment with the pool's settings added. A Terraform override replaces
    a nested block whole, so each function's block repeats every variable Chalice gives it (the
    app's, the stage's, the function's own, in Chalice's order of precedence)."""
    if not wanted(config, stage):
        return {}
    stage_config = config["stages"][stage]
    functions = stage_config.get("lambda_functions", {})
    people = {
        "APIKEYS_OIDC_ISSUER": f"https://${{aws_cognito_user_pool.{POOL_TF}.endpoint}}",
        "APIKEYS_OIDC_AUDIENCE": f"${{aws_cognito_user_pool_client.{CLIENT_TF}.id}}",
    }
    return {
        "aws_lambda_function": {
            name: {
                "environment": {
                    "variables": {
                        **config.get("environment_variables", {}),
                        **stage_config.get("environment_variables", {}),
                        **functions.get(name, {}).get("environment_variables", {}),
                        **people,
                    }
                }
            }
            for name in FUNCTIONS
        }
    }
