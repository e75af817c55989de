"""DynamoDB transactions as the stores write them: all or nothing, failures leaving as the domain's
errors, and a transaction cancelled only for another one in flight committed again."""

from __future__ import annotations

import contextlib
import random
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError

from chalicelib.errors import StoreError

TRANSACTION_CONFLICT_RETRIES = 6


def conflicted(error: TransactWriteError) -> bool:
    """Cancelled because another transaction was writing one of the items, and for no other reason."""
    if getattr(error, "cause_response_code", None) == "TransactionConflictException":
        return True
    codes = {reason.code for reason in (getattr(error, "cancellation_reasons", None) or []) if reason is not None}
    return "TransactionConflict" in codes and codes <= {"TransactionConflict", "None"}


class Transactions:
    """The stores' transactions over one connection; ``conflicts_retried`` counts the
    transactions cancelled by another in flight, then committed again."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.conflicts_retried = 0

    @contextlib.contextmanager
    def transaction(self, table: str, on_condition: Callable[[list[Any]], Exception]) -> Iterator[Any]:
        """A TransactWrite whose failures leave as the domain's errors: ``on_condition(reasons)``
        (the cancellation reasons, in item order) when a condition failed, StoreError otherwise.
        Nothing of it is written unless all of it is."""
        from pynamodb.transactions import TransactWrite

        # One token per logical write: botocore's retries resend it, so a transaction whose answer
        # was lost (timeout, 500) is not applied twice by DynamoDB (a duplicate key, a lost secret).
        tx = TransactWrite(connection=self.connection, client_request_token=secrets.token_hex(16))
        try:
            try:
                with tx:
                    yield tx
            except TransactWriteError as first:
                self._retry_conflicts(tx, first)
        except TransactWriteError as error:
            reasons = list(getattr(error, "cancellation_reasons", None) or [])
            if any(reason is not None and reason.code == "ConditionalCheckFailed" for reason in reasons):
                raise on_condition(reasons) from error
            raise StoreError(f"the {table} table refused the write") from error
        except PynamoDBException as error:
            raise StoreError(f"the {table} table could not be reached") from error

    def _retry_conflicts(self, tx: Any, error: TransactWriteError) -> None:
        """Commit ``tx`` again while DynamoDB cancelled it only for another transaction in flight on
        one of its items (reason ``TransactionConflict``): nothing of it was written, and the same
        writes with the same conditions decide again once the other one is done. Re-raises the last
        error otherwise, or when conflicts outlast the retries."""
        for attempt in range(TRANSACTION_CONFLICT_RETRIES):
            if not conflicted(error):
                break
            self.conflicts_retried += 1
            time.sleep(random.uniform(0, 0.01 * 2**attempt))  # jitter: racing writers retry apart
            # A fresh token: the cancelled request wrote nothing, and this one must not be taken
            # for a replay of it.
            tx._client_request_token = secrets.token_hex(16)
            try:
                tx._commit()
                return
            except TransactWriteError as again:
                error = again
        raise error
