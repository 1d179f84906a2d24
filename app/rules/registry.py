"""The methodologies in force: the built-in ones, then any from installed packages.

A package adds one through the entry-point group ``tanhui.methodologies``; each entry point
loads a Methodology instance. A built-in code cannot be replaced that way, and one whose
inputs or parameters take numbers without bounds (see ``base.quantity``) is refused.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import entry_points

from app.rules.base import Methodology, unbounded_numbers
from app.rules.distance import Bus, Cycling, Metro
from app.rules.electricity import ElectricitySaving
from app.rules.purchase import LabelledPurchase
from app.rules.recycling import Recycling
from app.rules.walking import Walking

logger = logging.getLogger("tanhui.rules")

BUILTIN: tuple[Methodology, ...] = (
    Metro(),
    Bus(),
    Cycling(),
    Walking(),
    ElectricitySaving(),
    LabelledPurchase(),
    Recycling(),
)
ENTRY_POINT_GROUP = "tanhui.methodologies"


@lru_cache(maxsize=1)
def _all() -> dict[str, Methodology]:
    found: dict[str, Methodology] = {m.code: m for m in BUILTIN}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            m = ep.load()
        except Exception:  # a broken plug-in must not take the service down
            logger.exception("methodology entry point %s failed to load", ep.name)
            continue
        if not isinstance(m, Methodology):
            logger.error("entry point %s is not a Methodology instance", ep.name)
        elif m.code in found:
            logger.error("entry point %s may not replace methodology %s", ep.name, m.code)
        elif loose := unbounded_numbers(m.Input) + unbounded_numbers(m.Params):
            logger.error("entry point %s has unbounded numbers: %s", ep.name, ", ".join(loose))
        else:
            found[m.code] = m
    return found


def get(code: str) -> Methodology | None:
    return _all().get(code)


def all_methodologies() -> list[Methodology]:
    return sorted(_all().values(), key=lambda m: m.code)
