"""Who is asking: the API's consumers, as the environment file declares them, and their tokens.

A token is kept only as its SHA-256 digest (declared as such, or hashed once when the server starts),
and a presented token is hashed and compared with every consumer's digest by `hmac.compare_digest`,
all of them every time: neither how much of a wrong token is right nor which consumer it is near
changes what the server does.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from dataops_assets.environments.model import Api, ApiConsumer


@dataclass(frozen=True)
class Consumer:
    name: str
    tables: tuple[str, ...]  # names or fnmatch globs
    token_sha256: bytes | None  # None: the open consumer, who sends no token
    per_second: float
    burst: int
    metrics: bool = False

    def may_read(self, table: str) -> bool:
        return any(fnmatchcase(table, pattern) for pattern in self.tables)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Consumers:
    """The declared consumers: `identify` finds the one a bearer token belongs to."""

    def __init__(self, consumers: Sequence[Consumer]):
        self.all = tuple(consumers)
        self.open = next((c for c in consumers if c.token_sha256 is None), None)
        self._by_digest = [(c.token_sha256, c) for c in consumers if c.token_sha256 is not None]

    def identify(self, token: str) -> Consumer | None:
        presented = digest(token)
        found = None
        for stored, consumer in self._by_digest:  # every digest, no early exit: the same work for any token
            if hmac.compare_digest(presented, stored):
                found = consumer
        return found


def _consumer(declared: ApiConsumer) -> Consumer:
    if declared.token is not None:
        token_sha256 = digest(declared.token.resolve())  # MissingSecretError names the variable
    elif declared.token_sha256 is not None:
        token_sha256 = bytes.fromhex(declared.token_sha256)
    else:
        token_sha256 = None
    return Consumer(
        declared.name,
        declared.tables,
        token_sha256,
        declared.rate_limit.per_second,
        declared.rate_limit.burst,
        declared.metrics,
    )


def consumers_from(api: Api) -> Consumers:
    """The environment's consumers with their tokens read now (MissingSecretError if one is not set)."""
    return Consumers([_consumer(c) for c in api.consumers])
