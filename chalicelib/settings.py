"""One frozen settings object, built from the environment on first use, never at import."""

from __future__ import annotations

import base64
import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from chalicelib.errors import SettingsError
from chalicelib.keys.format import PREFIX_PATTERN, Pepper
from chalicelib.plans.usage_plans import PlanSetting, UsagePlanConfigError, check_default, parse_plans


@dataclass(frozen=True)
class OidcSettings:
    """The identity provider whose tokens sign people in (``APIKEYS_OIDC_*``)."""

    issuer: str
    audiences: tuple[str, ...]
    jwks_url: str | None = None
    groups_claim: str = "cognito:groups"
    # The console's password sign-in: the app client it signs in with (one of the audiences) and
    # the Cognito endpoint it calls from the browser; None when the issuer is not a Cognito pool
    # and no endpoint was set (that issuer's people sign in with its own pages, not the console's).
    console_client_id: str = ""
    cognito_endpoint: str | None = None
    # How people sign in to the console (``APIKEYS_OIDC_CONSOLE_SIGN_IN``): "password" against the
    # Cognito endpoint above, or "redirect" to the issuer's own pages (authorization code + PKCE),
    # asking for ``openid profile email`` and the extra ``scopes`` (``APIKEYS_OIDC_SCOPES``).
    console_sign_in: str = "redirect"
    scopes: tuple[str, ...] = ()

    @property
    def console_scope(self) -> str:
        """The ``scope`` of the console's authorization request: OIDC's own and the extra ones."""
        return " ".join(dict.fromkeys((*BASE_SCOPES, *self.scopes)))


BASE_SCOPES = ("openid", "profile", "email")
CONSOLE_SIGN_INS = ("password", "redirect")
# RFC 6749 section 3.3: a scope token is printable ASCII but for space, '"' and '\\'.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,64}")
MAX_SCOPES = 20


@dataclass(frozen=True)
class Settings:
    keys_table: str = "apikeys-keys"
    events_table: str = "apikeys-events"
    idempotency_table: str = "apikeys-idempotency"
    roles_table: str = "apikeys-roles"
    roles_cache_ttl_seconds: float = 0.0
    leak_public_keys: tuple[tuple[str, str], ...] = ()
    leak_keys_url: str = "https://api.github.com/meta/public_keys/secret_scanning"
    key_prefix: str = "apk"
    peppers: tuple[Pepper, ...] = ()
    max_expiry_days: int = 365
    max_keys_per_community: int = 1000
    auth_cache_ttl_seconds: float = 0.0
    last_used_interval_seconds: float = 60.0
    ddb_connect_timeout_seconds: float = 1.0
    ddb_read_timeout_seconds: float = 2.0
    ddb_max_retry_attempts: int = 2
    idempotency_ttl_seconds: int = 24 * 3600
    vault_targets: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)
    log_level: str = "INFO"
    route_map: tuple[tuple[str, str], ...] = ()
    http_api_response: str = "simple"
    usage_plans: tuple[PlanSetting, ...] = ()
    default_plan: str | None = None
    oidc: OidcSettings | None = None
    event_bus: str | None = None
    event_source: str = "apikeys"

    @property
    def pepper(self) -> Pepper:
        """The pepper new keys are hashed with: the first of the list."""
        return self.peppers[0]


def parse_peppers(text: str) -> tuple[Pepper, ...]:
    """``id:base64,id:base64``, newest first. Each value must decode to 32 bytes or more."""
    peppers = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        pepper_id, sep, encoded = item.partition(":")
        if not sep or not pepper_id:
            raise SettingsError("APIKEYS_PEPPERS: each entry reads id:base64value")
        try:
            value = base64.b64decode(encoded, validate=True)
        except ValueError as error:
            raise SettingsError(f"APIKEYS_PEPPERS: pepper {pepper_id!r} is not base64") from error
        if len(value) < 32:
            raise SettingsError(f"APIKEYS_PEPPERS: pepper {pepper_id!r} is shorter than 32 bytes")
        peppers.append(Pepper(pepper_id, value))
    if not peppers:
        raise SettingsError("APIKEYS_PEPPERS is not set: id:base64value[,id:base64value...], newest first")
    return tuple(peppers)


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(env.get(name, default))
    except ValueError as error:
        raise SettingsError(f"{name} is not a number") from error


