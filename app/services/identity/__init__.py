"""Identity: registration and users (``users``), tokens and sessions (``tokens``), rate
limits (``ratelimit``), a citizen's rights over their data (``privacy``)."""

from app.services.identity.errors import EmailTaken, WeakPassword

__all__ = ["EmailTaken", "WeakPassword"]
