"""The container's one botocore session: every AWS client of the service is made from it.

A session resolves credentials, region and endpoints once, and its loader reads each of
botocore's data files once (the endpoint and partition tables, the list of ~400 services a
service model is looked up in, each service's model). The authorizers' cold start reads the
pepper secret and then the key through two clients; from two sessions (``boto3.client`` for the
one, ``botocore.session.get_session()`` for the other) it paid all of that twice, about a
third of its first decision. Plain botocore, no boto3: boto3 adds its import (s3transfer,
multiprocessing) and nothing a client here uses.

Made on first use, never at import, so tests start moto or change the environment first;
``wiring.reset()`` forgets it, with everything else made from the environment.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import botocore.session
    from botocore.config import Config


@functools.lru_cache(maxsize=1)
def session() -> botocore.session.Session:
    import botocore.session

    return botocore.session.get_session()


def client(service: str, *, config: Config | None = None, **options: Any) -> Any:
    """A client of ``service`` from the container's session (``region_name``, ``endpoint_url``
    as ``create_client`` takes them; unset, they come the standard way: ``AWS_ENDPOINT_URL``...)."""
    return session().create_client(service, config=config, **options)


def reset() -> None:
    """Forget the session: the next client resolves credentials, region and endpoints anew."""
    session.cache_clear()