# The directory holding app.py and chalicelib/: Lambda's task root, or a checkout.
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NOT_IN_A_FILE = ("APIKEYS_SETTINGS_FILE",)  # one file, named by the environment only


def with_settings_file(env: Mapping[str, str]) -> Mapping[str, str]:
    """``env`` over the settings file ``APIKEYS_SETTINGS_FILE`` names, if any: the environment wins.

    The file is a JSON object of settings by their environment names (``{"APIKEYS_ROUTE_MAP":
    {...}, "APIKEYS_VAULT_TARGETS": [...]}``), a value in JSON or as the string the environment
    would hold. A path is relative to the project root (``chalicelib/stage-settings/dev.json``
    ships in the deployment package with the code). Large settings live there: a Lambda
    function's environment holds 4 KB in all."""
    name = env.get("APIKEYS_SETTINGS_FILE", "")
    if not name:
        return env
    return {**read_settings_file(name), **env}


def read_settings_file(name: str) -> dict[str, str]:
    path = os.path.join(PROJECT_ROOT, name)  # an absolute name stays as it is
    try:
        with open(path, encoding="utf-8") as file:
            values = json.load(file)
    except OSError as error:
        raise SettingsError(f"APIKEYS_SETTINGS_FILE: cannot read {name} ({error.strerror})") from error
    except ValueError as error:
        raise SettingsError(f"APIKEYS_SETTINGS_FILE: {name} is not JSON ({error})") from error
    if not isinstance(values, dict):
        raise SettingsError(f"APIKEYS_SETTINGS_FILE: {name} must hold a JSON object of APIKEYS_ settings")
    settings = {}
    for key, value in values.items():
        if key == "APIKEYS_PEPPERS":
            raise SettingsError(
                f"APIKEYS_SETTINGS_FILE: {name} ships in clear: peppers come from APIKEYS_PEPPERS_SOURCE"
            )
        if not key.startswith("APIKEYS_") or key in _NOT_IN_A_FILE or value is None:
            raise SettingsError(f"APIKEYS_SETTINGS_FILE: {name} may not set {key!r}")
        settings[key] = value if isinstance(value, str) else json.dumps(value)
    return settings


