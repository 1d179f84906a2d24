"""Methodologies: pure code that turns one behaviour record into grams of CO2e."""

from app.rules import registry
from app.rules.base import (
    BaseParams,
    Context,
    Methodology,
    Result,
    canonical_json,
    default_params,
    input_schema,
    params_from_json,
    params_hash,
    params_schema,
    points_for,
    resolve,
)

__all__ = [
    "BaseParams",
    "Context",
    "Methodology",
    "Result",
    "canonical_json",
    "default_params",
    "input_schema",
    "params_from_json",
    "params_hash",
    "params_schema",
    "points_for",
    "registry",
    "resolve",
]
