"""What a methodology is, and the arithmetic every methodology shares.

A methodology is code: an input schema for a record's ``data``, a parameter schema whose
defaults are version 1, plausibility checks and the formula. Administrators change only
parameter values, which are typed, bounded and validated here; nothing they send is run.

Everything in ``app.rules`` is pure: no database, clock, randomness or network. The same
inputs and parameters always give the same grams, which is what lets an auditor recompute any
credit and an administrator simulate a proposed version on past records.
"""

from __future__ import annotations

import hashlib
import json
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Protocol, TypeVar, Union, get_args, get_origin, runtime_checkable

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

REGION_RE = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
# The shortest activity a record may claim, minutes: below it no speed or cadence means
# anything, and the quotients that plausibility divides by it stay small.
MIN_DURATION_MIN = Decimal("0.1")


@dataclass(frozen=True)
class Context:
    """Facts about the record that are not in its data."""

    region: str | None = None
    trusted: bool = False  # a data partner allowed this methodology submitted the record
    # What the record names but does not carry, looked up by the record path before the
    # methodology runs (a labelled product's label values); empty for most methodologies.
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    reduction_g: int
    reasons: list[str] = field(default_factory=list)
    needs_review: bool = False
    breakdown: dict[str, Any] = field(default_factory=dict)


def floor_grams(value: Decimal) -> int:
    """Whole grams, rounded down: a reduction is never overstated."""
    return max(0, int(value.to_integral_value(rounding=ROUND_FLOOR)))


def dec(value: Decimal) -> str:
    """A Decimal as a stable string: 46.70 and 46.7 both read "46.7"; no exponent."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    text = format(value.normalize(), "f")
    return text


def quantity(places: int, *, le: int | Decimal, **constraints: Any) -> Any:
    """A Decimal field with an upper bound and at most ``places`` decimal places, hence at
    most ``digits(le) + places`` digits. With every input and factor bounded this way no
    product or quotient in a formula can overflow, and every value stored or hashed (via
    ``dec``) has a bounded length: ``1E-999999`` is refused rather than written out.
    The places are published in the JSON Schema as ``multipleOf``."""
    return Field(
        le=le,
        max_digits=len(str(int(le))) + places,
        decimal_places=places,
        json_schema_extra={"multipleOf": float(Decimal(1).scaleb(-places))},
        **constraints,
    )


def _numeric(annotation: Any) -> type | None:
    if get_origin(annotation) in (Union, types.UnionType):
        found = [a for a in get_args(annotation) if a is not type(None)]
        annotation = found[0] if len(found) == 1 else None
    return annotation if annotation in (int, Decimal) else None


def unbounded_numbers(model: type[BaseModel]) -> list[str]:
    """Fields of ``model`` that take a number without an upper bound, or a Decimal without
    declared digits and places: what a methodology must not have."""
    found = []
    for name, info in model.model_fields.items():
        kind = _numeric(info.annotation)
        if kind is None:
            continue
        bounded = any(isinstance(m, annotated_types.Le | annotated_types.Lt) for m in info.metadata)
        if kind is Decimal:
            bounded = bounded and any(
                getattr(m, "max_digits", None) and getattr(m, "decimal_places", None) is not None
                for m in info.metadata
            )
        if not bounded:
            found.append(name)
    return found


class BaseParams(BaseModel):
    """Parameters every methodology has. Subclasses add their factors and bounds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    points_per_g: Decimal = quantity(
        4,
        default=Decimal(1),
        ge=0,
        le=1000,
        description="Points per gram CO2e (1 point = 1 g; Wuhan 碳碳星球, 湖北日报 2022-02-17)",
    )
    daily_cap_points: int | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        description="Most points per user, methodology and local day; null = no cap",
    )
    regions: dict[str, dict[str, Decimal]] = Field(
        default_factory=dict,
        max_length=100,
        description="Per-region overrides keyed by ISO 3166-2 code, e.g. "
        '{"CN-SX": {"grid_ef_g_per_kwh": "709.6"}}',
    )

    @model_validator(mode="after")
    def _check_regions(self) -> BaseParams:
        decimal_fields = {
            name for name, info in type(self).model_fields.items() if info.annotation is Decimal
        }
        for region, overrides in self.regions.items():
            if not REGION_RE.match(region):
                raise ValueError(f"region {region!r} is not an ISO 3166-2 code such as CN-SX")
            unknown = sorted(set(overrides) - decimal_fields)
            if unknown:
                raise ValueError(
                    f"region {region}: {', '.join(unknown)} cannot be set per "
                    f"region (allowed: {', '.join(sorted(decimal_fields))})"
                )
            merged = self.model_dump() | {k: v for k, v in overrides.items()}
            merged["regions"] = {}
            try:
                type(self).model_validate(merged)
            except ValidationError as exc:
                first = exc.errors()[0]
                raise ValueError(
                    f"region {region}: {'.'.join(map(str, first['loc']))}: {first['msg']}"
                ) from None
        return self


P = TypeVar("P", bound=BaseParams)


def resolve(params: P, region: str | None) -> P:
    """The values that apply in ``region``: its overrides on top of the defaults. The result
    keeps ``regions`` so it can still be stored and compared as the full version."""
    overrides = params.regions.get(region or "", {})
    if not overrides:
        return params
    return params.model_copy(update=dict(overrides))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return dec(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def canonical_json(params: BaseModel) -> str:
    """Sorted keys, no whitespace, Decimals as normalised strings: equal values, equal text."""
    return json.dumps(
        _plain(params.model_dump()), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def params_hash(params: BaseModel) -> str:
    return hashlib.sha256(canonical_json(params).encode()).hexdigest()


def params_from_json(methodology: Methodology, data: dict[str, Any] | str) -> BaseParams:
    values = json.loads(data) if isinstance(data, str) else data
    return methodology.Params.model_validate(values)


def points_for(reduction_g: int, params: BaseParams) -> int:
    """floor(grams × points_per_g), before any daily cap."""
    return floor_grams(Decimal(reduction_g) * params.points_per_g)


@runtime_checkable
class Methodology(Protocol):
    # Read-only members, so a class attribute of a narrower type satisfies them.
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def Input(self) -> type[BaseModel]: ...  # noqa: N802
    @property
    def Params(self) -> type[BaseParams]: ...  # noqa: N802

    def duration(self, data: Any) -> timedelta | None:
        """The activity's span before ``occurred_at``; None when it has none."""
        ...

    def evaluate(self, data: Any, params: BaseParams, ctx: Context) -> Result:
        """Resolve regional parameters, check plausibility, compute the reduction. The
        reduction is computed even when implausible, so it can be shown and simulated."""
        ...


def input_schema(m: Methodology) -> dict[str, Any]:
    return m.Input.model_json_schema()


def params_schema(m: Methodology) -> dict[str, Any]:
    return m.Params.model_json_schema()


def default_params(m: Methodology) -> BaseParams:
    return m.Params()


class Record(BaseModel):
    """Base for input schemas: unknown fields are refused, numbers stay exact."""

    model_config = ConfigDict(extra="forbid", frozen=True)