def from_environ(env: Mapping[str, str], *, peppers: bool = True) -> Settings:
    """``peppers=False`` for what hashes no key (creating tables): no pepper is read. Settings
    come from ``env`` over its settings file (``with_settings_file``)."""
    env = with_settings_file(env)
    prefix = env.get("APIKEYS_KEY_PREFIX", "apk")
    if not PREFIX_PATTERN.fullmatch(prefix):
        raise SettingsError("APIKEYS_KEY_PREFIX: 2-10 lowercase letters and digits, starting with a letter")
    try:
        vault_targets = tuple(json.loads(env.get("APIKEYS_VAULT_TARGETS", "[]")))
        route_map = tuple((str(k), str(v)) for k, v in json.loads(env.get("APIKEYS_ROUTE_MAP", "{}")).items())
    except (ValueError, AttributeError, TypeError) as error:
        raise SettingsError("APIKEYS_VAULT_TARGETS / APIKEYS_ROUTE_MAP must be JSON") from error
    leak_public_keys = _leak_public_keys(env.get("APIKEYS_LEAK_PUBLIC_KEYS", "{}"))
    usage_plans, default_plan = _usage_plans(env)
    return Settings(
        keys_table=env.get("APIKEYS_KEYS_TABLE", "apikeys-keys"),
        events_table=env.get("APIKEYS_EVENTS_TABLE", "apikeys-events"),
        idempotency_table=env.get("APIKEYS_IDEMPOTENCY_TABLE", "apikeys-idempotency"),
        roles_table=env.get("APIKEYS_ROLES_TABLE", "apikeys-roles"),
        roles_cache_ttl_seconds=_number(env, "APIKEYS_ROLES_CACHE_TTL", 0),
        leak_public_keys=leak_public_keys,
        leak_keys_url=_leak_keys_url(env),
        key_prefix=prefix,
        peppers=parse_peppers(_pepper_text(env)) if peppers else (),
        max_expiry_days=int(_number(env, "APIKEYS_MAX_EXPIRY_DAYS", 365)),
        max_keys_per_community=_positive_int(env, "APIKEYS_MAX_KEYS_PER_COMMUNITY", 1000),
        auth_cache_ttl_seconds=_number(env, "APIKEYS_AUTH_CACHE_TTL", 0),
        last_used_interval_seconds=_number(env, "APIKEYS_LAST_USED_INTERVAL", 60),
        ddb_connect_timeout_seconds=_number(env, "APIKEYS_DDB_CONNECT_TIMEOUT", 1),
        ddb_read_timeout_seconds=_number(env, "APIKEYS_DDB_READ_TIMEOUT", 2),
        ddb_max_retry_attempts=int(_number(env, "APIKEYS_DDB_MAX_RETRIES", 2)),
        vault_targets=vault_targets,
        log_level=env.get("APIKEYS_LOG_LEVEL", "INFO"),
        route_map=route_map,
        http_api_response=_choice(env, "APIKEYS_HTTP_API_RESPONSE", ("simple", "policy")),
        usage_plans=usage_plans,
        default_plan=default_plan,
        oidc=_oidc(env),
        event_bus=env.get("APIKEYS_EVENT_BUS") or None,
        event_source=env.get("APIKEYS_EVENT_SOURCE") or "apikeys",
    )


def _oidc(env: Mapping[str, str]) -> OidcSettings | None:
    """People sign in only when an issuer is set; then its client ids are required too."""
    issuer = env.get("APIKEYS_OIDC_ISSUER", "").strip()
    if not issuer:
        return None
    if not issuer.startswith(("https://", "http://")):
        raise SettingsError("APIKEYS_OIDC_ISSUER must be the issuer's URL, exactly as tokens name it in iss")
    audiences = tuple(filter(None, (part.strip() for part in env.get("APIKEYS_OIDC_AUDIENCE", "").split(","))))
    if not audiences:
        raise SettingsError("APIKEYS_OIDC_AUDIENCE: the client ids people sign in with, comma-separated")
    jwks_url = env.get("APIKEYS_OIDC_JWKS_URL", "").strip() or None
    if jwks_url is not None and not jwks_url.startswith(("https://", "http://")):
        raise SettingsError("APIKEYS_OIDC_JWKS_URL must be an http(s) URL")
    groups_claim = env.get("APIKEYS_OIDC_GROUPS_CLAIM", "").strip() or "cognito:groups"
    console_client_id = env.get("APIKEYS_OIDC_CONSOLE_CLIENT_ID", "").strip() or audiences[0]
    if console_client_id not in audiences:
        raise SettingsError("APIKEYS_OIDC_CONSOLE_CLIENT_ID must be one of APIKEYS_OIDC_AUDIENCE")
    endpoint = env.get("APIKEYS_COGNITO_ENDPOINT", "").strip() or _cognito_endpoint_of(issuer)
    if endpoint is not None and not endpoint.startswith(("https://", "http://")):
        raise SettingsError("APIKEYS_COGNITO_ENDPOINT must be an http(s) URL")
    sign_in = env.get("APIKEYS_OIDC_CONSOLE_SIGN_IN", "").strip() or ("password" if endpoint else "redirect")
    if sign_in not in CONSOLE_SIGN_INS:
        raise SettingsError("APIKEYS_OIDC_CONSOLE_SIGN_IN is one of password, redirect")
    if sign_in == "password" and endpoint is None:
        raise SettingsError(
            "APIKEYS_OIDC_CONSOLE_SIGN_IN=password needs a Cognito user pool's issuer or APIKEYS_COGNITO_ENDPOINT"
        )
    return OidcSettings(issuer, audiences, jwks_url, groups_claim, console_client_id, endpoint, sign_in, _scopes(env))


