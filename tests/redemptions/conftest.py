"""Fixtures of the redemption tests."""

from __future__ import annotations

import pytest

from app.services.rewards.redemption_groups import RedemptionGroups


@pytest.fixture
def route_calls(monkeypatch):
    """Citizens whose redemption went through the route (the lane decides without it, with
    ``RedemptionGroups.submit``)."""
    calls: list[str] = []
    real = RedemptionGroups.redeem

    async def counted(self, user_id, *args):
        calls.append(user_id)
        return await real(self, user_id, *args)

    monkeypatch.setattr(RedemptionGroups, "redeem", counted)
    return calls
