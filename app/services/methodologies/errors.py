"""Methodologies' own errors. Generic ones are in ``app.kit.errors``."""

from __future__ import annotations

from app.kit.errors import ValidationFailed


class UnknownType(ValidationFailed, code="unknown_type", title="Unknown methodology"): ...