def _scopes(env: Mapping[str, str]) -> tuple[str, ...]:
    """``APIKEYS_OIDC_SCOPES``: the scopes the console asks for besides ``openid profile email``
    (``groups``, ``offline_access``), separated by spaces or commas."""
    text = env.get("APIKEYS_OIDC_SCOPES", "")
    scopes = tuple(dict.fromkeys(part for part in re.split(r"[\s,]+", text) if part))
    if len(scopes) > MAX_SCOPES or not all(_SCOPE_TOKEN.fullmatch(scope) for scope in scopes):
        raise SettingsError(
            f"APIKEYS_OIDC_SCOPES: up to {MAX_SCOPES} scopes separated by spaces or commas, each up to 64 "
            "printable ASCII characters without quotes or backslashes"
        )
    return tuple(scope for scope in scopes if scope not in BASE_SCOPES)


def _cognito_endpoint_of(issuer: str) -> str | None:
    """``https://cognito-idp.<region>.amazonaws.com/`` for a Cognito pool's issuer
    (``https://cognito-idp.<region>.amazonaws.com/<pool id>``), read from its fixed parts; None
    for any other issuer."""
    parts = urlsplit(issuer)
    host = parts.hostname or ""
    region = host.removeprefix("cognito-idp.").removesuffix(".amazonaws.com")
    if parts.scheme != "https" or parts.port is not None or host != f"cognito-idp.{region}.amazonaws.com":
        return None
    if not region or not all(part.isalnum() for part in region.split("-")):
        return None
    return f"https://{host}/"


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = _number(env, name, default)
    if value < 1 or value != int(value):
        raise SettingsError(f"{name} must be a whole number of at least 1")
    return int(value)


def _usage_plans(env: Mapping[str, str]) -> tuple[tuple[PlanSetting, ...], str | None]:
    try:
        plans = parse_plans(env.get("APIKEYS_USAGE_PLANS", "[]"))
        return plans, check_default(plans, env.get("APIKEYS_DEFAULT_PLAN") or None)
    except UsagePlanConfigError as error:
        raise SettingsError(str(error)) from error


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, choices[0])
    if value not in choices:
        raise SettingsError(f"{name} is one of {', '.join(choices)}")
    return value


def _leak_public_keys(text: str) -> tuple[tuple[str, str], ...]:
    """``{"key identifier": "PEM", ...}``: the keys GitHub signs leak reports with."""
    try:
        keys = json.loads(text or "{}")
    except ValueError as error:
        raise SettingsError("APIKEYS_LEAK_PUBLIC_KEYS must be a JSON object") from error
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise SettingsError("APIKEYS_LEAK_PUBLIC_KEYS must map key identifiers to PEM strings")
    return tuple((str(k), v) for k, v in keys.items())


def _leak_keys_url(env: Mapping[str, str]) -> str:
    """Where GitHub's leak-report signing keys are fetched; ``""`` fetches none. HTTPS, or plain
    HTTP to this machine only (a test server): keys fetched in clear over a network could be anyone's."""
    from urllib.parse import urlsplit

    url = env.get("APIKEYS_LEAK_KEYS_URL", Settings.leak_keys_url)
    parts = urlsplit(url)
    loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost")
    if url and not (parts.hostname and (parts.scheme == "https" or loopback)):
        raise SettingsError("APIKEYS_LEAK_KEYS_URL must be an https:// URL (or http:// to the loopback address)")
    return url


def _pepper_text(env: Mapping[str, str]) -> str:
    """Peppers from the environment, or from Secrets Manager / SSM named by APIKEYS_PEPPERS_SOURCE."""
    source = env.get("APIKEYS_PEPPERS_SOURCE", "")
    if not source:
        return env.get("APIKEYS_PEPPERS", "")
    from chalicelib import secret_source  # boto3 only when a deployment asks for it

    return secret_source.read(source)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return from_environ(os.environ)


def reset_settings() -> None:
    """Forget the cached settings (tests, and a container told to reload)."""
    get_settings.cache_clear()
