"""Data partners: ``keys`` (partners, their secrets, signed requests and nonces) and ``links``
(citizens' links to partners, and which citizen a partner's ``user_ref`` means)."""

from app.services.partners.errors import TypeNotAllowed, UnknownUser

__all__ = ["TypeNotAllowed", "UnknownUser"]
