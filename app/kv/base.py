"""What every store of fast state offers (the ``KV`` protocol) and the small types its
callers and both stores share."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple, Protocol

# What ``KV.authorize`` answers; the Redis script returns the same numbers.
AUTH_OK, AUTH_REVOKED, AUTH_RATE_LIMITED, AUTH_UNLOADED = 0, 1, 2, -1
# The redemption lane's admission (``sold_out_admit``).
ADMIT_NOT, ADMIT_REFUSE, ADMIT_DECIDE = 0, 1, 2


class KVBusy(Exception):
    """Every pooled connection to the store stayed in use for the whole wait: the worker is
    overloaded, the store is not down. Not a ``RedisError``, so no caller takes it for an
    outage (and falls back to the database, adding load where there is too much): it answers
    503 with ``Retry-After`` instead."""


class AuthKeys(NamedTuple):
    """The keys one authentication reads: ``marker`` exists once the standing is loaded."""

    marker: str
    revoked: str
    valid_after: str
    rate: str


class Increment(NamedTuple):
    key: str
    member: str
    amount: float
    ttl_seconds: int | None = None


class KV(Protocol):
    async def ping(self) -> bool: ...
    async def set_once(self, key: str, ttl_seconds: int) -> bool:
        """Set ``key`` if absent; True when this call set it (nonce and replay checks)."""

    async def exists(self, key: str) -> bool: ...
    async def zincrby_many(self, increments: Sequence[Increment]) -> None:
        """Add to members' scores in sorted sets (one round trip), refreshing key lifetimes."""

    async def ztop(self, key: str, n: int) -> list[tuple[str, float]]: ...
    async def zrank_score(self, key: str, member: str) -> tuple[int, float] | None:
        """(members with a strictly higher score, the member's score): equal scores share a
        rank (1, 2, 2, 4) whatever order the set keeps them in."""

    async def delete_prefix(self, prefix: str) -> None: ...
    async def hit(self, key: str, limit: int, window_seconds: float) -> tuple[bool, float]:
        """Count one request; (allowed, seconds until the next one would be allowed)."""

    async def set_value(self, key: str, value: str, ttl_seconds: int) -> None: ...
    async def delete(self, key: str) -> None: ...
    async def authorize(
        self, keys: AuthKeys, issued_at: float, limit: int, window_seconds: float
    ) -> tuple[int, float]:
        """One round trip: (``AUTH_*`` code, seconds to wait when rate limited)."""

    async def load_standing(self, marker: str, values: Sequence[tuple[str, str, int]]) -> None:
        """Write (key, value, ttl) triples, then the marker that says they are loaded."""

    async def sold_out_check(self, keys: tuple[str, str], member: str) -> tuple[bool, str]:
        """(refuse from the marker, the generation to mark with); ``keys``: marker, gen."""

    async def sold_out_admit(
        self,
        keys: tuple[str, str],
        member: str,
        auth: AuthKeys,
        issued_at: float,
        limit: int,
        window_seconds: float,
    ) -> tuple[int, str]:
        """One round trip: (``ADMIT_*`` verdict, the generation to mark with). The token
        stands (loaded, not revoked, within the rate limit, which counts this request) and
        the marker refuses ``member`` (``ADMIT_REFUSE``) or does not (``ADMIT_DECIDE``); or
        the token does not stand (``ADMIT_NOT``), nothing written: the caller goes the
        ordinary way."""

    async def sold_out_mark(
        self, keys: tuple[str, str], generation: str, members: Sequence[str], ttl_seconds: float
    ) -> bool:
        """Write the marker with these members if the generation is unchanged."""

    async def sold_out_clear(self, keys: tuple[str, str]) -> None:
        """Bump the generation and drop the marker."""

    async def close(self) -> None: ...


def retry_after_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))
