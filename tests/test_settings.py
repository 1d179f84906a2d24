"""Settings that guard security refuse weak values outside tests."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app import security
from app.config import Settings
from tests.conftest import TEST_HASH_COST, TEST_SECRET


def test_production_hashes_passwords_at_the_rfc_9106_cost():
    s = Settings(env="production", jwt_secret=TEST_SECRET)
    assert (s.password_hash_time_cost, s.password_hash_memory_kib) == (3, 65536)
    assert s.password_hash_parallelism == 4


@pytest.mark.parametrize("env", ["production", "development"])
@pytest.mark.parametrize(
    "weak", [{"password_hash_time_cost": 1}, {"password_hash_memory_kib": 8 * 1024}]
)
def test_a_cheap_password_hash_is_refused_outside_tests(env, weak):
    with pytest.raises(ValidationError, match="only TANHUI_ENV=test"):
        Settings(env=env, jwt_secret=TEST_SECRET, **weak)


def test_memory_must_cover_every_lane():
    with pytest.raises(ValidationError, match="8 per lane"):
        Settings(
            env="test",
            jwt_secret=TEST_SECRET,
            password_hash_memory_kib=8,
            password_hash_parallelism=2,
        )


def test_hashes_made_under_another_cost_still_verify():
    security.configure_password_hashing(Settings(env="test", jwt_secret=TEST_SECRET))
    try:
        stored = security.hash_password("Green-Commute-2026")
        assert "m=65536,t=3,p=4" in stored
        security.configure_password_hashing(
            Settings(env="test", jwt_secret=TEST_SECRET, **TEST_HASH_COST)
        )
        assert "m=8,t=1,p=1" in security.hash_password("Green-Commute-2026")
        assert security.verify_password("Green-Commute-2026", stored)
        assert not security.verify_password("Green-Commute-2027", stored)
    finally:
        security.configure_password_hashing(
            Settings(env="test", jwt_secret=TEST_SECRET, **TEST_HASH_COST)
        )
