"""Methodologies' parameters: ``versions`` (which dated version is in force, the public
description), ``tuning`` (publishing a new version, simulating it first)."""

from app.services.methodologies.errors import UnknownType

__all__ = ["UnknownType"]
