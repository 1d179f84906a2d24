"""Requests decided together in one unit of work, each answered with its own outcome.

Single records (``app.services.records.group_commit``) and redemptions of one incentive
(``app.services.rewards.redemption_groups``) queue their requests and decide a whole group
at once. Each waiting request holds a future; ``settle`` runs the group's unit and answers
every future: with the request's own outcome when the unit committed; with ``unavailable()``
(a 503 with ``Retry-After``) when the unit failed for a reason of the moment, so that nothing
was committed and the client may retry; and otherwise, when something in the group breaks the
unit, by running the unit again for each request alone, so that only the request that causes
it fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from app.db import retryable

T = TypeVar("T")


class Waiting(Protocol):
    @property
    def future(self) -> asyncio.Future[Any]: ...


W = TypeVar("W", bound=Waiting)


def answer(future: asyncio.Future[Any], outcome: object) -> None:
    """Answer one waiting request: an exception is raised to it, anything else returned."""
    if future.done():  # the client went away; what was decided stands
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


async def settle(
    group: Sequence[W],
    unit: Callable[[Sequence[W]], Awaitable[Sequence[object]]],
    unavailable: Callable[[], BaseException],
    logger: logging.Logger,
    count: Callable[[str], None] = lambda _: None,
) -> None:
    """Run ``unit`` (one outcome per request, in order) and answer each request of the group.
    ``count`` hears how the group ended: ``committed``, ``unavailable`` or ``split``."""
    try:
        outcomes = await unit(group)
    except Exception as exc:
        if retryable(exc):
            count("unavailable")
            logger.warning("group of %d unavailable: %r", len(group), exc)
            for waiting in group:
                answer(waiting.future, unavailable())
        elif len(group) > 1:
            count("split")
            logger.warning("group of %d failed; deciding each alone", len(group))
            for waiting in group:
                await settle([waiting], unit, unavailable, logger, count)
        else:
            answer(group[0].future, exc)
        return
    count("committed")
    for waiting, outcome in zip(group, outcomes, strict=True):
        answer(waiting.future, outcome)


async def once_more(
    run: Callable[[], Awaitable[T]],
    logger: logging.Logger,
    also: Callable[[BaseException], bool] = lambda _: False,
    count: Callable[[str], None] = lambda _: None,
) -> T:
    """``run()``, and once more if it failed for a reason of the moment (or for ``also``):
    the first run committed nothing. ``count`` hears ``retried``."""
    try:
        return await run()
    except Exception as exc:
        if not (retryable(exc) or also(exc)):
            raise
        count("retried")
        logger.info("unit of work run again after %r", exc)
    return await run()
