"""Operator CLI over the same service as the routes: ``apikeys`` (or ``python -m chalicelib.cli``).

The operator acts for a community with every permission (there is no key to check); the
audit trail records the actor as ``operator``. Every error, bad input or bad setting alike, is
one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from chalicelib import params, wiring
from chalicelib.errors import ServiceError, SettingsError, StoreError, ValidationError
from chalicelib.roles.caller import Caller
from chalicelib.settings import get_settings

USAGE_ERROR = 2
LOCAL_RUN_SETTINGS = ".local/run.env"

DESCRIPTION = """\
Create, list and revoke a community's API keys, create the tables, sweep keys whose secret
never reached its vault. The operator acts with every permission in the community it names;
the audit trail records it as "operator". Every error is one line on stderr, exit status 2.

It reads the service's settings from the environment (AWS_* and APIKEYS_*). On the local run
(make run), load that run's settings first:

  set -a; . .local/run.env; set +a
"""


class OneLineParser(argparse.ArgumentParser):
    """argparse's errors, without the usage block above them: one line, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see --help)\n")


def community(value: str) -> str:
    """The routes' rule: a community the API could never reach is refused here too."""
    try:
        return params.community(value)
    except ValidationError as error:
        # argparse names the option already: "argument --community: must be ..."
        raise argparse.ArgumentTypeError(str(error).removeprefix(f"{error.field}: ")) from None


def seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value[:40]!r}") from None
    if not 0 <= number < float("inf"):
        raise argparse.ArgumentTypeError("must be zero or more seconds")
    return number


def _print(payload: Any) -> None:
    print(json.dumps(payload, indent=2, ensure_ascii=False))


def cmd_init(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError
    from pynamodb.exceptions import PynamoDBException

    from chalicelib.settings import from_environ
    from chalicelib.storage.models import create_tables, models_for

    # Creating tables hashes nothing: no pepper needed yet.
    models = models_for(from_environ(os.environ, peppers=False))
    try:
        create_tables(models)
    except (PynamoDBException, BotoCoreError, ClientError) as error:
        raise StoreError(f"the tables could not be created: {error}") from error
    _print({"tables": [model.Meta.table_name for model in models.all]})
    return 0


def cmd_create_key(args: argparse.Namespace) -> int:
    service = wiring.service()
    body: dict[str, Any] = {"name": args.name, "description": args.description or "", "roles": args.role}
    if args.expires_in_days is not None:
        body["expires_in_days"] = args.expires_in_days
    if args.expires_at is not None:
        body["expires_at"] = args.expires_at
    if args.vault is not None:
        if not get_settings().vault_targets:
            raise ValidationError(
                "vault", "no vault target is configured here: set APIKEYS_VAULT_TARGETS (see docs/vaults.md)"
            )
        body["vault"] = {"target": args.vault, **({"path": args.vault_path} if args.vault_path else {})}
    elif args.vault_path is not None:
        raise ValidationError("vault-path", "needs --vault")
    created = service.create(Caller.operator(args.community), args.community, body)
    _print({**created.key.view(service.clock()), "secret": created.secret})
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    service = wiring.service()
    body = {"reason": args.reason} if args.reason else None
    key = service.revoke(Caller.operator(args.community), args.community, args.id, body)
    _print(key.view(service.clock()))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    service = wiring.service()
    params = {"status": args.status, "limit": str(args.limit)}
    if args.search:
        params["search"] = args.search
    items: list[Any] = []
    while True:
        page = service.list(Caller.operator(args.community), args.community, params)
        items.extend(page["items"])
        if not page["next_cursor"] or not args.all:
            break
        params["cursor"] = page["next_cursor"]
    _print({"items": items, "next_cursor": None if args.all else page["next_cursor"]})
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    _print({"failed": wiring.service().sweep(args.older_than)})
    return 0


def cmd_index_search(args: argparse.Namespace) -> int:
    _print(wiring.store().index_all())
    return 0


def parser() -> argparse.ArgumentParser:
    root = OneLineParser(
        prog=program_name(), description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = root.add_subparsers(dest="command", required=True)

    commands.add_parser("init", help="create the DynamoDB tables").set_defaults(run=cmd_init)

    create = commands.add_parser("create-key", help="create a key and print its secret once")
    create.add_argument("--community", required=True, type=community)
    create.add_argument("--name", required=True)
    create.add_argument("--role", action="append", required=True, help="repeat for several roles")
    create.add_argument("--description", default="")
    create.add_argument("--expires-in-days", type=int, choices=(30, 180, 365))
    create.add_argument("--expires-at", help="ISO 8601 date-time, at most APIKEYS_MAX_EXPIRY_DAYS ahead")
    create.add_argument("--vault", help="write the secret to this target of APIKEYS_VAULT_TARGETS")
    create.add_argument("--vault-path", help="path inside the community's folder of the target (default: key id)")
    create.set_defaults(run=cmd_create_key)

    revoke = commands.add_parser("revoke", help="revoke a key; it can never be used again")
    revoke.add_argument("--community", required=True, type=community)
    revoke.add_argument("--id", required=True)
    revoke.add_argument("--reason")
    revoke.set_defaults(run=cmd_revoke)

    listing = commands.add_parser("list", help="list a community's keys, newest first")
    listing.add_argument("--community", required=True, type=community)
    listing.add_argument("--status", default="all", choices=("active", "revoked", "expired", "all"))
    listing.add_argument("--search", default="")
    listing.add_argument("--limit", type=int, default=100, help="keys per page, 1-100 (default 100)")
    listing.add_argument("--all", action="store_true", help="follow cursors to the end")
    listing.set_defaults(run=cmd_list)

    sweep = commands.add_parser("sweep", help="fail keys stuck pending and delete their vaulted secrets")
    sweep.add_argument("--older-than", type=seconds, default=900.0, help="seconds (default 900)")
    sweep.set_defaults(run=cmd_sweep)

    commands.add_parser(
        "index-search", help="give keys made before search entries existed their entry (once, after upgrading)"
    ).set_defaults(run=cmd_index_search)
    return root


def program_name() -> str:
    """``apikeys`` when run by its console script, else the module form it was run as."""
    called = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return called if called == "apikeys" else "python -m chalicelib.cli"


def settings_hint() -> str:
    """With none of the service's settings in the environment, the likely cause is a shell that
    has not loaded the local run's: say how, on the same line."""
    if any(name.startswith("APIKEYS_PEPPERS") for name in os.environ):
        return ""
    return f"; on the local run (make run), load its settings first: set -a; . {LOCAL_RUN_SETTINGS}; set +a"


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except SettingsError as error:
        print(f"error: {error}{settings_hint()}", file=sys.stderr)
        return USAGE_ERROR
    except ServiceError as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
